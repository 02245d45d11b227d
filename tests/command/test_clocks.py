"""Clocks and escalation: what runs out of time is overdue, escalated once to the superior level, and
resolved when it gets done after all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.command import clocks, inbox, problems, service
from fangkong.command.events import ItemEscalated
from fangkong.command.models import Escalation, ItemKind, MeasureStatus, TaskStatus
from fangkong.command.schemas import RectificationIn
from fangkong.core import events
from fangkong.core.errors import Forbidden, Invalid
from tests.command.conftest import (
    CITY,
    DC,
    XINZHAN,
    XINZHAN_STREET,
    ProblemMaker,
    TaskMaker,
    committee,
    hours,
)


@pytest.fixture
def escalated_events() -> Iterator[list[ItemEscalated]]:
    """The ``ItemEscalated`` events raised during the test."""
    seen: list[ItemEscalated] = []

    def collect(_session: Session, event: ItemEscalated) -> None:
        seen.append(event)

    events.subscribe(ItemEscalated)(collect)
    yield seen
    events.unsubscribe(ItemEscalated, collect)


def escalations_of(session: Session, kind: ItemKind, item_id: int) -> list[Escalation]:
    return list(session.execute(select(Escalation).where(Escalation.item_kind == kind,
                                                         Escalation.item_id == item_id)).scalars())


def test_the_superior_of_each_level() -> None:
    assert [clocks.superior(c) for c in (XINZHAN, XINZHAN_STREET, DC, CITY, "22")] == [
        XINZHAN_STREET, DC, CITY, "22", "22"]


def test_a_task_past_its_deadline_is_overdue_and_escalated_once(session: Session, as_user, make_task: TaskMaker,
                                                                escalated_events: list[ItemEscalated]) -> None:
    as_user("dongchang_worker")
    task = make_task(XINZHAN, unit=committee(session, XINZHAN), due=4)
    as_user("dongchang_commander")
    sweep = clocks.check(session, now=hours(3))
    assert task.status is TaskStatus.ASSIGNED and sweep.escalated[ItemKind.TASK] == 0
    clocks.check(session, now=hours(5))
    assert task.status is TaskStatus.OVERDUE and task.overdue_at == hours(5) and task.escalated_at == hours(5)
    [escalation] = escalations_of(session, ItemKind.TASK, task.id)
    assert (escalation.to_code, escalation.jurisdiction_code, escalation.due_at) == (XINZHAN_STREET, XINZHAN, hours(4))
    assert [(e.kind, e.item_id, e.to_code) for e in escalated_events] == [("task", task.id, XINZHAN_STREET)]
    again = clocks.check(session, now=hours(9))
    assert again.total_escalated == 0 and len(escalations_of(session, ItemKind.TASK, task.id)) == 1
    assert len(escalated_events) == 1


def test_the_superior_level_sees_the_escalation_on_its_dashboard(session: Session, as_user,
                                                                 make_task: TaskMaker) -> None:
    as_user("dongchang_worker")
    task = make_task(XINZHAN, assignee="dongchang_worker", due=4)
    clocks.check(session, now=hours(5))
    as_user("dongchang_commander")
    board = inbox.dashboard(session, XINZHAN_STREET, now=hours(6))
    assert [(e.item_kind, e.item_id) for e in board.escalated] == [(ItemKind.TASK, task.id)]
    assert board.overdue.tasks == 1 and board.tasks[TaskStatus.OVERDUE] == 1
    district = inbox.dashboard(session, DC, now=hours(6))
    assert district.escalated == [] and district.overdue.tasks == 1


def test_a_district_task_escalates_to_the_city_commander(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    task = make_task(DC, assignee="dongchang_commander", due=4)
    clocks.check(session, now=hours(5))
    as_user("city_commander")
    assert [e.item_id for e in inbox.inbox(session, now=hours(6)).escalated] == [task.id]
    as_user("dongchang_commander")
    box = inbox.inbox(session, now=hours(6))
    assert box.escalated == [] and [t.id for t in box.overdue_tasks] == [task.id]


def test_a_late_task_done_after_all_leaves_the_superior_s_list(session: Session, as_user,
                                                                make_task: TaskMaker) -> None:
    as_user("dongchang_worker")
    task = make_task(XINZHAN, assignee="dongchang_worker", due=4)
    clocks.check(session, now=hours(5))
    service.complete(session, task, outcome="完成", now=hours(7))
    assert task.status is TaskStatus.DONE and task.done_at > task.due_at
    [escalation] = escalations_of(session, ItemKind.TASK, task.id)
    assert escalation.resolved_at == hours(7)
    assert session.execute(clocks.escalations(to_code=XINZHAN_STREET)).first() is None


def test_only_the_level_above_sets_a_new_deadline(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_worker")
    task = make_task(XINZHAN, assignee="dongchang_worker", due=4)
    clocks.check(session, now=hours(5))
    with pytest.raises(Forbidden):
        service.reschedule(session, task, hours(30), now=hours(6))
    as_user("dongchang_commander")
    with pytest.raises(Invalid):
        service.reschedule(session, task, hours(5), now=hours(6))
    service.reschedule(session, task, hours(30), now=hours(6))
    assert task.status is TaskStatus.ASSIGNED and task.due_at == hours(30)
    clocks.check(session, now=hours(31))
    assert task.status is TaskStatus.OVERDUE
    assert len(escalations_of(session, ItemKind.TASK, task.id)) == 1  # escalated once, whatever happens later


def test_an_overdue_task_in_progress_goes_back_in_progress_when_rescheduled(session: Session, as_user,
                                                                            make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    task = make_task(XINZHAN, assignee="dongchang_worker", due=4)
    service.start(session, task, now=hours(1))
    clocks.check(session, now=hours(5))
    service.reschedule(session, task, hours(30), now=hours(6))
    assert task.status is TaskStatus.IN_PROGRESS


def test_drafts_and_finished_tasks_have_no_running_clock(session: Session, make_task: TaskMaker) -> None:
    draft = make_task(XINZHAN, due=4)
    done = make_task(XINZHAN, assignee="dongchang_worker", due=4)
    service.complete(session, done, outcome="x", now=hours(2))
    clocks.check(session, now=hours(10))
    assert (draft.status, done.status) == (TaskStatus.DRAFT, TaskStatus.DONE)
    assert draft.escalated_at is None and done.escalated_at is None


def test_measures_rectifications_and_problems_escalate_too(session: Session, as_user, make_problem: ProblemMaker,
                                                           make_measure) -> None:
    as_user("dongchang_commander")
    late_problem = make_problem(XINZHAN, due=10)
    measure = make_measure(late_problem, owner="dongchang_worker", due=4)
    other = make_measure(make_problem(XINZHAN, due=100), owner="dongchang_worker", due=50)
    as_user("dongchang_worker")
    rect = problems.submit_rectification(session, other, RectificationIn(evidence="x"), now=hours(1))  # verify by 25
    as_user("dongchang_commander")
    sweep = clocks.check(session, now=hours(30))
    assert sweep.measures_overdue == 1 and measure.status is MeasureStatus.OVERDUE
    assert sweep.escalated == {ItemKind.TASK: 0, ItemKind.MEASURE: 1, ItemKind.RECTIFICATION: 1, ItemKind.PROBLEM: 1}
    assert [e.to_code for e in escalations_of(session, ItemKind.RECTIFICATION, rect.id)] == [XINZHAN_STREET]
    assert clocks.check(session, now=hours(40)).total_escalated == 0
    problems.verify(session, rect, passed=True, now=hours(41))
    assert escalations_of(session, ItemKind.RECTIFICATION, rect.id)[0].resolved_at == hours(41)
    assert session.execute(select(func.count()).select_from(Escalation).where(
        Escalation.resolved_at.is_(None))).scalar_one() == 2


def test_a_measure_submitted_late_is_no_longer_overdue(session: Session, as_user, make_problem: ProblemMaker,
                                                       make_measure) -> None:
    measure = make_measure(make_problem(XINZHAN), owner="dongchang_worker", due=4)
    clocks.check(session, now=hours(5))
    as_user("dongchang_worker")
    problems.submit_rectification(session, measure, RectificationIn(evidence="x"), now=hours(6))
    assert measure.status is MeasureStatus.SUBMITTED
    assert escalations_of(session, ItemKind.MEASURE, measure.id)[0].resolved_at == hours(6)


def test_the_clock_job_runs_the_sweep(session: Session, make_task: TaskMaker) -> None:
    from fangkong.core import jobs

    task = make_task(XINZHAN, assignee="dongchang_worker", due=-1)  # due an hour before T0, hence long past
    context = jobs.JobContext(job_id=0, params={}, session=session, _engine=session.get_bind())
    result = clocks._check_job(context)
    assert result["escalated"]["task"] >= 1 and task.status is TaskStatus.OVERDUE
