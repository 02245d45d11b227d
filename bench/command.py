"""The command lists at a province's scale: a district's task list by status, and the assessment of every unit.

Builds a fresh database (the application's migrations, the demo city's tree, users and command
organisation), sets up units and task forces across the city and bulk-loads N tasks (with their
responsibilities, directives and escalations) and M problems (with measures and rectifications); see
``command_city`` for the fixture. Then it times the application's own service calls in sessions bound
to real principals, so every figure includes the jurisdiction scoping of ``core.scope``:

* the task list as the pages and the API call it: ``core.paging.paginate`` over
  ``command.service.tasks(status=…, under=<district>)``, first page of 50 with the total, as each
  district's commander, for every status and for all statuses, in a shuffled order over many
  repetitions; the overdue-only list (``overdue=True``); the same page with its rows'
  responsibilities and units loaded, as a page shows them; a community worker's list; the city
  commander looking at one district;
* ``command.assessment.assess_units`` and ``assess_task_forces`` for the city commander (every unit
  and task force of the city), and for a district's commander.

    python bench/command.py --db postgresql --tasks 1000000 --problems 200000
    python bench/command.py --db sqlite --tasks 1000000 --problems 200000

``--keep`` keeps the database and prints its URL; ``--reuse URL`` measures a kept one again after
bringing it to the newest migration (to measure an index change on the same rows).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import command_city as fixture
import testing_city as city
from people_search import StatementClock, principal
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, selectinload

from fangkong.command import assessment, service
from fangkong.command.models import Directive, Responsibility, Task, TaskStatus
from fangkong.core.db import make_engine, session_factory, system_session
from fangkong.core.migrate import upgrade
from fangkong.core.paging import paginate
from fangkong.core.scope import Principal

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/fangkong_bench_command"
PAGE_SIZE = 50
STATUSES: tuple[TaskStatus | None, ...] = (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE,
                                           TaskStatus.DONE, TaskStatus.CANCELLED, None)
WORKER, WORKER_COMMUNITY = "dongchang_worker", "220502001001"
CITY_COMMANDER = "city_commander"
NOW_MARK = "bench now "  # the fixture's "now", kept in the directives' body for --reuse
TARGET_LIST_MS, TARGET_ASSESS_MS = 200.0, 2000.0
COUNT_LIMIT = 10_000


@dataclass
class Series:
    """The times of one kind of call."""

    operation: str
    principal: str
    times_ms: list[float] = field(default_factory=list)
    count_ms: list[float] = field(default_factory=list)  # the SELECT count(*) statements' part
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU time: SQLite's work, not PostgreSQL's
    statements_ms: list[list[float]] = field(default_factory=list)  # each statement's time, per call
    answer: str = ""

    def add(self, timing: Timing) -> None:
        self.times_ms.append(timing.ms)
        self.count_ms.append(timing.count_ms)
        self.cpu_ms.append(timing.cpu_ms)
        self.statements_ms.append(timing.statements_ms)

    def pct(self, q: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)


def status_name(status: TaskStatus | None) -> str:
    return status.value if status is not None else "all"


@dataclass
class Timing:
    """One call: its time, the count statements' part, this process's CPU time, each statement's time."""

    ms: float
    count_ms: float
    cpu_ms: float
    statements_ms: list[float]
    answer: str


def run(engine: Engine, who: Principal, clock: StatementClock, call: Callable[[Session], str]) -> Timing:
    """One call in a fresh session bound to ``who``."""
    with session_factory(engine)() as session:
        who.bind(session)
        clock.durations.clear()
        c0 = time.process_time()
        t0 = time.perf_counter()
        answer = call(session)
        elapsed = (time.perf_counter() - t0) * 1000
        cpu = (time.process_time() - c0) * 1000
        session.rollback()
    return Timing(elapsed, clock.count_ms(), cpu, [ms for _, ms in clock.durations], answer)


