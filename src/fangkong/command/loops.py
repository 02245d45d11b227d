"""The closed loops (闭环) as live counts per state, for the flow charts (流程图) and the overview.

One function per loop the system has built: the testing pool loop, tracing, the command work loop and
the problem loop. Each counts, in a handful of grouped statements, how many items stand in each state
over what the user may count (``aggregates:read``: figures, never an item), scoped like every query
through ``core.scope``: a district counts its own and its communities' work, never a neighbour's.
``under`` narrows the count to a jurisdiction subtree.

A ``Loop`` is drawn as a graph: its ``stages`` are the nodes, in the order an item passes them, and
``edges`` join them (an edge may branch: a task is done, or it runs overdue).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from fangkong.command.models import (
    OPEN_TASK_STATUSES,
    Measure,
    MeasureStatus,
    Problem,
    ProblemStatus,
    Rectification,
    RectificationStatus,
    Task,
    TaskStatus,
)
from fangkong.core.db import utcnow
from fangkong.core.errors import N_
from fangkong.core.scope import AGGREGATE_OPTION


@dataclass(frozen=True)
class Stage:
    """One state of a loop and how many items stand in it; ``alarm`` marks a state that means trouble."""

    key: str
    label: str  # an msgid
    count: int
    alarm: bool = False
    href: str | None = None  # the list behind the number, where there is one


@dataclass(frozen=True)
class Loop:
    """A loop's states in order, and the edges an item moves along (stage keys)."""

    key: str
    title: str  # an msgid
    stages: tuple[Stage, ...]
    edges: tuple[tuple[str, str], ...] = field(default=())

    def count(self, key: str) -> int:
        """The count of the stage ``key``."""
        return next(s.count for s in self.stages if s.key == key)


def _counts(session: Session, stmt: Select[Any]) -> tuple[int, ...]:
    """One aggregate row, counted over what the principal may count."""
    row = session.execute(stmt.execution_options(**{AGGREGATE_OPTION: True})).one()
    return tuple(int(v or 0) for v in row)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _under(column: Any, under: str | None) -> list[ColumnElement[bool]]:
    return [column.startswith(under, autoescape=True)] if under else []


# ----------------------------------------------------------------------------------------------- testing


def testing_loop(session: Session, *, under: str | None = None, now: datetime | None = None) -> Loop:
    """The testing pool loop (应检尽检): tubes sampled → results back → positive pools → members under
    temporary control → re-sampled single-tube → released or reported positive; over every round."""
    from fangkong.testing.models import (
        Control,
        ControlState,
        OrderKind,
        OrderMember,
        Outcome,
        Purpose,
        ResampleOrder,
        Tube,
        TubeResult,
    )

    now = now or utcnow()
    tubes, with_result, positive_pools = _counts(session, select(
        func.count(Tube.id), func.count(TubeResult.tube_id),
        _count_if(and_(Tube.pool_size > 1, TubeResult.outcome.in_([Outcome.POSITIVE, Outcome.INCONCLUSIVE]))))
        .select_from(Tube).outerjoin(TubeResult, TubeResult.tube_id == Tube.id)
        .where(Tube.purpose == Purpose.SCREENING, *_under(Tube.jurisdiction_code, under)))
    controlled, still, released, positive = _counts(session, select(
        func.count(), _count_if(Control.state == ControlState.CONTROLLED),
        _count_if(Control.state == ControlState.RELEASED), _count_if(Control.state == ControlState.CASE))
        .select_from(Control).where(*_under(Control.jurisdiction_code, under)))
    (resampled,) = _counts(session, select(func.count()).select_from(OrderMember)
                           .join(ResampleOrder, ResampleOrder.id == OrderMember.order_id)
                           .where(ResampleOrder.kind == OrderKind.RETEST, OrderMember.sample_id.is_not(None),
                                  *_under(OrderMember.jurisdiction_code, under)))
    (late_orders,) = _counts(session, select(func.count()).select_from(ResampleOrder).where(
        ResampleOrder.done_at.is_(None), ResampleOrder.due_at < now, *_under(ResampleOrder.jurisdiction_code, under)))
    return Loop("testing", N_("Testing: pooled samples"), (
        Stage("sampled", N_("Tubes sampled"), tubes, href="/testing"),
        Stage("resulted", N_("Results back"), with_result),
        Stage("positive_pools", N_("Positive pools"), positive_pools, alarm=positive_pools > 0),
        Stage("controlled", N_("Members put under control"), controlled),
        Stage("resampled", N_("Re-sampled single-tube"), resampled),
        Stage("still_controlled", N_("Still under control"), still),
        Stage("released", N_("Released"), released),
        Stage("positive", N_("Reported positive"), positive, alarm=positive > 0),
        Stage("late_orders", N_("Re-sampling orders overdue"), late_orders, alarm=late_orders > 0),
    ), edges=(("sampled", "resulted"), ("resulted", "positive_pools"), ("positive_pools", "controlled"),
              ("controlled", "resampled"), ("controlled", "still_controlled"), ("resampled", "released"),
              ("resampled", "positive"), ("controlled", "late_orders")))


