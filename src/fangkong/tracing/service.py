"""Cases, investigations and their clocks, and the contacts a tracing run hands on to be controlled."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from fangkong import rulesets
from fangkong.core import events
from fangkong.core.auth import Permission
from fangkong.core.db import utcnow
from fangkong.core.errors import N_, Conflict, Invalid
from fangkong.core.scope import get_or_404, principal_of, system_access
from fangkong.geo.models import Place
from fangkong.people.models import Person, Whereabouts
from fangkong.tracing.events import CaseReported, ContactControlled, ControlOverdue, InvestigationOverdue
from fangkong.tracing.models import (
    Case,
    CaseKind,
    Contact,
    ContactKind,
    ContactState,
    FoundBy,
    Investigation,
    ItineraryEntry,
    NamedPerson,
)
from fangkong.tracing.schemas import CaseIn, CaseUpdate, ItineraryIn, NamedIn


def rules() -> rulesets.TracingRules:
    """The tracing rules of the deployment's rule set."""
    return rulesets.current().tracing


# ----------------------------------------------------------------------------------------------- cases


def report_case(session: Session, data: CaseIn, *, origin: str = "", now: datetime | None = None) -> Case:
    """A new case and its investigation, with the investigation's two clocks started at the report.

    One case per person: reporting a person who already is a case is a ``Conflict``. A contact who
    becomes a case leaves the contact list (state ``became_case``); when no source case is named,
    a close contact's or an exposed person's case is taken as the probable source.
    """
    now = now or utcnow()
    reported_at = data.reported_at or now
    person = get_or_404(session, Person, data.person_id)
    principal_of(session).require(Permission.TRACING_WRITE, person.jurisdiction_code)
    _check_times(onset_at=data.onset_at, sampled_at=data.sampled_at, reported_at=reported_at,
                 isolated_at=data.isolated_at, now=now)
    with system_access(session):
        if session.execute(select(Case.id).where(Case.person_id == person.id)).first() is not None:
            raise Conflict(N_("This person is already a case."))
        contact = session.execute(select(Contact).where(Contact.person_id == person.id)).scalar_one_or_none()
    source_case_id = data.source_case_id
    if source_case_id is not None:
        get_or_404(session, Case, source_case_id)
    elif contact is not None and contact.kind in (ContactKind.CLOSE, ContactKind.EXPOSED):
        source_case_id = contact.case_id
    case = Case(person_id=person.id, jurisdiction_code=person.jurisdiction_code, kind=data.kind,
                onset_at=data.onset_at, sampled_at=data.sampled_at, reported_at=reported_at,
                found_by=data.found_by, isolated_at=data.isolated_at, source_case_id=source_case_id,
                origin=origin[:80])
    session.add(case)
    session.flush()
    limits = rules()
    session.add(Investigation(
        case_id=case.id, jurisdiction_code=case.jurisdiction_code,
        core_due_at=reported_at + timedelta(hours=limits.core_info_hours),
        report_due_at=reported_at + timedelta(hours=limits.report_hours)))
    if contact is not None:
        with system_access(session):
            contact.state = ContactState.BECAME_CASE
    session.flush()
    events.emit(session, CaseReported(
        jurisdiction_code=case.jurisdiction_code, case_id=case.id, person_id=person.id, kind=case.kind.value,
        found_by=case.found_by.value, source_case_id=case.source_case_id, reported_at=reported_at))
    return case


def _check_times(*, onset_at: datetime | None, sampled_at: datetime, reported_at: datetime,
                 isolated_at: datetime | None, now: datetime) -> None:
    for name, value in (("onset_at", onset_at), ("sampled_at", sampled_at), ("reported_at", reported_at),
                        ("isolated_at", isolated_at)):
        if value is not None and value > now + timedelta(minutes=5):
            raise Invalid.field(name, N_("This time is in the future."))
    if reported_at < sampled_at:
        raise Invalid.field("reported_at", N_("A case cannot be reported before its positive sample."))
    earliest = onset_at if onset_at is not None and onset_at < sampled_at else sampled_at
    if isolated_at is not None and isolated_at < earliest - timedelta(days=rules().lookback_days):
        raise Invalid.field("isolated_at", N_("The isolation is before the case's infectious window starts."))


