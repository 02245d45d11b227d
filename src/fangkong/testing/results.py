"""Applying a lab's result file: whole or not at all, every bad row reported, a re-import a no-op.

A good file is stored at once. While the file is read, the tubes opened lately that the importer
may report on are read too (on PostgreSQL, by the server at the same time, in one value); the
file's tube codes are looked up among them in memory, and when every row's tube is there and was
sent to the file's lab or to none, the rows are copied into the results table in the order of
their tubes, in a savepoint. A tube whose result is on file already breaks the primary key there,
and the savepoint takes the rows back. Then, or when the file's first rows are on file already (a
file saved again, a lab's file of the day so far), the results on file of the recent tubes are read
the same way: rows with the same result are no change, rows with another are refused, the rest is
stored.

Otherwise the file is checked row by row: its rows are copied into a temporary table,
and one query over them finds every row the database refuses and why (an unknown tube, another
lab's tube, a result already on file that differs, an unknown lab) and, in the same pass, the few
tubes whose result needs a reaction; a second stores the new results. Either way the pool loop
runs for the few. A million rows never pass through the ORM one by one.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangkong.core import audit, jobs
from fangkong.core.auth import Permission
from fangkong.core.db import UTCDateTime, utcnow
from fangkong.core.errors import N_, FieldError, Invalid, NotFound
from fangkong.core.scope import criteria_for, get_or_404, principal_of, system_access
from fangkong.geo.models import Facility, FacilityKind
from fangkong.testing import binary_copy, resultfile, service
from fangkong.testing.models import Outcome, Purpose, ResultImport, Tube, TubeResult

# The staging table of one import; temporary, so it is the session's own and vanishes with it.
_staging_metadata = MetaData()
STAGING = Table(
    "result_import_rows", _staging_metadata,
    Column("row", Integer), Column("tube_code", String(40)), Column("outcome", String(16)),
    Column("tested_at", DateTime(timezone=True)), Column("lab_code", String(40)), Column("lab_id", Integer),
    Column("ct_value", Float),
    prefixes=["TEMPORARY"],
)
STAGING_COLUMNS = ("row", "tube_code", "outcome", "tested_at", "lab_code", "lab_id", "ct_value")
# How each column travels in the binary COPY that fills the table on PostgreSQL.
_STAGED_AS = {"row": "int4", "tube_code": "text", "outcome": "text", "tested_at": "timestamptz", "lab_code": "text",
              "lab_id": "int4", "ct_value": "float8"}
# Hash joins of a million staged rows with the tubes fit in memory with this (PostgreSQL's default,
# 4 MB, splits them into batches written to disk); set for the import's transaction only.
IMPORT_WORK_MEM = "256MB"
# A file saved again under another name has every row on file already, and would be refused by the
# store at once only after joining all its rows with the tubes: its first rows tell beforehand.
PROBED_ROWS = 100
# The tubes opened this long before an import are matched with the file in Python, all at once; a
# file that names an older tube is checked row by row instead (the same outcome, more slowly).
RECENT = timedelta(days=7)
# A smaller file is checked row by row: the recent tubes of a lab (a million in a city-wide round)
# would cost more to read than the join of a few thousand rows.
MATCHED_FROM_BYTES = 1 << 20
# How the stored columns travel in the binary COPY of a good file, and the rows sent at a time.
_STORED_AS = {"tube_id": "int4", "outcome": "text", "tested_at": "timestamptz", "ct_value": "float8",
              "jurisdiction_code": "text"}
COPY_PART = 100_000

Progress = Callable[[int, int, str], None]


def import_results(session: Session, data: bytes, filename: str, *, now: datetime | None = None,
                   progress: Progress | None = None) -> tuple[ResultImport, bool]:
    """Apply a result file; returns the import and whether it had been applied before.

    Raises ``Invalid`` listing every bad row when any row is bad; then nothing is written.
    """
    principal = principal_of(session)
    principal.require(Permission.RESULTS_WRITE)
    now = now or utcnow()
    report = progress or (lambda done, total, message: None)
    digest = hashlib.sha256(data).hexdigest()
    earlier = session.execute(select(ResultImport).where(ResultImport.sha256 == digest)
                              .order_by(ResultImport.id)).scalars().first()
    if earlier is not None:
        return earlier, True
    bind = session.connection()
    # On PostgreSQL the recent tubes are read while the file is: the server works while Python reads.
    recent = _RecentTubes(session, now) if len(data) >= MATCHED_FROM_BYTES else None
    try:
        parsed = resultfile.read_results(data, filename, now=now)
    except BaseException:
        if recent is not None:
            with contextlib.suppress(Exception):
                recent.join()  # the file's fault is the one to report
        raise
    if recent is not None:
        recent.join()
    total = parsed.rows.num_rows + len(parsed.errors)
    report(0, total, N_("Checking the file"))
    errors = list(parsed.errors)
    if bind.dialect.name == "postgresql":
        bind.execute(text("SELECT set_config('work_mem', :size, true)"), {"size": IMPORT_WORK_MEM})
    labs = _labs(session, parsed.rows)
    lab_ids = _lab_ids(parsed.rows, labs)
    lab_id = next(iter(labs.values())) if len(labs) == 1 else None
    home = principal.home_code
    if not home and lab_id is not None:
        # The system (the command line) has no home: the import belongs where its lab is, so that
        # the lab and the testing staff over it see it.
        home = session.get_one(Facility, lab_id).jurisdiction_code

    def new_record() -> ResultImport:
        return ResultImport(filename=filename[:200], sha256=digest, lab_id=lab_id, rows=parsed.rows.num_rows,
                            imported_at=now, imported_by_id=principal.user_id, jurisdiction_code=home)

    # A large file in which neither the reader nor the lab codes find anything wrong, whose every
    # tube is a recent one of its lab, is stored at once. When some of its tubes have results on
    # file (the same file saved again, or a lab's file of the day so far), those results are read
    # too: a row with the same result is no change, one with another is refused, the rest is
    # stored. Only when a tube is not among the recent ones, or the database refuses a row, is the
    # file checked row by row, to say which and why.
    stored = None
    if recent is not None and not errors and lab_id is not None and _labs_are_own(lab_ids, principal.facility_id):
        matched = _match(parsed.rows, recent.tubes(), lab_id)
        report(total // 3, total, N_("Checking against tubes on file"))
        if matched is not None:
            probed = parsed.rows.column("tube_code").slice(0, PROBED_ROWS).to_pylist()
            if not _any_on_file(session, probed):
                stored = _store_matched(session, parsed.rows, matched, lab_id, new_record(), now)
            if stored is None:
                stored = _store_new(session, parsed.rows, matched, lab_id, new_record(), now)
    if stored is not None:
        record, to_react = stored
        report(2 * total // 3, total, N_("Storing results"))
    else:
        STAGING.drop(bind, checkfirst=True)
        STAGING.create(bind)
        try:
            _stage(session, parsed.rows, lab_ids)
            report(total // 3, total, N_("Checking against tubes on file"))
            checked = _check(session)
            errors += checked.errors
            if errors:
                _refuse(errors)
            record = new_record()
            session.add(record)
            session.flush()
            report(2 * total // 3, total, N_("Storing results"))
            # A file whose every row is on file already (the same results saved again) stores nothing.
            record.new_results = (_store(session, record.id, now, skip_stored=checked.stored > 0)
                                  if checked.stored < parsed.rows.num_rows else 0)
            to_react = checked.to_react
        finally:
            STAGING.drop(bind, checkfirst=True)
    reactions = service.apply_results(session, to_react, now=now)
    record.positives = reactions.get("positive_pools", 0) + reactions.get("positives", 0)
    audit.record(session, audit.Action.CREATE, entity=record,
                 detail={"results": record.new_results, "file": record.filename, **dict(reactions)})
    session.flush()
    report(total, total, N_("Done"))
    return record, False


def _labs(session: Session, rows: pa.Table) -> dict[str, int]:
    """The labs the file names that exist, by code (usually one)."""
    codes = [c for c in pc.unique(rows.column("lab_code")).to_pylist() if c is not None]
    if not codes:
        return {}
    with system_access(session):
        found = session.execute(select(Facility.code, Facility.id).where(
            Facility.code.in_(codes), Facility.kind == FacilityKind.LAB)).all()
    return {code: lab_id for code, lab_id in found if code is not None}


def _lab_ids(rows: pa.Table, labs: dict[str, int]) -> pa.Array:
    """Each row's lab id, by its lab code (null for a code that names no lab)."""
    known = pa.array(list(labs), pa.string())
    where = pc.index_in(rows.column("lab_code"), value_set=known)
    return pc.take(pa.array(list(labs.values()), pa.int32()), where).combine_chunks()


