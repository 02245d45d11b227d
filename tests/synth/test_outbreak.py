"""The outbreak on a stand-in city of 20,000 over 16 days: its ground truth against the presence it wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fangkong.synth import schema
from fangkong.synth.outbreak import OutbreakParams, simulate
from fangkong.synth.population import US_PER_DAY, US_PER_HOUR, CityLike, Population, day_start
from tests.synth.conftest import table_hash

DAYS = 16
PARAMS = OutbreakParams()


@dataclass
class Run:
    city: CityLike
    population: Population
    infections: pa.Table
    presence: dict[date, pa.Table]

    def day_of(self, at: int) -> date:
        """The local day (Asia/Shanghai) of a UTC microsecond time."""
        start = self.city.scenario.start
        return start + timedelta(days=int((at - day_start(start)) // US_PER_DAY))

    def column(self, name: str) -> np.ndarray:
        column = self.infections.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        return np.asarray(column.to_numpy(zero_copy_only=False))

    def age(self, person_ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.population.age[self.population.persons.index(person_ids)])


def run(city: CityLike, seed: int) -> Run:
    presence: dict[date, pa.Table] = {}
    days_done: list[int] = []
    infections = simulate(city, days=DAYS, seed=seed, on_day=presence.__setitem__,
                          progress=lambda done, total: days_done.append(done))
    assert days_done == list(range(1, DAYS + 1))
    return Run(city, Population.from_city(city), infections, presence)


@pytest.fixture(scope="module")
def city(sim_city: CityLike) -> CityLike:
    return sim_city


@pytest.fixture(scope="module")
def outbreak(city: CityLike) -> Run:
    return run(city, seed=2021)


def visits(table: pa.Table, person: int, place: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(place, t_in, t_out) of one person's records in a day's presence (at one place if given)."""
    rows = table.column("person_id").to_numpy() == person
    if place is not None:
        rows &= table.column("place_id").to_numpy() == place
    return (table.column("place_id").to_numpy()[rows], table.column("t_in").cast(pa.int64()).to_numpy()[rows],
            table.column("t_out").cast(pa.int64()).to_numpy()[rows])


def test_the_same_seed_gives_the_same_ground_truth_and_presence(city: CityLike, outbreak: Run) -> None:
    again = run(city, seed=2021)
    assert table_hash(again.infections) == table_hash(outbreak.infections)
    assert [table_hash(t) for t in again.presence.values()] == [table_hash(t) for t in outbreak.presence.values()]
    assert table_hash(run(city, seed=2022).infections) != table_hash(outbreak.infections)


def test_files_have_their_schemas(outbreak: Run) -> None:
    assert outbreak.infections.schema == schema.INFECTIONS
    assert list(outbreak.presence) == [outbreak.city.scenario.start + timedelta(days=k) for k in range(DAYS)]
    for table in outbreak.presence.values():
        assert table.schema == schema.PRESENCE
        place = table.column("place_id").to_numpy()
        assert (np.diff(place) >= 0).all()
        assert (np.diff(table.column("t_in").cast(pa.int64()).to_numpy())[np.diff(place) == 0] >= 0).all()


def test_the_outbreak_spreads_beyond_the_index_case(outbreak: Run) -> None:
    infectee = outbreak.column("infectee_id")
    infector = outbreak.column("infector_id")
    assert len(np.unique(infectee)) == len(infectee)  # nobody is infected twice
    assert 100 <= len(infectee) <= 2_000
    index = infectee[0]
    assert (infector[1:] != index).sum() > 0.3 * len(infectee)  # later generations, not only the index's


def test_the_index_case_comes_from_outside_and_is_the_only_root(outbreak: Run) -> None:
    infections = outbreak.infections
    assert infections.column("infector_id").null_count == 1
    assert infections.column("infector_id")[0].as_py() is None
    assert infections.column("place_id")[0].as_py() is None
    index = outbreak.column("infectee_id")[0]
    assert outbreak.column("infected_at")[0] < day_start(outbreak.city.scenario.start)
    assert PARAMS.index_age[0] <= outbreak.age(np.array([index]))[0] <= PARAMS.index_age[1]
    person = outbreak.city.persons.filter(pc.equal(outbreak.city.persons.column("person_id"), index))
    assert person.column("community_code")[0].as_py().startswith(outbreak.city.scenario.worst_district)
    # Away before he arrives, isolated from the day he is found.
    for k, table in enumerate(outbreak.presence.values()):
        present = len(visits(table, index)[0]) > 0
        if k < PARAMS.index_arrival_day or k >= PARAMS.index_isolated_day:
            assert not present


