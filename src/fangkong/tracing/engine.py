"""The contact engine (流调): who was in contact with the cases, of which kind, and the evidence for each.

``trace`` reads presence records (场所码 check-ins: person, place, time in, time out) in the layout
of ``fangkong.synth.schema`` and classifies every person once, by the strongest kind that applies:

- a case's window starts ``lookback_days`` before symptom onset (before the first positive sample
  when there is none) and ends when the case was isolated, or at the end of the data;
- close contact (密接): a member of the case's household, or anyone whose record at a place of a
  close-contact category overlaps one of the case's records there (clipped to the window) in one
  continuous overlap at least the category's minimum long (a minimum of 0: any overlap at all);
- secondary contact (次密接): the same, with a close contact in place of the case, over the close
  contact's own window: from their earliest exposure to a case until they were isolated;
- exposed at a place (涉疫场所暴露): any overlap with a case's record at a place of an exposed category.

Cases are never contacts; exposed persons have no contacts of their own. Overlap of [a1, a2) and
[b1, b2) is min(a2, b2) - max(a1, b1); times are microseconds since the epoch throughout.

How. A join on place alone is quadratic at a market with hundreds of thousands of check-ins, and at
city scale the second hop is a billion overlapping pairs (every bus rider is a close contact of
someone). So each day's records are kept sorted by (place, time in), as the generator writes them,
and both hops are searches in that order rather than joins:

- first hop: for each record of a case, the records that can overlap it are those of the place that
  came in before it left and no earlier than it came in minus the place's longest stay: one binary
  search at each end, then the exact overlap of each candidate pair (every pair is evidence);
- second hop: the records of anyone else at a place of a close-contact category and the close
  contacts' records there, both sorted the same way, are walked together once, which finds each
  record's best evidence at once: the close contact present when they came in who stayed the latest
  (a running maximum), or else the next close contact to come in. No pair is formed.

A partition is read once, by two threads a partition or two ahead of the search (Parquet decoding,
most numpy work and the compiled loops of ``kernels`` leave the interpreter free), and only when a
window reaches its time range (from the files' statistics); its columns are used as read, and the
records that the second hop searches (on either side: those at close-contact places, the minimum
long) are picked out meanwhile. Days whose records can overlap (a partition's time range reaching
into another's) are searched together; the synthetic city's local days never do. Groups of days are
searched two at a time, and as groups do not overlap in time, a group's second hop starts as soon as
the first hop has passed it: a close contact's window cannot begin on a later group than the one
they are found on, so the close contacts reaching a group are all known by then (those found later
are dropped from its results), and its records are released once both hops are done. A person with
secondary evidence on an earlier group is not searched for on later ones. docs/tracing.md tells the
rules and the measurements.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fangkong.rulesets import TracingRules
from fangkong.synth import dataset, schema

Ints = npt.NDArray[np.int64]
Marks = npt.NDArray[np.int8]
_T = TypeVar("_T")
Progress = Callable[[str, int, int], None]
Key = Callable[[Any], Ints]  # a key of an order of rows: its values at the given positions (or ALL)
ALL = slice(None)

US_PER_MINUTE = 60_000_000
US_PER_DAY = 86_400_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NEVER = np.iinfo(np.int64).max
PARTITION = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
PRESENCE_COLUMNS = ("person_id", "place_id", "t_in", "t_out")
# Ids from 0 up to this are looked up in a table indexed by the id; others by binary search.
DIRECT_IDS = 1 << 27
# Ids spread over more than this many times their number are told apart by sorting, not counting.
SPARSE = 8
# What a place's category makes of an overlap there.
NOTHING, CLOSE, EXPOSED = 0, 1, 2
# Who a person is in the second hop: anyone else, a close contact, a case, or someone whose secondary
# evidence was found on an earlier day (not searched for again).
ANYONE, A_CLOSE, A_CASE, FOUND = 0, 1, 2, 3


class ContactKind(StrEnum):
    """The kinds of contact, strongest first."""

    CLOSE = "close"  # 密接
    SECONDARY = "secondary"  # 次密接
    EXPOSED = "exposed"  # 涉疫场所暴露


CONTACTS = pa.schema([
    ("person_id", pa.int64()),
    ("kind", pa.string()),  # a ContactKind
    ("case_person_id", pa.int64()),
    ("via_person_id", pa.int64()),  # the close contact, for a secondary contact; else null
    ("place_id", pa.int64()),  # null for a household
    ("first_exposure", schema.UTC_TS),
    ("last_exposure", schema.UTC_TS),
])

EXPOSURES = pa.schema([
    *CONTACTS,
    ("category", pa.string()),  # of the place; null for a household
    ("minutes", pa.float64()),  # last_exposure - first_exposure
    # When the source (the case, or the close contact for a secondary contact) left: their record
    # clipped to their window, or their window's end for a household. Breaks ties (see trace).
    ("source_until", schema.UTC_TS),
])


@dataclass(frozen=True)
class CaseInput:
    """A case to trace: who, and the times that bound their window (all aware datetimes)."""

    person_id: int
    onset_at: datetime | None  # symptom onset; None for a case without symptoms
    sampled_at: datetime  # the first positive sample
    isolated_at: datetime | None  # None while not isolated


@dataclass(frozen=True)
class Source:
    """Where the presence records and the two lookups come from."""

    presence: Path  # a folder of day=YYYY-MM-DD/ partitions of schema.PRESENCE files
    persons: Path | pa.Table  # person_id, household_id
    places: Path | pa.Table  # place_id, category (schema.PLACE_CATEGORIES)
    days: tuple[date, ...] | None = None  # the days the data should cover; None: the partitions found

    @classmethod
    def from_dataset(cls, folder: Path) -> Source:
        """The files of a dataset written by ``fangkong synth``, with its days from the manifest when present."""
        folder = Path(folder)
        days = None
        if (folder / dataset.MANIFEST).is_file():
            days = tuple(dataset.read_manifest(folder).presence_days)
        return cls(presence=folder / dataset.PRESENCE, persons=folder / "persons.parquet",
                   places=folder / "places.parquet", days=days)


@dataclass
class TraceResult:
    """The contacts of a set of cases, one row each (CONTACTS), and the evidence behind them (EXPOSURES)."""

    contacts: pa.Table
    exposures: pa.Table
    missing_days: list[date]  # days inside a case's or close contact's window with no presence partition
    data_end: datetime  # midnight UTC after the last day of data
    days_read: list[date]
    rows_read: int  # presence records read
    cases: int

    @property
    def counts(self) -> dict[ContactKind, int]:
        """Contacts of each kind."""
        found = {row["values"]: row["counts"] for row in pc.value_counts(self.contacts["kind"]).to_pylist()}
        return {kind: int(found.get(kind.value, 0)) for kind in ContactKind}


def trace(source: Source, cases: Sequence[CaseInput], rules: TracingRules, *,
          isolations: Mapping[int, datetime] | None = None, progress: Progress | None = None) -> TraceResult:
    """Find the close, secondary and exposed contacts of ``cases`` in ``source``'s presence records.

    ``isolations`` says when contacts (not cases) were isolated: it ends a close contact's own window.
    Each contact's row is the evidence of their earliest exposure of their kind; ties go to the
    source who stayed the latest (``source_until``), then the smallest case id, close contact id
    and place id (households first), then the longest. ``exposures`` holds every piece of close and
    exposed evidence; a secondary contact's links to close contacts number billions at city scale,
    so it holds their chosen one only. A person missing from ``source.persons`` can still be a
    contact (without a household). ``progress(stage, done, total)`` is called from the calling
    thread. ``ValueError`` for a case listed twice, a naive time, or a case isolated before their
    window starts.
    """
    report: Progress = progress or (lambda stage, done, total: None)
    places = _Places.build(_read_table(source.places, ["place_id", "category"]), rules)
    layout = _Layout.scan(source)
    persons = _Persons.build(_read_table(source.persons, ["person_id", "household_id"]), layout.largest_person)
    upto = max(layout.largest_person, int(persons.index.ids[-1]) if len(persons.index.ids) else 0)
    chosen = _Cases.build(cases, rules, layout.data_end, upto)
    loader = _Loader(layout, places, report, workers=max(1, min(2, os.cpu_count() or 1)))
    try:
        return _trace(layout, places, persons, chosen, loader, isolations, upto, report)
    finally:
        loader.close()


def _trace(layout: _Layout, places: _Places, persons: _Persons, chosen: _Cases, loader: _Loader,
           isolations: Mapping[int, datetime] | None, upto: int, report: Progress) -> TraceResult:
    ends = _isolation_ends({int(k): _micros(v, f"isolation of {k}") for k, v in (isolations or {}).items()},
                           layout.data_end)

    # Two groups of days are searched at a time while the next are read.
    pool = ThreadPoolExecutor(max_workers=loader.workers, thread_name_prefix="trace")

    # First hop: the cases' households and everyone who shared a place with a case. Each group of days
    # also picks its best close evidence of each person, so that the close contacts grow by one row each,
    # and makes its part of the evidence table (close, exposed).
    def first_hop(rows: _Rows) -> _FirstHop:
        found = _case_overlaps(rows, chosen, places)
        near = places.kind[found.place] == CLOSE
        close, exposed = found.take(near), found.take(~near)
        return _FirstHop(close.take(_pick(close.person, close.order_keys())), exposed,
                         close.to_table(ContactKind.CLOSE, places), exposed.to_table(ContactKind.EXPOSED, places))

    # Second hop: everyone who shared a place with a close contact, the best evidence of each. Whoever
    # ``marks`` as FOUND has evidence on an earlier group of days and is not searched for (their later
    # evidence cannot come first); the marks serve only when every id of the group indexes them.
    def second_hop(rows: _Rows, closes: _Closes, marks: Marks | None) -> tuple[_Evidence, bool]:
        marked = marks if rows.fits(marks) else None
        found = _secondary_overlaps(rows, closes, places, marked)
        return found.take(_pick(found.person, found.order_keys(closes.rank_of))), marked is not None

    # The second hop of a group of days starts as soon as the first hop has passed it. Groups never
    # overlap in time, so evidence found on a later group comes later than any found on this one: who
    # is a close contact with a window reaching this group, and by which row, is known once the first
    # hop has passed it and every group before it. Who becomes a close contact later can be searched
    # for here as anyone else; their rows are dropped at the end.
    household = _household_close(persons, chosen)
    closes = _Closes.build(household.take(_pick(household.person, household.order_keys())), chosen, ends, upto)
    found_marks = np.zeros(upto + 1, dtype=np.int8) if chosen.flag is not None else None  # FOUND by person id
    close_tables, exposed_parts, exposed_tables = [household.to_table(ContactKind.CLOSE, places)], [], []
    groups = loader.plan(chosen.start, chosen.end)
    passing: deque[tuple[list[_Partition], _Rows, Future[_FirstHop]]] = deque()
    early: dict[tuple[date, ...], list[_Partition]] = {}  # groups whose second hop started with the first
    searching: dict[tuple[date, ...], Future[tuple[_Evidence, bool]]] = {}
    searched: dict[tuple[date, ...], _Evidence] = {}

    def passed(group: list[_Partition], rows: _Rows, hop: Future[_FirstHop]) -> None:
        """Take the first hop's result of ``group`` (every group before it taken) and start its second hop."""
        nonlocal closes
        found = hop.result()
        close_tables.append(found.close_table)
        exposed_parts.append(found.exposed)
        exposed_tables.append(found.exposed_table)
        closes = _Closes.build(closes.with_rows(found.best), chosen, ends, upto)
        report("close contacts", len(exposed_parts), len(groups))
        # Only a group that the final plan of the second hop will hold as it is: no other partition's
        # time range reaches into it, and the known windows reach each of its partitions (later close
        # contacts' windows begin after it). Else its days wait until every close contact is known.
        if not layout.alone(group):
            return
        reached = [_reaches(part, closes.start, closes.end) for part in group]
        if not any(reached):
            loader.release(group)
        elif all(reached):
            early[_days(group)] = group
            searching[_days(group)] = pool.submit(second_hop, rows, closes, closes.marks(found_marks))
            report("secondary contacts", len(searched), len(early))

    def settle() -> None:
        """Take the results that are ready: first hops in the order of their groups, second hops as they come."""
        while passing and passing[0][2].done():
            passed(*passing.popleft())
        for days in [days for days, search in searching.items() if search.done()]:
            best, marked = searching.pop(days).result()
            searched[days] = best
            if marked and found_marks is not None:
                found_marks[best.person] = FOUND
            loader.release(early[days])
            report("secondary contacts", len(searched), len(early))

    def settle_next(*also: Future[Any]) -> None:
        """Wait for the next result to take (or for one of ``also``), and take what is ready."""
        pending: list[Future[Any]] = [*also, *searching.values(), *(hop for _, _, hop in list(passing)[:1])]
        wait(pending, return_when=FIRST_COMPLETED)
        settle()

    def idle(reading: Future[Any]) -> None:
        """While a partition is read: take whatever finishes meanwhile."""
        while not reading.done():
            settle_next(reading)

    def search(stage: str, later: list[list[_Partition]], step: Callable[[_Rows], _T]) -> Iterator[_T]:
        report(stage, len(searched), len(early) + len(later))
        for done, result in enumerate(pool.map(step, loader.components(later)), start=len(early) + 1):
            report(stage, done, len(early) + len(later))
            yield result

    with pool:
        report("close contacts", 0, len(groups))
        for group, rows in zip(groups, loader.components(groups, idle), strict=True):
            passing.append((group, rows, pool.submit(first_hop, rows)))
            del rows
            settle()
        while passing:
            settle_next()

        # Every close contact is known: the second hop of the groups of days not searched yet. Marks of
        # the groups already searched serve when these all come after them.
        plan = loader.plan(closes.start, closes.end)
        later = [group for group in plan if _days(group) not in early]
        after = not later or max((part.last_out for group in early.values() for part in group), default=-NEVER) <= min(
            part.first_in for group in later for part in group)
        marks = closes.marks(found_marks if after else None)

        def second_hop_marking(rows: _Rows) -> _Evidence:
            # A group sees the marks of the groups finished before it started, all earlier in time.
            best, marked = second_hop(rows, closes, marks)
            if marked and marks is not None:
                marks[best.person] = FOUND
            return best

        for group, best in zip(later, search("secondary contacts", later, second_hop_marking), strict=True):
            searched[_days(group)] = best
        households = _household_secondary(persons, closes)  # while the last second hops finish
        for days, search_of in searching.items():
            searched[days] = search_of.result()[0]
        # The second hops started with the first and still running at the end count only now.
        report("secondary contacts", len(early) + len(later), len(early) + len(later))
        # Evidence of those found to be close contacts after their day was searched goes; of the rest, the
        # row of a person's earliest group of days comes before those of later ones.
        secondaries = _Evidence.concat([households,
                                        _earliest([searched[_days(group)] for group in plan], closes)])
    loader.close()

    missing = layout.missing_days(np.concatenate([chosen.start, closes.start]),
                                  np.concatenate([chosen.end, closes.end]))
    exposed_all = _Evidence.concat(exposed_parts)
    chosen_secondary = secondaries.take(_pick(secondaries.person, secondaries.order_keys(closes.rank_of)))
    stronger = (closes.role.find(exposed_all.person) >= 0) | (
        _IdIndex(np.sort(chosen_secondary.person), upto=upto).find(exposed_all.person) >= 0)
    exposed_only = exposed_all.take(~stronger)
    exposed_only = exposed_only.take(_pick(exposed_only.person, exposed_only.order_keys()))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace") as aside:  # the contacts meanwhile
        contacts = aside.submit(_contacts_table, [(ContactKind.CLOSE, closes.rows),
                                                  (ContactKind.SECONDARY, chosen_secondary),
                                                  (ContactKind.EXPOSED, exposed_only)], places, upto)
        # The secondary evidence is in the order of its persons (picks come in the order of their groups).
        exposures = pa.concat_tables([*close_tables, chosen_secondary.to_table(ContactKind.SECONDARY, places),
                                      *exposed_tables])
    return TraceResult(
        contacts=contacts.result().select(CONTACTS.names).cast(CONTACTS),
        exposures=exposures.select(EXPOSURES.names).cast(EXPOSURES),
        missing_days=missing, data_end=_datetime(layout.data_end), days_read=sorted(loader.days_read),
        rows_read=loader.rows_read, cases=len(chosen.ids))


