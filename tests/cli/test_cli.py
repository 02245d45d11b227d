"""The ``fangkong`` command, run as a user runs it: a separate process on a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from fangkong.core.db import make_engine, system_session
from fangkong.users.models import ApiToken, User
from fangkong.users.service import user_for_token
from tests.conftest import drop_database, fresh_database_url


def fangkong(*args: str, url: str, stdin: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "FANGKONG_DATABASE_URL": url, "FANGKONG_SECRET_KEY": "cli-test", **(env or {})}
    return subprocess.run([sys.executable, "-m", "fangkong.cli.main", *args], env=environment, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"fangkong_cli_{os.getpid()}"
    database = fresh_database_url(name, tmp_path_factory.mktemp("cli"))
    yield database
    drop_database(name)


def test_an_unreachable_database_is_one_line_and_status_1() -> None:
    result = fangkong("db", "upgrade", url="postgresql://postgres@127.0.0.1:1/none")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot reach the database at postgresql://postgres@127.0.0.1:1/none")
    assert "Traceback" not in result.stderr


def test_upgrade_then_demo_load_then_load_if_empty_does_nothing(url: str) -> None:
    assert fangkong("db", "upgrade", url=url).returncode == 0
    loaded = fangkong("demo", "load", url=url)
    assert loaded.returncode == 0, loaded.stderr
    assert "jurisdictions" in loaded.stdout and "dongchang_worker" in loaded.stdout
    again = fangkong("demo", "load", "--if-empty", url=url)
    assert again.returncode == 0 and "already loaded" in again.stdout
    refused = fangkong("demo", "load", url=url)
    assert refused.returncode == 1 and "empty" in refused.stderr


def test_user_create_and_token(url: str) -> None:
    created = fangkong("user", "create", "grid_21", "--role", "community_worker:220502001002", "--name", "网格员",
                       "--password", "a-long-password", url=url)
    assert created.returncode == 0, created.stderr
    issued = fangkong("user", "token", "grid_21", "--label", "phone", url=url)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    engine = make_engine(url)
    with system_session(engine) as session:
        user = session.execute(select(User).where(User.username == "grid_21")).scalar_one()
        assert [(g.role.value, g.jurisdiction_code) for g in user.grants] == [("community_worker", "220502001002")]
        assert session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one().label == "phone"
        assert user_for_token(session, token) is not None
    engine.dispose()


def test_a_bad_role_or_jurisdiction_is_one_clear_line(url: str) -> None:
    bad_role = fangkong("user", "create", "x_1", "--role", "general:2205", "--password", "a-long-password", url=url)
    assert bad_role.returncode == 1 and "unknown role 'general'" in bad_role.stderr
    outside = fangkong("user", "create", "x_2", "--role", "viewer:2299", "--password", "a-long-password", url=url)
    assert outside.returncode == 1 and "2299" in outside.stderr and "Traceback" not in outside.stderr


def test_help_lists_the_commands(url: str) -> None:
    result = fangkong("--help", url=url)
    for command in ("serve", "db", "demo", "user", "jobs"):
        assert command in result.stdout


