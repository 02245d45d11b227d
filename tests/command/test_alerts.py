"""Problems from other modules' alerts: an investigation past its clock, a contact not under control in
time, a re-sampling order overdue; one problem per alert, however often it is delivered."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.command.models import Problem, ProblemSource, ProblemStatus
from fangkong.command.reactions import CONTROL_LATE, INVESTIGATION_LATE, RESAMPLING_LATE
from fangkong.core import events
from fangkong.core.db import utcnow
from fangkong.testing.events import ResamplingOverdue
from fangkong.tracing import service as tracing
from fangkong.tracing.events import ControlOverdue, InvestigationOverdue
from tests.command.conftest import DC, T0, XINZHAN, committee, task_force
from tests.tracing.conftest import make_case, residents  # noqa: F401  (a fixture of the tracing tests)


def problem_of(session: Session, key: str) -> list[Problem]:
    return list(session.execute(select(Problem).where(Problem.source_key == key)).scalars())


def test_an_investigation_past_its_clock_becomes_a_problem(session: Session) -> None:
    event = InvestigationOverdue(jurisdiction_code=XINZHAN, case_id=770001, stage="core", due_at=T0)
    events.emit(session, event)
    events.emit(session, event)
    [problem] = problem_of(session, "tracing.investigation_overdue:770001:core")
    assert (problem.source, problem.status, problem.jurisdiction_code) == (
        ProblemSource.ALERT, ProblemStatus.OPEN, XINZHAN)
    assert problem.title == INVESTIGATION_LATE["core"] and problem.title_is_msgid
    assert problem.params["case_id"] == 770001
    assert problem.task_force_id == task_force(session, DC, "tracing").id
    assert problem.unit_id == committee(session, XINZHAN).id
    report = InvestigationOverdue(jurisdiction_code=XINZHAN, case_id=770001, stage="report", due_at=T0)
    events.emit(session, report)
    assert problem_of(session, "tracing.investigation_overdue:770001:report")[0].title == INVESTIGATION_LATE["report"]


def test_a_contact_not_under_control_in_time_becomes_a_problem(session: Session) -> None:
    event = ControlOverdue(jurisdiction_code=XINZHAN, contact_id=660001, person_id=1, kind="close", due_at=T0)
    events.emit(session, event)
    events.emit(session, event)
    [problem] = problem_of(session, "tracing.control_overdue:660001")
    assert problem.title == CONTROL_LATE and problem.params["kind"] == "close"
    assert problem.due_at is not None and problem.found_at is not None
    assert problem.due_at - problem.found_at == timedelta(hours=24)  # the alert clock of standards.toml


def test_a_re_sampling_order_overdue_becomes_a_problem(session: Session) -> None:
    event = ResamplingOverdue(jurisdiction_code=XINZHAN, order_id=550001, kind="retest", missing=3, due_at=T0)
    events.emit(session, event)
    events.emit(session, event)
    [problem] = problem_of(session, "testing.resampling_overdue:550001")
    assert problem.title == RESAMPLING_LATE and problem.params["missing"] == 3
    assert problem.task_force_id == task_force(session, DC, "testing").id


def test_tracing_s_own_alerts_reach_the_problem_list(session: Session, as_user, make_case) -> None:  # noqa: F811
    person = residents(session, XINZHAN, 1)[0]
    case = make_case(person, hours_ago=5)  # core information due 4 h after the report: 1 h late
    as_user("dongchang_tracer")
    assert tracing.raise_overdue_alerts(session, now=utcnow()) >= 1
    [problem] = problem_of(session, f"tracing.investigation_overdue:{case.id}:core")
    assert problem.jurisdiction_code == XINZHAN and problem.reported_by_id is None
