"""Tables of tracing: cases, their investigations, tracing runs and the contacts they found.

The tracing loop (流调溯源): a positive person becomes a case; the case is investigated against two
clocks (core information, full report); a tracing run lists the case's contacts from the presence
data, with the evidence of each; every contact is handed on to be put under control before its
clock runs out. Cases linked to their source case form transmission chains.

All rows belong to a jurisdiction: a case and its investigation to the case's community, a contact
to the contact's own community (where its workers live and act), a run to the jurisdiction of
whoever started it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangkong.core.auth import Permission
from fangkong.core.db import Base, utcnow
from fangkong.core.errors import N_
from fangkong.core.scope import Scoped
from fangkong.geo.models import Place
from fangkong.people.models import Person


class CaseKind(StrEnum):
    """How a case is classified (a case with symptoms is confirmed; without, asymptomatic)."""

    CONFIRMED = "confirmed"  # 确诊病例
    ASYMPTOMATIC = "asymptomatic"  # 无症状感染者

    @property
    def label(self) -> str:
        """The kind in the interface (an msgid)."""
        return CASE_KIND_LABELS[self]


CASE_KIND_LABELS = {CaseKind.CONFIRMED: N_("Confirmed case"), CaseKind.ASYMPTOMATIC: N_("Asymptomatic infection")}


class FoundBy(StrEnum):
    """How a case came to light."""

    MASS_TESTING = "mass_testing"  # 全员核酸检测
    FEVER_CLINIC = "fever_clinic"  # 发热门诊
    CONTACT_SCREENING = "contact_screening"  # 密接筛查
    ISOLATION_TESTING = "isolation_testing"  # 隔离点检测

    @property
    def label(self) -> str:
        """The way in the interface (an msgid)."""
        return FOUND_BY_LABELS[self]


FOUND_BY_LABELS = {
    FoundBy.MASS_TESTING: N_("Mass testing"),
    FoundBy.FEVER_CLINIC: N_("Fever clinic"),
    FoundBy.CONTACT_SCREENING: N_("Contact screening"),
    FoundBy.ISOLATION_TESTING: N_("Testing in isolation"),
}


class Case(Scoped, Base):
    """A confirmed case or an asymptomatic infection: one per person."""

    __tablename__ = "cases"
    read_permission = Permission.TRACING_READ
    write_permission = Permission.TRACING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    kind: Mapped[CaseKind] = mapped_column()
    onset_at: Mapped[datetime | None] = mapped_column()  # symptom onset; none for an asymptomatic case
    sampled_at: Mapped[datetime] = mapped_column(index=True)  # the first positive sample
    reported_at: Mapped[datetime] = mapped_column(index=True)
    found_by: Mapped[FoundBy] = mapped_column()
    source_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    isolated_at: Mapped[datetime | None] = mapped_column()  # taken into isolation or hospital
    origin: Mapped[str] = mapped_column(String(80), default="")  # e.g. "testing tube 123", "entered by hand"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship()
    investigation: Mapped[Investigation] = relationship(back_populates="case", uselist=False)


class Investigation(Scoped, Base):
    """The epidemiological investigation (流调表) of one case, with its two clocks."""

    __tablename__ = "investigations"
    read_permission = Permission.TRACING_READ
    write_permission = Permission.TRACING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    core_due_at: Mapped[datetime] = mapped_column(index=True)  # core information (rule set: 4 h)
    report_due_at: Mapped[datetime] = mapped_column(index=True)  # the full report (rule set: 24 h)
    core_done_at: Mapped[datetime | None] = mapped_column()
    report_done_at: Mapped[datetime | None] = mapped_column()
    core_alerted_at: Mapped[datetime | None] = mapped_column()
    report_alerted_at: Mapped[datetime | None] = mapped_column()
    symptoms: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    case: Mapped[Case] = relationship(back_populates="investigation")
    itinerary: Mapped[list[ItineraryEntry]] = relationship(order_by="ItineraryEntry.starts_at",
                                                           cascade="all, delete-orphan")
    named: Mapped[list[NamedPerson]] = relationship(order_by="NamedPerson.id", cascade="all, delete-orphan")


class ItineraryEntry(Scoped, Base):
    """A place and time in a case's itinerary: a known venue, or free text where the place is unknown."""

    __tablename__ = "itinerary_entries"
    read_permission = Permission.TRACING_READ
    write_permission = Permission.TRACING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    investigation_id: Mapped[int] = mapped_column(ForeignKey("investigations.id"), index=True)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    place_text: Mapped[str] = mapped_column(String(160), default="")
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str] = mapped_column(String(200), default="")

    place: Mapped[Place | None] = relationship()


