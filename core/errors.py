"""The one error hierarchy. Domains raise these; ``web.problems`` turns them into RFC 9457.

Each class has a stable ``type`` slug (the problem ``type`` URI ends with it) so that clients
can branch on it; ``detail`` is for people and must never carry survivor content or secrets.
"""

from __future__ import annotations

from typing import Any


class LanternError(Exception):
    """Base of every error the service raises on purpose."""

    status: int = 500
    type_slug: str = "internal-error"
    title: str = "Internal error"
    #: A request that ends in this error normally rolls its transaction back. An error that
    #: must still persist what the service wrote before refusing (a failed-login counter, the
    #: audit event of a refused PIN) sets this to True.
    keep_changes: bool = False
    #: The problem body carries no per-request field (no ``request_id``; the id stays in the
    #: ``X-Request-Id`` header), so that every refusal of this kind is byte-identical: failed
    #: logins must not differ in any way a caller could compare.
    uniform_body: bool = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        keep_changes: bool | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}
        if keep_changes is not None:
            self.keep_changes = keep_changes


class ConfigurationError(LanternError):
    """Settings are missing or unsafe; raised at start-up, never during a request."""

    type_slug = "configuration-error"
    title = "Configuration error"


class BadRequest(LanternError):
    status = 400
    type_slug = "bad-request"
    title = "Bad request"


class InvalidInput(LanternError):
    """The request was understood but its content breaks a rule (422)."""

    status = 422
    type_slug = "validation-error"
    title = "Validation failed"

    def __init__(self, detail: str | None = None, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail, extra={"errors": errors} if errors else None)


class NotAuthenticated(LanternError):
    status = 401
    type_slug = "unauthenticated"
    title = "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="lantern"'})


class Forbidden(LanternError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class NotFound(LanternError):
    """Also used where admitting that a thing exists would leak it (deny as 404)."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(LanternError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class Gone(LanternError):
    status = 410
    type_slug = "gone"
    title = "Gone"


class PreconditionFailed(LanternError):
    status = 412
    type_slug = "precondition-failed"
    title = "Precondition failed"


class PreconditionRequired(LanternError):
    status = 428
    type_slug = "precondition-required"
    title = "Precondition required"


class TooLarge(LanternError):
    """More than a storage limit allows, in one piece or in total (413); nothing was stored.

    Domains subclass it with their own ``type_slug``, so that an app can say what to do.
    """

    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


class TooManyRequests(LanternError):
    status = 429
    type_slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        super().__init__(detail, headers=headers)


class ServiceUnavailable(LanternError):
    status = 503
    type_slug = "service-unavailable"
    title = "Service unavailable"


class CryptoError(LanternError):
    """A ciphertext did not authenticate, or its key is gone (crypto-shredded)."""

    type_slug = "crypto-error"
    title = "Data could not be decrypted"
