"""``fangkong synth`` and ``fangkong demo load --from``: bad input is one line and status 2.

Loading runs the real command in a separate process on a real database. Generating runs in this
process (Typer's runner) so that the stand-in generator of ``tests.synth.fake_dataset`` can take the
place of the city and outbreak modules; the command itself is the real one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fangkong.cli.main import app
from fangkong.core.migrate import upgrade
from tests.cli.test_cli import fangkong
from tests.conftest import drop_database, fresh_database_url
from tests.synth import fake_dataset


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"fangkong_cli_synth_{os.getpid()}"
    database = fresh_database_url(name, tmp_path_factory.mktemp("cli_synth"))
    upgrade(database)
    yield database
    drop_database(name)


def synth_in_process(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    fake_dataset.install(monkeypatch)
    result = CliRunner().invoke(app, ["synth", "--days", "2", "--seed", "5", *args])
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--population", "-5"], "error: population must be a positive number of persons, not -5"),
    (["--population", "1000", "--days", "0"], "error: days must be a positive number of days, not 0"),
])
def test_bad_numbers_are_one_line_and_status_2(tmp_path: Path, url: str, args: list[str], message: str) -> None:
    result = fangkong("synth", "--out", str(tmp_path / "city"), *args, url=url)
    assert result.returncode == 2
    assert one_error_line(result.stderr) == message
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_empty_is_refused_with_status_2(tmp_path: Path, url: str) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = fangkong("synth", "--out", str(tmp_path), "--population", "100", url=url)
    assert result.returncode == 2
    assert "is not empty; use --force" in one_error_line(result.stderr)


def test_an_unknown_scenario_is_one_line_and_status_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, _, stderr = synth_in_process(monkeypatch, "--scenario", "wuhan-2020", "--out", str(tmp_path / "c"))
    assert status == 2
    assert one_error_line(stderr) == "error: unknown scenario 'wuhan-2020', known: tonghua-2021"


def test_synth_then_demo_load_from_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    out = tmp_path / "city"
    status, stdout, stderr = synth_in_process(monkeypatch, "--population", "800", "--district", "220502",
                                              "--out", str(out))
    assert status == 0, stderr
    assert "800 persons" in stdout and (out / "manifest.json").is_file()

    again, _, stderr = synth_in_process(monkeypatch, "--population", "800", "--out", str(out))
    assert again == 2 and "--force" in one_error_line(stderr)
    forced, _, stderr = synth_in_process(monkeypatch, "--population", "900", "--district", "220502",
                                         "--out", str(out), "--force")
    assert forced == 0, stderr

    env = {"FANGKONG_DATA_DIR": str(tmp_path / "data")}
    loaded = fangkong("demo", "load", "--if-empty", "--from", str(out), url=url, env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "900 persons" in loaded.stdout and "dongchang_worker" in loaded.stdout
    # The presence is replayed to end today (the round and the tracing of the demo are played now).
    days = sorted(p.name for p in (tmp_path / "data" / "presence").iterdir())
    assert days[-1] in {f"day={d.isoformat()}" for d in (date.today(), datetime.now(UTC).date())}
    assert len(days) == len(list((out / "presence").iterdir()))
    assert not (tmp_path / "data" / "presence" / "day=2021-01-02").exists()
    again_loaded = fangkong("demo", "load", "--if-empty", "--from", str(out), url=url, env=env)
    assert again_loaded.returncode == 0 and "already loaded" in again_loaded.stdout
    refused = fangkong("demo", "load", "--from", str(out), url=url, env=env)
    assert refused.returncode == 1 and "empty" in refused.stderr


def test_demo_load_from_a_folder_without_a_dataset_is_status_2(tmp_path: Path) -> None:
    name = f"fangkong_cli_synth_empty_{os.getpid()}"
    url = fresh_database_url(name, tmp_path)
    try:
        upgrade(url)
        result = fangkong("demo", "load", "--from", str(tmp_path / "nowhere"), url=url)
        assert result.returncode == 2
        assert one_error_line(result.stderr).endswith("nowhere holds no dataset: manifest.json is missing")
    finally:
        drop_database(name)
