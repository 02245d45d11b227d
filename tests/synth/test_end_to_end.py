"""The real generator, the dataset writer and the loader together: what ``make run`` does, at a small size.

Skipped until the city generator and the outbreak simulation are part of the package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fangkong.core.db import make_engine
from fangkong.core.migrate import upgrade
from fangkong.core.scope import Principal
from fangkong.people import service as people
from fangkong.people.models import Person
from fangkong.synth.dataset import verify, write_dataset
from fangkong.synth.load import load_dataset
from fangkong.users import service as users
from tests.conftest import drop_database, fresh_database_url

pytest.importorskip("fangkong.synth.city", reason="the city generator is not in the package yet")
pytest.importorskip("fangkong.synth.outbreak", reason="the outbreak simulation is not in the package yet")

ARGS: dict[str, Any] = {
    "scenario": "tonghua-2021", "population": 4_000, "days": 3, "seed": 2021, "districts": ["220502"],
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    name = f"fangkong_end_to_end_{os.getpid()}"
    url = fresh_database_url(name, tmp_path)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    drop_database(name)


def test_a_generated_slice_is_reproducible_and_loads(tmp_path: Path, engine: Engine) -> None:
    first = write_dataset(tmp_path / "one", **ARGS)
    second = write_dataset(tmp_path / "two", **ARGS)
    assert first.files == second.files
    assert verify(tmp_path / "one") == first

    counts = load_dataset(engine, tmp_path / "one", data_dir=tmp_path / "data")
    assert counts["persons"] == first.rows["persons"] == ARGS["population"]
    assert counts["households"] == first.rows["households"]
    assert counts["places"] == first.rows["places"] and counts["facilities"] == first.rows["facilities"]
    assert counts["presence files"] == ARGS["days"]

    with Session(engine) as session:
        worker = users.find_user(session, "dongchang_worker")
        assert worker is not None and worker.jurisdiction_code.startswith("220502")
        users.principal_for(worker).bind(session)
        found = people.search_persons(session, None, size=5)
        assert found.total > 0 and {p.jurisdiction_code for p in found.items} == {worker.jurisdiction_code}
        Principal.system().bind(session)
        total = session.execute(select(func.count()).select_from(Person)).scalar_one()
        assert total == pq.read_metadata(tmp_path / "one" / "persons.parquet").num_rows