class NamedPerson(Scoped, Base):
    """A person the case named (同住、同事、共餐 …), known to the register or not."""

    __tablename__ = "named_persons"
    read_permission = Permission.TRACING_READ
    write_permission = Permission.TRACING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    investigation_id: Mapped[int] = mapped_column(ForeignKey("investigations.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(11))
    relation: Mapped[str] = mapped_column(String(40), default="")
    note: Mapped[str] = mapped_column(String(200), default="")

    person: Mapped[Person | None] = relationship()


class RunState(StrEnum):
    """Where a tracing run is."""

    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class TracingRun(Scoped, Base):
    """One run of the contact engine over some cases, and what it found."""

    __tablename__ = "tracing_runs"
    read_permission = Permission.TRACING_READ
    write_permission = Permission.TRACING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(index=True)
    ruleset: Mapped[str] = mapped_column(String(40))
    state: Mapped[RunState] = mapped_column(default=RunState.QUEUED)
    case_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # Contacts by kind, new and already known; the presence days a window needed and did not find.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    missing_days: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence_file: Mapped[str | None] = mapped_column(String(200))  # exposures.parquet, under the data directory


class ContactKind(StrEnum):
    """A contact's classification, strongest first (a person is classified once, by the strongest)."""

    CLOSE = "close"  # 密接
    SECONDARY = "secondary"  # 次密接
    EXPOSED = "exposed"  # 涉疫场所暴露

    @property
    def label(self) -> str:
        """The kind in the interface (an msgid)."""
        return CONTACT_KIND_LABELS[self]

    @property
    def strength(self) -> int:
        """Higher is stronger."""
        return {ContactKind.CLOSE: 3, ContactKind.SECONDARY: 2, ContactKind.EXPOSED: 1}[self]


CONTACT_KIND_LABELS = {
    ContactKind.CLOSE: N_("Close contact"),
    ContactKind.SECONDARY: N_("Secondary contact"),
    ContactKind.EXPOSED: N_("Exposed at a place"),
}


class ContactState(StrEnum):
    """Where a contact is in the hand-over to isolation."""

    TO_CONTROL = "to_control"  # 待管控: ordered, not yet under control
    UNDER_CONTROL = "under_control"  # 已管控
    BECAME_CASE = "became_case"  # 转为病例

    @property
    def label(self) -> str:
        """The state in the interface (an msgid)."""
        return CONTACT_STATE_LABELS[self]


CONTACT_STATE_LABELS = {
    ContactState.TO_CONTROL: N_("To be put under control"),
    ContactState.UNDER_CONTROL: N_("Under control"),
    ContactState.BECAME_CASE: N_("Became a case"),
}


class Contact(Scoped, Base):
    """A person found by tracing, with the evidence of their earliest exposure of the strongest kind,
    and the control order (with its clock) that hands them on to the isolation work."""

    __tablename__ = "contacts"
    read_permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_MARK

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    kind: Mapped[ContactKind] = mapped_column(index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    via_person_id: Mapped[int | None] = mapped_column()  # the close contact, for a secondary contact
    place_id: Mapped[int | None] = mapped_column()  # none: the household
    first_exposure: Mapped[datetime] = mapped_column()
    last_exposure: Mapped[datetime] = mapped_column()
    run_id: Mapped[int] = mapped_column(ForeignKey("tracing_runs.id"), index=True)
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(index=True)  # under control by then (rule set: 12 h)
    state: Mapped[ContactState] = mapped_column(default=ContactState.TO_CONTROL, index=True)
    controlled_at: Mapped[datetime | None] = mapped_column()
    alerted_at: Mapped[datetime | None] = mapped_column()

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    case: Mapped[Case] = relationship()
