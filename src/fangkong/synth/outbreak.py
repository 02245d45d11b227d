"""The outbreak: individual-based transmission over households and shared presence, with its ground truth.

Each simulated day the outbreak (1) takes out of the day's presence everyone who stays at home
(a day or two after symptom onset) or is isolated, and the index case before he arrives, (2) adds
the index case's sales gatherings and the visits of the newly ill to a pharmacy or hospital, and
(3) lets every infectious person infect:

- at home, each susceptible household member with a daily probability (scaled by the part of the
  day the infector was infectious, and by the member's age-dependent susceptibility);
- at a place, everyone whose visit overlapped theirs, with a hazard per minute of overlap that
  depends on the place's category, diluted in crowds (in a market of hundreds one is close to a
  dozen). A bus place is a line: riders overlapping on it share a vehicle with odds 25 / riders
  on the line, and in the vehicle infection needs a seat within 3 rows (protocol-8's close
  contacts) save for a small chance beyond; the seat row is latent, drawn per ride.

Natural history: incubation lognormal (mean 5 days), infectious from 2 days before onset (never
sooner than a day after infection), about 30 % asymptomatic (more among the young, who are then
half as infectious for 8 days), severity rising with age. The ground truth (``infections()``)
holds who infected whom, where (null at home), when, onset and severity; every row is consistent
with the presence written for that day. Onsets may lie after the last simulated day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from fangkong.synth import schema
from fangkong.synth.copresence import co_present
from fangkong.synth.population import (
    CATEGORY_CODE,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    Array,
    CityLike,
    Population,
    day_start,
)
from fangkong.synth.presence import Routines

NEVER = np.iinfo(np.int64).max
NOBODY = -1


def _per_minute() -> dict[str, float]:
    return {  # hazard per minute of overlap with a close infectious person
        "gathering": 2e-4, "bus": 2e-4, "restaurant": 2e-4, "kindergarten": 3e-5, "school": 2e-5,
        "workplace": 3e-5, "hospital": 7e-5, "pharmacy": 5e-4, "market": 2e-4, "supermarket": 2e-4, "other": 4e-4,
    }


def _close_contacts() -> dict[str, float]:
    # How many of those present one is close to: the hazard is diluted beyond this crowd. On a bus,
    # the riders of one vehicle: riders overlapping on a line share a vehicle with odds 25 / crowd.
    return {
        "gathering": 30, "bus": 25, "restaurant": 8, "kindergarten": 15, "school": 20, "workplace": 10,
        "hospital": 8, "pharmacy": 4, "market": 12, "supermarket": 8, "other": 5,
    }


@dataclass(frozen=True)
class OutbreakParams:
    """The knobs of an outbreak; the defaults are calibrated for tonghua-2021 (see docs/benchmarks.md).

    Days are counted from the scenario's first simulated day (0). Age-dependent values are
    ``((from_age, value), ...)`` in ascending age.
    """

    # The index case: arrives infected from outside and holds sales gatherings for older people.
    index_age: tuple[int, int] = (40, 60)
    index_infected_day: int = -3
    index_arrival_day: int = 1
    index_onset_day: int = 3
    index_isolated_day: int = 11
    index_infectiousness: float = 1.0  # relative to an ordinary case
    host_infectiousness: float = 40.0  # at his own gatherings: hours of talk, close to everyone in the room
    gathering_days: tuple[int, ...] = (2, 3, 5, 7, 9)
    gathering_size: tuple[int, int] = (30, 60)
    gathering_minutes: tuple[int, int] = (60, 120)
    gathering_regulars: float = 0.6  # share of each gathering drawn from the same pool of regulars
    gathering_min_age: int = 60

    # Transmission.
    household_daily: float = 0.10  # per infectious household member and day
    per_minute: Mapping[str, float] = field(default_factory=_per_minute)
    close_contacts: Mapping[str, float] = field(default_factory=_close_contacts)
    bus_rows: int = 12
    bus_near_rows: int = 3  # protocol-8: 3 rows around the case
    bus_far: float = 0.05  # relative hazard beyond those rows
    susceptibility: tuple[tuple[int, float], ...] = ((0, 0.4), (10, 0.6), (18, 1.0), (60, 1.4))

    # Natural history.
    incubation_mean_days: float = 5.0
    incubation_sd_days: float = 2.5
    presymptomatic_days: float = 2.0
    min_latent_days: float = 1.0
    asymptomatic_share: tuple[tuple[int, float], ...] = ((0, 0.5), (18, 0.3), (60, 0.18))
    asymptomatic_infectiousness: float = 0.5
    asymptomatic_infectious_days: float = 8.0
    stay_home_after_onset_days: tuple[int, int] = (1, 2)  # whole days after the day of onset
    isolated_after_stay_home_days: tuple[int, int] = (1, 3)
    care_seeking: float = 0.3  # share of the newly ill who go to a pharmacy or hospital on the day of onset
    # Shares of mild, moderate, severe and critical among symptomatic cases.
    severity: tuple[tuple[int, tuple[float, float, float, float]], ...] = (
        (0, (0.85, 0.14, 0.01, 0.0)), (18, (0.55, 0.38, 0.05, 0.02)), (60, (0.35, 0.45, 0.14, 0.06)),
        (80, (0.25, 0.45, 0.20, 0.10)),
    )


def _by_age(table: tuple[tuple[int, float], ...], age: Array) -> Array:
    edges = np.array([a for a, _ in table])
    values = np.array([v for _, v in table])
    return values[np.searchsorted(edges, age, side="right") - 1]


@dataclass
class _Visits:
    """A day's presence as dense arrays sorted by (place, t_in); times in microseconds, UTC."""

    person: Array
    place: Array
    t_in: Array
    t_out: Array

    FIELDS = ("person", "place", "t_in", "t_out")

    def take(self, rows: Array) -> _Visits:
        return _Visits(self.person[rows], self.place[rows], self.t_in[rows], self.t_out[rows])

    def __len__(self) -> int:
        return len(self.person)


