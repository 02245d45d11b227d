"""Request and response bodies of the testing API."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fangkong.testing.models import DoorMark, NoSampleReason, OrderKind, Outcome, Purpose, Risk, TubeState

Code = Field(pattern=r"^\d{2}(\d{2}(\d{2}(\d{3}(\d{3})?)?)?)?$")


class AreaIn(BaseModel):
    """An area of a round with its own risk (and, optionally, a pool size other than the rule set's)."""

    jurisdiction_code: str = Code
    risk: Risk
    pool_size: int | None = Field(default=None, ge=1, le=50)


class RoundIn(BaseModel):
    """A new round."""

    name: str = Field(min_length=1, max_length=80)
    jurisdiction_code: str = Code
    starts_at: datetime
    deadline: datetime | None = None  # default: the rule set's round duration after the start
    default_risk: Risk = Risk.LOW
    areas: list[AreaIn] = Field(default_factory=list)


class AreaOut(BaseModel):
    """An area of a round."""

    model_config = ConfigDict(from_attributes=True)
    jurisdiction_code: str
    risk: Risk
    pool_size: int


class RoundOut(BaseModel):
    """A round."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    jurisdiction_code: str
    ruleset: str
    default_risk: Risk
    starts_at: datetime
    deadline: datetime
    closed_at: datetime | None
    areas: list[AreaOut]


class SiteIn(BaseModel):
    """A new sampling site."""

    name: str = Field(min_length=1, max_length=120)
    jurisdiction_code: str = Code
    address: str = Field(default="", max_length=160)
    opens_at: time
    closes_at: time
    serves: list[str] = Field(default_factory=list)


class SiteOut(BaseModel):
    """A sampling site."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    jurisdiction_code: str
    address: str
    opens_at: time
    closes_at: time
    serves: list[str]
    is_active: bool


class TubeOut(BaseModel):
    """A tube and, once back, its result."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    round_id: int
    site_id: int | None
    pool_size: int
    purpose: Purpose
    state: TubeState
    filled: int
    lab_id: int | None
    outcome: Outcome | None = None


class SampleEntry(BaseModel):
    """One person sampled into one tube, as a sampling device sends it."""

    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    tube_code: str = Field(min_length=1, max_length=40)
    person_id: int | None = None
    id_number: str | None = Field(default=None, max_length=18)
    sampled_at: datetime

    @model_validator(mode="after")
    def _one_identity(self) -> SampleEntry:
        if (self.person_id is None) == (self.id_number is None):
            raise ValueError("give person_id or id_number")
        return self


class SampleBatch(BaseModel):
    """Up to 1,000 entries from one device at one site."""

    round_id: int
    site_id: int | None = None
    purpose: Purpose = Purpose.SCREENING
    # Pool size of tubes this batch opens; default: the round's size for the site's area (1 for re-tests).
    pool_size: int | None = Field(default=None, ge=1, le=50)
    entries: list[SampleEntry] = Field(min_length=1, max_length=1000)


class EntryStatus(StrEnum):
    """What became of one entry of a batch."""

    STORED = "stored"
    ALREADY_STORED = "already_stored"  # the same client id was stored before: a retried batch
    ALREADY_SAMPLED = "already_sampled"  # the person was sampled earlier in this round
    REJECTED = "rejected"


class EntryResult(BaseModel):
    """The outcome of one entry, in the order sent."""

    client_id: str
    status: EntryStatus
    sample_id: int | None = None
    message: str | None = None
    tube_code: str | None = None  # for already_sampled: the tube the person is in


class BatchResult(BaseModel):
    """The outcome of a batch, with counts."""

    stored: int
    already_stored: int
    already_sampled: int
    rejected: int
    entries: list[EntryResult]


class ShipmentIn(BaseModel):
    """Tubes handed to a lab."""

    lab_id: int
    tube_codes: list[str] = Field(min_length=1, max_length=5000)


class ImportOut(BaseModel):
    """A lab result file that was applied."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    rows: int
    new_results: int
    positives: int
    imported_at: datetime
    already_imported: bool = False


class DoorVisitIn(BaseModel):
    """A community worker's mark on a person not yet sampled."""

    mark: DoorMark
    reason: NoSampleReason | None = None
    note: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _reason_when_not_sampled(self) -> DoorVisitIn:
        if self.mark is DoorMark.CANNOT_BE_SAMPLED and self.reason is None:
            raise ValueError("a reason is needed")
        return self


class OrderOut(BaseModel):
    """A re-sampling order."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    round_id: int
    kind: OrderKind
    jurisdiction_code: str
    created_at: datetime
    due_at: datetime
    done_at: datetime | None


class PlanIn(BaseModel):
    """The pool planner's inputs."""

    prevalence: float = Field(ge=0, lt=1)
    population: int = Field(ge=0)
    capacity_per_hour: float = Field(gt=0)
    sensitivity: float = Field(default=1.0, gt=0, le=1)
