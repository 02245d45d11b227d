"""Events of the tracing loop, for the modules that react to it (isolation, command)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fangkong.core.events import DomainEvent


@dataclass(frozen=True)
class CaseReported(DomainEvent):
    """A new case (a new local case, 新增本土病例): its investigation's clocks have started."""

    name = "tracing.case_reported"
    case_id: int = 0
    person_id: int = 0
    kind: str = ""
    found_by: str = ""
    source_case_id: int | None = None
    reported_at: datetime | None = None


@dataclass(frozen=True)
class InvestigationOverdue(DomainEvent):
    """An investigation missed a clock: ``stage`` is ``core`` (core information) or ``report``."""

    name = "tracing.investigation_overdue"
    case_id: int = 0
    stage: str = ""
    due_at: datetime | None = None


@dataclass(frozen=True)
class ControlOrdered(DomainEvent):
    """A contact must be put under control before ``due_at`` (``jurisdiction_code``: where they live)."""

    name = "tracing.control_ordered"
    contact_id: int = 0
    person_id: int = 0
    kind: str = ""
    case_id: int = 0
    due_at: datetime | None = None


@dataclass(frozen=True)
class ControlOverdue(DomainEvent):
    """A contact's clock ran out before they were under control: an alert."""

    name = "tracing.control_overdue"
    contact_id: int = 0
    person_id: int = 0
    kind: str = ""
    due_at: datetime | None = None


@dataclass(frozen=True)
class ContactControlled(DomainEvent):
    """A contact is under control."""

    name = "tracing.contact_controlled"
    contact_id: int = 0
    person_id: int = 0
    controlled_at: datetime | None = None
