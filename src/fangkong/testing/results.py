"""Applying a lab's result file: whole or not at all, every bad row reported, a re-import a no-op.

The file's rows (read and checked by ``resultfile``) are copied into a temporary table; one query
finds every row the database refuses (an unknown tube, another lab's tube, a result already on
file that differs, an unknown lab); then one INSERT … SELECT stores the new results and the pool
loop runs for the few that need a reaction. A million rows never pass through the ORM one by one.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
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
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from fangkong.core import audit, jobs
from fangkong.core.auth import Permission
from fangkong.core.db import UTCDateTime, utcnow
from fangkong.core.errors import N_, FieldError, Invalid
from fangkong.core.i18n import translate
from fangkong.core.scope import criteria_for, principal_of, system_access
from fangkong.geo.models import Facility, FacilityKind
from fangkong.testing import resultfile, service
from fangkong.testing.models import Outcome, Purpose, ResultImport, Tube, TubeResult

# The staging table of one import; temporary, so it is the session's own and vanishes with it.
_staging_metadata = MetaData()
STAGING = Table(
    "result_import_rows", _staging_metadata,
    Column("row", Integer), Column("tube_code", String(40)), Column("outcome", String(16)),
    Column("tested_at", DateTime(timezone=True)), Column("lab_code", String(40)), Column("ct_value", Float),
    prefixes=["TEMPORARY"],
)
STAGING_COLUMNS = ("row", "tube_code", "outcome", "tested_at", "lab_code", "ct_value")

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
    parsed = resultfile.read_results(data, filename, now=now)
    total = parsed.rows.num_rows + len(parsed.errors)
    report(0, total, N_("Checking the file"))
    errors = list(parsed.errors)
    bind = session.connection()
    STAGING.drop(bind, checkfirst=True)
    STAGING.create(bind)
    try:
        _stage(session, parsed.rows)
        report(total // 3, total, N_("Checking against tubes on file"))
        errors += _refused_rows(session)
        if errors:
            errors.sort(key=lambda e: (e.row or 0, e.field))
            raise Invalid(N_("The file was not applied: {count} rows have errors. Correct them and upload it again."),
                          errors=errors, count=len({e.row for e in errors}))
        lab_id = _single_lab(session)
        record = ResultImport(filename=filename[:200], sha256=digest, lab_id=lab_id, rows=parsed.rows.num_rows,
                              imported_at=now, imported_by_id=principal.user_id,
                              jurisdiction_code=principal.home_code)
        session.add(record)
        session.flush()
        to_react = _needing_reaction(session)
        report(2 * total // 3, total, N_("Storing results"))
        record.new_results = _store(session, record.id, now)
        reactions = service.apply_results(session, to_react, now=now)
        record.positives = reactions.get("positive_pools", 0) + reactions.get("positives", 0)
        audit.record(session, audit.Action.CREATE, entity=record,
                     detail={"results": record.new_results, "file": record.filename, **dict(reactions)})
        session.flush()
        report(total, total, N_("Done"))
        return record, False
    finally:
        STAGING.drop(bind, checkfirst=True)


def _stage(session: Session, rows: pa.Table) -> None:
    """Copy the parsed rows into the staging table (COPY on PostgreSQL)."""
    # The file's "result" column is stored as the result's outcome.
    rows = rows.select(["row", "tube_code", "result", "tested_at", "lab_code", "ct_value"]).rename_columns(
        list(STAGING_COLUMNS))
    if not rows.num_rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        buffer = io.BytesIO()
        pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        raw: Any = connection.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {STAGING.name} ({', '.join(STAGING_COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
            view = buffer.getbuffer()
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start:start + (1 << 20)])
        return
    # SQLite keeps a UTC timestamp as text in SQLAlchemy's format: "2021-01-20 06:30:00.000000".
    tested = pc.strftime(rows.column("tested_at"), "%Y-%m-%d %H:%M:%S").to_pylist()
    values = zip(rows.column("row").to_pylist(), rows.column("tube_code").to_pylist(),
                 rows.column("outcome").to_pylist(), tested, rows.column("lab_code").to_pylist(),
                 rows.column("ct_value").to_pylist(), strict=True)
    raw_sqlite: Any = connection.connection.dbapi_connection
    raw_sqlite.executemany(f"INSERT INTO {STAGING.name} VALUES (?, ?, ?, ?, ?, ?)", values)


def _tube_scope(session: Session) -> Any:
    """The tubes this user may import results for: those in their jurisdiction.

    A lab may report on tubes of its area that were not marked as sent to it (the hand-over is not
    always scanned); a tube sent to another lab is refused row by row in ``_refused_rows``.
    """
    principal = replace(principal_of(session), facility_id=None, _cache={})
    visible = criteria_for(principal, Tube, Permission.TUBES_READ)
    return visible if visible is not None else literal(True)


def _refused_rows(session: Session) -> list[FieldError]:
    """Every staged row the database refuses, with the reason."""
    principal = principal_of(session)
    s, t, r = STAGING.c, Tube.__table__.c, TubeResult.__table__.c
    lab = Facility.__table__.alias("lab")
    own_lab = principal.facility_id
    stmt = (
        select(s.row, s.tube_code, s.outcome, s.lab_code, t.id.label("tube_id"), t.lab_id.label("sent_to"),
               r.outcome.label("existing"), lab.c.id.label("lab_id"))
        .select_from(STAGING)
        .outerjoin(Tube.__table__, and_(t.code == s.tube_code, _tube_scope(session)))
        .outerjoin(TubeResult.__table__, r.tube_id == t.id)
        .outerjoin(lab, and_(lab.c.code == s.lab_code, lab.c.kind == FacilityKind.LAB.value))
        .where(or_(t.id.is_(None), lab.c.id.is_(None), and_(r.tube_id.is_not(None), r.outcome != s.outcome),
                   and_(t.lab_id.is_not(None), t.lab_id != lab.c.id),
                   *([lab.c.id != own_lab] if own_lab is not None else [])))
        .order_by(s.row)
    )
    errors = []
    with system_access(session):
        found = session.execute(stmt).all()
    for row in found:
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
            errors.append(FieldError("result", N_("Tube {code} already has the result {existing}; "
                                                  "a different result cannot replace it."),
                                     {"code": row.tube_code, "existing": translate(Outcome(row.existing).label)}, row.row))
    return errors


def _single_lab(session: Session) -> int | None:
    """The lab of the file, when all its rows name one."""
    with system_access(session):
        labs = session.execute(select(Facility.id).join(STAGING, STAGING.c.lab_code == Facility.code)
                               .where(Facility.kind == FacilityKind.LAB).distinct().limit(2)).scalars().all()
    return labs[0] if len(labs) == 1 else None


def _needing_reaction(session: Session) -> list[int]:
    """Tubes whose new result sets the pool loop going: anything not negative, and every re-test."""
    s, t, r = STAGING.c, Tube.__table__.c, TubeResult.__table__.c
    stmt = (select(t.id).select_from(STAGING).join(Tube.__table__, t.code == s.tube_code)
            .outerjoin(TubeResult.__table__, r.tube_id == t.id)
            .where(r.tube_id.is_(None), or_(s.outcome != Outcome.NEGATIVE.value, t.purpose == Purpose.RETEST.value)))
    with system_access(session):
        return list(session.execute(stmt).scalars())


def _store(session: Session, import_id: int, now: datetime) -> int:
    """Insert the results not yet on file; returns how many."""
    params = {"import_id": import_id, "now": now}
    sql = text(f"""
        INSERT INTO tube_results (tube_id, outcome, tested_at, ct_value, lab_id, import_id, recorded_at,
                                  jurisdiction_code)
        SELECT t.id, s.outcome, s.tested_at, s.ct_value, lab.id, :import_id, :now, t.jurisdiction_code
        FROM {STAGING.name} s JOIN tubes t ON t.code = s.tube_code
             JOIN facilities lab ON lab.code = s.lab_code AND lab.kind = 'lab'
        WHERE NOT EXISTS (SELECT 1 FROM tube_results r WHERE r.tube_id = t.id)
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