@dataclass
class _FirstHop:
    """What the first hop finds on a group of days: each person's best close evidence there, the exposed
    evidence, and the evidence table's rows of both kinds."""

    best: _Evidence
    exposed: _Evidence
    close_table: pa.Table
    exposed_table: pa.Table


def _earliest(parts: Sequence[_Evidence], closes: _Closes) -> _Evidence:
    """The rows of ``parts`` (one a person in each, each part coming before the next in time) of persons who
    are not close contacts; a person's in the earliest part only, when the ids index a table of who is
    who: their rows in later parts cannot come first."""
    marks = closes.marks(None)
    if marks is None or any(len(p.person) and (p.person.min() < 0 or p.person.max() >= len(marks)) for p in parts):
        return _Evidence.concat([part.take(closes.role.find(part.person) == -1) for part in parts])
    kept = []
    for part in parts:
        part = part.take(marks[part.person] == ANYONE)
        marks[part.person] = FOUND
        kept.append(part)
    return _Evidence.concat(kept)


def _contacts_table(parts: Sequence[tuple[ContactKind, _Evidence]], places: _Places, upto: int) -> pa.Table:
    """The rows of each kind (one a person, each person in one part) as CONTACTS, in the order of persons."""
    rows = _Evidence.concat([part for _, part in parts])
    kinds = np.repeat(np.arange(len(parts)), [len(part.person) for _, part in parts])
    order = _by_id(rows.person, upto)
    kind = pa.array([kind.value for kind, _ in parts], pa.string()).take(pa.array(kinds[order]))
    return rows.take(order).to_table(kind, places, brief=True)


