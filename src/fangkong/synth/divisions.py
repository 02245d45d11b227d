"""The divisions below a district: its streets and towns, their communities and villages, and where they lie.

A street (街道) and a town large enough to be urban hold communities (社区) of about 4,500 persons;
other towns hold a town-centre community and villages (村) of about 2,000, a township (乡) only
villages. The numbers scale with the population generated, with at least one community per street,
so a small slice of a city keeps the real street list. Community codes follow the national pattern:
001… for communities, 201… for villages. Each community occupies one cell of a hexagonal grid
around the district seat: urban communities in the middle, villages around them, each street a
sector of its ring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fangkong.synth import hexgrid, names
from fangkong.synth.scenario import District, Scenario, Street

URBAN_COMMUNITY_PERSONS = 4_500
VILLAGE_PERSONS = 2_000
MAX_EXTENT_KM = 4.0  # how far the outermost cells lie from the seat, at most


@dataclass
class DistrictPlan:
    """The streets and communities of one district, with their shares of its persons and their cells."""

    district: District
    persons: int
    street_codes: list[str]
    street_names: list[str]
    community_codes: list[str]
    community_names: list[str]
    community_street: np.ndarray  # index into street_codes
    is_village: np.ndarray  # bool
    share: np.ndarray  # share of the district's persons, sums to 1
    cells: np.ndarray  # axial (q, r) of each community's cell
    cell_size: float  # km from a cell's centre to its corners
    centre_km: np.ndarray  # (x, y) of each community's centre, km from the seat

    @property
    def inradius(self) -> float:
        """Distance in km from a cell's centre to its edges."""
        return self.cell_size * math.sqrt(3) / 2


def stem(name: str) -> str:
    """新站街道 → 新站, 三源浦朝鲜族镇 → 三源浦, 江南社区 → 江南."""
    for suffix in ("街道", "社区", "村", "镇", "乡"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    for minority in ("满族朝鲜族", "朝鲜族满族", "朝鲜族", "满族"):
        name = name.removesuffix(minority)
    return name


def plan_district(rng: np.random.Generator, scenario: Scenario, district: District, persons: int) -> DistrictPlan:
    """Streets, communities, their shares of ``persons`` and their cells around the seat."""
    streets = district.streets or (Street("001", f"{stem(district.name)}街道", 1.0),)
    weights = np.array([s.weight for s in streets], dtype=float)
    expected = persons * weights / weights.sum()
    used: set[str] = set()
    codes: list[str] = []
    titles: list[str] = []
    street_of: list[int] = []
    village: list[bool] = []
    share: list[float] = []
    for i, (street, people) in enumerate(zip(streets, expected, strict=True)):
        if street.is_urban:
            n_total = max(1, round(people / URBAN_COMMUNITY_PERSONS))
            n_urban = n_total if street.name.endswith("街道") else max(1, round(0.8 * n_total))
        else:
            n_total = max(1, round(people / VILLAGE_PERSONS))
            n_urban = 1 if street.name.endswith("镇") and n_total >= 3 else 0
        kinds = [False] * n_urban + [True] * (n_total - n_urban)
        raw = rng.lognormal(0.0, 0.3, n_total) * np.where(kinds, VILLAGE_PERSONS, URBAN_COMMUNITY_PERSONS)
        base = f"{district.code}{street.suffix}"
        town = stem(street.name)
        urban_names = _fresh(rng, names.COMMUNITY_WORDS, n_urban, "社区", used, first=town)
        village_names = _fresh(rng, names.VILLAGE_WORDS, n_total - n_urban, "村", used,
                               first=town if n_urban == 0 else None)
        codes += [f"{base}{k:03d}" for k in range(1, n_urban + 1)]
        codes += [f"{base}{k:03d}" for k in range(201, 201 + n_total - n_urban)]
        titles += urban_names + village_names
        street_of += [i] * n_total
        village += kinds
        share += list(people * raw / raw.sum())
    is_village = np.array(village)
    community_street = np.array(street_of, dtype=np.int64)
    inner = np.array([streets[i].is_urban for i in street_of], dtype=bool)
    cells, size = _layout(scenario, district, inner, community_street)
    shares = np.array(share) / sum(share)
    return DistrictPlan(
        district=district, persons=persons,
        street_codes=[f"{district.code}{s.suffix}" for s in streets], street_names=[s.name for s in streets],
        community_codes=codes, community_names=titles, community_street=community_street, is_village=is_village,
        share=shares, cells=cells, cell_size=size, centre_km=hexgrid.centres(cells, size),
    )


def _fresh(rng: np.random.Generator, words: tuple[str, ...] | list[str], n: int, suffix: str, used: set[str],
           first: str | None = None) -> list[str]:
    """``n`` names not yet used in the district, the first one after its street if given and free."""
    out: list[str] = []
    if n and first and f"{first}{suffix}" not in used:
        out.append(f"{first}{suffix}")
        used.add(out[0])
    for name in names.pick_unique(rng, words, n + len(used), suffix):
        if len(out) == n:
            break
        if name not in used:
            out.append(name)
            used.add(name)
    return out


def _layout(scenario: Scenario, district: District, inner: np.ndarray,
            street: np.ndarray) -> tuple[np.ndarray, float]:
    """Cells of the communities in their order, and the cell size in km.

    The district spans at most MAX_EXTENT_KM, and no more than a third of the way to the nearest
    other seat, so neighbouring districts never overlap.
    """
    n = len(inner)
    nearest = min((hexgrid.km_between(district.lon, district.lat, d.lon, d.lat)
                   for d in scenario.districts if d.code != district.code), default=3 * MAX_EXTENT_KM)
    extent = min(MAX_EXTENT_KM, nearest / 3)
    size = min(1.2, extent / (math.sqrt(3) * (hexgrid.rings_for(n) + 0.5)))
    spiral = hexgrid.spiral(n)
    xy = hexgrid.centres(spiral, size)
    angle = np.arctan2(xy[:, 1], xy[:, 0])
    cells = np.empty_like(spiral)
    # Communities of urban streets take the inner cells, those of rural towns the outer; within
    # each, streets take consecutive sectors (cells sorted by angle), so a street's communities
    # are neighbours.
    n_inner = int(inner.sum())
    for members, pool in ((np.flatnonzero(inner), np.arange(n_inner)),
                          (np.flatnonzero(~inner), np.arange(n_inner, n))):
        by_angle = pool[np.argsort(angle[pool], kind="stable")]
        order = members[np.argsort(street[members], kind="stable")]
        cells[order] = spiral[by_angle]
    return cells, size
