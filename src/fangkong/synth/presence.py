"""Presence (场所码 check-ins): the daily routines of a synthetic city as (person, place, t_in, t_out) records.

``Routines.assign`` gives every person what persists from day to day: a job (most at a
workplace, some at a school, hospital, shop, market or restaurant), a school or kindergarten by
age, favourite shops, a market, a gathering venue, whether they commute by bus. ``Routines.day``
then draws one day for everyone at once, in numpy, from ``(seed, day)`` alone.

A day is up to four blocks of local time (Asia/Shanghai): the working or school day (about
06:00–18:40) for those who work or study that day, otherwise a morning (06:30–12:00) and an
afternoon (13:00–17:45) of errands, and for everyone an evening (18:00–22:30). The activities of
a person in a block run one after another with a few minutes between them, so a person is never
in two places at once; an activity that would run past the block's end is dropped.

Venue popularity is heavy-tailed: people choose places in proportion to the city's sizes and
pulls (``City.place_capacity``: employees, pupils, visitors a day), or, for a city without them,
to lognormal or Pareto weights drawn here, with a market whose name says it is a wholesale market
(批发) drawing a dozen times an ordinary one. A tenth of market choices are made city-wide, so
the big markets draw from everywhere: at the full size of tonghua-2021 the vegetable wholesale
market of 东昌区 gets some 18,000 check-ins a day.

A "bus" place is a bus line (the city's ``bus_line`` venues; a single vehicle works as well). A
record on it is one ride, from boarding to alighting (5–70 minutes, a fresh line of the rider's
district each ride). Which vehicle of the line and which seat row are not in the files: the
outbreak draws them (outbreak.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from fangkong.synth import schema
from fangkong.synth.population import CATEGORY_CODE, Array, CityLike, Population, day_start
from fangkong.synth.venues import SCHOOL_KINDS

# Age bands used for rates: 0–5, 6–17, 18–59, 60+.
BAND_EDGES = (6, 18, 60)
MORNING, DAY, AFTERNOON, EVENING = 0, 1, 2, 3
BLOCK_END = (12 * 60, 18 * 60 + 40, 17 * 60 + 45, 22 * 60 + 30)  # minutes after local midnight

ERRANDS = ("market", "hospital", "supermarket", "pharmacy", "gathering", "other", "restaurant")  # order in a block


@dataclass(frozen=True)
class Errand:
    """How often a kind of errand happens, when, where and for how long."""

    rates: tuple[float, float, float, float]  # expected visits a day by age band, on a free day
    blocks: tuple[float, float, float]  # shares in the morning, afternoon and evening
    median_minutes: float
    sigma: float  # of the lognormal duration
    bounds: tuple[int, int]  # minutes
    stick: float  # probability of going to one's usual place rather than another
    local: str  # "street" or "district": where the usual place and the others are chosen
    wide: float  # share of choices made across the whole city


ERRAND_HABITS: dict[str, Errand] = {
    "market": Errand((0.03, 0.03, 0.10, 0.20), (0.85, 0.10, 0.05), 45, 0.5, (10, 180), 0.85, "district", 0.1),
    "supermarket": Errand((0.10, 0.15, 0.35, 0.40), (0.4, 0.3, 0.3), 30, 0.5, (5, 120), 0.7, "street", 0.02),
    "restaurant": Errand((0.08, 0.12, 0.25, 0.10), (0.1, 0.2, 0.7), 60, 0.4, (20, 180), 0.3, "district", 0.02),
    "pharmacy": Errand((0.02, 0.02, 0.05, 0.10), (0.5, 0.4, 0.1), 10, 0.5, (3, 45), 0.8, "street", 0.0),
    "hospital": Errand((0.01, 0.005, 0.01, 0.03), (0.8, 0.2, 0.0), 90, 0.6, (20, 240), 0.9, "district", 0.02),
    "gathering": Errand((0.0, 0.03, 0.04, 0.18), (0.3, 0.65, 0.05), 100, 0.4, (30, 200), 0.9, "street", 0.0),
    "other": Errand((0.4, 0.8, 1.6, 1.2), (0.4, 0.35, 0.25), 25, 0.8, (3, 150), 0.2, "street", 0.02),
}
WHOLESALE_PULL = 12.0  # a wholesale market (批发市场) draws as many as this many ordinary markets
ERRAND_SHARE_ON_WORKDAY = 0.5  # errands of those who work or study that day, all in the evening
BUS_FOR_ERRANDS = (0.03, 0.10, 0.12, 0.20)  # by age band: a ride there and back for a block's errands

# Where the employed work: shares of jobs by category (the rest of the weights are a workplace's size).
JOB_SHARES = {
    "workplace": 0.78, "school": 0.03, "kindergarten": 0.01, "hospital": 0.03, "supermarket": 0.03,
    "market": 0.02, "restaurant": 0.06, "pharmacy": 0.01, "other": 0.03,
}
WEEKEND_WORK = {"workplace": 0.15, "school": 0.0, "kindergarten": 0.0}  # else 0.7: shops, markets, hospitals
EMPLOYED = ((18, 23, 0.35), (23, 55, 0.78), (55, 60, 0.55), (60, 65, 0.12))  # age range, share employed
COMMUTE_BY_BUS = 0.2
LUNCH_OUT = 0.15
ATTENDANCE = 0.94  # of workers and pupils on a working day


def _popularity(population: Population, places: Array, category: str, rng: np.random.Generator) -> Array:
    """Heavy-tailed weights of the places of one category: how many people choose each.

    The city's own sizes (employees, pupils, visitors a day) when it has them, else drawn here.
    """
    n = len(places)
    if population.place_capacity is not None:
        return np.maximum(population.place_capacity[places], 1e-3)
    if category == "workplace":
        return rng.pareto(1.2, n) + 1.0  # firm sizes: a few employ thousands
    if category == "bus":
        return np.ones(n)
    sigma = {"school": 0.5, "kindergarten": 0.5, "pharmacy": 0.6, "gathering": 0.6, "restaurant": 0.8}
    weight = rng.lognormal(0.0, sigma.get(category, 1.0), n)
    if category == "market":
        wholesale = np.array(["批发" in population.place_name[p] for p in places], dtype=bool)
        weight = np.where(wholesale, WHOLESALE_PULL * weight.mean(), weight)
    return weight


class _Chooser:
    """Weighted choice among the places of one category: within a group (street or district) or city-wide."""

    def __init__(self, places: Array, group: Array, weight: Array, n_groups: int) -> None:
        order = np.lexsort((places, group))
        self.places = places[order]
        cum = np.concatenate([[0.0], np.cumsum(weight[order])])
        self.cum = cum[1:]
        self.total = float(cum[-1])
        sorted_group = group[order]
        self.lo = cum[np.searchsorted(sorted_group, np.arange(n_groups), "left")]
        self.hi = cum[np.searchsorted(sorted_group, np.arange(n_groups), "right")]

    def has(self, group: Array) -> Array:
        """Whether each group has a place of its own (group -1 has none)."""
        g = np.maximum(group, 0)
        return (group >= 0) & (self.hi[g] > self.lo[g])

    def pick(self, group: Array, u: Array, wide: Array) -> Array:
        """A place for each draw ``u`` in [0, 1): in its group, or anywhere where ``wide`` or the group has none."""
        g = np.maximum(group, 0)
        anywhere = wide | ~self.has(group)
        lo = np.where(anywhere, 0.0, self.lo[g])
        hi = np.where(anywhere, self.total, self.hi[g])
        k = np.searchsorted(self.cum, lo + u * (hi - lo), side="right")
        return self.places[np.minimum(k, len(self.places) - 1)]


class _Venues:
    """The places of one category and how to choose one near a person."""

    def __init__(self, population: Population, category: str, rng: np.random.Generator,
                 kind: str | None = None) -> None:
        self.category = category
        self.places = population.places_of(category)
        if kind is not None and population.place_kind is not None:
            of_kind = population.place_kind[self.places] == kind
            if of_kind.any():
                self.places = self.places[of_kind]
        weight = _popularity(population, self.places, category, rng)
        self.weight = weight
        self.by_district = _Chooser(self.places, population.place_district[self.places], weight,
                                    len(population.district_codes))
        self.by_street = _Chooser(self.places, population.place_street[self.places], weight,
                                  len(population.street_codes))

    def __bool__(self) -> bool:
        return len(self.places) > 0

    def pick(self, street: Array, district: Array, u: Array, wide: Array, *, local: str = "district") -> Array:
        """A place for each person: in their street if ``local`` is "street" and it has one, else their district."""
        chosen = self.by_district.pick(district, u, wide)
        if local == "street":
            near = self.by_street.has(street) & ~wide
            chosen[near] = self.by_street.pick(street[near], u[near], wide[near])
        return chosen


def _lognormal_minutes(rng: np.random.Generator, n: int, median: float, sigma: float,
                       bounds: tuple[int, int]) -> Array:
    return np.clip(np.rint(median * rng.lognormal(0.0, sigma, n)), *bounds).astype(np.int64)


class _Rows:
    """Activities of a day before they are given times: who, in which block, where, for how long.

    Rows are added in the order they happen within a block (a ride there first, a ride back
    last), each batch in ascending person order; a stable sort by (person, block) then puts every
    person's block in sequence without comparing anything else.
    """

    def __init__(self) -> None:
        self.person: list[Array] = []
        self.block: list[Array] = []
        self.place: list[Array] = []
        self.minutes: list[Array] = []

    def add(self, person: Array, block: Array | int, place: Array, minutes: Array) -> None:
        self.person.append(person.astype(np.int32))
        self.block.append(np.broadcast_to(np.asarray(block, dtype=np.int32), (len(person),)))
        self.place.append(place.astype(np.int32))
        self.minutes.append(minutes.astype(np.int32))


class Routines:
    """What each person of a city does on a day, from assignments made once (job, school, usual places)."""

    def __init__(self, population: Population, seed: int) -> None:
        self.population = population
        self.seed = seed
        rng = np.random.default_rng([seed, 0x9E5E])
        n = len(population.persons)
        age = population.age
        self.band = np.searchsorted(BAND_EDGES, age, side="right")
        self.venues = {c: _Venues(population, c, rng) for c in schema.PLACE_CATEGORIES if c in ERRANDS or c in
                       JOB_SHARES or c == "bus"}

        # A job: the employed share of each age, at a place chosen by size, in their district (92 %).
        employed = np.zeros(n, dtype=bool)
        u = rng.random(n)
        for lo, hi, share in EMPLOYED:
            employed |= (age >= lo) & (age < hi) & (u < share)
        categories = [c for c in JOB_SHARES if self.venues[c]]
        shares = np.array([JOB_SHARES[c] for c in categories])
        job_category = rng.choice(len(categories), size=n, p=shares / shares.sum())
        self.job = np.full(n, -1, dtype=np.int64)
        self.weekend_work = np.zeros(n)
        for k, c in enumerate(categories):
            who = np.flatnonzero(employed & (job_category == k))
            wide = rng.random(len(who)) < 0.08
            self.job[who] = self.venues[c].pick(population.street[who], population.district[who],
                                                rng.random(len(who)), wide)
            self.weekend_work[who] = WEEKEND_WORK.get(c, 0.7)

        # Kindergarten at 3–5, school at 6–17 (of the kind for their age if the city has kinds), near home.
        self.school = np.full(n, -1, dtype=np.int64)
        for kind, category, (lo, hi), _ in SCHOOL_KINDS:
            who = np.flatnonzero((age >= lo) & (age <= hi))
            schools = _Venues(population, category, rng, kind=kind)
            if schools and len(who):
                self.school[who] = schools.pick(population.street[who], population.district[who], rng.random(len(who)),
                                                np.zeros(len(who), bool), local="street")
        self.bus_commuter = (rng.random(n) < COMMUTE_BY_BUS) & ((self.job >= 0) | ((self.school >= 0) & (age >= 10)))

        # Usual places for errands.
        self.usual: dict[str, Array] = {}
        for c in ERRANDS:
            habit = ERRAND_HABITS[c]
            if self.venues[c]:
                wide = rng.random(n) < habit.wide
                self.usual[c] = self.venues[c].pick(population.street, population.district, rng.random(n), wide,
                                                    local=habit.local)

    @classmethod
    def assign(cls, city: CityLike, *, seed: int) -> Routines:
        """Give every person of the city a job or school and usual places, from ``seed``."""
        return cls(Population.from_city(city), seed)

    def day(self, day: date) -> pa.Table:
        """The presence records of one day (schema.PRESENCE), sorted by (place_id, t_in)."""
        population = self.population
        rng = np.random.default_rng([self.seed, day.toordinal(), 0xDA7])
        n = len(population.persons)
        everyone = np.arange(n, dtype=np.int64)
        workday = day.weekday() < 5

        # Who works or studies today, and when each block of their day starts (minutes after midnight).
        working = (self.job >= 0) & (rng.random(n) < (ATTENDANCE if workday else self.weekend_work))
        studying = (self.school >= 0) & workday & ~working & (rng.random(n) < ATTENDANCE)
        busy = working | studying
        block_start = np.empty((4, n), dtype=np.int64)
        block_start[MORNING] = rng.integers(6 * 60 + 30, 9 * 60 + 30, n)
        block_start[AFTERNOON] = rng.integers(13 * 60, 15 * 60, n)
        block_start[EVENING] = np.where(busy, rng.integers(18 * 60 + 45, 19 * 60 + 45, n),
                                        rng.integers(18 * 60, 19 * 60 + 30, n))
        block_start[DAY] = np.where(working, np.clip(rng.normal(7 * 60 + 15, 25, n), 6 * 60, 8 * 60 + 30),
                                    rng.integers(6 * 60 + 50, 7 * 60 + 30, n)).astype(np.int64)

        # Errands: free people in the morning, afternoon or evening; the busy ones in the evening.
        errands: list[tuple[Array, Array, Array, Array]] = []
        for c in ERRANDS:
            if not self.venues[c]:
                continue
            habit = ERRAND_HABITS[c]
            rate = np.asarray(habit.rates)[self.band] * np.where(busy, ERRAND_SHARE_ON_WORKDAY, 1.0)
            who = np.repeat(everyone, rng.poisson(rate))
            m = len(who)
            cdf = np.cumsum(habit.blocks) / sum(habit.blocks)
            block = np.array([MORNING, AFTERNOON, EVENING])[np.searchsorted(cdf, rng.random(m), side="right")
                                                            .clip(0, 2)]
            block = np.where(busy[who], EVENING, block)
            place = self.usual[c][who]
            elsewhere = np.flatnonzero(rng.random(m) >= habit.stick)
            place[elsewhere] = self.venues[c].pick(
                population.street[who[elsewhere]], population.district[who[elsewhere]], rng.random(len(elsewhere)),
                rng.random(len(elsewhere)) < habit.wide, local=habit.local)
            minutes = _lognormal_minutes(rng, m, habit.median_minutes, habit.sigma, habit.bounds)
            errands.append((who, block, place, minutes))

        # Bus rides there and back: commuters, and some of those who run errands in a block.
        rides: list[tuple[Array, Array]] = []
        if self.venues["bus"]:
            commuters = everyone[busy & self.bus_commuter]
            rides.append((commuters, np.full(len(commuters), DAY)))
            if errands:
                used = np.bincount(np.concatenate([who * 4 + block for who, block, _, _ in errands]), minlength=4 * n)
                slot = np.flatnonzero(used)
                who, block = slot // 4, slot % 4
                ride = rng.random(len(slot)) < np.asarray(BUS_FOR_ERRANDS)[self.band[who]]
                rides.append((who[ride], block[ride]))

        rows = _Rows()
        for who, block in rides:
            rows.add(who, block, *self._bus_rides(rng, who))
        workers = everyone[working]
        lunch = rng.random(len(workers)) < LUNCH_OUT
        total = np.clip(np.rint(rng.normal(510, 30, len(workers))), 420, 570).astype(np.int64)
        before_lunch = rng.integers(200, 260, len(workers))
        rows.add(workers, DAY, self.job[workers], np.where(lunch, before_lunch, total))
        lunchers = workers[lunch]
        if self.venues["restaurant"]:
            job = self.job[lunchers]
            near_job = self.venues["restaurant"].pick(population.place_street[job], population.place_district[job],
                                                      rng.random(len(lunchers)), np.zeros(len(lunchers), bool))
            rows.add(lunchers, DAY, near_job, _lognormal_minutes(rng, len(lunchers), 40, 0.3, (20, 70)))
        rows.add(lunchers, DAY, self.job[lunchers], (total - before_lunch)[lunch])
        pupils = everyone[studying]
        kinder = population.place_category[self.school[pupils]] == CATEGORY_CODE["kindergarten"]
        rows.add(pupils, DAY, self.school[pupils],
                 np.where(kinder, rng.integers(540, 580, len(pupils)), rng.integers(500, 530, len(pupils))))
        for who, block, place, minutes in errands:
            rows.add(who, block, place, minutes)
        for who, block in rides:
            rows.add(who, block, *self._bus_rides(rng, who))
        return self._schedule(rows, rng, block_start, day)

    def _bus_rides(self, rng: np.random.Generator, who: Array) -> tuple[Array, Array]:
        """A vehicle of the rider's district, chosen afresh, and a ride's length in minutes, for each rider."""
        m = len(who)
        vehicle = self.venues["bus"].pick(self.population.street[who], self.population.district[who], rng.random(m),
                                          np.zeros(m, bool))
        return vehicle, _lognormal_minutes(rng, m, 20, 0.5, (5, 70))

    def _schedule(self, rows: _Rows, rng: np.random.Generator, block_start: Array, day: date) -> pa.Table:
        """Run each person's activities of a block one after another; drop those past the block's end."""
        person = np.concatenate(rows.person)
        block = np.concatenate(rows.block)
        if 4 * len(self.population.persons) >= 2**31:
            person = person.astype(np.int64)
        slot = person * 4 + block
        perm = np.argsort(slot, kind="stable")  # stable: the order rows were added in is their order in a block
        slot, person, block = slot[perm], person[perm], block[perm]
        place = np.concatenate(rows.place)[perm]
        m = len(person)
        duration = np.concatenate(rows.minutes)[perm].astype(np.int64) * 60 + rng.integers(0, 60, m)
        step = rng.integers(3 * 60, 20 * 60, m) + duration  # a gap for getting there, then the stay
        ends = np.cumsum(step)
        first = np.flatnonzero(np.concatenate([[True], slot[1:] != slot[:-1]]))
        before = np.repeat(ends[first] - step[first], np.diff(np.append(first, m)))  # sum of the slot's earlier rows
        t_out = block_start[block, person] * 60 + ends - before
        t_in = t_out - duration
        keep = t_out <= np.asarray(BLOCK_END)[block] * 60
        return presence_table(self.population, day, person[keep], place[keep], t_in[keep], t_out[keep])


def presence_table(population: Population, day: date, person: Array, place: Array, t_in: Array,
                   t_out: Array) -> pa.Table:
    """schema.PRESENCE rows of one day, sorted by (place_id, t_in, person_id).

    Persons and places are dense indexes; times are seconds after the day's local midnight.
    """
    person = person.astype(np.int64)
    place = place.astype(np.int64)
    person_bits = max(1, len(population.persons) - 1).bit_length()
    time_bits = max(1, int(t_in.max(initial=0)) - int(t_in.min(initial=0)) + 1).bit_length()
    if max(1, len(population.places) - 1).bit_length() + time_bits + person_bits <= 63:
        key = ((place << time_bits) | (t_in - t_in.min(initial=0))) << person_bits | person
        perm = np.argsort(key)
    else:
        perm = np.lexsort((person, t_in, place))
    origin = day_start(day)
    return pa.table({
        "person_id": population.persons.ids[person[perm]],
        "place_id": population.places.ids[place[perm]],
        "t_in": pa.array(origin + t_in[perm] * 1_000_000, type=pa.int64()).cast(schema.UTC_TS),
        "t_out": pa.array(origin + t_out[perm] * 1_000_000, type=pa.int64()).cast(schema.UTC_TS),
    }, schema=schema.PRESENCE)
