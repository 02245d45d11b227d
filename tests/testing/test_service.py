"""Rounds, sites, sampling registration and every state change of the pool loop."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.db import utcnow
from fangkong.core.errors import Conflict, Forbidden, Invalid
from fangkong.core.events import EventRecord
from fangkong.core.scope import system_access
from fangkong.testing import service
from fangkong.testing.models import (
    Control,
    ControlReason,
    ControlState,
    OrderKind,
    Outcome,
    Purpose,
    ResampleOrder,
    Risk,
    Round,
    Sample,
    SamplingSite,
    Tube,
    TubeState,
)
from fangkong.testing.schemas import AreaIn, EntryStatus, RoundIn, SampleBatch, SampleEntry

from .conftest import DONGTONGHUA, JIANGNAN, XINZHAN, ResultPoster, residents, sample, tube_code


def events_named(session: Session, name: str) -> list[EventRecord]:
    return list(session.execute(select(EventRecord).where(EventRecord.name == name)
                                .order_by(EventRecord.id)).scalars())


def controls_of(session: Session, round_: Round) -> dict[int, Control]:
    with system_access(session):
        return {c.person_id: c for c in session.execute(select(Control).where(Control.round_id == round_.id)).scalars()}


# ------------------------------------------------------------------------------------------- rounds


def test_a_round_takes_its_deadline_and_pool_sizes_from_the_rule_set(session: Session) -> None:
    start = utcnow()
    r = service.create_round(session, RoundIn(name="r", jurisdiction_code="220502", starts_at=start,
                                              areas=[AreaIn(jurisdiction_code="220502001", risk=Risk.MEDIUM),
                                                     AreaIn(jurisdiction_code=XINZHAN, risk=Risk.HIGH)]))
    assert r.ruleset == "protocol-8"
    assert r.deadline - start == timedelta(hours=48)
    assert service.area_of(r, "220502002001") == (Risk.LOW, 10)
    assert service.area_of(r, JIANGNAN) == (Risk.MEDIUM, 5)
    assert service.area_of(r, XINZHAN) == (Risk.HIGH, 1)  # the narrowest area wins


def test_a_pool_size_the_rule_set_does_not_allow_is_refused(session: Session) -> None:
    with pytest.raises(Invalid) as caught:
        service.create_round(session, RoundIn(name="r", jurisdiction_code="220502", starts_at=utcnow(),
                                              areas=[AreaIn(jurisdiction_code=XINZHAN, risk=Risk.LOW, pool_size=20)]))
    assert caught.value.errors[0].field == "areas.0.pool_size"
    assert caught.value.errors[0].params == {"size": 20}


def test_an_area_outside_the_round_is_refused(session: Session) -> None:
    with pytest.raises(Invalid) as caught:
        service.create_round(session, RoundIn(name="r", jurisdiction_code="220502", starts_at=utcnow(),
                                              areas=[AreaIn(jurisdiction_code=DONGTONGHUA, risk=Risk.HIGH)]))
    assert caught.value.errors[0].field == "areas.0.jurisdiction_code"


def test_a_community_worker_cannot_open_a_round(session: Session, as_user) -> None:  # type: ignore[no-untyped-def]
    as_user("dongchang_worker")
    with pytest.raises(Forbidden):
        service.create_round(session, RoundIn(name="r", jurisdiction_code=XINZHAN, starts_at=utcnow()))


def test_a_district_sees_the_city_round_and_its_own_but_not_the_neighbours(
        session: Session, round_: Round, as_user) -> None:  # type: ignore[no-untyped-def]
    erdaojiang = service.create_round(session, RoundIn(name="二道江", jurisdiction_code="220503", starts_at=utcnow()))
    as_user("dongchang_testing")
    seen = {r.id for r in service.rounds(session)}
    assert round_.id in seen and erdaojiang.id not in seen


# ---------------------------------------------------------------------------------------- sampling


def test_a_batch_opens_the_tube_at_the_areas_pool_size_and_fills_it(
        session: Session, round_: Round, site: SamplingSite) -> None:
    people = residents(session, XINZHAN, 4)
    result = sample(session, round_, site, code := tube_code(), people)
    assert (result.stored, result.rejected) == (4, 0)
    tube = service.get_tube(session, code)
    assert (tube.pool_size, tube.filled, tube.state) == (10, 4, TubeState.OPEN)
    assert [s.person_id for s in tube.samples] == [p.id for p in people]


def test_a_batch_sent_twice_stores_each_sample_once(session: Session, round_: Round, site: SamplingSite) -> None:
    people = residents(session, XINZHAN, 3)
    code = tube_code()
    batch = SampleBatch(round_id=round_.id, site_id=site.id, entries=[
        SampleEntry(client_id=uuid.uuid4().hex, tube_code=code, person_id=p.id, sampled_at=utcnow()) for p in people])
    first = service.register_batch(session, batch)
    again = service.register_batch(session, batch)
    assert first.stored == 3 and again.stored == 0 and again.already_stored == 3
    assert [e.sample_id for e in again.entries] == [e.sample_id for e in first.entries]
    assert service.get_tube(session, code).filled == 3
    assert session.execute(select(func.count()).select_from(Sample).where(Sample.round_id == round_.id)).scalar() == 3


def test_a_person_scanned_twice_in_a_round_is_reported_not_stored(
        session: Session, round_: Round, site: SamplingSite) -> None:
    person = residents(session, XINZHAN, 1)[0]
    first_tube = tube_code()
    sample(session, round_, site, first_tube, [person])
    again = sample(session, round_, site, tube_code(), [person, person])
    assert [e.status for e in again.entries] == [EntryStatus.ALREADY_SAMPLED, EntryStatus.ALREADY_SAMPLED]
    assert again.entries[0].tube_code == first_tube
    assert session.execute(select(func.count()).select_from(Sample).where(Sample.person_id == person.id)).scalar() == 1


def test_a_full_tube_closes_and_takes_no_more(session: Session, round_: Round, site: SamplingSite) -> None:
    people = residents(session, XINZHAN, 11)
    result = sample(session, round_, site, code := tube_code(), people)
    assert result.stored == 10 and result.rejected == 1
    assert result.entries[-1].status is EntryStatus.REJECTED and code in (result.entries[-1].message or "")
    assert service.get_tube(session, code).state is TubeState.CLOSED


def test_a_person_can_be_found_by_id_number(session: Session, round_: Round, site: SamplingSite) -> None:
    person = residents(session, XINZHAN, 1)[0]
    batch = SampleBatch(round_id=round_.id, site_id=site.id, entries=[SampleEntry(
        client_id=uuid.uuid4().hex, tube_code=tube_code(), id_number=person.id_number.lower(), sampled_at=utcnow())])
    assert service.register_batch(session, batch).stored == 1


def test_entries_outside_the_samplers_jurisdiction_or_in_the_future_are_rejected_one_by_one(
        session: Session, round_: Round, site: SamplingSite, as_user) -> None:  # type: ignore[no-untyped-def]
    here, there = residents(session, XINZHAN, 2), residents(session, DONGTONGHUA, 1)
    as_user("dongchang_testing")
    code = tube_code()
    batch = SampleBatch(round_id=round_.id, site_id=site.id, entries=[
        SampleEntry(client_id=uuid.uuid4().hex, tube_code=code, person_id=here[0].id, sampled_at=utcnow()),
        SampleEntry(client_id=uuid.uuid4().hex, tube_code=code, person_id=there[0].id, sampled_at=utcnow()),
        SampleEntry(client_id=uuid.uuid4().hex, tube_code=code, person_id=here[1].id,
                    sampled_at=utcnow() + timedelta(hours=1)),
    ])
    result = service.register_batch(session, batch)
    assert [e.status for e in result.entries] == [EntryStatus.STORED, EntryStatus.REJECTED, EntryStatus.REJECTED]
    assert result.entries[1].message == "您的辖区内没有此人。"


def test_a_tube_of_another_round_is_refused(session: Session, round_: Round, site: SamplingSite) -> None:
    other = service.create_round(session, RoundIn(name="r2", jurisdiction_code="220502", starts_at=utcnow()))
    people = residents(session, XINZHAN, 2)
    sample(session, round_, site, code := tube_code(), people[:1])
    result = sample(session, other, site, code, people[1:])
    assert result.rejected == 1


def test_a_closed_round_takes_no_screening(session: Session, round_: Round, site: SamplingSite) -> None:
    service.close_round(session, round_)
    with pytest.raises(Conflict):
        sample(session, round_, site, tube_code(), residents(session, XINZHAN, 1))


# ---------------------------------------------------------------------------------------- the loop


def test_a_negative_pool_changes_nothing_for_its_members(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    sample(session, round_, site, code := tube_code(), residents(session, XINZHAN, 5))
    assert post_result(code, Outcome.NEGATIVE) == {}
    assert controls_of(session, round_) == {}


def test_a_positive_pool_controls_every_member_and_orders_a_retest_per_community(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    people = residents(session, XINZHAN, 3) + residents(session, JIANGNAN, 2)
    sample(session, round_, site, code := tube_code(), people)
    before = utcnow()
    counts = post_result(code, Outcome.POSITIVE)
    assert counts["positive_pools"] == 1 and counts["controlled"] == 5
    controls = controls_of(session, round_)
    assert set(controls) == {p.id for p in people}
    assert {c.state for c in controls.values()} == {ControlState.CONTROLLED}
    assert {c.reason for c in controls.values()} == {ControlReason.POSITIVE_POOL}
    orders = service.orders(session, round_)
    assert sorted(o.jurisdiction_code for o in orders) == [XINZHAN, JIANGNAN]
    assert all(o.kind is OrderKind.RETEST for o in orders)
    assert all(timedelta(hours=2) <= o.due_at - before < timedelta(hours=2, minutes=1) for o in orders)
    assert sorted(len(o.members) for o in orders) == [2, 3]
    [event] = events_named(session, "testing.pool_positive")
    assert event.payload["tube_code"] == code and event.payload["members"] == 5
    assert len(events_named(session, "testing.resampling_ordered")) == 2


def test_retests_fulfil_the_order_and_a_negative_one_releases_the_member(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    people = residents(session, XINZHAN, 2)
    sample(session, round_, site, code := tube_code(), people)
    post_result(code, Outcome.POSITIVE)
    [order] = service.orders(session, round_)
    first = sample(session, round_, site, retest_a := tube_code(), people[:1], purpose=Purpose.RETEST)
    assert first.stored == 1 and order.done_at is None
    assert service.get_tube(session, retest_a).pool_size == 1
    sample(session, round_, site, retest_b := tube_code(), people[1:], purpose=Purpose.RETEST)
    assert order.done_at is not None
    assert post_result(retest_a, Outcome.NEGATIVE) == {"released": 1}
    controls = controls_of(session, round_)
    assert controls[people[0].id].state is ControlState.RELEASED and controls[people[0].id].ended_at is not None
    assert controls[people[1].id].state is ControlState.CONTROLLED
    assert post_result(retest_b, Outcome.NEGATIVE) == {"released": 1}
    assert [e.payload["person_id"] for e in events_named(session, "testing.control_released")] == [p.id for p in people]


def test_a_positive_retest_reports_a_case_for_tracing(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    people = residents(session, XINZHAN, 3)
    sample(session, round_, site, code := tube_code(), people)
    post_result(code, Outcome.POSITIVE)
    sample(session, round_, site, retest := tube_code(), people[1:2], purpose=Purpose.RETEST)
    assert post_result(retest, Outcome.POSITIVE) == {"positives": 1}
    assert controls_of(session, round_)[people[1].id].state is ControlState.CASE
    [event] = events_named(session, "testing.positive_found")
    assert event.payload["person_id"] == people[1].id
    assert event.jurisdiction_code == XINZHAN and event.payload["found_by"] == "mass_testing"


def test_a_retest_without_an_order_is_rejected(session: Session, round_: Round, site: SamplingSite) -> None:
    result = sample(session, round_, site, tube_code(), residents(session, XINZHAN, 1), purpose=Purpose.RETEST)
    assert result.rejected == 1


def test_a_positive_single_tube_is_a_case_at_once(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    person = residents(session, XINZHAN, 1)[0]
    sample(session, round_, site, code := tube_code(), [person], pool_size=1)
    assert post_result(code, Outcome.POSITIVE) == {"positives": 1}
    assert controls_of(session, round_)[person.id].reason is ControlReason.POSITIVE
    assert len(events_named(session, "testing.positive_found")) == 1
    assert service.orders(session, round_) == []


def test_an_inconclusive_pool_is_controlled_and_retested_but_not_a_case(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    people = residents(session, XINZHAN, 2)
    sample(session, round_, site, code := tube_code(), people)
    post_result(code, Outcome.INCONCLUSIVE)
    assert {c.reason for c in controls_of(session, round_).values()} == {ControlReason.INCONCLUSIVE_POOL}
    assert [o.kind for o in service.orders(session, round_)] == [OrderKind.RETEST]
    assert events_named(session, "testing.positive_found") == []


def test_an_invalid_tube_orders_its_members_sampled_again(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    people = residents(session, XINZHAN, 3)
    sample(session, round_, site, code := tube_code(), people)
    assert post_result(code, Outcome.INVALID) == {"invalid": 1}
    [order] = service.orders(session, round_)
    assert order.kind is OrderKind.RESAMPLE and controls_of(session, round_) == {}
    again = sample(session, round_, site, tube_code(), people, purpose=Purpose.RESAMPLE)
    assert again.stored == 3 and order.done_at is not None
    # Now sampled again, a fourth scan of the same person is a duplicate once more.
    assert sample(session, round_, site, tube_code(), people[:1]).already_sampled == 1


def test_an_overdue_order_raises_one_alert(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster) -> None:
    people = residents(session, XINZHAN, 2)
    sample(session, round_, site, code := tube_code(), people)
    post_result(code, Outcome.POSITIVE)
    assert service.raise_overdue_alerts(session) == 0
    later = utcnow() + timedelta(hours=3)
    assert service.raise_overdue_alerts(session, now=later) == 1
    assert service.raise_overdue_alerts(session, now=later) == 0
    [alert] = events_named(session, "testing.resampling_overdue")
    assert alert.payload["missing"] == 2 and alert.jurisdiction_code == XINZHAN
    [order] = service.orders(session, round_)
    assert order.is_overdue(later)


# ----------------------------------------------------------------------------------------- scoping


def test_a_lab_sees_only_the_tubes_sent_to_it(
        session: Session, round_: Round, site: SamplingSite, lab, as_user) -> None:  # type: ignore[no-untyped-def]
    sample(session, round_, site, mine := tube_code(), residents(session, XINZHAN, 1))
    sample(session, round_, site, other := tube_code(), residents(session, XINZHAN, 2)[1:])
    service.send_tubes(session, [mine], lab.id)
    as_user("lab")
    codes = set(session.execute(select(Tube.code)).scalars())
    assert mine in codes and other not in codes
    assert session.execute(select(Sample)).first() is None  # who is in a tube is not the lab's to see


def test_community_workers_see_the_samples_of_their_own_community_only(
        session: Session, round_: Round, site: SamplingSite, as_user) -> None:  # type: ignore[no-untyped-def]
    sample(session, round_, site, tube_code(), residents(session, XINZHAN, 2) + residents(session, JIANGNAN, 1))
    as_user("dongchang_worker")
    assert {s.jurisdiction_code for s in session.execute(select(Sample)).scalars()} == {XINZHAN}
    as_user("erdaojiang_worker")
    assert session.execute(select(Sample)).first() is None


def test_resample_orders_are_scoped_by_community(
        session: Session, round_: Round, site: SamplingSite, post_result: ResultPoster,
        as_user) -> None:  # type: ignore[no-untyped-def]
    sample(session, round_, site, code := tube_code(), residents(session, XINZHAN, 1) + residents(session, JIANGNAN, 1))
    post_result(code, Outcome.POSITIVE)
    as_user("dongchang_worker")
    assert [o.jurisdiction_code for o in session.execute(select(ResampleOrder)).scalars()] == [XINZHAN]
