"""Loading a dataset into the database under test: counts, whole and valid rows, scope, audit, refusals."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import fangkong.models  # noqa: F401  (every table on the metadata)
from fangkong.command import organisation
from fangkong.command.models import OrgUnit, OrgUnitKind, TaskForce
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.auth import verify_password
from fangkong.core.db import Base, make_engine, system_session
from fangkong.core.migrate import upgrade
from fangkong.core.scope import Principal
from fangkong.geo.models import Building, Compound, Facility, FacilityKind, Jurisdiction, Place, PlaceCategory, Unit
from fangkong.people import service as people
from fangkong.people.identity import parse_id_number, pinyin_keys
from fangkong.people.models import Household, Person, Sex
from fangkong.synth import demo
from fangkong.synth.dataset import DatasetError, write_dataset
from fangkong.synth.load import PLACE_CATEGORY_OF, NotEmpty, _demo_jurisdictions, install_presence, load_dataset
from fangkong.users import service as users
from fangkong.users.models import User
from tests.conftest import drop_database, fresh_database_url
from tests.synth import fake_dataset

POPULATION = 3_000
_databases = itertools.count()


def make_dataset(out: Path, **kw: Any) -> Path:
    with pytest.MonkeyPatch.context() as monkeypatch:
        fake_dataset.install(monkeypatch)
        for name, value in kw.pop("patch", {}).items():
            monkeypatch.setattr(sys.modules[f"fangkong.synth.{name.split('.')[0]}"], name.split(".")[1], value)
        write_dataset(out, **{"scenario": "tonghua-2021", "population": POPULATION, "days": 2, "seed": 11, **kw})
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset of both districts, written once for the module."""
    return make_dataset(tmp_path_factory.mktemp("dataset") / "city")


def new_database(tmp: Path) -> tuple[str, Engine]:
    name = f"fangkong_load_{os.getpid()}_{next(_databases)}"
    url = fresh_database_url(name, tmp)
    upgrade(url)
    return name, make_engine(url)


@pytest.fixture
def blank(tmp_path: Path) -> Iterator[Engine]:
    """An empty migrated database of the kind under test, for one test."""
    name, engine = new_database(tmp_path)
    yield engine
    engine.dispose()
    drop_database(name)


@pytest.fixture(scope="module")
def loaded(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, int], Path]]:
    """The module's dataset loaded once; tests only read it (or roll back)."""
    tmp = tmp_path_factory.mktemp("loaded")
    name, engine = new_database(tmp)
    counts = load_dataset(engine, source, data_dir=tmp / "data")
    yield engine, counts, tmp / "data"
    engine.dispose()
    drop_database(name)


@pytest.fixture
def session(loaded: tuple[Engine, dict[str, int], Path]) -> Iterator[Session]:
    """A system session on the loaded database, rolled back at the end."""
    with Session(loaded[0]) as s:
        Principal.system().bind(s)
        yield s
        s.rollback()


def count(session: Session, model: Any) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_every_table_has_the_rows_of_its_file(loaded: tuple[Engine, dict[str, int], Path], session: Session,
                                              source: Path) -> None:
    _, counts, _ = loaded
    dwellings = pq.read_table(source / "dwellings.parquet")
    buildings = dwellings.group_by(["compound_id", "building"]).aggregate([])
    units = dwellings.group_by(["compound_id", "building", "unit"]).aggregate([])
    expected = {
        "jurisdictions": pq.read_metadata(source / "jurisdictions.parquet").num_rows,
        "compounds": len(pc.unique(dwellings["compound_id"])), "buildings": buildings.num_rows,
        "units": units.num_rows, "households": dwellings.num_rows, "persons": POPULATION,
        "places": pq.read_metadata(source / "places.parquet").num_rows,
        "facilities": pq.read_metadata(source / "facilities.parquet").num_rows,
    }
    assert {k: counts[k] for k in expected} == expected
    for model, table in [(Jurisdiction, "jurisdictions"), (Compound, "compounds"), (Building, "buildings"),
                         (Unit, "units"), (Household, "households"), (Person, "persons"), (Place, "places"),
                         (Facility, "facilities")]:
        assert count(session, model) == expected[table], table
    assert counts["users"] == count(session, User) == len(demo.DEMO_USERS)
    assert counts["presence files"] == 2