# ----------------------------------------------------------------------------------------------- tracing


def tracing_loop(session: Session, *, under: str | None = None, now: datetime | None = None) -> Loop:
    """The tracing loop (流调溯源): cases → investigated → contacts found → under control."""
    from fangkong.tracing.models import Case, Contact, ContactState, Investigation

    now = now or utcnow()
    (cases,) = _counts(session, select(func.count()).select_from(Case).where(*_under(Case.jurisdiction_code, under)))
    core, investigated, late_investigations = _counts(session, select(
        _count_if(Investigation.core_done_at.is_not(None)), _count_if(Investigation.report_done_at.is_not(None)),
        _count_if(or_(and_(Investigation.core_done_at.is_(None), Investigation.core_due_at < now),
                      and_(Investigation.report_done_at.is_(None), Investigation.report_due_at < now))))
        .select_from(Investigation).where(*_under(Investigation.jurisdiction_code, under)))
    contacts, controlled, late_contacts = _counts(session, select(
        func.count(), _count_if(Contact.state != ContactState.TO_CONTROL),
        _count_if(and_(Contact.state == ContactState.TO_CONTROL, Contact.due_at < now)))
        .select_from(Contact).where(*_under(Contact.jurisdiction_code, under)))
    return Loop("tracing", N_("Tracing: cases and contacts"), (
        Stage("cases", N_("Cases reported"), cases, href="/tracing"),
        Stage("core", N_("Core information in"), core),
        Stage("investigated", N_("Investigated (report complete)"), investigated),
        Stage("late_investigations", N_("Overdue investigations"), late_investigations,
              alarm=late_investigations > 0, href="/tracing?overdue=1"),
        Stage("contacts", N_("Contacts found"), contacts, href="/tracing/contacts"),
        Stage("under_control", N_("Under control"), controlled),
        Stage("late_contacts", N_("Contacts overdue for control"), late_contacts, alarm=late_contacts > 0),
    ), edges=(("cases", "core"), ("core", "investigated"), ("cases", "late_investigations"),
              ("investigated", "contacts"), ("contacts", "under_control"), ("contacts", "late_contacts")))


# ----------------------------------------------------------------------------------------------- command


@dataclass(frozen=True)
class WorkFigures:
    """The work loop's figures of one area: tasks and problems."""

    tasks: int = 0  # not counting drafts and cancelled ones
    on_schedule: int = 0  # open, deadline not passed
    done_on_time: int = 0
    done_late: int = 0
    overdue: int = 0  # open past the deadline
    problems_open: int = 0  # open or being rectified
    problems_closed: int = 0


def _task_columns(now: datetime) -> list[Any]:
    is_open = Task.status.in_(list(OPEN_TASK_STATUSES))
    late_now = and_(is_open, Task.due_at < now)
    done = Task.status == TaskStatus.DONE
    return [
        _count_if(Task.status.not_in([TaskStatus.DRAFT, TaskStatus.CANCELLED])),
        _count_if(and_(is_open, or_(Task.due_at.is_(None), Task.due_at >= now))),
        _count_if(and_(done, or_(Task.due_at.is_(None), Task.done_at <= Task.due_at))),
        _count_if(and_(done, Task.done_at > Task.due_at)),
        _count_if(late_now),
    ]


def _problem_columns() -> list[Any]:
    return [_count_if(Problem.status != ProblemStatus.CLOSED), _count_if(Problem.status == ProblemStatus.CLOSED)]


def work_figures(session: Session, *, under: str | None = None, now: datetime | None = None) -> WorkFigures:
    """Tasks on time and overdue, problems open and closed, over what the principal may count."""
    now = now or utcnow()
    tasks = _counts(session, select(*_task_columns(now)).select_from(Task)
                    .where(*_under(Task.jurisdiction_code, under)))
    problems = _counts(session, select(*_problem_columns()).select_from(Problem)
                       .where(*_under(Problem.jurisdiction_code, under)))
    return WorkFigures(*tasks, *problems)


def work_outside(total: WorkFigures, parts: list[WorkFigures]) -> WorkFigures | None:
    """What of ``total`` lies in none of ``parts`` (areas that do not overlap), or None when nothing does."""
    rest = WorkFigures(*(getattr(total, f.name) - sum(getattr(p, f.name) for p in parts) for f in fields(WorkFigures)))
    return rest if any(astuple(rest)) else None


def work_by_area(session: Session, codes: list[str], *, now: datetime | None = None) -> dict[str, WorkFigures]:
    """``work_figures`` for each of ``codes`` (areas of any level), grouped in SQL: one statement per table
    and code length, not per area."""
    now = now or utcnow()
    tasks: dict[str, tuple[int, ...]] = {}
    problems: dict[str, tuple[int, ...]] = {}
    for length in sorted({len(c) for c in codes}):
        wanted = sorted(c for c in codes if len(c) == length)
        for model, columns, into in ((Task, _task_columns(now), tasks), (Problem, _problem_columns(), problems)):
            # Literal bounds: the same expression in SELECT and GROUP BY, which PostgreSQL requires.
            area = func.substr(model.jurisdiction_code, literal_column("1"), literal_column(str(length)))
            stmt = (select(area, *columns).where(area.in_(wanted)).group_by(area)
                    .execution_options(**{AGGREGATE_OPTION: True}))
            for row in session.execute(stmt):
                into[row[0]] = tuple(int(v or 0) for v in row[1:])
    return {c: WorkFigures(*tasks.get(c, (0,) * 5), *problems.get(c, (0, 0))) for c in codes}


