"""The HTTP shell: app factory, problem responses, security headers, logging, CLI."""

from api.app import create_app

__all__ = ["create_app"]
