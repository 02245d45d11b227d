"""The problem loop: open → measures → rectification submitted → verified closes, failed reopens; the verifier
is not the doer; nothing closes without a verified rectification."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.command import problems, service
from fangkong.command.models import (
    MEASURE_TRANSITIONS,
    MeasureStatus,
    Problem,
    ProblemSource,
    ProblemStatus,
    RectificationStatus,
)
from fangkong.command.schemas import AttachmentIn, MeasureIn, ProblemIn, ProgressIn, RectificationIn
from fangkong.core.errors import Conflict, Forbidden, Invalid
from tests.command.conftest import DC, T0, XINZHAN, ProblemMaker, TaskMaker, committee, hours, user_id


def test_a_problem_is_open_until_it_has_a_measure(session: Session, as_user, make_problem: ProblemMaker,
                                                  make_measure) -> None:
    as_user("dongchang_commander")
    problem = make_problem(XINZHAN)
    assert problem.status is ProblemStatus.OPEN and problem.source is ProblemSource.MANUAL
    assert problem.due_at == hours(72)  # the standard clock of standards.toml
    measure = make_measure(problem, unit=committee(session, XINZHAN))
    assert problem.status is ProblemStatus.RECTIFYING
    assert measure.status is MeasureStatus.OPEN and measure.jurisdiction_code == XINZHAN


def test_a_measure_has_an_owner_and_a_deadline_to_come(session: Session, as_user, make_problem: ProblemMaker) -> None:
    as_user("dongchang_commander")
    problem = make_problem(XINZHAN)
    with pytest.raises(Invalid):
        problems.add_measure(session, problem, MeasureIn(title="x"), now=T0)
    with pytest.raises(Invalid):
        problems.add_measure(session, problem, MeasureIn(title="x", owner_name="张三", due_at=hours(-1)), now=T0)
    measure = problems.add_measure(session, problem, MeasureIn(title="x", owner_name="张三"), now=T0)
    assert measure.due_at == hours(48)


def test_a_verified_rectification_closes_the_problem(session: Session, as_user, make_problem: ProblemMaker,
                                                     make_measure, files_root: Path) -> None:
    as_user("dongchang_commander")
    problem = make_problem(XINZHAN)
    measure = make_measure(problem, unit=committee(session, XINZHAN), owner="dongchang_worker")
    as_user("dongchang_worker")
    rect = problems.submit_rectification(session, measure, RectificationIn(evidence="已增设2个采样台"),
                                         files=[AttachmentIn(filename="现场.jpg", data=b"jpeg")], now=hours(10),
                                         root=files_root)
    assert measure.status is MeasureStatus.SUBMITTED and rect.status is RectificationStatus.SUBMITTED
    assert rect.verify_due_at == hours(34) and [a.filename for a in rect.attachments] == ["现场.jpg"]
    assert problem.status is ProblemStatus.RECTIFYING
    as_user("dongchang_commander")
    problems.verify(session, rect, passed=True, verdict="现场核实", now=hours(12))
    assert rect.status is RectificationStatus.VERIFIED
    assert rect.verified_by_id == user_id(session, "dongchang_commander")
    assert measure.status is MeasureStatus.VERIFIED and measure.seconds_to_verified == 12 * 3600
    assert problem.status is ProblemStatus.CLOSED and problem.closed_at == hours(12)


def test_a_failed_verification_reopens_the_measure(session: Session, as_user, make_problem: ProblemMaker,
                                                   make_measure) -> None:
    as_user("dongchang_commander")
    problem = make_problem(XINZHAN)
    measure = make_measure(problem, owner="dongchang_worker", due=24)
    as_user("dongchang_worker")
    first = problems.submit_rectification(session, measure, RectificationIn(evidence="已整改"), now=hours(5))
    as_user("dongchang_commander")
    with pytest.raises(Invalid):
        problems.verify(session, first, passed=False, now=hours(6))
    problems.verify(session, first, passed=False, verdict="现场仍有排队", now=hours(6))
    assert first.status is RectificationStatus.REJECTED
    assert measure.status is MeasureStatus.OPEN and measure.times_reopened == 1
    assert problem.status is ProblemStatus.RECTIFYING
    with pytest.raises(Conflict):
        problems.verify(session, first, passed=True, now=hours(7))
    as_user("dongchang_worker")
    second = problems.submit_rectification(session, measure, RectificationIn(evidence="再次整改"), now=hours(8))
    as_user("dongchang_commander")
    problems.verify(session, second, passed=True, now=hours(9))
    assert problem.status is ProblemStatus.CLOSED
    assert [r.status for r in measure.rectifications] == [RectificationStatus.REJECTED, RectificationStatus.VERIFIED]


def test_a_failed_verification_past_the_deadline_leaves_the_measure_overdue(
        session: Session, as_user, make_problem: ProblemMaker, make_measure) -> None:
    as_user("dongchang_commander")
    measure = make_measure(make_problem(XINZHAN), owner="dongchang_worker", due=4)
    as_user("dongchang_worker")
    rect = problems.submit_rectification(session, measure, RectificationIn(evidence="x"), now=hours(3))
    as_user("dongchang_commander")
    problems.verify(session, rect, passed=False, verdict="不合格", now=hours(5))
    assert measure.status is MeasureStatus.OVERDUE
    as_user("dongchang_worker")
    rect = problems.submit_rectification(session, measure, RectificationIn(evidence="y"), now=hours(6))
    as_user("dongchang_commander")
    problems.verify(session, rect, passed=False, verdict="仍不合格", new_due_at=hours(30), now=hours(7))
    assert measure.status is MeasureStatus.OPEN and measure.due_at == hours(30) and measure.times_reopened == 2


def test_the_verifier_must_not_be_the_doer(session: Session, as_user, make_problem: ProblemMaker,
                                           make_measure) -> None:
    as_user("dongchang_commander")
    problem = make_problem(XINZHAN)
    owned = make_measure(problem, owner="dongchang_worker")
    unowned = make_measure(problem, unit=committee(session, XINZHAN))
    as_user("dongchang_worker")
    rect = problems.submit_rectification(session, owned, RectificationIn(evidence="x"), now=hours(1))
    with pytest.raises(Forbidden):
        problems.verify(session, rect, passed=True, now=hours(2))
    other = problems.submit_rectification(session, unowned, RectificationIn(evidence="x"), now=hours(1))
    with pytest.raises(Forbidden):  # submitted by the worker, who therefore cannot verify it either
        problems.verify(session, other, passed=True, now=hours(2))
    as_user("dongchang_commander")
    problems.verify(session, rect, passed=True, now=hours(3))
    assert problem.status is ProblemStatus.RECTIFYING  # one measure still unverified
    problems.verify(session, other, passed=True, now=hours(3))
    assert problem.status is ProblemStatus.CLOSED


def test_the_owner_of_a_measure_cannot_verify_what_someone_else_submitted(
        session: Session, as_user, make_problem: ProblemMaker, make_measure) -> None:
    as_user("dongchang_commander")
    measure = make_measure(make_problem(DC), owner="dongchang_commander")
    as_user("city_commander")
    rect = problems.submit_rectification(session, measure, RectificationIn(evidence="由市里代报"), now=hours(1))
    as_user("dongchang_commander")
    with pytest.raises(Forbidden):
        problems.verify(session, rect, passed=True, now=hours(2))


def test_the_system_does_not_verify(session: Session, make_problem: ProblemMaker, make_measure) -> None:
    measure = make_measure(make_problem(XINZHAN), owner="dongchang_worker")
    rect = problems.submit_rectification(session, measure, RectificationIn(evidence="x"), now=hours(1))
    with pytest.raises(Forbidden):
        problems.verify(session, rect, passed=True, now=hours(2))


def test_nothing_closes_without_a_verified_rectification(session: Session, as_user, make_problem: ProblemMaker,
                                                         make_measure) -> None:
    as_user("dongchang_commander")
    bare = make_problem(XINZHAN)
    with pytest.raises(Conflict):
        problems.close_problem(session, bare)
    measure = make_measure(bare, owner="dongchang_worker")
    with pytest.raises(Conflict):
        problems.close_problem(session, bare)
    as_user("dongchang_worker")
    rect = problems.submit_rectification(session, measure, RectificationIn(evidence="x"), now=hours(1))
    with pytest.raises(Conflict):
        problems.close_problem(session, bare)
    as_user("dongchang_commander")
    problems.verify(session, rect, passed=True, now=hours(2))
    assert bare.status is ProblemStatus.CLOSED
    with pytest.raises(Conflict):
        problems.close_problem(session, bare)
    with pytest.raises(Conflict):
        problems.add_measure(session, bare, MeasureIn(title="x", owner_name="y"), now=hours(3))
    assert all(MeasureStatus.VERIFIED not in MEASURE_TRANSITIONS[s] for s in (MeasureStatus.OPEN,
                                                                             MeasureStatus.OVERDUE))


def test_a_rectification_needs_evidence_and_an_open_measure(session: Session, as_user, make_problem: ProblemMaker,
                                                            make_measure) -> None:
    as_user("dongchang_worker")
    measure = make_measure(make_problem(XINZHAN), unit=committee(session, XINZHAN))
    with pytest.raises(Invalid):
        problems.submit_rectification(session, measure, RectificationIn(evidence=" "), now=hours(1))
    problems.submit_rectification(session, measure, RectificationIn(evidence="x"), now=hours(1))
    with pytest.raises(Conflict):
        problems.submit_rectification(session, measure, RectificationIn(evidence="again"), now=hours(2))


def test_a_progress_report_can_raise_a_problem(session: Session, as_user, make_task: TaskMaker) -> None:
    as_user("dongchang_worker")
    unit = committee(session, XINZHAN)
    task = make_task(XINZHAN, unit=unit)
    report = service.report_progress(session, task, ProgressIn(text="3号楼有独居老人缺药", percent=50,
                                                               problem="独居老人缺少常用药"), now=hours(2))
    [problem] = session.execute(problems.problems(task_id=task.id)).scalars().all()
    assert (problem.source, problem.report_id, problem.unit_id, problem.jurisdiction_code) == (
        ProblemSource.PROGRESS_REPORT, report.id, unit.id, XINZHAN)
    assert problem.found_at == hours(2)


def test_a_problem_filed_twice_under_one_key_is_one_problem(session: Session) -> None:
    data = ProblemIn(jurisdiction_code=XINZHAN, title="x", source=ProblemSource.INSPECTION)
    first = problems.file_problem(session, data, source_key="inspection:1:finding:1", now=T0)
    again = problems.file_problem(session, data, source_key="inspection:1:finding:1", now=T0)
    assert first is again
    assert len(session.execute(select(Problem).where(Problem.source_key == "inspection:1:finding:1")).all()) == 1


def test_every_source_of_the_issue_is_accepted(session: Session) -> None:
    for source in ("inspection", "direct_channel", "progress_report", "alert", "manual"):
        problem = problems.file_problem(session, ProblemIn(jurisdiction_code=XINZHAN, title="x",
                                                           source=ProblemSource(source)), now=T0)
        assert problem.source.value == source
