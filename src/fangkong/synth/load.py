"""Bulk-loading a synthetic dataset into the operational database (``fangkong demo load --from DIR``).

The files of ``schema`` become rows with the ids they carry: jurisdictions; compounds, buildings
and units from the dwellings (a building is a (compound, building) pair and a unit a (compound,
building, unit) triple, numbered in the order of their first household); households; persons;
places; facilities. DuckDB reads the Parquet files and shapes each table's rows; PostgreSQL takes
them by ``COPY`` (CSV written by Arrow), SQLite by large ``executemany`` batches, all in one
transaction. Then the demo logins are added, pointed at real communities of the loaded city.

``COPY`` goes around the ORM and so around the audit hook: the load writes one audit entry per
table itself, with the row count and the dataset it came from.

Presence is not loaded: it stays in Parquet and is placed under the data directory
(``FANGKONG_DATA_DIR/presence``), where tracing queries it with DuckDB.

Place categories: the files' ``bus`` and ``gathering`` are the tables' ``bus_line`` and
``gathering_venue``; every other category has the same name (``kindergarten`` and ``other`` came
with migration 0002). Facility kinds are the same in both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Constraint, Engine, ForeignKeyConstraint, Index, String, UniqueConstraint, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from fangkong.core import audit
from fangkong.core.auth import Role, hash_password
from fangkong.core.db import Base, system_session, utcnow
from fangkong.geo.models import FacilityKind, Jurisdiction, PlaceCategory
from fangkong.people.identity import pinyin_keys
from fangkong.synth import demo
from fangkong.synth.dataset import PRESENCE, DatasetError, read_manifest, verify
from fangkong.synth.schema import PLACE_CATEGORIES
from fangkong.users.models import RoleGrant, User

Progress = Callable[[str, int, int], None]

# Category in the files (schema.PLACE_CATEGORIES) → PlaceCategory: the same name but for two.
PLACE_CATEGORY_OF: dict[str, PlaceCategory] = {
    c: PlaceCategory({"bus": "bus_line", "gathering": "gathering_venue"}.get(c, c)) for c in PLACE_CATEGORIES
}
BATCH_ROWS = 100_000
# Strings quoted, NULL as an empty unquoted field: exactly how PostgreSQL reads CSV ("" is an empty string).
_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")

# Each table's rows, with the table's column names, in id order. ``dwelling`` is a temporary table:
# every household with its compound, building and unit numbered (see ``_DWELLING``).
_ROWS: dict[str, str] = {
    "jurisdictions": """
        SELECT code, name, parent_code, code AS jurisdiction_code
        FROM jurisdictions ORDER BY length(code), code""",
    "compounds": """
        SELECT compound_id AS id, arg_min(compound_name, household_id) AS name, '' AS address,
               arg_min(lat, household_id) AS lat, arg_min(lon, household_id) AS lon,
               arg_min(community_code, household_id) AS jurisdiction_code
        FROM dwelling GROUP BY compound_id ORDER BY id""",
    "buildings": """
        SELECT building_id AS id, compound_id, building AS number,
               arg_min(community_code, household_id) AS jurisdiction_code
        FROM dwelling GROUP BY building_id, compound_id, building ORDER BY id""",
    "units": """
        SELECT unit_id AS id, building_id, unit AS number, arg_min(community_code, household_id) AS jurisdiction_code
        FROM dwelling GROUP BY unit_id, building_id, unit ORDER BY id""",
    "households": """
        SELECT household_id AS id, unit_id, door, community_code AS jurisdiction_code
        FROM dwelling ORDER BY id""",
    "persons": """
        SELECT p.person_id AS id, p.id_number, p.name, k.initials AS name_initials, k.pinyin AS name_pinyin,
               reverse(p.id_number) AS id_number_rev, p.phone, reverse(p.phone) AS phone_rev,
               CASE p.sex WHEN 'M' THEN 'male' WHEN 'F' THEN 'female' END AS sex,
               CAST(p.birth_date AS VARCHAR) AS birth_date, coalesce(h.address, '') AS address, p.household_id,
               $now AS created_at, $now AS updated_at, p.community_code AS jurisdiction_code
        FROM persons p JOIN pinyin k USING (name) LEFT JOIN households h USING (household_id)
        ORDER BY p.person_id""",
    "places": """
        SELECT p.place_id AS id, p.name, c.value AS category, p.venue_code, '' AS address, p.lat, p.lon,
               p.jurisdiction_code
        FROM places p JOIN place_categories c USING (category) ORDER BY id""",
    "facilities": """
        SELECT facility_id AS id, name, CASE WHEN kind = 'lab' THEN 'LAB' || facility_id END AS code, kind,
               '' AS address, capacity, lat, lon, jurisdiction_code
        FROM facilities ORDER BY id""",
}
_DWELLING = """
    CREATE TEMP TABLE dwelling AS
    WITH d AS (
        SELECT d.household_id, d.compound_id, d.compound_name, coalesce(d.building, '') AS building,
               coalesce(d.unit, '') AS unit, coalesce(d.door, '') AS door, h.community_code, h.lon, h.lat
        FROM dwellings d JOIN households h USING (household_id)
    ), b AS (
        SELECT compound_id, building, row_number() OVER (ORDER BY min(household_id)) AS building_id
        FROM d GROUP BY compound_id, building
    ), u AS (
        SELECT compound_id, building, unit, row_number() OVER (ORDER BY min(household_id)) AS unit_id
        FROM d GROUP BY compound_id, building, unit
    )
    SELECT d.*, b.building_id, u.unit_id
    FROM d JOIN b USING (compound_id, building) JOIN u USING (compound_id, building, unit)"""
# What must hold before anything is written: (query counting the offending rows, what they are).
_CHECKS = [
    ("SELECT count(*) FILTER (WHERE length(code) = 12) = 0 FROM jurisdictions",
     "jurisdictions.parquet: no communities"),
    ("SELECT count(*) FROM jurisdictions WHERE length(code) NOT IN (2, 4, 6, 9, 12)",
     "jurisdictions.parquet: {n} codes of a length that is not a division code's"),
    ("SELECT count(*) FROM persons WHERE sex IS NULL OR sex NOT IN ('M', 'F')",
     "persons.parquet: {n} rows with a sex other than M or F"),
    ("SELECT count(*) - count(DISTINCT id_number) FROM persons", "persons.parquet: {n} repeated ID numbers"),
    ("SELECT count(*) FROM persons WHERE name IS NULL OR id_number IS NULL OR birth_date IS NULL",
     "persons.parquet: {n} rows without a name, ID number or birth date"),
    ("SELECT count(*) FROM persons p ANTI JOIN households h USING (household_id) WHERE p.household_id IS NOT NULL",
     "persons.parquet: {n} persons of a household that households.parquet does not have"),
    ("SELECT count(*) FROM places WHERE category NOT IN (SELECT category FROM place_categories)",
     "places.parquet: {n} rows of an unknown category"),
    ("SELECT count(*) - count(DISTINCT venue_code) FROM places", "places.parquet: {n} repeated venue codes"),
    ("SELECT count(*) FROM facilities WHERE kind NOT IN (SELECT value FROM facility_kinds)",
     "facilities.parquet: {n} rows of an unknown kind"),
    ("SELECT count(*) FROM households h ANTI JOIN dwellings d USING (household_id)",
     "households.parquet: {n} households without a dwelling"),
]


class NotEmpty(RuntimeError):
    """The database already holds a city; a dataset is loaded only into an empty one."""


def load_dataset(target: Session | Engine, folder: Path, *, data_dir: Path | None = None,
                 last_day: date | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Load the dataset in ``folder`` into an empty database; returns the rows written per table.

    Given an engine, the load is its own transaction, and presence is placed once it has
    committed; given a session, the caller commits (presence is placed before returning).
    ``data_dir`` defaults to the configured ``FANGKONG_DATA_DIR``. With ``last_day``, the presence
    records are moved in time so that their last day falls on it (see ``install_presence``).
    Raises ``DatasetError`` for a damaged dataset and ``NotEmpty`` when the database already has
    jurisdictions.
    """
    folder = Path(folder)
    if data_dir is None:
        from fangkong.config import get_settings

        data_dir = get_settings().data_dir
    report: Progress = progress or (lambda table, done, total: None)
    if isinstance(target, Engine):
        with system_session(target) as session:
            counts = _load(session, folder, report)
    else:
        counts = _load(target, folder, report)
    shift = timedelta(0)
    if last_day is not None:
        shift = last_day - read_manifest(folder).presence_days[-1]
    counts["presence files"] = install_presence(folder, data_dir, shift=shift)
    return counts


