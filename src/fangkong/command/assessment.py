"""The assessment (可考评): per unit and per task force, how the work of the lists went, ranked.

For each unit (by the tasks it is responsible for, the problems it must rectify and the measures it
owns) and each task force (by its tasks, its problems and their measures):

* tasks, done on time, done late, and overdue (open past the deadline);
* problems and problems closed;
* the median time from a measure's creation to its verified rectification, in hours.

Each figure is one grouped SQL statement over the whole table (three per ranking), the same on SQLite
and PostgreSQL (the median through window functions), scoped like every query: a district ranks the
units by the work in its own jurisdiction. The ranking: on-time rate (done on time over everything
due or done) high to low, then fewer overdue, then a higher share of problems closed, then a shorter
median; equal figures share a rank.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from fangkong.command.models import (
    OPEN_TASK_STATUSES,
    Measure,
    MeasureStatus,
    OrgUnit,
    Problem,
    ProblemStatus,
    Task,
    TaskForce,
    TaskStatus,
)
from fangkong.core.db import utcnow
from fangkong.core.scope import AGGREGATE_OPTION, prefix_range


@dataclass(frozen=True)
class Score:
    """The figures of one unit or task force, and its rank."""

    id: int
    name: str
    jurisdiction_code: str
    tasks: int = 0
    done_on_time: int = 0
    done_late: int = 0
    overdue: int = 0
    problems: int = 0
    problems_closed: int = 0
    median_hours_to_verified: float | None = None
    rank: int = 0

    @property
    def on_time_rate(self) -> float | None:
        """Done on time over everything done or due (None: nothing yet)."""
        judged = self.done_on_time + self.done_late + self.overdue
        return self.done_on_time / judged if judged else None

    @property
    def closed_rate(self) -> float | None:
        """Problems closed over problems (None: no problem)."""
        return self.problems_closed / self.problems if self.problems else None

    def sort_key(self) -> tuple[float, int, float, float]:
        """Best first: on-time rate, fewer overdue, closed rate, shorter median."""
        return (-(self.on_time_rate if self.on_time_rate is not None else 0.0), self.overdue,
                -(self.closed_rate if self.closed_rate is not None else 0.0),
                self.median_hours_to_verified if self.median_hours_to_verified is not None else math.inf)


def assess_units(session: Session, *, under: str | None = None, now: datetime | None = None) -> list[Score]:
    """Every unit with work in the principal's scope (under ``under``), ranked."""
    now = now or utcnow()
    tasks = _task_figures(session, Task.unit_id, under, now)
    problems = _problem_figures(session, Problem.unit_id, under)
    medians = _medians(session, Measure.owner_unit_id, under, join_problem=False)
    ids = set(tasks) | set(problems) | set(medians)
    names = {u.id: (u.name, u.jurisdiction_code) for u in
             session.execute(select(OrgUnit).where(OrgUnit.id.in_(sorted(ids)))).scalars()} if ids else {}
    return _ranked(ids, names, tasks, problems, medians)


def assess_task_forces(session: Session, *, under: str | None = None, now: datetime | None = None) -> list[Score]:
    """Every task force with work in the principal's scope (under ``under``), ranked."""
    now = now or utcnow()
    tasks = _task_figures(session, Task.task_force_id, under, now)
    problems = _problem_figures(session, Problem.task_force_id, under)
    medians = _medians(session, Problem.task_force_id, under, join_problem=True)
    ids = set(tasks) | set(problems) | set(medians)
    names = {f.id: (f.name, f.jurisdiction_code) for f in
             session.execute(select(TaskForce).where(TaskForce.id.in_(sorted(ids)))).scalars()} if ids else {}
    return _ranked(ids, names, tasks, problems, medians)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _aggregate(session: Session, stmt: Any) -> list[Any]:
    return list(session.execute(stmt.execution_options(**{AGGREGATE_OPTION: True})).all())


def _under(column: Any, under: str | None) -> list[ColumnElement[bool]]:
    # A code range rather than LIKE, so that the index's code column serves it on SQLite too.
    if not under:
        return []
    low, high = prefix_range(under)
    return [column >= low, column < high]


