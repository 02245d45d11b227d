"""The plan (施工图) of a directive as Gantt rows: each task a bar from its start to its deadline, filled to
its progress, coloured by where it stands, the overdue ones listed apart as critical.

The rows are ``service.plan``'s tree, so a reader sees the plan as far as their jurisdiction reaches: a
district sees the tasks handed down to it as the roots of its sub-plan (分施工图), even when the
directive itself belongs to the city.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.command import service
from fangkong.command.models import Directive, Task, TaskStatus
from fangkong.core.db import utcnow
from fangkong.core.errors import N_
from fangkong.core.i18n import gettext
from fangkong.core.scope import system_access

# Where a bar stands, for its colour: the task's status, with "done late" told apart from "done" and an
# open task past its deadline counted overdue before the clock sweep marks it.
STATE_LABELS = {
    "draft": N_("Draft"),
    "assigned": N_("Assigned"),
    "in_progress": N_("In progress"),
    "overdue": N_("Overdue"),
    "done": N_("Done on time"),
    "done_late": N_("Done late"),
    "cancelled": N_("Cancelled"),
}
STATE_COLOURS = {
    "draft": "#9e9e9e",
    "assigned": "#1565c0",
    "in_progress": "#00897b",
    "overdue": "#c62828",
    "done": "#2e7d32",
    "done_late": "#ef6c00",
    "cancelled": "#bdbdbd",
}


@dataclass(frozen=True)
class PlanHeader:
    """What the Gantt shows of the directive itself (plain values: the row may lie above the reader's scope)."""

    id: int
    title: str
    status: str
    status_label: str
    jurisdiction_code: str


@dataclass(frozen=True)
class Bar:
    """One task of the plan as a row of the Gantt."""

    id: int
    parent_id: int | None
    depth: int
    title: str
    state: str
    state_label: str
    jurisdiction_code: str
    start: int  # milliseconds since the epoch, for the chart's time axis
    end: int
    progress: int
    due_at: datetime | None
    done_at: datetime | None
    hours_late: float | None  # open past the deadline: by how much, now
    has_children: bool = False

    @property
    def is_overdue(self) -> bool:
        """Whether the task is open past its deadline."""
        return self.state == "overdue"


@dataclass(frozen=True)
class Gantt:
    """A directive's plan as bars, and its critical overdue items, most late first."""

    directive: PlanHeader
    bars: list[Bar]
    critical: list[Bar]
    now: datetime

    def as_json(self) -> dict[str, Any]:
        """The chart's data: bars with their colours and labels in the reader's language."""
        def bar(b: Bar) -> dict[str, Any]:
            out = asdict(b)
            out["due_at"] = b.due_at.isoformat() if b.due_at else None
            out["done_at"] = b.done_at.isoformat() if b.done_at else None
            out["colour"] = STATE_COLOURS[b.state]
            return out

        return {"directive": asdict(self.directive), "now": _ms(self.now), "bars": [bar(b) for b in self.bars],
                "critical": [b.id for b in self.critical],
                "states": [{"key": k, "label": gettext(v), "colour": STATE_COLOURS[k]}
                           for k, v in STATE_LABELS.items()]}


def readable_directive(session: Session, directive_id: int) -> Directive:
    """The directive whose plan the principal may read: one in their scope, or one above it whose tasks
    were handed down into it. Anything else is ``NotFound`` (and the attempt audited).

    A directive above the scope is loaded unscoped for its title only: never follow its ``tasks``.
    """
    seen = session.execute(select(Directive).where(Directive.id == directive_id)).scalar_one_or_none()
    if seen is not None:
        return seen
    has_part = session.execute(select(Task.id).where(Task.directive_id == directive_id).limit(1)).first()
    if has_part is None:
        return service.get_directive(session, directive_id)  # NotFound, audited when it exists
    with system_access(session):
        directive = session.execute(select(Directive).where(Directive.id == directive_id)).scalar_one()
    return directive


def gantt(session: Session, directive: Directive, *, now: datetime | None = None) -> Gantt:
    """The directive's plan as far as the principal sees it, as Gantt bars in the plan's order."""
    now = now or utcnow()
    rows = service.plan(session, directive)
    parents = {t.parent_id for _, t in rows if t.parent_id is not None}
    bars = [_bar(depth, task, now, task.id in parents) for depth, task in rows]
    critical = sorted((b for b in bars if b.is_overdue), key=lambda b: (-(b.hours_late or 0), b.id))
    header = PlanHeader(id=directive.id, title=directive.title, status=directive.status.value,
                        status_label=gettext(directive.status.label), jurisdiction_code=directive.jurisdiction_code)
    return Gantt(directive=header, bars=bars, critical=critical, now=now)


def _state(task: Task, now: datetime) -> str:
    if task.status is TaskStatus.DONE:
        late = task.due_at is not None and task.done_at is not None and task.done_at > task.due_at
        return "done_late" if late else "done"
    if task.status.is_open and (task.status is TaskStatus.OVERDUE or (task.due_at is not None and task.due_at < now)):
        return "overdue"
    return task.status.value


def _bar(depth: int, task: Task, now: datetime, has_children: bool) -> Bar:
    start = task.starts_at or task.assigned_at or task.created_at
    end = task.due_at or task.done_at or max(start, now)
    end = max(end, start)
    state = _state(task, now)
    late = (now - task.due_at).total_seconds() / 3600 if state == "overdue" and task.due_at else None
    return Bar(id=task.id, parent_id=task.parent_id, depth=depth,
               title=gettext(task.title) if task.title_is_msgid else task.title, state=state,
               state_label=gettext(STATE_LABELS[state]), jurisdiction_code=task.jurisdiction_code,
               start=_ms(start), end=_ms(end), progress=max(0, min(100, task.progress)), due_at=task.due_at,
               done_at=task.done_at, hours_late=late, has_children=has_children)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