def _by_id(ids: Ints, upto: int) -> Ints:
    """The order of distinct ``ids`` by id: counted in a table indexed by the id when from 0 to ``upto``."""
    if upto >= DIRECT_IDS or not len(ids) or ids.min() < 0 or ids.max() > upto:
        return np.argsort(ids, kind="stable")
    at = np.full(upto + 1, -1, dtype=np.int64)
    at[ids] = np.arange(len(ids))
    return at[at >= 0]


# -- The inputs -------------------------------------------------------------------------------------


def _micros(moment: datetime, what: str) -> int:
    """Microseconds since the epoch of an aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}: {moment.isoformat()} has no time zone")
    return (moment - EPOCH) // timedelta(microseconds=1)


def _datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(micros))


def _read_table(table: Path | pa.Table, columns: list[str]) -> pa.Table:
    """The columns of a lookup given as a table or as a Parquet file."""
    if isinstance(table, pa.Table):
        return table.select(columns)
    return pq.read_table(table, columns=columns)


def _ints(column: pa.ChunkedArray | pa.Array, null: int = -1) -> Ints:
    """An integer or timestamp column as int64, nulls as ``null``."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz="UTC"), safe=False)
    column = column.cast(pa.int64())
    if column.null_count:
        column = pc.fill_null(column, null)
    return np.asarray(column.to_numpy(), dtype=np.int64)


class _IdIndex:
    """A value for each of an array of unique int64 ids (by default its position); -1 for other ids.

    Ids from 0 to ``upto`` (the largest id the queries may hold, when known) are looked up in a table
    indexed by the id: one gather, where a binary search would cost twenty cache misses. The ids are
    in increasing order, or ``ordered`` is false and they are sorted here when no table can hold them.
    """

    def __init__(self, ids: Ints, values: npt.NDArray[np.integer[Any]] | None = None, *, upto: int = 0,
                 dtype: type[np.integer[Any]] = np.int32, ordered: bool = True) -> None:
        values = np.arange(len(ids), dtype=dtype) if values is None else values.astype(dtype)
        self.table: npt.NDArray[np.integer[Any]] | None = None  # indexed by the id, when one serves
        lowest, highest = (0, 0) if not len(ids) else (int(ids[0]), int(ids[-1])) if ordered else (
            int(ids.min()), int(ids.max()))
        size = max(highest, upto) + 1
        if len(ids) and lowest >= 0 and size <= DIRECT_IDS:
            self.table = np.full(size, -1, dtype=dtype)
            self.table[ids] = values
        elif not ordered:
            order = np.argsort(ids, kind="stable")
            ids, values = ids[order], values[order]
        self.ids, self.values = ids, values

    def find(self, query: Ints) -> npt.NDArray[np.integer[Any]]:
        """The value of each id of ``query``, or -1."""
        if self.table is not None:
            if not len(query) or (query.min() >= 0 and query.max() < len(self.table)):
                return self.table[query]
            inside = (query >= 0) & (query < len(self.table))
            found = np.full(len(query), -1, dtype=self.table.dtype)
            found[inside] = self.table[query[inside]]
            return found
        if not len(self.ids):
            return np.full(len(query), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ids, query), len(self.ids) - 1)
        return np.where(self.ids[at] == query, self.values[at], -1)