def test_presence_replayed_later_moves_every_record_and_partition_by_whole_days(source: Path,
                                                                               tmp_path: Path) -> None:
    recorded = sorted(p.name for p in (source / "presence").iterdir())
    shift = timedelta(days=2160)
    assert install_presence(source, tmp_path, shift=shift) == len(recorded)
    for name in recorded:
        day = date.fromisoformat(name.removeprefix("day="))
        before = pq.read_table(source / "presence" / name)
        after = pq.read_table(tmp_path / "presence" / f"day={(day + shift).isoformat()}")
        assert after.schema == before.schema
        assert after["person_id"].equals(before["person_id"]) and after["place_id"].equals(before["place_id"])
        for column in ("t_in", "t_out"):
            assert [t + shift for t in before[column].to_pylist()] == after[column].to_pylist()
    assert not any((tmp_path / "presence" / name).exists() for name in recorded)
    with pytest.raises(ValueError, match="whole days"):
        install_presence(source, tmp_path, shift=timedelta(hours=5))


def test_the_command_organisation_stands_over_the_loaded_city(session: Session) -> None:
    forces = session.execute(select(TaskForce)).scalars().all()
    city = {f.key for f in forces if f.jurisdiction_code == "2205"}
    assert city == set(organisation.DEMO_TASK_FORCES) == set(organisation.STANDARD_TASK_FORCES)
    assert {(f.jurisdiction_code, f.key) for f in forces if f.jurisdiction_code != "2205"} == {
        ("220502", "testing"), ("220502", "tracing")}
    assert all(f.office is not None and f.office.jurisdiction_code == f.jurisdiction_code for f in forces)
    units = session.execute(select(OrgUnit)).scalars().all()
    districts = session.execute(select(Jurisdiction.code).where(func.length(Jurisdiction.code) == 6)).scalars().all()
    assert {u.jurisdiction_code for u in units if u.kind is OrgUnitKind.HEADQUARTERS} == {"2205", *districts}
    committees = {u.jurisdiction_code: {m.user_id for m in u.members}
                  for u in units if u.kind is OrgUnitKind.COMMUNITY_COMMITTEE}
    workers = session.execute(select(User).where(User.username.in_(["dongchang_worker", "erdaojiang_worker"]))
                              ).scalars().all()
    assert committees == {w.jurisdiction_code: {w.id} for w in workers}