def test_the_index_case_holds_gatherings_of_dozens_of_older_people(outbreak: Run) -> None:
    population = outbreak.population
    index = outbreak.column("infectee_id")[0]
    worst = outbreak.city.scenario.worst_district
    for k in PARAMS.gathering_days:
        table = outbreak.presence[outbreak.city.scenario.start + timedelta(days=k)]
        gatherings = 0
        for place, host_in, host_out in zip(*visits(table, index), strict=True):
            venue = population.places.index(np.array([place]))[0]
            if population.place_category[venue] != schema.PLACE_CATEGORIES.index("gathering"):
                continue
            at_venue = table.column("place_id").to_numpy() == place
            guest_in = table.column("t_in").cast(pa.int64()).to_numpy()[at_venue]
            guest_out = table.column("t_out").cast(pa.int64()).to_numpy()[at_venue]
            guests = table.column("person_id").to_numpy()[at_venue]
            with_him = (guest_in < host_out) & (guest_out > host_in) & (guests != index)
            old = outbreak.age(guests[with_him]) >= PARAMS.gathering_min_age
            if with_him.sum() < PARAMS.gathering_size[0] - 5 or not old.all():
                continue  # an errand of his own at a venue open to all, not his sales gathering
            gatherings += 1
            assert population.district_codes[population.place_district[venue]] == worst
            assert with_him.sum() <= PARAMS.gathering_size[1]
            minutes = (guest_out - guest_in)[with_him] / 60e6
            assert 45 <= np.median(minutes) <= 135
        assert gatherings == 1
    infector = outbreak.column("infector_id")
    assert (infector == index).sum() >= 20  # the sales gatherings seeded the outbreak


def test_every_infection_at_a_place_is_backed_by_presence(outbreak: Run) -> None:
    checked = 0
    for infectee, infector, place, at in zip(outbreak.column("infectee_id"), outbreak.column("infector_id"),
                                             outbreak.column("place_id"), outbreak.column("infected_at"), strict=True):
        if np.isnan(place):
            continue
        table = outbreak.presence[outbreak.day_of(at)]
        for person in (infector, infectee):  # both there, at that very moment
            _, t_in, t_out = visits(table, int(person), int(place))
            assert ((t_in <= at) & (at < t_out)).any()
        checked += 1
    assert checked > 20


