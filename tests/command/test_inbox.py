"""The inbox and the daily digest: what is assigned to me and my units, what I may verify, what is
overdue or escalated under me."""

from __future__ import annotations

from sqlalchemy.orm import Session

from fangkong.command import clocks, inbox, problems, service
from fangkong.command.models import OrgUnitKind
from fangkong.command.schemas import PartyIn, RectificationIn, ResponsibilityIn, TaskIn
from fangkong.core.scope import principal_of
from tests.command.conftest import DC, T0, XINZHAN, ProblemMaker, TaskMaker, committee, hours, user_id


def test_the_inbox_holds_my_tasks_my_unit_s_and_what_i_may_verify(session: Session, as_user, make_unit,
                                                                   make_task: TaskMaker, make_problem: ProblemMaker,
                                                                   make_measure) -> None:
    health = make_unit(DC, "东昌区卫健局", OrgUnitKind.DEPARTMENT, "dongchang_tracer")
    police = make_unit(DC, "东昌区公安分局")
    as_user("dongchang_commander")
    mine = make_task(DC, assignee="dongchang_tracer", due=5, title="我的任务")
    ours = make_task(DC, unit=health, due=3, title="本单位任务")
    helping = service.create_task(session, TaskIn(
        jurisdiction_code=DC, title="配合任务", due_at=hours(8),
        responsibility=ResponsibilityIn(unit_id=police.id, co_unit_ids=[health.id])), now=T0)
    others = make_task(DC, unit=police, title="别人的任务")
    done = make_task(DC, assignee="dongchang_tracer", title="已完成")
    service.complete(session, done, outcome="x", now=hours(1))
    measure = make_measure(make_problem(DC), unit=health)
    worker_measure = make_measure(make_problem(XINZHAN), owner="dongchang_worker")

    as_user("dongchang_worker")
    rect = problems.submit_rectification(session, worker_measure, RectificationIn(evidence="x"), now=hours(1))
    assert inbox.inbox(session, now=hours(2)).to_verify == []  # not their own

    as_user("dongchang_tracer")
    box = inbox.inbox(session, now=hours(4))
    assert [t.id for t in box.my_tasks] == [mine.id]
    assert [t.id for t in box.unit_tasks] == [ours.id, helping.id]
    assert others not in box.unit_tasks
    assert [m.id for m in box.measures] == [measure.id]
    assert [r.id for r in box.to_verify] == [rect.id]
    assert [t.id for t in box.overdue_tasks] == [ours.id]
    assert box.overdue.tasks == 1


def test_a_leader_named_on_a_task_finds_it_in_the_inbox(session: Session, as_user) -> None:
    as_user("dongchang_commander")
    task = service.create_task(session, TaskIn(
        jurisdiction_code=XINZHAN, title="督导社区封控", due_at=hours(24),
        responsibility=ResponsibilityIn(leader_in_charge=PartyIn(user_id=user_id(session, "dongchang_commander")),
                                        unit_id=committee(session, XINZHAN).id)), now=T0)
    assert [t.id for t in inbox.inbox(session, now=T0).my_tasks] == [task.id]
    as_user("dongchang_worker")  # works for the community committee
    assert [t.id for t in inbox.inbox(session, now=T0).unit_tasks] == [task.id]


def test_the_digest_tells_a_user_their_day(session: Session, as_user, make_task: TaskMaker,
                                           make_problem: ProblemMaker) -> None:
    as_user("dongchang_commander")
    unit = committee(session, XINZHAN)
    soon = make_task(XINZHAN, unit=unit, due=30, title="明日到期")
    late = make_task(XINZHAN, unit=unit, due=2, title="已超期")
    make_task(XINZHAN, unit=unit, due=100, title="不急")
    make_problem(XINZHAN)
    clocks.check(session, now=hours(10))
    worker = user_id(session, "dongchang_worker")
    digest = inbox.digest(session, worker, now=hours(10))
    assert principal_of(session).username == "dongchang_commander"  # the caller's principal is back
    assert {line.item_id for line in digest.new_assigned} >= {soon.id, late.id}
    assert [line.item_id for line in digest.due_soon] == [soon.id]
    assert [line.item_id for line in digest.overdue_mine] == [late.id]
    assert digest.overdue_under_me.tasks == 1 and digest.problems_opened == 1
    assert not digest.is_empty
    district = inbox.digest(session, user_id(session, "dongchang_commander"), now=hours(10))
    assert district.escalated_to_me == 0  # the community's task went to the street
    assert inbox.digest(session, user_id(session, "erdaojiang_worker"), now=hours(10)).is_empty
