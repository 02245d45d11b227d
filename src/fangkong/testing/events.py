"""Events of the testing loop, for the modules that react to it (tracing, isolation, command)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fangkong.core.events import DomainEvent


@dataclass(frozen=True)
class PoolPositive(DomainEvent):
    """A pooled tube came back positive or inconclusive (混管阳性/可疑): its members are under control."""

    name = "testing.pool_positive"
    round_id: int = 0
    tube_id: int = 0
    tube_code: str = ""
    outcome: str = ""
    members: int = 0


@dataclass(frozen=True)
class PositiveFound(DomainEvent):
    """A person's single tube came back positive: a case report for tracing to pick up.

    ``jurisdiction_code`` is the person's community.
    """

    name = "testing.positive_found"
    person_id: int = 0
    round_id: int = 0
    tube_id: int = 0
    sampled_at: datetime | None = None
    tested_at: datetime | None = None
    found_by: str = "mass_testing"


@dataclass(frozen=True)
class ResamplingOrdered(DomainEvent):
    """A community must re-sample some persons before ``due_at``."""

    name = "testing.resampling_ordered"
    order_id: int = 0
    kind: str = ""
    members: int = 0
    due_at: datetime | None = None


@dataclass(frozen=True)
class ResamplingOverdue(DomainEvent):
    """A re-sampling order's clock ran out with members still not re-sampled: an alert."""

    name = "testing.resampling_overdue"
    order_id: int = 0
    kind: str = ""
    missing: int = 0
    due_at: datetime | None = None


@dataclass(frozen=True)
class ControlReleased(DomainEvent):
    """A person's single-tube re-test was negative: temporary control ends."""

    name = "testing.control_released"
    person_id: int = 0
    round_id: int = 0