def get_case(session: Session, case_id: int) -> Case:
    """A case the user may read (``NotFound`` otherwise), with its investigation loaded."""
    case = get_or_404(session, Case, case_id)
    return case


def update_case(session: Session, case: Case, data: CaseUpdate, *, now: datetime | None = None) -> Case:
    """Record what the investigation learned: classification, onset, isolation, source, symptoms."""
    now = now or utcnow()
    fields = data.model_dump(exclude_unset=True)
    onset_at = fields.get("onset_at", case.onset_at)
    isolated_at = fields.get("isolated_at", case.isolated_at)
    _check_times(onset_at=onset_at, sampled_at=case.sampled_at, reported_at=case.reported_at,
                 isolated_at=isolated_at, now=now)
    if "source_case_id" in fields:
        _check_source(session, case, fields["source_case_id"])
        case.source_case_id = fields["source_case_id"]
    if "kind" in fields and fields["kind"] is not None:
        case.kind = fields["kind"]
    case.onset_at = onset_at
    case.isolated_at = isolated_at
    inv = case.investigation
    if fields.get("symptoms") is not None:
        inv.symptoms = fields["symptoms"]
    if fields.get("notes") is not None:
        inv.notes = fields["notes"]
    session.flush()
    return case


def _check_source(session: Session, case: Case, source_id: int | None) -> None:
    """A source must be another case the user reaches, and must not make the chain a loop."""
    if source_id is None:
        return
    if source_id == case.id:
        raise Invalid.field("source_case_id", N_("A case cannot be its own source."))
    get_or_404(session, Case, source_id)
    with system_access(session):
        parent: int | None = source_id
        seen: set[int] = set()
        while parent is not None and parent not in seen:
            if parent == case.id:
                raise Invalid.field("source_case_id", N_("This source would make the chain a loop."))
            seen.add(parent)
            parent = session.execute(select(Case.source_case_id).where(Case.id == parent)).scalar_one_or_none()


class ClockState(StrEnum):
    """Where an investigation's clock stands."""

    RUNNING = "running"
    OVERDUE = "overdue"
    DONE_IN_TIME = "done_in_time"
    DONE_LATE = "done_late"

    @property
    def label(self) -> str:
        """The state in the interface (an msgid)."""
        return CLOCK_LABELS[self]


CLOCK_LABELS = {
    ClockState.RUNNING: N_("Running"),
    ClockState.OVERDUE: N_("Overdue"),
    ClockState.DONE_IN_TIME: N_("Done in time"),
    ClockState.DONE_LATE: N_("Done late"),
}


@dataclass(frozen=True)
class Clock:
    """One clock of an investigation."""

    due_at: datetime
    done_at: datetime | None
    state: ClockState


def clock(due_at: datetime, done_at: datetime | None, now: datetime) -> Clock:
    """The state of a clock due at ``due_at`` and done at ``done_at`` (if done), at ``now``."""
    if done_at is not None:
        return Clock(due_at, done_at, ClockState.DONE_IN_TIME if done_at <= due_at else ClockState.DONE_LATE)
    return Clock(due_at, None, ClockState.OVERDUE if now > due_at else ClockState.RUNNING)


def clocks(inv: Investigation, now: datetime | None = None) -> tuple[Clock, Clock]:
    """The core-information clock and the full-report clock."""
    now = now or utcnow()
    return clock(inv.core_due_at, inv.core_done_at, now), clock(inv.report_due_at, inv.report_done_at, now)


def complete_core(session: Session, inv: Investigation, *, now: datetime | None = None) -> Investigation:
    """Core information is in (基本信息): who, where they live, onset, the last days' main places."""
    if inv.core_done_at is not None:
        raise Conflict(N_("The core information is already complete."))
    inv.core_done_at = now or utcnow()
    session.flush()
    return inv


