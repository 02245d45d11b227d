"""What each user and each level has to look at: the inbox, the daily digest and a level's dashboard.

* the **inbox** of a user: the open tasks and measures assigned to them or to a unit they work for, the
  rectifications they may verify, the overdue work under their jurisdiction and what was escalated to it;
* the **digest**: the inbox of one user as a day's summary (computed here; sending it is not);
* the **dashboard** of a level: the loops' counts under it, grouped in SQL, and the items escalated to it.

All of it goes through the session's scope: a user's inbox holds only what they may read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from fangkong.command import clocks, organisation, standards
from fangkong.command.models import (
    OPEN_TASK_STATUSES,
    Escalation,
    Measure,
    MeasureStatus,
    Problem,
    ProblemStatus,
    Rectification,
    RectificationStatus,
    Responsibility,
    Task,
    TaskStatus,
)
from fangkong.core.db import utcnow
from fangkong.core.scope import AGGREGATE_OPTION, PRINCIPAL_KEY, Principal, principal_of

OPEN_MEASURE = (MeasureStatus.OPEN, MeasureStatus.OVERDUE)


@dataclass(frozen=True)
class OverdueCounts:
    """Overdue work under a jurisdiction, by kind."""

    tasks: int = 0
    measures: int = 0
    rectifications: int = 0
    problems: int = 0

    @property
    def total(self) -> int:
        """Everything overdue."""
        return self.tasks + self.measures + self.rectifications + self.problems


@dataclass
class Inbox:
    """A user's work: theirs, their units', to verify, and what is overdue or escalated under them."""

    my_tasks: list[Task] = field(default_factory=list)
    unit_tasks: list[Task] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    to_verify: list[Rectification] = field(default_factory=list)
    overdue_tasks: list[Task] = field(default_factory=list)
    overdue: OverdueCounts = field(default_factory=OverdueCounts)
    escalated: list[Escalation] = field(default_factory=list)


def _mine(user_id: int | None, unit_ids: list[int]) -> tuple[Select[int], Select[int]]:
    """The ids of tasks where the user is named, and of tasks of their units (responsible or co-operating)."""
    named = select(Responsibility.task_id).where(Responsibility.user_id == user_id)
    of_units = select(Responsibility.task_id).where(Responsibility.unit_id.in_(unit_ids))
    return named, of_units


def inbox(session: Session, *, now: datetime | None = None, limit: int = 50) -> Inbox:
    """The inbox of the session's principal."""
    now = now or utcnow()
    principal = principal_of(session)
    user_id = principal.user_id
    unit_ids = organisation.unit_ids_of(session, user_id)
    named, of_units = _mine(user_id, unit_ids)
    open_tasks = select(Task).where(Task.status.in_(list(OPEN_TASK_STATUSES))).order_by(Task.due_at, Task.id)
    box = Inbox()
    if user_id is not None:
        box.my_tasks = list(session.execute(open_tasks.where(Task.id.in_(named)).limit(limit)).scalars())
    if unit_ids:
        box.unit_tasks = list(session.execute(open_tasks.where(
            or_(Task.unit_id.in_(unit_ids), Task.id.in_(of_units)), Task.id.not_in(named)).limit(limit)).scalars())
    owners = []
    if user_id is not None:
        owners.append(Measure.owner_user_id == user_id)
    if unit_ids:
        owners.append(Measure.owner_unit_id.in_(unit_ids))
    if owners:
        box.measures = list(session.execute(select(Measure).where(Measure.status.in_(OPEN_MEASURE), or_(*owners))
                                            .order_by(Measure.due_at, Measure.id).limit(limit)).scalars())
    if user_id is not None:
        box.to_verify = list(session.execute(_to_verify(user_id).order_by(Rectification.verify_due_at,
                                                                           Rectification.id).limit(limit)).scalars())
    box.overdue_tasks = list(session.execute(open_tasks.where(Task.due_at < now).limit(limit)).scalars())
    box.overdue = overdue_counts(session, now=now)
    codes = _grant_codes(principal)
    stmt = clocks.escalations()
    if codes is not None:
        stmt = stmt.where(Escalation.to_code.in_(codes))
    box.escalated = list(session.execute(stmt.limit(limit)).scalars())
    return box