LIST_CALL = {"name": "task_page"}  # which call the lists are measured through (--list-call)


def task_page(status: TaskStatus | None, under: str | None, now: datetime, *, overdue: bool = False,
              with_parties: bool = False, count_limit: int | None = None) -> Callable[[Session], str]:
    """The task list's first page and total, as the list page and ``GET /api/v1/command/tasks`` ask for it:
    ``service.task_page``, or (``--list-call paginate``) ``paginate`` over ``service.tasks``."""
    options = [selectinload(Task.responsibilities).selectinload(Responsibility.unit)] if with_parties else []

    def call(session: Session) -> str:
        if LIST_CALL["name"] == "paginate":
            stmt = service.tasks(status=status, under=under, overdue=overdue, now=now).options(*options)
            page = paginate(session, stmt, page=1, size=PAGE_SIZE, count_limit=count_limit)
        else:
            page = service.task_page(session, size=PAGE_SIZE, count_limit=count_limit, options=options,
                                     status=status, under=under, overdue=overdue, now=now)
        if with_parties:
            for task in page.items:
                _ = [r.unit.name for r in task.responsibilities if r.unit is not None]
        return f"{len(page.items)} of {page.total:,}{'+' if page.is_total_capped else ''}"
    return call


def measure_lists(engine: Engine, org: fixture.Org, now: datetime, repeat: int, seed: int) -> list[Series]:
    """The task list for every district's commander and every status, shuffled, ``repeat`` rounds."""
    clock = StatementClock(engine)
    rng = random.Random(seed)
    commanders = {code: principal(engine, username) for code, username in org.personas.items()}
    worker, city_commander = principal(engine, WORKER), principal(engine, CITY_COMMANDER)
    per_status = {s: Series(f"district list, status {status_name(s)}", "7 district commanders") for s in STATUSES}
    overdue = Series("district list, overdue only", "7 district commanders")
    parties = Series("district list + responsibilities and units of the page", "7 district commanders")
    capped = Series(f"district list, total counted up to {COUNT_LIMIT:,} (count_limit)", "7 district commanders")
    by_district = {code: Series(f"district {code}, every status", org.personas[code]) for code in commanders}
    combos = [(code, s) for code in commanders for s in STATUSES]
    for rep in range(-1, repeat):  # the first round warms the caches, untimed
        rng.shuffle(combos)
        for code, s in combos:
            timing = run(engine, commanders[code], clock, task_page(s, code, now))
            if rep >= 0:
                per_status[s].add(timing)
                by_district[code].add(timing)
                if code == "220502":
                    per_status[s].answer = f"220502: {timing.answer}"
        for code in rng.sample(sorted(commanders), len(commanders)):
            s = rng.choice(STATUSES)
            calls = ((overdue, None, task_page(None, code, now, overdue=True)),
                     (parties, s, task_page(s, code, now, with_parties=True)),
                     (capped, s, task_page(s, code, now, count_limit=COUNT_LIMIT)))
            for series, shown, call in calls:
                timing = run(engine, commanders[code], clock, call)
                if rep >= 0:
                    series.add(timing)
                    if code == "220502":
                        series.answer = f"220502 {status_name(shown)}: {timing.answer}"
        print(f"  round {rep + 1}/{repeat}: done", flush=True)
    out = [*per_status.values(), overdue, parties, capped]

    every = Series("district list, every status and district", "7 district commanders")
    for s in STATUSES:
        for i in range(len(per_status[s].times_ms)):
            every.add(Timing(per_status[s].times_ms[i], per_status[s].count_ms[i], per_status[s].cpu_ms[i],
                             per_status[s].statements_ms[i], ""))
    out.insert(0, every)
    out.extend(by_district.values())

    worker_series = Series("community list, every status and overdue", WORKER)
    city_series = Series("one district's list seen from the city, every status", CITY_COMMANDER)
    for rep in range(-1, repeat):
        for s in STATUSES:
            timing = run(engine, worker, clock, task_page(s, None, now))
            code = rng.choice(sorted(commanders))
            timing2 = run(engine, city_commander, clock, task_page(s, code, now))
            if rep >= 0:
                worker_series.add(timing)
                city_series.add(timing2)
                if s is None:
                    worker_series.answer = f"all: {timing.answer}"
                    city_series.answer = f"{code} all: {timing2.answer}"
        timing = run(engine, worker, clock, task_page(None, None, now, overdue=True))
        if rep >= 0:
            worker_series.add(timing)
    out.extend([worker_series, city_series])
    return out


