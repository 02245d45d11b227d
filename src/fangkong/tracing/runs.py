"""Tracing runs: the contact engine over the presence data, as a job, and the contacts it hands on.

A run takes cases (named, or every case the user reaches), reads the presence data under the data
directory with the engine, and writes what it found: one ``Contact`` per person, classified by the
strongest kind and carrying the evidence of their earliest exposure of that kind, each with a
control order (``ControlOrdered``) and its clock. All the evidence goes to ``exposures.parquet``
beside the run. A person already listed keeps their row; a stronger kind found later replaces the
evidence (and the clock keeps running from when they were first found).

The cases are read within the user's scope; the lookups the engine needs (households, place
categories) and the contacts it writes are not, since a case's contacts live anywhere in the city
and belong to the jurisdiction where they live.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong import rulesets
from fangkong.config import get_settings
from fangkong.core import audit, events, idempotency, jobs
from fangkong.core.auth import Permission
from fangkong.core.db import bulk_insert, utcnow
from fangkong.core.errors import N_, Invalid, NotFound
from fangkong.core.scope import get_or_404, principal_of, system_access
from fangkong.geo.models import Jurisdiction, Place
from fangkong.people.models import Person
from fangkong.synth.load import PLACE_CATEGORY_OF
from fangkong.tracing.events import ControlOrdered
from fangkong.tracing.models import Case, Contact, ContactKind, ContactState, RunState, TracingRun
from fangkong.tracing.service import chunks

if TYPE_CHECKING:
    from fangkong.tracing.engine import Progress

RUN_JOB = "tracing.run"
# PlaceCategory (the tables) → the presence data's category.
FILE_CATEGORY = {table.value: file for file, table in PLACE_CATEGORY_OF.items()}


def presence_folder() -> Path:
    """Where the presence data lives (``demo load`` puts it there)."""
    return get_settings().data_dir / "presence"


def start_run(session: Session, case_ids: list[int] | None = None, *, key: str | None = None,
              queue: bool = True) -> TracingRun:
    """A run over ``case_ids`` (every case the user reaches when empty), queued as a job unless
    ``queue`` is false (the caller then runs ``execute`` itself).

    With ``key`` (a form's one-time key, an API client's ``Idempotency-Key``), a repeated request
    finds the run the first one queued instead of queueing another.
    """
    principal = principal_of(session)
    principal.require(Permission.TRACING_WRITE)
    earlier = idempotency.recall(session, key, "tracing_runs")
    if earlier is not None:
        return get_run(session, int(earlier))
    if case_ids:
        found = set(session.execute(select(Case.id).where(Case.id.in_(case_ids))).scalars())
        missing = sorted(set(case_ids) - found)
        if missing:
            raise Invalid.field("case_ids", N_("No such case: {ids}"), ids=", ".join(map(str, missing[:20])))
        chosen = sorted(found)
    else:
        chosen = list(session.execute(select(Case.id).order_by(Case.id)).scalars())
    if not chosen:
        raise Invalid.field("case_ids", N_("There is no case to trace."))
    run = TracingRun(jurisdiction_code=principal.home_code or _area_of(session, chosen),
                     ruleset=rulesets.current().name, case_ids=chosen)
    session.add(run)
    session.flush()
    if queue:
        run.job_id = jobs.enqueue(session, RUN_JOB, {"run_id": run.id}).id
        session.flush()
    idempotency.remember(session, key, "tracing_runs", run.id)
    return run


def _area_of(session: Session, case_ids: list[int]) -> str:
    """The smallest jurisdiction that holds all these cases: where a run of the system (the command line) belongs,
    so that the commanders and tracers over it see it."""
    with system_access(session):
        codes = {code for part in chunks(case_ids) for code in session.execute(
            select(Case.jurisdiction_code).where(Case.id.in_(part)).distinct()).scalars()}
        common = os.path.commonprefix(sorted(codes))  # noqa: RUF071 (codes, not paths: a prefix of characters)
        found = session.execute(select(Jurisdiction.code).where(Jurisdiction.code.in_(
            [common[:n] for n in range(1, len(common) + 1)])).order_by(func.length(Jurisdiction.code).desc())
            .limit(1)).scalar()
    return found or ""


def get_run(session: Session, run_id: int) -> TracingRun:
    """A run the user may read."""
    return get_or_404(session, TracingRun, run_id)


@jobs.handler(RUN_JOB)
def _run_job(ctx: jobs.JobContext) -> dict[str, Any]:
    run = get_or_404(ctx.session, TracingRun, ctx.params["run_id"])
    try:
        return execute(ctx.session, run, progress=lambda stage, done, total: ctx.progress(done, total, stage))
    except Exception:
        ctx.session.rollback()
        raise


def execute(session: Session, run: TracingRun, *, now: datetime | None = None, data: Path | None = None,
            progress: Progress | None = None) -> dict[str, Any]:
    """Run the engine for ``run`` and write its contacts; the run's counts (also returned)."""
    from fangkong.tracing import engine  # DuckDB, loaded only where a run executes

    now = now or utcnow()
    rules = rulesets.load(run.ruleset).tracing
    cases = session.execute(select(Case).where(Case.id.in_(run.case_ids))).scalars().all()
    if len(cases) != len(run.case_ids):
        raise NotFound(N_("No such record."))
    case_of_person = {c.person_id: c for c in cases}
    with system_access(session):
        persons = _persons_table(session)
        places = _places_table(session)
        known_cases = set(session.execute(select(Case.person_id)).scalars())
        isolations = {pid: at for pid, at in session.execute(
            select(Contact.person_id, Contact.controlled_at).where(Contact.controlled_at.is_not(None)))
            if at is not None}
    source = engine.Source(presence=data or presence_folder(), persons=persons, places=places)
    inputs = [engine.CaseInput(person_id=c.person_id, onset_at=c.onset_at, sampled_at=c.sampled_at,
                               isolated_at=c.isolated_at) for c in cases]
    result = engine.trace(source, inputs, rules, isolations=isolations, progress=progress)

    rows = result.contacts.to_pylist()
    found = [r for r in rows if r["person_id"] not in known_cases]
    counts = _store(session, run, found, case_of_person, rules.contact_control_hours, now)
    counts["by_kind"] = {k.value: sum(1 for r in found if r["kind"] == k.value) for k in ContactKind}
    folder = get_settings().data_dir / "tracing" / f"run-{run.id}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.exposures, folder / "exposures.parquet")
    run.evidence_file = str(Path("tracing") / f"run-{run.id}" / "exposures.parquet")
    run.counts = counts
    missing = set(result.missing_days) | _days_after_data(cases, result.data_end, rules.lookback_days, now)
    run.missing_days = [d.isoformat() for d in sorted(missing)]
    run.state = RunState.DONE
    run.finished_at = utcnow()
    session.flush()
    return {"run_id": run.id, **counts, "missing_days": run.missing_days}


