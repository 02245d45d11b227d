"""The job runner: long work (imports, tracing runs, synthetic data) with persisted progress.

A job is a row. A worker claims the oldest queued job with a conditional UPDATE
(``… SET state='running' WHERE id=? AND state='queued'``), which exactly one worker can win on
SQLite and on PostgreSQL alike. The handler does its work in one transaction, so a job that fails
leaves nothing half-done; its progress is written in separate short transactions so a page or the
CLI can show it while it runs. A failed job stays visible with its error and can be re-run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from fangkong.core.auth import Permission
from fangkong.core.db import Base, session_factory, utcnow
from fangkong.core.errors import N_, Conflict, Invalid
from fangkong.core.scope import Principal, Scoped, principal_of

log = logging.getLogger(__name__)


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """The state's name in the interface (an msgid)."""
        return JOB_STATE_LABELS[self]


JOB_STATE_LABELS = {
    JobState.QUEUED: N_("Queued"),
    JobState.RUNNING: N_("Running"),
    JobState.SUCCEEDED: N_("Succeeded"),
    JobState.FAILED: N_("Failed"),
}

class Job(Scoped, Base):
    """One unit of long work, its progress and its outcome."""

    __tablename__ = "jobs"
    read_permission = Permission.JOBS_READ
    write_permission = Permission.JOBS_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[JobState] = mapped_column(default=JobState.QUEUED, index=True)
    # A retried submission with the same key finds the existing job instead of queueing another.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None] = mapped_column()
    message: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    created_by_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    @property
    def percent(self) -> int | None:
        """Progress as a whole percentage, when the total is known."""
        if not self.progress_total:
            return None
        return min(100, round(100 * self.progress_done / self.progress_total))


@dataclass
class JobContext:
    """What a handler gets: its job's parameters, a working session, and a progress reporter."""

    job_id: int
    params: dict[str, Any]
    session: Session
    _engine: Engine

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Record progress in its own short transaction, visible at once to readers."""
        with session_factory(self._engine)() as side:
            values: dict[str, Any] = {"progress_done": done, "heartbeat_at": utcnow()}
            if total is not None:
                values["progress_total"] = total
            if message:
                values["message"] = message[:200]
            side.execute(update(Job.__table__).where(Job.__table__.c.id == self.job_id).values(**values))
            side.commit()


JobHandler = Callable[[JobContext], dict[str, Any] | None]
_handlers: dict[str, JobHandler] = {}
_principal_loader: Callable[[Session, int], Principal] | None = None


def handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the function that runs jobs of ``kind``."""

    def register(fn: JobHandler) -> JobHandler:
        _handlers[kind] = fn
        return fn

    return register


def set_principal_loader(loader: Callable[[Session, int], Principal]) -> None:
    """How to rebuild the submitting user's principal, so a job acts within their scope."""
    global _principal_loader
    _principal_loader = loader


def enqueue(session: Session, kind: str, params: dict[str, Any] | None = None, *,
            dedupe_key: str | None = None, jurisdiction_code: str | None = None) -> Job:
    """Queue a job (or return the one already queued under ``dedupe_key``)."""
    if kind not in _handlers:
        raise Invalid.field("kind", N_("Unknown job kind: {kind}"), kind=kind)
    if dedupe_key is not None:
        existing = session.execute(select(Job).where(Job.dedupe_key == dedupe_key)).scalar_one_or_none()
        if existing is not None:
            return existing
    principal = principal_of(session)
    job = Job(
        kind=kind,
        params=params or {},
        dedupe_key=dedupe_key,
        created_by_id=principal.user_id,
        jurisdiction_code=jurisdiction_code if jurisdiction_code is not None else principal.home_code,
    )
    session.add(job)
    session.flush()
    return job


def rerun(session: Session, job: Job) -> Job:
    """Put a failed job back in the queue; its earlier error stays in the log until it runs."""
    if job.state is not JobState.FAILED:
        raise Conflict(N_("Only a failed job can be re-run."))
    job.state = JobState.QUEUED
    job.claimed_by = None
    job.progress_done = 0
    job.finished_at = None
    session.flush()
    return job