def test_persons_are_whole_valid_rows_at_their_door(session: Session, source: Path) -> None:
    persons = pq.read_table(source / "persons.parquet").to_pylist()
    households = {h["household_id"]: h for h in pq.read_table(source / "households.parquet").to_pylist()}
    dwellings = {d["household_id"]: d for d in pq.read_table(source / "dwellings.parquet").to_pylist()}
    for row in persons[:: POPULATION // 50]:
        person = session.get(Person, row["person_id"])
        assert person is not None
        assert (person.id_number, person.name, person.birth_date, person.phone) == (
            row["id_number"], row["name"], row["birth_date"], row["phone"])
        assert person.sex is (Sex.MALE if row["sex"] == "M" else Sex.FEMALE)
        assert parse_id_number(person.id_number).is_male is (person.sex is Sex.MALE)
        assert (person.name_initials, person.name_pinyin) == pinyin_keys(person.name)
        assert person.id_number_rev == person.id_number[::-1]
        assert person.phone_rev == (person.phone[::-1] if person.phone else None)
        assert person.jurisdiction_code == row["community_code"]
        assert person.created_at.tzinfo is not None
        household, dwelling = households[row["household_id"]], dwellings[row["household_id"]]
        assert person.address == household["address"]
        assert person.household is not None and person.household.door == dwelling["door"]
        unit = person.household.unit
        assert (unit.number, unit.building.number, unit.building.compound.id, unit.building.compound.name) == (
            dwelling["unit"], dwelling["building"], dwelling["compound_id"], dwelling["compound_name"])
        assert person.household.jurisdiction_code == household["community_code"]


def test_place_categories_and_facility_kinds_are_mapped(session: Session, source: Path) -> None:
    places = pq.read_table(source / "places.parquet")
    in_files = dict(zip(*pc.value_counts(places["category"]).flatten(), strict=True))
    loaded = dict(session.execute(select(Place.category, func.count()).group_by(Place.category)).all())
    assert loaded == {PLACE_CATEGORY_OF[c.as_py()]: n.as_py() for c, n in in_files.items()}
    assert PLACE_CATEGORY_OF["bus"] is PlaceCategory.BUS_LINE
    assert PLACE_CATEGORY_OF["gathering"] is PlaceCategory.GATHERING_VENUE
    assert PLACE_CATEGORY_OF["kindergarten"] is PlaceCategory.KINDERGARTEN
    row = places.slice(0, 1).to_pylist()[0]
    place = session.get(Place, row["place_id"])
    assert place is not None and (place.venue_code, place.lat, place.lon) == (row["venue_code"], row["lat"], row["lon"])
    sites = session.scalars(select(Facility).where(Facility.kind == FacilityKind.ISOLATION_SITE)).all()
    assert sites and all(site.capacity == 200 for site in sites)


def test_a_community_worker_finds_the_persons_of_their_community_by_pinyin(session: Session) -> None:
    worker = users.find_user(session, "dongchang_worker")
    assert worker is not None and worker.jurisdiction_code == "220502001001"
    neighbour = session.scalars(select(Person).where(Person.jurisdiction_code == "220502001001")).first()
    assert neighbour is not None
    users.principal_for(worker).bind(session)
    found = people.search_persons(session, neighbour.name_initials, size=200)
    assert neighbour.id in {p.id for p in found.items}
    assert {p.jurisdiction_code for p in found.items} == {"220502001001"}
    assert people.search_persons(session, neighbour.name_pinyin).total >= 1
    other = users.find_user(session, "erdaojiang_worker")
    assert other is not None
    users.principal_for(other).bind(session)
    assert neighbour.id not in {p.id for p in people.search_persons(session, neighbour.name_initials, size=200).items}


def test_the_demo_logins_work_in_the_loaded_city(session: Session) -> None:
    found = {u.username: u for u in session.scalars(select(User))}
    assert set(found) == {u.username for u in demo.DEMO_USERS}
    assert found["erdaojiang_worker"].jurisdiction_code == "220503001001"
    assert found["erdaojiang_worker"].display_name == "江南社区网格员"
    assert found["city_commander"].grants[0].jurisdiction_code == "2205"
    lab = session.get(Facility, found["lab"].facility_id)
    assert lab is not None and lab.kind is FacilityKind.LAB and lab.jurisdiction_code == "220502"
    assert verify_password(found["viewer"].password_hash, demo.DEMO_PASSWORD)


def test_each_table_has_one_audit_entry(session: Session) -> None:
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == Action.CREATE)).all()
    by_table = {e.entity: e for e in entries}
    assert len(entries) == len(by_table)
    assert set(by_table) == {"jurisdictions", "compounds", "buildings", "units", "households", "persons", "places",
                             "facilities", "users", "role_grants", "org_units", "org_unit_members", "task_forces",
                             "task_force_members"}
    assert by_table["persons"].detail["count"] == POPULATION
    assert by_table["task_forces"].detail["count"] == session.execute(select(func.count(TaskForce.id))).scalar_one()
    assert "tonghua-2021, seed 11" in by_table["persons"].detail["reason"]


def test_new_rows_are_numbered_after_the_loaded_ones(session: Session) -> None:
    highest = session.execute(select(func.max(Compound.id))).scalar_one()
    compound = Compound(name="新建小区", jurisdiction_code="220502001001")
    session.add(compound)
    session.flush()
    assert compound.id == highest + 1


def test_the_schema_is_whole_again_after_a_load(loaded: tuple[Engine, dict[str, int], Path], session: Session) -> None:
    # Indexes (and on PostgreSQL unique and foreign-key constraints) are dropped for the load.
    with loaded[0].connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []
    person = session.get(Person, 1)
    assert person is not None
    twin = Person(id_number=person.id_number, id_number_rev=person.id_number_rev, name="王五", name_initials="ww",
                  name_pinyin="wangwu", sex=Sex.MALE, birth_date=person.birth_date, jurisdiction_code="220502001001")
    session.add(twin)
    with pytest.raises(IntegrityError):
        session.flush()


