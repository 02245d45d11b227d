"""The scoping mechanism: every query sees only the principal's jurisdiction subtree."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fangkong.core.errors import Forbidden, NotFound
from fangkong.core.scope import Principal, get_or_404, minimal_prefixes, prefix_range
from fangkong.people.models import Person, Sex
from tests.conftest import VIEWER, WORKER_DC, WORKER_EDJ


def test_prefix_range_holds_exactly_the_codes_under_a_prefix() -> None:
    lo, hi = prefix_range("220509")
    assert lo <= "220509001001" < hi
    assert not (lo <= "220510" < hi)
    assert not (lo <= "220508999999" < hi)


def test_minimal_prefixes_drops_covered_codes() -> None:
    assert minimal_prefixes(["2205", "220502", "220503001", "22"]) == ("22",)
    assert minimal_prefixes(["220502", "220503"]) == ("220502", "220503")


def test_worker_sees_only_their_community(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    codes = set(session.execute(select(Person.jurisdiction_code)).scalars())
    assert codes == {"220502001001"}


def test_counts_are_scoped_like_rows(session: Session, as_user) -> None:
    total = session.execute(select(func.count()).select_from(Person)).scalar_one()
    as_user(WORKER_EDJ)
    mine = session.execute(select(func.count()).select_from(Person)).scalar_one()
    in_subquery = session.execute(
        select(func.count()).select_from(select(Person.id).subquery())).scalar_one()
    assert 0 < mine < total
    assert in_subquery == mine


def test_viewer_sees_no_person_but_may_count(session: Session, as_user) -> None:
    as_user(VIEWER)
    assert session.execute(select(Person)).first() is None
    counted = session.execute(
        select(func.count()).select_from(Person).execution_options(fangkong_aggregate=True)).scalar_one()
    assert counted > 0


def test_a_session_without_principal_refuses_scoped_queries(connection) -> None:  # type: ignore[no-untyped-def]
    with Session(bind=connection) as bare, pytest.raises(RuntimeError, match="no principal"):
        bare.execute(select(Person)).first()


def test_writing_outside_scope_is_refused_at_flush(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    session.add(Person(id_number="220503198001010011", id_number_rev="x", name="王五", name_initials="ww",
                       name_pinyin="wangwu", sex=Sex.MALE, birth_date=date(1980, 1, 1),
                       jurisdiction_code="220503001001"))
    with pytest.raises(Forbidden):
        session.flush()


def test_moving_a_record_out_of_scope_is_refused(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    person = session.execute(select(Person)).scalars().first()
    assert person is not None
    person.jurisdiction_code = "220503001001"
    with pytest.raises(Forbidden):
        session.flush()


def test_bulk_update_is_scoped(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    changed = session.execute(update(Person).values(address="改")).rowcount
    Principal.system().bind(session)
    in_community = session.execute(
        select(func.count()).select_from(Person).where(Person.jurisdiction_code == "220502001001")).scalar_one()
    assert changed == in_community


def test_out_of_scope_record_is_not_found_and_the_attempt_audited(session: Session, as_user) -> None:
    from fangkong.core.audit import Action, AuditEntry

    other = session.execute(select(Person).where(Person.jurisdiction_code.startswith("220503"))).scalars().first()
    assert other is not None
    as_user(WORKER_DC)
    with pytest.raises(NotFound):
        get_or_404(session, Person, other.id)
    Principal.system().bind(session)
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == Action.ACCESS_DENIED)
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None and entry.entity_id == str(other.id) and entry.actor_name == WORKER_DC