def _labs_are_own(lab_ids: pa.Array, own_lab: int | None) -> bool:
    """Whether every row names a lab, and the uploader's own when it works for one."""
    if lab_ids.null_count:
        return False
    return own_lab is None or not len(lab_ids) or pc.all(pc.equal(lab_ids, own_lab)).as_py() is True


def _stage(session: Session, rows: pa.Table, lab_ids: pa.Array) -> None:
    """Copy the parsed rows, with their lab's id, into the staging table (binary COPY on PostgreSQL)."""
    if not rows.num_rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        values = {"row": rows.column("row"), "tube_code": rows.column("tube_code"), "outcome": rows.column("result"),
                  "tested_at": rows.column("tested_at"), "lab_code": rows.column("lab_code"), "lab_id": lab_ids,
                  "ct_value": rows.column("ct_value")}
        buffer = binary_copy.encode([binary_copy.Field(values[name], _STAGED_AS[name]) for name in STAGING_COLUMNS])
        raw: Any = connection.connection.dbapi_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {STAGING.name} ({', '.join(STAGING_COLUMNS)}) FROM STDIN (FORMAT binary)") as copy:
                view = memoryview(buffer)
                for start in range(0, len(view), 1 << 20):
                    copy.write(view[start:start + (1 << 20)])
            # The planner's row counts for the joins that follow (a temporary table has none).
            cursor.execute(f"ANALYZE {STAGING.name}")
        return
    # Times as text, UTC, in SQLAlchemy's form, which is how SQLite keeps them.
    tested = pc.cast(rows.column("tested_at").cast(pa.timestamp("us")), pa.string())
    staged = zip(rows.column("row").to_pylist(), rows.column("tube_code").to_pylist(),
                 rows.column("result").to_pylist(), tested.to_pylist(), rows.column("lab_code").to_pylist(),
                 lab_ids.to_pylist(), rows.column("ct_value").to_pylist(), strict=True)
    raw_sqlite: Any = connection.connection.dbapi_connection
    raw_sqlite.executemany(f"INSERT INTO {STAGING.name} VALUES ({', '.join('?' * len(STAGING_COLUMNS))})", staged)