@dataclass
class _Places:
    """Places by dense index (their rank by place_id): what an overlap there makes, and how long it must be."""

    ids: Ints
    counted: _IdIndex  # place_id → dense index, for places whose category counts (-1: unknown or nothing)
    kind: npt.NDArray[np.int8]  # NOTHING, CLOSE or EXPOSED
    need: Ints  # shortest overlap that counts, µs (at least 1: an overlap longer than zero)
    category: pa.Array
    close_need: Ints = field(init=False)  # need at a close-contact place, else more than any stay

    def __post_init__(self) -> None:
        self.close_need = np.where(self.kind == CLOSE, self.need, NEVER)

    @classmethod
    def build(cls, table: pa.Table, rules: TracingRules) -> _Places:
        table = table.take(pc.sort_indices(table, [("place_id", "ascending")]))
        ids = _ints(table["place_id"])
        if len(ids) > 1 and (np.diff(ids) == 0).any():
            raise ValueError("places: a place_id appears twice")
        category = table["category"].combine_chunks()
        names = category.to_pylist()
        kind = np.array([CLOSE if c in rules.close_contact_minutes else EXPOSED if c in rules.exposed_categories
                         else NOTHING for c in names], dtype=np.int8)
        need = np.array([max(1, round(rules.close_contact_minutes.get(c or "", 0) * US_PER_MINUTE))
                         for c in names], dtype=np.int64)
        dense = np.where(kind != NOTHING, np.arange(len(ids)), -1)
        return cls(ids=ids, counted=_IdIndex(ids, dense, dtype=np.int64), kind=kind, need=need, category=category)

    def dense(self, place_id: Ints) -> Ints:
        """The dense index of each place id; -1 for a place unknown or whose category counts for nothing."""
        return self.counted.find(place_id).astype(np.int64, copy=False)


@dataclass
class _Persons:
    """Who lives with whom: person ids with their household, and the same sorted by household."""

    index: _IdIndex
    household: Ints  # by position in index.ids; -1 for none
    by_household: Ints  # person ids in household order
    households: Ints  # their households, sorted
    offsets: Ints | None  # where each household id's members begin in by_household (households from 0)

    @classmethod
    def build(cls, table: pa.Table, upto: int) -> _Persons:
        ids, household = _ints(table["person_id"]), _ints(table["household_id"])
        if not _increasing(ids):
            order = np.argsort(ids, kind="stable")
            ids, household = ids[order], household[order]
            if len(ids) > 1 and (np.diff(ids) == 0).any():
                raise ValueError("persons: a person_id appears twice")
        if _increasing(household, strictly=False):
            by_household, households = ids, household
        else:
            by = np.argsort(household, kind="stable")
            by_household, households = ids[by], household[by]
        offsets = None
        if len(households) and households[-1] < DIRECT_IDS:
            none = int(np.searchsorted(households, 0))
            counts = np.bincount(households[none:], minlength=int(households[-1]) + 1)
            offsets = np.concatenate([[0], np.cumsum(counts)]) + none
        return cls(index=_IdIndex(ids, upto=upto), household=household, by_household=by_household,
                   households=households, offsets=offsets)

    def housemates(self, who: Ints) -> tuple[Ints, Ints]:
        """(position in ``who``, person) for every other member of the household of each of ``who``."""
        at = self.index.find(who)
        household = np.where(at >= 0, self.household[np.maximum(at, 0)], -1)
        known = np.flatnonzero(household >= 0)
        if self.offsets is not None:
            lo, hi = self.offsets[household[known]], self.offsets[household[known] + 1]
        else:
            lo = np.searchsorted(self.households, household[known], "left")
            hi = np.searchsorted(self.households, household[known], "right")
        owner, member = _expand(lo, hi)
        owner, member = known[owner], self.by_household[member]
        other = member != who[owner]
        return owner[other], member[other]


def _increasing(values: Ints, *, strictly: bool = True) -> bool:
    """Whether ``values`` are in increasing order (strictly: no two the same)."""
    if len(values) < 2:
        return True
    steps = values[1:] > values[:-1] if strictly else values[1:] >= values[:-1]
    return bool(steps.all())


@dataclass
class _Cases:
    """The cases in id order and their windows [start, end), µs."""

    ids: Ints
    start: Ints
    end: Ints
    index: _IdIndex
    flag: npt.NDArray[np.bool_] | None = None  # by person id, whether a case; None when ids are too large

    @classmethod
    def build(cls, cases: Sequence[CaseInput], rules: TracingRules, data_end: int, upto: int) -> _Cases:
        lookback = rules.lookback_days * US_PER_DAY
        ids: list[int] = []
        start: list[int] = []
        end: list[int] = []
        for case in sorted(cases, key=lambda c: c.person_id):
            if ids and ids[-1] == case.person_id:
                raise ValueError(f"case {case.person_id} is listed twice")
            begins = _micros(case.onset_at or case.sampled_at, f"case {case.person_id}") - lookback
            _micros(case.sampled_at, f"case {case.person_id}")
            ends = data_end
            if case.isolated_at is not None:
                isolated = _micros(case.isolated_at, f"case {case.person_id}")
                if isolated < begins:
                    raise ValueError(f"case {case.person_id} was isolated at {case.isolated_at.isoformat()}, "
                                     f"before their window starts at {_datetime(begins).isoformat()}")
                ends = min(isolated, data_end)
            ids.append(case.person_id)
            start.append(begins)
            end.append(max(begins, ends))
        ordered = np.array(ids, dtype=np.int64)
        flag = None
        if upto < DIRECT_IDS and (not ids or 0 <= ordered[0] <= ordered[-1] <= upto):
            flag = np.zeros(upto + 1, dtype=bool)
            flag[ordered] = True
        return cls(ids=ordered, start=np.array(start, dtype=np.int64), end=np.array(end, dtype=np.int64),
                   index=_IdIndex(ordered, upto=upto), flag=flag)


# -- Reading presence ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Partition:
    """One day's presence files and the time range their records span (from the files' statistics)."""

    day: date
    files: tuple[Path, ...]
    first_in: int  # earliest time in, µs; -NEVER when the files do not say
    last_out: int  # latest time out, µs; NEVER when the files do not say
    largest_person: int  # the largest person_id; 0 when the files do not say


