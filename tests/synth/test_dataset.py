"""Writing a dataset: exact schemas, the same bytes for the same arguments, atomic, refusals, verification."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fangkong.synth import dataset, schema
from fangkong.synth.dataset import DatasetError, read_manifest, verify, write_dataset
from tests.synth import fake_dataset


@pytest.fixture(autouse=True)
def fake_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dataset.install(monkeypatch)


def write(out: Path, **kw: Any) -> dataset.Manifest:
    args: dict[str, Any] = {"scenario": "tonghua-2021", "population": 500, "days": 3, "seed": 7, **kw}
    return write_dataset(out, **args)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_it_writes_every_file_with_its_exact_schema(tmp_path: Path) -> None:
    out = tmp_path / "city"
    manifest = write(out)
    for name, expected in schema.FILES.items():
        written = pq.read_schema(out / name)
        assert written.equals(expected), name
        assert not written.metadata or b"pandas" not in written.metadata
    days = sorted(p.name for p in (out / "presence").iterdir())
    assert days == ["day=2021-01-01", "day=2021-01-02", "day=2021-01-03"]
    for day in days:
        assert pq.read_schema(out / "presence" / day / "part-0.parquet").equals(schema.PRESENCE)
    assert sorted(p.name for p in (out / "geo").iterdir()) == ["communities.geojson", "districts.geojson"]
    assert json.loads((out / "geo" / "districts.geojson").read_text())["type"] == "FeatureCollection"
    assert manifest.rows["persons"] == pq.read_metadata(out / "persons.parquet").num_rows == 500
    assert manifest.rows["presence"] == 3 * 2 * 500
    assert manifest.presence_days == [date(2021, 1, 1), date(2021, 1, 2), date(2021, 1, 3)]
    assert set(manifest.files) == set(tree(out)) - {"manifest.json"}
    assert read_manifest(out) == manifest


def test_the_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    write(tmp_path / "one", districts=["220503", "220502"])
    write(tmp_path / "two", districts=["220502", "220503"])
    first, second = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert list(first) == list(second)
    assert first == second
    assert b"created" not in first["manifest.json"]  # no timestamps anywhere


def test_another_seed_gives_other_files(tmp_path: Path) -> None:
    one, other = write(tmp_path / "one"), write(tmp_path / "other", seed=8)
    assert one.files["persons.parquet"] != other.files["persons.parquet"]


def test_a_district_slice_holds_only_that_district(tmp_path: Path) -> None:
    manifest = write(tmp_path / "slice", districts=["220502"])
    codes = pq.read_table(tmp_path / "slice" / "persons.parquet")["community_code"].to_pylist()
    assert {c[:6] for c in codes} == {"220502"}
    assert manifest.districts == ("220502",)


def test_presence_is_written_day_by_day_while_the_simulation_runs(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    simulate = fake_dataset.simulate

    def watching(city: Any, *, days: int, seed: int, on_day: Any = None, progress: Any = None) -> pa.Table:
        def on_each(day: date, table: pa.Table) -> None:
            partial = next(tmp_path.glob(".city.partial-*"))
            seen.append(sorted(p.parent.name for p in partial.glob("presence/*/*.parquet")))
            on_day(day, table)

        return simulate(city, days=days, seed=seed, on_day=on_each, progress=progress)

    monkeypatch.setattr(sys.modules["fangkong.synth.outbreak"], "simulate", watching)
    write(tmp_path / "city")
    assert seen == [[], ["day=2021-01-01"], ["day=2021-01-01", "day=2021-01-02"]]


def interrupt_on_day(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Make the simulation fail (as Ctrl-C or a crash would) when it hands over day ``n``."""
    simulate = fake_dataset.simulate

    def failing(city: Any, *, days: int, seed: int, on_day: Any = None, progress: Any = None) -> pa.Table:
        def on_each(day: date, table: pa.Table) -> None:
            if (day - city.scenario.start).days + 1 == n:
                raise KeyboardInterrupt
            on_day(day, table)

        return simulate(city, days=days, seed=seed, on_day=on_each, progress=progress)

    monkeypatch.setattr(sys.modules["fangkong.synth.outbreak"], "simulate", failing)