def install_presence(folder: Path, data_dir: Path, *, shift: timedelta = timedelta(0)) -> int:
    """Place the dataset's ``presence/`` at ``data_dir/presence``, replacing what is there; returns its files.

    Files are hard-linked when the dataset is on the same file system (Parquet files are never
    changed in place), copied otherwise. The new folder is complete before it replaces the old one.

    A ``shift`` of whole days replays the records that much later: every ``t_in`` and ``t_out``
    moves by it and each day's partition is renamed to its new day. The demo uses it so that a
    city recorded in January 2021 is traced against cases reported today.
    """
    if shift % timedelta(days=1):
        raise ValueError(f"presence moves by whole days, not by {shift}")
    source = folder / PRESENCE
    target = data_dir / PRESENCE
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f".{PRESENCE}.partial-{os.getpid()}"
    aside = data_dir / f".{PRESENCE}.replaced-{os.getpid()}"
    for leftover in (staging, aside):
        shutil.rmtree(leftover, ignore_errors=True)
    if shift:
        _write_shifted(source, staging, shift)
    else:
        shutil.copytree(source, staging, copy_function=_link_or_copy)
    if target.exists():
        target.rename(aside)
    staging.rename(target)
    shutil.rmtree(aside, ignore_errors=True)
    return sum(1 for p in target.rglob("*.parquet"))