def complete_report(session: Session, inv: Investigation, *, now: datetime | None = None) -> Investigation:
    """The full report is in; it needs the core information first and an itinerary entry or a named person."""
    if inv.report_done_at is not None:
        raise Conflict(N_("The report is already complete."))
    if inv.core_done_at is None:
        raise Invalid.field("core_done_at", N_("Complete the core information first."))
    if not inv.itinerary and not inv.named and not inv.symptoms:
        raise Invalid.field("itinerary", N_("A report needs an itinerary, named persons or symptoms."))
    inv.report_done_at = now or utcnow()
    session.flush()
    return inv


def add_itinerary(session: Session, inv: Investigation, data: ItineraryIn) -> ItineraryEntry:
    """Add a place and time to the itinerary: a known place, or free text where the place is unknown."""
    if data.place_id is None and not data.place_text.strip():
        raise Invalid.field("place_text", N_("Name the place, or describe it."))
    if data.ends_at is not None and data.ends_at < data.starts_at:
        raise Invalid.field("ends_at", N_("The end is before the start."))
    if data.place_id is not None:
        get_or_404(session, Place, data.place_id)
    entry = ItineraryEntry(investigation_id=inv.id, jurisdiction_code=inv.jurisdiction_code,
                           place_id=data.place_id, place_text=data.place_text.strip(),
                           starts_at=data.starts_at, ends_at=data.ends_at, note=data.note)
    inv.itinerary.append(entry)
    session.flush()
    return entry


def remove_itinerary(session: Session, inv: Investigation, entry_id: int) -> None:
    """Take an entry off the itinerary."""
    entry = next((e for e in inv.itinerary if e.id == entry_id), None)
    if entry is None:
        raise Invalid.field("entry", N_("No such record."))
    inv.itinerary.remove(entry)
    session.flush()


def add_named(session: Session, inv: Investigation, data: NamedIn) -> NamedPerson:
    """Add a person the case named."""
    if data.person_id is not None:
        get_or_404(session, Person, data.person_id)
    named = NamedPerson(investigation_id=inv.id, jurisdiction_code=inv.jurisdiction_code,
                        person_id=data.person_id, name=data.name.strip(), phone=data.phone,
                        relation=data.relation, note=data.note)
    inv.named.append(named)
    session.flush()
    return named


def cases(*, kind: CaseKind | None = None, found_by: FoundBy | None = None, under: str | None = None,
          overdue: bool = False, now: datetime | None = None) -> Select[Case]:
    """The case list's query, newest report first (the scope is added by the session)."""
    stmt = select(Case).options(selectinload(Case.investigation), selectinload(Case.person))
    if kind is not None:
        stmt = stmt.where(Case.kind == kind)
    if found_by is not None:
        stmt = stmt.where(Case.found_by == found_by)
    if under:
        stmt = stmt.where(Case.jurisdiction_code.startswith(under, autoescape=True))
    if overdue:
        now = now or utcnow()
        stmt = stmt.join(Investigation, Investigation.case_id == Case.id).where(
            ((Investigation.core_done_at.is_(None)) & (Investigation.core_due_at < now))
            | ((Investigation.report_done_at.is_(None)) & (Investigation.report_due_at < now)))
    return stmt.order_by(Case.reported_at.desc(), Case.id.desc())


# -------------------------------------------------------------------------------------------- contacts


def contacts(*, kind: ContactKind | None = None, state: ContactState | None = None, case_id: int | None = None,
             under: str | None = None) -> Select[Contact]:
    """The contact list's query, strongest kind and earliest clock first (scope added by the session)."""
    stmt = select(Contact).options(selectinload(Contact.person))
    if kind is not None:
        stmt = stmt.where(Contact.kind == kind)
    if state is not None:
        stmt = stmt.where(Contact.state == state)
    if case_id is not None:
        stmt = stmt.where(Contact.case_id == case_id)
    if under:
        stmt = stmt.where(Contact.jurisdiction_code.startswith(under, autoescape=True))
    return stmt.order_by(Contact.due_at, Contact.id)


