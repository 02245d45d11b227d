"""A city for the testing benchmarks: persons in households, a round, sites, tubes, samples, results.

The benchmarks' fixture, not what they measure. Rows are generated with numpy and written straight
through the driver (PostgreSQL CSV ``COPY``, SQLite ``executemany`` in one transaction) with
explicit ids, bypassing the ORM unit of work and so the audit log; foreign-key checks are off during
a load (PostgreSQL ``session_replication_role = replica``, SQLite ``foreign_keys = OFF``), the
rows being consistent by construction, and a table's ``ix_`` indexes are dropped for a large load
and rebuilt from their own definitions afterwards. PostgreSQL tables get ``VACUUM ANALYZE`` after
a load (what autovacuum does soon after); SQLite gets nothing, as the application never runs
``ANALYZE``.

The jurisdiction tree is the demo city's (``synth.demo.load`` without households), with its users
and labs. ``add_communities`` adds communities under the demo's streets so that a community holds
a realistic number of people (a few thousand) instead of the demo's 27 communities of 70,000 each.
"""

from __future__ import annotations

import io
import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy
from people_search import create_database, drop_database
from sqlalchemy import Engine, func, select, text

from fangkong.core.db import make_engine, system_session
from fangkong.core.migrate import upgrade
from fangkong.geo.models import Facility, FacilityKind, Jurisdiction
from fangkong.people import identity
from fangkong.synth import demo
from fangkong.testing import service
from fangkong.testing.models import Round, SamplingSite
from fangkong.testing.schemas import RoundIn, SiteIn

__all__ = ["create_database", "drop_database"]

DOORS_PER_UNIT = 36  # 18 floors, two doors a floor
UNITS_PER_BUILDING = 3
BUILDINGS_PER_COMPOUND = 10
HOUSEHOLD_SIZES = np.array([1, 2, 2, 3, 3, 4])
NOT_AT_HOME = 0.002  # isolated or in hospital: not in a round's target
FIRST_BIRTH, BIRTH_DAYS = date(1935, 1, 1), 365 * 85
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = np.array(list("10X98765432"))


# ---------------------------------------------------------------- writing rows


@contextmanager
def raw_load(engine: Engine) -> Iterator[Any]:
    """A driver connection for a load, with foreign-key checks off; committed at the end.

    The engine is disposed of afterwards, so that the load connection's settings never reach a
    measured session.
    """
    raw = engine.raw_connection()
    dbapi: Any = raw.driver_connection
    sqlite = engine.dialect.name == "sqlite"
    try:
        if sqlite:
            dbapi.execute("PRAGMA foreign_keys = OFF")
            dbapi.execute("PRAGMA cache_size = -262144")
            dbapi.execute("BEGIN")
        else:
            dbapi.execute("SET session_replication_role = replica")
        yield dbapi
        dbapi.execute("COMMIT") if sqlite else dbapi.commit()
    except BaseException:
        dbapi.execute("ROLLBACK") if sqlite else dbapi.rollback()
        raise
    finally:
        raw.close()
        engine.dispose()


def write_rows(dbapi: Any, sqlite: bool, table: str, rows: pa.Table) -> None:
    """Append ``rows`` (columns named as the table's) to ``table``.

    Timestamps must be ``timestamp[us, tz=UTC]``; on SQLite they are written in SQLAlchemy's text
    form, as the application's ``UTCDateTime`` stores them.
    """
    if not rows.num_rows:
        return
    names = rows.column_names
    if not sqlite:
        buffer = io.BytesIO()
        pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        with dbapi.cursor() as cursor, cursor.copy(
                f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv)") as copy:
            view = buffer.getbuffer()
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start:start + (1 << 20)])
        return
    columns = []
    for name in names:
        col = rows.column(name)
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, "%Y-%m-%d %H:%M:%S")
        elif pa.types.is_date(col.type):
            col = pc.strftime(col, "%Y-%m-%d")
        columns.append(col.to_pylist())
    marks = ", ".join("?" * len(names))
    dbapi.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", zip(*columns, strict=True))


def secondary_indexes(engine: Engine, table: str) -> list[tuple[str, str]]:
    """The ``ix_`` indexes of ``table`` as (name, CREATE statement); keys and unique ones stay."""
    if engine.dialect.name == "sqlite":
        sql = ("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
               " AND name LIKE 'ix!_%' ESCAPE '!'")
    else:
        sql = ("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"
               " AND indexname LIKE 'ix!_%' ESCAPE '!'")
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(text(sql), {"t": table})]


