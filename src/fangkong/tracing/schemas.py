"""Request and response bodies of the tracing API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fangkong.tracing.models import CaseKind, ContactKind, ContactState, FoundBy


class CaseIn(BaseModel):
    """A case entered by hand (a fever clinic's report, a positive found in isolation …)."""

    person_id: int
    kind: CaseKind
    found_by: FoundBy
    sampled_at: datetime
    onset_at: datetime | None = None
    reported_at: datetime | None = None  # default: now
    isolated_at: datetime | None = None
    source_case_id: int | None = None


class CaseUpdate(BaseModel):
    """What the investigation learns about a case; fields left out stay as they are."""

    kind: CaseKind | None = None
    onset_at: datetime | None = None
    isolated_at: datetime | None = None
    source_case_id: int | None = None
    symptoms: str | None = Field(default=None, max_length=2000)
    notes: str | None = Field(default=None, max_length=4000)


class ItineraryIn(BaseModel):
    """A place and time of the itinerary: a known place, or free text."""

    place_id: int | None = None
    place_text: str = Field(default="", max_length=160)
    starts_at: datetime
    ends_at: datetime | None = None
    note: str = Field(default="", max_length=200)


class NamedIn(BaseModel):
    """A person the case named."""

    person_id: int | None = None
    name: str = Field(min_length=1, max_length=40)
    phone: str | None = Field(default=None, pattern=r"^1\d{10}$")
    relation: str = Field(default="", max_length=40)
    note: str = Field(default="", max_length=200)


class CaseOut(BaseModel):
    """A case (the person masked)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    person_id: int
    jurisdiction_code: str
    kind: CaseKind
    found_by: FoundBy
    onset_at: datetime | None
    sampled_at: datetime
    reported_at: datetime
    isolated_at: datetime | None
    source_case_id: int | None


class RunIn(BaseModel):
    """A tracing run: these cases, or every case the user reaches when none are named."""

    case_ids: list[int] = Field(default_factory=list, max_length=5000)


class ContactOut(BaseModel):
    """A contact, with the evidence of their earliest exposure of the strongest kind."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    person_id: int
    jurisdiction_code: str
    kind: ContactKind
    case_id: int
    via_person_id: int | None
    place_id: int | None
    first_exposure: datetime
    last_exposure: datetime
    due_at: datetime
    state: ContactState
    controlled_at: datetime | None


class ItineraryOut(BaseModel):
    """An itinerary entry."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    place_id: int | None
    place_text: str
    starts_at: datetime
    ends_at: datetime | None
    note: str


class NamedOut(BaseModel):
    """A person the case named, masked as in every list."""

    id: int
    person_id: int | None
    masked_name: str
    masked_phone: str
    relation: str
    note: str


class ClockOut(BaseModel):
    """One clock of an investigation: when it is due, when it was met, where it stands."""

    due_at: datetime
    done_at: datetime | None
    state: str


class InvestigationOut(BaseModel):
    """A case's investigation with its two clocks (core information, full report)."""

    case_id: int
    core: ClockOut
    report: ClockOut
    symptoms: str
    notes: str
    itinerary: list[ItineraryOut]
    named: list[NamedOut]


class CaseDetailOut(CaseOut):
    """A case with its investigation."""

    investigation: InvestigationOut


class RunOut(BaseModel):
    """A tracing run, its job and, once done, what it found."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    jurisdiction_code: str
    job_id: int | None
    ruleset: str
    state: str
    case_ids: list[int]
    requested_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any]
    missing_days: list[str]
