"""Where households live: community, compound (小区), building, unit, door, address and coordinates.

Households fill the communities of a district in order, each community taking its share of the
district's persons. A community's households live in residential compounds: in town, compounds of
a few hundred households in six-storey walk-ups (2 doors a floor, 2–4 units a building) or high
rises (11–26 floors); in a village, groups (组) of houses in rows. About one door in twelve is
empty, so door numbers have gaps as real ones do. Every household of a building shares the
building's coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangkong.synth import hexgrid, names
from fangkong.synth.divisions import DistrictPlan, stem

VACANCY = 0.08
_NUMERALS = "一二三四五六七八九十"
_GOLDEN_ANGLE = np.pi * (3 - np.sqrt(5))


@dataclass
class Homes:
    """Per household of one district (in order): where it lives."""

    community: np.ndarray  # index into the plan's communities
    compound: np.ndarray  # index into compound_names (0-based within the district)
    compound_names: list[str]
    building: pa.StringArray
    unit: pa.StringArray
    door: pa.StringArray
    address: pa.StringArray
    lon: np.ndarray
    lat: np.ndarray


def place_households(rng: np.random.Generator, plan: DistrictPlan, household_size: np.ndarray) -> Homes:
    """Communities, compounds, buildings, units, doors, addresses and coordinates of households."""
    n_comm = len(plan.community_codes)
    community = _communities(plan, household_size)
    per_community = np.bincount(community, minlength=n_comm)

    # Compounds: sizes per community, then each compound's building style.
    compound_sizes: list[int] = []
    compound_community: list[int] = []
    for c in range(n_comm):
        sizes = _compound_sizes(rng, int(per_community[c]), bool(plan.is_village[c]))
        compound_sizes += sizes
        compound_community += [c] * len(sizes)
    sizes_arr = np.array(compound_sizes, dtype=np.int64)
    comm_of = np.array(compound_community, dtype=np.int64)
    village = plan.is_village[comm_of]
    n_cpd = len(sizes_arr)
    high_rise = ~village & (rng.random(n_cpd) < 0.35)
    floors = np.where(village, 1, np.where(high_rise, rng.integers(11, 27, n_cpd), 6))
    doors = np.where(village, rng.integers(10, 21, n_cpd), np.where(high_rise, rng.integers(2, 5, n_cpd), 2))
    units_per_building = np.where(village, 1, np.where(high_rise, rng.integers(1, 3, n_cpd),
                                                       rng.integers(2, 5, n_cpd)))

    # Households within their compound: slot k (with empty doors skipped) → building, unit, floor, door.
    compound = np.repeat(np.arange(n_cpd), sizes_arr)
    starts = np.concatenate([[0], np.cumsum(sizes_arr)[:-1]])
    skip = (rng.random(len(compound)) < VACANCY).astype(np.int64)
    skipped = np.cumsum(skip)
    before = np.concatenate([[0], skipped])[starts][compound]
    slot = np.arange(len(compound)) - starts[compound] + skipped - before
    per_unit = (floors * doors)[compound]
    unit_index = slot // per_unit
    within = slot % per_unit
    building = unit_index // units_per_building[compound] + 1
    unit = unit_index % units_per_building[compound] + 1
    is_village = village[compound]
    door = np.where(is_village, slot + 1, (within // doors[compound] + 1) * 100 + within % doors[compound] + 1)
    building_str, unit_str, door_str = names.numbers(building), names.numbers(unit), names.numbers(door)

    cpd_names = _compound_names(rng, plan, comm_of)
    roads = [f"{names.ROADS[i]}{n}号" for i, n in zip(rng.integers(0, len(names.ROADS), n_cpd).tolist(),
                                                    rng.integers(1, 400, n_cpd).tolist(), strict=True)]
    district = plan.district.name
    town = pa.array(plan.street_names).take(pa.array(plan.community_street[comm_of]))
    name_arr = pa.array(cpd_names).take(pa.array(compound))
    urban_addr = names.text(district, pa.array(roads).take(pa.array(compound)), name_arr, building_str, "栋",
                            unit_str, "单元", door_str, "室")
    village_addr = names.text(district, town.take(pa.array(compound)), name_arr, door_str, "号")
    address = pc.if_else(pa.array(is_village), village_addr, urban_addr)

    # Coordinates: compounds spread over their community's cell, buildings on a sunflower inside.
    r_in = plan.inradius
    angle = rng.random(n_cpd) * 2 * np.pi
    radius = 0.65 * r_in * np.sqrt(rng.random(n_cpd))
    cpd_xy = plan.centre_km[comm_of] + np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    buildings = np.maximum.reduceat(building, starts) if n_cpd else np.zeros(0, dtype=np.int64)
    spread = min(0.2, 0.3 * r_in) * np.sqrt((building - 0.5) / buildings[compound])
    theta = building * _GOLDEN_ANGLE
    xy = cpd_xy[compound] + np.stack([spread * np.cos(theta), spread * np.sin(theta)], axis=1)
    lon, lat = hexgrid.to_lonlat(xy, plan.district.lon, plan.district.lat)
    return Homes(community=community, compound=compound, compound_names=cpd_names,
                 building=building_str, unit=unit_str, door=door_str, address=address, lon=lon, lat=lat)


def _communities(plan: DistrictPlan, household_size: np.ndarray) -> np.ndarray:
    """The community of each household: consecutive runs holding each community's share of persons."""
    n_comm, n_hh = len(plan.community_codes), len(household_size)
    if n_hh < n_comm:
        raise ValueError(f"population too small for {plan.district.name}: {n_hh} households for "
                         f"{n_comm} communities; generate more persons")
    start = np.cumsum(household_size) - household_size  # persons before each household
    bounds = plan.persons * np.cumsum(plan.share)[:-1]
    first = np.searchsorted(start, bounds, side="left")  # first household of communities 1..n-1
    # Every community keeps at least one household.
    steps = np.arange(1, n_comm)
    first = np.maximum.accumulate(np.maximum(first - steps, 0)) + steps
    first = np.minimum(first, n_hh - n_comm + steps)
    community = np.zeros(n_hh, dtype=np.int64)
    community[first] = 1
    return np.cumsum(community)