def _load(session: Session, folder: Path, report: Progress) -> dict[str, int]:
    """Check, then write every table and the demo logins in ``session``'s transaction."""
    existing = session.execute(select(func.count()).select_from(Jurisdiction)).scalar_one()
    if existing:
        raise NotEmpty(f"the database already holds {existing} jurisdictions; load a dataset into an empty one")
    manifest = verify(folder, progress=report)
    reason = f"dataset {manifest.scenario}, seed {manifest.seed}, {manifest.population} persons ({folder.name})"
    counts: dict[str, int] = {}
    with _dataset(folder) as con:
        for query, problem in _CHECKS:
            n = _count(con, query)
            if n:
                raise DatasetError(problem.format(n=n))
        con.execute(_DWELLING)
        _register_pinyin(con, report)
        params = {"now": _timestamp_text(session, utcnow())}
        totals = {table: _measure(con, table, query, params) for table, query in _ROWS.items()}
        write = _copy if session.get_bind().dialect.name == "postgresql" else _insert
        for table, query in _ROWS.items():
            report(table, 0, totals[table])
            done = 0
            with _checks_deferred(session, table):
                rows = con.sql(query, params=_used(params, query)).to_arrow_reader(BATCH_ROWS)
                for done in write(session, table, rows):
                    report(table, done, totals[table])
            counts[table] = done
            audit.record(session, audit.Action.CREATE, entity_name=table,
                         detail={"count": counts[table], "reason": reason})
        if session.get_bind().dialect.name == "postgresql":
            _advance_sequences(session)
        counts["users"] = _add_demo_users(session, con, reason)
        counts.update(_command_organisation(session, con, reason))
    session.flush()
    return counts


def _command_organisation(session: Session, con: duckdb.DuckDBPyConnection, reason: str) -> dict[str, int]:
    """The demo's headquarters and standard task forces over the loaded tree (``organisation.seed_demo``),
    with a committee for each community worker's community; audited as one entry per table."""
    from fangkong.command import organisation

    names = dict(con.execute("SELECT code, name FROM jurisdictions").fetchall())
    cities = sorted(code for code in names if len(code) == 4)
    if not cities:
        return {}
    placed = _demo_jurisdictions(names)
    committees = {placed[u.username]: (names[placed[u.username]] + "居委会", u.username)
                  for u in demo.DEMO_USERS if u.role is Role.COMMUNITY_WORKER}
    districts = [(code, names[code]) for code in sorted(names) if len(code) == 6 and code.startswith(cities[0])]
    previous = session.info.get(audit.BULK_KEY)
    audit.bulk(session, reason)
    made = organisation.seed_demo(session, city=cities[0], city_name=names[cities[0]], districts=districts,
                                  committees=committees)
    if previous is None:
        session.info.pop(audit.BULK_KEY)
    else:
        session.info[audit.BULK_KEY] = previous
    return {"command units": made["units"], "task forces": made["task_forces"]}