@contextmanager
def indexes_dropped(engine: Engine, tables: Sequence[str]) -> Iterator[None]:
    """Drop the ``ix_`` indexes of ``tables`` for a load and rebuild them afterwards."""
    kept = [ix for t in tables for ix in secondary_indexes(engine, t)]
    with engine.begin() as conn:
        for name, _ in kept:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    yield
    with engine.begin() as conn:
        for _, ddl in kept:
            conn.exec_driver_sql(ddl)


def max_ids(engine: Engine, tables: Sequence[str]) -> dict[str, int]:
    """The highest id in each of ``tables`` (0 when empty)."""
    with engine.connect() as conn:
        return {t: int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {t}").scalar() or 0) for t in tables}


def reset_sequences(engine: Engine, tables: Sequence[str]) -> None:
    """After rows with explicit ids: let PostgreSQL's id sequences continue after them."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for t in tables:
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                                 f"coalesce((SELECT max(id) FROM {t}), 0) + 1, false)")


def vacuum_analyze(engine: Engine, tables: Sequence[str]) -> str:
    """What autovacuum does to a table soon after a load (PostgreSQL); nothing on SQLite."""
    if engine.dialect.name == "sqlite":
        return "none (the application runs no ANALYZE on SQLite)"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for t in tables:
            conn.exec_driver_sql(f"VACUUM ANALYZE {t}")
    return f"VACUUM ANALYZE {', '.join(tables)} (what autovacuum does after a load)"


def timestamps(values: np.ndarray) -> pa.Array:
    """Seconds since the epoch as ``timestamp[us, tz=UTC]``."""
    return pa.array((values * 1_000_000).astype("int64"), pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def constant(value: Any, n: int, type_: pa.DataType | None = None) -> pa.Array:
    """``n`` copies of ``value``."""
    return pa.nulls(n, type_ or pa.string()) if value is None else pa.array([value] * n, type_)


# ---------------------------------------------------------------- the city


def new_city(kind: str, pg_url: str) -> tuple[str, Engine]:
    """A fresh, migrated database with the demo city's tree, facilities and users (no persons)."""
    url = create_database(kind, pg_url)
    upgrade(url)
    engine = make_engine(url)
    with system_session(engine) as session:
        demo.load(session, households_per_unit=0)
    return url, engine


def add_communities(engine: Engine, persons: int, community_size: int) -> list[str]:
    """Community codes to spread ``persons`` over, about ``community_size`` each: the demo's own and,
    when it takes more, new ones under the demo's streets. ``community_size`` 0 keeps the demo's 27."""
    with system_session(engine) as session:
        communities = list(session.execute(select(Jurisdiction.code).where(func.length(Jurisdiction.code) == 12)
                                           .order_by(Jurisdiction.code)).scalars())
        wanted = -(-persons // community_size) if community_size else 0
        if wanted > len(communities):
            streets = session.execute(select(Jurisdiction).where(func.length(Jurisdiction.code) == 9)
                                      .order_by(Jurisdiction.code)).scalars().all()
            taken = set(communities)
            number = 1
            while len(communities) < wanted:
                for street in streets:
                    code = f"{street.code}{number:03d}"
                    if code not in taken and len(communities) < wanted:
                        session.add(Jurisdiction(code=code, name=f"{street.name}第{number}社区",
                                                 parent_code=street.code))
                        communities.append(code)
                number += 1
    return sorted(communities)


@dataclass
class People:
    """The persons loaded: ids (1..n) with their community, in id order."""

    ids: np.ndarray
    community: np.ndarray  # index into ``codes``
    at_home: np.ndarray  # bool
    codes: list[str]
    households: int

    def in_community(self, code: str) -> np.ndarray:
        """The ids of the persons of one community."""
        return self.ids[self.community == self.codes.index(code)]


def _name_pool(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Names (surname + one or two characters), their pinyin keys, and surname weights (rank^-0.7)."""
    surnames = list(dict.fromkeys(demo.SURNAMES))
    chars = list(dict.fromkeys(demo.GIVEN))
    pairs = [a + b for a in chars for b in chars]
    given = chars + [pairs[i] for i in rng.choice(len(pairs), size=min(200, len(pairs)), replace=False)]
    names = [s + g for s in surnames for g in given]
    keys = [identity.pinyin_keys(n) for n in names]
    weights = np.repeat((np.arange(1, len(surnames) + 1) ** -0.7), len(given))
    return (np.array(names, dtype=object), np.array([k[0] for k in keys], dtype=object),
            np.array([k[1] for k in keys], dtype=object), weights / weights.sum())


def load_people(engine: Engine, n: int, codes: Sequence[str], *, seed: int) -> People:
    """``n`` persons in households spread over ``codes``, with compounds, buildings and units.

    Persons are interleaved over the communities in id order (as registration over time leaves
    them); ID numbers are valid and unique, phones unique.
    """
    rng = np.random.default_rng(seed)
    sqlite = engine.dialect.name == "sqlite"
    codes = list(codes)
    share = rng.uniform(0.7, 1.3, len(codes))
    sizes = rng.multinomial(n, share / share.sum())
    now = datetime.now(UTC).timestamp()
    compounds: dict[str, list[Any]] = {"id": [], "name": [], "address": [], "jurisdiction_code": []}
    buildings: dict[str, list[Any]] = {"id": [], "compound_id": [], "number": [], "jurisdiction_code": []}
    units: dict[str, list[Any]] = {"id": [], "building_id": [], "number": [], "jurisdiction_code": []}
    households: dict[str, list[Any]] = {"id": [], "unit_id": [], "door": [], "jurisdiction_code": []}
    person_household = np.empty(n, dtype=np.int64)
    person_community = np.empty(n, dtype=np.int64)
    person_address: list[str] = []
    at = 0
    with system_session(engine) as session:
        names_of = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)
                                        .where(Jurisdiction.code.in_(codes))).all())
    # The demo's own compounds, buildings and units come first (it loads them without households).
    first = max_ids(engine, ("compounds", "buildings", "units", "households", "persons"))
    if first["persons"]:
        raise RuntimeError("load_people expects a city without persons")
    for c, (code, size) in enumerate(zip(codes, sizes, strict=True)):
        hh_sizes = rng.choice(HOUSEHOLD_SIZES, size=max(int(size), 1))
        ends = np.cumsum(hh_sizes)
        k = int(np.searchsorted(ends, size)) + 1 if size else 0
        hh_sizes = hh_sizes[:k]
        if k:
            hh_sizes[-1] -= int(ends[k - 1] - size)
        base = names_of[code].removesuffix("社区").removesuffix("村")
        first_household = first["households"] + len(households["id"]) + 1
        for h in range(k):
            unit_no, door_no = divmod(h, DOORS_PER_UNIT)
            if door_no == 0:
                building_no, unit_in_building = divmod(unit_no, UNITS_PER_BUILDING)
                if unit_in_building == 0:
                    compound_no, building_in_compound = divmod(building_no, BUILDINGS_PER_COMPOUND)
                    if building_in_compound == 0:
                        word = demo.COMPOUND_WORDS[compound_no % len(demo.COMPOUND_WORDS)]
                        phase = f"{compound_no // len(demo.COMPOUND_WORDS) + 1}期" \
                            if compound_no >= len(demo.COMPOUND_WORDS) else ""
                        compounds["id"].append(first["compounds"] + len(compounds["id"]) + 1)
                        compounds["name"].append(f"{base}{word}{phase}")
                        compounds["address"].append(f"{base}路{rng.integers(1, 300)}号")
                        compounds["jurisdiction_code"].append(code)
                    buildings["id"].append(first["buildings"] + len(buildings["id"]) + 1)
                    buildings["compound_id"].append(compounds["id"][-1])
                    buildings["number"].append(str(building_in_compound + 1))
                    buildings["jurisdiction_code"].append(code)
                units["id"].append(first["units"] + len(units["id"]) + 1)
                units["building_id"].append(buildings["id"][-1])
                units["number"].append(str(unit_in_building + 1))
                units["jurisdiction_code"].append(code)
            door = f"{door_no // 2 + 1}0{door_no % 2 + 1}"
            households["id"].append(first["households"] + len(households["id"]) + 1)
            households["unit_id"].append(units["id"][-1])
            households["door"].append(door)
            households["jurisdiction_code"].append(code)
            person_address.extend([f"{compounds['address'][-1]} {buildings['number'][-1]}栋"
                                   f"{units['number'][-1]}单元{door}室"] * int(hh_sizes[h]))
        person_household[at:at + size] = np.repeat(np.arange(first_household, first_household + k), hh_sizes)
        person_community[at:at + size] = c
        at += size

    # Interleave: person ids follow a random order of the generated persons.
    order = rng.permutation(n)
    person_household, person_community = person_household[order], person_community[order]
    address = np.array(person_address, dtype=object)[order]
    district = np.array([int(code[:6]) for code in codes], dtype=np.int64)[person_community]
    # Unique ID numbers: per district, distinct (birth day, sequence) pairs.
    key = np.empty(n, dtype=np.int64)
    for d in np.unique(district):
        where = np.flatnonzero(district == d)
        key[where] = rng.choice(BIRTH_DAYS * 1000, size=len(where), replace=False)
    born = np.datetime64(FIRST_BIRTH) + (key // 1000).astype("timedelta64[D]")
    yyyymmdd = (born.astype("datetime64[Y]").astype(np.int64) + 1970) * 10000 \
        + (born.astype("datetime64[M]").astype(np.int64) % 12 + 1) * 100 \
        + (born - born.astype("datetime64[M]")).astype(np.int64) + 1
    first17 = district * 10**11 + yyyymmdd * 1000 + key % 1000
    digits = (first17[:, None] // (10 ** np.arange(16, -1, -1, dtype=np.int64))) % 10
    check = CHECK_CHARS[(digits * ID_WEIGHTS).sum(axis=1) % 11]
    id_number = pc.binary_join_element_wise(pa.array(first17.astype(str)), pa.array(check), "")
    phone = pa.array((13_000_000_000 + rng.permutation(n) * 37 + rng.integers(0, 37, n)).astype(str))
    names, initials, pinyin, weights = _name_pool(rng)
    pick = rng.choice(len(names), size=n, p=weights)
    at_home = rng.random(n) >= NOT_AT_HOME
    whereabouts = np.where(at_home, "at_home", np.where(rng.random(n) < 0.5, "isolated", "in_hospital"))
    sex = np.where((key % 1000) % 2 == 1, "male", "female")
    code_of = np.array(codes, dtype=object)
    stamp = timestamps(np.full(n, now))
    persons = pa.table({
        "id": pa.array(np.arange(1, n + 1)),
        "id_number": id_number,
        "name": pa.array(names[pick]),
        "name_initials": pa.array(initials[pick]),
        "name_pinyin": pa.array(pinyin[pick]),
        "id_number_rev": pc.utf8_reverse(id_number),
        "phone": phone,
        "phone_rev": pc.utf8_reverse(phone),
        "sex": pa.array(sex),
        "birth_date": pa.array(born.astype("datetime64[D]")).cast(pa.date32()),
        "address": pa.array(address),
        "household_id": pa.array(person_household),
        "whereabouts": pa.array(whereabouts),
        "created_at": stamp,
        "updated_at": stamp,
        "jurisdiction_code": pa.array(code_of[person_community]),
    })
    tables = ("compounds", "buildings", "units", "households", "persons")
    with indexes_dropped(engine, tables), raw_load(engine) as dbapi:
        for name, columns in (("compounds", compounds), ("buildings", buildings), ("units", units),
                              ("households", households)):
            write_rows(dbapi, sqlite, name, pa.table(columns))
        write_rows(dbapi, sqlite, "persons", persons)
    reset_sequences(engine, tables)
    vacuum_analyze(engine, tables)
    return People(ids=np.arange(1, n + 1), community=person_community, at_home=at_home, codes=codes,
                  households=len(households["id"]))


# ---------------------------------------------------------------- testing


@dataclass
class Testing:
    """What the benchmarks need to know of the round they run against."""

    round_id: int
    sites: dict[str, int]  # community → its sampling site
    labs: dict[str, int]  # district → its lab's facility id
    lab_codes: dict[int, str]  # facility id → code


def open_round(engine: Engine, codes: Sequence[str], *, started_hours_ago: float = 20) -> Testing:
    """A city-wide round under the rule set (10-in-1 by default) and a sampling site per community."""
    with system_session(engine) as session:
        round_ = service.create_round(session, RoundIn(
            name="第一轮全员核酸检测", jurisdiction_code=demo.CITY[0],
            starts_at=datetime.now(UTC) - timedelta(hours=started_hours_ago)))
        sites = {}
        for code in codes:
            site = service.create_site(session, SiteIn(name=f"{code}采样点", jurisdiction_code=code,
                                                       opens_at=datetime.min.time(),
                                                       closes_at=datetime.max.time().replace(microsecond=0),
                                                       serves=[code]))
            sites[code] = site.id
        labs = {f.jurisdiction_code: f.id for f in session.execute(
            select(Facility).where(Facility.kind == FacilityKind.LAB)).scalars()}
        lab_codes = {f.id: f.code for f in session.execute(
            select(Facility).where(Facility.kind == FacilityKind.LAB)).scalars()}
        return Testing(round_id=round_.id, sites=sites, labs=labs, lab_codes=lab_codes)


def get_round(engine: Engine, round_id: int) -> Round:
    """The round, detached, for service calls in other sessions."""
    with system_session(engine) as session:
        round_ = session.get_one(Round, round_id)
        _ = round_.areas
        session.expunge_all()
        return round_


def site_of(engine: Engine, site_id: int) -> SamplingSite:
    """A sampling site, detached."""
    with system_session(engine) as session:
        site = session.get_one(SamplingSite, site_id)
        session.expunge_all()
        return site


def tube_rows(ids: np.ndarray, codes: pa.Array, community: np.ndarray, city: People, testing: Testing,
              filled: np.ndarray, opened: np.ndarray, *, pool_size: int, sent: bool) -> pa.Table:
    """Rows for ``tubes``: pools opened at their community's site, closed, and sent to the district's lab
    when ``sent``."""
    n = len(ids)
    code_of = np.array(city.codes, dtype=object)[community]
    site = np.array([testing.sites[c] for c in city.codes])[community]
    lab = np.array([testing.labs[c[:6]] for c in city.codes])[community]
    return pa.table({
        "id": pa.array(ids),
        "code": codes,
        "round_id": constant(testing.round_id, n, pa.int64()),
        "site_id": pa.array(site),
        "pool_size": constant(pool_size, n, pa.int64()),
        "purpose": constant("screening", n),
        "state": constant("sent" if sent else "closed", n),
        "filled": pa.array(filled),
        "opened_at": timestamps(opened),
        "closed_at": timestamps(opened + 600),
        "sent_at": timestamps(opened + 3600) if sent else pa.nulls(n, pa.timestamp("us", tz="UTC")),
        "lab_id": pa.array(lab) if sent else pa.nulls(n, pa.int64()),
        "jurisdiction_code": pa.array(code_of),
    })


def sample_rows(first_id: int, person: np.ndarray, tube: np.ndarray, community: np.ndarray, city: People,
                testing: Testing, sampled_at: np.ndarray, *, recorded_by: int | None) -> pa.Table:
    """Rows for ``samples``: the round's screening of ``person`` into ``tube``."""
    n = len(person)
    ids = np.arange(first_id, first_id + n)
    person_text = pa.array(person.astype(str))
    return pa.table({
        "id": pa.array(ids),
        "client_id": pc.binary_join_element_wise(pa.scalar(f"bench-r{testing.round_id}-"),
                                                 pa.array(ids.astype(str)), ""),
        "round_id": constant(testing.round_id, n, pa.int64()),
        "tube_id": pa.array(tube),
        "person_id": pa.array(person),
        "purpose": constant("screening", n),
        "order_id": pa.nulls(n, pa.int64()),
        "sampled_at": timestamps(sampled_at),
        "once_key": pc.binary_join_element_wise(pa.scalar(f"r{testing.round_id}:p"), person_text, ""),
        "recorded_by_id": constant(recorded_by, n, pa.int64()),
        "jurisdiction_code": pa.array(np.array(city.codes, dtype=object)[community]),
    })


def pools(person: np.ndarray, community: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group persons into pools of ``size`` per community: (tube index per person, tube community,
    persons per tube). Persons keep their order within a community, as a queue at a site."""
    order = np.argsort(community, kind="stable")
    c = community[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    position = np.arange(len(c)) - np.repeat(starts, np.diff(np.r_[starts, len(c)]))
    new_tube = (position % size) == 0
    tube_sorted = np.cumsum(new_tube) - 1
    tube = np.empty_like(tube_sorted)
    tube[order] = tube_sorted
    tube_community = c[new_tube]
    filled = np.bincount(tube_sorted)
    return tube, tube_community, filled


# ---------------------------------------------------------------- report


def machine() -> str:
    """Cores, memory and system, for the report."""
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024**2:.0f} GiB"
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {mem} RAM, {platform.system()} {platform.machine()}; "
            f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}")


def database_version(engine: Engine) -> str:
    """The database and the settings that matter for these benchmarks."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pragmas = ", ".join(f"{p}={conn.exec_driver_sql(f'PRAGMA {p}').scalar()}"
                                for p in ("journal_mode", "synchronous", "cache_size", "mmap_size"))
            return f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()} ({pragmas})"
        settings = ", ".join(f"{k}={conn.exec_driver_sql(f'SHOW {k}').scalar()}" for k in (
            "shared_buffers", "work_mem", "max_parallel_workers_per_gather", "synchronous_commit"))
        return f"PostgreSQL {conn.exec_driver_sql('SHOW server_version').scalar()} ({settings})"


def load_average() -> str:
    """The load average, to show whether the machine was quiet."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


class Stopwatch:
    """Seconds since start, for a benchmark's progress lines."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
