"""Tables of whole-population testing: rounds, sites, tubes, samples, results and the pool loop.

The testing loop (应检尽检): a person of a round's target population is sampled into a tube at a
site; the tube is closed and sent to a lab; the lab's result comes back in a file. A positive or
inconclusive pool puts its members under temporary control (临时管控) and orders, per community,
a single-tube re-sampling (单管复核) with a clock; an invalid tube orders its members re-sampled.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangkong.core.auth import Permission
from fangkong.core.db import Base, code_column_type, utcnow
from fangkong.core.errors import N_
from fangkong.core.scope import Scoped


class Risk(StrEnum):
    """An area's risk level, which sets its pool size by the rule set."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def label(self) -> str:
        """The level in the interface (an msgid)."""
        return RISK_LABELS[self]


RISK_LABELS = {Risk.LOW: N_("Low risk"), Risk.MEDIUM: N_("Medium risk"), Risk.HIGH: N_("High risk")}


class Purpose(StrEnum):
    """Why a person is sampled."""

    SCREENING = "screening"  # the round's sampling
    RETEST = "retest"  # 单管复核: single-tube re-test of a positive or inconclusive pool's member
    RESAMPLE = "resample"  # 重采: again, because the tube's result was invalid

    @property
    def label(self) -> str:
        """The purpose in the interface (an msgid)."""
        return PURPOSE_LABELS[self]


PURPOSE_LABELS = {
    Purpose.SCREENING: N_("Screening"),
    Purpose.RETEST: N_("Single-tube re-test"),
    Purpose.RESAMPLE: N_("Re-sampling"),
}


class TubeState(StrEnum):
    """Where a tube is between the sampling site and the lab (its result is a ``TubeResult``)."""

    OPEN = "open"
    CLOSED = "closed"
    SENT = "sent"

    @property
    def label(self) -> str:
        """The state in the interface (an msgid)."""
        return TUBE_STATE_LABELS[self]


TUBE_STATE_LABELS = {TubeState.OPEN: N_("Open"), TubeState.CLOSED: N_("Closed"), TubeState.SENT: N_("Sent to lab")}


class Outcome(StrEnum):
    """A lab result (检测结果)."""

    NEGATIVE = "negative"  # 阴性
    POSITIVE = "positive"  # 阳性
    INVALID = "invalid"  # 无效
    INCONCLUSIVE = "inconclusive"  # 可疑

    @property
    def label(self) -> str:
        """The result in the interface (an msgid)."""
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.NEGATIVE: N_("Negative"),
    Outcome.POSITIVE: N_("Positive"),
    Outcome.INVALID: N_("Invalid"),
    Outcome.INCONCLUSIVE: N_("Inconclusive"),
}