def test_loading_into_a_database_that_has_a_city_is_refused(loaded: tuple[Engine, dict[str, int], Path],
                                                            source: Path, tmp_path: Path) -> None:
    engine = loaded[0]
    with pytest.raises(NotEmpty, match=r"already holds \d+ jurisdictions"):
        load_dataset(engine, source, data_dir=tmp_path)
    with system_session(engine) as s:
        assert count(s, Person) == POPULATION
    assert not (tmp_path / "presence").exists()


def test_presence_replaces_what_the_data_dir_held(blank: Engine, source: Path, tmp_path: Path) -> None:
    stale = tmp_path / "data" / "presence" / "day=2020-12-31"
    stale.mkdir(parents=True)
    (stale / "part-0.parquet").write_bytes(b"old")
    load_dataset(blank, source, data_dir=tmp_path / "data")
    placed = tmp_path / "data" / "presence"
    assert sorted(p.name for p in placed.iterdir()) == ["day=2021-01-01", "day=2021-01-02"]
    day = "day=2021-01-01/part-0.parquet"
    assert (placed / day).read_bytes() == (source / "presence" / day).read_bytes()
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["presence"]


def test_a_damaged_dataset_is_refused_before_anything_is_written(blank: Engine, source: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(source, damaged)
    (damaged / "facilities.parquet").write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match=r"facilities\.parquet: contents differ"):
        load_dataset(blank, damaged, data_dir=tmp_path / "data")
    with pytest.raises(DatasetError, match="holds no dataset"):
        load_dataset(blank, tmp_path / "nowhere", data_dir=tmp_path / "data")
    with system_session(blank) as s:
        assert count(s, Jurisdiction) == 0
    assert not (tmp_path / "data").exists()


def with_a_spa(*args: Any, **kw: Any) -> fake_dataset.FakeCity:
    city = fake_dataset.build_city(*args, **kw)
    categories = city.places["category"].to_pylist()
    city.places = city.places.set_column(1, "category", [["spa", *categories[1:]]])
    return city


def with_a_long_name(*args: Any, **kw: Any) -> fake_dataset.FakeCity:
    city = fake_dataset.build_city(*args, **kw)
    names = city.facilities["name"].to_pylist()
    city.facilities = city.facilities.set_column(2, "name", [["东昌区" * 50, *names[1:]]])
    return city


@pytest.mark.parametrize(("build_city", "message"), [
    (with_a_spa, r"places\.parquet: 1 rows of an unknown category"),
    (with_a_long_name, r"1 values of facilities\.name are longer than its 120 characters"),
])
def test_rows_the_tables_cannot_hold_are_refused_before_anything_is_written(
        blank: Engine, tmp_path: Path, build_city: Any, message: str) -> None:
    odd = make_dataset(tmp_path / "odd", population=200, patch={"city.build_city": build_city})
    with pytest.raises(DatasetError, match=message):
        load_dataset(blank, odd, data_dir=tmp_path / "data")
    with system_session(blank) as s:
        assert count(s, Jurisdiction) == 0


def test_with_a_session_the_caller_owns_the_commit(blank: Engine, source: Path, tmp_path: Path) -> None:
    with Session(blank) as s:
        Principal.system().bind(s)
        counts = load_dataset(s, source, data_dir=tmp_path / "data")
        assert count(s, Person) == counts["persons"] == POPULATION
        s.rollback()
    with system_session(blank) as s:
        assert count(s, Jurisdiction) == count(s, AuditEntry) == 0


def test_community_workers_get_different_streets_in_a_one_district_slice() -> None:
    names = {"22": "吉林省", "2205": "通化市", "220502": "东昌区", "220502001": "新站街道", "220502002": "老站街道",
             "220502001001": "江南社区", "220502001002": "民主社区", "220502002001": "老站社区"}
    placed = _demo_jurisdictions(names)
    assert placed["dongchang_worker"] == "220502001001"
    assert placed["erdaojiang_worker"] == "220502002001"
    assert placed["dongchang_commander"] == "220502" and placed["province_commander"] == "22"
    only_erdaojiang = {"22": "吉林省", "2205": "通化市", "220503": "二道江区", "220503001": "东通化街道",
                       "220503001001": "钢铁社区"}
    placed = _demo_jurisdictions(only_erdaojiang)
    assert placed["erdaojiang_worker"] == placed["dongchang_worker"] == "220503001001"
    assert placed["dongchang_commander"] == placed["lab"] == "220503"
