"""The flow charts' live counts per state (``command.loops``), checked against records made in the test:
each loop counts what it should, and a district counts its own work, never a neighbour's.

The demo city may hold records of its own, so each test counts before and after it adds its records and
checks the difference."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.command import loops, problems, service
from fangkong.command.models import Rectification, Task, TaskStatus
from fangkong.command.schemas import RectificationIn
from fangkong.core.db import utcnow
from fangkong.geo.models import Facility, FacilityKind
from fangkong.people.models import Person, Whereabouts
from fangkong.testing import service as testing
from fangkong.testing.models import Outcome, Tube, TubeResult
from fangkong.testing.schemas import RoundIn, SampleBatch, SiteIn
from fangkong.tracing import service as tracing
from fangkong.tracing.models import CaseKind, Contact, ContactKind, FoundBy, RunState, TracingRun
from fangkong.tracing.schemas import CaseIn
from tests.command.conftest import DC, DONGTONGHUA, EDJ, T0, XINZHAN, TaskMaker, hours

NOW = hours(50)


def delta(before: loops.Loop, after: loops.Loop) -> dict[str, int]:
    """How much each stage grew."""
    return {s.key: after.count(s.key) - before.count(s.key) for s in after.stages}


def work_records(session: Session, make_unit, make_task: TaskMaker, make_problem,  # type: ignore[no-untyped-def]
                 make_measure) -> Rectification:
    """In 新站社区: a task done on time, one done late, one in progress, one assigned, one overdue by the
    sweep and one past its deadline the sweep has not reached; a problem closed, one being rectified with a
    submitted and an overdue measure, one with no measure. In 东通化社区 (二道江区): one assigned task and
    one open problem."""
    unit = make_unit(XINZHAN, "新站社区防控组")
    service.complete(session, make_task(XINZHAN, unit=unit, due=10), outcome="完成", now=hours(5))
    service.complete(session, make_task(XINZHAN, unit=unit, due=10), outcome="完成", now=hours(20))
    service.start(session, make_task(XINZHAN, unit=unit, due=100), now=hours(1))
    make_task(XINZHAN, unit=unit, due=100)
    swept = make_task(XINZHAN, unit=unit, due=10)
    swept.move_to(TaskStatus.OVERDUE, hours(11))
    make_task(XINZHAN, unit=unit, due=40)  # past its deadline at NOW, still "assigned"
    make_task(DONGTONGHUA, unit=make_unit(DONGTONGHUA, "东通化社区防控组"), due=100)

    closed = make_problem(XINZHAN, title="消杀不到位")
    measure = make_measure(closed, unit=unit, due=24)
    rect = problems.submit_rectification(session, measure, RectificationIn(evidence="已整改"), now=hours(2))
    rectifying = make_problem(XINZHAN, title="采样点排队过长")
    problems.submit_rectification(session, make_measure(rectifying, unit=unit, due=90), RectificationIn(evidence="x"),
                                  now=hours(3))
    make_measure(rectifying, unit=unit, due=30)  # past its deadline at NOW
    make_problem(XINZHAN, title="物资配送不及时")
    make_problem(DONGTONGHUA, title="二道江区的问题")
    return rect


def test_the_work_loop_counts_each_task_in_one_stage(session: Session, as_user, make_unit, make_task: TaskMaker,
                                                     make_problem, make_measure) -> None:
    as_user("dongchang_commander")
    before = loops.work_loop(session, now=NOW)
    as_user("admin")
    work_records(session, make_unit, make_task, make_problem, make_measure)
    as_user("dongchang_commander")
    got = delta(before, loops.work_loop(session, now=NOW))
    assert got == {"assigned": 1, "in_progress": 1, "done_on_time": 1, "overdue": 2, "done_late": 1}
    figures = loops.work_figures(session, under=XINZHAN, now=NOW)
    assert (figures.tasks, figures.on_schedule, figures.done_on_time, figures.done_late, figures.overdue) == (6, 2, 1,
                                                                                                              1, 2)
    assert (figures.problems_open, figures.problems_closed) == (3, 0)


def test_the_problem_loop_follows_measures_to_verification_and_closing(
        session: Session, as_user, make_unit, make_task: TaskMaker, make_problem, make_measure) -> None:
    before = loops.problem_loop(session, under=DC, now=NOW)
    rect = work_records(session, make_unit, make_task, make_problem, make_measure)
    as_user("dongchang_commander")  # the verifier is not who submitted it
    problems.verify(session, rect, passed=True, now=hours(4))
    got = delta(before, loops.problem_loop(session, under=DC, now=NOW))
    assert got == {"problems": 3, "open": 1, "measures": 3, "measures_overdue": 1, "rectifications": 2,
                   "awaiting": 1, "rejected": 0, "verified": 1, "rectifying": 1, "closed": 1}
    assert loops.work_figures(session, under=XINZHAN, now=NOW).problems_closed == 1


def test_a_district_counts_its_own_work_and_not_its_neighbours(
        session: Session, as_user, make_unit, make_task: TaskMaker, make_problem, make_measure) -> None:
    as_user("dongchang_commander")
    dc_before = loops.work_loop(session, now=NOW), loops.problem_loop(session, now=NOW)
    as_user("erdaojiang_worker")
    edj_before = loops.work_loop(session, now=NOW), loops.problem_loop(session, now=NOW)
    as_user("city_commander")
    city_before = loops.work_loop(session, now=NOW)

    as_user("admin")
    work_records(session, make_unit, make_task, make_problem, make_measure)

    as_user("dongchang_commander")
    assert sum(delta(dc_before[0], loops.work_loop(session, now=NOW)).values()) == 6
    assert delta(dc_before[1], loops.problem_loop(session, now=NOW))["problems"] == 3
    # Asking for the neighbour's area counts nothing: the scope still applies.
    assert loops.work_figures(session, under=EDJ, now=NOW).tasks == 0
    as_user("erdaojiang_worker")
    assert delta(edj_before[0], loops.work_loop(session, now=NOW)) == {
        "assigned": 1, "in_progress": 0, "done_on_time": 0, "overdue": 0, "done_late": 0}
    assert delta(edj_before[1], loops.problem_loop(session, now=NOW))["problems"] == 1
    as_user("city_commander")
    assert sum(delta(city_before, loops.work_loop(session, now=NOW)).values()) == 7
    by_area = loops.work_by_area(session, [DC, EDJ, XINZHAN], now=NOW)
    assert by_area[XINZHAN].tasks == 6 and by_area[EDJ].tasks >= 1
    assert by_area[DC].tasks >= by_area[XINZHAN].tasks


def _people(session: Session, code: str, n: int, skip: int = 40) -> list[Person]:
    found = session.execute(select(Person).where(Person.jurisdiction_code == code,
                                                 Person.whereabouts == Whereabouts.AT_HOME)
                            .order_by(Person.id).offset(skip).limit(n)).scalars().all()
    assert len(found) == n
    return list(found)


def test_the_testing_loop_counts_tubes_results_positive_pools_and_controls(session: Session, as_user) -> None:
    now = utcnow()
    as_user("dongchang_commander")
    dc_before = loops.testing_loop(session, now=now)
    as_user("erdaojiang_worker")
    edj_before = loops.testing_loop(session, now=now)
    as_user("admin")
    round_ = testing.create_round(session, RoundIn(name="环路计数轮", jurisdiction_code="2205",
                                                   starts_at=now - timedelta(hours=1)))
    site = testing.create_site(session, SiteIn(name="新站环路采样点", jurisdiction_code=XINZHAN, opens_at=time(0),
                                               closes_at=time(23, 59), serves=[XINZHAN]))
    people = _people(session, XINZHAN, 3)
    at = (now - timedelta(minutes=20)).isoformat()
    tubes = {"LOOP00001": people[:2], "LOOP00002": people[2:]}
    entries = [{"client_id": f"loop-{code}-{p.id}", "tube_code": code, "person_id": p.id, "sampled_at": at}
               for code, members in tubes.items() for p in members]
    assert testing.register_batch(session, SampleBatch.model_validate(
        {"round_id": round_.id, "site_id": site.id, "entries": entries})).stored == 3
    lab = session.execute(select(Facility.id).where(Facility.kind == FacilityKind.LAB,
                                                    Facility.jurisdiction_code == DC)).scalar_one()
    testing.send_tubes(session, list(tubes), lab)
    ids = dict(session.execute(select(Tube.code, Tube.id).where(Tube.round_id == round_.id)).all())
    for code, outcome in (("LOOP00001", Outcome.POSITIVE), ("LOOP00002", Outcome.NEGATIVE)):
        session.add(TubeResult(tube_id=ids[code], outcome=outcome, tested_at=now, lab_id=lab,
                               jurisdiction_code=XINZHAN))
    session.flush()
    assert testing.apply_results(session, list(ids.values()))["controlled"] == 2

    as_user("dongchang_commander")
    got = delta(dc_before, loops.testing_loop(session, now=now))
    assert {k: got[k] for k in ("sampled", "resulted", "positive_pools", "controlled", "still_controlled",
                                "released", "positive", "resampled")} == {
        "sampled": 2, "resulted": 2, "positive_pools": 1, "controlled": 2, "still_controlled": 2, "released": 0,
        "positive": 0, "resampled": 0}
    later = loops.testing_loop(session, now=now + timedelta(hours=3))  # the re-sampling clock (2 h) ran out
    assert later.count("late_orders") - dc_before.count("late_orders") >= 1
    as_user("erdaojiang_worker")
    assert set(delta(edj_before, loops.testing_loop(session, now=now)).values()) == {0}


def test_the_tracing_loop_counts_cases_investigations_and_contacts(session: Session, as_user) -> None:
    now = utcnow()
    as_user("dongchang_commander")
    dc_before = loops.tracing_loop(session, now=now)
    as_user("erdaojiang_worker")
    edj_before = loops.tracing_loop(session, now=now)
    as_user("admin")
    first, second, contact_a, contact_b = _people(session, XINZHAN, 4, skip=60)
    reported = now - timedelta(hours=30)  # both investigation clocks (4 h, 24 h) have run out

    def case_of(person: Person) -> int:
        case = tracing.report_case(session, CaseIn(person_id=person.id, kind=CaseKind.CONFIRMED,
                                                   found_by=FoundBy.FEVER_CLINIC, reported_at=reported,
                                                   sampled_at=reported - timedelta(hours=1)))
        return case.id

    done_id, late_id = case_of(first), case_of(second)
    done = tracing.get_case(session, done_id)
    tracing.complete_core(session, done.investigation)
    done.investigation.symptoms = "发热"
    tracing.complete_report(session, done.investigation)
    run = TracingRun(jurisdiction_code=DC, ruleset="protocol-8", case_ids=[done_id], state=RunState.DONE)
    session.add(run)
    session.flush()
    session.add_all([Contact(person_id=p.id, jurisdiction_code=p.jurisdiction_code, kind=ContactKind.CLOSE,
                             case_id=done_id, first_exposure=reported - timedelta(days=2),
                             last_exposure=reported - timedelta(days=2) + timedelta(hours=1), run_id=run.id,
                             due_at=due) for p, due in ((contact_a, now - timedelta(hours=1)),
                                                        (contact_b, now + timedelta(hours=5)))])
    session.flush()
    tracing.mark_controlled(session, session.execute(select(Contact).where(Contact.person_id == contact_b.id))
                            .scalar_one())

    as_user("dongchang_commander")
    got = delta(dc_before, loops.tracing_loop(session, now=now))
    assert got == {"cases": 2, "core": 1, "investigated": 1, "late_investigations": 1, "contacts": 2,
                   "under_control": 1, "late_contacts": 1}
    assert late_id != done_id
    as_user("erdaojiang_worker")
    assert set(delta(edj_before, loops.tracing_loop(session, now=now)).values()) == {0}


def test_a_viewer_counts_the_whole_city_but_never_sees_an_item(session: Session, as_user,
                                                                make_task: TaskMaker, make_unit) -> None:
    as_user("viewer")
    before = loops.work_loop(session, now=NOW)
    as_user("admin")
    make_task(DONGTONGHUA, unit=make_unit(DONGTONGHUA, "东通化社区防控组"), due=100)
    as_user("viewer")
    assert delta(before, loops.work_loop(session, now=NOW))["assigned"] == 1
    assert session.execute(select(Task)).first() is None  # counts, never the tasks themselves
    assert T0 < NOW