def _to_verify(user_id: int) -> Select[Rectification]:
    """Rectifications awaiting verification that ``user_id`` may verify: anyone with the lists' write
    permission over one may, except who submitted it and the measure's owner."""
    return select(Rectification).join(Measure, Measure.id == Rectification.measure_id).where(
        Rectification.status == RectificationStatus.SUBMITTED,
        or_(Rectification.submitted_by_id.is_(None), Rectification.submitted_by_id != user_id),
        or_(Measure.owner_user_id.is_(None), Measure.owner_user_id != user_id))


def overdue_counts(session: Session, *, under: str | None = None, now: datetime | None = None,
                   aggregate: bool = False) -> OverdueCounts:
    """How much is overdue in the principal's scope (under ``under`` when given); with ``aggregate``, as
    counts a viewer may see."""
    now = now or utcnow()

    def count(model: Any, *where: Any) -> int:
        stmt = select(func.count()).select_from(model).where(*where)
        if under:
            stmt = stmt.where(model.jurisdiction_code.startswith(under, autoescape=True))
        if aggregate:
            stmt = stmt.execution_options(**{AGGREGATE_OPTION: True})
        return int(session.execute(stmt).scalar_one())

    return OverdueCounts(
        tasks=count(Task, Task.status.in_(list(OPEN_TASK_STATUSES)), Task.due_at < now),
        measures=count(Measure, Measure.status.in_(OPEN_MEASURE), Measure.due_at < now),
        rectifications=count(Rectification, Rectification.status == RectificationStatus.SUBMITTED,
                             Rectification.verify_due_at < now),
        problems=count(Problem, Problem.status != ProblemStatus.CLOSED, Problem.due_at < now),
    )


def _grant_codes(principal: Principal) -> list[str] | None:
    """The jurisdictions a principal answers for (None: the system, every one)."""
    if principal.is_system:
        return None
    return sorted({g.jurisdiction_code for g in principal.grants})


# ------------------------------------------------------------------------------------------------ digest


@dataclass(frozen=True)
class DigestLine:
    """One item of a digest."""

    kind: str  # task, measure, rectification, problem, escalation
    item_id: int
    title: str
    title_is_msgid: bool
    jurisdiction_code: str
    due_at: datetime | None


