"""Registering, finding and revealing persons."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.audit import Action, AuditEntry
from fangkong.core.errors import Conflict, Forbidden, Invalid
from fangkong.core.scope import Principal
from fangkong.people import identity, service
from fangkong.people.models import Person, Sex
from fangkong.people.schemas import PersonIn, PersonPatch
from tests.conftest import VIEWER, WORKER_DC, WORKER_EDJ

COMMUNITY_DC = "220502001001"


def new_id(seq: int = 7, born: str = "19850314") -> str:
    first17 = f"220502{born}{seq:03d}"
    return first17 + identity.check_digit(first17)


def test_a_worker_registers_a_person_in_their_community(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    person = service.create_person(session, PersonIn(name="张三", id_number=new_id(7), phone="13900001111",
                                                     jurisdiction_code=COMMUNITY_DC))
    assert person.sex is Sex.MALE
    assert person.birth_date.isoformat() == "1985-03-14"
    assert (person.name_initials, person.id_number_rev) == ("zs", new_id(7)[::-1])
    Principal.system().bind(session)  # workers cannot read the audit log; the test reads it as the system
    entry = session.execute(select(AuditEntry).where(AuditEntry.entity == "persons",
                                                     AuditEntry.entity_id == str(person.id))).scalar_one()
    assert entry.action is Action.CREATE and entry.actor_name == WORKER_DC


def test_every_bad_field_is_reported_at_once(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    with pytest.raises(Invalid) as caught:
        service.create_person(session, PersonIn(name="张三", id_number="220502198503140071", phone="12345",
                                                jurisdiction_code="9999"))
    fields = {e.field for e in caught.value.errors}
    assert fields == {"id_number", "phone", "jurisdiction_code"}


def test_a_second_person_with_the_same_id_is_refused_with_a_link(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    first = service.create_person(session, PersonIn(name="张三", id_number=new_id(9), jurisdiction_code=COMMUNITY_DC))
    with pytest.raises(Conflict) as caught:
        service.create_person(session, PersonIn(name="张叁", id_number=new_id(9), jurisdiction_code=COMMUNITY_DC))
    assert caught.value.link == f"/people/{first.id}"


def test_a_duplicate_outside_scope_is_refused_without_a_link(session: Session, as_user) -> None:
    existing = session.execute(select(Person).where(Person.jurisdiction_code.startswith("220503"))).scalars().first()
    assert existing is not None
    as_user(WORKER_DC)
    with pytest.raises(Conflict) as caught:
        service.create_person(session, PersonIn(name="某人", id_number=existing.id_number,
                                                jurisdiction_code=COMMUNITY_DC))
    assert caught.value.link is None
    assert "another jurisdiction" in caught.value.message


def test_a_repeated_submission_creates_one_person(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    data = PersonIn(name="李四", id_number=new_id(11), jurisdiction_code=COMMUNITY_DC)
    first = service.create_person(session, data, key="form-123")
    again = service.create_person(session, data, key="form-123")
    assert again.id == first.id
    count = session.execute(select(func.count()).select_from(Person).where(
        Person.id_number == new_id(11))).scalar_one()
    assert count == 1


def test_a_worker_cannot_register_in_another_district(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    with pytest.raises(Invalid) as caught:
        service.create_person(session, PersonIn(name="王五", id_number=new_id(13), jurisdiction_code="220503001001"))
    assert caught.value.errors[0].field == "jurisdiction_code"


@pytest.mark.parametrize("how", ["initials", "pinyin", "name", "id_tail", "phone_tail"])
def test_search_finds_a_person_every_way(session: Session, as_user, how: str) -> None:
    person = session.execute(select(Person).where(Person.jurisdiction_code == COMMUNITY_DC,
                                                  Person.phone.is_not(None))).scalars().first()
    assert person is not None
    q = {"initials": person.name_initials, "pinyin": person.name_pinyin, "name": person.name,
         "id_tail": person.id_number[-6:], "phone_tail": person.phone[-4:]}[how]
    as_user(WORKER_DC)
    found = service.search_persons(session, q, size=200)
    assert person.id in {p.id for p in found.items}
    assert all(p.jurisdiction_code == COMMUNITY_DC for p in found.items)


def test_search_by_initials_matches_the_name(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    service.create_person(session, PersonIn(name="张三", id_number=new_id(15), jurisdiction_code=COMMUNITY_DC))
    found = service.search_persons(session, "zs", size=200)
    assert "张三" in {p.name for p in found.items}
    assert all(p.name_initials.startswith("zs") or p.name_pinyin.startswith("zs") for p in found.items)


def test_too_few_digits_are_refused(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    with pytest.raises(Invalid):
        service.search_persons(session, "12")


def test_search_does_not_cross_scope(session: Session, as_user) -> None:
    other = session.execute(select(Person).where(Person.jurisdiction_code.startswith("220503"))).scalars().first()
    assert other is not None
    as_user(WORKER_DC)
    assert service.search_persons(session, other.id_number[-8:]).total == 0


def test_reveal_is_audited(session: Session, as_user) -> None:
    person = session.execute(select(Person).where(Person.jurisdiction_code == COMMUNITY_DC)).scalars().first()
    assert person is not None
    as_user(WORKER_DC)
    service.reveal(session, service.get_person(session, person.id))
    Principal.system().bind(session)
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == Action.VIEW_UNMASKED)).scalars().one()
    assert (entry.entity, entry.entity_id, entry.actor_name) == ("persons", str(person.id), WORKER_DC)


def test_a_viewer_cannot_reveal(session: Session, as_user) -> None:
    person = session.execute(select(Person)).scalars().first()
    assert person is not None
    as_user(VIEWER)
    with pytest.raises(Forbidden):
        service.reveal(session, person)


def test_a_correction_is_audited_with_the_changed_fields(session: Session, as_user) -> None:
    as_user(WORKER_EDJ)
    person = service.search_persons(session).items[0]
    service.update_person(session, person, PersonPatch(phone="13712345678", name="赵六"))
    assert person.name_initials == "zl" and person.phone_rev == "87654321731"
    Principal.system().bind(session)
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == Action.UPDATE,
                                                     AuditEntry.entity_id == str(person.id))).scalars().one()
    assert {"phone", "name"} <= set(entry.detail["fields"])


def test_a_broad_search_stops_counting_at_the_limit(session: Session, as_user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The most common first pinyin letter in the community matches more people than the limit.
    first = func.substr(Person.name_initials, 1, 1).label("first")
    letter, count = session.execute(
        select(first, func.count()).where(Person.jurisdiction_code == COMMUNITY_DC)
        .group_by(first).order_by(func.count().desc(), first).limit(1)).one()
    assert count > 3
    monkeypatch.setattr(service, "SEARCH_COUNT_LIMIT", 3)
    as_user(WORKER_DC)
    found = service.search_persons(session, letter, size=2)
    assert (found.total, found.is_total_capped, len(found.items)) == (3, True, 2)
    everyone = service.search_persons(session)  # no query: the exact count
    assert everyone.is_total_capped is False and everyone.total > 3
