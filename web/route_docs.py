"""Documenting refusals: every error answer is RFC 9457 problem+json, and the contract says so.

The one way a route documents what it may refuse. ``@refusal(blp, 404, "No such agency")``
says what this operation's 404 means; ``@refusals(blp, 401, 403, 404)`` documents the shared
answers of those statuses (``#/components/responses/NOT_FOUND``...). A 429 always documents its
``Retry-After`` header, described or not.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any

from flask_smorest import Blueprint

from core.limits import RETRY_AFTER_HEADER
from core.schemas import ProblemSchema
from web.problems import PROBLEM_MIME

TOO_MANY = 429

Decorator = Callable[[Any], Any]


def refusal(
    blp: Blueprint,
    status: int,
    description: str | None = None,
    *,
    headers: dict[str, Any] | None = None,
) -> Decorator:
    """``@refusal(blp, 404, "No such agency")``: one error answer of an operation, with the
    problem schema. Without a description (or headers) it is the shared response of that
    status; a 429 documents ``Retry-After`` unless ``headers`` say otherwise."""
    if headers is None and status == TOO_MANY:
        headers = RETRY_AFTER_HEADER
    if description is None and headers is None:
        return blp.alt_response(  # type: ignore[no-any-return]
            status, response=http.HTTPStatus(status).name
        )
    return blp.alt_response(  # type: ignore[no-any-return]
        status,
        description=description or http.HTTPStatus(status).phrase,
        schema=ProblemSchema,
        content_type=PROBLEM_MIME,
        headers=headers,
    )


def refusals(blp: Blueprint, *statuses: int) -> Decorator:
    """``@refusals(blp, 401, 403, 404)``: several undescribed error answers at once."""

    def deco(fn: Any) -> Any:
        for status in statuses:
            fn = refusal(blp, status)(fn)
        return fn

    return deco


def slowed_down(blp: Blueprint) -> Decorator:
    """``@slowed_down(blp)``: the 429 a caller's own network gets once it has used up its
    attempts, refused at the door before any secret is hashed (``auth.attempts``)."""
    return refusal(
        blp, TOO_MANY, "Too many attempts from this network; try again after Retry-After seconds"
    )
