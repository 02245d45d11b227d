"""The synthetic city: deterministic, in the file schemas, and shaped like an ageing north-eastern city."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fangkong.people.identity import parse_id_number
from fangkong.synth import schema
from fangkong.synth.city import City, build_city
from fangkong.synth.hexgrid import km_between
from fangkong.synth.names import SURNAMES
from fangkong.synth.residents import ELDER, HEAD
from fangkong.synth.scenario import TONGHUA_2021, get_scenario

PERSONS = 20_000
SEED = 2021
TABLES = ("jurisdictions", "households", "dwellings", "persons", "places", "facilities")


@pytest.fixture(scope="module")
def city() -> City:
    return build_city(TONGHUA_2021, population=PERSONS, seed=SEED)


@pytest.fixture(scope="module")
def dongchang() -> City:
    """A slice of the worst-hit district alone, as the demo uses."""
    return build_city(TONGHUA_2021, population=8_000, seed=SEED, districts=["220502"])


def digest(c: City) -> dict[str, str]:
    """A hash of each table's Arrow IPC serialisation, of the maps and of the in-memory extras."""
    out = {}
    for name in TABLES:
        sink = pa.BufferOutputStream()
        table = getattr(c, name)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out[name] = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
    out["geojson"] = hashlib.sha256(json.dumps(c.geojson, sort_keys=True).encode()).hexdigest()
    for name in ("person_age", "person_role", "place_kind", "place_capacity"):
        out[name] = hashlib.sha256(np.ascontiguousarray(getattr(c, name)).tobytes()).hexdigest()
    return out


def column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist()


# Determinism and format


def test_the_same_seed_gives_identical_tables(city: City) -> None:
    again = build_city(TONGHUA_2021, population=PERSONS, seed=SEED)
    assert digest(again) == digest(city)


def test_a_different_seed_gives_different_tables(city: City) -> None:
    other = digest(build_city(TONGHUA_2021, population=PERSONS, seed=SEED + 1))
    mine = digest(city)
    assert all(other[name] != mine[name] for name in ("households", "dwellings", "persons", "places"))


def test_every_table_has_exactly_its_schema(city: City) -> None:
    expected = {"jurisdictions": schema.JURISDICTIONS, "households": schema.HOUSEHOLDS,
                "dwellings": schema.DWELLINGS, "persons": schema.PERSONS, "places": schema.PLACES,
                "facilities": schema.FACILITIES}
    for name, wanted in expected.items():
        assert getattr(city, name).schema.equals(wanted, check_metadata=True), name


def test_the_population_is_exactly_what_was_asked(city: City) -> None:
    assert city.persons.num_rows == PERSONS
    assert len(city.person_age) == len(city.person_role) == PERSONS
    assert len(city.place_kind) == len(city.place_capacity) == city.places.num_rows


def test_ids_count_from_one_in_row_order(city: City) -> None:
    for table, key in ((city.households, "household_id"), (city.persons, "person_id"),
                       (city.places, "place_id"), (city.facilities, "facility_id")):
        assert column(table, key) == list(range(1, table.num_rows + 1))
    assert column(city.dwellings, "household_id") == column(city.households, "household_id")


# Persons


def test_every_id_number_is_valid_and_matches_birth_date_sex_and_district(city: City) -> None:
    rows = city.persons.select(["id_number", "birth_date", "sex", "community_code"]).to_pylist()
    for row in rows:
        parsed = parse_id_number(row["id_number"], today=TONGHUA_2021.start)
        assert parsed.number == row["id_number"]
        assert parsed.birth_date == row["birth_date"]
        assert parsed.is_male == (row["sex"] == "M")
        assert parsed.region_code == row["community_code"][:6]


def test_id_numbers_and_phones_are_unique(city: City) -> None:
    ids = column(city.persons, "id_number")
    assert len(set(ids)) == len(ids)
    phones = [p for p in column(city.persons, "phone") if p is not None]
    assert len(set(phones)) == len(phones)
    assert all(len(p) == 11 and p.isdigit() and p[:2] in {"13", "14", "15", "16", "17", "18", "19"} for p in phones)


