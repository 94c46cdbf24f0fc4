"""Documenting refusals: every error answer is RFC 9457 problem+json, and the contract says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest import Blueprint

from core.limits import RETRY_AFTER_HEADER
from core.schemas import ProblemSchema
from web.problems import PROBLEM_MIME


def refusal(blp: Blueprint, status: int, description: str) -> Callable[[Any], Any]:
    """``@refusal(blp, 404, "No such agency")``: an error response with the problem schema."""
    return blp.alt_response(  # type: ignore[no-any-return]
        status, description=description, schema=ProblemSchema, content_type=PROBLEM_MIME
    )


def slowed_down(blp: Blueprint) -> Callable[[Any], Any]:
    """``@slowed_down(blp)``: the 429 a caller's own network gets once it has used up its
    attempts, refused at the door before any secret is hashed (``auth.attempts``)."""
    return blp.alt_response(  # type: ignore[no-any-return]
        429,
        description="Too many attempts from this network; try again after Retry-After seconds",
        headers=RETRY_AFTER_HEADER,
    )
