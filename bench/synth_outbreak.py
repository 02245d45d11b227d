"""Presence and outbreak at full size: seconds per simulated day, presence rows per second, peak memory,
and the outbreak's calibration (infections by day 16, share aged 60+, settings).

    PYTHONPATH=src:. python bench/synth_outbreak.py [--population 1800000] [--days 16] [--seeds 1,2,3]

Builds the tonghua-2021 city (``--stand-in`` for the tests' stand-in city instead), then runs
``Routines.day`` and ``Outbreak.step`` day by day as ``simulate`` does, timing each apart. Nothing
is written: the writer's cost is measured by the dataset benchmark.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter
from datetime import timedelta

import numpy as np
import pyarrow as pa

from fangkong.synth import schema
from fangkong.synth.city import build_city
from fangkong.synth.outbreak import Outbreak, OutbreakParams
from fangkong.synth.population import Population
from fangkong.synth.presence import Routines
from fangkong.synth.scenario import get_scenario


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--population", type=int, default=1_800_000)
    parser.add_argument("--days", type=int, default=16)
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--city-seed", type=int, default=1)
    parser.add_argument("--stand-in", action="store_true", help="the tests' stand-in city instead of the generator")
    args = parser.parse_args()

    t = time.perf_counter()
    if args.stand_in:
        from tests.synth import fake_city
        city = fake_city.build(args.population, seed=args.city_seed)
    else:
        city = build_city(get_scenario("tonghua-2021"), population=args.population, seed=args.city_seed)
    print(f"city: {city.persons.num_rows:,} persons, {city.places.num_rows:,} places in "
          f"{time.perf_counter() - t:.1f} s")
    categories = np.array(schema.PLACE_CATEGORIES)

    for seed in (int(s) for s in args.seeds.split(",")):
        t = time.perf_counter()
        routines = Routines.assign(city, seed=seed)
        outbreak = Outbreak(city, OutbreakParams(), seed=seed, population=routines.population)
        setup = time.perf_counter() - t
        day_s, step_s, rows = [], [], 0
        for k in range(args.days):
            day = city.scenario.start + timedelta(days=k)
            t = time.perf_counter()
            presence = routines.day(day)
            day_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            presence = outbreak.step(day, presence)
            step_s.append(time.perf_counter() - t)
            rows += presence.num_rows
        infections = outbreak.infections()
        total = setup + sum(day_s) + sum(step_s)
        print(f"seed {seed}: assign {setup:.1f} s; Routines.day {np.mean(day_s):.2f} s/day (max {max(day_s):.2f}), "
              f"Outbreak.step {np.mean(step_s):.2f} s/day (max {max(step_s):.2f}); {rows:,} presence rows, "
              f"{rows / total:,.0f} rows/s, {rows / args.days / city.persons.num_rows:.2f} a person a day; "
              f"peak {peak_gib():.2f} GiB")
        report(routines.population, infections, categories)


def report(population: Population, infections: pa.Table, categories: np.ndarray) -> None:
    who = population.persons.index(infections.column("infectee_id").to_numpy())
    index = infections.column("infectee_id")[0].as_py()
    place = infections.column("place_id").to_numpy(zero_copy_only=False)
    at_home = np.isnan(place)
    setting = np.full(len(place), "home", dtype=object)
    setting[~at_home] = categories[population.place_category[population.places.index(place[~at_home].astype(np.int64))]]
    setting[0] = "index (outside)"
    by_index = int((infections.column("infector_id").to_numpy(zero_copy_only=False) == index).sum())
    print(f"  {infections.num_rows} infections; aged 60+: {(population.age[who] >= 60).mean():.0%}; "
          f"infected by the index case: {by_index}; asymptomatic: "
          f"{infections.column('asymptomatic').to_numpy(zero_copy_only=False).mean():.0%}")
    print("  by setting: " + ", ".join(f"{k} {v}" for k, v in Counter(setting.tolist()).most_common()))


if __name__ == "__main__":
    main()
