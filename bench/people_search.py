"""Person search and scoped counts at city scale: what a search box and the overview cost.

Builds a fresh database (the application's own migrations), loads the demo jurisdiction tree
and its users, bulk-loads N synthetic persons spread over the demo's communities, then times the
application's own service functions in a session bound to a real demo user's principal, so every
figure includes the jurisdiction scoping the application adds to every query:

* ``people.service.search_persons`` (one page of 20 and the total count, as the search page and
  the API call it) for pinyin initials, a full-pinyin prefix, a Chinese name, part of a name, the
  last four digits of a phone, the last six of an ID number, the empty query and a random page;
* ``geo.service.count_under(session, Person, code)``, the overview's population figure.

The bulk load is the benchmark's fixture, not what it measures: it bypasses the ORM unit of work
(which would write an audit entry per person) and goes straight to the driver (SQLite
``executemany`` in one transaction, PostgreSQL binary ``COPY``), with the secondary indexes of
``persons`` dropped during the load and rebuilt from their own definitions afterwards.

    python bench/people_search.py --db sqlite --persons 200000 --repeat 20
    python bench/people_search.py --db postgresql --persons 2000000
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from fangkong.core.db import make_engine, session_factory, system_session
from fangkong.core.migrate import upgrade
from fangkong.core.scope import Principal
from fangkong.geo import service as geo
from fangkong.geo.models import Jurisdiction
from fangkong.people import identity
from fangkong.people import service as people
from fangkong.people.models import Person
from fangkong.synth import demo
from fangkong.users.models import User
from fangkong.users.service import principal_for

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/fangkong_bench"
WORKER, COMMANDER = "dongchang_worker", "city_commander"  # demo users: one community, the whole city
PAGE_SIZE = 20  # what the search page and the API use
CHUNK = 50_000
COLUMNS = ("id_number", "name", "name_initials", "name_pinyin", "id_number_rev", "phone", "phone_rev", "sex",
           "birth_date", "address", "created_at", "updated_at", "jurisdiction_code")
PG_TYPES = ["varchar"] * 8 + ["date", "varchar", "timestamptz", "timestamptz", "varchar"]
GIVEN_PAIRS = 800  # two-character given names in the pool; pinyin is computed once per distinct name
FIRST_BIRTH, BIRTH_DAYS = date(1935, 1, 1), 365 * 85  # the demo's older population


# ---------------------------------------------------------------- synthetic persons


@dataclass
class Sample:
    """A few real rows per community, to draw queries from that are sure to find someone."""

    name: str
    id_number: str
    phone: str | None


@dataclass
class Population:
    """How the persons are drawn: names from a fixed pool, keys computed once per distinct name."""

    rng: random.Random
    surnames: list[str]
    surname_cum_weights: list[float]
    given: list[str]
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def make(cls, rng: random.Random) -> Population:
        surnames = list(dict.fromkeys(demo.SURNAMES))
        chars = list(dict.fromkeys(demo.GIVEN))
        # One- and two-character given names: every single character and GIVEN_PAIRS fixed pairs.
        pairs = sorted({a + b for a in chars for b in chars})
        given = chars + rng.sample(pairs, min(GIVEN_PAIRS, len(pairs)))
        # Surnames are heavy-tailed (王, 李, 张 are each about 7 % of China); the demo list is in
        # rough frequency order, so weight by rank^-0.7 (the first about 9 %).
        weights = list(itertools.accumulate((r + 1) ** -0.7 for r in range(len(surnames))))
        return cls(rng=rng, surnames=surnames, surname_cum_weights=weights, given=given)

    @property
    def distinct_names(self) -> int:
        return len(self.surnames) * len(self.given)

    def name(self) -> str:
        surname = self.rng.choices(self.surnames, cum_weights=self.surname_cum_weights)[0]
        return surname + self.rng.choice(self.given)

    def pinyin(self, name: str) -> tuple[str, str]:
        keys = self.keys.get(name)
        if keys is None:
            keys = self.keys[name] = identity.pinyin_keys(name)
        return keys


def generate(n: int, communities: Sequence[tuple[str, str]], pop: Population, *, sqlite: bool,
             samples: dict[str, list[Sample]]) -> Iterator[list[tuple[Any, ...]]]:
    """Rows for ``persons`` in chunks, each person in a random community, with unique valid IDs and phones."""
    rng = pop.rng
    home = [rng.randrange(len(communities)) for _ in range(n)]
    # ID numbers are unique by construction: per district, distinct (birth day, sequence) pairs.
    per_district: dict[str, int] = {}
    for i in home:
        d = communities[i][0][:6]
        per_district[d] = per_district.get(d, 0) + 1
    id_keys = {d: iter(rng.sample(range(BIRTH_DAYS * 1000), k)) for d, k in per_district.items()}
    phones = iter(rng.sample(range(7 * 10**9), n))  # 1[3-9] followed by nine digits, all distinct
    now = datetime.now(UTC).replace(tzinfo=None) if sqlite else datetime.now(UTC)
    stamp: Any = f"{now:%Y-%m-%d %H:%M:%S.%f}" if sqlite else now
    seen: dict[str, int] = {}
    chunk: list[tuple[Any, ...]] = []
    for i in home:
        code, cname = communities[i]
        district = code[:6]
        key = next(id_keys[district])
        born = FIRST_BIRTH + timedelta(days=key // 1000)
        seq = f"{key % 1000:03d}"
        first17 = f"{district}{born:%Y%m%d}{seq}"
        number = first17 + identity.check_digit(first17)
        p = next(phones)
        phone = f"1{3 + p // 10**9}{p % 10**9:09d}" if born.year > 1945 or rng.random() < 0.5 else None
        name = pop.name()
        initials, full = pop.pinyin(name)
        base = cname.removesuffix("社区").removesuffix("村")
        address = (f"{base}路{rng.randint(1, 300)}号 {rng.randint(1, 30)}栋{rng.randint(1, 4)}单元"
                   f"{rng.randint(1, 18)}0{rng.randint(1, 4)}室")
        chunk.append((number, name, initials, full, number[::-1], phone, phone[::-1] if phone else None,
                      "male" if int(seq[-1]) % 2 else "female", born.isoformat() if sqlite else born, address,
                      stamp, stamp, code))
        # Reservoir of 200 rows per community.
        seen[code] = seen.get(code, 0) + 1
        kept = samples.setdefault(code, [])
        if len(kept) < 200:
            kept.append(Sample(name, number, phone))
        elif (j := rng.randrange(seen[code])) < 200:
            kept[j] = Sample(name, number, phone)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------- fixture


@dataclass
class LoadFigures:
    persons: int
    generate_s: float
    insert_s: float
    index_s: float
    maintenance_s: float
    maintenance: str
    names: int
    name_pool: int


def create_database(kind: str, pg_url: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{os.path.join(tempfile.mkdtemp(prefix='fangkong-bench-'), 'bench.db')}"
    url = make_url(pg_url)
    with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}"')
        conn.execute(f'CREATE DATABASE "{url.database}"')
    return pg_url


def drop_database(kind: str, url: str) -> None:
    if kind == "sqlite":
        shutil.rmtree(os.path.dirname(make_url(url).database or ""), ignore_errors=True)
        return
    pg = make_url(url)
    with psycopg.connect(host=pg.host, port=pg.port or 5432, user=pg.username, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{pg.database}"')


def secondary_indexes(engine: Engine) -> list[tuple[str, str]]:
    """The ``ix_`` indexes of ``persons`` as (name, CREATE statement); the key and unique ones stay."""
    if engine.dialect.name == "sqlite":
        sql = ("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'persons'"
               " AND name LIKE 'ix!_%' ESCAPE '!'")
    else:
        sql = ("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'persons'"
               " AND indexname LIKE 'ix!_%' ESCAPE '!'")
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(text(sql))]


def bulk_load(engine: Engine, n: int, seed: int, samples: dict[str, list[Sample]]) -> LoadFigures:
    sqlite = engine.dialect.name == "sqlite"
    with system_session(engine) as session:
        communities = [(j.code, j.name) for j in session.execute(
            select(Jurisdiction).where(func.length(Jurisdiction.code) == 12).order_by(Jurisdiction.code)).scalars()]
    indexes = secondary_indexes(engine)
    gen_s = ins_s = 0.0
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        cur = dbapi.cursor()
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        if sqlite:
            cur.execute("PRAGMA cache_size = -262144")  # 256 MiB for the load; the unique index takes random inserts
            cur.execute("BEGIN")
            insert = f"INSERT INTO persons ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        else:
            dbapi.commit()
        pop = Population.make(random.Random(seed))
        rows = generate(n, communities, pop, sqlite=sqlite, samples=samples)
        while True:
            t0 = time.perf_counter()
            chunk = next(rows, None)
            t1 = time.perf_counter()
            gen_s += t1 - t0
            if chunk is None:
                break
            if sqlite:
                cur.executemany(insert, chunk)
            else:
                with cur.copy(f"COPY persons ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(PG_TYPES)
                    for row in chunk:
                        copy.write_row(row)
            ins_s += time.perf_counter() - t1
        t0 = time.perf_counter()
        cur.execute("COMMIT") if sqlite else dbapi.commit()
        ins_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        for _, ddl in indexes:
            cur.execute(ddl)
        if not sqlite:
            dbapi.commit()
        index_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if sqlite:
            # As the application leaves it: it never runs ANALYZE, so SQLite plans without statistics.
            maintenance = "none (the application runs no ANALYZE on SQLite)"
        else:
            # What autovacuum does to an insert-only table soon after a load: statistics and the
            # visibility map (which index-only scans, and so counts, depend on).
            dbapi.autocommit = True
            cur.execute("VACUUM ANALYZE persons")
            dbapi.autocommit = False
            maintenance = "VACUUM ANALYZE persons (what autovacuum does after a load)"
        maint_s = time.perf_counter() - t0
        cur.close()
    finally:
        raw.close()
        # The load connection's settings (the larger SQLite cache) must not reach the measured sessions.
        engine.dispose()
    return LoadFigures(n, gen_s, ins_s, index_s, maint_s, maintenance, len(pop.keys), pop.distinct_names)


# ---------------------------------------------------------------- measurement


@dataclass
class Result:
    operation: str
    principal: str
    example: str
    times_ms: list[float]
    count_ms: list[float]
    found: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class StatementClock:
    """Times each SQL statement (execute only) on the engine, to tell the count from the page."""

    def __init__(self, engine: Engine) -> None:
        self.durations: list[tuple[str, float]] = []
        self.statements: list[tuple[str, Any]] = []
        self._start = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._start = time.perf_counter()

    def _after(self, _conn: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.durations.append((statement, (time.perf_counter() - self._start) * 1000))
        self.statements.append((statement, parameters))

    def count_ms(self) -> float:
        """The execute time of the ``SELECT count(*)`` statements since the last reset."""
        return sum(ms for sql, ms in self.durations if sql.lstrip().upper().startswith("SELECT COUNT("))


def principal(engine: Engine, username: str) -> Principal:
    with system_session(engine) as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one()
        return principal_for(user)


def timed(factory: Callable[[], Session], who: Principal, clock: StatementClock, repeat: int,
          call: Callable[[Session, int], int]) -> tuple[list[float], list[float], list[int]]:
    """Run ``call(session, rep)`` once to warm up and then ``repeat`` times, each in a fresh session
    (as a request has); time the call alone."""
    times, counts, found = [], [], []
    for rep in range(-1, repeat):
        with factory() as session:
            who.bind(session)
            clock.durations.clear()
            clock.statements.clear()
            t0 = time.perf_counter()
            n = call(session, rep)
            elapsed = (time.perf_counter() - t0) * 1000
            session.rollback()
        if rep >= 0:
            times.append(elapsed)
            counts.append(clock.count_ms())
            found.append(n)
    return times, counts, found


def search_ops(samples: list[Sample], rng: random.Random, repeat: int) -> list[tuple[str, str, Callable[[int], str]]]:
    """(operation, example, query for repetition r): each repetition searches for a different person."""
    picks = [rng.choice(samples) for _ in range(repeat + 1)]
    with_phone = [s for s in samples if s.phone]
    phones = [rng.choice(with_phone) for _ in range(repeat + 1)]

    def q(f: Callable[[Sample], str], pool: list[Sample] = picks) -> Callable[[int], str]:
        return lambda r: f(pool[r + 1])

    def initials(s: Sample) -> str:
        return identity.pinyin_keys(s.name)[0]

    def pinyin_prefix(s: Sample) -> str:
        return identity.pinyin_keys(s.name[:2])[1]  # surname and first given character: "zhangwei…"

    ops: list[tuple[str, Callable[[Sample], str], list[Sample]]] = [
        ("pinyin initials", initials, picks),
        ("full-pinyin prefix", pinyin_prefix, picks),
        ("Chinese full name", lambda s: s.name, picks),
        ("Chinese part of name (given name)", lambda s: s.name[1:], picks),
        ("last 4 digits of phone", lambda s: (s.phone or "")[-4:], phones),
        ("last 6 of ID number", lambda s: s.id_number[-6:], picks),
    ]
    return [(label, f(pool[0]), q(f, pool)) for label, f, pool in ops]


def measure(engine: Engine, samples: dict[str, list[Sample]], repeat: int, seed: int) -> list[Result]:
    factory = session_factory(engine)
    clock = StatementClock(engine)
    rng = random.Random(seed + 1)
    results: list[Result] = []
    worker, commander = principal(engine, WORKER), principal(engine, COMMANDER)
    community = worker.home_code
    pools = {WORKER: samples[community], COMMANDER: [s for kept in samples.values() for s in kept]}
    for who in (worker, commander):
        for label, example, query in search_ops(pools[who.username], rng, repeat):
            def run(session: Session, rep: int, query: Callable[[int], str] = query) -> int:
                return people.search_persons(session, query(rep), size=PAGE_SIZE).total

            results.append(Result(f"search_persons: {label}", who.username, example,
                                   *timed(factory, who, clock, repeat, run)))

        def first_page(session: Session, rep: int) -> int:
            return people.search_persons(session, "", size=PAGE_SIZE).total

        results.append(Result("search_persons: empty query, page 1", who.username, "",
                              *timed(factory, who, clock, repeat, first_page)))
        with factory() as session:
            who.bind(session)
            pages = max(1, -(-people.search_persons(session, "", size=PAGE_SIZE).total // PAGE_SIZE))
        page_of = [rng.randint(1, pages) for _ in range(repeat + 1)]

        def random_page(session: Session, rep: int, page_of: list[int] = page_of) -> int:
            return people.search_persons(session, "", page=page_of[rep + 1], size=PAGE_SIZE).total

        results.append(Result("search_persons: empty query, random page (OFFSET)", who.username,
                              f"page 1..{pages}", *timed(factory, who, clock, repeat, random_page)))
    with factory() as session:
        commander.bind(session)
        districts = [j.code for j in geo.children(session, "2205")]
    for label, who, codes in (("count_under(Person, own community)", worker, [community]),
                              ("count_under(Person, district)", commander, districts)):
        for code in codes:
            def count(session: Session, rep: int, code: str = code) -> int:
                return geo.count_under(session, Person, code)

            results.append(Result(label, who.username, code, *timed(factory, who, clock, repeat, count)))

    def population_column(session: Session, rep: int) -> int:
        return sum(geo.count_under(session, Person, code) for code in districts)

    results.append(Result("overview population column (7 × count_under)", commander.username, "2205",
                          *timed(factory, commander, clock, repeat, population_column)))

    with factory() as session:
        commander.bind(session)
        city = geo.get_jurisdiction(session, "2205")  # its code and level stay readable once detached

    def by_child(session: Session, rep: int) -> int:
        return sum(geo.count_by_child(session, Person, city).values())

    results.append(Result("count_by_child(Person, city): the same in one GROUP BY", commander.username, "2205",
                          *timed(factory, commander, clock, repeat, by_child)))
    return results


def explain(engine: Engine, results: list[Result]) -> None:
    """The plan of each statement a search runs, for its example query (``--explain``)."""
    factory = session_factory(engine)
    clock = StatementClock(engine)
    who = {name: principal(engine, name) for name in (WORKER, COMMANDER)}
    sqlite = engine.dialect.name == "sqlite"
    for r in results:
        if not r.operation.startswith("search_persons") or "page (OFFSET)" in r.operation:
            continue
        with factory() as session:
            who[r.principal].bind(session)
            clock.statements.clear()
            people.search_persons(session, r.example, size=PAGE_SIZE)
            captured = [(sql, params) for sql, params in clock.statements if "FROM persons" in sql]
        print(f"\n{r.operation}, {r.principal}, q={r.example!r}")
        with engine.connect() as conn:
            for sql, params in captured:
                kind = "count" if sql.lstrip().upper().startswith("SELECT COUNT(") else "page"
                if sqlite:
                    plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
                else:
                    plan = [row[0].strip() for row in conn.exec_driver_sql("EXPLAIN " + sql, params)]
                print(f"  {kind}: " + "\n         ".join(plan))


# ---------------------------------------------------------------- report


def machine_facts(engine: Engine, kind: str) -> list[tuple[str, str]]:
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024**2:.0f} GiB"
    except OSError:
        pass
    facts = [("machine", f"{os.cpu_count()} cores, {mem} RAM, {platform.system()} {platform.machine()}"),
             ("python", f"{platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
                        f"psycopg {psycopg.__version__}")]
    with engine.connect() as conn:
        if kind == "sqlite":
            pragmas = ", ".join(f"{p}={conn.exec_driver_sql(f'PRAGMA {p}').scalar()}"
                                for p in ("journal_mode", "synchronous", "cache_size", "mmap_size"))
            facts.append(("database", f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()} "
                                      f"(the application's connection: {pragmas})"))
            path = engine.url.database or ""
            facts.append(("database size", f"{os.path.getsize(path) / 1024**2:.0f} MiB"))
        else:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            settings = ", ".join(f"{k}={conn.exec_driver_sql(f'SHOW {k}').scalar()}" for k in (
                "shared_buffers", "work_mem", "max_parallel_workers_per_gather", "lc_collate"))
            facts.append(("database", f"PostgreSQL {version} ({settings})"))
            size = conn.exec_driver_sql("SELECT pg_total_relation_size('persons')").scalar() or 0
            facts.append(("persons table + indexes", f"{size / 1024**2:.0f} MiB"))
    return facts


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def report(facts: list[tuple[str, str]], load: LoadFigures, results: list[Result], repeat: int) -> None:
    for k, v in facts:
        print(f"{k:>24}: {v}")
    print()
    total = load.generate_s + load.insert_s + load.index_s
    print("Fixture (not what is measured): persons bulk-loaded straight through the driver, bypassing the ORM")
    print("unit of work and so the audit log; secondary indexes dropped during the load and rebuilt after.")
    print(f"  {'generate ' + format(load.persons, ',') + ' rows in Python:':38}{load.generate_s:7.1f} s  "
          f"({load.persons / max(load.generate_s, 1e-9):,.0f} rows/s; {load.names:,} distinct names of a pool of "
          f"{load.name_pool:,}, pinyin computed once per name)")
    print(f"  {'insert (PK and unique index kept):':38}{load.insert_s:7.1f} s  "
          f"({load.persons / max(load.insert_s, 1e-9):,.0f} rows/s)")
    print(f"  {'rebuild 6 secondary indexes:':38}{load.index_s:7.1f} s")
    print(f"  {'insert + indexes:':38}{load.insert_s + load.index_s:7.1f} s  "
          f"({load.persons / max(load.insert_s + load.index_s, 1e-9):,.0f} rows/s); with generation {total:.1f} s")
    print(f"  then: {load.maintenance}: {load.maintenance_s:.1f} s")
    print()
    print(f"Service calls, warm, {repeat} repetitions each (one untimed warm-up), each in a fresh session with the")
    print("demo user's principal bound; 'ms' is the whole call (scoping, SQL, loading the page of Person objects);")
    print("'count ms' is the execute time of its SELECT count(*) alone; 'found' is the total the call reports")
    print(f"(median, and min–max over the queries). Page size {PAGE_SIZE}.")
    print()
    header = ("operation", "principal", "example query", "median ms", "p95 ms", "count ms", "found")
    rows = [(r.operation, r.principal, r.example or "''", f"{r.median:.1f}", f"{r.p95:.1f}",
             f"{statistics.median(r.count_ms):.1f}" if any(r.count_ms) else "–",
             f"{statistics.median(r.found):,.0f} ({min(r.found):,}–{max(r.found):,})"
             if min(r.found) != max(r.found) else f"{r.found[0]:,}") for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    right = {3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    print(line(header))
    print("|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)) + "|")
    for row in rows:
        print(line(row))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--persons", type=int, default=200_000, help="how many persons to load (default 200000)")
    parser.add_argument("--repeat", type=int, default=20, help="timed repetitions per operation (default 20)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"database to create and drop (default {DEFAULT_PG})")
    parser.add_argument("--explain", action="store_true", help="also print the query plan of each search")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (its URL is printed)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    print(f"people_search: {args.db}, {args.persons:,} persons, {args.repeat} repetitions; "
          f"load average at start {load_average()} (the machine runs other work too)", flush=True)
    url = create_database(args.db, args.pg_url)
    engine: Engine | None = None
    try:
        upgrade(url)
        engine = make_engine(url)
        with system_session(engine) as session:
            demo.load(session, households_per_unit=0)  # the tree, facilities, places and demo users; no persons
        samples: dict[str, list[Sample]] = {}
        load = bulk_load(engine, args.persons, args.seed, samples)
        print(f"loaded in {time.perf_counter() - started:.0f} s; measuring …", flush=True)
        results = measure(engine, samples, args.repeat, args.seed)
        print()
        report(machine_facts(engine, args.db), load, results, args.repeat)
        print()
        print(f"load average at end {load_average()}; whole run {time.perf_counter() - started:.0f} s")
        if args.explain:
            explain(engine, results)
    finally:
        if engine is not None:
            engine.dispose()
        if args.keep:
            print(f"kept: {url}", file=sys.stderr)
        else:
            drop_database(args.db, url)


if __name__ == "__main__":
    main()