def mark_controlled(session: Session, contact: Contact, *, at: datetime | None = None,
                    now: datetime | None = None) -> Contact:
    """The contact is under control (taken to isolation, or sealed at home by the rule set)."""
    now = now or utcnow()
    at = at or now
    if contact.state is not ContactState.TO_CONTROL:
        raise Conflict(N_("This contact is not waiting to be put under control."))
    if at > now + timedelta(minutes=5):
        raise Invalid.field("controlled_at", N_("This time is in the future."))
    contact.state = ContactState.UNDER_CONTROL
    contact.controlled_at = at
    person = get_or_404(session, Person, contact.person_id)
    if person.whereabouts is Whereabouts.AT_HOME:
        with system_access(session):
            person.whereabouts = Whereabouts.ISOLATED
    session.flush()
    events.emit(session, ContactControlled(jurisdiction_code=contact.jurisdiction_code, contact_id=contact.id,
                                           person_id=contact.person_id, controlled_at=at))
    return contact


# ---------------------------------------------------------------------------------------------- clocks


def raise_overdue_alerts(session: Session, *, now: datetime | None = None) -> int:
    """Raise, once each, the alerts of investigations and contacts past their clocks; how many."""
    now = now or utcnow()
    raised: list[events.DomainEvent] = []
    for stage in ("core", "report"):
        done, due, alerted = (getattr(Investigation, f"{stage}_{name}") for name in ("done_at", "due_at", "alerted_at"))
        late = session.execute(select(Investigation).where(done.is_(None), due < now, alerted.is_(None))).scalars()
        for inv in late.all():
            setattr(inv, f"{stage}_alerted_at", now)
            raised.append(InvestigationOverdue(jurisdiction_code=inv.jurisdiction_code, case_id=inv.case_id,
                                               stage=stage, due_at=getattr(inv, f"{stage}_due_at")))
    late_contacts = session.execute(select(Contact).where(
        Contact.state == ContactState.TO_CONTROL, Contact.due_at < now, Contact.alerted_at.is_(None))).scalars().all()
    for contact in late_contacts:
        contact.alerted_at = now
        raised.append(ControlOverdue(jurisdiction_code=contact.jurisdiction_code, contact_id=contact.id,
                                     person_id=contact.person_id, kind=contact.kind.value, due_at=contact.due_at))
    session.flush()
    events.emit_all(session, raised)
    return len(raised)


# ----------------------------------------------------------------------------------------- the loop


@dataclass(frozen=True)
class LoopCounts:
    """The tracing loop of a jurisdiction: cases → investigated → contacts found → under control."""

    cases: int
    investigated: int
    contacts: int
    under_control: int
    overdue_investigations: int
    overdue_contacts: int


def loop_counts(session: Session, *, now: datetime | None = None) -> LoopCounts:
    """The loop's counts over what the user may count."""
    now = now or utcnow()

    def count(stmt: Select[Any]) -> int:
        return int(session.execute(stmt.execution_options(fangkong_aggregate=True)).scalar_one())

    n = func.count()
    return LoopCounts(
        cases=count(select(n).select_from(Case)),
        investigated=count(select(n).select_from(Investigation).where(Investigation.report_done_at.is_not(None))),
        contacts=count(select(n).select_from(Contact)),
        under_control=count(select(n).select_from(Contact).where(Contact.state != ContactState.TO_CONTROL)),
        overdue_investigations=count(select(n).select_from(Investigation).where(
            ((Investigation.core_done_at.is_(None)) & (Investigation.core_due_at < now))
            | ((Investigation.report_done_at.is_(None)) & (Investigation.report_due_at < now)))),
        overdue_contacts=count(select(n).select_from(Contact).where(
            Contact.state == ContactState.TO_CONTROL, Contact.due_at < now)),
    )


def chunks(ids: Sequence[int], size: int = 5000) -> Iterable[Sequence[int]]:
    """``ids`` in slices small enough for an ``IN`` list."""
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
