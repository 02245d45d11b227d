"""Importing a lab's result file of a million rows, against a bare COPY of the same file.

Builds a fresh database (the application's migrations, the demo city's tree, labs and users),
bulk-loads persons in households in 东昌区, opens a city-wide round and loads N tubes of 10 sent to
东昌区's lab (code ``LAB220502``); the tubes that will come back positive, inconclusive or invalid
hold their 10 samples, so that the pool loop (temporary control, re-sampling orders, events) runs
for every one of them. Then it writes a result file in the standard template (CSV, UTF-8, Chinese
headers 管号,检测结果,检测时间,检测机构,Ct值: a row per tube, in random order) and times, in the same
run:

* on PostgreSQL, a bare ``COPY t FROM STDIN (FORMAT csv, HEADER)`` of the file's bytes through
  psycopg into an empty table without indexes (typed columns: text, text, timestamp, text,
  double), committed; three times before the imports and three times after, the median is the
  baseline;
* ``testing.results.import_results(session, data, filename)``, committed (the session's unit of
  work, ``core.db.finish``), in a session bound to the system principal, as a lab goes:
  - the file with ``--bad-rows`` bad rows (unknown tubes, unknown result words, Ct values out of
    range): every bad row reported, nothing written (the counts after it show it);
  - the corrected file: reading and checking it (while the recent tubes are read), matching it
    with them, storing it at once (the primary key checks for results on file), the pool loop with
    every module's reactions loaded, as in the application (the command module's positive-pool
    template makes three tasks per positive or inconclusive pool);
  - the same file again (recognised by its hash: a no-op);
  - the same rows saved again with other line ends (another hash: its first rows are found on
    file, so it is checked row by row; nothing to store);
* then, with the results and reactions deleted, the bad file and the good file again in a session
  bound to the demo ``lab`` account (a lab user bound to its facility, whose scope the import
  applies).

It prints each time, its ratio to the bare COPY (the issue's target: at most 3), what the database
holds afterwards, and where the time went between the importer's progress steps. Beside each time,
the processor time of the session's PostgreSQL backend (read from ``/proc``, so with the server on
this machine) and of this process: the server's share is work the import's one connection must wait
for, whatever the Python side does meanwhile, so its ratio to the bare COPY is as low as the
import's ratio can go. On SQLite there is no COPY; the import is timed in rows/s.

The fixture (see ``testing_city``) is written through the driver, not the ORM.

    python bench/testing_import.py --db postgresql --rows 1000000
    python bench/testing_import.py --db sqlite --rows 1000000
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import testing_city as city
from people_search import principal
from sqlalchemy import Engine, func, select, text

from fangkong import wiring
from fangkong.command.models import Task
from fangkong.core.db import finish, session_factory, writing
from fangkong.core.errors import Invalid
from fangkong.core.events import EventRecord
from fangkong.core.scope import Principal
from fangkong.testing import results
from fangkong.testing.models import Control, OrderMember, ResampleOrder, ResultImport, TubeResult

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/fangkong_bench_testing"
DISTRICT = "220502"  # 东昌区: its lab imports the file
LAB_USER = "lab"  # demo user bound to 东昌区疾控中心实验室 (LAB220502)
POOL = 10
HEADER = "管号,检测结果,检测时间,检测机构,Ct值"
WORDS = {"negative": "阴性", "positive": "阳性", "invalid": "无效", "inconclusive": "可疑"}
BEIJING = timedelta(hours=8)
COPY_REPEAT = 3
# Rows the import writes, and the tables its reactions write to (deleted between two timed imports).
REACTION_TABLES = ("responsibilities", "tasks", "template_runs", "resample_order_members", "resample_orders",
                   "testing_controls", "tube_results", "result_imports")


# ---------------------------------------------------------------- fixture


@dataclass
class Fixture:
    round_id: int
    lab_code: str
    codes: np.ndarray  # tube codes, by tube id - 1
    outcome: np.ndarray  # the result each tube will get
    tested_at: np.ndarray  # seconds since the epoch (UTC)
    persons: int
    communities: int
    sampled: int
    seconds: float


def load_fixture(engine: Engine, n_tubes: int, persons: int, community_size: int, *, positive: float,
                 inconclusive: float, invalid: float, seed: int) -> Fixture:
    """Persons of 东昌区, a round, N tubes sent to its lab; samples in the tubes that will react."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed + 3)
    sqlite = engine.dialect.name == "sqlite"
    every = city.add_communities(engine, persons * 7, community_size)  # 东昌区 is about a seventh of the city
    codes = [c for c in every if c.startswith(DISTRICT)]
    people = city.load_people(engine, persons, codes, seed=seed)
    testing = city.open_round(engine, codes)
    lab_id = testing.labs[DISTRICT]
    now = datetime.now(UTC).timestamp()
    opened = now - 14 * 3600 + rng.uniform(0, 8 * 3600, n_tubes)
    tube_ids = np.arange(1, n_tubes + 1)
    tube_community = rng.integers(0, len(codes), n_tubes)
    tube_codes = np.char.add("2205", np.char.zfill(tube_ids.astype(str), 10))
    draw = rng.random(n_tubes)
    outcome = np.where(draw < positive, "positive", np.where(
        draw < positive + inconclusive, "inconclusive", np.where(
            draw < positive + inconclusive + invalid, "invalid", "negative")))
    tubes = city.tube_rows(tube_ids, pa.array(tube_codes), tube_community, people, testing,
                           np.full(n_tubes, POOL), opened, pool_size=POOL, sent=True)
    # The reacting tubes hold 10 persons of their community each (nobody twice).
    reacting = np.flatnonzero(outcome != "negative")
    person: list[np.ndarray] = []
    tube_of: list[np.ndarray] = []
    free = {c: list(rng.permutation(people.in_community(code))) for c, code in enumerate(codes)}
    for t in reacting:
        members, free[tube_community[t]] = free[tube_community[t]][:POOL], free[tube_community[t]][POOL:]
        if len(members) < POOL:
            raise SystemExit("not enough persons for the reacting tubes: load more (--persons)")
        person.append(np.array(members))
        tube_of.append(np.full(POOL, t))
    sample_person = np.concatenate(person) if person else np.empty(0, dtype=np.int64)
    sample_tube = np.concatenate(tube_of) if tube_of else np.empty(0, dtype=np.int64)
    samples = city.sample_rows(1, sample_person, tube_ids[sample_tube], tube_community[sample_tube], people,
                               testing, opened[sample_tube] + np.tile(np.arange(POOL) * 20.0, len(reacting)),
                               recorded_by=None)
    with city.indexes_dropped(engine, ("tubes", "samples")), city.raw_load(engine) as dbapi:
        city.write_rows(dbapi, sqlite, "tubes", tubes)
        city.write_rows(dbapi, sqlite, "samples", samples)
    city.reset_sequences(engine, ("tubes", "samples"))
    city.vacuum_analyze(engine, ("tubes", "samples"))
    tested_at = opened + 4 * 3600 + rng.uniform(0, 3600, n_tubes)  # an hour ago at the latest
    return Fixture(testing.round_id, testing.lab_codes[lab_id], tube_codes, outcome, tested_at, persons,
                   len(codes), len(sample_person), time.perf_counter() - t0)