@dataclass
class _Layout:
    """The partitions of a presence folder, the days the data should cover, and where the data end."""

    partitions: list[_Partition]  # by day
    days: list[date]
    data_end: int  # µs

    @property
    def largest_person(self) -> int:
        """The largest person_id in the presence files, as far as their statistics say."""
        return max((p.largest_person for p in self.partitions), default=0)

    @classmethod
    def scan(cls, source: Source) -> _Layout:
        found: dict[date, tuple[Path, ...]] = {}
        folder = Path(source.presence)
        if folder.is_dir():
            for entry in folder.iterdir():
                match = PARTITION.match(entry.name)
                files = tuple(sorted(entry.glob("*.parquet"))) if match and entry.is_dir() else ()
                if match and files:
                    found[date.fromisoformat(match.group(1))] = files
        days = sorted(source.days) if source.days is not None else sorted(found)
        if not days:
            raise ValueError(f"no presence partitions (day=YYYY-MM-DD) under {folder}")
        partitions = [_partition(day, found[day]) for day in days if day in found]
        data_end = _micros(datetime.combine(days[-1] + timedelta(days=1), time(), UTC), "data end")
        return cls(partitions=partitions, days=days, data_end=data_end)

    def alone(self, group: list[_Partition]) -> bool:
        """Whether no other partition's time range reaches into that of ``group``, so that any plan holding
        all of ``group``'s partitions holds them as one group of days and nothing else (see _Loader.plan)."""
        days = set(_days(group))
        first, last = min(p.first_in for p in group), max(p.last_out for p in group)
        return all(p.day in days or p.first_in >= last or (p.first_in < first and p.last_out <= first)
                   for p in self.partitions)

    def missing_days(self, start: Ints, end: Ints) -> list[date]:
        """The UTC days that some window [start, end) touches and no partition holds."""
        nonempty = start < end
        if not nonempty.any():
            return []
        first = start[nonempty] // US_PER_DAY
        last = (end[nonempty] - 1) // US_PER_DAY
        base = int(first.min())
        depth = np.zeros(int(last.max()) - base + 2, dtype=np.int64)
        np.add.at(depth, first - base, 1)
        np.add.at(depth, last - base + 1, -1)
        touched = {EPOCH.date() + timedelta(days=base + int(d)) for d in np.flatnonzero(np.cumsum(depth) > 0)}
        return sorted(touched - {p.day for p in self.partitions})


def _partition(day: date, files: tuple[Path, ...]) -> _Partition:
    """A partition with the time range of its records and its largest person id, from the files' statistics."""
    first_in, last_out, largest_person = NEVER, -NEVER, 0
    known = True
    for path in files:
        parquet = pq.ParquetFile(path)
        for i in range(parquet.metadata.num_row_groups):
            group = parquet.metadata.row_group(i)
            if group.num_rows == 0:
                continue
            for j in range(group.num_columns):
                column = group.column(j)
                name, stats = column.path_in_schema, column.statistics
                if name not in ("t_in", "t_out", "person_id"):
                    continue
                kind = parquet.schema_arrow.field(name).type
                if stats is None or not stats.has_min_max:
                    known = known and name == "person_id"
                elif name == "person_id":
                    largest_person = max(largest_person, int(stats.max_raw))
                elif not pa.types.is_timestamp(kind):
                    known = False
                elif name == "t_in":
                    first_in = min(first_in, _raw_micros(stats.min_raw, kind.unit))
                else:
                    last_out = max(last_out, _raw_micros(stats.max_raw, kind.unit))
    if not known:  # without the time range, the partition may hold anything
        first_in, last_out = -NEVER, NEVER
    return _Partition(day, files, first_in, last_out, largest_person)


def _raw_micros(raw: int, unit: str) -> int:
    """A stored timestamp in ``unit`` as microseconds (rounded down)."""
    return {"s": raw * 1_000_000, "ms": raw * 1_000, "us": raw}.get(unit, raw // 1_000)


@dataclass
class _Keyed:
    """Presence records sorted by (place, time in), times in µs, held by their sort key (place << shift) |
    (t_in - origin), places by dense index: a record's place and time in read back from its key."""

    person: Ints
    key: Ints
    t_out: Ints
    origin: int
    shift: int

    def place(self, key: Ints) -> Ints:
        """The places of the records of keys ``key``."""
        return key >> self.shift

    def t_in(self, key: Ints) -> Ints:
        """The times in of the records of keys ``key``."""
        return (key & ((1 << self.shift) - 1)) + self.origin


class _Rows:
    """The presence records of a group of days, sorted by (place, time in), times in µs: as read (place ids,
    not dense indices, as the searches need the places of a few records only), and apart, keyed, those
    that the second hop searches (``close``)."""

    def __init__(self, person: Ints, place_id: Ints, t_in: Ints, t_out: Ints, origin: int, shift: int,
                 close: _Keyed) -> None:
        self.person, self.place_id, self.t_in, self.t_out = person, place_id, t_in, t_out
        self.origin, self.shift = origin, shift
        self.close = close
        self._persons: tuple[int, int] | None = None

    @classmethod
    def sorted(cls, person: Ints, place: Ints, t_in: Ints, t_out: Ints, places: _Places) -> _Rows:
        """Records at places that count (by dense index) in (place, time in) order, sorting only when they are
        not already, with those that the second hop searches picked out."""
        origin = int(t_in.min()) if len(t_in) else 0
        shift = max(1, int(t_out.max()) - origin + 1).bit_length() if len(t_out) else 1
        if shift + max(1, len(places.kind)).bit_length() > 62:
            raise ValueError("presence records whose days overlap span too long a time to search together")
        key = np.left_shift(place, shift)
        key += t_in
        key -= origin  # (place << shift) | (t_in - origin), with one array allocated
        if not _increasing(key, strictly=False):
            order = np.argsort(key, kind="stable")  # a few sorted runs (several days) merge quickly
            person, place, t_in, t_out, key = person[order], place[order], t_in[order], t_out[order], key[order]
        close = np.flatnonzero(_targets(place, t_in, t_out, places))
        place_id = places.ids[place] if len(places.ids) else place
        return cls(person, place_id, t_in, t_out, origin, shift,
                   _Keyed(person[close], key[close], t_out[close], origin, shift))

    @classmethod
    def concat(cls, parts: Sequence[_Rows], places: _Places) -> _Rows:
        if len(parts) == 1:
            return parts[0]
        person, place_id, t_in, t_out = (np.concatenate([getattr(p, name) for p in parts])
                                         for name in ("person", "place_id", "t_in", "t_out"))
        return cls.sorted(person, places.dense(place_id), t_in, t_out, places)

    def fits(self, table: npt.NDArray[Any] | None) -> bool:
        """Whether ``table`` is given and every person id here indexes it."""
        if table is None:
            return False
        if self._persons is None:
            self._persons = (int(self.person.min()), int(self.person.max())) if len(self.person) else (0, -1)
        return self._persons[0] >= 0 and self._persons[1] < len(table)

    def overlapping(self, place: Ints, start: Ints, end: Ints, places: _Places) -> tuple[Ints, Ints]:
        """For stays [start, end) at (dense) ``place``, the range [lo, hi) of the records that can overlap
        each: those of the place that came in before ``end`` and no earlier than ``start`` minus the longest
        stay there. The records of each place are a range of the sorted place ids (two binary searches);
        within the ranges of these places, a key of (which place, time in) is searched, like the whole."""
        distinct, inverse = np.unique(place, return_inverse=True)
        inverse = inverse.reshape(-1)
        ids = places.ids[distinct]
        first = np.searchsorted(self.place_id, ids, "left")
        counts = np.searchsorted(self.place_id, ids, "right") - first
        offsets = np.cumsum(counts) - counts
        _, at = _expand(first, first + counts)
        stay = self.t_out[at] - self.t_in[at]
        longest = np.zeros(len(distinct), dtype=np.int64)
        held = counts > 0
        longest[held] = np.maximum.reduceat(stay, offsets[held]) if len(stay) else 0
        key = np.repeat(np.arange(len(distinct), dtype=np.int64) << self.shift, counts)
        key += self.t_in[at]
        key -= self.origin

        def search(moment: Ints) -> Ints:
            offset = np.clip(moment - self.origin, 0, (1 << self.shift) - 1)
            return np.searchsorted(key, (inverse << self.shift) | offset, "left") - offsets[inverse] + first[inverse]

        return search(start - longest[inverse]), search(end)


class _Loader:
    """Reads each partition once, as windows need it, in the background and ahead of the search (Parquet
    decoding and most of numpy leave the interpreter free), and hands out the records of days searched
    together."""

    def __init__(self, layout: _Layout, places: _Places, report: Progress, workers: int) -> None:
        self.layout, self.places, self.report, self.workers = layout, places, report, workers
        self.loaded: dict[date, _Rows] = {}
        self.rows_read = 0
        self.days_read: set[date] = set()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="presence")

    def plan(self, start: Ints, end: Ints) -> list[list[_Partition]]:
        """The partitions that the windows [start, end) reach, in groups of days that overlap."""
        live = start < end
        start, end = start[live], end[live]
        needed = [p for p in self.layout.partitions if _reaches(p, start, end)]
        groups: list[list[_Partition]] = []
        for part in sorted(needed, key=lambda p: p.first_in):
            if groups and part.first_in < max(p.last_out for p in groups[-1]):
                groups[-1].append(part)
            else:
                groups.append([part])
        return groups

    def components(self, groups: list[list[_Partition]],
                   idle: Callable[[Future[Any]], None] | None = None) -> Iterator[_Rows]:
        """The records of each group of days, read in the background a few partitions ahead; ``idle``, if
        given, is called with each read that is waited for, and returns once it is done."""
        unread = [p for group in groups for p in group if p.day not in self.loaded]
        upcoming = iter(unread)
        reading: dict[date, Future[tuple[int, _Rows]]] = {}

        def read_next() -> None:
            part = next(upcoming, None)
            if part is not None:
                reading[part.day] = self._pool.submit(self._read, part)

        for _ in range(self.workers):
            read_next()
        if unread:
            self.report("reading presence", 0, len(unread))
        for group in groups:
            for part in group:
                if part.day not in self.loaded:
                    if idle is not None:
                        idle(reading[part.day])
                    rows, self.loaded[part.day] = reading.pop(part.day).result()
                    read_next()
                    self.rows_read += rows
                    self.days_read.add(part.day)
                    self.report("reading presence", len(self.days_read & {p.day for p in unread}), len(unread))
            yield _Rows.concat([self.loaded[p.day] for p in group], self.places)

    def release(self, group: list[_Partition]) -> None:
        """Forget the records of ``group``: no search needs them any more."""
        for part in group:
            self.loaded.pop(part.day, None)

    def close(self) -> None:
        self.loaded.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _read(self, part: _Partition) -> tuple[int, _Rows]:
        """The partition's records at places that count, and how many records it held."""
        columns = list(PRESENCE_COLUMNS)
        # One file is read in one piece per column (a dataset read cuts it into batches), for _rows_of.
        table = (pq.ParquetFile(part.files[0], memory_map=True).read(columns=columns) if len(part.files) == 1
                 else pq.read_table(list(part.files), columns=columns))
        if any(column.null_count for column in table.columns):
            table = table.filter(pc.and_(pc.and_(pc.is_valid(table["person_id"]), pc.is_valid(table["place_id"])),
                                         pc.and_(pc.is_valid(table["t_in"]), pc.is_valid(table["t_out"]))))
        return table.num_rows, _rows_of(table, self.places, part)


