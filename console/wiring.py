"""How the console plugs into the app (called by the composition root, ``api.app``).

The cookie's signing key is derived from the key ring (``console-session``), never configured
or defaulted: rotating the index key signs everyone out of the console, nothing else.
"""

from __future__ import annotations

from flask import Flask

from console import errors
from console import session as cookie
from console.pages import bp, csrf
from console.routes import account, caseload, sign_in, today  # noqa: F401  (views register on bp)
from core.runtime import Runtime

# The survivor record's tabs, imported in the order they are shown: each module appends its Tab
# to ``console.record.TABS`` when imported (the sorter must leave this order alone).
# isort: off
from console.routes import (  # noqa: F401
    record_plan,
    record_plan_versions,
    record_risk,
    record_journal,
    record_checkins,
    record_messages,
    record_consents,
    record_shared,
)
# isort: on

# What the pages need of Jinja: autoescaping everywhere, and no trailing-whitespace surprises.
_JINJA = {"autoescape": True, "trim_blocks": True, "lstrip_blocks": True}

# Once, at import: a blueprint cannot be changed after its first registration on an app.
errors.register(bp)


def install(app: Flask, runtime: Runtime) -> None:
    app.secret_key = runtime.keyring.purpose_key("console-session")
    app.config.update(
        SESSION_COOKIE_NAME=cookie.COOKIE_NAME,
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_HTTPONLY=True,
        # ``__Host-`` cookies must be Secure; browsers treat http://127.0.0.1 and localhost as
        # secure origins, so development works with it too.
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # A browser-session cookie: closing the browser forgets it; the server row decides.
        SESSION_PERMANENT=False,
        # CSRF is checked by the console's own blueprint (``console.pages``), never on /v1.
        WTF_CSRF_CHECK_DEFAULT=False,
        # The token lives as long as the console session; the session's own lifetimes bound it.
        WTF_CSRF_TIME_LIMIT=None,
        # Strict mode wants a same-host Referer on every HTTPS post, and the pages tell browsers
        # never to send one (Referrer-Policy: no-referrer; the Origin is then "null"), so behind
        # TLS it refused every form. What it guards against, a token planted with a cookie from
        # a sibling host, a ``__Host-`` cookie already rules out; the token decides.
        WTF_CSRF_SSL_STRICT=False,
    )
    app.jinja_options = {**app.jinja_options, **_JINJA}
    csrf.init_app(app)
    app.register_blueprint(bp)
    errors.register_unrouted(app)
