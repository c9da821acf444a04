"""Service errors: each becomes a JSON `{"error", "message"}` answer with its HTTP status."""

from __future__ import annotations

from typing import TypeVar

from contracts.errors import ContractError

T = TypeVar("T")


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = {}
        if code:
            self.code = code


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


def found(row: T | None, what: str) -> T:
    """`row`, or NotFound when it is gone (deleted meanwhile, e.g. by a customer's erasure)."""
    if row is None:
        raise NotFound(f"The {what} no longer exists.")
    return row


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Invalid(ServiceError):
    status, code = 422, "invalid"


class TooManyRequests(ServiceError):
    """Refused for now; `Retry-After` says in how many seconds to try again."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after_seconds: int, code: str | None = None) -> None:
        super().__init__(message, code)
        self.retry_after_seconds = retry_after_seconds
        self.headers["Retry-After"] = str(retry_after_seconds)


class Upstream(ServiceError):
    """A service we depend on (Rasa) failed; nothing was changed here."""

    status, code = 502, "upstream_error"


def from_contract(error: ContractError) -> ServiceError:
    """A message that does not fit its contract, as this service answers it: 400 for a missing
    field or a body of the wrong shape, 422 naming the field for a wrong value."""
    if error.missing:
        return BadRequest(f"Field {error.field!r} is required.", error.code)
    if error.code == "malformed_body":
        return BadRequest(f"{error.problem}.", error.code)
    return Invalid(f"{error}.", error.code)
