"""The composition root: the app factory, the blueprint registry and wiring, the CLI, the
OpenAPI contract writer and health checks; the only package that imports every domain."""

from api.app import create_app

__all__ = ["create_app"]