def worker_name() -> str:
    """A name for this worker thread: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(engine: Engine, worker: str, *, kinds: set[str] | None = None) -> int | None:
    """Claim the oldest queued job for ``worker``; ``None`` when there is none to take."""
    table = Job.__table__
    with session_factory(engine)() as session:
        Principal.system().bind(session)
        for _ in range(5):  # another worker may win a row; try the next one
            query = select(table.c.id).where(table.c.state == JobState.QUEUED).order_by(table.c.id).limit(1)
            if kinds:
                query = query.where(table.c.kind.in_(kinds))
            job_id = session.execute(query).scalar_one_or_none()
            if job_id is None:
                return None
            now = utcnow()
            won = session.execute(
                update(table)
                .where(table.c.id == job_id, table.c.state == JobState.QUEUED)
                .values(state=JobState.RUNNING, claimed_by=worker, started_at=now, heartbeat_at=now,
                        attempts=table.c.attempts + 1, error=None)
            ).rowcount
            session.commit()
            if won == 1:
                return job_id
    return None


def execute(engine: Engine, job_id: int) -> JobState:
    """Run a claimed job to its end and record the outcome."""
    factory = session_factory(engine)
    with factory() as session:
        Principal.system().bind(session)
        job = session.get_one(Job, job_id)
        fn = _handlers.get(job.kind)
        if job.created_by_id is not None and _principal_loader is not None:
            principal = _principal_loader(session, job.created_by_id)
        else:
            principal = Principal.system(f"job:{job.kind}")
        principal.bind(session)
        ctx = JobContext(job_id=job_id, params=dict(job.params), session=session, _engine=engine)
        try:
            if fn is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            result = fn(ctx) or {}
            session.flush()
            session.commit()
        except Exception as exc:
            session.rollback()
            log.warning("job %s (%s) failed: %s", job_id, job.kind, exc)
            _finish(engine, job_id, JobState.FAILED, error="".join(traceback.format_exception_only(exc)).strip(),
                    detail=traceback.format_exc())
            return JobState.FAILED
    _finish(engine, job_id, JobState.SUCCEEDED, result=result)
    return JobState.SUCCEEDED


def _finish(engine: Engine, job_id: int, state: JobState, *, result: dict[str, Any] | None = None,
            error: str | None = None, detail: str | None = None) -> None:
    with session_factory(engine)() as session:
        values: dict[str, Any] = {"state": state, "finished_at": utcnow(), "heartbeat_at": utcnow()}
        if result is not None:
            values["result"] = result
        if error is not None:
            values["error"] = (error + "\n\n" + (detail or ""))[:8000]
        session.execute(update(Job.__table__).where(Job.__table__.c.id == job_id).values(**values))
        session.commit()


def run_one(engine: Engine, worker: str | None = None) -> int | None:
    """Claim and run one job; the id of the job run, or ``None`` when the queue is empty."""
    job_id = claim(engine, worker or worker_name())
    if job_id is not None:
        execute(engine, job_id)
    return job_id


def reap_stale(engine: Engine, *, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Mark running jobs whose worker went silent as failed, so they can be seen and re-run."""
    table = Job.__table__
    with session_factory(engine)() as session:
        count = session.execute(
            update(table)
            .where(table.c.state == JobState.RUNNING, table.c.heartbeat_at < utcnow() - older_than)
            .values(state=JobState.FAILED, finished_at=utcnow(), error="worker stopped without finishing")
        ).rowcount
        session.commit()
    return count


class Worker(threading.Thread):
    """A background thread that runs queued jobs until stopped."""

    def __init__(self, engine: Engine, *, poll_seconds: float = 1.0) -> None:
        super().__init__(name="fangkong-jobs", daemon=True)
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        name = worker_name()
        while not self.stopping.is_set():
            try:
                if run_one(self.engine, name) is None:
                    self.stopping.wait(self.poll_seconds)
            except Exception:  # the database went away; keep the thread alive and try again
                log.exception("job worker error")
                self.stopping.wait(self.poll_seconds * 5)

    def stop(self) -> None:
        """Ask the thread to finish after its current job."""
        self.stopping.set()