def result_file(fixture: Fixture, seed: int, *, bad_rows: int = 0) -> tuple[bytes, dict[str, int]]:
    """The lab's file: a row per tube in random order, Beijing time, Ct values for the non-negative.

    With ``bad_rows``, that many rows are spoiled: unknown tubes, unknown result words, Ct values
    out of range, in equal shares.
    """
    rng = np.random.default_rng(seed + 5)
    n = len(fixture.codes)
    order = rng.permutation(n)
    outcome = fixture.outcome[order]
    words = np.array([WORDS[o] for o in ("negative", "positive", "invalid", "inconclusive")])
    index = np.select([outcome == "positive", outcome == "invalid", outcome == "inconclusive"], [1, 2, 3], 0)
    local = (fixture.tested_at[order] + BEIJING.total_seconds()).astype("int64").astype("datetime64[s]")
    ct = np.where(np.isin(outcome, ("positive", "inconclusive")), np.round(rng.uniform(22, 38, n), 2), np.nan)
    codes = fixture.codes[order].astype(object)
    result = words[index].astype(object)
    ct_text = np.where(np.isnan(ct), "", np.char.mod("%.2f", ct)).astype(object)
    spoiled = {"unknown tube": 0, "unknown result": 0, "Ct out of range": 0}
    if bad_rows:
        bad = rng.choice(n, size=bad_rows, replace=False)
        for k, (kind, rows) in enumerate(zip(spoiled, np.array_split(bad, 3), strict=True)):
            spoiled[kind] = len(rows)
            if k == 0:
                codes[rows] = [f"9999{i:010d}" for i in range(len(rows))]
            elif k == 1:
                result[rows] = "阴"
            else:
                ct_text[rows] = "75"
    table = pa.table({
        "管号": pa.array(codes, pa.string()),
        "检测结果": pa.array(result, pa.string()),
        "检测时间": pc.strftime(pa.array(local), "%Y-%m-%d %H:%M:%S"),
        "检测机构": pa.array([fixture.lab_code] * n, pa.string()),
        "Ct值": pa.array(ct_text, pa.string()),
    })
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return (HEADER + "\n").encode() + buffer.getvalue(), spoiled


