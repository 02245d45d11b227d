"""Operations on persons and households."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from fangkong.core import audit, idempotency
from fangkong.core.auth import Permission
from fangkong.core.errors import N_, Conflict, FieldError, Invalid
from fangkong.core.paging import Page, paginate
from fangkong.core.scope import get_or_404, prefix_range, principal_of, system_access
from fangkong.geo import service as geo
from fangkong.geo.models import Unit
from fangkong.people import identity
from fangkong.people.models import Household, Person, Sex
from fangkong.people.schemas import PersonIn, PersonPatch

SEARCH_COUNT_LIMIT = 1000  # a search reports "1,000+" rather than counting further
_LATIN = re.compile(r"^[a-zA-Z]+$")
_DIGITS = re.compile(r"^\d+[xX]?$")


def get_person(session: Session, person_id: int) -> Person:
    """One person within the user's scope (404 otherwise, and the attempt audited)."""
    return get_or_404(session, Person, person_id, what=N_("No such person."))


def create_person(session: Session, data: PersonIn, *, key: str | None = None) -> Person:
    """Register a person; a repeat of the same submission returns the person it created."""
    earlier = idempotency.recall(session, key, "persons")
    if earlier is not None:
        return get_person(session, int(earlier))
    errors: list[FieldError] = []
    parsed = phone = None
    try:
        parsed = identity.parse_id_number(data.id_number)
    except Invalid as exc:
        errors += exc.errors
    try:
        phone = identity.normalize_phone(data.phone)
    except Invalid as exc:
        errors += exc.errors
    try:
        place = geo.require_jurisdiction(session, data.jurisdiction_code)
        principal_of(session).require(Permission.PEOPLE_WRITE, place.code)
    except Invalid as exc:
        errors += exc.errors
    household = _household_for(session, data.household_id, errors)
    if errors or parsed is None:
        raise Invalid(N_("Please correct the marked fields."), errors=errors)
    _refuse_duplicate(session, parsed.number)
    initials, full = identity.pinyin_keys(data.name)
    person = Person(
        id_number=parsed.number,
        id_number_rev=parsed.number[::-1],
        name=data.name.strip(),
        name_initials=initials,
        name_pinyin=full,
        phone=phone,
        phone_rev=phone[::-1] if phone else None,
        sex=Sex.MALE if parsed.is_male else Sex.FEMALE,
        birth_date=parsed.birth_date,
        address=data.address.strip(),
        jurisdiction_code=place.code,
        household=household,
    )
    session.add(person)
    session.flush()
    idempotency.remember(session, key, "persons", person.id)
    return person


def _household_for(session: Session, household_id: int | None, errors: list[FieldError]) -> Household | None:
    if household_id is None:
        return None
    household = session.execute(select(Household).where(Household.id == household_id)).scalar_one_or_none()
    if household is None:
        errors.append(FieldError("household_id", N_("No such household.")))
    return household


def _refuse_duplicate(session: Session, id_number: str, *, except_id: int | None = None) -> None:
    # Uniqueness is city-wide, so the check must see every jurisdiction; only the link is scoped.
    with system_access(session):
        clash = session.execute(select(Person.id, Person.jurisdiction_code).where(
            Person.id_number == id_number)).first()
    if clash is None or clash.id == except_id:
        return
    if principal_of(session).can(Permission.PEOPLE_READ, clash.jurisdiction_code):
        raise Conflict(N_("A person with this ID number is already on file."), link=f"/people/{clash.id}",
                       errors=[FieldError("id_number", N_("A person with this ID number is already on file."))])
    raise Conflict(N_("A person with this ID number is already on file in another jurisdiction."),
                   errors=[FieldError("id_number",
                                      N_("A person with this ID number is already on file in another jurisdiction."))])


def update_person(session: Session, person: Person, patch: PersonPatch) -> Person:
    """Correct a person's name, phone, address or household."""
    errors: list[FieldError] = []
    if patch.phone is not None:
        try:
            phone = identity.normalize_phone(patch.phone)
            person.phone, person.phone_rev = phone, phone[::-1] if phone else None
        except Invalid as exc:
            errors += exc.errors
    if patch.household_id is not None:
        person.household = _household_for(session, patch.household_id, errors)
    if errors:
        raise Invalid(N_("Please correct the marked fields."), errors=errors)
    if patch.name is not None:
        person.name = patch.name.strip()
        person.name_initials, person.name_pinyin = identity.pinyin_keys(person.name)
    if patch.address is not None:
        person.address = patch.address.strip()
    session.flush()
    return person


def reveal(session: Session, person: Person, *, reason: str = "") -> Person:
    """Allow one unmasked view of ``person``: checked against the role and written to the audit log."""
    principal_of(session).require(Permission.PEOPLE_REVEAL, person.jurisdiction_code)
    audit.record(session, audit.Action.VIEW_UNMASKED, entity=person,
                 detail={"fields": ["name", "id_number", "phone"], "reason": reason[:200]})
    return person


def search_stmt(q: str | None = None, *, within: str | None = None) -> Select[Any]:
    """The query behind person search.

    ``q`` may be a name (张三 or part of one), pinyin initials or full pinyin (zs, zhangsan),
    or the last digits of an ID number or phone (four or more).
    """
    stmt = select(Person).order_by(Person.id)
    if within:
        lo, hi = prefix_range(within)
        stmt = stmt.where(Person.jurisdiction_code >= lo, Person.jurisdiction_code < hi)
    q = (q or "").strip()
    if not q:
        return stmt
    if _DIGITS.match(q):
        if len(q) < 4:
            raise Invalid.field("q", N_("Give at least the last four digits."))
        tail = q.upper()[::-1]
        return stmt.where(or_(_starts_with(Person.id_number_rev, tail), _starts_with(Person.phone_rev, tail)))
    if _LATIN.match(q):
        q = q.lower()
        return stmt.where(or_(_starts_with(Person.name_initials, q), _starts_with(Person.name_pinyin, q)))
    return stmt.where(Person.name.contains(q))


def _starts_with(column: Any, prefix: str) -> Any:
    # A range rather than LIKE 'x%': both databases answer a range from the column's index
    # (LIKE is case-insensitive in SQLite and collation-bound in PostgreSQL, so neither uses it).
    lo, hi = prefix_range(prefix)
    return (column >= lo) & (column < hi)


def search_persons(session: Session, q: str | None = None, *, within: str | None = None,
                   page: int = 1, size: int = 20) -> Page[Person]:
    """Persons in scope matching ``q`` (see ``search_stmt``), a page at a time."""
    if within:
        geo.check_code(within, field="jurisdiction")
    return paginate(session, search_stmt(q, within=within), page=page, size=size,
                    count_limit=SEARCH_COUNT_LIMIT if q else None)


def get_household(session: Session, household_id: int) -> Household:
    """One household within the user's scope."""
    return get_or_404(session, Household, household_id, what=N_("No such household."))


def create_household(session: Session, *, unit: Unit, door: str) -> Household:
    """Register a household at a door of a building unit."""
    household = Household(unit=unit, door=door.strip(), jurisdiction_code=unit.jurisdiction_code)
    session.add(household)
    session.flush()
    return household


def household_members(session: Session, household: Household) -> list[Person]:
    """The persons of a household, masked in lists like everyone else."""
    stmt = select(Person).where(Person.household_id == household.id).order_by(Person.birth_date)
    return list(session.execute(stmt).scalars())

