"""The job runner: claimed once, progress visible while running, failures kept and re-runnable."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, func, select, update

from fangkong.core import jobs
from fangkong.core.db import session_factory, system_session, utcnow
from fangkong.core.errors import Conflict
from fangkong.core.jobs import Job, JobState
from fangkong.core.scope import Principal
from fangkong.geo.models import Jurisdiction

observed: dict[str, int] = {}


@jobs.handler("test.write_nodes")
def write_nodes(ctx: jobs.JobContext) -> dict[str, int]:
    """Writes ``n`` jurisdictions, reporting progress; fails halfway when asked to."""
    n = ctx.params["n"]
    for i in range(n):
        ctx.session.add(Jurisdiction(code=f"{ctx.params['prefix']}{i:03d}", name=f"节点{i}"))
        ctx.session.flush()
        ctx.progress(i + 1, n, f"node {i}")
        if i == 0:
            # A reader (the jobs page, in another session) sees the progress while the job runs.
            with session_factory(ctx._engine)() as other:
                Principal.system().bind(other)
                running = other.get_one(Job, ctx.job_id)
                observed["progress_seen_by_reader"] = jobs.progress_of(running).done
        if ctx.params.get("fail_at") == i:
            raise ValueError("lab file is truncated")
    return {"written": n}


@pytest.fixture
def engine(empty_database: tuple[str, Engine]) -> Engine:
    engine = empty_database[1]
    with system_session(engine) as session:
        session.execute(delete(Job))
        session.execute(delete(Jurisdiction))
    return engine


def submit(engine: Engine, **params: object) -> int:
    with system_session(engine) as session:
        return jobs.enqueue(session, "test.write_nodes", dict(params)).id


def load(engine: Engine, job_id: int) -> Job:
    with system_session(engine) as session:
        return session.get_one(Job, job_id)


def nodes(engine: Engine, prefix: str) -> int:
    with system_session(engine) as session:
        return session.execute(select(func.count()).select_from(Jurisdiction)
                               .where(Jurisdiction.code.startswith(prefix))).scalar_one()


def test_a_job_runs_to_success_with_its_progress(engine: Engine) -> None:
    job_id = submit(engine, n=3, prefix="220599001")
    assert jobs.run_one(engine) == job_id
    job = load(engine, job_id)
    assert (job.state, job.result, job.progress_done, job.progress_total, jobs.progress_of(job).percent) == (
        JobState.SUCCEEDED, {"written": 3}, 3, 3, 100)
    assert observed["progress_seen_by_reader"] == 1
    assert nodes(engine, "220599001") == 3


def test_a_failed_job_leaves_nothing_half_done_and_can_be_rerun(engine: Engine) -> None:
    job_id = submit(engine, n=3, prefix="220599002", fail_at=1)
    jobs.run_one(engine)
    job = load(engine, job_id)
    assert job.state is JobState.FAILED and "lab file is truncated" in (job.error or "")
    assert nodes(engine, "220599002") == 0
    with system_session(engine) as session:
        failed = session.get_one(Job, job_id)
        failed.params = {"n": 3, "prefix": "220599002"}  # the cause is fixed; run it again
        jobs.rerun(session, failed)
    jobs.run_one(engine)
    job = load(engine, job_id)
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 2)
    assert nodes(engine, "220599002") == 3


def test_only_a_failed_job_can_be_rerun(engine: Engine) -> None:
    job_id = submit(engine, n=1, prefix="220599003")
    with system_session(engine) as session, pytest.raises(Conflict):
        jobs.rerun(session, session.get_one(Job, job_id))


def test_a_dedupe_key_returns_the_job_already_queued(engine: Engine) -> None:
    with system_session(engine) as session:
        first = jobs.enqueue(session, "test.write_nodes", {"n": 1, "prefix": "x"}, dedupe_key="import:abc")
        again = jobs.enqueue(session, "test.write_nodes", {"n": 1, "prefix": "x"}, dedupe_key="import:abc")
        assert again.id == first.id


def test_each_job_is_claimed_by_exactly_one_worker(engine: Engine) -> None:
    ids = {submit(engine, n=0, prefix="x") for _ in range(20)}
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(3)

    def worker(name: str) -> None:
        start.wait()
        while (job_id := jobs.claim(engine, name)) is not None:
            with lock:
                claimed.append(job_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)
    with system_session(engine) as session:
        owners = session.execute(select(Job.claimed_by).where(Job.id.in_(ids))).scalars().all()
    assert all(owners)


def test_a_job_whose_worker_went_silent_is_marked_failed(engine: Engine) -> None:
    job_id = submit(engine, n=1, prefix="x")
    assert jobs.claim(engine, "lost-worker") == job_id
    with system_session(engine) as session:
        session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))
    assert jobs.reap_stale(engine) == 1
    assert load(engine, job_id).state is JobState.FAILED


def test_an_unknown_kind_is_refused(engine: Engine) -> None:
    from fangkong.core.errors import Invalid

    with system_session(engine) as session, pytest.raises(Invalid):
        jobs.enqueue(session, "no.such.kind")


def test_jobs_list_is_scoped(engine: Engine) -> None:
    from fangkong.core.auth import Role
    from fangkong.core.scope import Grant

    with system_session(engine) as session:
        jobs.enqueue(session, "test.write_nodes", {"n": 0, "prefix": "x"}, jurisdiction_code="220503")
    with session_factory(engine)() as session:
        Principal(user_id=1, username="t", grants=(Grant(Role.TESTING_STAFF, "220502"),)).bind(session)
        assert session.execute(select(Job)).first() is None
        Principal(user_id=1, username="t", grants=(Grant(Role.TESTING_STAFF, "2205"),)).bind(session)
        assert session.execute(select(Job)).first() is not None


