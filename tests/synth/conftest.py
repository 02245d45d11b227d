"""Fixtures shared by the presence and outbreak tests."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest

from fangkong.synth.city import build_city
from fangkong.synth.population import CityLike
from fangkong.synth.scenario import get_scenario
from tests.synth import fake_city


def table_hash(table: pa.Table) -> str:
    """A digest of a table's schema and content."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


@pytest.fixture(scope="module", params=["stand-in", "tonghua-2021"])
def sim_city(request: pytest.FixtureRequest) -> CityLike:
    """The tests' stand-in with only the contract's tables, and the generated city with its sizes and kinds."""
    if request.param == "stand-in":
        return fake_city.build(20_000, seed=7)
    return build_city(get_scenario("tonghua-2021"), population=20_000, seed=7)
