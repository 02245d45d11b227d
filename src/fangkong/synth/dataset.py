"""Writing a synthetic dataset to disk, reproducibly and atomically; reading and verifying one.

``write_dataset`` builds the city, runs the outbreak and writes every file of the layout in
``schema`` (presence one day at a time, as the simulation produces it, so a city's 100+ million
presence rows never sit in memory at once). Everything is written into a hidden sibling folder,
``.<name>.partial-<pid>``, with ``manifest.json`` last, and the folder is renamed into place only
when complete: an interrupted run leaves nothing that looks like a dataset.

The same arguments give byte-identical files: the Parquet writer options are pinned below, the
files carry no timestamps, and JSON is written with sorted keys.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fangkong.synth import schema

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PRESENCE = "presence"
GEO = "geo"

# Pinned so that the same tables always give the same bytes (and so that a pyarrow upgrade that
# changes a default does not silently change the format). On presence, zstd level 1 is within a few
# per cent of level 3 in size and faster to write; a row group per 1 Mi rows lets DuckDB and Spark
# split a day's file across cores.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "row_group_size": 1 << 20,
    "data_page_size": 1 << 20,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "write_page_index": False,
    "store_schema": True,
}

Progress = Callable[[str, int, int], None]


class DatasetError(ValueError):
    """Bad arguments for a dataset, or a folder that does not hold a valid one; the message says which."""


@dataclass(frozen=True)
class Manifest:
    """What a dataset folder holds: how it was made, its row counts and the hash of every file."""

    scenario: str
    seed: int
    population: int  # as requested; rows["persons"] is what was generated
    days: int
    start: date
    districts: tuple[str, ...]  # empty: every district of the scenario
    rows: dict[str, int]  # per table (file name without .parquet), and "presence" over all days
    files: dict[str, str]  # relative path → sha256, every file but the manifest
    format_version: int = FORMAT_VERSION
    generator: str = field(default_factory=lambda: f"fangkong {_version()}")

    @property
    def presence_days(self) -> list[date]:
        """The simulated days, in order."""
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def to_json(self) -> str:
        """The manifest as written to ``manifest.json``."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["districts"] = list(self.districts)
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse ``manifest.json``; DatasetError when it is not one this version can read."""
        try:
            data = json.loads(text)
            version = data["format_version"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{MANIFEST} is not a valid manifest: {exc}") from None
        if version != FORMAT_VERSION:
            raise DatasetError(f"dataset format version {version!r} is not supported (expected {FORMAT_VERSION})")
        try:
            return cls(scenario=data["scenario"], seed=int(data["seed"]), population=int(data["population"]),
                       days=int(data["days"]), start=date.fromisoformat(data["start"]),
                       districts=tuple(data["districts"]), rows={k: int(v) for k, v in data["rows"].items()},
                       files=dict(data["files"]), format_version=version, generator=data["generator"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DatasetError(f"{MANIFEST} is not a valid manifest: {exc!r}") from None


def write_dataset(out: Path, *, scenario: str, population: int, days: int, seed: int, force: bool = False,
                  districts: Sequence[str] | None = None, progress: Progress | None = None) -> Manifest:
    """Generate the city and its outbreak and write the dataset into ``out`` (see the module docstring).

    A non-empty ``out`` is refused unless ``force``; then it is replaced once the new dataset is
    complete, and only if it holds a dataset (a manifest), so a mistyped path is never wiped.
    """
    if population <= 0:
        raise DatasetError(f"population must be a positive number of persons, not {population}")
    if days <= 0:
        raise DatasetError(f"days must be a positive number of days, not {days}")
    if seed < 0:
        raise DatasetError(f"seed must be zero or positive, not {seed}")
    out = Path(out)
    _check_target(out, force=force)

    from fangkong.synth.city import build_city
    from fangkong.synth.outbreak import simulate
    from fangkong.synth.scenario import get_scenario

    try:
        chosen = get_scenario(scenario)
    except ValueError as exc:
        raise DatasetError(str(exc)) from exc
    report: Progress = progress or (lambda stage, done, total: None)

    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        files = _Files(partial)
        try:
            city = build_city(chosen, population=population, seed=seed, districts=districts, progress=report)
        except ValueError as exc:  # an unknown district, a population too small for the districts …
            raise DatasetError(str(exc)) from exc
        for name, table in [("jurisdictions", city.jurisdictions), ("households", city.households),
                            ("dwellings", city.dwellings), ("persons", city.persons), ("places", city.places),
                            ("facilities", city.facilities)]:
            files.write_table(name, table)

        expected = [chosen.start + timedelta(days=i) for i in range(days)]
        written: list[date] = []

        def write_day(day: date, presence: pa.Table) -> None:
            if len(written) >= days or day != expected[len(written)]:
                raise RuntimeError(f"simulate gave presence for {day} after {len(written)} of {days} days")
            files.write_presence(day, presence)
            written.append(day)
            report("outbreak", len(written), days)

        report("outbreak", 0, days)
        infections = simulate(city, days=days, seed=seed, on_day=write_day)
        if written != expected:
            raise RuntimeError(f"simulate gave presence for {len(written)} of {days} days")
        files.write_table("infections", infections)
        for name, collection in sorted(city.geojson.items()):
            files.write_geojson(name, collection)

        manifest = Manifest(scenario=chosen.name, seed=seed, population=population, days=days, start=chosen.start,
                            districts=tuple(sorted(set(districts or ()))), rows=files.rows, files=files.hashes)
        (partial / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        _check_target(out, force=force)  # again: something may have been put there meanwhile
        _publish(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the dataset in ``folder``; DatasetError if there is none or it is unreadable."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{folder} holds no dataset: {MANIFEST} is missing")
    return Manifest.from_json(path.read_text(encoding="utf-8"))


def verify(folder: Path, *, progress: Progress | None = None) -> Manifest:
    """Check every file of the dataset in ``folder`` against its manifest; DatasetError naming each problem."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    problems = [f"{name}: missing" for name in sorted(set(manifest.files) - present)]
    problems += [f"{name}: not in the manifest" for name in sorted(present - set(manifest.files))]
    checked = sorted(set(manifest.files) & present)
    for i, name in enumerate(checked, start=1):
        if _sha256(folder / name) != manifest.files[name]:
            problems.append(f"{name}: contents differ from the manifest")
        if progress:
            progress("verifying", i, len(checked))
    if problems:
        raise DatasetError(f"dataset {folder} is damaged: " + "; ".join(problems))
    return manifest


