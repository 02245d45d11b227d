"""Reading HTML forms and filters the same way on every page: times, ids, enums, validated models.

Each reader adds a ``FieldError`` naming the form field (or raises ``Invalid`` for it), so a page
shows every bad field at once, in the user's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core.errors import N_, FieldError, Invalid, field_errors
from fangkong.core.scope import system_access
from fangkong.geo.models import Jurisdiction

LOCAL = ZoneInfo("Asia/Shanghai")  # a datetime-local field is Beijing time


def local_time(value: str, field: str, errors: list[FieldError]) -> datetime | None:
    """A ``datetime-local`` form value, read as Asia/Shanghai time; a bad one adds a field error."""
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=LOCAL)
    except ValueError:
        errors.append(FieldError(field, N_("Not a date and time: “{value}”."), {"value": value}))
        return None


def chosen_id(value: str, field: str, errors: list[FieldError]) -> int | None:
    """A chosen id from a form (None when empty); anything else is a field error."""
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        errors.append(FieldError(field, N_("This field must be a whole number.")))
        return None
    return int(value)


def validated(model: type[Any], data: dict[str, Any], errors: list[FieldError]) -> Any:
    """``model`` from form data, or ``Invalid`` with every bad field (those found before included)."""
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        known = {e.field for e in errors}  # a field already found wrong keeps that, clearer, message
        errors = errors + [e for e in field_errors(exc.errors()) if e.field not in known]
        parsed = None
    if errors:
        raise Invalid(N_("Please correct the marked fields."), errors=errors)
    return parsed


def choice(kind: type[Any], value: str | None, field: str) -> Any:
    """A filter's enum value (None when empty); an unknown one is a field error."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise Invalid.field(field, N_("This value is not one of the allowed choices.")) from None


def area_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Jurisdiction names by code (public reference data, as on the breadcrumbs)."""
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    with system_access(session):
        return dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)
                                    .where(Jurisdiction.code.in_(wanted))).all())
