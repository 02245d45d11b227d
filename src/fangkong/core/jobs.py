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
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, String, Table, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from fangkong.core.auth import Permission
from fangkong.core.db import Base, session_factory, system_session, utcnow, writing
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



@dataclass(frozen=True)
class Progress:
    """How far a job has come."""

    done: int
    total: int | None
    message: str

    @property
    def percent(self) -> int | None:
        """Progress as a whole percentage, when the total is known."""
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))


# Progress of the jobs running in this process, by job id (see JobContext.progress).
_live: dict[int, Progress] = {}


def progress_of(job: Job) -> Progress:
    """The freshest progress of ``job``: live when it runs in this process, else as stored."""
    live = _live.get(job.id)
    if live is not None and job.state is JobState.RUNNING:
        return live
    return Progress(job.progress_done, job.progress_total, job.message)


@dataclass
class JobContext:
    """What a handler gets: its job's parameters, a working session, and a progress reporter."""

    job_id: int
    params: dict[str, Any]
    session: Session
    _engine: Engine

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Record progress where readers see it at once.

        Always in this process's live table; on PostgreSQL also in the job row, in its own short
        transaction. SQLite allows one writer at a time and the job's own transaction holds it, so
        there the row gets its figures when the job ends.
        """
        previous = _live.get(self.job_id)
        if total is None and previous is not None:
            total = previous.total
        _live[self.job_id] = Progress(done, total, message[:200])
        if self._engine.dialect.name == "sqlite":
            return
        values: dict[str, Any] = {"progress_done": done, "heartbeat_at": utcnow()}
        if total is not None:
            values["progress_total"] = total
        if message:
            values["message"] = message[:200]
        with system_session(self._engine) as side:
            side.execute(update(JOBS).where(JOBS.c.id == self.job_id).values(**values))


# The table itself, for the runner's conditional updates (typed as a Table for the checker).
JOBS = cast(Table, Job.__table__)

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
    table = JOBS
    queued = select(table.c.id).where(table.c.state == JobState.QUEUED)
    if kinds:
        queued = queued.where(table.c.kind.in_(kinds))
    with session_factory(writing(engine))() as session:
        Principal.system().bind(session)
        while True:
            now = utcnow()
            won = session.execute(
                update(table)
                .where(table.c.id == queued.order_by(table.c.id).limit(1).scalar_subquery(),
                       table.c.state == JobState.QUEUED)
                .values(state=JobState.RUNNING, claimed_by=worker, started_at=now, heartbeat_at=now,
                        attempts=table.c.attempts + 1, error=None)
                .returning(table.c.id)
            ).scalar_one_or_none()
            session.commit()
            if won is not None:
                return int(won)
            # Another worker took that row between our look and our update; try the next, if any.
            if session.execute(queued.limit(1)).first() is None:
                return None
            session.commit()


def execute(engine: Engine, job_id: int) -> JobState:
    """Run a claimed job to its end and record the outcome."""
    with session_factory(engine)() as session:
        Principal.system().bind(session)
        job = session.get_one(Job, job_id)
        kind, params, created_by = job.kind, dict(job.params), job.created_by_id
    fn = _handlers.get(kind)
    failure: Exception | None = None
    with session_factory(writing(engine))() as session:
        if created_by is not None and _principal_loader is not None:
            principal = _principal_loader(session, created_by)
        else:
            principal = Principal.system(f"job:{kind}")
        principal.bind(session)
        ctx = JobContext(job_id=job_id, params=params, session=session, _engine=engine)
        try:
            if fn is None:
                raise LookupError(f"no handler for job kind {kind!r}")
            result = fn(ctx) or {}
            session.flush()
            session.commit()
        except Exception as exc:
            # Nothing of the failed work is kept; the session ends here so the outcome can be written.
            session.rollback()
            failure = exc
            detail = traceback.format_exc()
        finally:
            last = _live.pop(job_id, None)
    if failure is not None:
        log.warning("job %s (%s) failed: %s", job_id, kind, failure)
        _finish(engine, job_id, JobState.FAILED, error="".join(traceback.format_exception_only(failure)).strip(),
                detail=detail)
        return JobState.FAILED
    _finish(engine, job_id, JobState.SUCCEEDED, result=result, last=last)
    return JobState.SUCCEEDED


def _finish(engine: Engine, job_id: int, state: JobState, *, result: dict[str, Any] | None = None,
            error: str | None = None, detail: str | None = None, last: Progress | None = None) -> None:
    values: dict[str, Any] = {"state": state, "finished_at": utcnow(), "heartbeat_at": utcnow()}
    if last is not None:
        values.update(progress_done=last.done, progress_total=last.total, message=last.message)
    if result is not None:
        values["result"] = result
    if error is not None:
        values["error"] = (error + "\n\n" + (detail or ""))[:8000]
    with system_session(engine) as session:
        session.execute(update(JOBS).where(JOBS.c.id == job_id).values(**values))


def run_one(engine: Engine, worker: str | None = None) -> int | None:
    """Claim and run one job; the id of the job run, or ``None`` when the queue is empty."""
    job_id = claim(engine, worker or worker_name())
    if job_id is not None:
        execute(engine, job_id)
    return job_id


def reap_stale(engine: Engine, *, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Mark running jobs whose worker went silent as failed, so they can be seen and re-run."""
    table = JOBS
    with system_session(engine) as session:
        result = session.execute(
            update(table)
            .where(table.c.state == JobState.RUNNING, table.c.heartbeat_at < utcnow() - older_than)
            .values(state=JobState.FAILED, finished_at=utcnow(), error="worker stopped without finishing")
        )
        return cast(CursorResult[Any], result).rowcount


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
