"""The request's unit of work: one session, committed when the request succeeded.

Views and services never commit. A request that ends in an error rolls back, unless the
error asked to keep what was written (``LanternError.keep_changes``).
"""

from __future__ import annotations

import logging

from flask import Response, current_app, g
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.runtime import Runtime
from web.problems import handle_unexpected

log = logging.getLogger(__name__)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["lantern"]
    return rt


def session() -> Session:
    """The current request's session, opened on first use."""
    if "lantern_session" not in g:
        g.lantern_session = runtime().session_factory()
    s: Session = g.lantern_session
    return s


def finish_unit_of_work(response: Response) -> Response:
    s: Session | None = g.get("lantern_session")
    if s is None:
        return response
    if g.get("lantern_failed") or response.status_code >= 500:
        s.rollback()
        return response
    try:
        s.commit()
    except SQLAlchemyError as exc:
        s.rollback()
        g.lantern_session = None
        return handle_unexpected(exc)
    return response


def close_session(_exc: BaseException | None) -> None:
    s: Session | None = g.pop("lantern_session", None)
    if s is not None:
        s.close()
