"""Tracing runs in the application: the engine over presence files, the contacts written with their
control orders, re-runs that change nothing, stronger evidence over weaker, missing days reported."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core import events
from fangkong.core.scope import system_access
from fangkong.geo.models import Place, PlaceCategory
from fangkong.people.models import Person
from fangkong.synth import schema
from fangkong.tracing import runs, service
from fangkong.tracing.models import Case, CaseKind, Contact, ContactKind, ContactState, FoundBy, RunState
from fangkong.tracing.schemas import CaseIn
from tests.tracing.conftest import JIANGNAN, XINZHAN, residents

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.replace(hour=0, minute=0, second=0)
DAYS = [TODAY - timedelta(days=d) for d in (3, 2, 1, 0)]


def place(session: Session, category: PlaceCategory) -> Place:
    with system_access(session):
        return session.execute(select(Place).where(Place.category == category).order_by(Place.id).limit(1)
                               ).scalar_one()


def write_presence(folder: Path, records: list[tuple[int, int, datetime, datetime]]) -> Path:
    """``folder/day=…/part-0.parquet`` for each of the four days, each holding that day's records."""
    for day in DAYS:
        mine = [r for r in records if day <= r[2] < day + timedelta(days=1)]
        target = folder / f"day={day.date().isoformat()}"
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"person_id": [r[0] for r in mine], "place_id": [r[1] for r in mine],
                                 "t_in": [r[2] for r in mine], "t_out": [r[3] for r in mine]},
                                schema=schema.PRESENCE), target / "part-0.parquet")
    return folder


def lone(session: Session, community: str, n: int) -> list[Person]:
    """``n`` residents of ``community`` who share a household with none of the others chosen."""
    chosen: list[Person] = []
    households: set[int | None] = set()
    for p in residents(session, community):
        if p.household_id not in households:
            chosen.append(p)
            households.add(p.household_id)
        if len(chosen) == n:
            return chosen
    raise AssertionError("not enough households")