@contextmanager
def _dataset(folder: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with a view per file of the dataset and the category mappings."""
    with duckdb.connect() as con:
        for name in ("jurisdictions", "households", "dwellings", "persons", "places", "facilities"):
            con.read_parquet(str(folder / f"{name}.parquet")).create_view(name)
        con.register("place_categories", pa.table({"category": list(PLACE_CATEGORY_OF),
                                                   "value": [c.value for c in PLACE_CATEGORY_OF.values()]}))
        con.register("facility_kinds", pa.table({"value": [k.value for k in FacilityKind]}))
        yield con


def _count(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any] | None = None) -> int:
    ((n,),) = con.execute(query, params).fetchall()
    return int(n)


def _used(params: dict[str, Any], query: str) -> dict[str, Any] | None:
    """The parameters ``query`` names (DuckDB refuses any other)."""
    return {k: v for k, v in params.items() if f"${k}" in query} or None


def _measure(con: duckdb.DuckDBPyConnection, table: str, query: str, params: dict[str, Any]) -> int:
    """The rows ``query`` gives for ``table``; DatasetError if a text is longer than its column.

    PostgreSQL would stop the COPY midway with a bare error, and SQLite would quietly keep it.
    """
    # Only the columns the query gives: the others take their defaults (persons.whereabouts: at home).
    given = set(con.sql(query, params=_used(params, query)).columns)
    limits = [(c.name, c.type.length) for c in Base.metadata.tables[table].columns
              if isinstance(c.type, String) and c.type.length and c.name in given]
    too_long = "".join(f", count(*) FILTER (WHERE length({name}) > {length})" for name, length in limits)
    ((total, *over),) = con.execute(f"SELECT count(*){too_long} FROM ({query})", _used(params, query)).fetchall()
    for (name, length), n in zip(limits, over, strict=True):
        if n:
            raise DatasetError(f"{n} values of {table}.{name} are longer than its {length} characters")
    return int(total)


def _register_pinyin(con: duckdb.DuckDBPyConnection, report: Progress) -> None:
    """Pinyin search keys (张三 → zs, zhangsan), computed once per distinct name: the slow part of a load."""
    names = [n for (n,) in con.execute("SELECT DISTINCT name FROM persons ORDER BY name").fetchall()]
    initials: list[str] = []
    full: list[str] = []
    report("search keys", 0, len(names))
    for i, name in enumerate(names, start=1):
        a, b = pinyin_keys(name)
        initials.append(a)
        full.append(b)
        if i % 10_000 == 0 or i == len(names):
            report("search keys", i, len(names))
    con.register("pinyin", pa.table({"name": names, "initials": initials, "pinyin": full}))


def _copy(session: Session, table: str, reader: pa.RecordBatchReader) -> Iterator[int]:
    """PostgreSQL: stream the batches through one ``COPY … FROM STDIN`` as CSV; yields the rows sent so far."""
    raw: Any = session.connection().connection.driver_connection  # psycopg 3, in the session's transaction
    done = 0
    with raw.cursor() as cursor, cursor.copy(
        f"COPY {table} ({', '.join(reader.schema.names)}) FROM STDIN (FORMAT csv)"
    ) as copy:
        for batch in reader:
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(batch, sink, _CSV)
            copy.write(memoryview(sink.getvalue()))
            done += batch.num_rows
            yield done


def _insert(session: Session, table: str, reader: pa.RecordBatchReader) -> Iterator[int]:
    """SQLite: one ``executemany`` per batch, in the session's transaction; yields the rows inserted so far."""
    raw: Any = session.connection().connection.driver_connection
    names = reader.schema.names
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    done = 0
    cursor = raw.cursor()
    try:
        for batch in reader:
            cursor.executemany(sql, zip(*(column.to_pylist() for column in batch.columns), strict=True))
            done += batch.num_rows
            yield done
    finally:
        cursor.close()


@contextmanager
def _checks_deferred(session: Session, table: str) -> Iterator[None]:
    """Drop the table's secondary indexes (and, on PostgreSQL, its unique and foreign-key constraints)
    for the load and build them once after it, which validates every row at once.

    Building an index or checking a foreign key once over the whole table is several times faster
    than row by row (deferring the constraints as well took the full city's load on PostgreSQL from
    82 s to 58 s). Safe because the table is empty and both databases roll DDL back with the
    transaction; SQLite cannot drop constraints, so there they are checked row by row.
    """
    metadata = Base.metadata.tables[table]
    indexes: list[Index] = sorted(metadata.indexes, key=lambda i: i.name or "")
    connection = session.connection()
    constraints: list[Constraint] = []
    if connection.dialect.name == "postgresql":
        deferrable = (c for c in metadata.constraints if isinstance(c, UniqueConstraint | ForeignKeyConstraint))
        constraints = sorted(deferrable, key=lambda c: str(c.name))
    for constraint in constraints:
        connection.execute(DropConstraint(constraint))
    for index in indexes:
        index.drop(connection)
    yield
    for index in indexes:
        index.create(connection)
    for constraint in constraints:
        connection.execute(AddConstraint(constraint))


def _advance_sequences(session: Session) -> None:
    """PostgreSQL: move each id sequence past the ids the files brought."""
    for table in ("compounds", "buildings", "units", "households", "persons", "places", "facilities"):
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
        ))