@dataclass
class Digest:
    """A user's day: what is new for them, what falls due, what is late, what was escalated to them."""

    user_id: int
    since: datetime
    until: datetime
    new_assigned: list[DigestLine] = field(default_factory=list)
    due_soon: list[DigestLine] = field(default_factory=list)
    overdue_mine: list[DigestLine] = field(default_factory=list)
    to_verify: int = 0
    overdue_under_me: OverdueCounts = field(default_factory=OverdueCounts)
    escalated_to_me: int = 0
    problems_opened: int = 0
    problems_closed: int = 0

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to tell (no digest is worth sending)."""
        return not (self.new_assigned or self.due_soon or self.overdue_mine or self.to_verify
                    or self.overdue_under_me.total or self.escalated_to_me or self.problems_opened
                    or self.problems_closed)


@contextmanager
def acting_as(session: Session, principal: Principal) -> Iterator[None]:
    """Run a block as ``principal`` (a job computing a user's digest sees what that user sees)."""
    saved = session.info.get(PRINCIPAL_KEY)
    principal.bind(session)
    try:
        yield
    finally:
        if saved is None:
            session.info.pop(PRINCIPAL_KEY, None)
        else:
            session.info[PRINCIPAL_KEY] = saved


def digest(session: Session, user_id: int, *, now: datetime | None = None) -> Digest:
    """The daily digest of a user (每日提醒): computed within what they may see."""
    from fangkong.users import service as users

    now = now or utcnow()
    hours = timedelta(hours=standards.clocks().digest_hours)
    since, until = now - hours, now + hours
    with acting_as(session, users.load_principal(session, user_id)):
        principal = principal_of(session)
        unit_ids = organisation.unit_ids_of(session, user_id)
        named, of_units = _mine(user_id, unit_ids)
        mine = or_(Task.id.in_(named), Task.unit_id.in_(unit_ids), Task.id.in_(of_units))
        open_mine = select(Task).where(Task.status.in_(list(OPEN_TASK_STATUSES)), mine).order_by(Task.due_at, Task.id)
        d = Digest(user_id=user_id, since=since, until=until)
        d.new_assigned = [_line(t) for t in session.execute(open_mine.where(Task.assigned_at >= since)).scalars()]
        d.due_soon = [_line(t) for t in session.execute(open_mine.where(Task.due_at >= now, Task.due_at < until))
                      .scalars()]
        d.overdue_mine = [_line(t) for t in session.execute(open_mine.where(Task.due_at < now)).scalars()]
        owners = [Measure.owner_user_id == user_id]
        if unit_ids:
            owners.append(Measure.owner_unit_id.in_(unit_ids))
        for m in session.execute(select(Measure).where(Measure.status.in_(OPEN_MEASURE), or_(*owners))
                                 .order_by(Measure.due_at, Measure.id)).scalars():
            if m.due_at < now:
                d.overdue_mine.append(_line(m))
            elif m.due_at < until:
                d.due_soon.append(_line(m))
            if m.created_at >= since:
                d.new_assigned.append(_line(m))
        d.to_verify = int(session.execute(select(func.count()).select_from(
            _to_verify(user_id).order_by(None).subquery())).scalar_one())
        d.overdue_under_me = overdue_counts(session, now=now)
        codes = _grant_codes(principal) or []
        d.escalated_to_me = int(session.execute(select(func.count()).select_from(Escalation).where(
            Escalation.to_code.in_(codes), Escalation.at >= since)).scalar_one())
        d.problems_opened = int(session.execute(select(func.count()).select_from(Problem).where(
            Problem.found_at >= since)).scalar_one())
        d.problems_closed = int(session.execute(select(func.count()).select_from(Problem).where(
            Problem.closed_at >= since)).scalar_one())
    return d


def _line(item: Task | Measure) -> DigestLine:
    if isinstance(item, Task):
        return DigestLine("task", item.id, item.title, item.title_is_msgid, item.jurisdiction_code, item.due_at)
    return DigestLine("measure", item.id, item.title, False, item.jurisdiction_code, item.due_at)


# --------------------------------------------------------------------------------------------- dashboard


@dataclass
class Dashboard:
    """A level's view of the lists: counts by status, what is overdue, and what was escalated to it."""

    code: str
    tasks: dict[TaskStatus, int]
    problems: dict[ProblemStatus, int]
    measures: dict[MeasureStatus, int]
    awaiting_verification: int
    overdue: OverdueCounts
    escalated: list[Escalation]


def dashboard(session: Session, code: str, *, now: datetime | None = None, limit: int = 50) -> Dashboard:
    """The dashboard of jurisdiction ``code``: counts over what the principal may count under it."""
    now = now or utcnow()

    def by_status(model: Any) -> dict[Any, int]:
        stmt = (select(model.status, func.count()).where(model.jurisdiction_code.startswith(code, autoescape=True))
                .group_by(model.status).execution_options(**{AGGREGATE_OPTION: True}))
        return {status: int(n) for status, n in session.execute(stmt).all()}

    tasks = by_status(Task)
    problems = by_status(Problem)
    measures = by_status(Measure)
    awaiting = by_status(Rectification).get(RectificationStatus.SUBMITTED, 0)
    return Dashboard(
        code=code,
        tasks={s: tasks.get(s, 0) for s in TaskStatus},
        problems={s: problems.get(s, 0) for s in ProblemStatus},
        measures={s: measures.get(s, 0) for s in MeasureStatus},
        awaiting_verification=awaiting,
        overdue=overdue_counts(session, under=code, now=now, aggregate=True),
        escalated=list(session.execute(clocks.escalations(to_code=code).limit(limit)).scalars()),
    )
