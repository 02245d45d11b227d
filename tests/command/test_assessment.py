"""The assessment on a hand-made dataset whose figures are known: tasks on time, late and overdue, problems
closed, the median time to a verified rectification, and the ranking, per unit and per task force."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from fangkong.command import assessment, organisation, problems, service
from fangkong.command.models import OrgUnit, Problem
from fangkong.command.schemas import ProblemIn, RectificationIn, TaskForceIn
from tests.command.conftest import DC, DONGTONGHUA, T0, XINZHAN, TaskMaker, hours

NOW = hours(100)


@pytest.fixture
def dataset(session: Session, as_user, make_unit, make_task: TaskMaker, make_measure) -> dict[str, object]:
    """Three units and two task forces of 东昌区, a unit working in 二道江区, and their work."""
    u1, u2, u3 = (make_unit(DC, name) for name in ("一号单位", "二号单位", "三号单位"))
    far = make_unit(DONGTONGHUA, "二道江单位")
    f1, f2 = (organisation.create_task_force(session, TaskForceIn(jurisdiction_code=DC, name=name))
              for name in ("甲专班", "乙专班"))

    def task(unit: OrgUnit, due: float, done: float | None = None, force: int | None = None, code: str = DC) -> None:
        t = make_task(code, unit=unit, due=due, task_force_id=force)
        if done is not None:
            service.complete(session, t, outcome="完成", now=hours(done))

    task(u1, 10, 5, f1.id)  # on time
    task(u1, 10, 8)  # on time
    task(u1, 10, 20, f1.id)  # late
    task(u1, 200)  # open, not yet due
    service.cancel(session, make_task(DC, unit=u1, due=10), reason="撤销", now=hours(1))  # not counted
    task(u2, 10, 5, f2.id)  # on time
    task(u2, 50, None, f2.id)  # overdue by NOW
    task(u3, 10, 1)  # on time
    task(far, 10, 1, code=DONGTONGHUA)

    def problem(unit: OrgUnit, force: int | None = None) -> Problem:
        return problems.file_problem(session, ProblemIn(jurisdiction_code=DC, title="问题", unit_id=unit.id,
                                                        task_force_id=force), now=T0)

    verifications: list[tuple[object, float]] = []

    def verified_measure(p: Problem, unit: OrgUnit, after: float) -> None:
        measure = make_measure(p, unit=unit, due=90)
        verifications.append((problems.submit_rectification(session, measure, RectificationIn(evidence="x"),
                                                             now=hours(after / 2)), after))

    p1, p2, p3 = problem(u1, f1.id), problem(u1), problem(u2)
    verified_measure(p1, u1, 2)
    verified_measure(p1, u1, 10)
    verified_measure(p2, u1, 4)
    make_measure(p2, unit=u1, due=90)  # still open: p2 stays open
    verified_measure(p3, u2, 1)
    verified_measure(p3, u2, 3)
    as_user("dongchang_commander")  # verifies what the system submitted
    for rect, after in verifications:
        problems.verify(session, rect, passed=True, now=hours(after))  # type: ignore[arg-type]
    return {"u1": u1, "u2": u2, "u3": u3, "far": far, "f1": f1, "f2": f2}


def test_the_figures_of_each_unit(session: Session, dataset: dict) -> None:
    scores = {s.id: s for s in assessment.assess_units(session, now=NOW)}
    u1, u2, u3 = (scores[dataset[k].id] for k in ("u1", "u2", "u3"))
    assert (u1.tasks, u1.done_on_time, u1.done_late, u1.overdue) == (4, 2, 1, 0)
    assert (u2.tasks, u2.done_on_time, u2.done_late, u2.overdue) == (2, 1, 0, 1)
    assert (u3.tasks, u3.done_on_time, u3.done_late, u3.overdue) == (1, 1, 0, 0)
    assert (u1.problems, u1.problems_closed, u2.problems, u2.problems_closed) == (2, 1, 1, 1)
    assert u1.median_hours_to_verified == pytest.approx(4)  # 2, 4, 10
    assert u2.median_hours_to_verified == pytest.approx(2)  # 1, 3: the mean of the middle two
    assert u3.median_hours_to_verified is None and u3.problems == 0
    assert u1.on_time_rate == pytest.approx(2 / 3) and u3.closed_rate is None


def test_units_are_ranked_best_first(session: Session, dataset: dict) -> None:
    ranked = assessment.assess_units(session, under=DC, now=NOW)
    assert [(s.name, s.rank) for s in ranked] == [("三号单位", 1), ("一号单位", 2), ("二号单位", 3)]


def test_the_figures_of_each_task_force(session: Session, dataset: dict) -> None:
    ranked = assessment.assess_task_forces(session, now=NOW)
    assert [s.name for s in ranked] == ["甲专班", "乙专班"]  # equal on-time rates; 乙 has one overdue
    f1, f2 = ranked
    assert (f1.tasks, f1.done_on_time, f1.done_late, f1.overdue) == (2, 1, 1, 0)
    assert (f2.tasks, f2.done_on_time, f2.done_late, f2.overdue) == (2, 1, 0, 1)
    assert (f1.problems, f1.problems_closed, f1.median_hours_to_verified) == (1, 1, pytest.approx(6))
    assert (f2.problems, f2.median_hours_to_verified) == (0, None)
    assert (f1.rank, f2.rank) == (1, 2)


def test_a_district_assesses_the_work_in_its_own_jurisdiction(session: Session, as_user, dataset: dict) -> None:
    as_user("dongchang_commander")
    seen = {s.id for s in assessment.assess_units(session, now=NOW)}
    assert dataset["far"].id not in seen and dataset["u1"].id in seen
    as_user("viewer")  # aggregates only: the figures, never a task
    assert {s.id for s in assessment.assess_units(session, now=NOW)} >= {dataset["far"].id, dataset["u1"].id}


def test_equal_figures_share_a_rank(session: Session, as_user, make_unit, make_task: TaskMaker) -> None:
    a, b, c = (make_unit(XINZHAN, name) for name in ("甲", "乙", "丙"))
    for unit, done in ((a, 1), (b, 1), (c, 20)):
        service.complete(session, make_task(XINZHAN, unit=unit, due=10), outcome="x", now=hours(done))
    ranked = assessment.assess_units(session, under=XINZHAN, now=NOW)
    assert [(s.name, s.rank) for s in ranked] == [("乙", 1), ("甲", 1), ("丙", 3)]