def _reaches(part: _Partition, start: Ints, end: Ints) -> bool:
    """Whether some window [start, end) that is not empty reaches the partition's time range."""
    return bool(((start < end) & (start < part.last_out) & (end > part.first_in)).any())


def _days(group: list[_Partition]) -> tuple[date, ...]:
    return tuple(part.day for part in group)


def _rows_of(table: pa.Table, places: _Places, part: _Partition) -> _Rows:
    """The records of ``table`` (no nulls) at places that count and of some length, sorted.

    The columns, each in one piece as read from one file, are used in place rather than copied. One
    compiled pass checks that every record is at a place that counts, of some length and in order of
    the sort key, and picks out, keyed, the records that the second hop searches. Records of unknown
    places, of places whose category counts for nothing, or of no length cannot make a contact: a
    partition that holds some, or is not in order, is filtered and sorted whole; so is one whose place
    ids are too large for a table indexed by the id (the compiled pass looks places up in one).
    """
    table = table.combine_chunks()  # a copy only when the partition has several files
    person, place_id, t_in, t_out = (_ints(table[name]) for name in PRESENCE_COLUMNS)
    size = len(person)
    # The sort key needs where times begin and how many bits they span: the files' statistics say.
    known = part.first_in > -NEVER and part.last_out < NEVER
    origin = part.first_in if known else 0
    shift = max(1, part.last_out - origin + 1).bit_length() if known else 0
    dense = places.counted.table
    if size and known and dense is not None and shift + max(1, len(places.kind)).bit_length() <= 62:
        # Only the pages of these arrays that the picked records reach are ever touched.
        close = [np.empty(size, dtype=np.int64) for _ in range(3)]  # person, key, t_out
        from fangkong.tracing import kernels  # Numba takes a moment to load: not before a trace needs it

        picked = kernels.pick_searched(person, place_id, t_in, t_out, dense, places.close_need, shift, origin,
                                       *close)
        if picked >= 0:
            c_person, c_key, c_out = (column[:picked] for column in close)
            return _Rows(person, place_id, t_in, t_out, origin, shift, _Keyed(c_person, c_key, c_out, origin, shift))
    place = places.dense(place_id)
    keep = np.flatnonzero((place >= 0) & (t_out > t_in))
    if len(keep) < size:
        person, place, t_in, t_out = person[keep], place[keep], t_in[keep], t_out[keep]
    return _Rows.sorted(person, place, t_in, t_out, places)


def _targets(place: Ints, t_in: Ints, t_out: Ints, places: _Places) -> npt.NDArray[np.bool_]:
    """Records at places of a close-contact category, the category's minimum long: those that can make a
    secondary contact (of the person, when someone else), and the same that can make one (a close
    contact's record clipped to their window is no longer)."""
    return t_out - t_in >= places.close_need[place]


# -- Evidence -----------------------------------------------------------------------------------------


