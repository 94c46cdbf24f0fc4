"""Per-request (or per-job) context that log lines and audit events pick up by themselves."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("lantern_request_id", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()