# ---------------------------------------------------------------- measurement


def backend_cpu(pid: int | None) -> float | None:
    """Processor seconds (user and system) a PostgreSQL backend process of this machine has used so far;
    None when its /proc entry cannot be read (a server elsewhere, or another user's process)."""
    if pid is None:
        return None
    try:
        # The fields after the command name's closing parenthesis start with the third, the state.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spent(before: float | None, pid: int | None) -> float | None:
    """The backend's processor seconds since ``before``."""
    after = backend_cpu(pid)
    return after - before if after is not None and before is not None else None


@dataclass
class Copied:
    seconds: float
    server_cpu: float | None  # the backend's processor time


def bare_copy(engine: Engine, data: bytes) -> Copied:
    """Time a COPY of the file's bytes into an empty table without indexes, committed."""
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        pid = dbapi.info.backend_pid
        dbapi.execute("DROP TABLE IF EXISTS bench_bare_copy")
        dbapi.execute("CREATE TABLE bench_bare_copy (tube_code text, result text, tested_at timestamp, "
                      "lab_code text, ct_value double precision)")
        dbapi.commit()
        cpu = backend_cpu(pid)
        t0 = time.perf_counter()
        with dbapi.cursor() as cursor, cursor.copy("COPY bench_bare_copy FROM STDIN (FORMAT csv, HEADER)") as copy:
            view = memoryview(data)
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start:start + (1 << 20)])
        dbapi.commit()
        seconds = time.perf_counter() - t0
        server = spent(cpu, pid)
        rows = dbapi.execute("SELECT count(*) FROM bench_bare_copy").fetchone()[0]
        assert rows == data.count(b"\n") - 1, rows
        dbapi.execute("DROP TABLE bench_bare_copy")
        dbapi.commit()
        return Copied(seconds, server)
    finally:
        raw.close()


@dataclass
class Imported:
    seconds: float
    outcome: str
    written: dict[str, int]
    # The importer's progress steps, with the seconds each took and the backend's processor time in it.
    phases: list[tuple[str, float, float | None]]
    client_cpu: float  # processor time of this process, all its threads
    server_cpu: float | None  # processor time of the session's PostgreSQL backend


# The importer's progress messages, and what lies between one and the next.
# A good file is checked against the tubes by storing it at once; a file the database refuses is then
# checked row by row (and a file whose rows are all on file already, then stored).
PHASES = {"Checking the file": "read and check the file (the recent tubes read meanwhile)",
          "Checking against tubes on file": "match with the recent tubes (or stage the rows)",
          "Storing results": "store at once (or check against tubes and results)",
          "Done": "pool loop, audit (and store, after a check)",
          "refused, rolled back": "check against tubes and results, refuse"}


def written(engine: Engine) -> dict[str, int]:
    """Rows in the tables an import writes to."""
    with session_factory(engine)() as session:
        Principal.system().bind(session)
        counts = {}
        for label, model in (("results", TubeResult), ("controls", Control), ("orders", ResampleOrder),
                             ("order members", OrderMember), ("imports", ResultImport), ("tasks", Task)):
            counts[label] = session.execute(select(func.count()).select_from(model)).scalar_one()
        counts["events"] = session.execute(select(func.count()).select_from(EventRecord)
                                           .where(EventRecord.name.like("testing.%"))).scalar_one()
        return counts


