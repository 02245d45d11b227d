"""The city as the arrays the simulation reads: persons and places by dense index, with ages and districts.

Presence (presence.py) and the outbreak (outbreak.py) work on numpy arrays indexed 0..n-1 rather
than on ids; this module builds those arrays once from the city's tables and maps ids back and
forth. It reads only the columns of the file contract (schema.py), so any city that has them will
do: ``fangkong.synth.city.City`` and the tests' stand-in both satisfy ``CityLike``. When the
city also knows each place's size or pull (``City.place_capacity``) and kind (``City.place_kind``),
they are used: as the weight with which people choose a place, and to hold the index case's sales
gatherings in a health-product hall (保健品会所).

Times inside the simulation are int64 microseconds since the Unix epoch, UTC, as in the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fangkong.synth import schema

Array = npt.NDArray[Any]

US_PER_MINUTE = 60 * 1_000_000
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
LOCAL_UTC_OFFSET = timedelta(hours=8)  # Asia/Shanghai has no daylight saving time
CATEGORY_CODE = {name: i for i, name in enumerate(schema.PLACE_CATEGORIES)}


class ScenarioLike(Protocol):
    """What the simulation reads of a scenario."""

    @property
    def name(self) -> str: ...
    @property
    def start(self) -> date: ...  # the first simulated day
    @property
    def worst_district(self) -> str: ...  # 6-digit code of the district the index case lives in


class CityLike(Protocol):
    """What the simulation reads of a city: its scenario and three of its tables."""

    @property
    def scenario(self) -> ScenarioLike: ...
    @property
    def persons(self) -> pa.Table: ...  # schema.PERSONS
    @property
    def households(self) -> pa.Table: ...  # schema.HOUSEHOLDS
    @property
    def places(self) -> pa.Table: ...  # schema.PLACES


def day_start(day: date) -> int:
    """Local midnight (Asia/Shanghai) of ``day`` in microseconds since the epoch, UTC."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - LOCAL_UTC_OFFSET
    return int(midnight.timestamp()) * 1_000_000


class IdIndex:
    """Maps int64 ids to their dense index 0..n-1 in ascending id order, and back."""

    def __init__(self, ids: Array) -> None:
        self.ids = np.sort(np.asarray(ids, dtype=np.int64))
        if len(self.ids) and (np.diff(self.ids) == 0).any():
            raise ValueError("ids are not unique")
        # Generated ids are usually 1..n: then the index is a subtraction, not a binary search.
        self._base = int(self.ids[0]) if len(self.ids) else 0
        self._dense = bool(len(self.ids) == 0 or self.ids[-1] - self._base == len(self.ids) - 1)

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, ids: Array) -> Array:
        """The dense index of each id; KeyError if one is unknown."""
        ids = np.asarray(ids, dtype=np.int64)
        if self._dense:
            idx = ids - self._base
            if len(idx) and (idx.min() < 0 or idx.max() >= len(self.ids)):
                raise KeyError("unknown id")
            return idx
        idx = np.searchsorted(self.ids, ids)
        if len(idx) and ((idx >= len(self.ids)).any() or (self.ids[np.minimum(idx, len(self.ids) - 1)] != ids).any()):
            raise KeyError("unknown id")
        return idx