@dataclass
class _Evidence:
    """Rows of evidence: who, through which case (and close contact), where (-1: household), when, µs."""

    person: Ints
    case: Ints
    via: Ints  # -1: none
    place: Ints  # dense place index; -1: the household
    first: Ints
    last: Ints
    until: Ints  # when the source left (see EXPOSURES.source_until)

    @classmethod
    def concat(cls, parts: Sequence[_Evidence]) -> _Evidence:
        names = ("person", "case", "via", "place", "first", "last", "until")
        if not parts:
            return cls(*(np.zeros(0, dtype=np.int64) for _ in names))
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in names))

    def take(self, rows: npt.NDArray[Any]) -> _Evidence:
        """The rows at positions ``rows``, or where the mask ``rows`` is true."""
        rows = _positions(rows)
        return _Evidence(self.person[rows], self.case[rows], self.via[rows], self.place[rows], self.first[rows],
                         self.last[rows], self.until[rows])

    def put(self, rows: npt.NDArray[Any], other: _Evidence) -> None:
        """Replace ``rows`` with the rows of ``other``, in place."""
        for mine, theirs in zip((self.person, self.case, self.via, self.place, self.first, self.last, self.until),
                                (other.person, other.case, other.via, other.place, other.first, other.last,
                                 other.until), strict=True):
            mine[rows] = theirs

    def order_keys(self, rank_of_via: Callable[[Ints], Ints] | None = None) -> list[Key]:
        """What picks a person's row: earliest first, latest source, smallest case and via, household first, longest."""
        keys: list[Key] = [lambda at: self.first[at], lambda at: -self.until[at]]
        if rank_of_via is None:
            keys += [lambda at: self.case[at], lambda at: self.via[at]]
        else:
            keys.append(lambda at: rank_of_via(self.via[at]))
        return [*keys, lambda at: self.place[at], lambda at: -self.last[at]]

    def to_table(self, kind: ContactKind | pa.Array, places: _Places, *, brief: bool = False) -> pa.Table:
        """The rows as EXPOSURES, or as CONTACTS when ``brief``; all of ``kind``, or each of its own."""
        household = self.place < 0
        place_ids = places.ids[np.maximum(self.place, 0)] if len(places.ids) else self.place
        columns = {
            "person_id": self.person,
            "kind": (pa.repeat(pa.scalar(kind.value, pa.string()), len(self.person))
                     if isinstance(kind, ContactKind) else kind),
            "case_person_id": self.case,
            "via_person_id": pa.array(self.via, mask=self.via < 0),
            "place_id": pa.array(place_ids, mask=household),
            "first_exposure": _timestamps(self.first),
            "last_exposure": _timestamps(self.last),
        }
        if brief:
            return pa.table(columns)
        category = (places.category.take(pa.array(np.maximum(self.place, 0)))
                    if len(places.ids) else pa.nulls(len(self.place), pa.string()))
        return pa.table({
            **columns,
            "category": pc.if_else(pa.array(household), pa.scalar(None, pa.string()), category),
            "minutes": (self.last - self.first) / US_PER_MINUTE,
            "source_until": _timestamps(self.until),
        })


def _timestamps(micros: Ints) -> pa.Array:
    return pa.array(micros, pa.int64()).cast(schema.UTC_TS)


@dataclass
class _Closes:
    """The close contacts in (case, person) order, each with their row (the chosen evidence), and their own
    window [start, end): from their first exposure until they were isolated or the data end."""

    rows: _Evidence  # in (case, person) order: a close contact's rank is their position here
    end: Ints
    role: _IdIndex  # by person id: the rank of a close contact, -2 for a case, -1 for anyone else
    cases: _Cases

    @classmethod
    def build(cls, rows: _Evidence, cases: _Cases, ends: Callable[[Ints], Ints], upto: int) -> _Closes:
        """From each close contact's row, in any order (sorted quickly when nearly in order)."""
        rows = rows.take(_case_person_order(rows.case, rows.person, cases))
        role = _IdIndex(np.concatenate([rows.person, cases.ids]),
                        np.concatenate([np.arange(len(rows.person)), np.full(len(cases.ids), -2)]), upto=upto,
                        ordered=False)
        return cls(rows=rows, end=np.maximum(rows.first, ends(rows.person)), role=role, cases=cases)

    @property
    def ids(self) -> Ints:
        return self.rows.person

    @property
    def case(self) -> Ints:
        return self.rows.case

    @property
    def start(self) -> Ints:
        return self.rows.first

    def with_rows(self, best: _Evidence) -> _Evidence:
        """These close contacts' rows with those of ``best`` (one per person, found after them): a person's
        row of ``best`` replaces theirs when it comes first, and the persons new here are added."""
        at = self.role.find(best.person)
        known = np.flatnonzero(at >= 0)
        rows = _Evidence.concat([self.rows, best.take(at < 0)])
        theirs = best.take(known)
        first = _comes_first(theirs.order_keys(), self.rows.take(at[known]).order_keys(), len(known))
        rows.put(at[known][first], theirs.take(first))
        return rows

    def marks(self, found: Marks | None) -> Marks | None:
        """By person id: A_CLOSE, A_CASE, else what ``found`` says (FOUND or ANYONE; all ANYONE when None);
        None when the ids are too large for a table."""
        size = len(self.cases.flag) if self.cases.flag is not None else 0
        if not size or (len(self.ids) and (self.ids.min() < 0 or self.ids.max() >= size)):
            return None
        marks = found.copy() if found is not None else np.zeros(size, dtype=np.int8)
        marks[self.ids] = A_CLOSE
        marks[self.cases.ids] = A_CASE
        return marks

    def rank_of(self, person: Ints) -> Ints:
        """The (case, person) rank of each of ``person``, all close contacts."""
        return self.role.find(person).astype(np.int64, copy=False)


def _case_person_order(case: Ints, person: Ints, cases: _Cases) -> Ints:
    """The order of rows by (case, person), each pair once: one stable sort of a key, when it fits."""
    if not len(person):
        return np.zeros(0, dtype=np.int64)
    offset = person - person.min()
    bits = int(offset.max()).bit_length()
    if bits + len(cases.ids).bit_length() > 62:
        return np.lexsort((person, case))
    return np.argsort((cases.index.find(case).astype(np.int64) << bits) | offset, kind="stable")


def _comes_first(keys: Sequence[Key], others: Sequence[Key], rows: int) -> npt.NDArray[np.bool_]:
    """Whether each of ``rows`` rows of ``keys`` comes strictly before the same row of ``others``, compared in
    order."""
    first = np.zeros(rows, dtype=bool)
    tied = ~first
    for key, other in zip(keys, others, strict=True):
        mine, theirs = key(ALL), other(ALL)
        first |= tied & (mine < theirs)
        tied &= mine == theirs
    return first


def _isolation_ends(isolated: Mapping[int, int], data_end: int) -> Callable[[Ints], Ints]:
    """When the own window of each close contact given by id ends: at their isolation, or the data end."""
    if not isolated:
        return lambda person: np.full(len(person), data_end, dtype=np.int64)
    ids = np.array(sorted(isolated), dtype=np.int64)
    index = _IdIndex(ids)
    times = np.minimum(np.array([isolated[int(k)] for k in ids], dtype=np.int64), data_end)

    def ends(person: Ints) -> Ints:
        at = index.find(person)
        return np.where(at >= 0, times[np.maximum(at, 0)], data_end)

    return ends


# -- The two hops -------------------------------------------------------------------------------------


def _household_close(persons: _Persons, cases: _Cases) -> _Evidence:
    """Every member of a case's household is a close contact from the start of the case's window."""
    live = np.flatnonzero(cases.start < cases.end)
    owner, member = persons.housemates(cases.ids[live])
    keep = np.flatnonzero(cases.index.find(member) < 0)
    owner, member = live[owner[keep]], member[keep]
    none = np.full(len(member), -1, dtype=np.int64)
    return _Evidence(member, cases.ids[owner], none, none, cases.start[owner], cases.end[owner], cases.end[owner])