def _days_after_data(cases: Sequence[Case], data_end: datetime, lookback_days: float, now: datetime) -> set[date]:
    """The days of the cases' windows after the presence data ends, up to their isolation or now.

    The engine ends a window at the end of the data; in the application the data should reach the
    present, so days a window needs beyond it are missing data, and the run says so.
    """
    days: set[date] = set()
    for case in cases:
        start = max((case.onset_at or case.sampled_at) - timedelta(days=lookback_days), data_end)
        end = min(case.isolated_at or now, now)
        day = start.date()
        while datetime.combine(day, time(), UTC) < end:
            days.add(day)
            day += timedelta(days=1)
    return days


def _persons_table(session: Session) -> pa.Table:
    ids, households = [], []
    for pid, hid in session.execute(select(Person.id, Person.household_id)):
        ids.append(pid)
        households.append(hid)
    return pa.table({"person_id": pa.array(ids, pa.int64()), "household_id": pa.array(households, pa.int64())})


def _places_table(session: Session) -> pa.Table:
    ids, categories = [], []
    for pid, category in session.execute(select(Place.id, Place.category)):
        ids.append(pid)
        categories.append(FILE_CATEGORY[category.value])
    return pa.table({"place_id": pa.array(ids, pa.int64()), "category": pa.array(categories, pa.string())})


def _store(session: Session, run: TracingRun, found: list[dict[str, Any]], case_of_person: dict[int, Case],
           control_hours: float, now: datetime) -> dict[str, Any]:
    """Write the run's contacts: new ones with their control orders, stronger evidence over weaker."""
    audit.bulk(session, f"tracing run {run.id}")
    person_ids = [r["person_id"] for r in found]
    with system_access(session):
        where: dict[int, str] = {}
        existing: dict[int, Contact] = {}
        for part in chunks(person_ids):
            where.update(session.execute(select(Person.id, Person.jurisdiction_code)
                                         .where(Person.id.in_(part))).all())
            existing.update((c.person_id, c) for c in session.execute(
                select(Contact).where(Contact.person_id.in_(part))).scalars())
        due = now + timedelta(hours=control_hours)
        new_rows: list[dict[str, Any]] = []
        upgraded = unknown = 0
        for r in found:
            person_id = r["person_id"]
            if person_id not in where:
                unknown += 1  # in the presence data, not in the register
                continue
            case = case_of_person[r["case_person_id"]]
            kind = ContactKind(r["kind"])
            evidence = {"kind": kind, "case_id": case.id, "via_person_id": r["via_person_id"],
                        "place_id": r["place_id"], "first_exposure": r["first_exposure"],
                        "last_exposure": r["last_exposure"]}
            old = existing.get(person_id)
            if old is None:
                new_rows.append({"person_id": person_id, "jurisdiction_code": where[person_id], "run_id": run.id,
                                 "found_at": now, "due_at": due, "state": ContactState.TO_CONTROL, **evidence})
            elif kind.strength > old.kind.strength:
                for name, value in evidence.items():
                    setattr(old, name, value)
                old.run_id = run.id
                upgraded += 1
        ids = bulk_insert(session, Contact, new_rows, with_ids=True) if new_rows else []
        session.flush()
        events.emit_all(session, [
            ControlOrdered(jurisdiction_code=row["jurisdiction_code"], contact_id=cid, person_id=row["person_id"],
                           kind=row["kind"].value, case_id=row["case_id"], due_at=due)
            for cid, row in zip(ids, new_rows, strict=True)])
    return {"cases": len(case_of_person), "contacts": len(found) - unknown, "new": len(new_rows),
            "upgraded": upgraded, "not_in_register": unknown}


def run_job(session: Session, run: TracingRun) -> jobs.Job | None:
    """The job of a run the user reads: its progress is part of the run, whoever may read the jobs list."""
    if run.job_id is None:
        return None
    with system_access(session):
        return session.get(jobs.Job, run.job_id)