def work_loop(session: Session, *, under: str | None = None, now: datetime | None = None) -> Loop:
    """The command work loop (五化): tasks assigned → in progress → done, on time or late, or overdue."""
    now = now or utcnow()
    # A task open past its deadline that the clock has not swept yet is overdue all the same: every task
    # stands in exactly one stage.
    in_time = or_(Task.due_at.is_(None), Task.due_at >= now)
    late = or_(Task.status == TaskStatus.OVERDUE,
               and_(Task.status.in_([TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS]), Task.due_at < now))
    assigned, in_progress, overdue, done_on_time, done_late = _counts(session, select(
        _count_if(and_(Task.status == TaskStatus.ASSIGNED, in_time)),
        _count_if(and_(Task.status == TaskStatus.IN_PROGRESS, in_time)), _count_if(late),
        _count_if(and_(Task.status == TaskStatus.DONE, or_(Task.due_at.is_(None), Task.done_at <= Task.due_at))),
        _count_if(and_(Task.status == TaskStatus.DONE, Task.done_at > Task.due_at)))
        .select_from(Task).where(*_under(Task.jurisdiction_code, under)))
    return Loop("work", N_("Command work: tasks"), (
        Stage("assigned", N_("Assigned"), assigned),
        Stage("in_progress", N_("In progress"), in_progress),
        Stage("done_on_time", N_("Done on time"), done_on_time),
        Stage("overdue", N_("Overdue"), overdue, alarm=overdue > 0),
        Stage("done_late", N_("Done late"), done_late),
    ), edges=(("assigned", "in_progress"), ("in_progress", "done_on_time"), ("assigned", "overdue"),
              ("in_progress", "overdue"), ("overdue", "done_late")))


def problem_loop(session: Session, *, under: str | None = None, now: datetime | None = None) -> Loop:
    """The problem loop: problems → measures → rectifications → verified → closed."""
    now = now or utcnow()
    problems, open_, rectifying, closed = _counts(session, select(
        func.count(), _count_if(Problem.status == ProblemStatus.OPEN),
        _count_if(Problem.status == ProblemStatus.RECTIFYING), _count_if(Problem.status == ProblemStatus.CLOSED))
        .select_from(Problem).where(*_under(Problem.jurisdiction_code, under)))
    measures, measures_overdue, verified = _counts(session, select(
        func.count(), _count_if(or_(Measure.status == MeasureStatus.OVERDUE,
                                    and_(Measure.status == MeasureStatus.OPEN, Measure.due_at < now))),
        _count_if(Measure.status == MeasureStatus.VERIFIED))
        .select_from(Measure).where(*_under(Measure.jurisdiction_code, under)))
    rectifications, waiting, rejected = _counts(session, select(
        func.count(), _count_if(Rectification.status == RectificationStatus.SUBMITTED),
        _count_if(Rectification.status == RectificationStatus.REJECTED))
        .select_from(Rectification).where(*_under(Rectification.jurisdiction_code, under)))
    return Loop("problems", N_("Problems: measures and rectifications"), (
        Stage("problems", N_("Problems found"), problems),
        Stage("open", N_("No measure yet"), open_, alarm=open_ > 0),
        Stage("measures", N_("Measures"), measures),
        Stage("measures_overdue", N_("Measures overdue"), measures_overdue, alarm=measures_overdue > 0),
        Stage("rectifications", N_("Rectifications submitted"), rectifications),
        Stage("awaiting", N_("Awaiting verification"), waiting),
        Stage("rejected", N_("Failed verification"), rejected),
        Stage("verified", N_("Measures verified"), verified),
        Stage("rectifying", N_("Problems being rectified"), rectifying),
        Stage("closed", N_("Problems closed"), closed),
    ), edges=(("problems", "open"), ("problems", "measures"), ("measures", "measures_overdue"),
              ("measures", "rectifications"), ("rectifications", "awaiting"), ("rectifications", "rejected"),
              ("rejected", "measures"), ("rectifications", "verified"), ("measures", "rectifying"),
              ("verified", "closed")))


# Every loop, in the order of DESIGN.md's table.
LOOPS: tuple[Callable[..., Loop], ...] = (testing_loop, tracing_loop, work_loop, problem_loop)


def all_loops(session: Session, *, under: str | None = None, now: datetime | None = None) -> list[Loop]:
    """Every built loop's counts over what the principal may count."""
    now = now or utcnow()
    return [loop(session, under=under, now=now) for loop in LOOPS]