def _household_secondary(persons: _Persons, closes: _Closes) -> _Evidence:
    """Every member of a close contact's household is a secondary contact over the close contact's window."""
    live = np.flatnonzero(closes.start < closes.end)
    owner, member = persons.housemates(closes.ids[live])
    keep = np.flatnonzero(closes.role.find(member) == -1)  # neither a case nor a close contact
    owner, member = live[owner[keep]], member[keep]
    return _Evidence(member, closes.case[owner], closes.ids[owner], np.full(len(member), -1, dtype=np.int64),
                     closes.start[owner], closes.end[owner], closes.end[owner])


def _case_overlaps(rows: _Rows, cases: _Cases, places: _Places) -> _Evidence:
    """Every record overlapping a case's record (clipped to the window) long enough for its place."""
    if rows.fits(cases.flag):
        is_case = cases.flag[rows.person]  # type: ignore[index]
        mine = np.flatnonzero(is_case)
        case = cases.index.find(rows.person[mine])
    else:
        who = cases.index.find(rows.person)
        is_case = who >= 0
        mine = np.flatnonzero(is_case)
        case = who[mine]
    start = np.maximum(rows.t_in[mine], cases.start[case])
    end = np.minimum(rows.t_out[mine], cases.end[case])
    inside = start < end
    mine, case, start, end = mine[inside], case[inside], start[inside], end[inside]
    place = places.dense(rows.place_id[mine])
    lo, hi = rows.overlapping(place, start, end, places)
    from fangkong.tracing import kernels  # see _rows_of

    owner, other, first, last = kernels.case_pairs(lo, hi, start, end, places.need[place], rows.t_in, rows.t_out,
                                                   is_case)
    return _Evidence(rows.person[other], cases.ids[case[owner]], np.full(len(other), -1, dtype=np.int64),
                     place[owner], first, last, end[owner])


def _secondary_overlaps(group: _Rows, closes: _Closes, places: _Places,
                        marks: Marks | None = None) -> _Evidence:
    """For each record of anyone else at a close-contact place, the best overlap with a close contact's record.

    The close contacts' records (clipped to their windows, long enough) are sorted by (place, time in).
    A record [t_in, t_out) is best matched by the close contact already there at t_in who stayed the
    latest — a running maximum of time out up to t_in — when they stayed at least the minimum past
    t_in; else by the next close contact to come in, when they came in at least the minimum before
    t_out (and stayed the minimum: shorter records were dropped). Ties go to the smallest rank
    (case, then close contact). Both sides are walked once together (``kernels.best_sources``).
    """
    rows = group.close  # the records at close-contact places, the minimum long: on either side
    role = None
    if marks is not None:  # who is who from a table of one byte a person; ranks for close contacts only
        status = marks[rows.person]
        src, tgt = np.flatnonzero(status == A_CLOSE), np.flatnonzero(status == ANYONE)
    else:
        role = closes.role.find(rows.person)
        src, tgt = np.flatnonzero(role >= 0), np.flatnonzero(role == -1)
    if not len(src) or not len(tgt):
        return _Evidence.concat([])
    # Only the places where both sides have records count: once most people have evidence, the close
    # contacts' records elsewhere (a third of them); early on, the others' records elsewhere.
    t_key = rows.key[tgt]
    t_place = rows.place(t_key)
    s_key = rows.key[src]
    s_place = rows.place(s_key)
    src, s_key, s_place = _at_places(t_place, len(places.kind), src, s_key, s_place)
    rank: npt.NDArray[np.integer[Any]] = closes.rank_of(rows.person[src]) if role is None else role[src]
    s_in = np.maximum(rows.t_in(s_key), closes.start[rank])
    s_out = np.minimum(rows.t_out[src], closes.end[rank])
    long_enough = np.flatnonzero(s_out - s_in >= places.need[s_place])
    s_place, rank, s_in, s_out = s_place[long_enough], rank[long_enough], s_in[long_enough], s_out[long_enough]
    if not len(s_place):
        return _Evidence.concat([])
    tgt, t_key, t_place = _at_places(s_place, len(places.kind), tgt, t_key, t_place)
    s_key = (s_place << rows.shift) | (s_in - rows.origin)
    order = np.argsort(s_key, kind="stable")  # clipping moved a few; the rest keep the day's order
    t_out = rows.t_out[tgt]
    first, until, chosen = (np.empty(len(t_key), dtype=np.int64) for _ in range(3))
    from fangkong.tracing import kernels  # see _rows_of

    kernels.best_sources(s_key[order], s_out[order], rank[order].astype(np.int64, copy=False), t_key, t_out,
                         places.need[t_place], rows.shift, rows.origin, first, until, chosen)
    ok = np.flatnonzero(chosen >= 0)
    chosen, until = chosen[ok], until[ok]
    return _Evidence(rows.person[tgt[ok]], closes.case[chosen], closes.ids[chosen], t_place[ok], first[ok],
                     np.minimum(until, t_out[ok]), until)


# -- Array helpers ------------------------------------------------------------------------------------


def _at_places(where: Ints, places: int, rows: Ints, key: Ints, place: Ints) -> tuple[Ints, Ints, Ints]:
    """``rows`` with their keys and (dense) places, of those at a place of ``where`` only."""
    held = np.zeros(places, dtype=np.bool_)
    held[where] = True
    there = held[place]
    if there.all():
        return rows, key, place
    return rows[there], key[there], place[there]


def _positions(rows: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Positions as they are, or those where a mask is true: a mask takes several columns faster so."""
    return np.flatnonzero(rows) if rows.dtype == np.bool_ else rows


def _expand(lo: Ints, hi: Ints) -> tuple[Ints, Ints]:
    """(i, j) for every i and every j in [lo[i], hi[i])."""
    counts = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(lo, counts) + offsets


def _dense(ids: Ints) -> tuple[Ints, int]:
    """Each id's index among the distinct ids (in the order of the ids), and how many there are.

    Counting over the range of the ids is the faster way when they fill a good part of it; sorting
    them, when they are few and spread wide.
    """
    if len(ids) and ids.min() >= 0 and ids.max() < min(DIRECT_IDS, SPARSE * len(ids)):
        present = np.flatnonzero(np.bincount(ids))
        table = np.zeros(int(ids.max()) + 1, dtype=np.int64)
        table[present] = np.arange(len(present))
        return table[ids], len(present)
    distinct, inverse = np.unique(ids, return_inverse=True)
    return inverse.astype(np.int64), len(distinct)


def _pick(group: Ints, keys: Sequence[Key]) -> Ints:
    """For each group, the position of its row with the smallest keys, compared in order (the first on a tie).

    A group of one row has it; the rows of the others are compared key by key, each key among the rows
    still tied on those before it, and computed for those rows only.
    """
    inverse, groups = _dense(group)
    several = np.bincount(inverse, minlength=groups)[inverse] > 1
    alone = np.flatnonzero(~several)
    first = np.full(groups, len(group), dtype=np.int64)
    first[inverse[alone]] = alone
    alive = np.flatnonzero(several)
    for key in keys:
        if not len(alive):
            break
        g, value = inverse[alive], key(alive)
        best = np.full(groups, NEVER, dtype=np.int64)
        np.minimum.at(best, g, value)
        alive = alive[value == best[g]]
    # The first position of each group among those left: every group has one (a minimum, not a sort).
    np.minimum.at(first, inverse[alive], alive)
    return first
