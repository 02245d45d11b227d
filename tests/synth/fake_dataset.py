"""A stand-in generator for the dataset-writing and loading tests: the contracts of ``scenario``,
``city`` and ``outbreak``, nothing more.

Two districts (东昌区, 二道江区), two streets each, three communities per street; households of one
to four persons; valid resident ID numbers and unique phones; places of every category in
``schema.PLACE_CATEGORIES``, facilities of every kind; two presence rows per person per day and a
short chain of infections. Everything follows from the seed, so the files the tests write are
reproducible, and it is vectorised so that 200,000 persons take about a second.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fangkong.synth import schema
from tests.synth.fake_city import FakeCity, FakeScenario

START = date(2021, 1, 1)
DISTRICTS = {"220502": "东昌区", "220503": "二道江区"}
STREETS = ("新站街道", "老站街道")
COMMUNITIES = ("江南社区", "民主社区", "胜利社区")
SURNAMES = tuple("王李张刘陈杨赵黄周吴徐孙于姜曲")
GIVEN = tuple("伟芳秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂玉")
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CHECK = np.array(list("10X98765432"))


# The scenario and city shapes are the ones the simulation's tests use.
def get_scenario(name: str) -> FakeScenario:
    """The one scenario; ValueError for any other name, as the real one raises."""
    if name != "tonghua-2021":
        raise ValueError(f"unknown scenario {name!r}, known: tonghua-2021")
    return FakeScenario()


def build_city(scenario: FakeScenario, *, population: int, seed: int, districts: Sequence[str] | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> FakeCity:
    """A small city of ``population`` persons over ``districts`` (both by default)."""
    for code in districts or ():
        if code not in DISTRICTS:
            raise ValueError(f"unknown district {code!r} in scenario {scenario.name}")
    chosen = sorted(districts or DISTRICTS)
    rng = np.random.default_rng(seed)
    communities = [f"{d}{s + 1:03d}{c + 1:03d}" for d in chosen for s in range(len(STREETS))
                   for c in range(len(COMMUNITIES))]

    sizes = rng.choice([1, 2, 2, 3, 3, 4], size=population)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), population)) + 1]
    sizes[-1] -= int(sizes.sum()) - population
    n_hh = len(sizes)
    hh_id = np.arange(1, n_hh + 1, dtype=np.int64)
    hh_comm = np.minimum(np.arange(n_hh) * len(communities) // n_hh, len(communities) - 1)
    comm_codes = pa.array(communities).take(pa.array(hh_comm))
    compound = np.arange(n_hh) // 40 + 1
    building = (np.arange(n_hh) % 40) // 8 + 1
    unit = (np.arange(n_hh) % 8) // 4 + 1
    door = (np.arange(n_hh) % 4) // 2 * 100 + 101 + np.arange(n_hh) % 2
    text = pc.binary_join_element_wise
    address = text("通化市", pa.array(compound.astype(str)), "号院", pa.array(building.astype(str)), "栋",
                   pa.array(unit.astype(str)), "单元", pa.array(door.astype(str)), "室", "")
    lon = 125.93 + rng.random(n_hh) * 0.05
    lat = 41.72 + rng.random(n_hh) * 0.05
    households = pa.table({"household_id": hh_id, "community_code": comm_codes, "address": address,
                           "lon": lon, "lat": lat}, schema=schema.HOUSEHOLDS)
    dwellings = pa.table({
        "household_id": hh_id, "compound_id": compound.astype(np.int64),
        "compound_name": text(pa.array(compound.astype(str)), "号院", ""),
        "building": pa.array(building.astype(str)), "unit": pa.array(unit.astype(str)),
        "door": pa.array(door.astype(str)),
    }, schema=schema.DWELLINGS)
    if progress:
        progress("households", 1, 1)

    n = population
    person_hh = np.repeat(hh_id, sizes)
    region = np.array([int(c[:6]) for c in communities])[np.repeat(hh_comm, sizes)]
    i = np.arange(n)
    born = (np.datetime64("1935-01-01") + (i * 7919) % 30_000).astype("datetime64[D]")
    is_male = rng.random(n) < 0.5
    sex_digit = rng.integers(0, 5, n) * 2 + is_male
    seq = (i // 30_000) * 10 + sex_digit
    first17 = np.char.add(np.char.add(region.astype(str), np.char.replace(born.astype(str), "-", "")),
                          np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17) - ord("0")
    id_number = np.char.add(first17, CHECK[(digits * WEIGHTS).sum(axis=1) % 11])
    name = text(pa.array(np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]),
                pa.array(np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]),
                pa.array(np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")), "")
    phone = pa.array((13_000_000_000 + i * 7 + rng.integers(0, 7, n)).astype(str),
                     mask=(born < np.datetime64("1945-01-01")) & (rng.random(n) < 0.5))
    persons = pa.table({
        "person_id": np.arange(1, n + 1, dtype=np.int64), "household_id": person_hh,
        "id_number": pa.array(id_number), "name": name, "sex": pa.array(np.where(is_male, "M", "F")),
        "birth_date": pa.array(born, pa.date32()), "phone": phone,
        "community_code": comm_codes.take(pa.array(person_hh - 1)),
    }, schema=schema.PERSONS)
    if progress:
        progress("persons", 1, 1)

    n_places = max(len(schema.PLACE_CATEGORIES), n // 50)
    categories = pa.array(schema.PLACE_CATEGORIES).take(pa.array(np.arange(n_places) % len(schema.PLACE_CATEGORIES)))
    place_comm = pa.array(communities).take(pa.array(np.arange(n_places) % len(communities)))
    places = pa.table({
        "place_id": np.arange(1, n_places + 1, dtype=np.int64), "category": categories,
        "name": text(categories, pa.array(np.arange(1, n_places + 1).astype(str)), "号", ""),
        "venue_code": text("V", place_comm, pa.array(np.char.zfill(np.arange(n_places).astype(str), 6)), ""),
        "jurisdiction_code": place_comm,
        "lon": 125.93 + rng.random(n_places) * 0.05, "lat": 41.72 + rng.random(n_places) * 0.05,
    }, schema=schema.PLACES)

    rows = [(kind, DISTRICTS[d] + suffix, d) for d in chosen for kind, suffix in [
        ("lab", "疾控中心实验室"), ("sampling_site", "核酸采样点"), ("isolation_site", "集中隔离点"),
        ("hospital", "人民医院"), ("warehouse", "应急物资仓库")]]
    facilities = pa.table({
        "facility_id": np.arange(1, len(rows) + 1, dtype=np.int64), "kind": [r[0] for r in rows],
        "name": [r[1] for r in rows], "jurisdiction_code": [r[2] for r in rows],
        "lon": [125.94] * len(rows), "lat": [41.73] * len(rows),
        "capacity": [200 if r[0] == "isolation_site" else 500 if r[0] == "hospital" else None for r in rows],
    }, schema=schema.FACILITIES)

    jurisdictions = _jurisdictions(chosen, communities, pc.value_counts(persons["community_code"]))
    geojson = {
        "districts.geojson": _collection([(d, DISTRICTS[d]) for d in chosen]),
        "communities.geojson": _collection([(c, COMMUNITIES[int(c[-3:]) - 1]) for c in communities]),
    }
    return FakeCity(scenario=scenario, seed=seed, jurisdictions=jurisdictions, households=households,
                    dwellings=dwellings, persons=persons, places=places, facilities=facilities, geojson=geojson)


def simulate(city: FakeCity, *, days: int, seed: int, on_day: Callable[[date, pa.Table], None] | None = None,
             progress: Callable[[int, int], None] | None = None) -> pa.Table:
    """Two presence rows a person a day, handed to ``on_day``; three infections as the ground truth."""
    persons = city.persons["person_id"].to_numpy()
    n_places = city.places.num_rows
    for d in range(days):
        day = city.scenario.start + timedelta(days=d)
        rng = np.random.default_rng([seed, d])
        midnight = np.datetime64(day.isoformat(), "us")
        t_in = midnight + (np.timedelta64(8, "h") + rng.integers(0, 36_000, 2 * len(persons)) * np.timedelta64(1, "s"))
        presence = pa.table({
            "person_id": np.repeat(persons, 2),
            "place_id": rng.integers(1, n_places + 1, 2 * len(persons)),
            "t_in": pa.array(t_in, schema.UTC_TS),
            "t_out": pa.array(t_in + np.timedelta64(45, "m"), schema.UTC_TS),
        }, schema=schema.PRESENCE)
        if on_day:
            on_day(day, presence)
        if progress:
            progress(d + 1, days)
    at = datetime(city.scenario.start.year, city.scenario.start.month, city.scenario.start.day, 10, tzinfo=UTC)
    return pa.table({
        "infectee_id": [1, 2, 3], "infector_id": [None, 1, 1], "place_id": [None, 1, None],
        "infected_at": [at, at + timedelta(days=1), at + timedelta(days=2)],
        "onset_at": [at + timedelta(days=3), None, at + timedelta(days=5)],
        "asymptomatic": [False, True, False], "severity": ["mild", "asymptomatic", "moderate"],
    }, schema=schema.INFECTIONS)


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``fangkong.synth.{scenario,city,outbreak}`` these fakes for one test."""
    for name, functions in [("scenario", {"get_scenario": get_scenario}), ("city", {"build_city": build_city}),
                            ("outbreak", {"simulate": simulate})]:
        module = types.ModuleType(f"fangkong.synth.{name}")
        module.__dict__.update(functions)
        monkeypatch.setitem(sys.modules, module.__name__, module)