def test_only_some_of_the_very_old_have_no_phone(city: City) -> None:
    no_phone = city.persons.column("phone").is_null().to_numpy(zero_copy_only=False)
    age = city.person_age
    assert not no_phone[age < 65].any()
    assert 0.3 < no_phone[age >= 85].mean() < 0.9


def test_ages_match_birth_dates_at_the_start(city: City) -> None:
    start = TONGHUA_2021.start
    for born, age in zip(column(city.persons, "birth_date")[::37], city.person_age[::37].tolist(), strict=True):
        assert start.year - born.year - ((start.month, start.day) < (born.month, born.day)) == age


def test_the_population_ages_like_a_north_eastern_city(city: City) -> None:
    age = city.person_age
    assert 0.20 <= (age >= 60).mean() <= 0.28
    assert 0.08 <= (age < 15).mean() <= 0.14
    assert age.min() >= 0 and age.max() <= 100
    assert 0.47 <= (np.array(column(city.persons, "sex")) == "M").mean() <= 0.52


def test_names_start_with_a_known_surname(city: City) -> None:
    surnames = set(SURNAMES.to_pylist())
    names = column(city.persons, "name")
    assert all(2 <= len(n) <= 4 and (n[0] in surnames or n[:2] in surnames) for n in names)
    commonest = {s for s, _ in Counter(n[0] for n in names).most_common(5)}
    assert {"王", "李", "张"} <= commonest


# Households


def household_sizes(c: City) -> np.ndarray:
    return np.bincount(c.persons.column("household_id").to_numpy())[1:]


def test_household_sizes_are_realistic(city: City) -> None:
    sizes = household_sizes(city)
    assert len(sizes) == city.households.num_rows and sizes.min() >= 1
    assert 2.4 <= sizes.mean() <= 2.8
    assert sizes.max() <= 8
    share = np.bincount(sizes) / len(sizes)
    assert 0.10 <= share[1] <= 0.25
    assert share[2] >= 0.25
    assert (sizes >= 5).mean() >= 0.03


def test_households_are_formed_sensibly(city: City) -> None:
    hh = city.persons.column("household_id").to_numpy()
    age = city.person_age.astype(int)
    starts = np.flatnonzero(np.r_[True, hh[1:] != hh[:-1]])
    sizes = np.diff(np.r_[starts, len(hh)])
    oldest = np.maximum.reduceat(age, starts)
    youngest = np.minimum.reduceat(age, starts)
    # Households of three or more hold at least two generations.
    assert ((oldest - youngest)[sizes >= 3] >= 18).mean() > 0.98
    # Many two-person households are an old couple, of similar age.
    pairs = starts[sizes == 2]
    old_pairs = (age[pairs] >= 60) & (age[pairs + 1] >= 55)
    assert old_pairs.mean() >= 0.25
    assert np.median(np.abs(age[pairs] - age[pairs + 1])[old_pairs]) <= 4
    # A fair share of people living alone are old.
    assert 0.3 <= (age[starts[sizes == 1]] >= 60).mean() <= 0.7
    # No one under 18 lives alone, and every household starts with its head.
    assert (age[starts[sizes == 1]] >= 18).all()
    assert (city.person_role[starts] == HEAD).all()
    parents = city.person_role == ELDER
    assert age[parents].mean() > age[city.person_role == HEAD].mean() + 15


def test_every_person_lives_in_an_existing_household_of_the_same_community(city: City) -> None:
    community_of = dict(zip(column(city.households, "household_id"), column(city.households, "community_code"),
                            strict=True))
    for hh, community in zip(column(city.persons, "household_id"), column(city.persons, "community_code"),
                             strict=True):
        assert community_of[hh] == community


def test_every_household_has_its_own_door(city: City) -> None:
    d = city.dwellings
    doors = set(zip(column(d, "compound_id"), column(d, "building"), column(d, "unit"), column(d, "door"),
                    strict=True))
    assert len(doors) == d.num_rows
    assert all(column(d, "compound_name")) and all(column(city.households, "address"))
    # A compound lies in a single community.
    community_of: dict[int, str] = {}
    for compound, community in zip(column(d, "compound_id"), column(city.households, "community_code"), strict=True):
        assert community_of.setdefault(compound, community) == community


