"""The contact engine, rule by rule, on small hand-made presence data written to Parquet.

The personas: 老张 (Zhang) is the case; 小李 (Li) lives with him; 王 (Wang) works beside him; 赵
(Zhao) meets Wang after work; 陈 (Chen) shops at the market Zhang went to. Times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from fangkong import rulesets
from fangkong.rulesets import TracingRules
from fangkong.synth import schema
from fangkong.tracing.engine import CaseInput, ContactKind, Source, TraceResult, trace

FIRST_DAY = date(2021, 1, 10)
PROTOCOL_8 = rulesets.load("protocol-8").tracing

ZHANG, LI, WANG, ZHAO, CHEN, SUN = 1, 2, 3, 4, 5, 6
HOME_ZHANG, HOME_WANG, HOME_ZHAO, HOME_CHEN, HOME_SUN = 100, 101, 102, 103, 104
FACTORY, BUS, MARKET, RESTAURANT, PHARMACY = 10, 11, 12, 13, 14


def at(day: int, clock: str = "00:00", seconds: int = 0) -> datetime:
    """A moment ``day`` days after the first day of the data, at ``clock`` (UTC)."""
    hours, minutes = (int(x) for x in clock.split(":"))
    return (datetime.combine(FIRST_DAY, datetime.min.time(), UTC)
            + timedelta(days=day, hours=hours, minutes=minutes, seconds=seconds))


@dataclass
class City:
    """Persons in households, places of a category, visits; written as a dataset folder of partitions by day."""

    persons: dict[int, int | None] = field(default_factory=dict)  # person → household
    places: dict[int, str] = field(default_factory=dict)  # place → category
    visits: list[tuple[int, int, datetime, datetime]] = field(default_factory=list)
    days: int = 4
    without: set[int] = field(default_factory=set)  # days whose partition is not written
    in_order: bool = False  # each partition sorted by (place, time in), as the generator writes them
    files: int = 1  # the files each partition is written in

    def visit(self, person: int, place: int, t_in: datetime, t_out: datetime) -> City:
        self.visits.append((person, place, t_in, t_out))
        return self

    def write(self, folder: Path, *, tables: bool = False) -> Source:
        """The files (a presence partition per day of time in); persons and places as tables when asked."""
        folder.mkdir(parents=True, exist_ok=True)
        persons = pa.table({"person_id": list(self.persons), "household_id": list(self.persons.values())},
                           schema=pa.schema([("person_id", pa.int64()), ("household_id", pa.int64())]))
        places = pa.table({"place_id": list(self.places), "category": list(self.places.values())},
                          schema=pa.schema([("place_id", pa.int64()), ("category", pa.string())]))
        pq.write_table(persons, folder / "persons.parquet")
        pq.write_table(places, folder / "places.parquet")
        days = [FIRST_DAY + timedelta(days=i) for i in range(self.days)]
        for i, day in enumerate(days):
            if i in self.without:
                continue
            rows = [v for v in self.visits if v[2].date() == day]
            if self.in_order:
                rows.sort(key=lambda r: (r[1], r[2]))
            part = folder / "presence" / f"day={day.isoformat()}"
            part.mkdir(parents=True)
            size = -(-len(rows) // self.files)
            for k in range(self.files):
                some = rows[k * size:(k + 1) * size]
                pq.write_table(pa.table({
                    "person_id": [r[0] for r in some], "place_id": [r[1] for r in some],
                    "t_in": [r[2] for r in some], "t_out": [r[3] for r in some],
                }, schema=schema.PRESENCE), part / f"part-{k}.parquet")
        return Source(presence=folder / "presence", persons=persons if tables else folder / "persons.parquet",
                      places=places if tables else folder / "places.parquet", days=tuple(days))


def town() -> City:
    """Zhang and Li at home; Wang, Zhao, Chen and Sun each in their own; the five kinds of place."""
    return City(persons={ZHANG: HOME_ZHANG, LI: HOME_ZHANG, WANG: HOME_WANG, ZHAO: HOME_ZHAO, CHEN: HOME_CHEN,
                         SUN: HOME_SUN},
                places={FACTORY: "workplace", BUS: "bus", MARKET: "market", RESTAURANT: "restaurant",
                        PHARMACY: "pharmacy"})


def case(person: int = ZHANG, *, onset: datetime | None = None, sampled: datetime | None = None,
         isolated: datetime | None = None) -> CaseInput:
    """A case with symptoms from day 2 at noon, sampled that evening, by default not isolated."""
    onset = at(2, "12:00") if onset is None and sampled is None else onset
    return CaseInput(person, onset, sampled or at(2, "20:00"), isolated)


def run(tmp_path: Path, city: City, cases: list[CaseInput], rules: TracingRules = PROTOCOL_8,
        **options: object) -> TraceResult:
    return trace(city.write(tmp_path / "city"), cases, rules, **options)  # type: ignore[arg-type]


def contacts(result: TraceResult) -> dict[int, dict[str, object]]:
    return {row["person_id"]: row for row in result.contacts.to_pylist()}


def kinds(result: TraceResult) -> dict[int, str]:
    return {person: str(row["kind"]) for person, row in contacts(result).items()}


# -- The rule set ---------------------------------------------------------------------------------------


def test_both_protocols_have_tracing_rules() -> None:
    eight, nine = rulesets.load("protocol-8").tracing, rulesets.load("protocol-9").tracing
    assert (eight.lookback_days, nine.lookback_days) == (2, 4)
    assert eight.close_contact_minutes["bus"] == 0 and eight.close_contact_minutes["workplace"] == 15
    assert "market" in eight.exposed_categories
    assert (eight.core_info_hours, eight.report_hours, eight.contact_control_hours) == (4, 24, 12)


def test_a_category_cannot_be_both_close_and_exposed() -> None:
    data = PROTOCOL_8.model_dump()
    data["exposed_categories"] = [*data["exposed_categories"], "bus"]
    with pytest.raises(ValidationError, match="both close and exposed: bus"):
        TracingRules.model_validate(data)


# -- Close contacts ---------------------------------------------------------------------------------------


def test_household_members_are_close_from_the_start_of_the_window(tmp_path: Path) -> None:
    result = run(tmp_path, town(), [case()])
    li = contacts(result)[LI]
    assert li["kind"] == "close" and li["case_person_id"] == ZHANG
    assert li["place_id"] is None and li["via_person_id"] is None
    # Onset at day 2 noon, protocol-8 looks back 2 days; no isolation: to the end of the 4 days of data.
    assert (li["first_exposure"], li["last_exposure"]) == (at(0, "12:00"), at(4))
    assert result.data_end == at(4)


def test_any_overlap_on_a_bus_is_close(tmp_path: Path) -> None:
    city = town().visit(ZHANG, BUS, at(1, "08:00"), at(1, "08:30"))
    city.visit(WANG, BUS, at(1, "08:29", 59), at(1, "09:00"))  # one second together
    city.visit(ZHAO, BUS, at(1, "08:30"), at(1, "09:00"))  # boards as Zhang gets off: no overlap with him
    result = run(tmp_path, city, [case()])
    # Zhao rode with Wang, though: a secondary contact.
    assert kinds(result) == {LI: "close", WANG: "close", ZHAO: "secondary"}
    assert contacts(result)[WANG]["place_id"] == BUS


def test_fifteen_minutes_at_work_is_close_and_a_second_less_is_not(tmp_path: Path) -> None:
    city = town().visit(ZHANG, FACTORY, at(1, "08:00"), at(1, "17:00"))
    city.visit(WANG, FACTORY, at(1, "16:45"), at(1, "18:00"))  # exactly 15:00 together
    city.visit(ZHAO, FACTORY, at(1, "16:45", 1), at(1, "17:00"))  # 14:59, with Zhang and with Wang
    result = run(tmp_path, city, [case()])
    assert kinds(result) == {LI: "close", WANG: "close"}
    assert contacts(result)[WANG]["last_exposure"] == at(1, "17:00")


def test_a_visit_that_ends_as_the_window_starts_is_nothing(tmp_path: Path) -> None:
    # The window starts at day 0 noon; Zhang was at the market across that moment, Chen only before it.
    city = town().visit(ZHANG, MARKET, at(0, "11:00"), at(0, "13:00"))
    city.visit(CHEN, MARKET, at(0, "11:00"), at(0, "12:00"))
    city.visit(WANG, MARKET, at(0, "11:30"), at(0, "12:00", 1))
    result = run(tmp_path, city, [case()])
    assert CHEN not in contacts(result)
    assert kinds(result)[WANG] == "exposed"
    assert contacts(result)[WANG]["first_exposure"] == at(0, "12:00")


def test_exposed_categories_make_exposed_contacts(tmp_path: Path) -> None:
    city = town().visit(ZHANG, MARKET, at(1, "07:00"), at(1, "07:40"))
    city.visit(CHEN, MARKET, at(1, "07:39"), at(1, "08:30"))
    city.visit(ZHANG, PHARMACY, at(1, "09:00"), at(1, "09:05"))
    city.visit(SUN, PHARMACY, at(1, "09:04"), at(1, "09:10"))
    result = run(tmp_path, city, [case()])
    assert kinds(result) == {LI: "close", CHEN: "exposed", SUN: "exposed"}
    chen = contacts(result)[CHEN]
    assert (chen["place_id"], chen["first_exposure"], chen["last_exposure"]) == (MARKET, at(1, "07:39"),
                                                                                  at(1, "07:40"))
    evidence = result.exposures.filter(pa.compute.equal(result.exposures["person_id"], CHEN)).to_pylist()
    assert [(e["category"], e["minutes"]) for e in evidence] == [("market", 1.0)]


def test_exposed_persons_have_no_contacts_of_their_own(tmp_path: Path) -> None:
    city = town().visit(ZHANG, MARKET, at(1, "07:00"), at(1, "07:40"))
    city.visit(CHEN, MARKET, at(1, "07:00"), at(1, "07:40"))
    city.visit(CHEN, FACTORY, at(1, "09:00"), at(1, "17:00"))
    city.visit(WANG, FACTORY, at(1, "09:00"), at(1, "17:00"))
    assert kinds(run(tmp_path, city, [case()])) == {LI: "close", CHEN: "exposed"}


# -- Secondary contacts ------------------------------------------------------------------------------------


def test_close_contacts_households_and_companions_are_secondary(tmp_path: Path) -> None:
    city = town()
    city.persons[SUN] = HOME_WANG  # Sun lives with Wang
    city.visit(ZHANG, FACTORY, at(1, "08:00"), at(1, "17:00"))
    city.visit(WANG, FACTORY, at(1, "08:00"), at(1, "17:00"))
    city.visit(WANG, RESTAURANT, at(1, "18:00"), at(1, "19:00"))
    city.visit(ZHAO, RESTAURANT, at(1, "18:30"), at(1, "20:00"))
    result = run(tmp_path, city, [case()])
    assert kinds(result) == {LI: "close", WANG: "close", SUN: "secondary", ZHAO: "secondary"}
    zhao, sun = contacts(result)[ZHAO], contacts(result)[SUN]
    assert (zhao["case_person_id"], zhao["via_person_id"], zhao["place_id"]) == (ZHANG, WANG, RESTAURANT)
    assert (zhao["first_exposure"], zhao["last_exposure"]) == (at(1, "18:30"), at(1, "19:00"))
    # Wang's own window starts at his first exposure, 08:00 on day 1.
    assert (sun["via_person_id"], sun["place_id"], sun["first_exposure"]) == (WANG, None, at(1, "08:00"))


def test_a_close_contacts_isolation_ends_their_secondary_window(tmp_path: Path) -> None:
    city = town().visit(ZHANG, FACTORY, at(1, "08:00"), at(1, "17:00"))
    city.visit(WANG, FACTORY, at(1, "08:00"), at(1, "17:00"))
    city.visit(WANG, RESTAURANT, at(1, "18:00"), at(1, "19:00"))
    city.visit(ZHAO, RESTAURANT, at(1, "18:00"), at(1, "19:00"))
    city.visit(WANG, RESTAURANT, at(2, "18:00"), at(2, "19:00"))
    city.visit(SUN, RESTAURANT, at(2, "18:00"), at(2, "19:00"))
    city.visit(CHEN, RESTAURANT, at(1, "18:40"), at(1, "20:00"))  # 5 minutes before Wang is taken away
    result = run(tmp_path, city, [case()], isolations={WANG: at(1, "18:45")})
    assert kinds(result) == {LI: "close", WANG: "close", ZHAO: "secondary"}
    assert contacts(result)[ZHAO]["last_exposure"] == at(1, "18:45")
    # Without the isolation, Sun (day 2) and Chen (then 20 minutes) are secondary too.
    assert kinds(run(tmp_path / "again", city, [case()]))[SUN] == "secondary"


def test_a_secondary_contact_also_exposed_is_secondary_and_keeps_both_evidences(tmp_path: Path) -> None:
    city = town().visit(ZHANG, FACTORY, at(1, "08:00"), at(1, "17:00"))
    city.visit(WANG, FACTORY, at(1, "08:00"), at(1, "17:00"))
    city.visit(WANG, RESTAURANT, at(1, "18:00"), at(1, "19:00"))
    city.visit(ZHAO, RESTAURANT, at(1, "18:00"), at(1, "19:00"))
    city.visit(ZHANG, MARKET, at(1, "06:00"), at(1, "07:00"))
    city.visit(ZHAO, MARKET, at(1, "06:30"), at(1, "06:40"))
    result = run(tmp_path, city, [case()])
    zhao = contacts(result)[ZHAO]
    assert (zhao["kind"], zhao["via_person_id"], zhao["place_id"]) == ("secondary", WANG, RESTAURANT)
    evidence = result.exposures.filter(pa.compute.equal(result.exposures["person_id"], ZHAO)).to_pylist()
    assert sorted((e["kind"], e["place_id"], e["minutes"]) for e in evidence) == [
        ("exposed", MARKET, 10.0), ("secondary", RESTAURANT, 60.0)]


def test_each_days_secondary_contacts_stand_when_later_days_make_new_close_contacts(tmp_path: Path) -> None:
    # The second hop of a day runs as soon as the first hop has passed it, each day apart (no record
    # crosses midnight here): what later days find must still decide who is what.
    zhou, qian = 7, 8
    city = town()
    city.persons |= {zhou: HOME_CHEN, qian: 105}  # Zhou lives with Chen, the second case
    city.visit(zhou, BUS, at(0, "14:00"), at(0, "14:30")).visit(ZHANG, BUS, at(0, "14:10"), at(0, "14:20"))
    city.visit(zhou, BUS, at(0, "16:00"), at(0, "16:30")).visit(qian, BUS, at(0, "16:10"), at(0, "16:40"))
    city.visit(WANG, FACTORY, at(1, "08:00"), at(1, "09:00")).visit(ZHANG, FACTORY, at(1, "08:00"), at(1, "09:00"))
    city.visit(WANG, BUS, at(1, "09:30"), at(1, "10:00")).visit(ZHAO, BUS, at(1, "09:30"), at(1, "10:00"))
    city.visit(ZHAO, BUS, at(2, "08:00"), at(2, "08:30")).visit(ZHANG, BUS, at(2, "08:00"), at(2, "08:30"))
    city.visit(ZHAO, RESTAURANT, at(3, "12:00"), at(3, "13:00")).visit(SUN, RESTAURANT, at(3, "12:00"), at(3, "13:00"))
    result = run(tmp_path, city, [case(), case(CHEN, onset=at(3, "12:00"))])
    assert kinds(result) == {LI: "close", WANG: "close", ZHAO: "close", zhou: "close", qian: "secondary",
                             SUN: "secondary"}
    found = contacts(result)
    # Zhao shared Wang's bus on day 1 but Zhang's on day 2: close, and his own window begins on day 2.
    assert (found[ZHAO]["case_person_id"], found[ZHAO]["place_id"], found[ZHAO]["first_exposure"]) == (
        ZHANG, BUS, at(2, "08:00"))
    assert (found[SUN]["via_person_id"], found[SUN]["first_exposure"]) == (ZHAO, at(3, "12:00"))
    # Zhou, a housemate of Chen (whose window opens on day 1), met Zhang on day 0: his window opens there.
    assert (found[zhou]["case_person_id"], found[zhou]["place_id"]) == (ZHANG, BUS)
    assert (found[qian]["case_person_id"], found[qian]["via_person_id"], found[qian]["first_exposure"]) == (
        ZHANG, zhou, at(0, "16:10"))
    secondary = result.exposures.filter(pa.compute.equal(result.exposures["kind"], "secondary"))
    assert sorted(secondary["person_id"].to_pylist()) == [SUN, qian]


def test_cases_are_never_contacts_of_each_other(tmp_path: Path) -> None:
    city = town().visit(ZHANG, BUS, at(1, "08:00"), at(1, "08:30"))
    city.visit(WANG, BUS, at(1, "08:00"), at(1, "08:30"))
    city.visit(WANG, RESTAURANT, at(1, "18:00"), at(1, "19:00"))
    city.visit(ZHAO, RESTAURANT, at(1, "18:00"), at(1, "19:00"))
    result = run(tmp_path, city, [case(ZHANG), case(LI), case(WANG)])
    # Li lives with Zhang and Wang rode with him: both are cases, so neither is listed; Zhao met
    # Wang, a case, so Zhao is close (to Wang), not secondary.
    assert kinds(result) == {ZHAO: "close"}
    assert result.cases == 3
    assert set(result.exposures["person_id"].to_pylist()) == {ZHAO}


# -- Windows -------------------------------------------------------------------------------------------------


def test_the_window_looks_back_from_onset_or_else_from_the_sample(tmp_path: Path) -> None:
    city = town().visit(ZHANG, BUS, at(0, "08:00"), at(0, "08:30"))
    city.visit(WANG, BUS, at(0, "08:00"), at(0, "08:30"))  # day 0 morning

    def first_exposure(rules: TracingRules = PROTOCOL_8, **times: datetime | None) -> datetime | None:
        result = run(tmp_path / str(len(list(tmp_path.iterdir()))), city, [case(**times)], rules)  # type: ignore[arg-type]
        return contacts(result)[WANG]["first_exposure"] if WANG in contacts(result) else None  # type: ignore[return-value]

    # Two days before onset; without symptoms, two days before the first positive sample.
    assert first_exposure(onset=at(2, "08:15"), sampled=at(3, "09:00")) == at(0, "08:15")
    assert first_exposure(onset=None, sampled=at(2, "08:20")) == at(0, "08:20")
    assert first_exposure(onset=at(2, "08:30"), sampled=at(3, "09:00")) is None
    # protocol-9 looks back four days.
    assert first_exposure(onset=at(4, "08:10"), sampled=at(4, "10:00")) is None
    assert first_exposure(rulesets.load("protocol-9").tracing, onset=at(4, "08:10"),
                          sampled=at(4, "10:00")) == at(0, "08:10")


def test_a_case_isolated_stops_making_contacts(tmp_path: Path) -> None:
    city = town().visit(ZHANG, BUS, at(1, "08:00"), at(1, "08:30"))
    city.visit(WANG, BUS, at(1, "08:10"), at(1, "08:15"))
    city.visit(ZHAO, BUS, at(1, "08:20"), at(1, "08:40"))  # boards as Zhang is isolated
    result = run(tmp_path, city, [case(isolated=at(1, "08:20"))])
    assert kinds(result) == {LI: "close", WANG: "close"}
    assert contacts(result)[LI]["last_exposure"] == at(1, "08:20")


def test_a_missing_day_inside_a_window_is_reported(tmp_path: Path) -> None:
    city = town().visit(ZHANG, BUS, at(2, "08:00"), at(2, "08:30"))
    city.visit(WANG, BUS, at(2, "08:00"), at(2, "08:30"))
    city.without = {1}
    result = run(tmp_path, city, [case(onset=at(2, "12:00"), isolated=at(3, "12:00"))])
    # The window runs from day 0 noon to day 3 noon: day 1 has no partition.
    assert result.missing_days == [FIRST_DAY + timedelta(days=1)]
    assert kinds(result)[WANG] == "close"
    # Before the first day of data is missing too.
    early = run(tmp_path / "early", town(), [case(onset=at(0, "12:00"), isolated=at(1, "12:00"))])
    assert early.missing_days == [FIRST_DAY - timedelta(days=2), FIRST_DAY - timedelta(days=1)]


# -- Input ---------------------------------------------------------------------------------------------------


def test_lookups_given_as_tables_give_the_same_result(tmp_path: Path) -> None:
    city = town().visit(ZHANG, BUS, at(1, "08:00"), at(1, "08:30")).visit(WANG, BUS, at(1, "08:10"), at(1, "09:00"))
    files = trace(city.write(tmp_path / "files"), [case()], PROTOCOL_8)
    tables = trace(city.write(tmp_path / "tables", tables=True), [case()], PROTOCOL_8)
    assert files.contacts.equals(tables.contacts) and files.exposures.equals(tables.exposures)


def test_partitions_in_order_or_in_several_files_give_the_same_result(tmp_path: Path) -> None:
    # Records in the generator's order are read as they are; others, or several files, are put in order.
    city = town().visit(ZHANG, BUS, at(1, "08:00"), at(1, "08:30")).visit(WANG, BUS, at(1, "08:10"), at(1, "09:00"))
    city.visit(WANG, FACTORY, at(1, "09:30"), at(1, "17:00")).visit(ZHAO, FACTORY, at(1, "09:00"), at(1, "12:00"))
    city.visit(CHEN, FACTORY, at(1, "09:10"), at(1, "09:20")).visit(SUN, MARKET, at(1, "10:00"), at(1, "11:00"))
    city.visit(ZHANG, MARKET, at(1, "10:30"), at(1, "10:40")).visit(CHEN, BUS, at(1, "07:00"), at(1, "08:05"))
    plain = trace(city.write(tmp_path / "plain"), [case()], PROTOCOL_8)
    for in_order, files in ((True, 1), (True, 2), (False, 2)):
        city.in_order, city.files = in_order, files
        other = trace(city.write(tmp_path / f"{in_order}-{files}"), [case()], PROTOCOL_8)
        assert other.contacts.equals(plain.contacts)
        assert sorted(other.exposures.to_pylist(), key=str) == sorted(plain.exposures.to_pylist(), key=str)
    assert kinds(plain) == {LI: "close", WANG: "close", CHEN: "close", ZHAO: "secondary", SUN: "exposed"}


def test_bad_cases_are_refused(tmp_path: Path) -> None:
    source = town().write(tmp_path / "city")
    with pytest.raises(ValueError, match="case 1 is listed twice"):
        trace(source, [case(), case()], PROTOCOL_8)
    with pytest.raises(ValueError, match=r"case 1 was isolated at .* before their window starts"):
        trace(source, [case(isolated=at(0))], PROTOCOL_8)
    with pytest.raises(ValueError, match="no time zone"):
        trace(source, [CaseInput(ZHANG, None, datetime(2021, 1, 12), None)], PROTOCOL_8)


def test_a_synthetic_dataset_is_read_with_its_manifest_days(tmp_path: Path) -> None:
    from fangkong.synth.dataset import presence_path, write_dataset

    folder = tmp_path / "synth"
    manifest = write_dataset(folder, scenario="tonghua-2021", population=3_000, days=3, seed=5)
    source = Source.from_dataset(folder)
    assert source.days == tuple(manifest.presence_days)
    infections = pq.read_table(folder / "infections.parquet").to_pylist()
    first = infections[0]
    sampled = (first["onset_at"] or first["infected_at"]) + timedelta(days=1)
    result = trace(source, [CaseInput(first["infectee_id"], first["onset_at"], sampled, None)], PROTOCOL_8)
    # Only the days that the window (onset less two days, to the end of the data) reaches are read.
    window_start = (first["onset_at"] or sampled) - timedelta(days=2)
    reached = [day for day in manifest.presence_days
               if pa.compute.max(pq.read_table(folder / presence_path(day))["t_out"]).as_py() > window_start]
    assert result.days_read == reached
    assert result.rows_read == sum(pq.read_metadata(folder / presence_path(day)).num_rows for day in reached)
    assert result.counts[ContactKind.CLOSE] > 0
    assert set(result.contacts["kind"].to_pylist()) <= {k.value for k in ContactKind}


def test_a_visitor_missing_from_the_register_is_a_contact_even_without_file_statistics(tmp_path: Path) -> None:
    visitor = 9_999_999  # beyond every registered id
    city = town().visit(ZHANG, BUS, at(1, "08:00"), at(1, "08:30")).visit(visitor, BUS, at(1, "08:10"), at(1, "09:00"))
    city.visit(visitor, RESTAURANT, at(1, "12:00"), at(1, "13:00"))
    city.visit(ZHAO, RESTAURANT, at(1, "12:00"), at(1, "13:00"))
    source = city.write(tmp_path / "city")
    with_statistics = trace(source, [case()], PROTOCOL_8)
    for part in Path(source.presence).glob("day=*/*.parquet"):
        pq.write_table(pq.read_table(part), part, write_statistics=False)
    without = trace(source, [case()], PROTOCOL_8)
    assert kinds(without) == {LI: "close", visitor: "close", ZHAO: "secondary"}
    assert without.contacts.equals(with_statistics.contacts)
    # Days 0, 2 and 3 hold no record (their files say so, statistics or not): only day 1 is read.
    assert with_statistics.days_read == without.days_read == [FIRST_DAY + timedelta(days=1)]


def test_progress_ends_with_every_stage_done(tmp_path: Path) -> None:
    city = town()
    city.persons[SUN] = HOME_WANG
    for day in range(4):
        city.visit(ZHANG, FACTORY, at(day, "08:00"), at(day, "17:00"))
        city.visit(WANG, FACTORY, at(day, "08:00"), at(day, "17:00"))
        city.visit(WANG, RESTAURANT, at(day, "18:00"), at(day, "19:00"))
        city.visit(ZHAO, RESTAURANT, at(day, "18:30"), at(day, "20:00"))
    reports: list[tuple[str, int, int]] = []
    result = run(tmp_path, city, [case(onset=at(3, "12:00"))], progress=lambda *report: reports.append(report))
    assert kinds(result)[ZHAO] == "secondary"
    last = {stage: (done, total) for stage, done, total in reports}
    # What a progress bar shows at the end: each stage complete, the second hop's too.
    assert set(last) == {"reading presence", "close contacts", "secondary contacts"}
    assert all(done == total > 0 for done, total in last.values()), last