def _timestamp_text(session: Session, value: datetime) -> str:
    """``value`` as this database stores a ``UTCDateTime`` (SQLite keeps text in SQLAlchemy's format)."""
    dialect = session.get_bind().dialect
    processor = Base.metadata.tables["persons"].c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    stored = processor(value) if processor else value
    return stored if isinstance(stored, str) else stored.isoformat()


def _add_demo_users(session: Session, con: duckdb.DuckDBPyConnection, reason: str) -> int:
    """The logins of ``demo.DEMO_USERS``, placed in the loaded city (see ``_demo_jurisdictions``).

    The lab account works for the first lab in its jurisdiction (else the first lab).
    """
    names = dict(con.execute("SELECT code, name FROM jurisdictions").fetchall())
    labs = con.execute("SELECT facility_id, jurisdiction_code FROM facilities WHERE kind = 'lab' "
                       "ORDER BY facility_id").fetchall()
    placed = _demo_jurisdictions(names)
    demo_names = {code: name for code, name, _ in demo.DISTRICTS}
    password_hash = hash_password(demo.DEMO_PASSWORD)  # one password for every demo login: hash it once
    previous = session.info.get(audit.BULK_KEY)
    audit.bulk(session, reason)
    for user in demo.DEMO_USERS:
        code = placed[user.username]
        display = user.display_name
        if user.role is Role.COMMUNITY_WORKER:
            display = f"{names[code]}网格员"
        elif code != user.code and user.code in demo_names:  # 东昌区指挥长 → <the district it got>指挥长
            display = display.replace(demo_names[user.code], names[code])
        facility_id = None
        if user.facility and labs:
            facility_id = next((f for f, c in labs if c.startswith(code)), labs[0][0])
        session.add(User(username=user.username, display_name=display, password_hash=password_hash,
                         jurisdiction_code=code, facility_id=facility_id,
                         grants=[RoleGrant(role=user.role, jurisdiction_code=code)]))
    session.flush()
    if previous is None:
        session.info.pop(audit.BULK_KEY)
    else:
        session.info[audit.BULK_KEY] = previous
    return len(demo.DEMO_USERS)


def _demo_jurisdictions(names: dict[str, str]) -> dict[str, str]:
    """Username → jurisdiction code of each demo login in a city whose tree is ``names``.

    A community worker gets the first community of their district (东昌区, 二道江区) when it was
    loaded; otherwise the first community of a street no other worker has, so that the two
    workers still see different people in a one-district slice. Anyone else keeps their
    jurisdiction when it was loaded, else takes the first one of the same level.
    """
    codes = sorted(names)
    communities = [c for c in codes if len(c) == 12]
    placed: dict[str, str] = {}
    workers = [u for u in demo.DEMO_USERS if u.role is Role.COMMUNITY_WORKER]
    # Workers whose district is there choose first.
    workers.sort(key=lambda u: not any(c.startswith(u.code[:6]) for c in communities))
    for user in workers:
        own = [c for c in communities if c.startswith(user.code[:6])]
        taken = {code[:9] for code in placed.values()}
        elsewhere = [c for c in communities if c[:9] not in taken]
        placed[user.username] = (own or elsewhere or communities)[0]
    for user in demo.DEMO_USERS:
        if user.role is not Role.COMMUNITY_WORKER:
            same_level = [c for c in codes if len(c) == len(user.code)]
            placed[user.username] = user.code if user.code in names else (same_level or codes)[0]
    return placed


def _write_shifted(source: Path, target: Path, shift: timedelta) -> None:
    """Copy the ``day=YYYY-MM-DD`` partitions of ``source`` to ``target``, each ``shift`` later."""
    target.mkdir(parents=True)
    moved = pa.scalar(shift, pa.duration("us"))
    for partition in sorted(source.glob("day=*")):
        day = date.fromisoformat(partition.name.removeprefix("day=")) + shift
        folder = target / f"day={day.isoformat()}"
        folder.mkdir()
        for file in sorted(partition.glob("*.parquet")):
            table = pq.read_table(file)
            for name in ("t_in", "t_out"):
                column = table[name]
                table = table.set_column(table.schema.get_field_index(name), name,
                                         pc.add(column, moved).cast(column.type))
            pq.write_table(table, folder / file.name)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)