@pytest.fixture
def scene(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A case who ate 20 minutes beside B and shopped 5 minutes beside C; B then worked 30 minutes beside D.

    The case was sampled at midnight, so that their window (from two days before) starts at midnight too,
    before the meal at noon, whatever the hour the tests run.
    """
    monkeypatch.setenv("FANGKONG_DATA_DIR", str(tmp_path / "data"))
    from fangkong.config import get_settings

    get_settings.cache_clear()
    a, b, c, d = lone(session, XINZHAN, 4)
    restaurant, market = place(session, PlaceCategory.GATHERING_VENUE), place(session, PlaceCategory.MARKET)
    work = place(session, PlaceCategory.SCHOOL)
    t = DAYS[1] + timedelta(hours=12)
    records = [
        (a.id, restaurant.id, t, t + timedelta(minutes=20)), (b.id, restaurant.id, t, t + timedelta(minutes=40)),
        (a.id, market.id, t + timedelta(hours=1), t + timedelta(hours=1, minutes=5)),
        (c.id, market.id, t + timedelta(hours=1), t + timedelta(hours=2)),
        (b.id, work.id, t + timedelta(hours=3), t + timedelta(hours=4)),
        (d.id, work.id, t + timedelta(hours=3, minutes=30), t + timedelta(hours=5)),
    ]
    presence = write_presence(tmp_path / "presence", records)
    case = service.report_case(session, CaseIn(person_id=a.id, kind=CaseKind.CONFIRMED, found_by=FoundBy.FEVER_CLINIC,
                                               sampled_at=TODAY, reported_at=NOW))
    yield {"case": case, "a": a, "b": b, "c": c, "d": d, "presence": presence, "restaurant": restaurant,
           "market": market, "work": work}
    get_settings.cache_clear()


def contacts_of(session: Session) -> dict[int, Contact]:
    with system_access(session):
        return {c.person_id: c for c in session.execute(select(Contact)).scalars()}


def household_of(session: Session, person: Person) -> set[int]:
    with system_access(session):
        return set(session.execute(select(Person.id).where(Person.household_id == person.household_id,
                                                           Person.id != person.id)).scalars())


def test_a_run_writes_each_contact_with_its_evidence_and_control_order(session: Session, scene: dict) -> None:
    case: Case = scene["case"]
    run = runs.start_run(session, [case.id], queue=False)
    result = runs.execute(session, run, data=scene["presence"], now=NOW)
    found = contacts_of(session)
    b, c, d = scene["b"], scene["c"], scene["d"]
    assert found[b.id].kind is ContactKind.CLOSE and found[b.id].place_id == scene["restaurant"].id
    assert found[b.id].case_id == case.id and found[b.id].via_person_id is None
    assert found[c.id].kind is ContactKind.EXPOSED and found[c.id].place_id == scene["market"].id
    assert found[d.id].kind is ContactKind.SECONDARY and found[d.id].via_person_id == b.id
    for member in household_of(session, scene["a"]):
        assert found[member].kind is ContactKind.CLOSE and found[member].place_id is None
    assert found[b.id].jurisdiction_code == XINZHAN
    assert {x.due_at for x in found.values()} == {NOW + timedelta(hours=12)}
    assert {x.state for x in found.values()} == {ContactState.TO_CONTROL}
    ordered = session.execute(select(events.EventRecord).where(
        events.EventRecord.name == "tracing.control_ordered")).scalars().all()
    assert sorted(e.payload["person_id"] for e in ordered) == sorted(found)
    assert run.state is RunState.DONE and run.missing_days == []
    assert result["new"] == len(found) and result["by_kind"]["secondary"] >= 1
    from fangkong.config import get_settings

    evidence = pq.read_table(get_settings().data_dir / run.evidence_file)  # type: ignore[operator]
    assert {b.id, c.id, d.id} <= set(evidence.column("person_id").to_pylist())


def test_a_second_run_changes_nothing_and_orders_nothing_twice(session: Session, scene: dict) -> None:
    case: Case = scene["case"]
    runs.execute(session, runs.start_run(session, [case.id], queue=False), data=scene["presence"], now=NOW)
    before = {pid: (c.kind, c.due_at, c.run_id) for pid, c in contacts_of(session).items()}
    again = runs.execute(session, runs.start_run(session, [case.id], queue=False), data=scene["presence"],
                         now=NOW + timedelta(hours=1))
    assert again["new"] == 0 and again["upgraded"] == 0
    assert {pid: (c.kind, c.due_at, c.run_id) for pid, c in contacts_of(session).items()} == before
    ordered = session.execute(select(events.EventRecord).where(
        events.EventRecord.name == "tracing.control_ordered")).scalars().all()
    assert len(ordered) == len(before)


def test_a_stronger_kind_found_later_replaces_the_evidence(session: Session, scene: dict) -> None:
    runs.execute(session, runs.start_run(session, [scene["case"].id], queue=False), data=scene["presence"], now=NOW)
    c = scene["c"]
    assert contacts_of(session)[c.id].kind is ContactKind.EXPOSED
    # A second case shared C's household: C becomes a close contact of that case.
    with system_access(session):
        housemate = session.execute(select(Person).where(Person.household_id == c.household_id,
                                                         Person.id != c.id)).scalars().first()
    assert housemate is not None
    second = service.report_case(session, CaseIn(person_id=housemate.id, kind=CaseKind.CONFIRMED,
                                                 found_by=FoundBy.FEVER_CLINIC, sampled_at=NOW - timedelta(hours=1),
                                                 reported_at=NOW))
    result = runs.execute(session, runs.start_run(session, [second.id], queue=False), data=scene["presence"],
                          now=NOW)
    upgraded = contacts_of(session)[c.id]
    assert upgraded.kind is ContactKind.CLOSE and upgraded.case_id == second.id and upgraded.place_id is None
    assert upgraded.due_at == NOW + timedelta(hours=12)
    assert result["upgraded"] >= 1


def test_a_person_already_a_case_is_not_listed_as_a_contact(session: Session, scene: dict) -> None:
    b = scene["b"]
    service.report_case(session, CaseIn(person_id=b.id, kind=CaseKind.ASYMPTOMATIC, found_by=FoundBy.MASS_TESTING,
                                        sampled_at=NOW - timedelta(hours=1), reported_at=NOW))
    runs.execute(session, runs.start_run(session, [scene["case"].id], queue=False), data=scene["presence"], now=NOW)
    found = contacts_of(session)
    assert b.id not in found
    assert found[scene["d"].id].kind is ContactKind.SECONDARY  # B's own contacts are still traced through B


def test_a_missing_day_inside_the_window_is_reported(session: Session, scene: dict) -> None:
    shutil.rmtree(scene["presence"] / f"day={DAYS[2].date().isoformat()}")
    run = runs.start_run(session, [scene["case"].id], queue=False)
    runs.execute(session, run, data=scene["presence"], now=NOW)
    assert run.missing_days == [DAYS[2].date().isoformat()]


def test_a_contact_already_under_control_has_their_secondary_window_cut(session: Session, scene: dict) -> None:
    """B was put under control before meeting D: D is no secondary contact of B."""
    case, b, d = scene["case"], scene["b"], scene["d"]
    runs.execute(session, runs.start_run(session, [case.id], queue=False), data=scene["presence"], now=NOW)
    with system_access(session):
        d_row = contacts_of(session)[d.id]
        session.delete(d_row)
        session.flush()
    service.mark_controlled(session, contacts_of(session)[b.id], at=DAYS[1] + timedelta(hours=13), now=NOW)
    runs.execute(session, runs.start_run(session, [case.id], queue=False), data=scene["presence"], now=NOW)
    assert d.id not in contacts_of(session)


def test_a_run_needs_cases_the_user_reaches(session: Session, as_user, scene: dict) -> None:
    from fangkong.core.errors import Invalid

    far = residents(session, JIANGNAN, 1)[0]
    other = service.report_case(session, CaseIn(person_id=far.id, kind=CaseKind.CONFIRMED,
                                                found_by=FoundBy.FEVER_CLINIC, sampled_at=NOW - timedelta(hours=1)))
    as_user("dongchang_worker")
    from fangkong.core.errors import Forbidden

    with pytest.raises(Forbidden):
        runs.start_run(session, [other.id])
    as_user("tracer")
    with pytest.raises(Invalid):
        runs.start_run(session, [other.id, 999_999])


def test_days_after_the_end_of_the_presence_data_are_reported_missing(session: Session, scene: dict) -> None:
    """The data stops yesterday while the case is not yet isolated: today is missing, not silently empty."""
    shutil.rmtree(scene["presence"] / f"day={DAYS[3].date().isoformat()}")
    run = runs.start_run(session, [scene["case"].id], queue=False)
    runs.execute(session, run, data=scene["presence"], now=NOW)
    assert run.missing_days == [DAYS[3].date().isoformat()]
    assert contacts_of(session)[scene["b"].id].kind is ContactKind.CLOSE


def test_a_run_of_the_system_belongs_to_the_area_of_its_cases(session: Session, as_user, scene: dict) -> None:
    far = residents(session, JIANGNAN, 1)[0]
    other = service.report_case(session, CaseIn(person_id=far.id, kind=CaseKind.CONFIRMED,
                                                found_by=FoundBy.FEVER_CLINIC, sampled_at=NOW - timedelta(hours=1)))
    # The command line runs as the system, which has no jurisdiction of its own.
    one = runs.start_run(session, [scene["case"].id], queue=False)
    both = runs.start_run(session, [scene["case"].id, other.id], queue=False)
    assert (one.jurisdiction_code, both.jurisdiction_code) == (XINZHAN, "220502001")  # the community; their street
    as_user("dongchang_tracer")
    assert runs.get_run(session, both.id).id == both.id
    as_user("erdaojiang_worker")  # a community of another district
    from fangkong.core.errors import NotFound

    with pytest.raises(NotFound):
        runs.get_run(session, both.id)