def _sort_key(v: _Visits, t0: int, person_bits: int) -> Array | None:
    """An int64 key ordering visits by (place, t_in in whole seconds, person); None if it would not fit."""
    seconds = (v.t_in - t0) // 1_000_000
    time_bits = max(1, int(seconds.max(initial=0)) + 1).bit_length()
    if (int(v.place.max(initial=0)) + 1).bit_length() + time_bits + person_bits > 63:
        return None
    return (((v.place << time_bits) | seconds) << person_bits) | v.person


def _merge(visits: _Visits, added: _Visits, person_bits: int) -> _Visits:
    """Visits and a few added ones, sorted by (place, t_in, person); times are whole seconds."""
    both = _Visits(*(np.concatenate([getattr(visits, f), getattr(added, f)]) for f in _Visits.FIELDS))
    key = _sort_key(both, int(both.t_in.min()), person_bits)
    if key is None:
        return both.take(np.lexsort((both.person, both.t_in, both.place)))
    old, new = key[:len(visits)], key[len(visits):]
    if len(old) > 1 and (old[1:] < old[:-1]).any():
        return both.take(np.argsort(key))
    # The usual case: the day is already in order, so the few added visits are inserted where they belong.
    order = np.argsort(new)
    at = np.searchsorted(old, new[order])
    added = added.take(order)
    return _Visits(*(np.insert(getattr(visits, f), at, getattr(added, f)) for f in _Visits.FIELDS))