def _tube_scope(session: Session) -> Any:
    """The tubes this user may import results for: those in their jurisdiction.

    A lab may report on tubes of its area that were not marked as sent to it (the hand-over is not
    always scanned); a tube sent to another lab is refused row by row in ``_check``.
    """
    principal = replace(principal_of(session), facility_id=None, _cache={})
    visible = criteria_for(principal, Tube, Permission.TUBES_READ)
    return visible if visible is not None else literal(True)


@dataclass
class _Checked:
    """What the checking pass found: the refused rows, the tubes to react to, rows already stored."""

    errors: list[FieldError] = field(default_factory=list)
    to_react: list[int] = field(default_factory=list)
    stored: int = 0  # rows whose tube has this very result already: nothing to store


def _check(session: Session) -> _Checked:
    """Every staged row the database refuses, with the reason; and, in the same pass, the tubes whose
    new result sets the pool loop going (anything not negative, and every re-test)."""
    own_lab = principal_of(session).facility_id
    s, t, r = STAGING.c, Tube.__table__.c, TubeResult.__table__.c
    refused = or_(t.id.is_(None), s.lab_id.is_(None), and_(r.tube_id.is_not(None), r.outcome != s.outcome),
                  and_(t.lab_id.is_not(None), t.lab_id != s.lab_id),
                  *([s.lab_id != own_lab] if own_lab is not None else []))
    reacting = and_(r.tube_id.is_(None), or_(s.outcome != Outcome.NEGATIVE.value, t.purpose == Purpose.RETEST.value))
    stmt = (
        select(s.row, s.tube_code, s.outcome, s.lab_code, t.id.label("tube_id"), t.lab_id.label("sent_to"),
               r.outcome.label("existing"), s.lab_id, refused.label("refused"))
        .select_from(STAGING)
        .outerjoin(Tube.__table__, and_(t.code == s.tube_code, _tube_scope(session)))
        .outerjoin(TubeResult.__table__, r.tube_id == t.id)
        .where(or_(refused, reacting, r.tube_id.is_not(None)))
    )
    checked = _Checked()
    with system_access(session):
        for row in session.execute(stmt):
            if row.refused:
                checked.errors += _refusals(row, own_lab)
            elif row.existing is not None:
                checked.stored += 1
            else:
                checked.to_react.append(row.tube_id)
    return checked


