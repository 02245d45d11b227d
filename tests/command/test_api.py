"""The command JSON API: lists with their filters and pages, the task loop's actions, problems to verified
rectifications, the inbox, the scope, and creates that a retry does not duplicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.command import problems
from fangkong.command.models import Directive, OrgUnit, OrgUnitKind, Problem, ProgressReport, Task
from fangkong.command.schemas import MeasureIn, ProblemIn
from fangkong.core.scope import system_access
from tests.command.conftest import DC, DONGTONGHUA, XINZHAN, committee, user_id
from tests.conftest import DC_COMMANDER, WORKER_DC, WORKER_EDJ, Client


def later(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


@pytest.fixture
def signed_in(client_factory):  # type: ignore[no-untyped-def]
    def make(username: str) -> Client:
        return client_factory().login(username)

    return make


def body_unit(session: Session, code: str) -> int:
    """The community's committee, or the district's headquarters."""
    if len(code) == 12:
        return committee(session, code).id
    with system_access(session):
        return session.execute(select(OrgUnit.id).where(OrgUnit.jurisdiction_code == code,
                                                        OrgUnit.kind == OrgUnitKind.HEADQUARTERS)).scalar_one()


def new_task(client: Client, session: Session, code: str, title: str, *, hours: float = 24,
             key: str | None = None) -> dict:
    response = client.post("/api/v1/command/tasks", json={
        "jurisdiction_code": code, "title": title, "due_at": later(hours),
        "responsibility": {"unit_id": body_unit(session, code)}},
        headers={"Idempotency-Key": key} if key else {})
    assert response.status_code == 201, response.text
    return response.json()


def test_directives_are_created_once_per_key_listed_issued_and_read_with_their_plan(
        signed_in, session: Session) -> None:
    commander = signed_in(DC_COMMANDER)
    body = {"jurisdiction_code": DC, "title": "全员核酸检测第二轮", "body": "两天完成"}
    first = commander.post("/api/v1/command/directives", json=body, headers={"Idempotency-Key": "dir-1"})
    retry = commander.post("/api/v1/command/directives", json=body, headers={"Idempotency-Key": "dir-1"})
    assert first.status_code == retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"] and first.json()["status"] == "draft"
    assert session.execute(select(func.count()).select_from(Directive)).scalar_one() == 1
    directive_id = first.json()["id"]

    task = commander.post("/api/v1/command/tasks", json={
        "jurisdiction_code": XINZHAN, "title": "社区采样", "directive_id": directive_id, "due_at": later(20),
        "responsibility": {"unit_id": committee(session, XINZHAN).id}})
    assert task.status_code == 201 and task.json()["status"] == "draft"
    issued = commander.post(f"/api/v1/command/directives/{directive_id}/issue")
    assert issued.status_code == 200 and issued.json()["status"] == "issued"
    assert [(line["depth"], line["task"]["status"]) for line in issued.json()["plan"]] == [(0, "assigned")]
    assert commander.post(f"/api/v1/command/directives/{directive_id}/issue").status_code == 409
    listed = commander.get("/api/v1/command/directives").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == directive_id
    assert signed_in(WORKER_EDJ).get(f"/api/v1/command/directives/{directive_id}").status_code == 404
    worker = signed_in(WORKER_DC)
    assert worker.post("/api/v1/command/directives", json=body).status_code == 403


def test_the_task_list_filters_pages_and_keeps_to_the_jurisdiction(signed_in, session: Session) -> None:
    commander = signed_in(DC_COMMANDER)
    made = [new_task(commander, session, XINZHAN, f"任务{i}", hours=i + 1) for i in range(3)]
    signed_in("erdaojiang_worker").post("/api/v1/command/tasks", json={
        "jurisdiction_code": DONGTONGHUA, "title": "二道江区任务", "due_at": later(5)})
    page1 = commander.get("/api/v1/command/tasks?size=2").json()
    page2 = commander.get("/api/v1/command/tasks?size=2&page=2").json()
    assert page1["total"] == 3 and [t["id"] for t in page1["items"] + page2["items"]] == [t["id"] for t in made]
    assert commander.get("/api/v1/command/tasks?status=done").json()["total"] == 0
    assert commander.get(f"/api/v1/command/tasks?under={DONGTONGHUA}").json()["total"] == 0
    assert commander.get("/api/v1/command/tasks?status=nonsense").status_code == 422
    worker = signed_in(WORKER_DC)
    assert worker.get("/api/v1/command/tasks?mine=true").json()["total"] == 3
    edj = signed_in(WORKER_EDJ)
    assert {t["title"] for t in edj.get("/api/v1/command/tasks").json()["items"]} == {"二道江区任务"}
    assert edj.get(f"/api/v1/command/tasks/{made[0]['id']}").status_code == 404
    assert edj.post(f"/api/v1/command/tasks/{made[0]['id']}/start").status_code == 404


def test_the_task_loop_through_the_api(signed_in, session: Session) -> None:
    commander = signed_in(DC_COMMANDER)
    worker = signed_in(WORKER_DC)
    parent = new_task(commander, session, DC, "区级任务", key="task-1")
    again = new_task(commander, session, DC, "区级任务", key="task-1")
    assert again["id"] == parent["id"]
    child = commander.post(f"/api/v1/command/tasks/{parent['id']}/hand-down", json={
        "jurisdiction_code": XINZHAN, "responsibility": {"assignee": {"user_id": user_id(session, WORKER_DC)}}})
    assert child.status_code == 201 and child.json()["parent_id"] == parent["id"]
    child_id = child.json()["id"]
    bad = commander.post(f"/api/v1/command/tasks/{parent['id']}/hand-down", json={"jurisdiction_code": "220503"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "jurisdiction_code"

    assert worker.post(f"/api/v1/command/tasks/{child_id}/start").json()["status"] == "in_progress"
    assert worker.post(f"/api/v1/command/tasks/{child_id}/start").status_code == 409
    report = worker.post(f"/api/v1/command/tasks/{child_id}/progress", json={"text": "完成一半", "percent": 50},
                         headers={"Idempotency-Key": "rep-1"})
    retry = worker.post(f"/api/v1/command/tasks/{child_id}/progress", json={"text": "完成一半", "percent": 50},
                        headers={"Idempotency-Key": "rep-1"})
    assert report.status_code == retry.status_code == 201 and report.json()["id"] == retry.json()["id"]
    assert session.execute(select(func.count()).select_from(ProgressReport)
                           .where(ProgressReport.task_id == child_id)).scalar_one() == 1
    too_much = worker.post(f"/api/v1/command/tasks/{child_id}/progress", json={"text": "x", "percent": 101})
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "percent"

    early = commander.post(f"/api/v1/command/tasks/{parent['id']}/complete", json={"outcome": "完成"})
    assert early.status_code == 409  # its sub-task is not done
    assert worker.post(f"/api/v1/command/tasks/{child_id}/reschedule", json={"due_at": later(10)}).status_code == 403
    rescheduled = commander.post(f"/api/v1/command/tasks/{child_id}/reschedule", json={"due_at": later(10)})
    assert rescheduled.status_code == 200
    done = worker.post(f"/api/v1/command/tasks/{child_id}/complete", json={"outcome": "全部完成"})
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["progress"] == 100
    detail = commander.get(f"/api/v1/command/tasks/{parent['id']}").json()
    assert [c["id"] for c in detail["children"]] == [child_id]
    assert commander.post(f"/api/v1/command/tasks/{parent['id']}/complete", json={"outcome": "完成"}
                          ).json()["status"] == "done"
    other = new_task(commander, session, DC, "要撤销的任务")
    assert commander.post(f"/api/v1/command/tasks/{other['id']}/cancel", json={"reason": ""}).status_code == 422
    assert commander.post(f"/api/v1/command/tasks/{other['id']}/cancel", json={"reason": "重复"}
                          ).json()["status"] == "cancelled"
    draft = commander.post("/api/v1/command/tasks", json={"jurisdiction_code": XINZHAN, "title": "待分派"}).json()
    assert draft["status"] == "draft"
    assigned = commander.post(f"/api/v1/command/tasks/{draft['id']}/assign", json={
        "responsibility": {"unit_id": committee(session, XINZHAN).id}, "due_at": later(6)})
    assert assigned.json()["status"] == "assigned"
    assert [r["role"] for r in assigned.json()["responsibilities"]] == ["responsible_unit"]


def test_problems_measures_rectifications_and_verification(signed_in, session: Session) -> None:
    worker = signed_in(WORKER_DC)
    commander = signed_in(DC_COMMANDER)
    body = {"jurisdiction_code": XINZHAN, "title": "采样点排队过长"}
    filed = worker.post("/api/v1/command/problems", json=body, headers={"Idempotency-Key": "prob-1"})
    retry = worker.post("/api/v1/command/problems", json=body, headers={"Idempotency-Key": "prob-1"})
    assert filed.status_code == retry.status_code == 201 and filed.json()["id"] == retry.json()["id"]
    assert session.execute(select(func.count()).select_from(Problem)).scalar_one() == 1
    problem_id = filed.json()["id"]
    assert worker.post("/api/v1/command/problems", json={"jurisdiction_code": DONGTONGHUA, "title": "x"}
                       ).status_code == 403
    assert commander.get("/api/v1/command/problems?status=open").json()["total"] == 1
    assert commander.get("/api/v1/command/problems?source=alert").json()["total"] == 0

    measure = commander.post(f"/api/v1/command/problems/{problem_id}/measures", json={
        "title": "增设采样台", "owner_user_id": user_id(session, WORKER_DC), "due_at": later(24)})
    assert measure.status_code == 201 and measure.json()["status"] == "open"
    rect = worker.post(f"/api/v1/command/measures/{measure.json()['id']}/rectifications",
                       json={"evidence": "增设两个采样台"})
    assert rect.status_code == 201
    own = worker.post(f"/api/v1/command/rectifications/{rect.json()['id']}/verify", json={"passed": True})
    assert own.status_code == 403 and own.json()["message"]
    no_verdict = commander.post(f"/api/v1/command/rectifications/{rect.json()['id']}/verify", json={"passed": False})
    assert no_verdict.status_code == 422 and no_verdict.json()["errors"][0]["field"] == "verdict"
    passed = commander.post(f"/api/v1/command/rectifications/{rect.json()['id']}/verify", json={"passed": True})
    assert passed.status_code == 200 and passed.json()["status"] == "verified"
    problem = commander.get(f"/api/v1/command/problems/{problem_id}").json()
    assert problem["status"] == "closed" and problem["measures"][0]["status"] == "verified"
    assert signed_in(WORKER_EDJ).get(f"/api/v1/command/problems/{problem_id}").status_code == 404


def test_the_inbox_holds_the_users_work(signed_in, session: Session) -> None:
    commander = signed_in(DC_COMMANDER)
    task = new_task(commander, session, XINZHAN, "社区任务")
    problem = problems.file_problem(session, ProblemIn(jurisdiction_code=XINZHAN, title="问题"))
    problems.add_measure(session, problem, MeasureIn(title="整改", owner_unit_id=committee(session, XINZHAN).id))
    box = signed_in(WORKER_DC).get("/api/v1/command/inbox")
    assert box.status_code == 200
    assert [t["id"] for t in box.json()["unit_tasks"]] == [task["id"]]
    assert [m["title"] for m in box.json()["measures"]] == ["整改"]
    assert signed_in(WORKER_EDJ).get("/api/v1/command/inbox").json()["unit_tasks"] == []
    assert session.execute(select(func.count()).select_from(Task)).scalar_one() >= 1
