"""The synthetic city: jurisdictions, households, persons, places and facilities of a scenario.

``build_city`` is pure computation: it returns Arrow tables in the schemas of ``synth.schema`` and
GeoJSON for the maps, and writes nothing. The same arguments give identical tables: every draw
comes from one ``PCG64(seed)`` generator, consumed in a fixed order. Persons are spread over the
chosen districts in proportion to their real populations; see ``divisions``, ``residents``,
``housing`` and ``venues`` for how each part is drawn.

Row order is meaningful and stable: households and persons are ordered by district, community,
compound; a household's members are consecutive, the head first; ids count from 1 in that order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from fangkong.synth import hexgrid, schema
from fangkong.synth.divisions import DistrictPlan, plan_district
from fangkong.synth.housing import Homes, place_households
from fangkong.synth.names import person_names
from fangkong.synth.residents import Members, birth_dates, draw_members, id_numbers, phones
from fangkong.synth.scenario import Scenario
from fangkong.synth.venues import VenueRows, draw_facilities, draw_places

Progress = Callable[[str, int, int], None]


@dataclass
class City:
    """A generated city: the tables of its files, its maps, and a few in-memory facts for the simulation.

    Beyond the files, aligned with ``persons`` rows: ``person_age``, each person's age in whole
    years at ``scenario.start``; ``person_role``, their place in the household
    (``residents.HEAD``, ``SPOUSE``, ``ELDER``, a parent of a head, or ``CHILD``). Aligned with
    ``places`` rows: ``place_kind`` refines the category (``workplace``, ``primary_school``,
    ``wholesale_market``, ``health_product_hall`` … see ``venues``); ``place_capacity`` is the
    place's size or pull: employees of a workplace, pupils enrolled at a school or kindergarten,
    typical visitors a day anywhere else.
    """

    scenario: Scenario
    seed: int
    jurisdictions: pa.Table
    households: pa.Table
    dwellings: pa.Table
    persons: pa.Table
    places: pa.Table
    facilities: pa.Table
    geojson: dict[str, dict[str, Any]]
    person_age: np.ndarray
    person_role: np.ndarray
    place_kind: np.ndarray
    place_capacity: np.ndarray


def build_city(scenario: Scenario, *, population: int, seed: int, districts: Sequence[str] | None = None,
               progress: Progress | None = None) -> City:
    """Generate ``population`` persons over ``districts`` (all by default) of ``scenario``."""
    if population <= 0:
        raise ValueError(f"population must be positive, got {population}")
    if districts:
        wanted = {scenario.district(code).code for code in districts}  # raises on an unknown code
        chosen = [d for d in scenario.districts if d.code in wanted]
    else:
        chosen = list(scenario.districts)
    report = progress or (lambda stage, done, total: None)
    rng = np.random.Generator(np.random.PCG64(seed))
    counts = _apportion(population, np.array([d.population for d in chosen], dtype=float))

    plans: list[DistrictPlan] = []
    members: list[Members] = []
    homes: list[Homes] = []
    for i, (district, persons) in enumerate(zip(chosen, counts.tolist(), strict=True)):
        plan = plan_district(rng, scenario, district, persons)
        m = draw_members(rng, persons)
        plans.append(plan)
        members.append(m)
        homes.append(place_households(rng, plan, m.household_size))
        report("households", i + 1, len(chosen))

    # Households and dwellings.
    community_codes = pa.array([code for p in plans for code in p.community_codes])
    community_offset = np.cumsum([0] + [len(p.community_codes) for p in plans])
    hh_community = np.concatenate([h.community + community_offset[i] for i, h in enumerate(homes)])
    hh_size = np.concatenate([m.household_size for m in members])
    n_hh = len(hh_size)
    household_id = np.arange(1, n_hh + 1, dtype=np.int64)
    hh_code = community_codes.take(pa.array(hh_community))
    households = pa.table({
        "household_id": household_id,
        "community_code": hh_code,
        "address": pa.concat_arrays([h.address for h in homes]),
        "lon": np.concatenate([h.lon for h in homes]),
        "lat": np.concatenate([h.lat for h in homes]),
    }, schema=schema.HOUSEHOLDS)
    compound_offset = np.cumsum([0] + [len(h.compound_names) for h in homes])
    compound_names = pa.array([name for h in homes for name in h.compound_names])
    compound = np.concatenate([h.compound + compound_offset[i] for i, h in enumerate(homes)])
    dwellings = pa.table({
        "household_id": household_id,
        "compound_id": compound + 1,
        "compound_name": compound_names.take(pa.array(compound)),
        "building": pa.concat_arrays([h.building for h in homes]),
        "unit": pa.concat_arrays([h.unit for h in homes]),
        "door": pa.concat_arrays([h.door for h in homes]),
    }, schema=schema.DWELLINGS)

    # Persons.
    age = np.concatenate([m.age for m in members])
    is_male = np.concatenate([m.is_male for m in members])
    surname = np.concatenate([m.surname for m in members])
    region = np.repeat(np.array([int(d.code) for d in chosen], dtype=np.int64), counts)
    born = birth_dates(rng, age, scenario.start)
    person_household = np.repeat(household_id, hh_size)
    persons = pa.table({
        "person_id": np.arange(1, len(age) + 1, dtype=np.int64),
        "household_id": person_household,
        "id_number": id_numbers(rng, region, born, is_male),
        "name": person_names(rng, surname, is_male, born.astype("datetime64[Y]").astype(np.int64) + 1970),
        "sex": pa.array(np.where(is_male, "M", "F")),
        "birth_date": pa.array(born, type=pa.date32()),
        "phone": phones(rng, age),
        "community_code": hh_code.take(pa.array(person_household - 1)),
    }, schema=schema.PERSONS)
    report("persons", 1, 1)

    # Places and facilities, district by district.
    person_community = np.repeat(hh_community, hh_size)
    community_persons = np.bincount(person_community, minlength=len(community_codes))
    place_rows: list[tuple[DistrictPlan, VenueRows]] = []
    facility_rows: list[tuple[DistrictPlan, VenueRows]] = []
    person_start = np.concatenate([[0], np.cumsum(counts)])
    for i, plan in enumerate(plans):
        here = community_persons[community_offset[i]:community_offset[i + 1]]
        ages = age[person_start[i]:person_start[i + 1]]
        place_rows.append((plan, draw_places(rng, scenario, plan, here, ages)))
        facility_rows.append((plan, draw_facilities(rng, scenario, plan, here)))
        report("places", i + 1, len(plans))
    places, place_kind, place_capacity = _places_table(rng, place_rows)
    facilities = _facilities_table(rng, facility_rows)

    jurisdictions = _jurisdictions(scenario, plans, community_persons)
    geojson = _geojson(plans, community_persons)
    report("maps", 1, 1)
    return City(scenario=scenario, seed=seed, jurisdictions=jurisdictions, households=households,
                dwellings=dwellings, persons=persons, places=places, facilities=facilities, geojson=geojson,
                person_age=age, person_role=np.concatenate([m.role for m in members]), place_kind=place_kind,
                place_capacity=place_capacity)


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` adding up to ``total`` (largest remainder)."""
    exact = total * weights / weights.sum()
    out = np.floor(exact).astype(np.int64)
    out[np.argsort(-(exact - out), kind="stable")[: total - int(out.sum())]] += 1
    return out


