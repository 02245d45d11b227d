"""Templates: a new local case and a positive pool, as the testing and tracing modules emit them, make a
standard set of tasks, assigned by jurisdiction and task force, once per event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.command import standards, task_templates
from fangkong.command.models import ResponsibilityRole, Task, TaskOrigin, TaskStatus, TemplateRun
from fangkong.core import events
from fangkong.core.errors import N_
from fangkong.core.events import EventRecord
from fangkong.core.scope import system_access
from fangkong.testing.events import PoolPositive
from fangkong.tracing.events import CaseReported
from tests.command.conftest import CITY, DC, DONGTONGHUA, EDJ, T0, XINZHAN, committee, task_force
from tests.tracing.conftest import make_case, residents  # noqa: F401  (a fixture of the tracing tests)


def tasks_of(session: Session, source_key: str) -> dict[str, Task]:
    found = session.execute(select(Task).where(Task.source_key == source_key)).scalars().all()
    return {t.template_key.split("/")[1]: t for t in found if t.template_key}


def roles(task: Task) -> dict[ResponsibilityRole, int | None]:
    return {r.role: r.unit_id for r in task.responsibilities if r.unit_id is not None}


def test_a_new_local_case_makes_the_standard_tasks(session: Session) -> None:
    events.emit(session, CaseReported(jurisdiction_code=XINZHAN, case_id=990001, reported_at=T0))
    made = tasks_of(session, "tracing.case_reported:case:990001")
    template = next(t for t in standards.load().templates if t.key == "new-local-case")
    assert set(made) == {t.key for t in template.tasks}
    for spec in template.tasks:
        task = made[spec.key]
        assert task.origin is TaskOrigin.TEMPLATE and task.status is TaskStatus.ASSIGNED
        assert task.title == spec.title and task.title_is_msgid
        assert task.starts_at == T0 and task.due_at == T0 + timedelta(hours=spec.due_hours)
    assert {k: t.jurisdiction_code for k, t in made.items()} == {
        "core-information": DC, "investigation-report": DC, "transfer-case": DC, "control-contacts": DC,
        "seal-residence": XINZHAN, "test-compound": XINZHAN, "supply-sealed": XINZHAN, "publish-case": CITY}


def test_template_tasks_go_to_the_nearest_task_force_and_the_level_s_own_body(session: Session) -> None:
    events.emit(session, CaseReported(jurisdiction_code=XINZHAN, case_id=990002, reported_at=T0))
    made = tasks_of(session, "tracing.case_reported:case:990002")
    dc_tracing = task_force(session, DC, "tracing")
    # 东昌区 runs its own tracing task force: its office answers for the district's tracing tasks.
    assert made["core-information"].task_force_id == dc_tracing.id
    assert roles(made["core-information"]) == {ResponsibilityRole.RESPONSIBLE_UNIT: dc_tracing.office_unit_id}
    # The community's tasks: the community committee answers, the task force's office co-operates.
    city_control = task_force(session, CITY, "community_control")
    assert made["seal-residence"].task_force_id == city_control.id
    assert roles(made["seal-residence"]) == {ResponsibilityRole.RESPONSIBLE_UNIT: committee(session, XINZHAN).id,
                                             ResponsibilityRole.CO_UNIT: city_control.office_unit_id}
    dc_testing = task_force(session, DC, "testing")
    assert made["test-compound"].task_force_id == dc_testing.id
    # The city's task: the city's publicity task force's office.
    publicity = task_force(session, CITY, "publicity")
    assert roles(made["publish-case"]) == {ResponsibilityRole.RESPONSIBLE_UNIT: publicity.office_unit_id}
    assert made["publish-case"].unit_id == publicity.office_unit_id
    # The leaders of the task force answer for its tasks too.
    assert ResponsibilityRole.LEAD_LEADER in {r.role for r in made["publish-case"].responsibilities}


def test_a_case_of_another_district_gets_that_district_s_tasks(session: Session) -> None:
    events.emit(session, CaseReported(jurisdiction_code=DONGTONGHUA, case_id=990003, reported_at=T0))
    made = tasks_of(session, "tracing.case_reported:case:990003")
    assert made["core-information"].jurisdiction_code == EDJ
    # 二道江区 has no tracing task force of its own: the city's takes it on, with the district's headquarters.
    assert made["core-information"].task_force_id == task_force(session, CITY, "tracing").id
    assert made["seal-residence"].jurisdiction_code == DONGTONGHUA


def test_the_same_event_delivered_twice_makes_nothing_twice(session: Session) -> None:
    event = CaseReported(jurisdiction_code=XINZHAN, case_id=990004, reported_at=T0)
    events.emit(session, event)
    events.emit(session, event)
    assert len(tasks_of(session, "tracing.case_reported:case:990004")) == 8
    assert len(session.execute(select(Task).where(
        Task.source_key == "tracing.case_reported:case:990004")).all()) == 8
    assert len(session.execute(select(TemplateRun).where(TemplateRun.event_key == "case:990004")).all()) == 1


def test_a_positive_pool_makes_its_tasks_where_it_was_sampled(session: Session) -> None:
    event = PoolPositive(jurisdiction_code=XINZHAN, round_id=1, tube_id=880001, tube_code="T880001", members=10)
    events.emit(session, event)
    events.emit(session, event)
    made = tasks_of(session, "testing.pool_positive:tube:880001")
    assert {k: t.jurisdiction_code for k, t in made.items()} == {
        "control-members": XINZHAN, "resample-members": XINZHAN, "retest-results": DC}
    assert all(t.due_at is not None and t.starts_at is not None for t in made.values())
    assert {k: (t.due_at - t.starts_at) for k, t in made.items() if t.due_at and t.starts_at} == {
        "control-members": timedelta(hours=2), "resample-members": timedelta(hours=2),
        "retest-results": timedelta(hours=8)}


def test_a_case_reported_through_tracing_makes_the_tasks(session: Session, as_user, make_case) -> None:  # noqa: F811
    person = residents(session, XINZHAN, 1)[0]
    as_user("dongchang_tracer")  # who may not write the command lists: the templates act as the system
    case = make_case(person, hours_ago=1)
    made = tasks_of(session, f"tracing.case_reported:case:{case.id}")
    assert "publish-case" not in made  # the city's task: outside the district tracer's scope
    with system_access(session):
        assert len(tasks_of(session, f"tracing.case_reported:case:{case.id}")) == 8
    assert made["core-information"].due_at == case.reported_at + timedelta(hours=4)


def test_a_task_nobody_can_be_found_for_stays_a_draft(session: Session) -> None:
    template = standards.Template(key="test-only", title="x", event="test.event", tasks=(
        standards.TemplateTask(key="t", title="x", task_force="no-such-force", level="event", due_hours=1),))
    run = task_templates.instantiate(session, template, event_key="e:1", jurisdiction_code="220582002001", at=T0)
    assert run is not None
    [task] = session.execute(select(Task).where(Task.template_run_id == run.id)).scalars()
    assert task.status is TaskStatus.DRAFT and task.unit_id is None and task.task_force_id is None
    assert task_templates.instantiate(session, template, event_key="e:1", jurisdiction_code="220582002001",
                                      at=T0) is None


def test_the_shipped_titles_are_all_in_the_catalog_list() -> None:
    shipped = standards.load()
    titles = {t.title for t in shipped.templates} | {task.title for t in shipped.templates for task in t.tasks}
    assert titles == set(standards.MESSAGES)
    assert N_("A new local case") in standards.MESSAGES


@pytest.mark.parametrize("level, expected", [("event", XINZHAN), ("community", XINZHAN), ("street", "220502001"),
                                             ("district", DC), ("city", CITY), ("province", "22")])
def test_levels_cut_the_event_s_jurisdiction(level: str, expected: str) -> None:
    assert task_templates.level_code(XINZHAN, level) == expected


def test_a_positive_pool_from_a_lab_s_upload_makes_its_tasks(session: Session, as_user) -> None:
    as_user("lab")  # the lab may not write the lists; the template acts as the system
    events.emit(session, PoolPositive(jurisdiction_code=XINZHAN, round_id=1, tube_id=880002, tube_code="T880002",
                                      members=5))
    with system_access(session):
        assert len(tasks_of(session, "testing.pool_positive:tube:880002")) == 3
        [journal] = session.execute(select(EventRecord).where(
            EventRecord.name == "command.tasks_instantiated",
            EventRecord.payload["event_key"].as_string() == "tube:880002")).scalars().all()
    assert len(journal.payload["task_ids"]) == 3 and journal.payload["template_key"] == "positive-pool"


def test_a_batch_of_positive_pools_makes_what_each_would_make_alone(session: Session) -> None:
    def made(key: str) -> list[tuple[str, str, int | None, int | None, dict[ResponsibilityRole, int | None]]]:
        return sorted((k, t.jurisdiction_code, t.task_force_id, t.unit_id, roles(t))
                      for k, t in tasks_of(session, f"testing.pool_positive:{key}").items())

    events.emit(session, PoolPositive(jurisdiction_code=XINZHAN, round_id=1, tube_id=880010, tube_code="T880010",
                                      members=10))
    alone = made("tube:880010")
    # A lab file's batch: pools of two districts, one pool twice, one whose tasks were made already.
    events.emit_all(session, [
        PoolPositive(jurisdiction_code=XINZHAN, round_id=1, tube_id=880011, tube_code="T880011", members=10),
        PoolPositive(jurisdiction_code=DONGTONGHUA, round_id=1, tube_id=880012, tube_code="T880012", members=10),
        PoolPositive(jurisdiction_code=XINZHAN, round_id=1, tube_id=880011, tube_code="T880011", members=10),
        PoolPositive(jurisdiction_code=XINZHAN, round_id=1, tube_id=880010, tube_code="T880010", members=10)])
    assert made("tube:880011") == alone
    elsewhere = made("tube:880012")
    assert [row[:2] for row in elsewhere] == [("control-members", DONGTONGHUA), ("resample-members", DONGTONGHUA),
                                              ("retest-results", EDJ)]
    assert elsewhere != alone
    assert made("tube:880010") == alone  # not made twice
    runs = session.execute(select(TemplateRun.event_key).where(TemplateRun.template_key == "positive-pool")
                           .order_by(TemplateRun.event_key)).scalars().all()
    assert runs == ["tube:880010", "tube:880011", "tube:880012"]
    journal = session.execute(select(EventRecord.payload).where(EventRecord.name == "command.tasks_instantiated")
                              ).scalars().all()
    assert sorted((p["event_key"], len(p["task_ids"])) for p in journal) == [
        ("tube:880010", 3), ("tube:880011", 3), ("tube:880012", 3)]