def import_file(engine: Engine, who: Principal, data: bytes, filename: str,
                profiler: cProfile.Profile | None = None) -> Imported:
    """Time ``import_results`` in a session bound to ``who``, committed (rolled back when refused)."""
    factory = session_factory(writing(engine))
    marks: list[tuple[str, float, float | None]] = []
    with factory() as session:
        who.bind(session)
        connection = session.connection()
        postgresql = connection.dialect.name == "postgresql"
        pid = connection.connection.dbapi_connection.info.backend_pid if postgresql else None
        server = backend_cpu(pid)
        if profiler is not None:
            profiler.enable()
        client = time.process_time()
        t0 = time.perf_counter()
        try:
            record, again = results.import_results(
                session, data, filename, progress=lambda done, total, message: marks.append(
                    (message, time.perf_counter(), backend_cpu(pid))))
            finish(session, failed=False)
            marks.append(("commit", time.perf_counter(), backend_cpu(pid)))
            seconds = time.perf_counter() - t0
            outcome = (f"already imported (import {record.id})" if again else
                       f"import {record.id}: {record.rows:,} rows, {record.new_results:,} new results, "
                       f"{record.positives:,} positive pools and positives")
        except Invalid as exc:
            finish(session, failed=True)
            marks.append(("refused, rolled back", time.perf_counter(), backend_cpu(pid)))
            seconds = time.perf_counter() - t0
            rows = {e.row for e in exc.errors}
            kinds: dict[str, int] = {}
            for e in exc.errors:
                kinds[e.message] = kinds.get(e.message, 0) + 1
            outcome = (f"refused: {len(exc.errors):,} errors on {len(rows):,} rows ("
                       + "; ".join(f"{n:,} × {m}" for m, n in kinds.items()) + ")")
        finally:
            if profiler is not None:
                profiler.disable()
        client_cpu, server_cpu = time.process_time() - client, spent(server, pid)
    phases, last, last_cpu = [], t0, server
    for message, at, cpu in marks:
        phases.append((PHASES.get(message, message), at - last,
                       cpu - last_cpu if cpu is not None and last_cpu is not None else None))
        last_cpu = cpu
        last = at
    return Imported(seconds, outcome, written(engine), phases, client_cpu, server_cpu)