def measure_assessment(engine: Engine, org: fixture.Org, now: datetime, repeat: int) -> list[Series]:
    """The assessment of every unit and task force for the city commander, and of a district's."""
    clock = StatementClock(engine)
    out = []
    for username, under in ((CITY_COMMANDER, None), (org.personas["220502"], "220502")):
        who = principal(engine, username)
        for name, fn in (("assess_units", assessment.assess_units),
                         ("assess_task_forces", assessment.assess_task_forces)):
            series = Series(f"{name}(under={under or 'None: the whole city'})", username)

            def call(session: Session, fn: Callable[..., list[assessment.Score]] = fn,
                     under: str | None = under) -> str:
                scores = fn(session, under=under, now=now)
                best = scores[0] if scores else None
                tasks = sum(s.tasks for s in scores)
                problems = sum(s.problems for s in scores)
                top = f"; first {best.name} ({best.on_time_rate:.0%} on time)" if best and best.on_time_rate else ""
                return f"{len(scores)} ranked, {tasks:,} tasks, {problems:,} problems{top}"

            for rep in range(-1, repeat):
                timing = run(engine, who, clock, call)
                if rep >= 0:
                    series.add(timing)
                    series.answer = timing.answer
            print(f"  {series.operation} as {username}: median {series.median:,.0f} ms", flush=True)
            out.append(series)
    return out


def explain(engine: Engine, org: fixture.Org, now: datetime) -> None:
    """The plans of the statements the list and the assessment run (``--explain``)."""
    clock = StatementClock(engine)
    sqlite = engine.dialect.name == "sqlite"
    cases: list[tuple[str, str, Callable[[Session], object]]] = [
        (org.personas["220502"], "list done", task_page(TaskStatus.DONE, "220502", now)),
        (org.personas["220502"], "list in_progress", task_page(TaskStatus.IN_PROGRESS, "220502", now)),
        (org.personas["220502"], "list all", task_page(None, "220502", now)),
        (org.personas["220502"], "list overdue only", task_page(None, "220502", now, overdue=True)),
        (WORKER, "community list all", task_page(None, None, now)),
        (CITY_COMMANDER, "city: 220502 done", task_page(TaskStatus.DONE, "220502", now)),
        (CITY_COMMANDER, "assess_units", lambda s: assessment.assess_units(s, now=now)),
        (CITY_COMMANDER, "assess_task_forces", lambda s: assessment.assess_task_forces(s, now=now)),
    ]
    for username, label, call in cases:
        who = principal(engine, username)
        with session_factory(engine)() as session:
            who.bind(session)
            clock.statements.clear()
            call(session)
            captured = list(clock.statements)
        for sql, params in captured:
            if not any(t in sql for t in ("FROM tasks", "FROM problems", "FROM measures")):
                continue
            with engine.connect() as conn:
                if sqlite:
                    plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
                else:
                    plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)]
            print(f"\n{label} ({username}): {' '.join(sql.split())[:400]}")
            print("  " + "\n  ".join(plan))


# ---------------------------------------------------------------- building


