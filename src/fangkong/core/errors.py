"""Errors that carry their own HTTP status and a translatable message.

Services raise these; ``app.py`` turns them into an HTML page or a JSON body once, in the
user's language. The message is an English msgid (marked with ``N_`` for extraction) with
``{name}`` placeholders filled from ``params`` after translation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, ClassVar


def N_(message: str) -> str:
    """Mark a string for translation without translating it now."""
    return message


@dataclass
class FieldError:
    """One bad field: which field, what is wrong, and (for imports) which row."""

    field: str
    message: str
    params: dict[str, Any] = dataclass_field(default_factory=dict)
    row: int | None = None


# Messages for the validation errors pydantic reports, by error type.
_VALIDATION_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_short": N_("This field is too short."),
    "string_too_long": N_("This field is too long."),
    "string_pattern_mismatch": N_("This field has characters that are not allowed."),
    "int_parsing": N_("This field must be a whole number."),
    "enum": N_("This value is not one of the allowed choices."),
    "too_short": N_("This list needs at least one entry."),
}
_LOCATION_KINDS = {"body", "query", "path", "header", "cookie"}


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Our field errors for pydantic's (from a request body or a form model)."""
    found = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in _LOCATION_KINDS]
        message = _VALIDATION_MESSAGES.get(err.get("type", ""), N_("This value is not valid."))
        found.append(FieldError(".".join(loc) or "-", message))
    return found


class AppError(Exception):
    """Base of every error a user may see."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        errors: list[FieldError] | None = None,
        link: str | None = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.params = params
        self.errors = errors or []
        self.link = link
        self.headers = headers or {}


class Invalid(AppError):
    """The input is wrong (422); ``errors`` names each bad field."""

    status = 422
    code = "invalid"

    @classmethod
    def field(cls, name: str, message: str, **params: Any) -> Invalid:
        """An error about one field."""
        return cls(message, errors=[FieldError(name, message, params)], **params)


class Unauthorized(AppError):
    """No valid login or token (401)."""

    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    """Logged in, but the role does not allow this (403)."""

    status = 403
    code = "forbidden"


class NotFound(AppError):
    """No such record, or none the user may see (404: existence is not disclosed)."""

    status = 404
    code = "not_found"


class Conflict(AppError):
    """The change clashes with what is on file (409); ``link`` points at the existing record."""

    status = 409
    code = "conflict"


class TooManyRequests(AppError):
    """Throttled (429)."""

    status = 429
    code = "too_many_requests"


class Unavailable(AppError):
    """A dependency such as the database cannot be reached (503)."""

    status = 503
    code = "unavailable"
