"""Sampling registration through the API: batches of samples as sampling devices send them.

Builds a fresh database (the application's migrations, the demo city's tree and users), bulk-loads
N persons in households, opens a city-wide round with a sampling site per community, issues an API
token to the demo user ``testing`` (检测专班 of the city), and serves the application with uvicorn
in another process on a free local port. Then it sends B batches of S new samples, one batch after
the other as one device does (or from several devices at once, ``--clients``), to
``POST /api/v1/testing/samples/batch`` with httpx: every batch at one community's site, persons of
that community, client ids unique, tubes of 10 opened by the batch. It times each request from
sending it to having read the whole answer (the JSON bodies are built before the clock starts and
checked after it stops), and prints samples/s; then it sends the same batches again (the
idempotent path: every entry ``already_stored``) and times that.

The persons are the fixture (see ``testing_city``), written through the driver, not the ORM.

    python bench/testing_register.py --db postgresql
    python bench/testing_register.py --db sqlite --batches 100 --batch-size 500
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import multiprocessing
import pstats
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx
import numpy as np
import testing_city as city
from sqlalchemy import Engine, func, select

from fangkong.core.db import system_session
from fangkong.testing.models import Sample, Tube, TubeState
from fangkong.users import service as users

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/fangkong_bench_testing"
USER = "testing"  # demo user: testing staff (检测专班) of the city
ENDPOINT = "/api/v1/testing/samples/batch"
POOL = 10


# ---------------------------------------------------------------- the server


def serve(url: str, port: int, data_dir: str) -> None:
    """Run the application on 127.0.0.1:``port`` (in a child process)."""
    import uvicorn

    from fangkong.app import create_app
    from fangkong.config import Settings

    app = create_app(Settings(database_url=url, secret_key="bench-secret", run_jobs_in_process=False,
                              data_dir=data_dir))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, data_dir: str) -> tuple[multiprocessing.process.BaseProcess, str]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=serve, args=(url, port, data_dir), daemon=True)
    process.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/api/openapi.json", timeout=5).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if not process.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.1)


# ---------------------------------------------------------------- batches


@dataclass
class Batch:
    community: str
    body: bytes
    size: int


def make_batches(people: city.People, testing: city.Testing, n_batches: int, size: int, seed: int) -> list[Batch]:
    """``n_batches`` of ``size`` new samples: each batch at one community's site, persons of that
    community not sampled before, new tubes of ``POOL`` each."""
    rng = np.random.default_rng(seed + 11)
    now = datetime.now(UTC)
    pools: dict[int, list[int]] = {}
    for c in range(len(people.codes)):
        members = people.ids[(people.community == c) & people.at_home]
        pools[c] = list(rng.permutation(members))
    order = [c for c in rng.permutation(len(people.codes))]
    batches = []
    tube_no = 0
    for b in range(n_batches):
        # The next community that still has enough persons not yet sampled.
        for _ in range(len(order)):
            c = order[b % len(order)]
            if len(pools[c]) >= size:
                break
            order.remove(c)
        else:
            raise SystemExit(f"not enough persons for {n_batches} batches of {size}: load more (--persons)")
        code = people.codes[c]
        persons, pools[c] = pools[c][:size], pools[c][size:]
        entries = []
        for i, person_id in enumerate(persons):
            if i % POOL == 0:
                tube_no += 1
            at = now - timedelta(minutes=30) + timedelta(seconds=3 * i)
            entries.append({"client_id": f"dev{b:04d}-{i:04d}-{seed}", "tube_code": f"2205{tube_no:010d}",
                            "person_id": int(person_id), "sampled_at": at.isoformat()})
        body = {"round_id": testing.round_id, "site_id": testing.sites[code], "pool_size": POOL, "entries": entries}
        batches.append(Batch(code, json.dumps(body).encode(), size))
    return batches


@dataclass
class Sent:
    seconds: float
    latencies: list[float]
    counts: dict[str, int]

    def rate(self, samples: int) -> float:
        return samples / self.seconds

    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def send(base: str, token: str, batches: list[Batch], clients: int) -> Sent:
    """Send every batch (from ``clients`` devices at once); time the whole and each request."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    answers: list[httpx.Response | None] = [None] * len(batches)
    latencies: list[float] = [0.0] * len(batches)

    def device(first: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            for i in range(first, len(batches), clients):
                t0 = time.perf_counter()
                answer = client.post(ENDPOINT, content=batches[i].body)
                answer.read()
                latencies[i] = time.perf_counter() - t0
                answers[i] = answer

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(device, range(clients)))
    seconds = time.perf_counter() - t0
    counts = {"stored": 0, "already_stored": 0, "already_sampled": 0, "rejected": 0}
    for answer in answers:
        assert answer is not None
        if answer.status_code != 200:
            raise SystemExit(f"the server answered {answer.status_code}: {answer.text[:500]}")
        body = answer.json()
        for k in counts:
            counts[k] += body[k]
    return Sent(seconds, latencies, counts)