def build(engine: Engine, args: argparse.Namespace, now: datetime) -> tuple[fixture.Org, dict[str, object]]:
    """The organisation and the lists; returns what was loaded, for the report."""
    t0 = time.perf_counter()
    codes = city.add_communities(engine, args.population, args.community_size)
    org = fixture.organise(engine)
    stamp = now.timestamp()
    tasks, directives = fixture.generate_tasks(org, args.tasks, stamp, args.seed)
    tables = {
        "directives": fixture.directive_rows(org, directives).set_column(
            2, "body", city.constant(NOW_MARK + now.isoformat(), len(directives["jurisdiction"]))),
        "tasks": fixture.task_rows(org, tasks, stamp, args.seed),
        "responsibilities": fixture.responsibility_rows(org, tasks, args.seed),
    }
    lists = fixture.generate_problems(org, tasks, args.problems, stamp, args.seed)
    tables.update(problems=lists.problems, measures=lists.measures, rectifications=lists.rectifications,
                  escalations=lists.escalations)
    generated = time.perf_counter() - t0
    print(f"generated in {generated:.0f} s: " + ", ".join(f"{k} {v.num_rows:,}" for k, v in tables.items()),
          flush=True)
    t1 = time.perf_counter()
    fixture.load(engine, tables)
    loaded = time.perf_counter() - t1
    t2 = time.perf_counter()
    maintenance = city.vacuum_analyze(engine, fixture.TABLES)
    vacuumed = time.perf_counter() - t2
    status = tables["tasks"].column("status").value_counts().to_pylist()
    mix = ", ".join(f"{d['values']} {d['counts'] / args.tasks:.1%}" for d in sorted(status, key=lambda d: -d["counts"]))
    return org, {"communities": len(codes), "units": org.units, "task forces": org.task_forces,
                 "rows": {k: v.num_rows for k, v in tables.items()}, "status mix": mix, "counts": lists.counts,
                 "generate s": generated, "load s": loaded, "maintenance": f"{maintenance} ({vacuumed:.0f} s)"}


def reused_org(engine: Engine) -> tuple[fixture.Org, datetime]:
    """The organisation of a kept database (units and task forces are there already) and its "now"."""
    with system_session(engine) as session:
        body = session.execute(select(Directive.body).where(Directive.id == 1)).scalar_one()
    now = datetime.fromisoformat(body.removeprefix(NOW_MARK))
    return fixture.organise(engine), now


# ---------------------------------------------------------------- report


