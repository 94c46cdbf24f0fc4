"""gunicorn's settings for Lantern (``gunicorn -c python:api.gunicorn_conf wsgi:app``).

Only what must hold wherever the app is served; binds, processes and threads are the
operator's (the README shows them).
"""

# The longest request line gunicorn accepts (its ceiling). A longer one is refused by gunicorn
# itself with its own 414 page, before Lantern can answer with a problem; at gunicorn's default
# (4094) a query holding a 5,000-digit number already was. Lantern's own query values are far
# shorter, and what the app does see is checked and refused as a 4xx problem.
limit_request_line = 8190
