"""Daily routines as presence records, on a stand-in city of 20,000."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest

from fangkong.synth import schema
from fangkong.synth.population import US_PER_DAY, CityLike, Population, day_start
from fangkong.synth.presence import Routines
from tests.synth.conftest import table_hash

MONDAY = date(2021, 1, 4)
SUNDAY = date(2021, 1, 10)
WEEK = [date(2021, 1, 4) + timedelta(days=k) for k in range(7)]


@pytest.fixture(scope="module")
def city(sim_city: CityLike) -> CityLike:
    return sim_city


@pytest.fixture(scope="module")
def population(city: CityLike) -> Population:
    return Population.from_city(city)


@pytest.fixture(scope="module")
def routines(city: CityLike) -> Routines:
    return Routines.assign(city, seed=11)


@pytest.fixture(scope="module")
def week(routines: Routines) -> dict[date, pa.Table]:
    return {day: routines.day(day) for day in WEEK}


def test_the_same_seed_and_day_give_the_same_records(city: CityLike, week: dict[date, pa.Table]) -> None:
    again = Routines.assign(city, seed=11)
    # A day depends on (seed, day) only, not on the days drawn before it.
    assert table_hash(again.day(SUNDAY)) == table_hash(week[SUNDAY])
    assert table_hash(again.day(MONDAY)) == table_hash(week[MONDAY])
    assert table_hash(Routines.assign(city, seed=12).day(MONDAY)) != table_hash(week[MONDAY])
    assert table_hash(week[MONDAY]) != table_hash(week[MONDAY + timedelta(days=1)])


def test_records_have_the_presence_schema_and_known_ids(city: CityLike,
                                                        week: dict[date, pa.Table]) -> None:
    for table in week.values():
        assert table.schema == schema.PRESENCE
        assert table.num_rows > 0
        assert all(table.column(c).null_count == 0 for c in table.column_names)
    table = week[MONDAY]
    assert np.isin(table.column("person_id").to_numpy(), city.persons.column("person_id").to_numpy()).all()
    assert np.isin(table.column("place_id").to_numpy(), city.places.column("place_id").to_numpy()).all()


def test_records_are_sorted_by_place_then_time(week: dict[date, pa.Table]) -> None:
    for table in week.values():
        place = table.column("place_id").to_numpy()
        t_in = table.column("t_in").cast(pa.int64()).to_numpy()
        assert (np.diff(place) >= 0).all()
        same_place = np.diff(place) == 0
        assert (np.diff(t_in)[same_place] >= 0).all()


def test_every_visit_lasts_and_lies_within_its_local_day(week: dict[date, pa.Table]) -> None:
    for day, table in week.items():
        t_in = table.column("t_in").cast(pa.int64()).to_numpy()
        t_out = table.column("t_out").cast(pa.int64()).to_numpy()
        minutes = (t_out - t_in) / 60e6
        assert minutes.min() >= 3
        assert minutes.max() <= 10 * 60
        # Local midnight to midnight (Asia/Shanghai, UTC+8), and nobody out between 23:00 and 05:00.
        assert t_in.min() >= day_start(day) + 5 * 3600 * 10**6
        assert t_out.max() <= day_start(day) + US_PER_DAY - 3600 * 10**6


def test_nobody_is_in_two_places_at_once(week: dict[date, pa.Table]) -> None:
    for table in week.values():
        by_person = table.sort_by([("person_id", "ascending"), ("t_in", "ascending")])
        person = by_person.column("person_id").to_numpy()
        t_in = by_person.column("t_in").cast(pa.int64()).to_numpy()
        t_out = by_person.column("t_out").cast(pa.int64()).to_numpy()
        same = person[1:] == person[:-1]
        assert (t_in[1:][same] >= t_out[:-1][same]).all()


def test_a_person_has_several_records_a_day(city: CityLike, week: dict[date, pa.Table]) -> None:
    n = city.persons.num_rows
    for table in week.values():
        counts = np.bincount(table.column("person_id").to_numpy(), minlength=n + 1)[1:]
        assert 2.0 <= counts.mean() <= 5.0
        assert counts.max() <= 15
        assert (counts == 0).mean() < 0.25


def test_workers_go_to_work_on_weekdays_and_pupils_to_school(week: dict[date, pa.Table],
                                                              population: Population) -> None:
    def visitors(table: pa.Table, category: str) -> np.ndarray:
        place = population.places.index(table.column("place_id").to_numpy())
        rows = population.place_category[place] == schema.PLACE_CATEGORIES.index(category)
        return np.asarray(population.persons.index(table.column("person_id").to_numpy()[rows]))

    monday, sunday = week[MONDAY], week[SUNDAY]
    at_work = np.unique(visitors(monday, "workplace"))
    assert 0.25 < len(at_work) / len(population.age) < 0.5
    assert len(np.unique(visitors(sunday, "workplace"))) < 0.3 * len(at_work)
    assert ((population.age[at_work] >= 18) & (population.age[at_work] < 65)).all()
    pupils = visitors(monday, "school")
    infants = visitors(monday, "kindergarten")
    # Teachers are adults at school too; the children are there by age.
    assert ((population.age[pupils] >= 6) & (population.age[pupils] < 18)).mean() > 0.8
    assert ((population.age[infants] >= 3) & (population.age[infants] < 6)).mean() > 0.8
    assert len(visitors(sunday, "school")) < 0.1 * len(pupils)


def test_older_people_go_to_gatherings_more_often(week: dict[date, pa.Table], population: Population) -> None:
    table = pa.concat_tables(week.values())
    place = population.places.index(table.column("place_id").to_numpy())
    person = population.persons.index(table.column("person_id").to_numpy())
    at_gathering = person[population.place_category[place] == schema.PLACE_CATEGORIES.index("gathering")]
    old = population.age >= 60
    per_old = old[at_gathering].sum() / old.sum()
    per_young = (~old[at_gathering]).sum() / (~old).sum()
    assert per_old > 3 * per_young


def test_market_popularity_is_heavy_tailed(week: dict[date, pa.Table], population: Population) -> None:
    if population.place_capacity is not None:
        pytest.skip("the city gives each market its pull: see the next test")
    table = pa.concat_tables(week.values())
    place = population.places.index(table.column("place_id").to_numpy())
    person = population.persons.index(table.column("person_id").to_numpy())
    markets = population.places_of("market")
    visits = np.bincount(place, minlength=len(population.places))[markets]
    assert visits.max() > 4 * np.median(visits)
    assert visits.max() > 0.15 * visits.sum()
    # The vegetable wholesale market (批发) draws its own district and, more than any other market, the rest.
    wholesale = markets[["批发" in population.place_name[m] for m in markets]]
    assert len(wholesale) == 1
    district = population.place_district[wholesale[0]]
    rivals = markets[population.place_district[markets] == district]
    assert visits[np.searchsorted(markets, wholesale[0])] == visits[np.isin(markets, rivals)].max()
    from_afar = np.bincount(place[population.district[person] != population.place_district[place]],
                            minlength=len(population.places))[markets]
    assert from_afar.argmax() == np.searchsorted(markets, wholesale[0])


def test_places_draw_visits_in_proportion_to_the_city_s_sizes(week: dict[date, pa.Table],
                                                               population: Population) -> None:
    if population.place_capacity is None:
        pytest.skip("a city without sizes: weights are drawn by presence itself")
    table = pa.concat_tables(week.values())
    visits = np.bincount(population.places.index(table.column("place_id").to_numpy()), minlength=len(population.places))
    for category in ("market", "supermarket", "restaurant", "workplace", "school", "bus"):
        places = population.places_of(category)
        assert np.corrcoef(visits[places], population.place_capacity[places])[0, 1] > 0.8, category


def test_bus_rides_are_short_and_vehicles_carry_many(week: dict[date, pa.Table], population: Population) -> None:
    table = week[MONDAY]
    place = population.places.index(table.column("place_id").to_numpy())
    rides = population.place_category[place] == schema.PLACE_CATEGORIES.index("bus")
    minutes = (table.column("t_out").cast(pa.int64()).to_numpy()
               - table.column("t_in").cast(pa.int64()).to_numpy())[rides] / 60e6
    assert 0.03 < rides.mean() < 0.25
    assert minutes.max() <= 71
    assert 10 < np.median(minutes) < 35
    assert np.bincount(place[rides]).max() > 100
