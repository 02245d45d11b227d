"""The contact engine against a brute-force reading of the rules, on random small cities.

The brute force below shares no code with the engine: it loops over every pair of records in plain
Python, straight from the rules (docs/tracing.md, "The contact engine"). Times are whole minutes on
a coarse grid, so that ties (same moment in, same moment out) are common; records cross midnight
(partitions whose time ranges overlap), some last longer than a day, some are cut by a missing day;
in some cities every record ends by midnight (each day searched apart); some cities' partitions are
written in the generator's order (read as they are), some in two files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.rulesets import TracingRules
from fangkong.synth.schema import PLACE_CATEGORIES
from fangkong.tracing.engine import CaseInput, trace
from tests.tracing.test_engine import FIRST_DAY, PROTOCOL_8, City

MINUTE = timedelta(minutes=1)
ORIGIN = datetime.combine(FIRST_DAY, datetime.min.time(), UTC)


@dataclass(frozen=True)
class Visit:
    person: int
    place: int
    t_in: datetime
    t_out: datetime


Row = tuple[int, str, int, int | None, int | None, datetime, datetime]  # as in contacts.csv


def brute_force(city: City, cases: list[CaseInput], rules: TracingRules, isolations: dict[int, datetime]
                ) -> tuple[dict[int, Row], list[tuple[int, str, int, int, datetime, datetime]], list[date]]:
    """(contacts by person, close and exposed evidence rows, missing days), from the rules and nothing else."""
    present_days = {FIRST_DAY + timedelta(days=i) for i in range(city.days) if i not in city.without}
    visits = [Visit(*v) for v in city.visits if v[2].date() in present_days]
    data_end = ORIGIN + timedelta(days=city.days)
    case_ids = {c.person_id for c in cases}
    household = city.persons

    def housemates(person: int) -> list[int]:
        home = household.get(person)
        return [] if home is None else [p for p, h in household.items() if h == home and p != person]

    def overlap(a: Visit, start: datetime, end: datetime, b: Visit) -> tuple[datetime, datetime] | None:
        """The overlap of a's record clipped to [start, end) with b's record, when it is longer than zero."""
        first, last = max(a.t_in, start, b.t_in), min(a.t_out, end, b.t_out)
        return (first, last) if last > first else None

    def need(category: str) -> timedelta:
        return timedelta(minutes=rules.close_contact_minutes[category])

    # evidence: (person, kind, case, via, place, first, last, until)
    evidence: list[tuple[int, str, int, int | None, int | None, datetime, datetime, datetime]] = []
    windows: list[tuple[datetime, datetime]] = []
    for case in cases:
        start = (case.onset_at or case.sampled_at) - timedelta(days=rules.lookback_days)
        end = min(case.isolated_at or data_end, data_end)
        if end <= start:
            continue
        windows.append((start, end))
        for member in housemates(case.person_id):
            if member not in case_ids:
                evidence.append((member, "close", case.person_id, None, None, start, end, end))
        for mine in (v for v in visits if v.person == case.person_id):
            for other in visits:
                category = city.places[other.place]
                if other.place != mine.place or other.person in case_ids:
                    continue
                found = overlap(mine, start, end, other)
                if found is None:
                    continue
                until = min(mine.t_out, end)
                if category in rules.close_contact_minutes and found[1] - found[0] >= need(category):
                    evidence.append((other.person, "close", case.person_id, None, other.place, *found, until))
                elif category in rules.exposed_categories:
                    evidence.append((other.person, "exposed", case.person_id, None, other.place, *found, until))

    def best(rows: list[tuple[int, str, int, int | None, int | None, datetime, datetime, datetime]]
             ) -> dict[int, tuple[int, str, int, int | None, int | None, datetime, datetime, datetime]]:
        """Each person's row: earliest first, latest source, smallest case, via and place (none first), longest."""
        chosen: dict[int, tuple[int, str, int, int | None, int | None, datetime, datetime, datetime]] = {}
        for row in sorted(rows, key=lambda r: (r[5], -(r[7] - ORIGIN).total_seconds(), r[2],
                                               -1 if r[3] is None else r[3], -1 if r[4] is None else r[4],
                                               -(r[6] - ORIGIN).total_seconds())):
            chosen.setdefault(row[0], row)
        return chosen

    close = best([e for e in evidence if e[1] == "close"])
    secondary_evidence = []
    for contact, row in close.items():
        start, end = row[5], min(isolations.get(contact, data_end), data_end)
        if end <= start:
            continue
        windows.append((start, end))
        for member in housemates(contact):
            if member not in case_ids and member not in close:
                secondary_evidence.append((member, "secondary", row[2], contact, None, start, end, end))
        for mine in (v for v in visits if v.person == contact):
            category = city.places[mine.place]
            if category not in rules.close_contact_minutes:
                continue
            for other in visits:
                if other.place != mine.place or other.person in case_ids or other.person in close:
                    continue
                found = overlap(mine, start, end, other)
                if found is not None and found[1] - found[0] >= need(category):
                    until = min(mine.t_out, end)
                    secondary_evidence.append((other.person, "secondary", row[2], contact, other.place, *found,
                                               until))
    secondary = best(secondary_evidence)
    exposed = best([e for e in evidence if e[1] == "exposed" and e[0] not in close and e[0] not in secondary])
    contacts = {person: row[:7] for chosen in (close, secondary, exposed) for person, row in chosen.items()}

    touched = set()
    for start, end in windows:  # every UTC day from the window's first moment to its last
        last = (end - timedelta(microseconds=1)).date()
        touched |= {start.date() + timedelta(days=d) for d in range((last - start.date()).days + 1)}
    missing = sorted(touched - present_days)
    hop_one = sorted((e[0], e[1], e[2], -1 if e[4] is None else e[4], e[5], e[6]) for e in evidence)
    return contacts, hop_one, missing


