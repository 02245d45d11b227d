"""The jurisdiction tree: codes, scope roots, breadcrumbs and population per node."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.errors import Invalid, NotFound
from fangkong.geo import service
from fangkong.geo.models import Level
from fangkong.people.models import Person
from tests.conftest import CITY_COMMANDER, WORKER_DC


@pytest.mark.parametrize("code", ["2", "220", "22050", "2205020010", "22050200100a", ""])
def test_malformed_codes_are_refused(code: str) -> None:
    with pytest.raises(Invalid) as caught:
        service.check_code(code)
    assert caught.value.errors[0].field == "jurisdiction_code"


def test_levels_follow_code_length() -> None:
    assert [Level.of(c) for c in ("22", "2205", "220502", "220502001", "220502001001")] == list(Level)
    assert Level.COMMUNITY.child is None and Level.CITY.child is Level.DISTRICT


def test_a_worker_s_tree_starts_at_their_community(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    assert [j.code for j in service.roots(session)] == ["220502001001"]
    with pytest.raises(NotFound):
        service.get_jurisdiction(session, "220503")


def test_breadcrumbs_name_the_levels_above(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    node = service.get_jurisdiction(session, "220502001001")
    assert [a.name for a in service.ancestors(session, node)] == ["吉林省", "通化市", "东昌区", "新站街道"]


def test_population_per_child_adds_up_to_the_parent(session: Session, as_user) -> None:
    as_user(CITY_COMMANDER)
    city = service.get_jurisdiction(session, "2205")
    per_district = service.count_by_child(session, Person, city)
    assert set(per_district) == {"220502", "220503", "220521", "220523", "220524", "220581", "220582"}
    assert sum(per_district.values()) == service.count_under(session, Person, "2205")
    direct = session.execute(select(func.count()).select_from(Person)
                             .where(Person.jurisdiction_code.startswith("220502"))).scalar_one()
    assert per_district["220502"] == direct