def issue_token(engine: Engine) -> str:
    with system_session(engine) as session:
        user = users.find_user(session, USER)
        assert user is not None
        return users.issue_token(session, user, label="bench")


def profile(engine: Engine, batches: list[Batch], count: int) -> None:
    """Run ``count`` batches through ``service.register_batch`` in this process under cProfile."""
    from fangkong.core.db import finish, session_factory, writing
    from fangkong.testing import service
    from fangkong.testing.schemas import SampleBatch

    with system_session(engine) as session:
        user = users.find_user(session, USER)
        assert user is not None
        who = users.principal_for(user)
    factory = session_factory(writing(engine))
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    for batch in batches[:count]:
        data = SampleBatch.model_validate_json(batch.body)
        with factory() as session:
            who.bind(session)
            profiler.enable()
            service.register_batch(session, data)
            finish(session, failed=False)
            profiler.disable()
    print(f"\nprofile: {count} batches through register_batch in {time.perf_counter() - t0:.2f} s")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--persons", type=int, default=200_000, help="persons to load (default 200000)")
    parser.add_argument("--community-size", type=int, default=7000, help="persons per community (default 7000)")
    parser.add_argument("--batches", type=int, default=100, help="batches to send (default 100)")
    parser.add_argument("--batch-size", type=int, default=500, help="samples per batch (default 500)")
    parser.add_argument("--clients", type=int, default=1, help="devices sending at once (default 1)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"database to create and drop (default {DEFAULT_PG})")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="afterwards, profile N more batches through the service in this process")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (its URL is printed)")
    args = parser.parse_args(argv)

    clock = city.Stopwatch()
    print(f"testing_register: {args.db}, {args.batches} batches of {args.batch_size}, {args.clients} device(s), "
          f"{args.persons:,} persons; load average at start {city.load_average()}", flush=True)
    url, engine = city.new_city(args.db, args.pg_url)
    process = None
    data_dir = tempfile.TemporaryDirectory(prefix="fangkong-bench-data-")
    try:
        codes = city.add_communities(engine, args.persons, args.community_size)
        people = city.load_people(engine, args.persons, codes, seed=args.seed)
        testing = city.open_round(engine, codes)
        token = issue_token(engine)
        batches = make_batches(people, testing, args.batches + args.profile, args.batch_size, args.seed)
        measured, extra = batches[:args.batches], batches[args.batches:]
        engine.dispose()
        process, base = start_server(url, data_dir.name)
        print(f"loaded and serving in {clock():.0f} s; sending …", flush=True)
        samples = sum(b.size for b in measured)
        first = send(base, token, measured, args.clients)
        again = send(base, token, measured, args.clients)
        with system_session(engine) as session:
            stored = session.execute(select(func.count()).select_from(Sample)).scalar_one()
            tubes = dict(session.execute(select(Tube.state, func.count()).group_by(Tube.state)).all())
        report(engine, args, samples, first, again, stored, tubes)
        if args.profile:
            profile(engine, extra, args.profile)
        print(f"\nload average at end {city.load_average()}; whole run {clock():.0f} s")
    finally:
        if process is not None:
            process.terminate()
            process.join(10)
        engine.dispose()
        data_dir.cleanup()
        if args.keep:
            print(f"kept: {url}", file=sys.stderr)
        else:
            city.drop_database(args.db, url)


def report(engine: Engine, args: argparse.Namespace, samples: int, first: Sent, again: Sent, stored: int,
           tubes: dict[Any, int]) -> None:
    print()
    print(f"{'machine':>10}: {city.machine()}")
    print(f"{'database':>10}: {city.database_version(engine)}")
    print(f"{'server':>10}: uvicorn, one process, on 127.0.0.1; client httpx, {args.clients} device(s)")
    print()
    print(f"| {args.batches} batches of {args.batch_size} | samples/s | total s | median ms per batch | "
          "p95 ms per batch | answers |")
    print("|---|---:|---:|---:|---:|---|")
    for label, sent in (("new samples", first), ("the same batches again", again)):
        answers = ", ".join(f"{k} {v:,}" for k, v in sent.counts.items() if v)
        print(f"| {label} | {sent.rate(samples):,.0f} | {sent.seconds:.1f} | "
              f"{statistics.median(sent.latencies) * 1000:,.0f} | {sent.p95() * 1000:,.0f} | {answers} |")
    print()
    print(f"In the database afterwards: {stored:,} samples; tubes "
          + ", ".join(f"{TubeState(k).value} {v:,}" for k, v in sorted(tubes.items())))


if __name__ == "__main__":
    main()
