"""The staff console: server-rendered pages for advocates (and, later, supervisors, admins and
partner staff), mounted at ``/console/`` in the same app as the API.

Pages call the same service functions as the API, so no rule, permission or audit record is
written twice. What is the console's own: the cookie session (``console.session``), CSRF on every
form, the page realm's errors (``console.errors``) and the templates.
"""