def test_households_lie_near_their_district_seat(city: City) -> None:
    seats = {d.code: d for d in TONGHUA_2021.districts}
    for code, lon, lat in zip(column(city.households, "community_code")[::11], column(city.households, "lon")[::11],
                              column(city.households, "lat")[::11], strict=True):
        seat = seats[code[:6]]
        assert km_between(seat.lon, seat.lat, lon, lat) < 6


# Jurisdictions


def test_jurisdiction_codes_are_well_formed(city: City) -> None:
    lengths = dict(zip(schema.LEVELS, (2, 4, 6, 9, 12), strict=True))
    rows = city.jurisdictions.to_pylist()
    codes = {r["code"] for r in rows}
    assert len(codes) == len(rows)
    for r in rows:
        assert r["code"].isdigit() and len(r["code"]) == lengths[r["level"]] and r["name"]
        if r["level"] == "province":
            assert r["parent_code"] is None
        else:
            assert r["parent_code"] in codes and r["code"].startswith(r["parent_code"])
            assert schema.LEVELS.index(r["level"]) == schema.LEVELS.index(
                next(p["level"] for p in rows if p["code"] == r["parent_code"])) + 1
    levels = Counter(r["level"] for r in rows)
    assert levels["district"] == 7 and levels["community"] >= levels["street"] >= 7 * 6
    communities = {r["code"] for r in rows if r["level"] == "community"}
    assert set(column(city.households, "community_code")) <= communities
    assert {r["code"] for r in rows if r["level"] == "street"} == {r["parent_code"] for r in rows
                                                                   if r["level"] == "community"}
    place_codes = set(column(city.places, "jurisdiction_code")) | set(column(city.facilities, "jurisdiction_code"))
    assert place_codes <= codes and all(len(c) in (9, 12) for c in place_codes)


def test_each_jurisdiction_counts_the_persons_under_it(city: City) -> None:
    rows = city.jurisdictions.to_pylist()
    per_community = Counter(column(city.persons, "community_code"))
    children: dict[str, int] = Counter()
    for r in rows:
        if r["parent_code"] is not None:
            children[r["parent_code"]] += r["population"]
    for r in rows:
        if r["level"] == "community":
            assert r["population"] == per_community[r["code"]] > 0
        else:
            assert r["population"] == children[r["code"]]
    assert rows[0]["code"] == "22" and rows[0]["population"] == PERSONS


def test_districts_get_persons_in_proportion_to_their_real_populations(city: City) -> None:
    total = sum(d.population for d in TONGHUA_2021.districts)
    got = {r["code"]: r["population"] for r in city.jurisdictions.to_pylist() if r["level"] == "district"}
    for d in TONGHUA_2021.districts:
        assert abs(got[d.code] - PERSONS * d.population / total) <= 1


# Places and facilities


def test_places_of_every_category_with_unique_venue_codes(city: City) -> None:
    assert set(column(city.places, "category")) == set(schema.PLACE_CATEGORIES)
    codes = column(city.places, "venue_code")
    assert len(set(codes)) == len(codes)
    assert all(c.isdigit() and len(c) == 14 and c[:6] == j[:6]
               for c, j in zip(codes, column(city.places, "jurisdiction_code"), strict=True))
    assert (city.place_capacity >= 1).all()


def test_the_seat_has_the_large_vegetable_wholesale_market(city: City) -> None:
    markets = city.places.filter(pc.equal(city.places.column("category"), "market")).to_pylist()
    xiguan = [m for m in markets if m["name"] == "西关蔬菜批发市场"]
    assert len(xiguan) == 1 and xiguan[0]["jurisdiction_code"].startswith("220502")
    at = column(city.places, "name").index("西关蔬菜批发市场")
    in_dongchang = [i for i, m in enumerate(column(city.places, "venue_code"))
                    if m.startswith("22050201")]
    assert city.place_capacity[at] == max(city.place_capacity[i] for i in in_dongchang)


def test_schools_enrol_exactly_the_children_of_their_ages(city: City) -> None:
    ages = {"kindergarten": (3, 5), "primary_school": (6, 11), "junior_middle_school": (12, 14),
            "senior_high_school": (15, 17)}
    for kind, (lo, hi) in ages.items():
        enrolled = city.place_capacity[city.place_kind == kind].sum()
        assert enrolled == ((city.person_age >= lo) & (city.person_age <= hi)).sum()