def _jurisdictions(districts: list[str], communities: list[str], people: pa.StructArray) -> pa.Table:
    counts = dict(zip(people.field("values").to_pylist(), people.field("counts").to_pylist(), strict=True))
    rows: list[tuple[str, str, str, str | None, int]] = [("22", "吉林省", "province", None, 0),
                                                         ("2205", "通化市", "city", "22", 0)]
    for d in districts:
        rows.append((d, DISTRICTS[d], "district", "2205", 0))
        for s, street in enumerate(STREETS, start=1):
            rows.append((f"{d}{s:03d}", street, "street", d, 0))
    rows += [(c, COMMUNITIES[int(c[-3:]) - 1], "community", c[:9], counts.get(c, 0)) for c in communities]
    # Populations add up the tree.
    total = {code: pop for code, *_, pop in rows}
    for code, *_ in sorted(rows, key=lambda r: -len(r[0])):
        parent = next((r[3] for r in rows if r[0] == code), None)
        if parent and len(code) > 2:
            total[parent] += total[code]
    return pa.table({
        "code": [r[0] for r in rows], "name": [r[1] for r in rows], "level": [r[2] for r in rows],
        "parent_code": [r[3] for r in rows], "population": [total[r[0]] for r in rows],
    }, schema=schema.JURISDICTIONS)


def _collection(features: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": code, "name": name},
         "geometry": {"type": "Polygon", "coordinates": [[[125.9, 41.7], [126.0, 41.7], [126.0, 41.8], [125.9, 41.7]]]}}
        for code, name in features]}