def _refusals(row: Any, own_lab: int | None) -> list[FieldError]:
    """Why the database refuses one staged row (nothing when it does not)."""
    errors = []
    if row.tube_id is None:
        errors.append(FieldError("tube_code", N_("Unknown tube {code}."), {"code": row.tube_code}, row.row))
    elif row.sent_to is not None and row.lab_id is not None and row.sent_to != row.lab_id:
        errors.append(FieldError("tube_code", N_("Tube {code} was sent to another laboratory."),
                                 {"code": row.tube_code}, row.row))
    if row.lab_id is None:
        errors.append(FieldError("lab_code", N_("Unknown laboratory {code}."), {"code": row.lab_code}, row.row))
    elif own_lab is not None and row.lab_id != own_lab:
        errors.append(FieldError("lab_code", N_("Laboratory {code} is not yours."), {"code": row.lab_code},
                                 row.row))
    if row.existing is not None and row.existing != row.outcome:
        errors.append(_recorded_differently(row.tube_code, row.existing, row.row))
    return errors


# The result on file is part of the message, not a parameter: an upload's errors are kept with its
# job and shown later in the reader's language, while a parameter keeps the language it was filled in.
RECORDED_DIFFERENTLY = {
    Outcome.NEGATIVE: N_("Tube {code} already has the result negative; a different result cannot replace it."),
    Outcome.POSITIVE: N_("Tube {code} already has the result positive; a different result cannot replace it."),
    Outcome.INVALID: N_("Tube {code} already has the result invalid; a different result cannot replace it."),
    Outcome.INCONCLUSIVE: N_("Tube {code} already has the result inconclusive; a different result cannot "
                             "replace it."),
}


def _recorded_differently(code: str, existing: str, row: int) -> FieldError:
    """The error of a row whose tube has another result on file."""
    return FieldError("result", RECORDED_DIFFERENTLY[Outcome(existing)], {"code": code}, row)


def _refuse(errors: list[FieldError]) -> None:
    """Refuse the file, naming every bad row in the order of the sheet."""
    errors.sort(key=lambda e: (e.row or 0, e.field))
    raise Invalid(N_("The file was not applied: {count} rows have errors. Correct them and upload it again."),
                  errors=errors, count=len({e.row for e in errors}))


