"""The WSGI entry point: ``gunicorn wsgi:app``. Settings come from ``LANTERN_`` variables."""

from api.app import create_app

app = create_app()
