"""Coverage of a testing round over a city: the funnel per area and the door-to-door list.

Builds a fresh database (the application's migrations, the demo city's tree and users), bulk-loads
N persons in households, opens a city-wide round with a sampling site per community, and loads
the round as it stands late on its first day: most of the target sampled in 10-in-1 pools, most
tubes back from the labs, a few positive, inconclusive and invalid ones (the members of a positive or
inconclusive pool under temporary control, an invalid tube's samples voided). Then it times the
application's own service calls in sessions bound to demo users' principals, so every figure
includes the jurisdiction scoping:

* ``testing.coverage.coverage(session, round_)`` for the city, as the ``testing`` user (检测专班 of
  the city) opens the round's progress page, and for one district (东昌区);
* ``testing.coverage.untested(session, round_, community, page=1, size=100)``: the first page of the
  door-to-door list (and its total), as the community worker of 新站社区 opens it.

The fixture (see ``testing_city``) is written through the driver, not the ORM.

    python bench/testing_coverage.py --db postgresql --persons 1800000
    python bench/testing_coverage.py --db sqlite --persons 1800000
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import testing_city as city
from people_search import StatementClock, principal
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from fangkong.core.db import session_factory
from fangkong.core.scope import Principal
from fangkong.testing import coverage

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/fangkong_bench_testing"
TESTING, WORKER = "testing", "dongchang_worker"  # demo users: the city's testing staff, a community worker
DISTRICT, COMMUNITY = "220502", "220502001001"  # 东昌区, 新站社区 (the worker's)
POOL = 10
PAGE_SIZE = 100  # the door-to-door page's


@dataclass
class Loaded:
    persons: int
    communities: int
    households: int
    tubes: int
    samples: int
    results: int
    controls: int
    seconds: float
    maintenance: str


def load_round(engine: Engine, people: city.People, testing: city.Testing, *, sampled_share: float,
               resulted_share: float, seed: int) -> tuple[int, int, int, int]:
    """Samples, tubes, results and controls of the round; returns how many of each."""
    rng = np.random.default_rng(seed + 7)
    sqlite = engine.dialect.name == "sqlite"
    start = datetime.now(UTC).timestamp() - 20 * 3600
    sampled = people.at_home & (rng.random(len(people.ids)) < sampled_share)
    person = people.ids[sampled]
    community = people.community[sampled]
    shuffle = rng.permutation(len(person))  # the order persons came to the site
    person, community = person[shuffle], community[shuffle]
    tube, tube_community, filled = city.pools(person, community, POOL)
    n_tubes = len(filled)
    tube_ids = np.arange(1, n_tubes + 1)
    opened = start + rng.uniform(0, 14 * 3600, n_tubes)
    codes = pa.array(np.char.add("P", np.char.zfill(tube_ids.astype(str), 10)))
    tubes = city.tube_rows(tube_ids, codes, tube_community, people, testing, filled, opened, pool_size=POOL,
                           sent=True)
    # Position of each person in their tube, for the sampling time.
    order = np.argsort(tube, kind="stable")
    position = np.empty(len(tube), dtype=np.int64)
    position[order] = np.arange(len(tube)) - np.repeat(np.cumsum(filled) - filled, filled)
    sampled_at = opened[tube] + position * 20.0
    samples = city.sample_rows(1, person, tube_ids[tube], community, people, testing, sampled_at, recorded_by=None)

    # Results for a share of the tubes: mostly negative; a few positive, inconclusive and invalid.
    with_result = np.flatnonzero(rng.random(n_tubes) < resulted_share)
    draw = rng.random(len(with_result))
    outcome = np.where(draw < 0.001, "positive", np.where(draw < 0.0012, "inconclusive",
                                                          np.where(draw < 0.0017, "invalid", "negative")))
    lab = np.array([testing.labs[c[:6]] for c in people.codes])[tube_community[with_result]]
    results = pa.table({
        "tube_id": pa.array(tube_ids[with_result]),
        "outcome": pa.array(outcome),
        "tested_at": city.timestamps(opened[with_result] + 6 * 3600),
        "ct_value": pa.array(np.where(outcome == "negative", np.nan, rng.uniform(24, 38, len(with_result))),
                             from_pandas=True),
        "lab_id": pa.array(lab),
        "import_id": pa.nulls(len(with_result), pa.int64()),
        "recorded_at": city.timestamps(opened[with_result] + 6 * 3600 + 60),
        "jurisdiction_code": pa.array(np.array(people.codes, dtype=object)[tube_community[with_result]]),
    })
    # An invalid tube's samples no longer count (``service._react``); a positive or inconclusive
    # pool's members are under control, one of a positive pool's reported positive.
    tube_outcome = np.full(n_tubes, "", dtype=object)
    tube_outcome[with_result] = outcome
    per_sample = tube_outcome[tube]
    once_key = samples.column("once_key")
    samples = samples.set_column(samples.column_names.index("once_key"), "once_key",
                                 pc.if_else(pa.array(per_sample == "invalid"), pa.scalar(None, pa.string()), once_key))
    reacting = np.flatnonzero((per_sample == "positive") | (per_sample == "inconclusive"))
    first_in_tube = position[reacting] == 0
    state = np.where(first_in_tube & (per_sample[reacting] == "positive"), "case", "controlled")
    reason = np.where(per_sample[reacting] == "positive", "positive_pool", "inconclusive_pool")
    controls = pa.table({
        "id": pa.array(np.arange(1, len(reacting) + 1)),
        "round_id": city.constant(testing.round_id, len(reacting), pa.int64()),
        "person_id": pa.array(person[reacting]),
        "tube_id": pa.array(tube_ids[tube[reacting]]),
        "reason": pa.array(reason),
        "state": pa.array(state),
        "started_at": city.timestamps(opened[tube[reacting]] + 6 * 3600),
        "ended_at": pa.nulls(len(reacting), pa.timestamp("us", tz="UTC")),
        "jurisdiction_code": pa.array(np.array(people.codes, dtype=object)[community[reacting]]),
    })
    tables = ("tubes", "samples", "tube_results", "testing_controls")
    with city.indexes_dropped(engine, tables), city.raw_load(engine) as dbapi:
        city.write_rows(dbapi, sqlite, "tubes", tubes)
        city.write_rows(dbapi, sqlite, "samples", samples)
        city.write_rows(dbapi, sqlite, "tube_results", results)
        city.write_rows(dbapi, sqlite, "testing_controls", controls)
    city.reset_sequences(engine, ("tubes", "samples", "testing_controls"))
    return n_tubes, len(person), len(with_result), len(reacting)


# ---------------------------------------------------------------- measurement


@dataclass
class Figure:
    operation: str
    principal: str
    times_ms: list[float]
    statements: list[tuple[str, float]]  # the slowest statements of the last repetition
    answer: str

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def timed(engine: Engine, who: Principal, clock: StatementClock, repeat: int,
          call: Callable[[Session], str]) -> tuple[list[float], list[tuple[str, float]], str]:
    """Run ``call(session)`` once to warm up, then ``repeat`` times, each in a fresh session bound to
    ``who``; time the call alone."""
    factory = session_factory(engine)
    times: list[float] = []
    answer = ""
    for rep in range(-1, repeat):
        with factory() as session:
            who.bind(session)
            clock.durations.clear()
            t0 = time.perf_counter()
            answer = call(session)
            elapsed = (time.perf_counter() - t0) * 1000
            session.rollback()
        if rep >= 0:
            times.append(elapsed)
    return times, sorted(clock.durations, key=lambda d: -d[1])[:3], answer


def measure(engine: Engine, round_id: int, repeat: int) -> list[Figure]:
    clock = StatementClock(engine)
    testing_staff, worker = principal(engine, TESTING), principal(engine, WORKER)
    round_ = city.get_round(engine, round_id)
    figures = []

    def funnel(under: str | None) -> Callable[[Session], str]:
        def call(session: Session) -> str:
            r = session.merge(round_, load=False)
            c = coverage.coverage(session, r, under)
            t = c.total
            return (f"target {t.target:,}, sampled {t.sampled:,}, resulted {t.resulted:,}, controlled "
                    f"{t.controlled:,}, positives {t.positives:,}, positive pools {c.positive_pools:,}; "
                    f"{len(c.children)} child areas")
        return call

    def untested(session: Session) -> str:
        r = session.merge(round_, load=False)
        page = coverage.untested(session, r, COMMUNITY, page=1, size=PAGE_SIZE)
        first = page.items[0] if page.items else None
        where = f"; first: {first.compound} {first.building}栋{first.unit}单元{first.door}" if first else ""
        return f"{len(page.items)} on the page of {page.total:,}{where}"

    for operation, who, call in (
            ("coverage(round), the city (2205)", testing_staff, funnel(None)),
            (f"coverage(round, {DISTRICT}), one district", testing_staff, funnel(DISTRICT)),
            (f"untested(round, {COMMUNITY}), page 1 of {PAGE_SIZE}", worker, untested)):
        times, statements, answer = timed(engine, who, clock, repeat, call)
        figures.append(Figure(operation, who.username, times, statements, answer))
        print(f"  {operation}: median {statistics.median(times):,.0f} ms", flush=True)
    return figures


def explain(engine: Engine, round_id: int) -> None:
    """The plan of each statement the three calls run (``--explain``)."""
    clock = StatementClock(engine)
    round_ = city.get_round(engine, round_id)
    sqlite = engine.dialect.name == "sqlite"
    for username, call in ((TESTING, lambda s, r: coverage.coverage(s, r)),
                           (WORKER, lambda s, r: coverage.untested(s, r, COMMUNITY, page=1, size=PAGE_SIZE))):
        who = principal(engine, username)
        with session_factory(engine)() as session:
            who.bind(session)
            clock.statements.clear()
            call(session, session.merge(round_, load=False))
            captured = list(clock.statements)
        for sql, params in captured:
            if "count(" not in sql.lower() and "ORDER BY" not in sql:
                continue
            with engine.connect() as conn:
                if sqlite:
                    plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
                else:
                    plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN ANALYZE " + sql, params)]
            print(f"\n{username}: {' '.join(sql.split())[:300]}")
            print("  " + "\n  ".join(plan))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--persons", type=int, default=1_800_000, help="persons to load (default 1800000)")
    parser.add_argument("--community-size", type=int, default=7000,
                        help="persons per community; the demo's streets get more communities to hold them "
                             "(default 7000; 0 keeps the demo's 27)")
    parser.add_argument("--sampled", type=float, default=0.9, help="share of the target sampled (default 0.9)")
    parser.add_argument("--resulted", type=float, default=0.8 / 0.9,
                        help="share of the tubes with a result (default 0.8/0.9: 80%% of the target)")
    parser.add_argument("--repeat", type=int, default=10, help="timed repetitions per call (default 10)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"database to create and drop (default {DEFAULT_PG})")
    parser.add_argument("--explain", action="store_true", help="also print the plans of the statements")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (its URL is printed)")
    args = parser.parse_args(argv)

    clock = city.Stopwatch()
    print(f"testing_coverage: {args.db}, {args.persons:,} persons, {args.sampled:.0%} sampled, "
          f"{args.repeat} repetitions; load average at start {city.load_average()}", flush=True)
    url, engine = city.new_city(args.db, args.pg_url)
    try:
        t0 = time.perf_counter()
        codes = city.add_communities(engine, args.persons, args.community_size)
        people = city.load_people(engine, args.persons, codes, seed=args.seed)
        testing = city.open_round(engine, codes)
        tubes, samples, results, controls = load_round(engine, people, testing, sampled_share=args.sampled,
                                                       resulted_share=args.resulted, seed=args.seed)
        maintenance = city.vacuum_analyze(engine, ("tubes", "samples", "tube_results", "testing_controls"))
        loaded = Loaded(args.persons, len(codes), people.households, tubes, samples, results, controls,
                        time.perf_counter() - t0, maintenance)
        print(f"loaded in {clock():.0f} s; measuring …", flush=True)
        figures = measure(engine, testing.round_id, args.repeat)
        report(engine, loaded, figures, args)
        if args.explain:
            explain(engine, testing.round_id)
        print(f"\nload average at end {city.load_average()}; whole run {clock():.0f} s")
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept: {url}", file=sys.stderr)
        else:
            city.drop_database(args.db, url)


def report(engine: Engine, loaded: Loaded, figures: list[Figure], args: argparse.Namespace) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            mib = {t: conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one() / 2**20
                   for t in ("persons", "samples", "tubes", "tube_results")}
            sizes = ", ".join(f"{t} {m:,.0f} MiB" for t, m in mib.items()) + " (with indexes)"
        else:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            sizes = f"database file {pages * size / 2**20:,.0f} MiB"
    print()
    print(f"{'machine':>12}: {city.machine()}")
    print(f"{'database':>12}: {city.database_version(engine)}")
    print(f"{'sizes':>12}: {sizes}")
    print()
    print(f"Fixture (through the driver, {loaded.seconds:.0f} s): {loaded.persons:,} persons in {loaded.households:,} "
          f"households, {loaded.communities} communities; {loaded.samples:,} samples in {loaded.tubes:,} tubes of "
          f"{POOL}; {loaded.results:,} tubes with a result; {loaded.controls:,} persons under control or positive.")
    print(f"Then: {loaded.maintenance}.")
    print()
    print(f"Service calls, warm, {args.repeat} repetitions each (one untimed warm-up), each in a fresh session with "
          "the demo user's principal bound; 'ms' is the whole call.")
    print()
    print("| call | principal | median ms | p95 ms | answer |")
    print("|---|---|---:|---:|---|")
    for f in figures:
        print(f"| {f.operation} | {f.principal} | {f.median:,.0f} | {f.p95:,.0f} | {f.answer} |")


if __name__ == "__main__":
    main()