# -- Random cities ------------------------------------------------------------------------------------------

GRID = 15  # minutes


@st.composite
def cities(draw: st.DrawFn) -> tuple[City, list[CaseInput], dict[int, datetime], TracingRules]:
    days = draw(st.integers(2, 4))
    n_persons = draw(st.integers(4, 30))
    homes = draw(st.lists(st.integers(0, n_persons // 2), min_size=n_persons, max_size=n_persons))
    # Person ids beyond what the engine looks up in tables indexed by the id take its other path.
    base = draw(st.sampled_from([0, 0, 0, 1 << 40]))
    persons: dict[int, int | None] = {base + p + 1: (None if h == 0 else 1000 + h) for p, h in enumerate(homes)}
    categories = list(PLACE_CATEGORIES)
    places = {100 + i: categories[i % len(categories)]
              for i in range(draw(st.integers(len(categories), 2 * len(categories))))}
    span = days * 24 * 60 // GRID

    def moment(slot: int) -> datetime:
        return ORIGIN + slot * GRID * MINUTE

    # In some cities no record crosses midnight: each day is then searched apart, its second hop as soon
    # as the first hop has passed it.
    within_days = draw(st.booleans())
    visits = []
    for person in persons:
        for _ in range(draw(st.integers(0, 6))):
            slot = draw(st.integers(-2, span - 1))
            length = draw(st.one_of(st.integers(1, 8), st.integers(1, 3 * 24 * 60 // GRID)))  # some over a day
            nudge = draw(st.sampled_from([0, 0, 0, 1, 14]))  # minutes: records just off the grid
            t_in = moment(slot) + nudge * MINUTE
            t_out = moment(slot + length)
            if within_days:
                t_out = min(t_out, datetime.combine(t_in.date() + timedelta(days=1), datetime.min.time(), UTC))
            place = draw(st.sampled_from(sorted(places)))
            if FIRST_DAY <= t_in.date() < FIRST_DAY + timedelta(days=days):
                visits.append((person, place, t_in, t_out))
    city = City(persons=persons, places=places, visits=visits, days=days,
                without=draw(st.sets(st.integers(0, days - 1), max_size=1)),
                in_order=draw(st.booleans()), files=draw(st.sampled_from([1, 1, 2])))

    cases = []
    for person in draw(st.lists(st.sampled_from(sorted(persons)), min_size=1, max_size=4, unique=True)):
        sampled = moment(draw(st.integers(0, span + 8)))
        onset = draw(st.one_of(st.none(), st.integers(-8, 0).map(lambda d, s=sampled: s + d * GRID * MINUTE)))
        start = (onset or sampled) - timedelta(days=2)
        isolated = draw(st.one_of(st.none(), st.integers(0, span).map(lambda k, s=start: s + k * GRID * MINUTE)))
        cases.append(CaseInput(person, onset, sampled, isolated))
    isolations = {p: moment(draw(st.integers(0, span)))
                  for p in draw(st.lists(st.sampled_from(sorted(persons)), max_size=6, unique=True))}

    rules = PROTOCOL_8
    if draw(st.booleans()):  # a rule set of its own: any minimum, any category in either list or neither
        roles = draw(st.lists(st.sampled_from(["close", "exposed", "none"]), min_size=len(categories),
                              max_size=len(categories)))
        minutes = {c: draw(st.sampled_from([0, 1, 15, 30, 90])) for c, r in zip(categories, roles, strict=True)
                   if r == "close"}
        rules = TracingRules(lookback_days=2, close_contact_minutes=minutes,
                             exposed_categories=[c for c, r in zip(categories, roles, strict=True) if r == "exposed"],
                             core_info_hours=4, report_hours=24, contact_control_hours=12)
    return city, cases, isolations, rules


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cities())
def test_the_engine_agrees_with_brute_force(example: tuple[City, list[CaseInput], dict[int, datetime],
                                                           TracingRules]) -> None:
    city, cases, isolations, rules = example
    expected, hop_one, missing = brute_force(city, cases, rules, isolations)
    with TemporaryDirectory() as folder:
        result = trace(city.write(Path(folder)), cases, rules, isolations=isolations)
    got = {row["person_id"]: (row["person_id"], row["kind"], row["case_person_id"], row["via_person_id"],
                              row["place_id"], row["first_exposure"], row["last_exposure"])
           for row in result.contacts.to_pylist()}
    assert got == expected
    assert result.contacts.num_rows == len(got)
    evidence = result.exposures.filter(pc.is_in(result.exposures["kind"], pc.cast(["close", "exposed"], "string")))
    assert sorted((e["person_id"], e["kind"], e["case_person_id"], -1 if e["place_id"] is None else e["place_id"],
                   e["first_exposure"], e["last_exposure"]) for e in evidence.to_pylist()) == hop_one
    secondary = result.exposures.filter(pc.equal(result.exposures["kind"], "secondary"))
    assert sorted(r["person_id"] for r in secondary.to_pylist()) == sorted(
        p for p, row in expected.items() if row[1] == "secondary")
    assert result.missing_days == missing