def report(engine: Engine, args: argparse.Namespace, built: dict[str, object] | None, lists: list[Series],
           assessed: list[Series]) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            mib = {t: conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one() / 2**20
                   for t in ("tasks", "responsibilities", "problems", "measures")}
            sizes = ", ".join(f"{t} {m:,.0f} MiB" for t, m in mib.items()) + " (with indexes)"
        else:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            sizes = f"database file {pages * size / 2**20:,.0f} MiB"
        indexes = city.secondary_indexes(engine, "tasks")
    print()
    print(f"{'machine':>12}: {city.machine()}")
    print(f"{'database':>12}: {city.database_version(engine)}")
    print(f"{'sizes':>12}: {sizes}")
    print(f"{'tasks ix':>12}: {', '.join(name for name, _ in indexes)}")
    if built:
        print(f"\nFixture: {built}")
    call = "service.task_page(...)" if args.list_call == "task_page" else "paginate(service.tasks(...))"
    print(f"\nTask list: {call}, page=1, size={PAGE_SIZE}, with its total, each call in a fresh "
          f"session with the principal bound; {args.repeat} rounds after an untimed one. Target: p95 < "
          f"{TARGET_LIST_MS:.0f} ms.\n")
    sqlite = engine.dialect.name == "sqlite"
    cpu_head = " cpu p50 ms |" if sqlite else ""
    print(f"| call | principal | calls | p50 ms | p95 ms | max ms | count p50 ms |{cpu_head} answer |")
    print("|---|---|---:|---:|---:|---:|---:|" + ("---:|" if sqlite else "") + "---|")
    for s in lists:
        cpu = f" {statistics.median(s.cpu_ms):,.1f} |" if sqlite else ""
        print(f"| {s.operation} | {s.principal} | {len(s.times_ms)} | {s.median:,.1f} | {s.pct(0.95):,.1f} | "
              f"{max(s.times_ms):,.1f} | {statistics.median(s.count_ms):,.1f} |{cpu} {s.answer} |")
    print(f"\nAssessment, median of {args.assess_repeat} after an untimed one. Target: < {TARGET_ASSESS_MS:.0f} ms.\n")
    print(f"| call | principal | median ms | min ms | max ms | statements, median ms |{cpu_head} answer |")
    print("|---|---|---:|---:|---:|---|" + ("---:|" if sqlite else "") + "---|")
    for s in assessed:
        parts = " + ".join(f"{statistics.median(p):,.0f}" for p in zip(*s.statements_ms, strict=False))
        cpu = f" {statistics.median(s.cpu_ms):,.0f} |" if sqlite else ""
        print(f"| {s.operation} | {s.principal} | {s.median:,.0f} | {min(s.times_ms):,.0f} | {max(s.times_ms):,.0f} "
              f"| {parts} |{cpu} {s.answer} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--tasks", type=int, default=1_000_000, help="tasks to load (default 1000000)")
    parser.add_argument("--problems", type=int, default=200_000, help="problems to load (default 200000)")
    parser.add_argument("--population", type=int, default=1_800_000,
                        help="people the communities are sized for (default 1800000; no person is loaded)")
    parser.add_argument("--community-size", type=int, default=7000, help="people per community (default 7000)")
    parser.add_argument("--repeat", type=int, default=10,
                        help="rounds of the task lists (each: 7 districts × 6 statuses and more; default 10)")
    parser.add_argument("--assess-repeat", type=int, default=5, help="repetitions of each assessment (default 5)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"database to create and drop (default {DEFAULT_PG})")
    parser.add_argument("--reuse", metavar="URL", help="measure a database kept by --keep (upgraded first)")
    parser.add_argument("--list-call", choices=("task_page", "paginate"), default="task_page",
                        help="service.task_page (default), or paginate over service.tasks")
    parser.add_argument("--skip-assessment", action="store_true", help="time the task lists only")
    parser.add_argument("--skip-lists", action="store_true", help="time the assessment only")
    parser.add_argument("--explain", action="store_true", help="also print the plans of the statements")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (its URL is printed)")
    args = parser.parse_args(argv)

    LIST_CALL["name"] = args.list_call
    clock = city.Stopwatch()
    print(f"command: {args.reuse or args.db}, {args.tasks:,} tasks, {args.problems:,} problems, {args.repeat} rounds; "
          f"load average at start {city.load_average()}", flush=True)
    built = None
    if args.reuse:
        url = args.reuse
        upgrade(url)
        engine = make_engine(url)
        org, now = reused_org(engine)
        if engine.dialect.name == "postgresql":
            city.vacuum_analyze(engine, fixture.TABLES)
    else:
        now = datetime.now(UTC).replace(microsecond=0)
        url, engine = city.new_city(args.db, args.pg_url)
    try:
        if not args.reuse:
            org, built = build(engine, args, now)
            print(f"built in {clock():.0f} s; measuring …", flush=True)
        with system_session(engine) as session:
            print(f"tasks in the database: {session.execute(select(func.count()).select_from(Task)).scalar_one():,}")
        lists = [] if args.skip_lists else measure_lists(engine, org, now, args.repeat, args.seed)
        assessed = [] if args.skip_assessment else measure_assessment(engine, org, now, args.assess_repeat)
        report(engine, args, built, lists, assessed)
        if args.explain:
            explain(engine, org, now)
        print(f"\nload average at end {city.load_average()}; whole run {clock():.0f} s")
    finally:
        engine.dispose()
        if args.keep or args.reuse:
            print(f"kept: {url}", file=sys.stderr)
        else:
            city.drop_database(args.db, url)


if __name__ == "__main__":
    main()
