"""The command pages through the application: each form's happy path and its field errors, the loops' actions
from the pages, and the scope (a 东昌区 persona cannot open or change a 二道江区 task or problem).

The pages act at the machine's clock, so the records made here are due relative to now.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.command import problems, service
from fangkong.command.models import (
    Directive,
    DirectiveStatus,
    Measure,
    MeasureStatus,
    Problem,
    ProblemStatus,
    ProgressReport,
    Rectification,
    Task,
    TaskStatus,
)
from fangkong.command.schemas import MeasureIn, ProblemIn, RectificationIn, ResponsibilityIn, TaskIn
from fangkong.core.audit import Action, AuditEntry
from tests.command.conftest import DC, DONGTONGHUA, EDJ, XINZHAN, committee, user_id
from tests.conftest import CITY_COMMANDER, DC_COMMANDER, VIEWER, WORKER_DC, WORKER_EDJ, Client

LOCAL = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


def local(when: datetime) -> str:
    """A time as a ``datetime-local`` field holds it."""
    return when.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def token(client: Client) -> str:
    return client.headers["X-CSRF-Token"]


@pytest.fixture
def signed_in(client_factory):  # type: ignore[no-untyped-def]
    """A client logged in as a persona."""

    def make(username: str) -> Client:
        return client_factory().login(username)

    return make


def make_task(session: Session, code: str, *, hours: float = 24, unit_of: str | None = None,
              title: str = "摸排辖区内返乡人员", assignee: str | None = None) -> Task:
    """An assigned task of ``code`` due ``hours`` from now (made as the system)."""
    unit = committee(session, unit_of).id if unit_of else None
    return service.create_task(session, TaskIn(
        jurisdiction_code=code, title=title, due_at=now() + timedelta(hours=hours),
        responsibility=ResponsibilityIn(unit_id=unit, assignee={"user_id": user_id(session, assignee)}
                                        if assignee else None)))


def field_errors(html: str) -> set[str]:
    return set(re.findall(r'data-field-error="([\w.]+)"', html))


# ------------------------------------------------------------------------------------------ directives


def test_a_commander_creates_a_directive_plans_tasks_as_a_tree_and_issues_it(signed_in, session: Session) -> None:
    commander = signed_in(DC_COMMANDER)
    bad = commander.post("/command/directives", data={"jurisdiction_code": DC, "title": "", "form_key": "d-bad"})
    assert bad.status_code == 422
    assert "title" in field_errors(bad.text)

    made = commander.post("/command/directives", data={"jurisdiction_code": DC, "title": "全员核酸检测第二轮",
                                                       "body": "48小时内完成", "form_key": "d-1"},
                          follow_redirects=False)
    assert made.status_code == 303
    again = commander.post("/command/directives", data={"jurisdiction_code": DC, "title": "全员核酸检测第二轮",
                                                        "form_key": "d-1"}, follow_redirects=False)
    assert again.headers["location"] == made.headers["location"]  # a double submit creates once
    directive_id = int(made.headers["location"].rsplit("/", 1)[1])
    assert session.execute(select(func.count()).select_from(Directive)
                           .where(Directive.title == "全员核酸检测第二轮")).scalar_one() == 1

    unit = committee(session, XINZHAN).id
    due = local(now() + timedelta(hours=20))
    top = commander.post(f"/command/directives/{directive_id}/tasks", data={
        "title": "组织采样", "jurisdiction_code": DC, "due_at": due, "unit_id": str(unit), "form_key": "t-1"},
        follow_redirects=False)
    assert top.status_code == 303
    parent = session.execute(select(Task).where(Task.title == "组织采样")).scalar_one()
    assert parent.status is TaskStatus.DRAFT  # the directive is a draft
    child = commander.post(f"/command/directives/{directive_id}/tasks", data={
        "title": "新站社区采样", "jurisdiction_code": XINZHAN, "parent_id": str(parent.id), "due_at": due,
        "unit_id": str(unit), "form_key": "t-2"}, follow_redirects=False)
    assert child.status_code == 303
    late_child = commander.post(f"/command/directives/{directive_id}/tasks", data={
        "title": "晚于上级", "jurisdiction_code": XINZHAN, "parent_id": str(parent.id),
        "due_at": local(now() + timedelta(hours=30)), "form_key": "t-3"})
    assert late_child.status_code == 422
    assert "due_at" in field_errors(late_child.text)
    outside = commander.post(f"/command/directives/{directive_id}/tasks", data={
        "title": "二道江区", "jurisdiction_code": DONGTONGHUA, "due_at": due, "form_key": "t-4"})
    assert outside.status_code in (403, 422)

    page = commander.get(f"/command/directives/{directive_id}")
    depths = dict(re.findall(r'data-task="(\d+)" data-depth="(\d+)"', page.text))
    kid = session.execute(select(Task).where(Task.title == "新站社区采样")).scalar_one()
    assert depths == {str(parent.id): "0", str(kid.id): "1"}

    issued = commander.post(f"/command/directives/{directive_id}/issue", follow_redirects=False)
    assert issued.status_code == 303
    session.expire_all()
    assert session.get(Directive, directive_id).status is DirectiveStatus.ISSUED  # type: ignore[union-attr]
    assert session.get(Task, parent.id).status is TaskStatus.ASSIGNED  # type: ignore[union-attr]
    twice = commander.post(f"/command/directives/{directive_id}/issue")
    assert twice.status_code == 409
    closing = commander.post(f"/command/directives/{directive_id}/close")
    assert closing.status_code == 409  # open tasks remain


def test_a_community_worker_may_not_create_a_directive(signed_in, session: Session) -> None:
    worker = signed_in(WORKER_DC)
    refused = worker.post("/command/directives", data={"jurisdiction_code": XINZHAN, "title": "x"})
    assert refused.status_code == 403
    assert session.execute(select(func.count()).select_from(Directive)).scalar_one() == 0
    assert 'data-testid="directive-form"' not in worker.get("/command/directives").text


# ----------------------------------------------------------------------------------------------- tasks


def test_the_task_list_filters_and_stays_in_the_jurisdiction(signed_in, session: Session) -> None:
    mine = make_task(session, XINZHAN, unit_of=XINZHAN, title="新站社区的任务")
    late = make_task(session, DC, hours=-2, title="超期的任务", unit_of=XINZHAN)
    late.status = TaskStatus.OVERDUE
    other = make_task(session, DONGTONGHUA, unit_of=DONGTONGHUA, title="二道江区的任务")
    session.flush()
    commander = signed_in(DC_COMMANDER)

    listed = commander.get("/command/tasks")
    shown = set(re.findall(r'data-task="(\d+)"', listed.text))
    assert {str(mine.id), str(late.id)} <= shown and str(other.id) not in shown
    overdue = commander.get("/command/tasks?overdue=1")
    assert set(re.findall(r'data-task="(\d+)"', overdue.text)) == {str(late.id)}
    assert 'data-overdue="1"' in overdue.text
    by_status = commander.get("/command/tasks?status=overdue")
    assert set(re.findall(r'data-task="(\d+)"', by_status.text)) == {str(late.id)}
    under = commander.get(f"/command/tasks?under={XINZHAN}")
    assert set(re.findall(r'data-task="(\d+)"', under.text)) == {str(mine.id)}
    assert commander.get("/command/tasks?status=nonsense").status_code == 422

    worker = signed_in(WORKER_DC)
    theirs = worker.get("/command/tasks?mine=1")
    assert set(re.findall(r'data-task="(\d+)"', theirs.text)) == {str(mine.id)}  # late is 东昌区's, above them
    city = signed_in(CITY_COMMANDER).get("/command/tasks")
    assert str(other.id) in set(re.findall(r'data-task="(\d+)"', city.text))


def test_a_worker_reports_progress_with_a_photo_and_the_download_is_audited(signed_in, session: Session) -> None:
    task = make_task(session, XINZHAN, unit_of=XINZHAN)
    worker = signed_in(WORKER_DC)
    page = worker.get(f"/command/tasks/{task.id}")
    assert 'data-testid="progress-form"' in page.text and 'name="viewport"' in page.text

    photo = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    sent = worker.post(f"/command/tasks/{task.id}/progress", data={"text": "已摸排120户", "percent": "40",
                                                                    "form_key": "p-1"},
                       files=[("files", ("现场.png", photo, "image/png"))], follow_redirects=False)
    assert sent.status_code == 303
    again = worker.post(f"/command/tasks/{task.id}/progress", data={"text": "已摸排120户", "percent": "40",
                                                                     "form_key": "p-1"}, follow_redirects=False)
    assert again.status_code == 303
    session.expire_all()
    reports = session.execute(select(ProgressReport).where(ProgressReport.task_id == task.id)).scalars().all()
    assert len(reports) == 1 and reports[0].percent == 40 and len(reports[0].attachments) == 1
    assert session.get(Task, task.id).status is TaskStatus.IN_PROGRESS  # type: ignore[union-attr]

    shown = worker.get(f"/command/tasks/{task.id}")
    attachment = reports[0].attachments[0]
    assert f'data-attachment="{attachment.id}"' in shown.text and "已摸排120户" in shown.text
    download = worker.get(f"/command/attachments/{attachment.id}")
    assert download.status_code == 200 and download.content == photo
    assert "attachment" in download.headers["content-disposition"]
    session.expire_all()
    exports = session.execute(select(AuditEntry).where(AuditEntry.action == Action.EXPORT,
                                                       AuditEntry.entity == "command_attachments",
                                                       AuditEntry.entity_id == str(attachment.id))).scalars().all()
    assert len(exports) == 1 and exports[0].actor_name == WORKER_DC

    # A worker of another district cannot fetch it: missing, and the attempt audited.
    other = signed_in(WORKER_EDJ)
    assert other.get(f"/command/attachments/{attachment.id}").status_code == 404


def test_a_progress_report_names_its_bad_fields(signed_in, session: Session) -> None:
    task = make_task(session, XINZHAN, unit_of=XINZHAN)
    worker = signed_in(WORKER_DC)
    too_much = worker.post(f"/command/tasks/{task.id}/progress", data={"text": "x", "percent": "150"})
    assert too_much.status_code == 422 and "percent" in field_errors(too_much.text)
    empty = worker.post(f"/command/tasks/{task.id}/progress", data={"text": " ", "percent": "10"})
    assert empty.status_code == 422 and "text" in field_errors(empty.text)
    assert "请" in empty.text or "Say" in empty.text  # in the user's language
    session.expire_all()
    assert session.get(Task, task.id).status is TaskStatus.ASSIGNED  # type: ignore[union-attr]


def test_a_task_is_handed_down_and_the_parent_and_child_link_each_other(signed_in, session: Session) -> None:
    task = make_task(session, DC, unit_of=XINZHAN, title="区级任务")
    commander = signed_in(DC_COMMANDER)
    wrong = commander.post(f"/command/tasks/{task.id}/hand-down", data={"jurisdiction_code": DC,
                                                                        "form_key": "h-0"})
    assert wrong.status_code == 422 and "jurisdiction_code" in field_errors(wrong.text)
    late = commander.post(f"/command/tasks/{task.id}/hand-down", data={
        "jurisdiction_code": XINZHAN, "due_at": local(now() + timedelta(days=3)), "form_key": "h-1"})
    assert late.status_code == 422 and "due_at" in field_errors(late.text)

    done = commander.post(f"/command/tasks/{task.id}/hand-down", data={
        "jurisdiction_code": XINZHAN, "unit_id": str(committee(session, XINZHAN).id), "form_key": "h-2"},
        follow_redirects=False)
    assert done.status_code == 303
    child_id = int(done.headers["location"].rsplit("/", 1)[1])
    child_page = commander.get(f"/command/tasks/{child_id}")
    assert f'href="/command/tasks/{task.id}" data-testid="parent-link"' in child_page.text
    assert f'data-child="{child_id}"' in commander.get(f"/command/tasks/{task.id}").text
    session.expire_all()
    child = session.get(Task, child_id)
    assert child is not None and child.parent_id == task.id and child.status is TaskStatus.ASSIGNED
    assert session.get(Task, task.id).status is TaskStatus.IN_PROGRESS  # type: ignore[union-attr]


def test_the_actions_of_a_task_by_its_state(signed_in, session: Session) -> None:
    task = make_task(session, XINZHAN, unit_of=XINZHAN)
    worker = signed_in(WORKER_DC)
    commander = signed_in(DC_COMMANDER)
    assert worker.post(f"/command/tasks/{task.id}/start", follow_redirects=False).status_code == 303
    assert worker.post(f"/command/tasks/{task.id}/start").status_code == 409  # already in progress

    milestone = worker.post(f"/command/tasks/{task.id}/milestones", data={"title": "完成一半", "due_at": ""})
    assert milestone.status_code == 422 and "due_at" in field_errors(milestone.text)
    after = worker.post(f"/command/tasks/{task.id}/milestones", data={
        "title": "晚了", "due_at": local(now() + timedelta(days=5))})
    assert after.status_code == 422 and "due_at" in field_errors(after.text)
    assert worker.post(f"/command/tasks/{task.id}/milestones", data={
        "title": "完成一半", "due_at": local(now() + timedelta(hours=10))}, follow_redirects=False).status_code == 303
    session.expire_all()
    reached = session.get(Task, task.id).milestones[0]  # type: ignore[union-attr]
    assert worker.post(f"/command/milestones/{reached.id}/reach", follow_redirects=False).status_code == 303
    assert worker.post(f"/command/milestones/{reached.id}/reach").status_code == 409

    # Rescheduling is the level above's: the community's own worker does not see the form, the district does.
    assert "/reschedule" not in worker.get(f"/command/tasks/{task.id}").text
    assert worker.post(f"/command/tasks/{task.id}/reschedule", data={
        "due_at": local(now() + timedelta(hours=30))}).status_code == 403
    past = commander.post(f"/command/tasks/{task.id}/reschedule", data={"due_at": local(now() - timedelta(hours=1))})
    assert past.status_code == 422 and "due_at" in field_errors(past.text)
    assert commander.post(f"/command/tasks/{task.id}/reschedule", data={
        "due_at": local(now() + timedelta(hours=30))}, follow_redirects=False).status_code == 303

    no_outcome = worker.post(f"/command/tasks/{task.id}/complete", data={"outcome": ""})
    assert no_outcome.status_code == 422 and "outcome" in field_errors(no_outcome.text)
    assert worker.post(f"/command/tasks/{task.id}/complete", data={"outcome": "全部摸排完毕"},
                       follow_redirects=False).status_code == 303
    session.expire_all()
    assert session.get(Task, task.id).status is TaskStatus.DONE  # type: ignore[union-attr]
    assert worker.post(f"/command/tasks/{task.id}/cancel", data={"reason": "x"}).status_code == 409

    other = make_task(session, XINZHAN, unit_of=XINZHAN)
    no_reason = worker.post(f"/command/tasks/{other.id}/cancel", data={"reason": ""})
    assert no_reason.status_code == 422 and "reason" in field_errors(no_reason.text)
    assert worker.post(f"/command/tasks/{other.id}/cancel", data={"reason": "重复"},
                       follow_redirects=False).status_code == 303


def test_a_draft_task_is_assigned_from_its_page(signed_in, session: Session) -> None:
    task = service.create_task(session, TaskIn(jurisdiction_code=XINZHAN, title="待分派"))
    commander = signed_in(DC_COMMANDER)
    missing = commander.post(f"/command/tasks/{task.id}/assign", data={"due_at": local(now() + timedelta(hours=5))})
    assert missing.status_code == 422 and "responsibility" in field_errors(missing.text)
    bad_time = commander.post(f"/command/tasks/{task.id}/assign", data={"due_at": "明天", "unit_id": "1"})
    assert bad_time.status_code == 422 and "due_at" in field_errors(bad_time.text)
    ok = commander.post(f"/command/tasks/{task.id}/assign", data={
        "due_at": local(now() + timedelta(hours=5)), "unit_id": str(committee(session, XINZHAN).id),
        "assignee_user_id": str(user_id(session, WORKER_DC)), "lead_leader_name": "王书记",
        "co_unit_ids": []}, follow_redirects=False)
    assert ok.status_code == 303
    page = commander.get(f"/command/tasks/{task.id}")
    assert 'data-role="responsible_unit"' in page.text and 'data-role="assignee"' in page.text
    assert "王书记" in page.text
    session.expire_all()
    assert session.get(Task, task.id).status is TaskStatus.ASSIGNED  # type: ignore[union-attr]


def test_a_dongchang_persona_cannot_open_or_change_an_erdaojiang_task(signed_in, session: Session) -> None:
    task = make_task(session, DONGTONGHUA, unit_of=DONGTONGHUA)
    for persona in (WORKER_DC, DC_COMMANDER):
        client = signed_in(persona)
        assert client.get(f"/command/tasks/{task.id}").status_code == 404
        assert client.post(f"/command/tasks/{task.id}/progress", data={"text": "越权", "percent": "50"}
                           ).status_code == 404
        assert client.post(f"/command/tasks/{task.id}/complete", data={"outcome": "越权"}).status_code == 404
    session.expire_all()
    assert session.get(Task, task.id).status is TaskStatus.ASSIGNED  # type: ignore[union-attr]
    assert session.execute(select(func.count()).select_from(ProgressReport)
                           .where(ProgressReport.task_id == task.id)).scalar_one() == 0
    denied = session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.ACCESS_DENIED, AuditEntry.entity == "tasks",
        AuditEntry.entity_id == str(task.id))).scalar_one()
    assert denied == 6
    assert signed_in(WORKER_EDJ).get(f"/command/tasks/{task.id}").status_code == 200


# -------------------------------------------------------------------------------------------- problems


def test_a_problem_is_filed_by_hand_and_names_its_bad_fields(signed_in, session: Session) -> None:
    worker = signed_in(WORKER_DC)
    bad = worker.post("/command/problems", data={"jurisdiction_code": XINZHAN, "title": "", "form_key": "q-0",
                                                 "due_at": "昨天"})
    assert bad.status_code == 422 and {"title", "due_at"} <= field_errors(bad.text)
    outside = worker.post("/command/problems", data={"jurisdiction_code": DONGTONGHUA, "title": "越权",
                                                     "form_key": "q-1"})
    assert outside.status_code == 403
    made = worker.post("/command/problems", data={"jurisdiction_code": XINZHAN, "title": "采样点排队过长",
                                                  "form_key": "q-2"}, follow_redirects=False)
    again = worker.post("/command/problems", data={"jurisdiction_code": XINZHAN, "title": "采样点排队过长",
                                                   "form_key": "q-2"}, follow_redirects=False)
    assert made.status_code == again.status_code == 303 and made.headers["location"] == again.headers["location"]
    assert session.execute(select(func.count()).select_from(Problem)
                           .where(Problem.title == "采样点排队过长")).scalar_one() == 1
    listed = worker.get("/command/problems?status=open&source=manual")
    assert "采样点排队过长" in listed.text
    assert "采样点排队过长" not in worker.get("/command/problems?source=alert").text


def test_a_rectification_is_verified_by_someone_else_and_the_problem_closes(signed_in, session: Session) -> None:
    problem = problems.file_problem(session, ProblemIn(jurisdiction_code=XINZHAN, title="隔离点消杀不到位"))
    worker = signed_in(WORKER_DC)
    commander = signed_in(DC_COMMANDER)
    no_owner = commander.post(f"/command/problems/{problem.id}/measures", data={"title": "重新消杀",
                                                                                "form_key": "m-0"})
    assert no_owner.status_code == 422 and "owner_unit_id" in field_errors(no_owner.text)
    added = commander.post(f"/command/problems/{problem.id}/measures", data={
        "title": "重新消杀", "owner_user_id": str(user_id(session, WORKER_DC)),
        "due_at": local(now() + timedelta(hours=24)), "form_key": "m-1"}, follow_redirects=False)
    assert added.status_code == 303
    session.expire_all()
    measure = session.execute(select(Measure).where(Measure.problem_id == problem.id)).scalar_one()

    nothing = worker.post(f"/command/measures/{measure.id}/rectifications", data={"evidence": "", "form_key": "r-0"})
    assert nothing.status_code == 422 and "evidence" in field_errors(nothing.text)
    sent = worker.post(f"/command/measures/{measure.id}/rectifications", data={"evidence": "已重新消杀并记录",
                                                                                "form_key": "r-1"},
                       files=[("files", ("消杀记录.pdf", b"%PDF-1.4 evidence", "application/pdf"))],
                       follow_redirects=False)
    assert sent.status_code == 303
    session.expire_all()
    rect = session.execute(select(Rectification).where(Rectification.measure_id == measure.id)).scalar_one()
    assert len(rect.attachments) == 1

    # The doer may not verify their own work: the page says why.
    own = worker.post(f"/command/rectifications/{rect.id}/verify", data={"passed": "yes"})
    assert own.status_code == 403
    assert 'data-testid="error"' in own.text and ("验收" in own.text or "other than" in own.text)
    unchosen = commander.post(f"/command/rectifications/{rect.id}/verify", data={"passed": ""})
    assert unchosen.status_code == 422 and "passed" in field_errors(unchosen.text)
    no_verdict = commander.post(f"/command/rectifications/{rect.id}/verify", data={"passed": "no", "verdict": ""})
    assert no_verdict.status_code == 422 and "verdict" in field_errors(no_verdict.text)
    failed = commander.post(f"/command/rectifications/{rect.id}/verify", data={"passed": "no",
                                                                                "verdict": "缺少消杀照片"},
                            follow_redirects=False)
    assert failed.status_code == 303
    session.expire_all()
    measure = session.get(Measure, measure.id)  # type: ignore[assignment]
    assert measure.status is MeasureStatus.OPEN and measure.times_reopened == 1
    assert commander.post(f"/command/problems/{problem.id}/close").status_code == 409

    worker.post(f"/command/measures/{measure.id}/rectifications", data={"evidence": "补充照片", "form_key": "r-2"})
    session.expire_all()
    second = session.execute(select(Rectification).where(Rectification.measure_id == measure.id,
                                                         Rectification.id != rect.id)).scalar_one()
    assert commander.post(f"/command/rectifications/{second.id}/verify", data={"passed": "yes"},
                          follow_redirects=False).status_code == 303
    session.expire_all()
    assert session.get(Problem, problem.id).status is ProblemStatus.CLOSED  # type: ignore[union-attr]
    page = commander.get(f"/command/problems/{problem.id}")
    assert 'data-status="closed"' in page.text and "缺少消杀照片" in page.text


def test_a_dongchang_persona_cannot_open_or_change_an_erdaojiang_problem(signed_in, session: Session) -> None:
    problem = problems.file_problem(session, ProblemIn(jurisdiction_code=DONGTONGHUA, title="二道江区的问题"))
    measure = problems.add_measure(session, problem, MeasureIn(title="整改", owner_name="张三"))
    rect = problems.submit_rectification(session, measure, RectificationIn(evidence="已整改"))
    for persona in (WORKER_DC, DC_COMMANDER):
        client = signed_in(persona)
        assert client.get(f"/command/problems/{problem.id}").status_code == 404
        assert client.post(f"/command/problems/{problem.id}/measures", data={"title": "x", "owner_name": "李"}
                           ).status_code == 404
        assert client.post(f"/command/rectifications/{rect.id}/verify", data={"passed": "yes"}).status_code == 404
        assert "二道江区的问题" not in client.get("/command/problems").text
    session.expire_all()
    assert session.get(Rectification, rect.id).status.value == "submitted"  # type: ignore[union-attr]
    assert len(session.get(Problem, problem.id).measures) == 1  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------- inbox, digest, dashboard


def test_the_inbox_digest_and_dashboard(signed_in, session: Session) -> None:
    task = make_task(session, XINZHAN, unit_of=XINZHAN, assignee=WORKER_DC, title="给网格员的任务")
    late = make_task(session, XINZHAN, hours=-3, unit_of=XINZHAN, title="超期任务")
    late.status = TaskStatus.OVERDUE
    session.flush()
    worker = signed_in(WORKER_DC)
    box = worker.get("/command")
    assert box.status_code == 200
    mine = box.text[box.text.index('data-testid="my-tasks"'):box.text.index('data-testid="unit-tasks"')]
    assert f'data-task="{task.id}"' in mine
    assert f'data-task="{late.id}"' in box.text[box.text.index('data-testid="overdue-tasks"'):]
    digest = worker.get("/command/digest")
    assert digest.status_code == 200 and "给网格员的任务" in digest.text

    commander = signed_in(DC_COMMANDER)
    board = commander.get("/command/dashboard")
    assert board.status_code == 200
    assert re.search(r'data-status="overdue">(<a [^>]*>)?1<', board.text)
    assert commander.get(f"/command/dashboard?code={EDJ}").status_code == 404
    viewer = signed_in(VIEWER)
    counted = viewer.get(f"/command/dashboard?code={DC}")
    assert counted.status_code == 200 and re.search(r'data-status="overdue">1<', counted.text)
    assert "超期任务" not in counted.text  # counts only, no item
    assert viewer.get("/command").status_code == 403


# ------------------------------------------------------------------------------------ task forces, units


def test_task_forces_and_units_are_listed_and_set_up_by_commanders(signed_in, session: Session) -> None:
    commander = signed_in(DC_COMMANDER)
    forces = commander.get("/command/task-forces")
    assert "东昌区流调溯源专班" in forces.text and "流调溯源专班" in forces.text  # its own and the city's
    worker = signed_in(WORKER_DC)
    assert worker.get("/command/task-forces").status_code == 200
    assert worker.post("/command/units", data={"jurisdiction_code": XINZHAN, "name": "x",
                                               "kind": "other"}).status_code == 403

    bad = commander.post("/command/units", data={"jurisdiction_code": DC, "name": "", "kind": "nonsense"})
    assert bad.status_code == 422 and {"name", "kind"} <= field_errors(bad.text)
    made = commander.post("/command/units", data={"jurisdiction_code": DC, "name": "东昌区卫健局",
                                                   "kind": "department",
                                                   "member_user_ids": [str(user_id(session, "dongchang_tracer"))]},
                          follow_redirects=False)
    assert made.status_code == 303
    unit_page = commander.get(made.headers["location"])
    assert "东昌区卫健局" in unit_page.text and "东昌区流调组" in unit_page.text
    elsewhere = commander.post("/command/units", data={"jurisdiction_code": EDJ, "name": "二道江", "kind": "other"})
    assert elsewhere.status_code == 403

    force = commander.post("/command/task-forces", data={"jurisdiction_code": DC, "name": "东昌区社区管控专班",
                                                         "key": "community_control", "lead_leader_name": "赵区长",
                                                         "member_names": "钱主任 — 统筹\n孙科长"},
                           follow_redirects=False)
    assert force.status_code == 303
    page = commander.get(force.headers["location"])
    assert "赵区长" in page.text and "钱主任" in page.text and "统筹" in page.text
    twice = commander.post("/command/task-forces", data={"jurisdiction_code": DC, "name": "重复",
                                                         "key": "community_control"})
    assert twice.status_code == 409
    edited = commander.post(force.headers["location"], data={"name": "东昌区社区管控专班（调整）",
                                                             "lead_leader_name": "周区长"}, follow_redirects=False)
    assert edited.status_code == 303
    assert "周区长" in commander.get(force.headers["location"]).text


def test_a_task_force_and_a_unit_are_named_in_their_forms_as_bodies_not_persons(client: Client) -> None:
    client.login(CITY_COMMANDER)
    assert "<label>专班名称 <input" in client.get("/command/task-forces").text
    assert "<label>单位名称 <input" in client.get("/command/units").text
    assert "<label>姓名 <input" not in client.get("/command/units").text