def test_infectors_were_infectious_when_they_infected(outbreak: Run) -> None:
    infectee = outbreak.column("infectee_id")
    infected_at = outbreak.column("infected_at")
    onset = outbreak.infections.column("onset_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
    by_person = {int(p): k for k, p in enumerate(infectee)}
    start = day_start(outbreak.city.scenario.start)
    stay_home = 1 + PARAMS.stay_home_after_onset_days[1]  # whole days after the day of onset
    isolated = stay_home + PARAMS.isolated_after_stay_home_days[1]
    for k, (source, place) in enumerate(zip(outbreak.column("infector_id"), outbreak.column("place_id"),
                                            strict=True)):
        if k == 0:
            continue
        j = by_person[int(source)]  # the infector was infected before, and long enough ago
        at = infected_at[k]
        assert at >= infected_at[j] + PARAMS.min_latent_days * US_PER_DAY
        if j == 0:  # the index case: from his arrival until he is isolated
            assert start + PARAMS.index_arrival_day * US_PER_DAY <= at
            assert at < start + (PARAMS.index_isolated_day + 1) * US_PER_DAY
        elif not np.isnan(onset[j]):
            assert at >= onset[j] - PARAMS.presymptomatic_days * US_PER_DAY
            onset_day = start + (int(onset[j]) - start) // US_PER_DAY * US_PER_DAY
            last = stay_home if not np.isnan(place) else isolated + 1
            assert at < onset_day + last * US_PER_DAY


def test_household_infections_share_a_household(outbreak: Run) -> None:
    household = dict(zip(outbreak.city.persons.column("person_id").to_pylist(),
                         outbreak.city.persons.column("household_id").to_pylist(), strict=True))
    at_home = outbreak.infections.slice(1).filter(pc.is_null(outbreak.infections.slice(1).column("place_id")))
    assert at_home.num_rows > 10
    for row in at_home.to_pylist():
        assert household[row["infector_id"]] == household[row["infectee_id"]]
        # Evenings and nights at home, unless the infector's infectious day was elsewhere.
    hours = (at_home.column("infected_at").cast(pa.int64()).to_numpy() + 8 * US_PER_HOUR) % US_PER_DAY / US_PER_HOUR
    assert ((hours >= 20) | (hours < 6)).mean() > 0.8


def test_onset_severity_and_asymptomatic_agree(outbreak: Run) -> None:
    infections = outbreak.infections
    asymptomatic = outbreak.column("asymptomatic")
    onset = infections.column("onset_at")
    severity = np.array(infections.column("severity").to_pylist())
    assert (asymptomatic == onset.is_null().to_numpy(zero_copy_only=False)).all()
    assert (asymptomatic == (severity == "asymptomatic")).all()
    assert set(severity) <= set(schema.SEVERITIES)
    symptomatic = ~asymptomatic
    onset_us = onset.cast(pa.int64()).to_numpy(zero_copy_only=False)[symptomatic]
    assert (onset_us > outbreak.column("infected_at")[symptomatic]).all()
    incubation = (onset_us - outbreak.column("infected_at")[symptomatic]) / US_PER_DAY
    assert 3.5 < incubation.mean() < 6.5
    assert 0.1 < asymptomatic.mean() < 0.45
    # Severity rises with age: severe and critical cases are older than mild ones.
    age = outbreak.age(outbreak.column("infectee_id"))
    grave = np.isin(severity, ["severe", "critical"])
    assert grave.sum() > 0
    assert age[grave].mean() > age[severity == "mild"].mean()


def test_the_ill_stay_home(outbreak: Run) -> None:
    onset = outbreak.infections.column("onset_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
    start = day_start(outbreak.city.scenario.start)
    present = {day: set(table.column("person_id").to_pylist()) for day, table in outbreak.presence.items()}
    checked = 0
    for k, person in enumerate(outbreak.column("infectee_id")):
        if k == 0 or np.isnan(onset[k]):
            continue
        home_from = (int(onset[k]) - start) // US_PER_DAY + 1 + PARAMS.stay_home_after_onset_days[1]
        for d in range(home_from, DAYS):
            assert person not in present[outbreak.city.scenario.start + timedelta(days=d)]
            checked += 1
    assert checked > 0


def test_presence_written_by_the_outbreak_has_nobody_in_two_places(outbreak: Run) -> None:
    for table in outbreak.presence.values():
        by_person = table.sort_by([("person_id", "ascending"), ("t_in", "ascending")])
        person = by_person.column("person_id").to_numpy()
        t_in = by_person.column("t_in").cast(pa.int64()).to_numpy()
        t_out = by_person.column("t_out").cast(pa.int64()).to_numpy()
        same = person[1:] == person[:-1]
        assert (t_in[1:][same] >= t_out[:-1][same]).all()
        assert (t_out > t_in).all()


def test_older_people_are_most_of_the_cases(outbreak: Run) -> None:
    cases = outbreak.age(outbreak.column("infectee_id"))
    everyone = outbreak.population.age
    assert (cases >= 60).mean() > 0.5
    assert (cases >= 60).mean() > 1.8 * (everyone >= 60).mean()


def test_it_spreads_through_gatherings_and_households(outbreak: Run) -> None:
    population = outbreak.population
    place = outbreak.infections.column("place_id").to_numpy(zero_copy_only=False)[1:]
    at_home = np.isnan(place)
    category = np.array(schema.PLACE_CATEGORIES)[population.place_category[population.places.index(
        place[~at_home].astype(np.int64))]]
    gathering = (category == "gathering").sum()
    assert (gathering + at_home.sum()) / len(place) > 0.6
    assert at_home.sum() > 0.1 * len(place)
    assert len(set(category)) >= 3  # and some at other places too
