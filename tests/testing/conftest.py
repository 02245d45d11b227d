"""Fixtures of the testing module: a round over the demo city, a sampling site, and ways to sample."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core.db import utcnow
from fangkong.geo.models import Facility
from fangkong.people.models import Person
from fangkong.synth import schema
from fangkong.synth.dataset import Manifest
from fangkong.testing import results, service
from fangkong.testing.models import Outcome, Purpose, Round, SamplingSite, Tube, TubeResult
from fangkong.testing.schemas import BatchResult, RoundIn, SampleBatch, SampleEntry, SiteIn

XINZHAN = "220502001001"  # 新站社区, the dongchang_worker's community
JIANGNAN = "220502001002"  # 江南社区, its neighbour in 东昌区
DONGTONGHUA = "220503001001"  # 东通化社区 in 二道江区
_codes = itertools.count(1)


def tube_code() -> str:
    """A fresh barcode."""
    return f"T{next(_codes):09d}"


@pytest.fixture(autouse=True)
def files_matched_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's result file is small; it is matched with the recent tubes in memory as a large
    lab file is, so that this is the way the tests take (a test of the default says otherwise)."""
    monkeypatch.setattr(results, "MATCHED_FROM_BYTES", 0)


@pytest.fixture
def round_(session: Session) -> Round:
    """A city-wide round that started two hours ago, 10-in-1 by default."""
    return service.create_round(session, RoundIn(name="第一轮全员核酸检测", jurisdiction_code="2205",
                                                 starts_at=utcnow() - timedelta(hours=2)))


@pytest.fixture
def site(session: Session) -> SamplingSite:
    """A sampling site of 新站社区 that also serves 江南社区."""
    return service.create_site(session, SiteIn(name="新站社区广场采样点", jurisdiction_code=XINZHAN,
                                               opens_at=time(6), closes_at=time(22), serves=[XINZHAN, JIANGNAN]))


@pytest.fixture
def lab(session: Session) -> Facility:
    """东昌区's lab (code LAB220502), the demo lab account's."""
    return session.execute(select(Facility).where(Facility.code == "LAB220502")).scalar_one()


def residents(session: Session, community: str, n: int | None = None) -> list[Person]:
    """The first ``n`` residents of a community, by id."""
    from fangkong.core.scope import system_access

    with system_access(session):
        found = session.execute(select(Person).where(Person.jurisdiction_code == community)
                                .order_by(Person.id)).scalars().all()
    return list(found[:n] if n is not None else found)


def sample(session: Session, round_: Round, site: SamplingSite | None, code: str, persons: Sequence[Person], *,
           purpose: Purpose = Purpose.SCREENING, pool_size: int | None = None,
           at: datetime | None = None) -> BatchResult:
    """Sample ``persons`` into tube ``code`` through the batch service."""
    at = at or utcnow() - timedelta(minutes=30)
    entries = [SampleEntry(client_id=uuid.uuid4().hex, tube_code=code, person_id=p.id, sampled_at=at) for p in persons]
    return service.register_batch(session, SampleBatch(round_id=round_.id, site_id=site.id if site else None,
                                                       purpose=purpose, pool_size=pool_size, entries=entries))


ResultPoster = Callable[[str, Outcome], dict[str, int]]


@pytest.fixture
def post_result(session: Session, lab: Facility) -> ResultPoster:
    """Record a lab result for a tube and run the pool loop, as an import does."""

    def post(code: str, outcome: Outcome) -> dict[str, int]:
        from fangkong.core.scope import system_access

        with system_access(session):
            tube = session.execute(select(Tube).where(Tube.code == code)).scalar_one()
            session.add(TubeResult(tube_id=tube.id, outcome=outcome, tested_at=datetime.now(UTC), lab_id=lab.id,
                                   jurisdiction_code=tube.jurisdiction_code))
            session.flush()
        return service.apply_results(session, [tube.id])

    return post


Infection = tuple[int, datetime, datetime | None]  # person id, infected at, symptom onset (None: asymptomatic)


def write_outbreak(folder: Path, infections: Sequence[Infection], *, start: date = date(2021, 1, 1),
                   days: int = 14) -> Path:
    """A dataset folder with what a simulated round reads of one: the manifest and the ground truth."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(scenario="tonghua-2021", seed=1, population=0, days=days, start=start, districts=(),
                        rows={"infections": len(infections)}, files={})
    (folder / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    n = len(infections)
    table = pa.table({
        "infectee_id": [i[0] for i in infections], "infector_id": [None] * n, "place_id": [None] * n,
        "infected_at": [i[1] for i in infections], "onset_at": [i[2] for i in infections],
        "asymptomatic": [i[2] is None for i in infections], "severity": ["mild"] * n,
    }, schema=schema.INFECTIONS)
    pq.write_table(table, folder / "infections.parquet")
    return folder
