"""The task loop: directives and plans, assignment, hand-down, progress reports, done, cancelled, rescheduled."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from fangkong.command import attachments, service
from fangkong.command.models import (
    TASK_TRANSITIONS,
    DirectiveStatus,
    OrgUnitKind,
    ResponsibilityRole,
    TaskOrigin,
    TaskStatus,
)
from fangkong.command.schemas import (
    AttachmentIn,
    DirectiveIn,
    HandDownIn,
    MilestoneIn,
    PartyIn,
    ProgressIn,
    ResponsibilityIn,
    TaskIn,
)
from fangkong.core.errors import Conflict, Forbidden, Invalid
from tests.command.conftest import DC, EDJ, T0, XINZHAN, XINZHAN_STREET, TaskMaker, committee, hours, user_id


def test_a_task_naming_no_one_stays_a_draft_until_assigned(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    task = make_task(DC)
    assert task.status is TaskStatus.DRAFT
    unit = committee(session, XINZHAN)
    service.assign(session, task, ResponsibilityIn(unit_id=unit.id), now=hours(1))
    assert task.status is TaskStatus.ASSIGNED
    assert task.assigned_at == hours(1)
    assert task.unit_id == unit.id


def test_a_task_needs_a_deadline_and_someone_to_be_assigned(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    task = make_task(DC, due=None)
    with pytest.raises(Invalid):
        service.assign(session, task, ResponsibilityIn())
    with pytest.raises(Invalid):
        service.assign(session, task, ResponsibilityIn(unit_id=committee(session, XINZHAN).id))
    service.assign(session, task, ResponsibilityIn(assignee=PartyIn(name="李主任")), due_at=hours(8), now=T0)
    assert task.status is TaskStatus.ASSIGNED and task.due_at == hours(8)


def test_the_responsibility_list_names_leaders_units_and_the_person(session: Session, as_user, make_unit) -> None:
    as_user("dongchang_commander")
    health = make_unit(DC, "东昌区卫健局")
    police = make_unit(DC, "东昌区公安分局")
    task = service.create_task(session, TaskIn(
        jurisdiction_code=DC, title="组织第三轮全员核酸检测", due_at=hours(48),
        responsibility=ResponsibilityIn(
            lead_leader=PartyIn(name="区委书记"),
            leader_in_charge=PartyIn(user_id=user_id(session, "dongchang_commander")),
            unit_id=health.id, co_unit_ids=[police.id, health.id],
            assignee=PartyIn(user_id=user_id(session, "dongchang_testing")))),
        now=T0)
    roles = [(r.role, r.unit_id, r.name) for r in task.responsibilities]
    assert roles == [
        (ResponsibilityRole.LEAD_LEADER, None, "区委书记"),
        (ResponsibilityRole.LEADER_IN_CHARGE, None, ""),
        (ResponsibilityRole.RESPONSIBLE_UNIT, health.id, ""),
        (ResponsibilityRole.CO_UNIT, police.id, ""),
        (ResponsibilityRole.ASSIGNEE, None, ""),
    ]
    assert all(r.jurisdiction_code == DC for r in task.responsibilities)
    assert task.status is TaskStatus.ASSIGNED


def test_assigning_to_an_unknown_user_is_refused(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    task = make_task(DC)
    with pytest.raises(Invalid):
        service.assign(session, task, ResponsibilityIn(assignee=PartyIn(user_id=987654)))


def test_a_directive_s_tasks_are_assigned_when_it_is_issued(session: Session, as_user) -> None:
    as_user("dongchang_commander")
    directive = service.create_directive(session, DirectiveIn(jurisdiction_code=DC, title="关于第三轮核酸检测的指令"))
    unit = committee(session, XINZHAN)
    planned = service.create_task(session, TaskIn(
        jurisdiction_code=XINZHAN, title="组织居民分时段采样", directive_id=directive.id, due_at=hours(24),
        responsibility=ResponsibilityIn(unit_id=unit.id)), now=T0)
    unassigned = service.create_task(session, TaskIn(
        jurisdiction_code=DC, title="协调采样人员", directive_id=directive.id, due_at=hours(24)), now=T0)
    assert planned.status is TaskStatus.DRAFT and planned.origin is TaskOrigin.DIRECTIVE
    service.issue_directive(session, directive, now=hours(1))
    assert directive.status is DirectiveStatus.ISSUED and directive.issued_at == hours(1)
    assert planned.status is TaskStatus.ASSIGNED
    assert unassigned.status is TaskStatus.DRAFT
    with pytest.raises(Conflict):
        service.issue_directive(session, directive)
    with pytest.raises(Conflict):
        service.close_directive(session, directive)
    service.cancel(session, unassigned, reason="并入其他任务", now=hours(2))
    service.complete(session, planned, outcome="已完成", now=hours(3))
    assert service.close_directive(session, directive).status is DirectiveStatus.CLOSED


def test_only_commanders_issue_directives(session: Session, as_user) -> None:
    as_user("dongchang_worker")
    with pytest.raises(Forbidden):
        service.create_directive(session, DirectiveIn(jurisdiction_code=XINZHAN, title="指令"))
    as_user("dongchang_commander")
    with pytest.raises(Forbidden):
        service.create_directive(session, DirectiveIn(jurisdiction_code=EDJ, title="指令"))


def test_the_loop_assigned_in_progress_done(session: Session, as_user, make_task: TaskMaker, files_root: Path) -> None:
    as_user("dongchang_worker")
    task = make_task(XINZHAN, unit=committee(session, XINZHAN))
    assert task.status is TaskStatus.ASSIGNED
    report = service.report_progress(session, task, ProgressIn(text="已完成3栋楼的摸排", percent=40),
                                     files=[AttachmentIn(filename="名单.xlsx", data=b"rows")], now=hours(2),
                                     root=files_root)
    assert task.status is TaskStatus.IN_PROGRESS and task.started_at == hours(2) and task.progress == 40
    assert report.author_id == user_id(session, "dongchang_worker")
    [attachment] = report.attachments
    assert attachment.filename == "名单.xlsx" and attachment.size == 4
    assert attachments.open_file(attachment, root=files_root).read_bytes() == b"rows"
    service.complete(session, task, outcome="全部摸排完毕", now=hours(20))
    assert task.status is TaskStatus.DONE and task.done_at == hours(20) and task.progress == 100
    assert [r.is_final for r in task.reports] == [False, True]
    with pytest.raises(Conflict):
        service.report_progress(session, task, ProgressIn(text="补充"))
    with pytest.raises(Conflict):
        service.complete(session, task, outcome="again")


def test_start_moves_an_assigned_task_in_progress_and_nothing_else(session: Session, as_user,
                                                                   make_task: TaskMaker) -> None:
    as_user("dongchang_worker")
    draft = make_task(XINZHAN)
    with pytest.raises(Conflict):
        service.start(session, draft)
    task = make_task(XINZHAN, assignee="dongchang_worker")
    service.start(session, task, now=hours(1))
    assert task.status is TaskStatus.IN_PROGRESS
    with pytest.raises(Conflict):
        service.start(session, task)


def test_a_draft_cannot_be_reported_on_or_completed(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_worker")
    draft = make_task(XINZHAN)
    with pytest.raises(Conflict):
        service.report_progress(session, draft, ProgressIn(text="x"))
    with pytest.raises(Conflict):
        service.complete(session, draft, outcome="x")


def test_a_report_says_something_and_files_are_kept_once(session: Session, as_user, make_task: TaskMaker,
                                                        files_root: Path) -> None:
    as_user("dongchang_worker")
    task = make_task(XINZHAN, assignee="dongchang_worker")
    with pytest.raises(Invalid):
        service.report_progress(session, task, ProgressIn(text="  "))
    with pytest.raises(Invalid):
        service.report_progress(session, task, ProgressIn(text="x"), files=[AttachmentIn(filename="a", data=b"")],
                                root=files_root)
    one = AttachmentIn(filename="照片.jpg", content_type="image/jpeg", data=b"\xff\xd8same")
    service.report_progress(session, task, ProgressIn(text="a"), files=[one], now=hours(1), root=files_root)
    service.report_progress(session, task, ProgressIn(text="b"), files=[one], now=hours(2), root=files_root)
    rows = [a for r in task.reports for a in r.attachments]
    assert len(rows) == 2 and rows[0].path == rows[1].path
    assert len(list(files_root.rglob("*"))) == 4  # command/attachments/<xx>/<sha>: one file


def test_every_transition_outside_the_loop_is_refused() -> None:
    assert TASK_TRANSITIONS[TaskStatus.DONE] == frozenset()
    assert TASK_TRANSITIONS[TaskStatus.CANCELLED] == frozenset()
    assert TaskStatus.DONE not in TASK_TRANSITIONS[TaskStatus.DRAFT]
    assert TaskStatus.OVERDUE not in TASK_TRANSITIONS[TaskStatus.DRAFT]


def test_a_task_is_handed_down_and_stays_linked_to_its_parent(session: Session, as_user,
                                                              make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    parent = make_task(DC, assignee="dongchang_commander", due=48)
    street = service.hand_down(session, parent, HandDownIn(jurisdiction_code=XINZHAN_STREET), now=hours(1))
    assert parent.status is TaskStatus.IN_PROGRESS
    assert street.parent_id == parent.id and street.origin is TaskOrigin.HANDED_DOWN
    assert (street.title, street.due_at, street.status) == (parent.title, parent.due_at, TaskStatus.DRAFT)
    with pytest.raises(Conflict):  # a level takes a task on before it hands it further down
        service.hand_down(session, street, HandDownIn(jurisdiction_code=XINZHAN))
    service.assign(session, street, ResponsibilityIn(assignee=PartyIn(name="新站街道办主任")), now=hours(1))
    community = service.hand_down(session, street, HandDownIn(
        jurisdiction_code=XINZHAN, due_at=hours(24),
        responsibility=ResponsibilityIn(unit_id=committee(session, XINZHAN).id)), now=hours(1))
    assert community.parent_id == street.id and community.status is TaskStatus.ASSIGNED
    assert [t.id for t in parent.children] == [street.id]


def test_a_task_is_handed_down_only_below_and_no_later_than_its_parent(session: Session, as_user,
                                                                       make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    parent = make_task(XINZHAN_STREET, assignee="dongchang_commander", due=24)
    for code in (XINZHAN_STREET, DC, "220502002001"):
        with pytest.raises(Invalid):
            service.hand_down(session, parent, HandDownIn(jurisdiction_code=code))
    with pytest.raises(Invalid):
        service.hand_down(session, parent, HandDownIn(jurisdiction_code=XINZHAN, due_at=hours(30)))


def test_a_task_is_done_only_when_its_sub_tasks_are(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    parent = make_task(DC, assignee="dongchang_commander")
    child = service.hand_down(session, parent, HandDownIn(
        jurisdiction_code=XINZHAN, responsibility=ResponsibilityIn(unit_id=committee(session, XINZHAN).id)),
        now=T0)
    with pytest.raises(Conflict):
        service.complete(session, parent, outcome="完成")
    service.complete(session, child, outcome="社区已完成", now=hours(5))
    service.complete(session, parent, outcome="完成", now=hours(6))
    assert parent.status is TaskStatus.DONE


def test_cancelling_a_task_cancels_its_open_sub_tasks(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    parent = make_task(DC, assignee="dongchang_commander")
    child = service.hand_down(session, parent, HandDownIn(jurisdiction_code=XINZHAN), now=T0)
    with pytest.raises(Invalid):
        service.cancel(session, parent, reason=" ")
    service.cancel(session, parent, reason="疫情形势变化", now=hours(1))
    assert (parent.status, child.status) == (TaskStatus.CANCELLED, TaskStatus.CANCELLED)
    assert parent.cancelled_at == hours(1)


def test_milestones_fall_within_the_deadline(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_worker")
    task = make_task(XINZHAN, assignee="dongchang_worker", due=24)
    with pytest.raises(Invalid):
        service.add_milestone(session, task, MilestoneIn(title="完成", due_at=hours(25)))
    milestone = service.add_milestone(session, task, MilestoneIn(title="完成一半楼栋", due_at=hours(12)))
    service.reach_milestone(session, milestone, now=hours(10))
    assert milestone.reached_at == hours(10)
    with pytest.raises(Conflict):
        service.reach_milestone(session, milestone)


def test_the_plan_of_a_directive_is_its_task_tree(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_commander")
    directive = service.create_directive(session, DirectiveIn(jurisdiction_code=DC, title="总施工图"))
    root = service.create_task(session, TaskIn(jurisdiction_code=DC, title="总任务", directive_id=directive.id,
                                               due_at=hours(48), responsibility=ResponsibilityIn(
                                                   assignee=PartyIn(name="王局长"))), now=T0)
    service.issue_directive(session, directive, now=T0)
    street = service.hand_down(session, root, HandDownIn(jurisdiction_code=XINZHAN_STREET, responsibility=
                                                         ResponsibilityIn(assignee=PartyIn(name="街道"))), now=T0)
    community = service.hand_down(session, street, HandDownIn(jurisdiction_code=XINZHAN), now=T0)
    other = service.create_task(session, TaskIn(jurisdiction_code=DC, title="另一项", directive_id=directive.id),
                                now=T0)
    assert [(d, t.id) for d, t in service.plan(session, directive)] == [
        (0, root.id), (1, street.id), (2, community.id), (0, other.id)]
    as_user("dongchang_worker")
    # The community's sub-plan (分施工图): its own part of the directive, rooted where it begins.
    assert [(d, t.id) for d, t in service.plan(session, directive)] == [(0, community.id)]
    assert community.directive_id == directive.id


def test_a_community_worker_writes_no_directive_tasks_of_the_district(session: Session, as_user) -> None:
    as_user("dongchang_worker")
    with pytest.raises(Forbidden):
        service.create_task(session, TaskIn(jurisdiction_code=DC, title="区级任务"))


def test_units_are_set_up_by_commanders(session: Session, as_user) -> None:
    from fangkong.command import organisation
    from fangkong.command.schemas import OrgUnitIn

    as_user("dongchang_worker")
    with pytest.raises(Forbidden):
        organisation.create_unit(session, OrgUnitIn(jurisdiction_code=XINZHAN, name="x", kind=OrgUnitKind.OTHER))
    as_user("dongchang_commander")
    unit = organisation.create_unit(session, OrgUnitIn(jurisdiction_code=DC, name="东昌区商务局",
                                                       kind=OrgUnitKind.DEPARTMENT,
                                                       member_user_ids=[user_id(session, "dongchang_worker")]))
    assert [m.user_id for m in unit.members] == [user_id(session, "dongchang_worker")]
    with pytest.raises(Conflict):
        organisation.add_unit_member(session, unit, user_id(session, "dongchang_worker"))
