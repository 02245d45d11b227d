"""The problem loop (问题 → 举措 → 整改 → 验收): problems, their measures and the measures' rectifications.

A problem is open until it has a measure, then being rectified; each measure has an owner and a
deadline and ends in a rectification with evidence, which someone other than who did it verifies. A
verified rectification closes its measure; a failed one reopens it. A problem closes when every one of
its measures is verified, and in no other way: nothing closes without a verified rectification.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from fangkong.command import attachments, clocks, organisation, standards
from fangkong.command.models import (
    ItemKind,
    Measure,
    MeasureStatus,
    Problem,
    ProblemSource,
    ProblemStatus,
    Rectification,
    RectificationStatus,
    Task,
)
from fangkong.command.schemas import AttachmentIn, MeasureIn, ProblemIn, RectificationIn
from fangkong.core.auth import Permission
from fangkong.core.db import utcnow
from fangkong.core.errors import N_, Conflict, Forbidden, Invalid
from fangkong.core.scope import get_or_404, principal_of, system_access

# ---------------------------------------------------------------------------------------------- problems


def file_problem(session: Session, data: ProblemIn, *, source_key: str | None = None,
                 params: dict[str, Any] | None = None, report_id: int | None = None,
                 now: datetime | None = None) -> Problem:
    """A new problem, open until it has a measure, due by the standard clock unless given a deadline.

    ``source_key`` names what raised it (an alert, an inspection's finding): a problem already filed
    under the same key is returned instead of a second one.
    """
    now = now or utcnow()
    principal = principal_of(session)
    principal.require(Permission.COMMAND_WRITE, data.jurisdiction_code)
    if source_key is not None:
        with system_access(session):
            existing = session.execute(select(Problem).where(Problem.source_key == source_key)).scalar_one_or_none()
        if existing is not None:
            return existing
    task: Task | None = None
    if data.task_id is not None:
        task = get_or_404(session, Task, data.task_id, what=N_("No such task."))
    if data.unit_id is not None:
        organisation.get_unit(session, data.unit_id)
    if data.task_force_id is not None:
        organisation.get_task_force(session, data.task_force_id)
    found_at = data.found_at or now
    limits = standards.clocks()
    hours = limits.alert_problem_hours if data.source is ProblemSource.ALERT else limits.problem_hours
    due_at = data.due_at or found_at + timedelta(hours=hours)
    if due_at <= found_at:
        raise Invalid.field("due_at", N_("The deadline is before the problem was found."))
    problem = Problem(jurisdiction_code=data.jurisdiction_code, title=data.title.strip(),
                      description=data.description, params=params or {}, source=data.source, source_key=source_key,
                      task_id=data.task_id, report_id=report_id,
                      unit_id=data.unit_id if data.unit_id is not None else (task.unit_id if task else None),
                      task_force_id=data.task_force_id or (task.task_force_id if task else None),
                      reported_by_id=principal.user_id, found_at=found_at, due_at=due_at)
    session.add(problem)
    session.flush()
    return problem


def get_problem(session: Session, problem_id: int) -> Problem:
    """A problem the principal may read (``NotFound`` otherwise)."""
    return get_or_404(session, Problem, problem_id, what=N_("No such problem."))


def close_problem(session: Session, problem: Problem, *, now: datetime | None = None) -> Problem:
    """Close a problem whose every measure has a verified rectification (``Conflict`` otherwise)."""
    if problem.status is ProblemStatus.CLOSED:
        raise Conflict(N_("This problem is already closed."))
    if not _all_verified(problem):
        raise Conflict(N_("A problem closes only when every measure's rectification is verified."))
    _close(session, problem, now or utcnow())
    return problem


def problems(*, status: ProblemStatus | Sequence[ProblemStatus] | None = None, source: ProblemSource | None = None,
             under: str | None = None, overdue: bool = False, unit_id: int | None = None,
             task_force_id: int | None = None, task_id: int | None = None,
             now: datetime | None = None) -> Select[Problem]:
    """The problem list's query, earliest deadline first (the scope is added by the session)."""
    stmt = select(Problem)
    if isinstance(status, ProblemStatus):
        stmt = stmt.where(Problem.status == status)
    elif status is not None:
        stmt = stmt.where(Problem.status.in_(list(status)))
    if source is not None:
        stmt = stmt.where(Problem.source == source)
    if under:
        stmt = stmt.where(Problem.jurisdiction_code.startswith(under, autoescape=True))
    if overdue:
        stmt = stmt.where(Problem.status != ProblemStatus.CLOSED, Problem.due_at < (now or utcnow()))
    if unit_id is not None:
        stmt = stmt.where(Problem.unit_id == unit_id)
    if task_force_id is not None:
        stmt = stmt.where(Problem.task_force_id == task_force_id)
    if task_id is not None:
        stmt = stmt.where(Problem.task_id == task_id)
    return stmt.order_by(Problem.due_at, Problem.id)


# ---------------------------------------------------------------------------------------------- measures


def add_measure(session: Session, problem: Problem, data: MeasureIn, *, now: datetime | None = None) -> Measure:
    """A measure against an open problem, owned by a unit and/or a person; the problem is being rectified."""
    now = now or utcnow()
    if problem.status is ProblemStatus.CLOSED:
        raise Conflict(N_("This problem is closed."))
    if data.owner_unit_id is None and data.owner_user_id is None and not data.owner_name.strip():
        raise Invalid.field("owner_unit_id", N_("Name who owns the measure: a unit or a person."))
    if data.owner_unit_id is not None:
        organisation.get_unit(session, data.owner_unit_id)
    organisation.check_user(session, data.owner_user_id, "owner_user_id")
    due_at = data.due_at or now + timedelta(hours=standards.clocks().measure_hours)
    if due_at <= now:
        raise Invalid.field("due_at", N_("The deadline has passed already."))
    measure = Measure(jurisdiction_code=problem.jurisdiction_code, title=data.title.strip(),
                      owner_unit_id=data.owner_unit_id, owner_user_id=data.owner_user_id,
                      owner_name=data.owner_name.strip(), due_at=due_at, created_at=now)
    problem.measures.append(measure)
    if problem.status is ProblemStatus.OPEN:
        problem.status = ProblemStatus.RECTIFYING
    session.flush()
    return measure


def get_measure(session: Session, measure_id: int) -> Measure:
    """A measure the principal may read (``NotFound`` otherwise)."""
    return get_or_404(session, Measure, measure_id, what=N_("No such measure."))


def measures(*, status: MeasureStatus | Sequence[MeasureStatus] | None = None, under: str | None = None,
             overdue: bool = False, owner_unit_id: int | None = None, owner_user_id: int | None = None,
             now: datetime | None = None) -> Select[Measure]:
    """The measure list's query, earliest deadline first (the scope is added by the session)."""
    stmt = select(Measure)
    if isinstance(status, MeasureStatus):
        stmt = stmt.where(Measure.status == status)
    elif status is not None:
        stmt = stmt.where(Measure.status.in_(list(status)))
    if under:
        stmt = stmt.where(Measure.jurisdiction_code.startswith(under, autoescape=True))
    if overdue:
        stmt = stmt.where(Measure.status.in_([MeasureStatus.OPEN, MeasureStatus.OVERDUE]),
                          Measure.due_at < (now or utcnow()))
    if owner_unit_id is not None:
        stmt = stmt.where(Measure.owner_unit_id == owner_unit_id)
    if owner_user_id is not None:
        stmt = stmt.where(Measure.owner_user_id == owner_user_id)
    return stmt.order_by(Measure.due_at, Measure.id)


# ------------------------------------------------------------------------------------------ rectification


def submit_rectification(session: Session, measure: Measure, data: RectificationIn, *,
                         files: Sequence[AttachmentIn] = (), now: datetime | None = None,
                         root: Path | None = None) -> Rectification:
    """The owner reports the measure carried out, with evidence (text, files or both), for verification."""
    now = now or utcnow()
    if not measure.is_open:
        raise Conflict(N_("This measure is not waiting for a rectification."))
    if not data.evidence.strip() and not files:
        raise Invalid.field("evidence", N_("A rectification needs evidence: a description or a file."))
    principal = principal_of(session)
    rect = Rectification(jurisdiction_code=measure.jurisdiction_code, evidence=data.evidence,
                         submitted_by_id=principal.user_id, submitted_by_name=principal.username, submitted_at=now,
                         verify_due_at=now + timedelta(hours=standards.clocks().verify_hours), attachments=[])
    measure.rectifications.append(rect)
    measure.move_to(MeasureStatus.SUBMITTED, now)
    session.flush()
    if files:
        rect.attachments.extend(attachments.store(session, list(files), jurisdiction_code=measure.jurisdiction_code,
                                                  rectification_id=rect.id, root=root))
    clocks.resolve(session, ItemKind.MEASURE, measure.id, now)
    session.flush()
    return rect


def get_rectification(session: Session, rectification_id: int) -> Rectification:
    """A rectification the principal may read (``NotFound`` otherwise)."""
    return get_or_404(session, Rectification, rectification_id, what=N_("No such rectification."))


def verify(session: Session, rect: Rectification, *, passed: bool, verdict: str = "",
           new_due_at: datetime | None = None, now: datetime | None = None) -> Rectification:
    """Verify a rectification (验收), as someone other than who submitted it or owns the measure.

    Passed: the measure is verified, and the problem closes when it was its last open measure.
    Failed: the measure goes back to its owner (with ``new_due_at`` as its new deadline when given),
    overdue at once if its deadline has passed; the verdict says what is missing.
    """
    now = now or utcnow()
    principal = principal_of(session)
    measure = rect.measure
    if rect.status is not RectificationStatus.SUBMITTED:
        raise Conflict(N_("This rectification has been verified already."))
    if principal.user_id is None:
        raise Forbidden(N_("A rectification is verified by a person."))
    if principal.user_id in (rect.submitted_by_id, measure.owner_user_id):
        raise Forbidden(N_("A rectification is verified by someone other than who carried it out."))
    if not passed and not verdict.strip():
        raise Invalid.field("verdict", N_("Say why the rectification fails."))
    rect.verified_by_id = principal.user_id
    rect.verified_by_name = principal.username
    rect.verified_at = now
    rect.verdict = verdict
    clocks.resolve(session, ItemKind.RECTIFICATION, rect.id, now)
    if passed:
        rect.status = RectificationStatus.VERIFIED
        measure.move_to(MeasureStatus.VERIFIED, now)
        problem = measure.problem
        if problem.status is not ProblemStatus.CLOSED and _all_verified(problem):
            _close(session, problem, now)
    else:
        rect.status = RectificationStatus.REJECTED
        if new_due_at is not None:
            if new_due_at <= now:
                raise Invalid.field("new_due_at", N_("The deadline has passed already."))
            measure.due_at = new_due_at
        measure.move_to(MeasureStatus.OVERDUE if measure.due_at < now else MeasureStatus.OPEN, now)
        measure.times_reopened += 1
    session.flush()
    return rect


def rectifications(*, status: RectificationStatus | None = None, under: str | None = None,
                   overdue: bool = False, now: datetime | None = None) -> Select[Rectification]:
    """The rectification list's query, earliest verification deadline first (scope added by the session)."""
    stmt = select(Rectification)
    if status is not None:
        stmt = stmt.where(Rectification.status == status)
    if under:
        stmt = stmt.where(Rectification.jurisdiction_code.startswith(under, autoescape=True))
    if overdue:
        stmt = stmt.where(Rectification.status == RectificationStatus.SUBMITTED,
                          Rectification.verify_due_at < (now or utcnow()))
    return stmt.order_by(Rectification.verify_due_at, Rectification.id)


# ---------------------------------------------------------------------------------------------- helpers


def _all_verified(problem: Problem) -> bool:
    return bool(problem.measures) and all(m.status is MeasureStatus.VERIFIED for m in problem.measures)


def _close(session: Session, problem: Problem, now: datetime) -> None:
    problem.status = ProblemStatus.CLOSED
    problem.closed_at = now
    clocks.resolve(session, ItemKind.PROBLEM, problem.id, now)
    session.flush()