class Round(Base):
    """A round (轮次) of whole-population testing over one jurisdiction subtree.

    Not a scoped table: everyone with the testing permission inside or above the round's area sees
    that the round exists (see ``service.rounds``); what lies beneath it is scoped.
    """

    __tablename__ = "testing_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    jurisdiction_code: Mapped[str] = mapped_column(code_column_type(), index=True)
    ruleset: Mapped[str] = mapped_column(String(40))
    default_risk: Mapped[Risk] = mapped_column(default=Risk.LOW)
    starts_at: Mapped[datetime] = mapped_column()
    deadline: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column()
    areas: Mapped[list[RoundArea]] = relationship(back_populates="round", order_by="RoundArea.jurisdiction_code",
                                                  cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        """Whether samples may still be registered."""
        return self.closed_at is None


class RoundArea(Base):
    """An area of a round with its own risk level and pool size (the narrowest area wins)."""

    __tablename__ = "testing_round_areas"
    __table_args__ = (UniqueConstraint("round_id", "jurisdiction_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("testing_rounds.id"), index=True)
    jurisdiction_code: Mapped[str] = mapped_column(code_column_type())
    risk: Mapped[Risk] = mapped_column()
    pool_size: Mapped[int] = mapped_column()
    round: Mapped[Round] = relationship(back_populates="areas")


class SamplingSite(Scoped, Base):
    """A sampling site (采样点) with its opening hours and the communities it serves."""

    __tablename__ = "sampling_sites"
    read_permission = Permission.TESTING_READ
    write_permission = Permission.TESTING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(160), default="")
    opens_at: Mapped[time] = mapped_column()
    closes_at: Mapped[time] = mapped_column()
    serves: Mapped[list[str]] = mapped_column(default=list)  # community codes
    is_active: Mapped[bool] = mapped_column(default=True)


class ResultImport(Scoped, Base):
    """One lab result file applied (it applies whole or not at all)."""

    __tablename__ = "result_imports"
    read_permission = Permission.TUBES_READ
    write_permission = Permission.RESULTS_WRITE
    facility_attribute = "lab_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    rows: Mapped[int] = mapped_column(default=0)
    new_results: Mapped[int] = mapped_column(default=0)
    positives: Mapped[int] = mapped_column(default=0)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column()


class Tube(Scoped, Base):
    """A sampling tube (管), known by its barcode; a pool when it holds more than one person."""

    __tablename__ = "tubes"
    read_permission = Permission.TUBES_READ
    write_permission = Permission.TESTING_WRITE
    facility_attribute = "lab_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(code_column_type(40), unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("testing_rounds.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sampling_sites.id"), index=True)
    pool_size: Mapped[int] = mapped_column()
    purpose: Mapped[Purpose] = mapped_column(default=Purpose.SCREENING)
    state: Mapped[TubeState] = mapped_column(default=TubeState.OPEN)
    filled: Mapped[int] = mapped_column(default=0)  # persons in the tube
    # Indexed: a lab file is matched with the tubes opened lately (testing.results.RECENT).
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    result: Mapped[TubeResult | None] = relationship(primaryjoin="Tube.id == foreign(TubeResult.tube_id)",
                                                     uselist=False, viewonly=True)
    samples: Mapped[list[Sample]] = relationship(viewonly=True, order_by="Sample.id")

    @property
    def is_pool(self) -> bool:
        """Whether the tube holds, or may hold, more than one person (混采)."""
        return self.pool_size > 1

    @property
    def is_full(self) -> bool:
        """Whether the tube holds as many persons as its pool size."""
        return self.filled >= self.pool_size


class TubeResult(Scoped, Base):
    """A lab's result for one tube; written once (a different second result is refused)."""

    __tablename__ = "tube_results"
    read_permission = Permission.TUBES_READ
    write_permission = Permission.RESULTS_WRITE
    facility_attribute = "lab_id"

    # Results arrive a million at a time and are read through their tube: the primary key is the
    # only index, so that an import costs little more than copying the file in. For the same
    # reason there are no foreign keys: PostgreSQL checks them row by row, three lookups per result
    # (20 s for a million, four times the insert itself). The import takes the tube, lab and import
    # ids from the rows it has just checked, and tubes, labs and imports are never deleted.
    tube_id: Mapped[int] = mapped_column(primary_key=True)
    outcome: Mapped[Outcome] = mapped_column()
    tested_at: Mapped[datetime] = mapped_column()
    ct_value: Mapped[float | None] = mapped_column()
    lab_id: Mapped[int | None] = mapped_column()  # facilities.id
    import_id: Mapped[int | None] = mapped_column()  # result_imports.id
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    jurisdiction_code: Mapped[str] = mapped_column(code_column_type(), index=False)


class Sample(Scoped, Base):
    """One person sampled into one tube; scoped by the person's community."""

    __tablename__ = "samples"
    # Coverage counts a round's samples per community (and per tube, for its results) from this
    # index alone, without reading a row of the table: hence the columns after the first two.
    __table_args__ = (Index("ix_samples_round_jurisdiction", "round_id", "jurisdiction_code", "tube_id", "purpose",
                            "once_key"),)
    read_permission = Permission.TESTING_READ
    write_permission = Permission.TESTING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    # The sampling device's own id for the entry: a batch sent twice stores each sample once.
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("testing_rounds.id"))
    tube_id: Mapped[int] = mapped_column(ForeignKey("tubes.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    purpose: Mapped[Purpose] = mapped_column(default=Purpose.SCREENING)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("resample_orders.id"), index=True)
    sampled_at: Mapped[datetime] = mapped_column()
    # "r<round>:p<person>" for the round's sampling, "o<order>:p<person>" for a re-sampling: unique,
    # so a person scanned twice is stored once even when two devices race. Cleared when the tube
    # turns out invalid, so that the person can be sampled again.
    once_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column()
    tube: Mapped[Tube] = relationship(viewonly=True)


class OrderKind(StrEnum):
    """What a re-sampling order asks for."""

    RETEST = "retest"  # 单管复核 of a positive or inconclusive pool's members
    RESAMPLE = "resample"  # 重采 of an invalid tube's members

    @property
    def label(self) -> str:
        """The kind in the interface (an msgid)."""
        return ORDER_KIND_LABELS[self]


ORDER_KIND_LABELS = {OrderKind.RETEST: N_("Single-tube re-test"), OrderKind.RESAMPLE: N_("Re-sampling")}


class ResampleOrder(Scoped, Base):
    """An order to re-sample the members of one tube who live in one community, with a clock."""

    __tablename__ = "resample_orders"
    read_permission = Permission.TESTING_READ
    write_permission = Permission.TESTING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("testing_rounds.id"), index=True)
    source_tube_id: Mapped[int] = mapped_column(ForeignKey("tubes.id"), index=True)
    kind: Mapped[OrderKind] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(index=True)
    done_at: Mapped[datetime | None] = mapped_column()
    alerted_at: Mapped[datetime | None] = mapped_column()  # when its overdue alert was raised
    members: Mapped[list[OrderMember]] = relationship(back_populates="order", order_by="OrderMember.id")
    source_tube: Mapped[Tube] = relationship(foreign_keys=[source_tube_id], viewonly=True)

    def is_overdue(self, now: datetime) -> bool:
        """Whether the clock ran out before every member was re-sampled."""
        return (self.done_at or now) > self.due_at


class OrderMember(Scoped, Base):
    """A person a re-sampling order covers, and the sample that fulfilled it."""

    __tablename__ = "resample_order_members"
    __table_args__ = (UniqueConstraint("order_id", "person_id"),)
    read_permission = Permission.TESTING_READ
    write_permission = Permission.TESTING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("resample_orders.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"))
    order: Mapped[ResampleOrder] = relationship(back_populates="members")


class ControlReason(StrEnum):
    """Why a person was put under temporary control."""

    POSITIVE_POOL = "positive_pool"  # 混管阳性
    INCONCLUSIVE_POOL = "inconclusive_pool"  # 混管可疑
    POSITIVE = "positive"  # a positive single tube

    @property
    def label(self) -> str:
        """The reason in the interface (an msgid)."""
        return CONTROL_REASON_LABELS[self]


CONTROL_REASON_LABELS = {
    ControlReason.POSITIVE_POOL: N_("Positive pool"),
    ControlReason.INCONCLUSIVE_POOL: N_("Inconclusive pool"),
    ControlReason.POSITIVE: N_("Positive single tube"),
}


class ControlState(StrEnum):
    """The temporary-control loop of one person."""

    CONTROLLED = "controlled"
    RELEASED = "released"  # the single-tube re-test was negative
    CASE = "case"  # reported as a positive to tracing

    @property
    def label(self) -> str:
        """The state in the interface (an msgid)."""
        return CONTROL_STATE_LABELS[self]


CONTROL_STATE_LABELS = {
    ControlState.CONTROLLED: N_("Under temporary control"),
    ControlState.RELEASED: N_("Released"),
    ControlState.CASE: N_("Reported positive"),
}


class Control(Scoped, Base):
    """Temporary control (临时管控) of a positive or inconclusive tube's member."""

    __tablename__ = "testing_controls"
    read_permission = Permission.TESTING_READ
    write_permission = Permission.TESTING_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("testing_rounds.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    tube_id: Mapped[int] = mapped_column(ForeignKey("tubes.id"))
    reason: Mapped[ControlReason] = mapped_column()
    state: Mapped[ControlState] = mapped_column(default=ControlState.CONTROLLED, index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()


class DoorMark(StrEnum):
    """What a community worker found at the door of a person not yet sampled."""

    VISITED = "visited"  # 已上门: told to go, or sampled at home soon
    CANNOT_BE_SAMPLED = "cannot_be_sampled"

    @property
    def label(self) -> str:
        """The mark in the interface (an msgid)."""
        return DOOR_MARK_LABELS[self]


DOOR_MARK_LABELS = {DoorMark.VISITED: N_("Visited"), DoorMark.CANNOT_BE_SAMPLED: N_("Cannot be sampled")}


class NoSampleReason(StrEnum):
    """Why a person cannot be sampled this round."""

    AWAY = "away"  # 外出不在本地
    BEDRIDDEN = "bedridden"  # 卧床, to be sampled at home
    INFANT = "infant"
    REFUSED = "refused"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The reason in the interface (an msgid)."""
        return NO_SAMPLE_LABELS[self]


NO_SAMPLE_LABELS = {
    NoSampleReason.AWAY: N_("Away from home"),
    NoSampleReason.BEDRIDDEN: N_("Bedridden, needs a home visit"),
    NoSampleReason.INFANT: N_("Infant"),
    NoSampleReason.REFUSED: N_("Refused"),
    NoSampleReason.OTHER: N_("Other"),
}


class DoorVisit(Scoped, Base):
    """The latest door-to-door mark on a person not yet sampled in a round (its history is audited)."""

    __tablename__ = "door_visits"
    __table_args__ = (UniqueConstraint("round_id", "person_id"),)
    read_permission = Permission.TESTING_READ
    write_permission = Permission.TESTING_MARK

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("testing_rounds.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    mark: Mapped[DoorMark] = mapped_column()
    reason: Mapped[NoSampleReason | None] = mapped_column()
    note: Mapped[str] = mapped_column(String(200), default="")
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
    marked_by_id: Mapped[int | None] = mapped_column()
