"""Scoping: a district's tracer sees only their district's cases; a community worker only the contacts
living in their community, and no case at all."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core.errors import Forbidden, NotFound
from fangkong.core.scope import system_access
from fangkong.tracing import chains, service
from fangkong.tracing.models import Case, CaseKind, Contact, ContactKind, ContactState, FoundBy
from fangkong.tracing.schemas import CaseIn
from tests.tracing.conftest import DONGTONGHUA, JIANGNAN, XINZHAN, CaseMaker, residents
from tests.tracing.helpers import add_contact


@pytest.fixture
def two_districts(session: Session, make_case: CaseMaker) -> dict[str, object]:
    """A case in 东昌区 and one in 二道江区, each with a contact in 新站社区 and one elsewhere."""
    here, here_contact, neighbour_contact = residents(session, XINZHAN, 3)
    there, there_contact = residents(session, DONGTONGHUA, 2)
    jiangnan_contact = residents(session, JIANGNAN, 1)[0]
    ours = make_case(here)
    theirs = make_case(there)
    return {
        "ours": ours, "theirs": theirs,
        "c_ours_xinzhan": add_contact(session, here_contact, ours),
        "c_ours_jiangnan": add_contact(session, jiangnan_contact, ours),
        "c_ours_there": add_contact(session, there_contact, ours, ContactKind.SECONDARY),
        "c_theirs_xinzhan": add_contact(session, neighbour_contact, theirs, ContactKind.EXPOSED),
    }


def test_a_district_tracer_sees_and_opens_only_their_districts_cases(session: Session, as_user,
                                                                     two_districts: dict) -> None:
    ours, theirs = two_districts["ours"], two_districts["theirs"]
    as_user("dongchang_tracer")
    listed = set(session.execute(service.cases()).scalars())
    assert ours in listed and theirs not in listed
    assert service.get_case(session, ours.id) is ours
    with pytest.raises(NotFound):
        service.get_case(session, theirs.id)
    assert all(c.root_id != theirs.id for c in chains.clusters(session))


def test_a_district_tracer_sees_the_contacts_living_in_their_district(session: Session, as_user,
                                                                      two_districts: dict) -> None:
    as_user("dongchang_tracer")
    seen = set(session.execute(service.contacts()).scalars())
    assert seen == {two_districts["c_ours_xinzhan"], two_districts["c_ours_jiangnan"],
                    two_districts["c_theirs_xinzhan"]}


def test_a_district_tracer_cannot_report_a_case_in_another_district(session: Session, as_user) -> None:
    far = residents(session, DONGTONGHUA, 1)[0]
    as_user("dongchang_tracer")
    with pytest.raises((NotFound, Forbidden)):
        service.report_case(session, CaseIn(person_id=far.id, kind=CaseKind.CONFIRMED,
                                            found_by=FoundBy.FEVER_CLINIC, sampled_at=far.created_at))
    with system_access(session):
        assert session.execute(select(Case).where(Case.person_id == far.id)).first() is None


def test_a_community_worker_sees_their_communitys_contacts_and_no_case(session: Session, as_user,
                                                                      two_districts: dict) -> None:
    as_user("dongchang_worker")
    seen = set(session.execute(service.contacts()).scalars())
    assert seen == {two_districts["c_ours_xinzhan"], two_districts["c_theirs_xinzhan"]}
    assert session.execute(select(Case)).first() is None
    with pytest.raises(NotFound):
        service.get_case(session, two_districts["ours"].id)
    service.mark_controlled(session, two_districts["c_ours_xinzhan"])
    assert two_districts["c_ours_xinzhan"].state is ContactState.UNDER_CONTROL


def test_a_community_worker_cannot_change_a_contact_of_another_community(session: Session, as_user,
                                                                        two_districts: dict) -> None:
    outside = two_districts["c_ours_jiangnan"]
    as_user("dongchang_worker")
    assert session.execute(select(Contact).where(Contact.id == outside.id)).first() is None
    with pytest.raises(Forbidden):
        outside.state = ContactState.UNDER_CONTROL
        session.flush()