def _any_on_file(session: Session, codes: list[str]) -> bool:
    """Whether any of these tubes has a result on file already."""
    with system_access(session):
        return session.execute(select(TubeResult.tube_id).join(Tube, Tube.id == TubeResult.tube_id)
                               .where(Tube.code.in_(codes)).limit(1)).first() is not None


class _RecentTubes:
    """The tubes an import may report on that were opened lately, as columns: code, id, lab,
    jurisdiction and purpose of each.

    These are the tubes in the importer's scope opened within ``RECENT`` of the import, sent to the
    importer's lab or to no lab yet (any lab, for the system). The database writes them as the lines
    of a CSV text, in one value, which Arrow reads. On PostgreSQL a thread started at once asks for
    it, so that the server reads the tubes while Python reads the file; ``join`` waits for it, and
    nothing else may use the session's connection until then. On SQLite it is asked for when first
    needed.
    """

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        t = Tube.__table__.c
        tubes = (select(t.code, t.id, t.lab_id, t.jurisdiction_code, t.purpose)
                 .where(*_recent_tubes(session, now)).subquery())
        comma = literal(",")
        line = (literal('"') + func.replace(tubes.c.code, '"', '""') + literal('",') + cast(tubes.c.id, String)
                + comma + func.coalesce(cast(tubes.c.lab_id, String), "") + comma + tubes.c.jurisdiction_code
                + comma + cast(tubes.c.purpose, String))
        self.query = select(func.aggregate_strings(line, "\n"))
        self._table: pa.Table | None = None
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            compiled = self.query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
            raw = connection.connection.dbapi_connection
            self._thread = threading.Thread(target=self._read, args=(raw, str(compiled), compiled.params),
                                            name="recent-tubes", daemon=True)
            self._thread.start()

    def _read(self, raw: Any, sql: str, params: dict[str, Any]) -> None:
        try:
            # One value, not a row per tube: the thread then waits on the server, without the
            # interpreter's lock, instead of taking it for every row while the file is read.
            with raw.cursor() as cursor:
                found = cursor.execute(sql, params).fetchone()
            self._table = _read_lines(found[0] if found is not None else None, _RECENT)
        except BaseException as exc:  # handed to the importer's thread by ``join``
            self._failure = exc

    def join(self) -> None:
        """Wait until the tubes are read (PostgreSQL); raise what reading them raised."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def tubes(self) -> pa.Table:
        """The recent tubes (read now on SQLite)."""
        self.join()
        if self._table is None:
            with system_access(self.session):
                self._table = _read_lines(self.session.execute(self.query).scalar(), _RECENT)
        return self._table


def _recent_tubes(session: Session, now: datetime) -> list[Any]:
    """The conditions on ``tubes`` of the recent tubes an import may report on: opened within ``RECENT``,
    in the importer's scope, sent to the importer's lab or to none yet (to any lab, for the system)."""
    t = Tube.__table__.c
    own_lab = principal_of(session).facility_id
    return [t.opened_at >= now - RECENT, _tube_scope(session),
            *([or_(t.lab_id == own_lab, t.lab_id.is_(None))] if own_lab is not None else [])]


def _read_lines(lines: str | None, schema: pa.Schema) -> pa.Table:
    """The rows the database wrote as CSV lines in one value (``_RECENT``, ``_ON_FILE``)."""
    if not lines:
        return schema.empty_table()
    return pacsv.read_csv(pa.BufferReader(lines.encode()), read_options=pacsv.ReadOptions(column_names=schema.names),
                          convert_options=pacsv.ConvertOptions(column_types=schema))


# The recent tubes, and the results on file of some.
_RECENT = pa.schema({"code": pa.string(), "id": pa.int32(), "lab_id": pa.int32(), "jurisdiction_code": pa.string(),
                     "purpose": pa.string()})
_ON_FILE = pa.schema({"id": pa.int32(), "outcome": pa.string()})


@dataclass
class _Matched:
    """The file's rows matched with their tubes: each row's tube id and jurisdiction, and whether its
    new result sets the pool loop going (anything not negative, and every re-test)."""

    tube_ids: pa.Array
    jurisdictions: pa.Array
    reacting: pa.Array

    def to_react(self, among: pa.Array | None = None) -> list[int]:
        """The tubes to react to, of every row or of the rows ``among`` marks."""
        chosen = self.reacting if among is None else pc.and_(self.reacting, among)
        return sorted(pc.filter(self.tube_ids, chosen).to_pylist())


def _match(rows: pa.Table, tubes: pa.Table, lab_id: int) -> _Matched | None:
    """Each row's tube among ``tubes``; None when a row's tube is not among them or was sent to another lab."""
    where = pc.index_in(rows.column("tube_code"), value_set=tubes.column("code"))
    if where.null_count:
        return None
    sent_to = pc.take(tubes.column("lab_id"), where)
    if pc.any(pc.not_equal(sent_to, lab_id)).as_py():
        return None
    reacting = pc.or_(pc.not_equal(rows.column("result"), Outcome.NEGATIVE.value),
                      pc.equal(pc.take(tubes.column("purpose"), where), Purpose.RETEST.value))
    return _Matched(pc.take(tubes.column("id"), where), pc.take(tubes.column("jurisdiction_code"), where),
                    reacting.combine_chunks() if isinstance(reacting, pa.ChunkedArray) else reacting)


def _store_matched(session: Session, rows: pa.Table, matched: _Matched, lab_id: int, record: ResultImport,
                   now: datetime, among: pa.Array | None = None) -> tuple[ResultImport, list[int]] | None:
    """Add the import and store every row with its tube (or the rows ``among`` marks), in a savepoint;
    returns the import and the tubes to react to, or None (nothing stored) when a tube has a result on
    file already.

    The primary key refuses a second result for a tube, whether it was on file before or stored by
    another import meanwhile; the savepoint takes the rows back, and the caller checks the file row
    by row, to say which rows and why.
    """
    connection = session.connection()
    refused: tuple[type[BaseException], ...] = (IntegrityError, connection.dialect.loaded_dbapi.IntegrityError)
    # In the order of the tubes, each new key of the primary key goes to the end of its index (new
    # tubes have the highest ids) rather than to a random page: half the time for a million.
    if among is None:
        order = pc.sort_indices(matched.tube_ids)
    else:
        chosen = pa.array(np.flatnonzero(resultfile.mask_of(among)))
        order = pc.take(chosen, pc.sort_indices(pc.take(matched.tube_ids, chosen)))
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
            if len(order):
                columns = {"tube_id": pc.take(matched.tube_ids, order),
                           "outcome": pc.take(rows.column("result"), order),
                           "tested_at": pc.take(rows.column("tested_at"), order),
                           "ct_value": pc.take(rows.column("ct_value"), order),
                           "jurisdiction_code": pc.take(matched.jurisdictions, order)}
                _insert_results(session, columns, lab_id=lab_id, import_id=record.id, now=now)
    except refused:
        return None
    record.new_results = len(order)
    return record, matched.to_react(among)


def _store_new(session: Session, rows: pa.Table, matched: _Matched, lab_id: int, record: ResultImport,
               now: datetime) -> tuple[ResultImport, list[int]] | None:
    """Store the rows whose tube has no result on file, as ``_store_matched`` does; a row whose tube has
    this very result is no change. Raises ``Invalid`` naming every row whose tube has another result.

    The results on file of the recent tubes (of the importer's scope) whose ids lie between the file's
    lowest and highest are read in one value, as the tubes are; None when the database refuses the
    rows all the same (a result stored meanwhile).
    """
    t, r = Tube.__table__.c, TubeResult.__table__.c
    line = cast(r.tube_id, String) + literal(",") + cast(r.outcome, String)
    span = pc.min_max(matched.tube_ids).as_py()
    query = select(func.aggregate_strings(line, "\n")).select_from(
        TubeResult.__table__.join(Tube.__table__, t.id == r.tube_id)).where(
        r.tube_id.between(span["min"], span["max"]), *_recent_tubes(session, now))
    with system_access(session):
        lines = session.execute(query).scalar()
    on_file = _read_lines(lines, _ON_FILE)
    existing = pc.take(on_file.column("outcome"), pc.index_in(matched.tube_ids, value_set=on_file.column("id")))
    differs = resultfile.mask_of(pc.not_equal(existing, rows.column("result")))  # null: none on file
    if differs.any():
        where = np.flatnonzero(differs)
        _refuse([_recorded_differently(code, was, row) for code, was, row in zip(
            rows.column("tube_code").take(where).to_pylist(), existing.take(where).to_pylist(),
            rows.column("row").take(where).to_pylist(), strict=True)])
    return _store_matched(session, rows, matched, lab_id, record, now, among=pc.is_null(existing))


def _insert_results(session: Session, columns: dict[str, pa.Array], *, lab_id: int, import_id: int,
                    now: datetime) -> None:
    """Insert results given as columns, with the import's lab, id and time: binary COPY on PostgreSQL,
    sent in parts so that the server stores one part while the next is laid out."""
    rows = len(columns["tube_id"])
    connection = session.connection()
    names = ", ".join((*columns, "lab_id", "import_id", "recorded_at"))
    if connection.dialect.name == "postgresql":
        raw: Any = connection.connection.dbapi_connection
        recorded = pa.array(np.full(rows, _micros(now)), pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        fields = [binary_copy.Field(columns[name], _STORED_AS[name]) for name in columns]
        fields += [binary_copy.Field(pa.array(np.full(rows, lab_id), pa.int32()), "int4"),
                   binary_copy.Field(pa.array(np.full(rows, import_id), pa.int32()), "int4"),
                   binary_copy.Field(recorded, "timestamptz")]
        with raw.cursor() as cursor:
            writer = QueuedLibpqWriter(cursor)
            with cursor.copy(f"COPY {TubeResult.__tablename__} ({names}) FROM STDIN (FORMAT binary)",
                             writer=writer) as copy:
                copy.write(binary_copy.HEADER)
                for start in range(0, rows, COPY_PART):
                    copy.write(binary_copy.rows_of([replace(f, values=f.values.slice(start, COPY_PART))
                                                    for f in fields]))
                copy.write(binary_copy.TRAILER)
        return
    # Times as text, UTC, in SQLAlchemy's form, which is how SQLite keeps them.
    tested = pc.cast(columns["tested_at"].cast(pa.timestamp("us")), pa.string())
    recorded = pc.cast(pa.array([_micros(now)], pa.int64()).cast(pa.timestamp("us")), pa.string())[0].as_py()
    values = zip(columns["tube_id"].to_pylist(), columns["outcome"].to_pylist(), tested.to_pylist(),
                 columns["ct_value"].to_pylist(), columns["jurisdiction_code"].to_pylist(), strict=True)
    constant = (lab_id, import_id, recorded)
    raw_sqlite: Any = connection.connection.dbapi_connection
    raw_sqlite.executemany(f"INSERT INTO {TubeResult.__tablename__} ({names}) VALUES ({', '.join('?' * 8)})",
                           (row + constant for row in values))


def _micros(moment: datetime) -> int:
    """Microseconds since 1970 (UTC) of an aware time."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _store(session: Session, import_id: int, now: datetime, *, skip_stored: bool) -> int:
    """Insert the results not yet on file, in the order of their tubes; returns how many.

    In that order each new key of the primary key goes to the end of its index (new tubes have the
    highest ids) instead of a random page: a third less time for a million.

    The rows whose tube has its result already are taken out of the staging table first, when there
    are any, rather than excluded by the INSERT itself: a NOT EXISTS on the table being filled is
    planned as a scan per row when that table looks empty, and then reads every row just inserted.
    """
    s, t, r = STAGING.c, Tube.__table__.c, TubeResult.__table__.c
    with system_access(session):
        if skip_stored:
            session.execute(STAGING.delete().where(exists().where(t.code == s.tube_code, r.tube_id == t.id)))
    params = {"import_id": import_id, "now": now}
    sql = text(f"""
        INSERT INTO tube_results (tube_id, outcome, tested_at, ct_value, lab_id, import_id, recorded_at,
                                  jurisdiction_code)
        SELECT t.id, s.outcome, s.tested_at, s.ct_value, s.lab_id, :import_id, :now, t.jurisdiction_code
        FROM {STAGING.name} s JOIN tubes t ON t.code = s.tube_code
        ORDER BY t.id
    """)
    sql = sql.bindparams(bindparam("now", type_=UTCDateTime()))
    result: Any = session.execute(sql, params)
    return int(result.rowcount or 0)


def imports(session: Session, *, limit: int = 50) -> list[ResultImport]:
    """The latest result imports in scope."""
    return list(session.execute(select(ResultImport).order_by(ResultImport.id.desc()).limit(limit)).scalars())


def count_results(session: Session, round_id: int) -> int:
    """How many tubes of a round have a result (in scope)."""
    return int(session.execute(select(func.count()).select_from(TubeResult).join(Tube, Tube.id == TubeResult.tube_id)
                               .where(Tube.round_id == round_id)).scalar_one())


IMPORT_JOB = "testing.import_results"
# A rejected file's bad rows kept in the job's result for the page; the API answer lists them all.
JOB_ERRORS_KEPT = 2000


def enqueue_import(session: Session, path: Path, filename: str) -> jobs.Job:
    """Queue the check and import of an uploaded file, to run as the user who uploaded it.

    A lab account holds no jobs permission (that would show it every job of its district), so
    the job row is written unscoped, on the uploader's behalf.
    """
    principal = principal_of(session)
    principal.require(Permission.RESULTS_WRITE)
    with system_access(session):
        job = jobs.enqueue(session, IMPORT_JOB, {"path": str(path), "filename": filename},
                           jurisdiction_code=principal.home_code)
        job.created_by_id = principal.user_id
        session.flush()
    return job


def import_job(session: Session, job_id: int) -> jobs.Job:
    """An upload's job: one the user made, or one their jobs scope reaches; ``NotFound`` otherwise."""
    principal = principal_of(session)
    with system_access(session):
        own = session.execute(select(jobs.Job).where(jobs.Job.id == job_id, jobs.Job.kind == IMPORT_JOB,
                                                     jobs.Job.created_by_id == principal.user_id)
                              ).scalar_one_or_none()
    if own is not None:
        return own
    job = get_or_404(session, jobs.Job, job_id)
    if job.kind != IMPORT_JOB:
        raise NotFound(N_("No such record."))
    return job


@jobs.handler(IMPORT_JOB)
def _import_job(ctx: jobs.JobContext) -> dict[str, Any]:
    """Check and apply an uploaded file as the user who uploaded it; a rejected file applies nothing."""
    path = Path(ctx.params["path"])
    try:
        record, again = import_results(ctx.session, path.read_bytes(), ctx.params["filename"],
                                       progress=lambda done, total, message: ctx.progress(done, total, message))
    except Invalid as exc:
        ctx.session.rollback()
        return {"applied": False, "message": exc.message, "params": exc.params, "error_count": len(exc.errors),
                "errors": [{"row": e.row, "field": e.field, "message": e.message, "params": e.params}
                           for e in exc.errors[:JOB_ERRORS_KEPT]]}
    return {"applied": True, "already_imported": again, "import_id": record.id, "rows": record.rows,
            "new_results": record.new_results, "positives": record.positives}
