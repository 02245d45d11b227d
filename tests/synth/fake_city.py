"""A stand-in city for the presence and outbreak tests: the tables of the City contract, nothing more.

It has the seven districts of 通化市 with their population shares, a few streets and communities
in each, households by type (old people alone or in couples, couples with children, three
generations) so that about a quarter of the persons are 60 or over, and places of every category
in every district, one of them the large vegetable wholesale market (蔬菜批发市场) of 东昌区. Names,
ID numbers and coordinates are placeholders: only the columns of schema.py and their types matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangkong.synth import schema

DISTRICTS = (  # code, name, population of the full city
    ("220502", "东昌区", 355_300), ("220503", "二道江区", 107_000), ("220521", "通化县", 175_114),
    ("220523", "辉南县", 215_000), ("220524", "柳河县", 232_000), ("220581", "梅河口市", 551_000),
    ("220582", "集安市", 176_700),
)
FULL_POPULATION = sum(p for _, _, p in DISTRICTS)

# Places per category in the full city; scaled with the population, at least one per district (three markets).
PLACES_FULL = {
    "market": 35, "supermarket": 500, "restaurant": 4_000, "school": 350, "kindergarten": 450, "hospital": 40,
    "pharmacy": 800, "workplace": 15_000, "bus": 700, "gathering": 900, "other": 3_000,
}

# (share of households, ages of the members as (lo, hi) ranges; a child's range is relative to the first adult)
HOUSEHOLD_TYPES = (
    (0.10, ((62, 92),)),  # an old person alone
    (0.10, ((20, 59),)),  # an adult alone
    (0.21, ((60, 88), (60, 88))),  # an old couple
    (0.16, ((25, 59), (25, 59))),  # a couple
    (0.23, ((26, 52), (26, 52), (-36, -22))),  # a couple and a child
    (0.06, ((30, 45), (30, 45), (-36, -22), (-36, -22))),  # a couple and two children
    (0.14, ((28, 45), (28, 45), (-34, -24), (24, 32))),  # three generations: a child and a grandparent
)


@dataclass(frozen=True)
class FakeScenario:
    """The scenario fields presence and the outbreak read."""

    name: str = "tonghua-2021"
    start: date = date(2021, 1, 1)
    worst_district: str = "220502"


@dataclass
class FakeCity:
    """The City contract: the tables a real generated city has, with their exact schemas."""

    scenario: FakeScenario
    seed: int
    jurisdictions: pa.Table
    households: pa.Table
    dwellings: pa.Table
    persons: pa.Table
    places: pa.Table
    facilities: pa.Table
    geojson: dict[str, dict] = field(default_factory=dict)


def build(population: int = 20_000, *, seed: int = 7) -> FakeCity:
    """A city of about ``population`` persons, the same for the same arguments."""
    rng = np.random.default_rng([seed, 0xC17])
    scenario = FakeScenario()
    scale = population / FULL_POPULATION

    # Jurisdictions: each district has streets of ~30,000 and communities of ~4,000 (full size).
    rows: list[tuple[str, str, str, str | None, int]] = [("22", "吉林省", "province", None, population),
                                                          ("2205", "通化市", "city", "22", population)]
    communities: list[str] = []
    community_share: list[float] = []
    for code, name, full in DISTRICTS:
        pop = full * scale
        rows.append((code, name, "district", "2205", round(pop)))
        n_streets = max(1, min(12, round(full / 30_000)))
        for s in range(n_streets):
            street = f"{code}{s + 1:03d}"
            rows.append((street, f"{name}第{s + 1}街道", "street", code, round(pop / n_streets)))
            n_comm = max(1, round(full / n_streets / 4_000 * min(1.0, 4 * scale) + 0.5))
            for c in range(n_comm):
                communities.append(f"{street}{c + 1:03d}")
                community_share.append(pop / n_streets / n_comm)
                rows.append((communities[-1], f"{name}{s + 1}-{c + 1}社区", "community", street,
                             round(pop / n_streets / n_comm)))
    jurisdictions = pa.Table.from_pylist(
        [dict(zip(schema.JURISDICTIONS.names, r, strict=True)) for r in rows], schema=schema.JURISDICTIONS)

    # Households by type; members' ages from the type's ranges.
    shares = np.array([t[0] for t in HOUSEHOLD_TYPES])
    sizes = np.array([len(t[1]) for t in HOUSEHOLD_TYPES])
    n_households = int(population / (shares @ sizes) * 1.02) + 8
    kind = rng.choice(len(HOUSEHOLD_TYPES), size=n_households, p=shares / shares.sum())
    size = sizes[kind]
    cut = int(np.searchsorted(np.cumsum(size), population)) + 1
    kind, size = kind[:cut], size[:cut]
    n_households = len(kind)
    hh_of = np.repeat(np.arange(n_households), size)
    slot = np.arange(len(hh_of)) - np.repeat(np.cumsum(size) - size, size)
    lo = np.zeros(len(hh_of), np.int64)
    hi = np.zeros(len(hh_of), np.int64)
    for k, (_, ranges) in enumerate(HOUSEHOLD_TYPES):
        for j, (a, b) in enumerate(ranges):
            sel = (kind[hh_of] == k) & (slot == j)
            lo[sel], hi[sel] = a, b
    age = rng.integers(np.maximum(lo, 0), np.maximum(hi, 0) + 1)
    first_adult_age = age[np.cumsum(size) - size][hh_of]
    relative = lo < 0  # a child: so many years younger than the first adult
    age = np.where(relative, first_adult_age + rng.integers(lo, hi + 1), age)
    grandparent = (kind[hh_of] == len(HOUSEHOLD_TYPES) - 1) & (slot == 3)
    age = np.where(grandparent, first_adult_age + age, age)  # drawn as a gap of 24–32 years
    age = np.clip(age, 0, 99)
    n = len(age)

    birth = np.datetime64(scenario.start, "D") - (age * 365.25 + rng.integers(1, 365, n)).astype("timedelta64[D]")
    p_comm = np.array(community_share) / sum(community_share)
    hh_comm = rng.choice(len(communities), size=n_households, p=p_comm)
    comm_codes = pa.array(communities)
    hh_ids = np.arange(1, n_households + 1, dtype=np.int64)
    households = pa.table({
        "household_id": hh_ids,
        "community_code": comm_codes.take(pa.array(hh_comm)),
        "address": pc.binary_join_element_wise("户", pa.array(hh_ids).cast(pa.string()), ""),
        "lon": 125.9 + rng.random(n_households), "lat": 41.7 + rng.random(n_households),
    }, schema=schema.HOUSEHOLDS)
    dwellings = pa.table({
        "household_id": hh_ids, "compound_id": hh_ids // 200 + 1,
        "compound_name": pc.binary_join_element_wise("小区", pa.array(hh_ids // 200 + 1).cast(pa.string()), ""),
        "building": pa.array(((hh_ids // 40) % 5 + 1).astype(str)),
        "unit": pa.array(((hh_ids // 10) % 4 + 1).astype(str)),
        "door": pa.array((hh_ids % 10 + 101).astype(str)),
    }, schema=schema.DWELLINGS)
    person_ids = np.arange(1, n + 1, dtype=np.int64)
    id_str = pa.array(person_ids).cast(pa.string())
    persons = pa.table({
        "person_id": person_ids,
        "household_id": hh_ids[hh_of],
        "id_number": pc.utf8_lpad(id_str, 18, "0"),
        "name": pc.binary_join_element_wise("张", id_str, ""),
        "sex": pa.array(np.where(slot % 2 == 0, "M", "F")),
        "birth_date": pa.array(birth.astype("datetime64[D]")).cast(pa.date32()),
        "phone": pc.binary_join_element_wise("139", pc.utf8_lpad(id_str, 8, "0"), ""),
        "community_code": comm_codes.take(pa.array(hh_comm[hh_of])),
    }, schema=schema.PERSONS)

    # Places: per district in proportion to its population; one wholesale market in the worst district.
    place_rows: list[tuple[str, str, str]] = []
    district_comms = {code: [c for c in communities if c.startswith(code)] for code, _, _ in DISTRICTS}
    for category, full_count in PLACES_FULL.items():
        for code, name, full in DISTRICTS:
            count = max(3 if category == "market" else 1, round(full_count * full / FULL_POPULATION * scale))
            for i in range(count):
                comms = district_comms[code]
                where = comms[int(rng.integers(len(comms)))]
                label = f"{name}{category}{i + 1}"
                if category == "market" and code == scenario.worst_district and i == 0:
                    label, where = f"{name}蔬菜批发市场", where[:9]  # a street-level venue
                place_rows.append((category, label, where))
    m = len(place_rows)
    places = pa.table({
        "place_id": np.arange(1, m + 1, dtype=np.int64),
        "category": [r[0] for r in place_rows], "name": [r[1] for r in place_rows],
        "venue_code": [f"V{i + 1:08d}" for i in range(m)], "jurisdiction_code": [r[2] for r in place_rows],
        "lon": 125.9 + rng.random(m), "lat": 41.7 + rng.random(m),
    }, schema=schema.PLACES)
    facilities = pa.Table.from_pylist([
        {"facility_id": 1, "kind": "lab", "name": "东昌区实验室", "jurisdiction_code": "220502",
         "lon": 125.94, "lat": 41.73, "capacity": None},
    ], schema=schema.FACILITIES)
    return FakeCity(scenario, seed, jurisdictions, households, dwellings, persons, places, facilities)