def _codes(column: pa.ChunkedArray, length: int, dictionary: list[str]) -> Array:
    """Index into ``dictionary`` of each code's first ``length`` characters (-1 if absent or too short)."""
    prefix = pc.utf8_slice_codeunits(column, 0, length)
    prefix = pc.if_else(pc.less(pc.utf8_length(column), length), None, prefix)
    idx = pc.index_in(prefix, value_set=pa.array(dictionary))
    return np.asarray(pc.fill_null(idx, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _unique_prefixes(*columns: pa.ChunkedArray, length: int) -> list[str]:
    found: set[str] = set()
    for column in columns:
        prefix = pc.utf8_slice_codeunits(column, 0, length)
        prefix = pc.filter(prefix, pc.greater_equal(pc.utf8_length(column), length))
        found.update(pc.unique(prefix).to_pylist())
    return sorted(found)


@dataclass
class Population:
    """Persons and places of a city by dense index (ascending id), with what the simulation needs of them."""

    persons: IdIndex
    places: IdIndex
    age: Array  # completed years at the scenario's start, int64
    household: Array  # dense household index of each person
    household_members: Array  # person indexes grouped by household ...
    household_offsets: Array  # ... household h's members are household_members[offsets[h]:offsets[h + 1]]
    district: Array  # index into district_codes (first 6 digits of the community code)
    street: Array  # index into street_codes (first 9 digits), -1 if the code is shorter
    district_codes: list[str]
    street_codes: list[str]
    place_category: Array  # index into schema.PLACE_CATEGORIES
    place_district: Array  # index into district_codes, -1 if outside every district of a person
    place_street: Array  # index into street_codes, -1 for a district-level venue
    place_name: list[str]
    place_capacity: Array | None  # employees, pupils or visitors a day, if the city says
    place_kind: Array | None  # a refinement of the category (e.g. "health_product_hall"), if the city says

    @classmethod
    def from_city(cls, city: CityLike) -> Population:
        """Build the arrays from the city's persons, households and places tables."""
        persons = city.persons.sort_by("person_id")
        place_order = np.argsort(city.places.column("place_id").to_numpy(), kind="stable")
        places = city.places.take(place_order)
        capacity, kind = getattr(city, "place_capacity", None), getattr(city, "place_kind", None)
        person_index = IdIndex(persons.column("person_id").to_numpy())
        place_index = IdIndex(places.column("place_id").to_numpy())

        start = np.datetime64(city.scenario.start, "D")
        birth = persons.column("birth_date").to_numpy().astype("datetime64[D]")
        years = start.astype("datetime64[Y]").astype(np.int64) - birth.astype("datetime64[Y]").astype(np.int64)
        start_day_of_year = (start - start.astype("datetime64[Y]")).astype(np.int64)
        birth_day_of_year = (birth - birth.astype("datetime64[Y]")).astype(np.int64)
        # Not yet had this year's birthday (day-of-year is close enough around 29 February).
        age = years - (birth_day_of_year > start_day_of_year)

        household_ids = persons.column("household_id").to_numpy()
        _, household = np.unique(household_ids, return_inverse=True)
        household = household.astype(np.int64)
        members = np.argsort(household, kind="stable").astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(household))]).astype(np.int64)

        community = persons.column("community_code")
        venue = places.column("jurisdiction_code")
        district_codes = _unique_prefixes(community, venue, length=6)
        street_codes = _unique_prefixes(community, venue, length=9)
        category = pc.index_in(places.column("category"), value_set=pa.array(schema.PLACE_CATEGORIES))
        if category.null_count:
            raise ValueError("a place has a category outside schema.PLACE_CATEGORIES")
        return cls(
            persons=person_index, places=place_index, age=np.maximum(age, 0).astype(np.int64),
            household=household, household_members=members, household_offsets=offsets,
            district=_codes(community, 6, district_codes), street=_codes(community, 9, street_codes),
            district_codes=district_codes, street_codes=street_codes,
            place_category=np.asarray(category.to_numpy(zero_copy_only=False), dtype=np.int64),
            place_district=_codes(venue, 6, district_codes), place_street=_codes(venue, 9, street_codes),
            place_name=places.column("name").to_pylist(),
            place_capacity=None if capacity is None else np.asarray(capacity, dtype=float)[place_order],
            place_kind=None if kind is None else np.asarray(kind)[place_order],
        )

    def places_of(self, category: str) -> Array:
        """Dense indexes of the places of one category."""
        return np.flatnonzero(self.place_category == CATEGORY_CODE[category])