def forget_imports(engine: Engine) -> None:
    """Delete the results and reactions of the imports, so that the file applies afresh."""
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE samples SET once_key = 'r' || round_id || ':' || 'p' || person_id "
                             "WHERE once_key IS NULL")
        for table in REACTION_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DELETE FROM domain_events WHERE name LIKE 'testing.%' OR name LIKE 'command.%'"))
    city.vacuum_analyze(engine, REACTION_TABLES)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--rows", type=int, default=1_000_000, help="tubes, and rows of the file (default 1000000)")
    parser.add_argument("--persons", type=int, default=100_000, help="persons of 东昌区 to load (default 100000)")
    parser.add_argument("--community-size", type=int, default=7000, help="persons per community (default 7000)")
    parser.add_argument("--positive", type=float, default=0.001, help="share of positive pools (default 0.001)")
    parser.add_argument("--inconclusive", type=float, default=0.0002, help="share inconclusive (default 0.0002)")
    parser.add_argument("--invalid", type=float, default=0.0003, help="share invalid (default 0.0003)")
    parser.add_argument("--bad-rows", type=int, default=1000, help="bad rows in the refused file (default 1000)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"database to create and drop (default {DEFAULT_PG})")
    parser.add_argument("--profile", action="store_true", help="profile the system principal's import (cProfile)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (its URL is printed)")
    args = parser.parse_args(argv)

    # Every module's reactions, as in the application: a positive pool makes the command module's tasks.
    wiring.load_modules()
    clock = city.Stopwatch()
    print(f"testing_import: {args.db}, {args.rows:,} rows; load average at start {city.load_average()}", flush=True)
    url, engine = city.new_city(args.db, args.pg_url)
    try:
        fixture = load_fixture(engine, args.rows, args.persons, args.community_size, positive=args.positive,
                               inconclusive=args.inconclusive, invalid=args.invalid, seed=args.seed)
        data, _ = result_file(fixture, args.seed)
        bad, spoiled = result_file(fixture, args.seed, bad_rows=args.bad_rows)
        resaved = data.replace(b"\n", b"\r\n")  # as Excel on Windows saves it: the same rows, other bytes
        print(f"loaded in {clock():.0f} s; measuring …", flush=True)
        system, lab = Principal.system(), principal(engine, LAB_USER)
        copies = [bare_copy(engine, data) for _ in range(COPY_REPEAT)] if args.db == "postgresql" else []
        profiler = cProfile.Profile() if args.profile else None
        runs: list[tuple[str, Imported]] = []

        def run(label: str, who: Principal, payload: bytes, name: str, prof: cProfile.Profile | None = None) -> None:
            runs.append((label, import_file(engine, who, payload, name, prof)))
            print(f"  {label}: {runs[-1][1].seconds:.2f} s", flush=True)

        # As a lab goes: a file with mistakes, refused; the corrected file, applied; sent again.
        run(f"a file with {args.bad_rows:,} bad rows, system", system, bad, "results-bad.csv")
        run("import, system", system, data, "results.csv", profiler)
        run("the same file again, system", system, data, "results.csv")
        run("the same rows in a new file (re-saved: another hash), system", system, resaved, "results-2.csv")
        forget_imports(engine)
        run(f"a file with {args.bad_rows:,} bad rows, {LAB_USER} user", lab, bad, "results-bad.csv")
        run(f"import, {LAB_USER} user (bound to its lab)", lab, data, "results.csv")
        if args.db == "postgresql":
            copies += [bare_copy(engine, data) for _ in range(COPY_REPEAT)]
        report(engine, args, fixture, data, spoiled, copies, runs)
        if profiler is not None:
            print()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        print(f"\nload average at end {city.load_average()}; whole run {clock():.0f} s")
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept: {url}", file=sys.stderr)
        else:
            city.drop_database(args.db, url)


def report(engine: Engine, args: argparse.Namespace, fixture: Fixture, data: bytes, spoiled: dict[str, int],
           copies: list[Copied], runs: list[tuple[str, Imported]]) -> None:
    rows = len(fixture.codes)
    reacting = {o: int((fixture.outcome == o).sum()) for o in ("positive", "inconclusive", "invalid")}
    print()
    print(f"{'machine':>10}: {city.machine()}")
    print(f"{'database':>10}: {city.database_version(engine)}")
    print(f"{'file':>10}: {rows:,} rows, {len(data) / 2**20:.1f} MiB, sha256 {hashlib.sha256(data).hexdigest()[:16]}…; "
          + ", ".join(f"{v:,} {k}" for k, v in reacting.items()) + " tubes of 10")
    print(f"{'bad file':>10}: " + ", ".join(f"{v:,} {k}" for k, v in spoiled.items()))
    print(f"{'fixture':>10}: {fixture.persons:,} persons in {fixture.communities} communities of 东昌区, "
          f"{rows:,} tubes sent to {fixture.lab_code}, {fixture.sampled:,} samples in the reacting tubes "
          f"({fixture.seconds:.0f} s)")
    print()
    baseline = statistics.median(c.seconds for c in copies) if copies else None
    if baseline is not None:
        print("Bare COPY (FORMAT csv, HEADER) of the file into an empty table without indexes, committed: "
              + ", ".join(f"{c.seconds:.2f}" for c in copies) + f" s; median {baseline:.2f} s "
              f"({rows / baseline:,.0f} rows/s); the server's processor time in it: "
              + ", ".join(_seconds(c.server_cpu) for c in copies) + " s")
        print()
    # The server's processor time is work the import's one connection waits for, whatever Python does
    # meanwhile: its ratio to the bare COPY is as low as the import's own ratio can go.
    print("| run | s | rows/s | × bare COPY | server CPU s | × bare COPY | client CPU s | outcome "
          "| in the database after |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for label, r in runs:
        ratio = f"{r.seconds / baseline:.2f}" if baseline else "–"
        server_ratio = f"{r.server_cpu / baseline:.2f}" if baseline and r.server_cpu is not None else "–"
        after = ", ".join(f"{k} {v:,}" for k, v in r.written.items())
        print(f"| {label} | {r.seconds:.2f} | {rows / r.seconds:,.0f} | {ratio} | {_seconds(r.server_cpu)} | "
              f"{server_ratio} | {r.client_cpu:.2f} | {r.outcome} | {after} |")
    print()
    print("Where the time went, between the importer's progress steps (s, and the backend's processor time):")
    for label, r in runs:
        if len(r.phases) > 1:
            print(f"  {label}: " + "; ".join(f"{name} {s:.2f}" + (f" (server CPU {cpu:.2f})" if cpu is not None else "")
                                             for name, s, cpu in r.phases))


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