def presence_path(day: date) -> str:
    """The file of one day's presence, relative to the dataset folder (hive-style partition)."""
    return f"{PRESENCE}/day={day.isoformat()}/part-0.parquet"


class _Files:
    """The files written so far into a partial dataset folder, with their row counts and hashes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rows: dict[str, int] = {}
        self.hashes: dict[str, str] = {}

    def write_table(self, name: str, table: pa.Table) -> None:
        file = f"{name}.parquet"
        self._parquet(file, _conform(table, schema.FILES[file], file))
        self.rows[name] = table.num_rows

    def write_presence(self, day: date, table: pa.Table) -> None:
        self._parquet(presence_path(day), _conform(table, schema.PRESENCE, f"presence of {day}"))
        self.rows[PRESENCE] = self.rows.get(PRESENCE, 0) + table.num_rows

    def write_geojson(self, name: str, collection: dict[str, Any]) -> None:
        name = name if name.endswith(".geojson") else f"{name}.geojson"
        text = json.dumps(collection, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self._bytes(f"{GEO}/{name}", text.encode("utf-8"))

    def _parquet(self, relative: str, table: pa.Table) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, **PARQUET_OPTIONS)
        self.hashes[relative] = _sha256(path)

    def _bytes(self, relative: str, data: bytes) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.hashes[relative] = hashlib.sha256(data).hexdigest()


def _conform(table: pa.Table, expected: pa.Schema, what: str) -> pa.Table:
    """``table`` with exactly the columns, order and types of ``expected`` (and no metadata)."""
    names = set(table.column_names)
    missing = [n for n in expected.names if n not in names]
    extra = sorted(names - set(expected.names))
    if missing or extra:
        raise TypeError(f"{what}: columns differ from schema.py (missing {missing}, unexpected {extra})")
    return table.select(expected.names).cast(expected)


def _check_target(out: Path, *, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} is a file, not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise DatasetError(f"{out} is not empty; use --force to replace the dataset in it")
    if not (out / MANIFEST).is_file():
        raise DatasetError(f"{out} is not empty and holds no dataset ({MANIFEST} missing); not replacing it")


def _publish(partial: Path, out: Path) -> None:
    """Rename the finished folder into place; a dataset already there is moved aside, then removed."""
    if not out.exists():
        partial.rename(out)
        return
    aside = out.parent / f".{out.name}.replaced-{os.getpid()}"
    out.rename(aside)
    try:
        partial.rename(out)
    except BaseException:
        aside.rename(out)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _remove_stale(out: Path) -> None:
    """Remove the partial or replaced folders that runs killed outright (SIGKILL, power loss) left behind."""
    for path in out.parent.glob(f".{glob.escape(out.name)}.*-*"):
        kind, _, pid = path.name.removeprefix(f".{out.name}.").rpartition("-")
        if kind in ("partial", "replaced") and pid.isdigit() and not _is_running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _is_running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours, from an earlier call in this process that was interrupted
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _version() -> str:
    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.version("fangkong")
    return "unknown"