def _has_group(group: Any) -> ColumnElement[bool]:
    # "> 0" rather than "IS NOT NULL" (ids are positive): a range on the group's index, which SQLite,
    # having no statistics, then prefers to the scope's code range, and reads the covering index in
    # the group's order instead of looking up every row of the jurisdiction and sorting them.
    return group > 0


def _task_figures(session: Session, group: Any, under: str | None, now: datetime) -> dict[int, tuple[int, ...]]:
    done = Task.status == TaskStatus.DONE
    on_time = and_(done, or_(Task.due_at.is_(None), Task.done_at <= Task.due_at))
    late = and_(done, Task.done_at > Task.due_at)
    overdue = and_(Task.status.in_(list(OPEN_TASK_STATUSES)), Task.due_at < now)
    stmt = (select(group, func.count(), _count_if(on_time), _count_if(late), _count_if(overdue))
            .where(_has_group(group), Task.status != TaskStatus.CANCELLED, *_under(Task.jurisdiction_code, under))
            .group_by(group))
    return {row[0]: tuple(int(v) for v in row[1:]) for row in _aggregate(session, stmt)}


def _problem_figures(session: Session, group: Any, under: str | None) -> dict[int, tuple[int, ...]]:
    stmt = (select(group, func.count(), _count_if(Problem.status == ProblemStatus.CLOSED))
            .where(_has_group(group), *_under(Problem.jurisdiction_code, under)).group_by(group))
    return {row[0]: (int(row[1]), int(row[2])) for row in _aggregate(session, stmt)}


def _medians(session: Session, group: Any, under: str | None, *, join_problem: bool) -> dict[int, float]:
    """The median of ``seconds_to_verified`` per group, in hours: the middle row (or the two middle rows'
    mean) of each group by a window's row number, so both databases compute it alike."""
    seconds = Measure.seconds_to_verified
    inner = select(group.label("g"), seconds.label("s"),
                   func.row_number().over(partition_by=group, order_by=seconds).label("rn"),
                   func.count().over(partition_by=group).label("n"))
    if join_problem:
        inner = inner.join(Problem, Problem.id == Measure.problem_id)
    inner_q = inner.where(group.is_not(None), Measure.status == MeasureStatus.VERIFIED, seconds.is_not(None),
                          *_under(Measure.jurisdiction_code, under)).subquery()
    middle = or_(inner_q.c.rn == (inner_q.c.n + 1) // 2, inner_q.c.rn == (inner_q.c.n + 2) // 2)
    stmt = select(inner_q.c.g, func.avg(inner_q.c.s)).where(middle).group_by(inner_q.c.g)
    return {row[0]: float(row[1]) / 3600 for row in _aggregate(session, stmt)}


def _ranked(ids: Iterable[int], names: dict[int, tuple[str, str]], tasks: dict[int, tuple[int, ...]],
            problems: dict[int, tuple[int, ...]], medians: dict[int, float]) -> list[Score]:
    scores = []
    for i in ids:
        name, code = names.get(i, ("", ""))
        t = tasks.get(i, (0, 0, 0, 0))
        p = problems.get(i, (0, 0))
        scores.append(Score(id=i, name=name, jurisdiction_code=code, tasks=t[0], done_on_time=t[1], done_late=t[2],
                            overdue=t[3], problems=p[0], problems_closed=p[1],
                            median_hours_to_verified=medians.get(i)))
    return _rank(scores, Score.sort_key)


def _rank(scores: list[Score], key: Callable[[Score], Any]) -> list[Score]:
    """Sort best first and number the ranks, equal figures sharing one (1, 2, 2, 4)."""
    ordered = sorted(scores, key=lambda s: (key(s), s.name, s.id))
    ranked: list[Score] = []
    for position, score in enumerate(ordered, start=1):
        same = ranked and key(ranked[-1]) == key(score)
        ranked.append(replace(score, rank=ranked[-1].rank if same else position))
    return ranked
