"""Clocks and escalation (督办): every task, measure, rectification and problem has a deadline; an item
whose deadline passes is escalated once to the superior level.

``check`` is the sweep (run as the job ``command.check_clocks``, periodically, and safe to run as often
as one likes): assigned and in-progress tasks past their deadline become overdue, open measures
likewise; then every overdue item not yet escalated gets one ``Escalation`` to the parent
jurisdiction of its own (a community's to its street, a street's to its district …, a province's stays
with the province), which that level's dashboard lists, and an ``ItemEscalated`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from fangkong.command.events import ItemEscalated
from fangkong.command.models import (
    Escalation,
    ItemKind,
    Measure,
    MeasureStatus,
    Problem,
    ProblemStatus,
    Rectification,
    RectificationStatus,
    Task,
    TaskStatus,
)
from fangkong.core import events, jobs
from fangkong.core.db import utcnow

LEVEL_LENGTHS = (2, 4, 6, 9, 12)


def superior(code: str) -> str:
    """The parent jurisdiction of ``code`` (a province is its own superior)."""
    shorter = [n for n in LEVEL_LENGTHS if n < len(code)]
    return code[:shorter[-1]] if shorter else code


@dataclass(frozen=True)
class Sweep:
    """What one run of the clocks did."""

    tasks_overdue: int
    measures_overdue: int
    escalated: dict[ItemKind, int]

    @property
    def total_escalated(self) -> int:
        """How many items were escalated."""
        return sum(self.escalated.values())


def check(session: Session, *, now: datetime | None = None) -> Sweep:
    """Mark what ran out of time overdue and escalate, once, every overdue item (see the module doc)."""
    now = now or utcnow()
    late_tasks = session.execute(select(Task).where(
        Task.status.in_([TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS]), Task.due_at < now)).scalars().all()
    for task in late_tasks:
        task.move_to(TaskStatus.OVERDUE, now)
    late_measures = session.execute(select(Measure).where(
        Measure.status == MeasureStatus.OPEN, Measure.due_at < now)).scalars().all()
    for measure in late_measures:
        measure.move_to(MeasureStatus.OVERDUE, now)
    session.flush()

    raised: list[events.DomainEvent] = []
    escalated: dict[ItemKind, int] = dict.fromkeys(ItemKind, 0)

    def escalate(kind: ItemKind, item: Any, due_at: datetime) -> None:
        item.escalated_at = now
        to = superior(item.jurisdiction_code)
        session.add(Escalation(jurisdiction_code=item.jurisdiction_code, item_kind=kind, item_id=item.id,
                               to_code=to, due_at=due_at, at=now))
        raised.append(ItemEscalated(jurisdiction_code=item.jurisdiction_code, kind=kind.value, item_id=item.id,
                                    to_code=to, due_at=due_at))
        escalated[kind] += 1

    for task in session.execute(select(Task).where(
            Task.status == TaskStatus.OVERDUE, Task.escalated_at.is_(None)).order_by(Task.id)).scalars():
        escalate(ItemKind.TASK, task, task.due_at or now)
    for measure in session.execute(select(Measure).where(
            Measure.status == MeasureStatus.OVERDUE, Measure.escalated_at.is_(None)).order_by(Measure.id)).scalars():
        escalate(ItemKind.MEASURE, measure, measure.due_at)
    for rect in session.execute(select(Rectification).where(
            Rectification.status == RectificationStatus.SUBMITTED, Rectification.verify_due_at < now,
            Rectification.escalated_at.is_(None)).order_by(Rectification.id)).scalars():
        escalate(ItemKind.RECTIFICATION, rect, rect.verify_due_at)
    for problem in session.execute(select(Problem).where(
            Problem.status != ProblemStatus.CLOSED, Problem.due_at < now,
            Problem.escalated_at.is_(None)).order_by(Problem.id)).scalars():
        escalate(ItemKind.PROBLEM, problem, problem.due_at or now)
    session.flush()
    events.emit_all(session, raised)
    return Sweep(tasks_overdue=len(late_tasks), measures_overdue=len(late_measures), escalated=escalated)


CHECK_JOB = "command.check_clocks"


@jobs.handler(CHECK_JOB)
def _check_job(ctx: jobs.JobContext) -> dict[str, Any]:
    sweep = check(ctx.session)
    return {"tasks_overdue": sweep.tasks_overdue, "measures_overdue": sweep.measures_overdue,
            "escalated": {k.value: n for k, n in sweep.escalated.items()}}


def resolve(session: Session, kind: ItemKind, item_id: int, now: datetime) -> None:
    """The item got done after all: its escalation (if any) is resolved, and leaves the superior's list."""
    session.execute(update(Escalation).where(Escalation.item_kind == kind, Escalation.item_id == item_id,
                                             Escalation.resolved_at.is_(None)).values(resolved_at=now))


def escalations(*, to_code: str | None = None, under: str | None = None,
                unresolved: bool = True) -> Select[Escalation]:
    """The escalation list's query, newest first: those brought to ``to_code``, or any ``under`` a code."""
    stmt = select(Escalation)
    if to_code is not None:
        stmt = stmt.where(Escalation.to_code == to_code)
    if under:
        stmt = stmt.where(Escalation.jurisdiction_code.startswith(under, autoescape=True))
    if unresolved:
        stmt = stmt.where(Escalation.resolved_at.is_(None))
    return stmt.order_by(Escalation.at.desc(), Escalation.id.desc())
