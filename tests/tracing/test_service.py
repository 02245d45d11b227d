"""Cases, investigations and their clocks, contacts under control, and the alerts of missed clocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core import events
from fangkong.core.db import utcnow
from fangkong.core.errors import Conflict, Invalid
from fangkong.people.models import Whereabouts
from fangkong.testing.events import PositiveFound
from fangkong.tracing import reactions, service
from fangkong.tracing.models import Case, CaseKind, ContactKind, ContactState, FoundBy
from fangkong.tracing.schemas import CaseIn, CaseUpdate, ItineraryIn, NamedIn
from fangkong.tracing.service import ClockState
from tests.tracing.conftest import DONGTONGHUA, XINZHAN, CaseMaker, residents
from tests.tracing.helpers import add_contact


def journal(session: Session, name: str) -> list[dict]:
    return [r.payload for r in session.execute(
        select(events.EventRecord).where(events.EventRecord.name == name).order_by(events.EventRecord.id)).scalars()]


def test_a_reported_case_starts_its_investigation_with_the_rule_sets_two_clocks(
        session: Session, make_case: CaseMaker) -> None:
    person = residents(session, XINZHAN, 1)[0]
    case = make_case(person, hours_ago=1)
    inv = case.investigation
    assert case.jurisdiction_code == XINZHAN
    assert inv.core_due_at == case.reported_at + timedelta(hours=4)
    assert inv.report_due_at == case.reported_at + timedelta(hours=24)
    core, report = service.clocks(inv)
    assert core.state is ClockState.RUNNING and report.state is ClockState.RUNNING
    assert [e["case_id"] for e in journal(session, "tracing.case_reported")] == [case.id]


def test_a_person_is_a_case_once(session: Session, make_case: CaseMaker) -> None:
    person = residents(session, XINZHAN, 1)[0]
    make_case(person)
    with pytest.raises(Conflict):
        make_case(person)


@pytest.mark.parametrize(("field", "change"), [
    ("sampled_at", {"sampled_at": utcnow() + timedelta(hours=2)}),
    ("reported_at", {"reported_at": utcnow() - timedelta(days=3)}),
    ("isolated_at", {"isolated_at": utcnow() - timedelta(days=10)}),
])
def test_impossible_times_are_refused_naming_the_field(session: Session, field: str, change: dict) -> None:
    person = residents(session, XINZHAN, 1)[0]
    data = {"person_id": person.id, "kind": CaseKind.CONFIRMED, "found_by": FoundBy.FEVER_CLINIC,
            "sampled_at": utcnow() - timedelta(days=1), **change}
    with pytest.raises(Invalid) as caught:
        service.report_case(session, CaseIn(**data))
    assert [e.field for e in caught.value.errors] == [field]
    assert session.execute(select(Case).where(Case.person_id == person.id)).first() is None


def test_an_isolation_inside_the_look_back_before_onset_is_accepted(session: Session) -> None:
    person = residents(session, XINZHAN, 1)[0]
    onset = utcnow() - timedelta(days=3)
    case = service.report_case(session, CaseIn(
        person_id=person.id, kind=CaseKind.CONFIRMED, found_by=FoundBy.FEVER_CLINIC, onset_at=onset,
        sampled_at=utcnow() - timedelta(days=1), isolated_at=onset - timedelta(days=1)))
    assert case.isolated_at == onset - timedelta(days=1)


def test_the_clocks_end_in_time_late_or_overdue(session: Session, make_case: CaseMaker) -> None:
    a, b, c = residents(session, XINZHAN, 3)
    in_time = make_case(a, hours_ago=2)
    service.complete_core(session, in_time.investigation)
    late = make_case(b, hours_ago=30)
    service.complete_core(session, late.investigation)
    missed = make_case(c, hours_ago=5)
    assert service.clocks(in_time.investigation)[0].state is ClockState.DONE_IN_TIME
    assert service.clocks(late.investigation)[0].state is ClockState.DONE_LATE
    assert service.clocks(late.investigation)[1].state is ClockState.OVERDUE
    assert service.clocks(missed.investigation)[0].state is ClockState.OVERDUE
    assert service.clocks(missed.investigation)[1].state is ClockState.RUNNING


def test_the_report_needs_the_core_information_and_some_content(session: Session, make_case: CaseMaker) -> None:
    case = make_case(residents(session, XINZHAN, 1)[0])
    inv = case.investigation
    with pytest.raises(Invalid) as caught:
        service.complete_report(session, inv)
    assert caught.value.errors[0].field == "core_done_at"
    service.complete_core(session, inv)
    with pytest.raises(Conflict):
        service.complete_core(session, inv)
    with pytest.raises(Invalid) as caught:
        service.complete_report(session, inv)
    assert caught.value.errors[0].field == "itinerary"
    service.add_itinerary(session, inv, ItineraryIn(place_text="东昌区某洗浴中心",
                                                    starts_at=utcnow() - timedelta(days=1)))
    service.complete_report(session, inv)
    assert service.clocks(inv)[1].state is ClockState.DONE_IN_TIME


def test_the_itinerary_takes_a_known_place_or_free_text_and_refuses_neither(
        session: Session, make_case: CaseMaker) -> None:
    from fangkong.geo.models import Place

    inv = make_case(residents(session, XINZHAN, 1)[0]).investigation
    place = session.execute(select(Place).limit(1)).scalar_one()
    start = utcnow() - timedelta(days=2)
    known = service.add_itinerary(session, inv, ItineraryIn(place_id=place.id, starts_at=start,
                                                            ends_at=start + timedelta(hours=1)))
    free = service.add_itinerary(session, inv, ItineraryIn(place_text="  一辆出租车  ", starts_at=start))
    assert known.place is place and free.place_text == "一辆出租车"
    with pytest.raises(Invalid) as caught:
        service.add_itinerary(session, inv, ItineraryIn(place_text=" ", starts_at=start))
    assert caught.value.errors[0].field == "place_text"
    with pytest.raises(Invalid) as caught:
        service.add_itinerary(session, inv, ItineraryIn(place_text="x", starts_at=start,
                                                        ends_at=start - timedelta(minutes=1)))
    assert caught.value.errors[0].field == "ends_at"
    service.remove_itinerary(session, inv, free.id)
    assert [e.id for e in inv.itinerary] == [known.id]
    named = service.add_named(session, inv, NamedIn(name="王某", phone="13900000000", relation="同事"))
    assert inv.named == [named]


def test_a_source_case_cannot_make_a_loop(session: Session, make_case: CaseMaker) -> None:
    a, b, c = residents(session, XINZHAN, 3)
    first = make_case(a, hours_ago=30)
    second = make_case(b, hours_ago=20, source=first)
    third = make_case(c, hours_ago=10, source=second)
    with pytest.raises(Invalid) as caught:
        service.update_case(session, first, CaseUpdate(source_case_id=third.id))
    assert caught.value.errors[0].field == "source_case_id"
    with pytest.raises(Invalid):
        service.update_case(session, first, CaseUpdate(source_case_id=first.id))
    service.update_case(session, third, CaseUpdate(source_case_id=first.id, kind=CaseKind.ASYMPTOMATIC,
                                                   symptoms="无"))
    assert third.source_case_id == first.id and third.kind is CaseKind.ASYMPTOMATIC
    assert third.investigation.symptoms == "无"


def test_a_positive_re_test_from_testing_becomes_one_asymptomatic_case(session: Session) -> None:
    person = residents(session, XINZHAN, 1)[0]
    sampled = utcnow() - timedelta(hours=5)
    event = PositiveFound(jurisdiction_code=XINZHAN, person_id=person.id, round_id=1, tube_id=7,
                          sampled_at=sampled, tested_at=sampled + timedelta(hours=4))
    assert reactions.case_from_positive in events._subscribers[PositiveFound]
    events.emit(session, event)
    events.emit(session, event)
    found = session.execute(select(Case).where(Case.person_id == person.id)).scalars().all()
    assert len(found) == 1
    case = found[0]
    assert case.kind is CaseKind.ASYMPTOMATIC and case.found_by is FoundBy.MASS_TESTING
    assert case.sampled_at == sampled and case.reported_at == sampled + timedelta(hours=4)
    assert case.origin == "testing tube 7"


def test_a_contact_who_becomes_a_case_leaves_the_list_with_their_case_as_source(
        session: Session, make_case: CaseMaker) -> None:
    index_person, contact_person = residents(session, XINZHAN, 2)
    index = make_case(index_person, hours_ago=30)
    contact = add_contact(session, contact_person, index, ContactKind.CLOSE)
    case = make_case(contact_person, hours_ago=1, found_by=FoundBy.ISOLATION_TESTING)
    assert contact.state is ContactState.BECAME_CASE
    assert case.source_case_id == index.id


def test_a_secondary_contact_who_becomes_a_case_gets_no_source_by_guess(
        session: Session, make_case: CaseMaker) -> None:
    index_person, contact_person = residents(session, XINZHAN, 2)
    index = make_case(index_person, hours_ago=30)
    add_contact(session, contact_person, index, ContactKind.SECONDARY)
    assert make_case(contact_person).source_case_id is None


def test_a_contact_put_under_control_is_isolated_once(session: Session, make_case: CaseMaker) -> None:
    index_person, contact_person = residents(session, XINZHAN, 2)
    contact = add_contact(session, contact_person, make_case(index_person), ContactKind.CLOSE)
    service.mark_controlled(session, contact)
    assert contact.state is ContactState.UNDER_CONTROL and contact.controlled_at is not None
    assert contact_person.whereabouts is Whereabouts.ISOLATED
    assert [e["contact_id"] for e in journal(session, "tracing.contact_controlled")] == [contact.id]
    with pytest.raises(Conflict):
        service.mark_controlled(session, contact)


def test_missed_clocks_raise_their_alert_once(session: Session, make_case: CaseMaker) -> None:
    a, b, c = residents(session, XINZHAN, 3)
    late_core = make_case(a, hours_ago=5)  # core overdue, report running
    late_both = make_case(b, hours_ago=30)  # both overdue
    contact = add_contact(session, c, late_core, ContactKind.CLOSE, due_in_hours=-1)
    assert service.raise_overdue_alerts(session) == 4
    assert service.raise_overdue_alerts(session) == 0
    raised = journal(session, "tracing.investigation_overdue")
    assert sorted((e["case_id"], e["stage"]) for e in raised) == sorted(
        [(late_core.id, "core"), (late_both.id, "core"), (late_both.id, "report")])
    assert [e["contact_id"] for e in journal(session, "tracing.control_overdue")] == [contact.id]


def test_the_loop_counts_cases_investigated_contacts_and_those_under_control(
        session: Session, make_case: CaseMaker) -> None:
    before = service.loop_counts(session)
    a, b, c, d = residents(session, XINZHAN, 4)
    case = make_case(a)
    service.complete_core(session, case.investigation)
    service.add_named(session, case.investigation, NamedIn(name="李某"))
    service.complete_report(session, case.investigation)
    make_case(b, hours_ago=5)
    service.mark_controlled(session, add_contact(session, c, case))
    add_contact(session, d, case, due_in_hours=-2)
    after = service.loop_counts(session)
    assert (after.cases - before.cases, after.investigated - before.investigated) == (2, 1)
    assert (after.contacts - before.contacts, after.under_control - before.under_control) == (2, 1)
    assert after.overdue_investigations - before.overdue_investigations == 1
    assert after.overdue_contacts - before.overdue_contacts == 1


def test_the_case_list_filters_overdue_kind_and_jurisdiction(session: Session, make_case: CaseMaker) -> None:
    a, b = residents(session, XINZHAN, 2)
    far = residents(session, DONGTONGHUA, 1)[0]
    late = make_case(a, hours_ago=5)
    fresh = make_case(b, hours_ago=1, kind=CaseKind.ASYMPTOMATIC)
    elsewhere = make_case(far, hours_ago=6)
    overdue = set(session.execute(service.cases(overdue=True)).scalars())
    assert {late, elsewhere} <= overdue and fresh not in overdue
    assert set(session.execute(service.cases(under="220502")).scalars()) >= {late, fresh}
    assert elsewhere not in set(session.execute(service.cases(under="220502")).scalars())
    assert fresh in set(session.execute(service.cases(kind=CaseKind.ASYMPTOMATIC)).scalars())
    assert late not in set(session.execute(service.cases(kind=CaseKind.ASYMPTOMATIC)).scalars())
