"""Coverage (应检尽检): the funnel per area, the door-to-door list, and turnaround per lab."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.errors import Conflict, Invalid, NotFound
from fangkong.core.scope import system_access
from fangkong.people.models import Person, Whereabouts
from fangkong.testing import coverage, service
from fangkong.testing.models import DoorMark, NoSampleReason, Outcome, Round, SamplingSite, Tube, TubeResult
from fangkong.testing.schemas import DoorVisitIn

from .conftest import JIANGNAN, XINZHAN, ResultPoster, residents, sample, tube_code


def at_home(session: Session, prefix: str) -> int:
    with system_access(session):
        return int(session.execute(select(func.count()).select_from(Person).where(
            Person.jurisdiction_code.startswith(prefix), Person.whereabouts == Whereabouts.AT_HOME)).scalar_one())


def test_the_funnel_counts_target_sampled_results_and_positives_per_area(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    xinzhan, jiangnan = residents(session, XINZHAN), residents(session, JIANGNAN)
    # One of 新站's residents is in central isolation: no longer part of the target.
    xinzhan[-1].whereabouts = Whereabouts.ISOLATED
    session.flush()
    sample(session, round_, site, negative := tube_code(), xinzhan[:4])
    sample(session, round_, site, positive := tube_code(), xinzhan[4:6] + jiangnan[:1])
    sample(session, round_, site, tube_code(), jiangnan[1:3])  # no result yet
    post_result(negative, Outcome.NEGATIVE)
    post_result(positive, Outcome.POSITIVE)

    street = coverage.coverage(session, round_, "220502001")
    assert street.total.target == at_home(session, "220502001") and street.total.sampled == 9
    assert (street.total.resulted, street.total.controlled, street.positive_pools) == (7, 3, 1)
    rows = {c.code: c for c in street.children}
    assert rows[XINZHAN].target == len(xinzhan) - 1 and rows[XINZHAN].sampled == 6 and rows[XINZHAN].resulted == 6
    assert rows[JIANGNAN].sampled == 3 and rows[JIANGNAN].resulted == 1 and rows[JIANGNAN].controlled == 1
    assert rows[XINZHAN].missing == len(xinzhan) - 1 - 6

    city = coverage.coverage(session, round_)
    assert city.total.target == at_home(session, "2205") and city.total.sampled == 9
    assert {c.code for c in city.children} == {"220502", "220503", "220521", "220523", "220524", "220581", "220582"}


def test_an_invalid_tube_no_longer_counts_as_sampled(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    sample(session, round_, site, code := tube_code(), residents(session, XINZHAN, 3))
    post_result(code, Outcome.INVALID)
    assert coverage.coverage(session, round_, XINZHAN).total.sampled == 0


def test_a_viewer_counts_but_cannot_list(session: Session, round_: Round, site: SamplingSite, as_user) -> None:  # type: ignore[no-untyped-def]
    sample(session, round_, site, tube_code(), residents(session, XINZHAN, 2))
    as_user("viewer")
    assert coverage.coverage(session, round_, XINZHAN).total.sampled == 2
    with pytest.raises(NotFound):  # a list the user may not read is answered like a missing one
        coverage.untested(session, round_, XINZHAN)


def test_the_untested_list_leaves_out_the_sampled_and_the_isolated_in_door_order(
        session: Session, round_: Round, site: SamplingSite) -> None:
    people = residents(session, XINZHAN)
    people[0].whereabouts = Whereabouts.IN_HOSPITAL
    session.flush()
    sample(session, round_, site, tube_code(), people[1:3])
    listed = coverage.untested(session, round_, XINZHAN, size=200)
    ids = [m.person.id for m in listed.items]
    assert set(ids) == {p.id for p in people[3:]} and listed.total == len(people) - 3
    keys = [(m.compound, m.building, m.unit, m.door) for m in listed.items]
    assert keys == sorted(keys)


def test_door_marks_keep_the_latest_and_refuse_the_sampled(
        session: Session, round_: Round, site: SamplingSite, as_user) -> None:  # type: ignore[no-untyped-def]
    people = residents(session, XINZHAN, 3)
    sample(session, round_, site, tube_code(), people[:1])
    as_user("dongchang_worker")
    coverage.mark_door(session, round_, people[1].id, DoorVisitIn(mark=DoorMark.VISITED))
    visit = coverage.mark_door(session, round_, people[1].id, DoorVisitIn(
        mark=DoorMark.CANNOT_BE_SAMPLED, reason=NoSampleReason.AWAY, note="在外地"))
    assert (visit.mark, visit.reason, visit.note) == (DoorMark.CANNOT_BE_SAMPLED, NoSampleReason.AWAY, "在外地")
    listed = {m.person.id: m.visit for m in coverage.untested(session, round_, XINZHAN, size=200).items}
    assert listed[people[1].id] is not None and listed[people[1].id].reason is NoSampleReason.AWAY
    with pytest.raises(Conflict):
        coverage.mark_door(session, round_, people[0].id, DoorVisitIn(mark=DoorMark.VISITED))


def test_a_door_outside_the_round_is_refused(session: Session, site: SamplingSite) -> None:
    from fangkong.core.db import utcnow
    from fangkong.testing.schemas import RoundIn

    small = service.create_round(session, RoundIn(name="江南", jurisdiction_code=JIANGNAN, starts_at=utcnow()))
    with pytest.raises(Invalid):
        coverage.mark_door(session, small, residents(session, XINZHAN, 1)[0].id, DoorVisitIn(mark=DoorMark.VISITED))


def test_turnaround_is_measured_from_the_last_sample_to_the_test_per_lab(
        session: Session, round_: Round, site: SamplingSite, lab) -> None:  # type: ignore[no-untyped-def]
    base = datetime.now(UTC) - timedelta(hours=30)
    hours = [2, 4, 6, 8, 20]
    for i, h in enumerate(hours):
        code = tube_code()
        sample(session, round_, site, code, residents(session, XINZHAN)[i * 2:i * 2 + 2], at=base)
        tube = session.execute(select(Tube).where(Tube.code == code)).scalar_one()
        session.add(TubeResult(tube_id=tube.id, outcome=Outcome.NEGATIVE, tested_at=base + timedelta(hours=h),
                               lab_id=lab.id, jurisdiction_code=tube.jurisdiction_code))
    session.flush()
    [row] = coverage.turnaround(session, round_)
    assert (row.lab_id, row.lab_name, row.tubes) == (lab.id, lab.name, 5)
    assert row.median_hours == pytest.approx(6)
    assert row.p95_hours == pytest.approx(17.6)  # numpy's linear interpolation between 8 and 20