def test_workplaces_employ_most_working_age_persons(city: City) -> None:
    employees = city.place_capacity[city.place_kind == "workplace"].sum()
    working_age = ((city.person_age >= 20) & (city.person_age <= 59)).sum()
    assert 0.6 * working_age <= employees <= 0.8 * working_age


def test_older_people_have_places_to_gather(city: City) -> None:
    kinds = Counter(city.place_kind[np.array(column(city.places, "category")) == "gathering"].tolist())
    assert {"activity_room", "health_product_hall", "chess_room"} <= set(kinds)


def test_every_district_has_every_kind_of_facility(city: City) -> None:
    rows = city.facilities.to_pylist()
    for d in TONGHUA_2021.districts:
        kinds = {r["kind"] for r in rows if r["jurisdiction_code"].startswith(d.code)}
        assert kinds == set(schema.FACILITY_KINDS), d.name
    for r in rows:
        if r["kind"] in ("isolation_site", "hospital"):
            assert r["capacity"] is not None and r["capacity"] > 0
        else:
            assert r["capacity"] is None


# Maps


def test_maps_hold_a_polygon_per_district_and_community(city: City) -> None:
    jurisdictions = city.jurisdictions.to_pylist()
    for file, level in (("districts.geojson", "district"), ("communities.geojson", "community")):
        collection = city.geojson[file]
        assert collection["type"] == "FeatureCollection"
        codes = [f["properties"]["code"] for f in collection["features"]]
        assert codes == [r["code"] for r in jurisdictions if r["level"] == level]
        for feature in collection["features"]:
            assert feature["type"] == "Feature" and feature["properties"]["name"]
            geometry = feature["geometry"]
            assert geometry["type"] == "Polygon"
            ring = geometry["coordinates"][0]
            assert len(ring) >= 7 and ring[0] == ring[-1]
            # Exterior rings run counter-clockwise (RFC 7946).
            area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
            assert area > 0


# Slices and bad input


def test_a_slice_of_one_district_holds_only_its_codes(dongchang: City) -> None:
    ancestors = {"22", "2205"}
    assert all(c in ancestors or c.startswith("220502") for c in column(dongchang.jurisdictions, "code"))
    assert dongchang.persons.num_rows == 8_000
    for table in (dongchang.households, dongchang.persons):
        assert all(c.startswith("220502") for c in column(table, "community_code"))
    for table in (dongchang.places, dongchang.facilities):
        assert all(c.startswith("220502") for c in column(table, "jurisdiction_code"))
    assert all(i.startswith("220502") for i in column(dongchang.persons, "id_number"))
    assert len(dongchang.geojson["districts.geojson"]["features"]) == 1


def test_a_slice_keeps_every_street_of_its_district(dongchang: City) -> None:
    streets = {r["code"] for r in dongchang.jurisdictions.to_pylist() if r["level"] == "street"}
    assert streets == {f"220502{s.suffix}" for s in TONGHUA_2021.district("220502").streets}


def test_progress_is_reported_by_stage() -> None:
    calls: list[tuple[str, int, int]] = []
    build_city(TONGHUA_2021, population=3_000, seed=1, districts=["220502", "220503"],
               progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert calls[-1] == ("maps", 1, 1)
    assert ("households", 2, 2) in calls and ("places", 2, 2) in calls
    assert all(0 < done <= total for _, done, total in calls)


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown scenario 'atlantis'.*known: tonghua-2021"):
        get_scenario("atlantis")
    assert get_scenario("tonghua-2021") is TONGHUA_2021


def test_an_unknown_district_or_a_population_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown district '110101'"):
        build_city(TONGHUA_2021, population=1_000, seed=1, districts=["110101"])
    for bad in (0, -5):
        with pytest.raises(ValueError, match="population must be positive"):
            build_city(TONGHUA_2021, population=bad, seed=1)
    with pytest.raises(ValueError, match="population too small"):
        build_city(TONGHUA_2021, population=10, seed=1, districts=["220502"])


def test_the_scenario_starts_before_the_index_case_arrives() -> None:
    assert TONGHUA_2021.start == date(2021, 1, 1)
    assert sum(d.population for d in TONGHUA_2021.districts) == 1_812_114
    assert TONGHUA_2021.worst_district == TONGHUA_2021.seat_district == "220502"