def _compound_sizes(rng: np.random.Generator, households: int, village: bool) -> list[int]:
    """Households per compound of one community, adding up to ``households``."""
    if village:
        draw = rng.integers(40, 151, households // 40 + 2)
    else:
        draw = np.clip(rng.lognormal(np.log(350), 0.6, households // 60 + 2), 60, 1500).astype(np.int64)
    cum = np.cumsum(draw)
    k = int(np.searchsorted(cum, households))
    sizes = draw[: k + 1].tolist()
    sizes[-1] = households - int(cum[k - 1]) if k else households
    if len(sizes) > 1 and sizes[-1] < 20:  # a stub joins the compound before it
        stub = sizes.pop()
        sizes[-1] += stub
    return [s for s in sizes if s > 0]


def _compound_names(rng: np.random.Generator, plan: DistrictPlan, comm_of: np.ndarray) -> list[str]:
    """Distinct names within the district: 江南花园, 阳光家园 … in town, 大沟村三组 … in villages."""
    pool = [w + s for w in names.COMPOUND_WORDS for s in names.COMPOUND_SUFFIXES]
    order = rng.permutation(len(pool)).tolist()
    used: set[str] = set()
    out: list[str] = []
    group = 0
    for i, c in enumerate(comm_of.tolist()):
        if plan.is_village[c]:
            group = group + 1 if i and comm_of[i - 1] == c else 1
            out.append(plan.community_names[c] + (_NUMERALS[group - 1] if group <= 10 else str(group)) + "组")
            continue
        first_of_community = i == 0 or comm_of[i - 1] != c
        name = f"{stem(plan.community_names[c])}小区" if first_of_community else ""
        while not name or name in used:
            name = pool[order.pop()] if order else f"{stem(plan.community_names[c])}{len(used)}号院"
        used.add(name)
        out.append(name)
    return out