class Outbreak:
    """The state of an outbreak in a city, advanced one day at a time over that day's presence."""

    def __init__(self, city: CityLike, params: OutbreakParams, *, seed: int,
                 population: Population | None = None) -> None:
        self.params = params
        self.seed = seed
        self.start = city.scenario.start
        self.worst_district = city.scenario.worst_district
        self.population = population if population is not None else Population.from_city(city)
        a = self.population
        n = len(a.persons)
        self.infected_at = np.full(n, NEVER, dtype=np.int64)
        self.infector = np.full(n, NOBODY, dtype=np.int64)
        self.where = np.full(n, NOBODY, dtype=np.int64)  # place index, or NOBODY at home / outside
        self.onset_at = np.full(n, NEVER, dtype=np.int64)  # for the asymptomatic: when onset would have been
        self.asymptomatic = np.zeros(n, dtype=bool)
        self.severity = np.zeros(n, dtype=np.int64)  # index into schema.SEVERITIES
        self.infectious_from = np.full(n, NEVER, dtype=np.int64)
        self.infectious_until = np.full(n, NEVER, dtype=np.int64)
        self.absent_from = np.full(n, NEVER, dtype=np.int64)  # first day (from start) spent at home or isolated
        self.relative = np.ones(n)  # infectiousness
        self.susceptibility = _by_age(params.susceptibility, a.age)
        self.infected_order: list[Array] = []
        self._person_bits = max(1, n - 1).bit_length()

        rng = np.random.default_rng([seed, 0x1DE])
        self.index = self._choose_index(rng)
        self.venue, self.regulars = self._choose_venue(rng)
        self._seed_index(rng)

    # -- the index case -------------------------------------------------------------------------

    def _choose_index(self, rng: np.random.Generator) -> int:
        a, p = self.population, self.params
        worst = a.district_codes.index(self.worst_district) if self.worst_district in a.district_codes else -1
        of_age = (a.age >= p.index_age[0]) & (a.age <= p.index_age[1])
        for candidates in (of_age & (a.district == worst), of_age, np.ones(len(a.age), bool)):
            if candidates.any():
                return int(rng.choice(np.flatnonzero(candidates)))
        raise ValueError("the city has no persons")

    def _choose_venue(self, rng: np.random.Generator) -> tuple[int, Array]:
        """The gathering venue in the worst district, and the older people who come to it regularly."""
        a, p = self.population, self.params
        venues = a.places_of("gathering")
        if not len(venues):
            return NOBODY, np.zeros(0, np.int64)
        in_district = venues[a.place_district[venues] == a.district[self.index]]
        if a.place_kind is not None and (a.place_kind[in_district] == "health_product_hall").any():
            in_district = in_district[a.place_kind[in_district] == "health_product_hall"]  # 保健品会所
        venue = int(rng.choice(in_district if len(in_district) else venues))
        old = a.age >= p.gathering_min_age
        street = a.place_street[venue]
        near = np.flatnonzero(old & (a.street == street)) if street >= 0 else np.zeros(0, np.int64)
        if len(near) < 2 * p.gathering_size[1]:
            near = np.flatnonzero(old & (a.district == a.place_district[venue]))
        if not len(near):
            near = np.flatnonzero(old)
        pool = int(min(len(near), round(p.gathering_regulars * p.gathering_size[1] * 1.5)))
        return venue, np.sort(rng.choice(near, size=pool, replace=False))

    def _seed_index(self, rng: np.random.Generator) -> None:
        p, i = self.params, self.index
        origin = day_start(self.start)
        arrival = origin + p.index_arrival_day * US_PER_DAY + 12 * US_PER_HOUR
        self.infected_at[i] = origin + p.index_infected_day * US_PER_DAY + int(rng.integers(8, 20)) * US_PER_HOUR
        self.onset_at[i] = origin + p.index_onset_day * US_PER_DAY + int(rng.integers(7, 21)) * US_PER_HOUR
        self.severity[i] = schema.SEVERITIES.index("mild")
        self.infectious_from[i] = max(self.onset_at[i] - int(p.presymptomatic_days * US_PER_DAY), arrival)
        # He keeps working through his symptoms until he is found and isolated.
        self.absent_from[i] = p.index_isolated_day
        self.infectious_until[i] = origin + p.index_isolated_day * US_PER_DAY + 10 * US_PER_HOUR
        self.relative[i] = p.index_infectiousness
        self.infected_order.append(np.array([i]))

    # -- a day ----------------------------------------------------------------------------------

    def step(self, day: date, presence: pa.Table) -> pa.Table:
        """Advance the outbreak over ``day``; return that day's presence as it really was (schema.PRESENCE).

        People at home or isolated are taken out of ``presence``; the index case's gatherings and
        visits of the newly ill to a pharmacy or hospital are added.
        """
        a, p = self.population, self.params
        d = (day - self.start).days
        origin = day_start(day)
        rng = np.random.default_rng([self.seed, day.toordinal(), 0x0B5])
        visits = _Visits(
            a.persons.index(presence.column("person_id").to_numpy()),
            a.places.index(presence.column("place_id").to_numpy()),
            presence.column("t_in").cast(pa.int64()).to_numpy(),
            presence.column("t_out").cast(pa.int64()).to_numpy(),
        )
        step_place, step_time = np.diff(visits.place), np.diff(visits.t_in)
        if ((step_place < 0) | ((step_place == 0) & (step_time < 0))).any():  # the join needs (place, t_in) order
            visits = visits.take(np.lexsort((visits.person, visits.t_in, visits.place)))
        away = self.absent_from[visits.person] <= d
        if d < p.index_arrival_day:
            away |= visits.person == self.index
        gathering = self._gathering(d, origin, rng)
        at_gathering = np.concatenate([v.person for v in gathering] or [np.zeros(0, np.int64)])
        added = gathering + self._care_seeking(d, origin, rng, at_gathering)
        new = _Visits(*(np.concatenate([getattr(v, f) for v in added] or [np.zeros(0, np.int64)])
                        for f in _Visits.FIELDS))
        if len(new):
            # Whoever comes to an added visit does not keep their routine around it (20 min to get there).
            busy_from = np.full(len(a.persons), NEVER, dtype=np.int64)
            busy_until = np.full(len(a.persons), -NEVER, dtype=np.int64)
            np.minimum.at(busy_from, new.person, new.t_in - 20 * US_PER_MINUTE)
            np.maximum.at(busy_until, new.person, new.t_out + 20 * US_PER_MINUTE)
            away |= (visits.t_in < busy_until[visits.person]) & (visits.t_out > busy_from[visits.person])
            if gathering:  # the venue is his for the session (gathering[0] is his own visit): no one drops in
                host = gathering[0]
                away |= (visits.place == self.venue) & (visits.t_in < host.t_out[0]) & (visits.t_out > host.t_in[0])
        visits = visits.take(np.flatnonzero(~away))
        if len(new):
            visits = _merge(visits, new, self._person_bits)

        self._transmit(d, origin, visits, rng)
        return pa.table({
            "person_id": a.persons.ids[visits.person],
            "place_id": a.places.ids[visits.place],
            "t_in": pa.array(visits.t_in, type=pa.int64()).cast(schema.UTC_TS),
            "t_out": pa.array(visits.t_out, type=pa.int64()).cast(schema.UTC_TS),
        }, schema=schema.PRESENCE)

    def _gathering(self, d: int, origin: int, rng: np.random.Generator) -> list[_Visits]:
        """The index case's sales gathering of day ``d``, if he holds one: his visit, then dozens of older people's."""
        a, p = self.population, self.params
        if (d not in p.gathering_days or d < p.index_arrival_day or self.venue == NOBODY
                or self.absent_from[self.index] <= d):
            return []
        size = int(rng.integers(p.gathering_size[0], p.gathering_size[1] + 1))
        regulars = self.regulars[self.absent_from[self.regulars] > d]
        regulars = rng.choice(regulars, size=min(len(regulars), round(size * p.gathering_regulars)), replace=False)
        old = np.flatnonzero((a.age >= p.gathering_min_age) & (a.district == a.place_district[self.venue])
                             & (self.absent_from > d))
        newcomers = rng.choice(old, size=min(len(old), size - len(regulars)), replace=False)
        guests = np.setdiff1d(np.union1d(regulars, newcomers), [self.index])
        begins = origin + int(rng.choice([9 * 60, 14 * 60]) + rng.integers(0, 60)) * US_PER_MINUTE
        ends = begins + int(rng.integers(p.gathering_minutes[0], p.gathering_minutes[1] + 1)) * US_PER_MINUTE
        m = len(guests)
        t_in = begins + rng.integers(-15 * 60, 5 * 60, m) * 1_000_000
        t_out = ends + rng.integers(-5 * 60, 10 * 60, m) * 1_000_000
        host = _Visits(np.array([self.index]), np.array([self.venue]), np.array([begins - 30 * US_PER_MINUTE]),
                       np.array([ends + 20 * US_PER_MINUTE]))
        return [host, _Visits(guests, np.full(m, self.venue), t_in, t_out)]

    def _care_seeking(self, d: int, origin: int, rng: np.random.Generator, busy: Array) -> list[_Visits]:
        """Some of those whose symptoms began today before 17:00 go to a pharmacy or hospital of their district.

        Those in ``busy`` (at today's gathering) do not: one added visit a day each keeps visits apart.
        """
        a, p = self.population, self.params
        onset = self.onset_at
        ill = np.flatnonzero((onset >= origin) & (onset < origin + 17 * US_PER_HOUR) & ~self.asymptomatic
                             & (self.absent_from > d))
        ill = ill[(ill != self.index) & ~np.isin(ill, busy) & (rng.random(len(ill)) < p.care_seeking)]
        to_hospital = rng.random(len(ill)) < 0.4
        visits: list[_Visits] = []
        for category, who, minutes in (("hospital", ill[to_hospital], (60, 180)),
                                       ("pharmacy", ill[~to_hospital], (10, 30))):
            places = a.places_of(category)
            if not len(places) or not len(who):
                continue
            places = places[np.argsort(a.place_district[places], kind="stable")]
            district = a.place_district[places]
            lo = np.searchsorted(district, a.district[who], side="left")
            count = np.searchsorted(district, a.district[who], side="right") - lo
            lo, count = np.where(count > 0, lo, 0), np.where(count > 0, count, len(places))  # else anywhere
            place = places[lo + (rng.random(len(who)) * count).astype(np.int64)]
            t_in = onset[who] + rng.integers(30, 180, len(who)) * US_PER_MINUTE
            t_out = t_in + rng.integers(minutes[0], minutes[1] + 1, len(who)) * US_PER_MINUTE
            visits.append(_Visits(who, place, t_in - t_in % 1_000_000, t_out - t_out % 1_000_000))
        return visits

    def _transmit(self, d: int, origin: int, visits: _Visits, rng: np.random.Generator) -> None:
        """Draw today's infections at places and at home; give the newly infected their natural history."""
        a, p = self.population, self.params
        day_end = origin + US_PER_DAY
        infectious = (self.infectious_from < day_end) & (self.infectious_until > origin)
        susceptible = self.infected_at == NEVER
        events: list[tuple[Array, Array, Array, Array]] = []  # infectee, infector, place, time

        # At places: every visit of an infectious person, within their infectious window, against its overlaps.
        probe = np.flatnonzero(infectious[visits.person])
        who = visits.person[probe]
        start = np.maximum(visits.t_in[probe], self.infectious_from[who])
        end = np.minimum(visits.t_out[probe], self.infectious_until[who])
        probe, start, end = probe[start < end], start[start < end], end[start < end]
        i, row = co_present(visits.place, visits.t_in, visits.t_out, probe, start, end)
        if len(i):
            crowd = np.bincount(i, minlength=len(probe))[i]
            other = visits.person[row]
            ok = susceptible[other]
            i, row, crowd, other = i[ok], row[ok], crowd[ok], other[ok]
            infector = visits.person[probe[i]]
            place = visits.place[row]
            category = a.place_category[place]
            per_minute = np.array([p.per_minute.get(c, 0.0) for c in schema.PLACE_CATEGORIES])[category]
            close = np.array([p.close_contacts.get(c, 1.0) for c in schema.PLACE_CATEGORIES])[category]
            s = np.maximum(start[i], visits.t_in[row])
            e = np.minimum(end[i], visits.t_out[row])
            hazard = (per_minute * (e - s) / US_PER_MINUTE * np.minimum(1.0, close / crowd)
                      * self.relative[infector] * self.susceptibility[other])
            hazard[(infector == self.index) & (place == self.venue)] *= p.host_infectiousness
            on_bus = category == CATEGORY_CODE["bus"]
            if on_bus.any():
                seat_infector = self._seat(visits, probe[i][on_bus])
                seat_other = self._seat(visits, row[on_bus])
                far = np.abs(seat_infector - seat_other) > p.bus_near_rows
                hazard[np.flatnonzero(on_bus)[far]] *= p.bus_far
            hit = rng.random(len(hazard)) < -np.expm1(-hazard)
            when = s[hit] + (rng.random(int(hit.sum())) * (e[hit] - s[hit])).astype(np.int64)
            events.append((other[hit], infector[hit], place[hit], when - when % 1_000_000))

        # At home: each infectious person not yet isolated, against the susceptible members of the household.
        sick = np.flatnonzero(infectious)
        s = np.maximum(self.infectious_from[sick], origin)
        e = np.minimum(self.infectious_until[sick], day_end)
        sick, s, e = sick[s < e], s[s < e], e[s < e]
        size = a.household_offsets[a.household[sick] + 1] - a.household_offsets[a.household[sick]]
        k = np.repeat(np.arange(len(sick)), size)
        member = a.household_members[a.household_offsets[a.household[sick]][k] + np.arange(len(k))
                                     - np.repeat(np.cumsum(size) - size, size)]
        ok = (member != sick[k]) & susceptible[member]
        k, member = k[ok], member[ok]
        hazard = (-np.log1p(-p.household_daily) * (e[k] - s[k]) / US_PER_DAY
                  * self.relative[sick[k]] * self.susceptibility[member])
        hit = rng.random(len(hazard)) < -np.expm1(-hazard)
        k, member = k[hit], member[hit]
        # At home means the evening if the infector was infectious then (20:00–24:00), else the night
        # before (00:00–06:00), else whenever in the day they were.
        lo, hi = s[k], e[k]
        evening = np.maximum(lo, origin + 20 * US_PER_HOUR) < hi
        night = ~evening & (lo < np.minimum(hi, origin + 6 * US_PER_HOUR))
        lo = np.where(evening, np.maximum(lo, origin + 20 * US_PER_HOUR), lo)
        hi = np.where(night, np.minimum(hi, origin + 6 * US_PER_HOUR), hi)
        when = lo + (rng.random(len(k)) * (hi - lo)).astype(np.int64)
        events.append((member, sick[k], np.full(len(k), NOBODY), when - when % 1_000_000))

        infectee, infector, place, when = (np.concatenate(col) for col in zip(*events, strict=True))
        if not len(infectee):
            return
        first = np.lexsort((infector, when, infectee))  # the earliest exposure of each infectee wins
        infectee, infector, place, when = infectee[first], infector[first], place[first], when[first]
        keep = np.concatenate([[True], infectee[1:] != infectee[:-1]])
        self._infect(infectee[keep], infector[keep], place[keep], when[keep], rng)

    def _seat(self, visits: _Visits, rows: Array) -> Array:
        """A latent seat row for each ride, fixed by rider and boarding time."""
        mixed = (visits.person[rows] * 0x9E3779B1 + visits.t_in[rows] // 1_000_000) % 0x7FFFFFFF
        return (mixed * 2654435761 % 0x7FFFFFFF) % self.params.bus_rows

    def _infect(self, who: Array, infector: Array, place: Array, when: Array, rng: np.random.Generator) -> None:
        """Record new infections and draw their natural history."""
        a, p = self.population, self.params
        m = len(who)
        self.infected_at[who] = when
        self.infector[who] = infector
        self.where[who] = place
        sigma2 = np.log1p((p.incubation_sd_days / p.incubation_mean_days) ** 2)
        incubation = rng.lognormal(np.log(p.incubation_mean_days) - sigma2 / 2, np.sqrt(sigma2), m)
        onset = when + (incubation * US_PER_DAY).astype(np.int64)
        onset -= onset % 1_000_000
        self.onset_at[who] = onset
        self.infectious_from[who] = np.maximum(onset - int(p.presymptomatic_days * US_PER_DAY),
                                               when + int(p.min_latent_days * US_PER_DAY))
        asymptomatic = rng.random(m) < _by_age(p.asymptomatic_share, a.age[who])
        self.asymptomatic[who] = asymptomatic
        cumulative = np.cumsum([shares for _, shares in p.severity], axis=1)
        band = np.searchsorted([age for age, _ in p.severity], a.age[who], side="right") - 1
        symptomatic_severity = 1 + (cumulative[band] < rng.random((m, 1)) * cumulative[band, -1:]).sum(axis=1)
        self.severity[who] = np.where(asymptomatic, 0, np.minimum(symptomatic_severity, len(schema.SEVERITIES) - 1))
        # The ill stay home a day or two after onset and are isolated a few days later; the asymptomatic go on.
        onset_day = (onset - day_start(self.start)) // US_PER_DAY
        home_day = onset_day + rng.integers(p.stay_home_after_onset_days[0], p.stay_home_after_onset_days[1] + 1, m)
        isolated_day = home_day + rng.integers(p.isolated_after_stay_home_days[0],
                                               p.isolated_after_stay_home_days[1] + 1, m)
        isolated_at = day_start(self.start) + isolated_day * US_PER_DAY + rng.integers(8, 20, m) * US_PER_HOUR
        self.absent_from[who] = np.where(asymptomatic, NEVER, home_day)
        self.infectious_until[who] = np.where(
            asymptomatic, onset + int(p.asymptomatic_infectious_days * US_PER_DAY), isolated_at)
        self.relative[who] = np.where(asymptomatic, p.asymptomatic_infectiousness, 1.0)
        self.infected_order.append(who)

    # -- the ground truth -----------------------------------------------------------------------

    def infections(self) -> pa.Table:
        """Everyone infected so far (schema.INFECTIONS), in order of infection; the index case first."""
        a = self.population
        who = np.concatenate(self.infected_order)
        order = np.lexsort((a.persons.ids[who], self.infected_at[who]))
        who = who[order]
        infector = self.infector[who]
        place = self.where[who]
        asymptomatic = self.asymptomatic[who]
        return pa.table({
            "infectee_id": a.persons.ids[who],
            "infector_id": pa.array(a.persons.ids[np.maximum(infector, 0)], mask=infector == NOBODY),
            "place_id": pa.array(a.places.ids[np.maximum(place, 0)] if len(a.places) else np.zeros(len(who), np.int64),
                                 mask=place == NOBODY),
            "infected_at": pa.array(self.infected_at[who]).cast(schema.UTC_TS),
            "onset_at": pa.array(self.onset_at[who], mask=asymptomatic).cast(schema.UTC_TS),
            "asymptomatic": asymptomatic,
            "severity": pa.array(np.array(schema.SEVERITIES)[self.severity[who]]),
        }, schema=schema.INFECTIONS)


def simulate(city: CityLike, *, days: int, seed: int, on_day: Callable[[date, pa.Table], None] | None = None,
             params: OutbreakParams | None = None, progress: Callable[[int, int], None] | None = None) -> pa.Table:
    """Run routines and the outbreak day by day from the scenario's start; return the ground truth (INFECTIONS).

    ``on_day(day, presence)`` receives each day's presence as it really was (the files' content);
    ``progress(done, days)`` is called after each day.
    """
    routines = Routines.assign(city, seed=seed)
    outbreak = Outbreak(city, params or OutbreakParams(), seed=seed, population=routines.population)
    for k in range(days):
        day = city.scenario.start + timedelta(days=k)
        presence = outbreak.step(day, routines.day(day))
        if on_day is not None:
            on_day(day, presence)
        if progress is not None:
            progress(k + 1, days)
    return outbreak.infections()
