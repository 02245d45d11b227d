"""The relational database: declarative base, engine, sessions and shared column types.

Service functions only ``flush()``; whoever opened the session (a request, a CLI command, a job)
owns the commit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store times in UTC with a zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def code_column_type(length: int = 12) -> TypeEngine[str]:
    """A string compared byte-wise, so that "starts with" is an index range (codes, search keys).

    PostgreSQL databases often use a linguistic collation; "C" keeps strings in byte order.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Enums are stored by value in a VARCHAR with a CHECK constraint, the same on both databases.
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        enum.Enum: SAEnum(
            enum.Enum,
            native_enum=False,
            create_constraint=True,
            length=32,
            values_callable=lambda cls: [m.value for m in cls],
        ),
    }


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that SAVEPOINT
    # works (nested transactions in tests, partial rollbacks in services).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A city's tables run to hundreds of MB: a 64 MiB page cache and memory-mapped reads keep
    # scoped counts and searches off the disk (the defaults are 2 MiB and no mmap).
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()


WRITE_OPTION = "fangkong_write"


def _begin_sqlite(conn: Any) -> None:
    # A unit of work that will write takes SQLite's write lock at BEGIN (waiting for it up to the
    # busy timeout). A deferred transaction that reads and then writes fails at once, without
    # waiting, if another writer committed in between.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def writing(engine: Engine) -> Engine:
    """The same engine, for units of work that write (see ``_begin_sqlite``)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode and foreign keys on every connection."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    from fangkong.config import get_settings

    return make_engine(get_settings().database_url)


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """A session maker bound to ``engine`` (the configured one by default)."""
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def system_session(engine: Engine | None = None) -> Iterator[Session]:
    """A session with unrestricted scope for the CLI, jobs and start-up; commits on success."""
    from fangkong.core.scope import Principal

    with session_factory(writing(engine or get_engine()))() as session:
        Principal.system().bind(session)
        try:
            yield session
        except BaseException:
            finish(session, failed=True)
            raise
        finish(session, failed=False)


def describe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def bulk_insert(session: Session, model: Any, rows: list[dict[str, Any]], *, with_ids: bool = False) -> list[int]:
    """Insert many rows of plain values into ``model``'s table in one go: COPY on PostgreSQL,
    ``executemany`` on SQLite. With ``with_ids``, returns the new rows' ids, in the order of ``rows``.

    For the hundreds or thousands of rows one request can bring (a sampling batch, a lab file's
    controls and orders). Values go through the columns' types as with any insert, but around the
    ORM, and so around the audit hook: the caller records what it wrote.
    """
    if not rows:
        return []
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if with_ids:
            stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            return list(connection.execute(stmt, rows).scalars())
        connection.execute(table.insert(), rows)
        return []
    raw: Any = connection.connection.dbapi_connection
    ids: list[int] = []
    if with_ids:
        # The ids, taken from the table's sequence beforehand, are written with the rows.
        found = raw.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                            (table.name, len(rows)))
        ids = [r[0] for r in found]
        rows = [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
    names = list(rows[0])
    dialect = connection.dialect
    processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([v if p is None or v is None else p(v)
                            for v, p in zip((row[n] for n in names), processors, strict=True)])
    return ids


KEPT_KEY = "kept_after_rollback"


def keep_after_rollback(session: Session, table: Any, values: dict[str, Any]) -> None:
    """Insert a row now, and again after a rollback of this transaction.

    For records that must outlive the request that made them even when it fails: a refused
    access, a failed login. Whoever owns the transaction calls ``replay_kept`` after rolling back.
    """
    from sqlalchemy import insert

    session.execute(insert(table).values(**values))
    session.info.setdefault(KEPT_KEY, []).append((table, values))


def replay_kept(session: Session) -> None:
    """After a rollback: write the rows that must survive it, and commit them."""
    from sqlalchemy import insert

    kept = session.info.pop(KEPT_KEY, [])
    for table, values in kept:
        session.execute(insert(table).values(**values))
    if kept:
        session.commit()


def finish(session: Session, *, failed: bool) -> None:
    """Commit, or roll back and keep what must survive: the end of every unit of work."""
    if failed:
        session.rollback()
        replay_kept(session)
    else:
        session.info.pop(KEPT_KEY, None)
        session.commit()