def test_an_interrupted_run_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    interrupt_on_day(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path / "city")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_forced_run_keeps_the_previous_dataset(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "city"
    before = write(out)
    interrupt_on_day(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        write(out, seed=99, force=True)
    assert verify(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["city"]


def test_a_killed_run_leaves_only_a_hidden_partial_folder_that_the_next_run_removes(tmp_path: Path) -> None:
    dead = tmp_path / ".city.partial-999999999"  # no such process
    (dead / "presence").mkdir(parents=True)
    with pytest.raises(DatasetError, match="holds no dataset"):
        read_manifest(dead)
    write(tmp_path / "city")
    assert [p.name for p in tmp_path.iterdir()] == ["city"]


def test_a_non_empty_folder_is_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "city"
    write(out)
    with pytest.raises(DatasetError, match="not empty; use --force"):
        write(out, seed=8)
    assert read_manifest(out).seed == 7


def test_force_replaces_a_dataset(tmp_path: Path) -> None:
    out = tmp_path / "city"
    write(out)
    (out / "presence" / "day=2021-01-03" / "part-0.parquet").unlink()
    manifest = write(out, seed=8, days=2, force=True)
    assert verify(out) == manifest
    assert manifest.seed == 8 and not (out / "presence" / "day=2021-01-03").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["city"]


def test_force_does_not_wipe_a_folder_that_holds_no_dataset(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="holds no dataset"):
        write(tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_empty_folder_is_filled(tmp_path: Path) -> None:
    out = tmp_path / "city"
    out.mkdir()
    write(out)
    assert verify(out).rows["persons"] == 500


@pytest.mark.parametrize(("kw", "message"), [
    ({"population": 0}, "population must be a positive number"),
    ({"population": -5}, "population must be a positive number"),
    ({"days": 0}, "days must be a positive number"),
    ({"seed": -1}, "seed must be zero or positive"),
    ({"scenario": "wuhan-2020"}, "unknown scenario 'wuhan-2020'"),
    ({"districts": ["999999"]}, "unknown district '999999'"),
])
def test_bad_input_is_refused_with_a_clear_message(tmp_path: Path, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        write(tmp_path / "city", **kw)
    assert list(tmp_path.iterdir()) == []


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "city").write_text("")
    with pytest.raises(DatasetError, match="is a file"):
        write(tmp_path / "city")


def test_verify_detects_a_changed_a_missing_and_an_extra_file(tmp_path: Path) -> None:
    out = tmp_path / "city"
    write(out)
    assert verify(out).seed == 7
    table = pq.read_table(out / "persons.parquet")
    pq.write_table(table.set_column(3, "name", pa.array(["王五"] * table.num_rows)), out / "persons.parquet")
    (out / "geo" / "districts.geojson").unlink()
    (out / "presence" / "day=2021-01-09").mkdir()
    (out / "presence" / "day=2021-01-09" / "part-0.parquet").write_bytes(b"")
    with pytest.raises(DatasetError) as caught:
        verify(out)
    message = str(caught.value)
    assert "persons.parquet: contents differ" in message
    assert "geo/districts.geojson: missing" in message
    assert "presence/day=2021-01-09/part-0.parquet: not in the manifest" in message


def test_a_manifest_of_another_format_version_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "city"
    write(out)
    data = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**data, "format_version": 99}))
    with pytest.raises(DatasetError, match="format version 99 is not supported"):
        read_manifest(out)
    (out / "manifest.json").write_text("{")
    with pytest.raises(DatasetError, match="not a valid manifest"):
        read_manifest(out)


def test_a_table_that_breaks_the_schema_contract_is_not_written(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    build_city = fake_dataset.build_city

    def drifting(*args: Any, **kw: Any) -> fake_dataset.FakeCity:
        city = build_city(*args, **kw)
        city.places = city.places.drop_columns(["venue_code"])
        return city

    monkeypatch.setattr(sys.modules["fangkong.synth.city"], "build_city", drifting)
    with pytest.raises(TypeError, match=r"places.parquet: columns differ from schema.py \(missing \['venue_code'\]"):
        write(tmp_path / "city")
    assert list(tmp_path.iterdir()) == []