def _spot(rng: np.random.Generator, plan: DistrictPlan, community: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of venues: anywhere in the inner 80 % of their community's cell."""
    c = np.array(community, dtype=np.int64)
    angle = rng.random(len(c)) * 2 * np.pi
    radius = 0.8 * plan.inradius * np.sqrt(rng.random(len(c)))
    xy = plan.centre_km[c] + np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return hexgrid.to_lonlat(xy, plan.district.lon, plan.district.lat)


def _places_table(rng: np.random.Generator,
                  rows: list[tuple[DistrictPlan, VenueRows]]) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The places table, and each place's kind and capacity.

    A venue code is the district code, the category's number (01–11) and a serial within the
    district and category: 220502 01 000001 is the first market of 东昌区.
    """
    columns: dict[str, list[Any]] = {k: [] for k in ("category", "name", "venue_code", "jurisdiction_code",
                                                     "lon", "lat", "kind", "capacity")}
    for plan, venue in rows:
        serial = dict.fromkeys(schema.PLACE_CATEGORIES, 0)
        for category in venue.category:
            serial[category] += 1
            number = schema.PLACE_CATEGORIES.index(category) + 1
            columns["venue_code"].append(f"{plan.district.code}{number:02d}{serial[category]:06d}")
        lon, lat = _spot(rng, plan, venue.community)
        columns["category"] += venue.category
        columns["name"] += venue.name
        columns["jurisdiction_code"] += [plan.community_codes[c] for c in venue.community]
        columns["lon"].append(lon)
        columns["lat"].append(lat)
        columns["kind"] += venue.kind
        columns["capacity"] += venue.capacity
    n = len(columns["name"])
    table = pa.table({
        "place_id": np.arange(1, n + 1, dtype=np.int64),
        "category": columns["category"],
        "name": columns["name"],
        "venue_code": columns["venue_code"],
        "jurisdiction_code": columns["jurisdiction_code"],
        "lon": np.concatenate(columns["lon"]),
        "lat": np.concatenate(columns["lat"]),
    }, schema=schema.PLACES)
    return table, np.array(columns["kind"]), np.array(columns["capacity"], dtype=np.int64)


def _facilities_table(rng: np.random.Generator, rows: list[tuple[DistrictPlan, VenueRows]]) -> pa.Table:
    """The facilities table; capacity is rooms or beds, null for the other kinds."""
    lons, lats = [], []
    for plan, venue in rows:
        lon, lat = _spot(rng, plan, venue.community)
        lons.append(lon)
        lats.append(lat)
    n = sum(len(v.name) for _, v in rows)
    return pa.table({
        "facility_id": np.arange(1, n + 1, dtype=np.int64),
        "kind": [k for _, v in rows for k in v.kind],
        "name": [name for _, v in rows for name in v.name],
        "jurisdiction_code": [p.community_codes[c] for p, v in rows for c in v.community],
        "lon": np.concatenate(lons),
        "lat": np.concatenate(lats),
        "capacity": pa.array([c for _, v in rows for c in v.capacity], type=pa.int64()),
    }, schema=schema.FACILITIES)


def _jurisdictions(scenario: Scenario, plans: list[DistrictPlan], community_persons: np.ndarray) -> pa.Table:
    """Province, city, districts, streets and communities, sorted by code, each with its persons."""
    rows: list[tuple[str, str, str, str | None, int]] = []
    total = int(community_persons.sum())
    rows.append((scenario.province[0], scenario.province[1], "province", None, total))
    rows.append((scenario.city[0], scenario.city[1], "city", scenario.province[0], total))
    offset = 0
    for plan in plans:
        here = community_persons[offset:offset + len(plan.community_codes)]
        offset += len(plan.community_codes)
        rows.append((plan.district.code, plan.district.name, "district", scenario.city[0], int(here.sum())))
        street_persons = np.bincount(plan.community_street, weights=here, minlength=len(plan.street_codes))
        for code, name, persons in zip(plan.street_codes, plan.street_names, street_persons.tolist(), strict=True):
            rows.append((code, name, "street", plan.district.code, int(persons)))
        for c, (code, name) in enumerate(zip(plan.community_codes, plan.community_names, strict=True)):
            rows.append((code, name, "community", plan.street_codes[plan.community_street[c]], int(here[c])))
    rows.sort(key=lambda row: row[0])
    return pa.table({
        "code": [r[0] for r in rows],
        "name": [r[1] for r in rows],
        "level": [r[2] for r in rows],
        "parent_code": [r[3] for r in rows],
        "population": [r[4] for r in rows],
    }, schema=schema.JURISDICTIONS)


def _geojson(plans: list[DistrictPlan], community_persons: np.ndarray) -> dict[str, dict[str, Any]]:
    """``districts.geojson`` and ``communities.geojson``: one polygon per district and per community."""
    districts, communities = [], []
    offset = 0
    for plan in plans:
        d = plan.district
        here = community_persons[offset:offset + len(plan.community_codes)]
        offset += len(plan.community_codes)
        districts.append(hexgrid.polygon_feature(
            hexgrid.union_outline(plan.cells, plan.cell_size), d.lon, d.lat,
            {"code": d.code, "name": d.name, "level": "district", "population": int(here.sum())}))
        for c, (code, name) in enumerate(zip(plan.community_codes, plan.community_names, strict=True)):
            outline = hexgrid.cell_outline(tuple(plan.cells[c].tolist()), plan.cell_size)
            communities.append(hexgrid.polygon_feature(
                [outline], d.lon, d.lat,
                {"code": code, "name": name, "level": "community",
                 "parent_code": plan.street_codes[plan.community_street[c]], "population": int(here[c])}))
    return {"districts.geojson": hexgrid.feature_collection(districts),
            "communities.geojson": hexgrid.feature_collection(communities)}
