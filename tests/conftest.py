"""Test fixtures: a real database (SQLite or PostgreSQL), the demo city, personas, clients.

The suite runs once per database: ``FANGKONG_TEST_DB=sqlite`` (default) or ``postgresql``. The
schema is built by the Alembic migrations and the demo city is loaded from a fixed seed, once per
run; every test then runs inside a transaction that is rolled back at its end.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from fangkong.app import apply_default_locale, create_app
from fangkong.config import Settings
from fangkong.core.db import make_engine, system_session
from fangkong.core.deps import get_session, request_work
from fangkong.core.migrate import upgrade
from fangkong.core.scope import Principal
from fangkong.synth import demo
from fangkong.users import service as users

# The SQLite and the PostgreSQL passes may run at once (`make test`): each test process keeps the files
# it writes (uploads, evidence, attachments) in a folder of its own, and signs with a fixed key instead
# of generating var/secret_key in a race with the other.
os.environ.setdefault("FANGKONG_DATA_DIR", tempfile.mkdtemp(prefix="fangkong-test-data-"))
os.environ.setdefault("FANGKONG_SECRET_KEY", "test-secret-key-of-the-suite")

DB = os.environ.get("FANGKONG_TEST_DB", "sqlite")
PG_SERVER = os.environ.get("FANGKONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
SEED = 2021

# Personas (see STYLE.md): who they are in the demo city.
WORKER_DC = "dongchang_worker"  # community worker of 新站社区, 东昌区 (220502001001)
WORKER_EDJ = "erdaojiang_worker"  # community worker of 东通化社区, 二道江区 (220503001001)
CITY_COMMANDER = "city_commander"  # commander of 通化市 (2205)
DC_COMMANDER = "dongchang_commander"  # commander of 东昌区 (220502)
LAB = "lab"  # the 东昌区 lab's account
VIEWER = "viewer"  # aggregates only
ADMIN = "admin"  # administrator of 通化市


def pytest_report_header() -> str:
    return f"fangkong database: {DB}"


def fresh_database_url(name: str, tmp: Path) -> str:
    """An empty database of the kind under test, named ``name``."""
    if DB == "sqlite":
        path = tmp / f"{name}.db"
        return f"sqlite:///{path}"
    if DB != "postgresql":
        raise pytest.UsageError(f"FANGKONG_TEST_DB must be sqlite or postgresql, not {DB!r}")
    admin = create_engine(f"postgresql+psycopg://{PG_SERVER.split('://', 1)[1]}/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\''))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def drop_database(name: str) -> None:
    """Remove a PostgreSQL test database (SQLite files go with the temporary directory)."""
    if DB != "postgresql":
        return
    admin = create_engine(f"postgresql+psycopg://{PG_SERVER.split('://', 1)[1]}/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def build_database(name: str, tmp: Path) -> tuple[str, Engine]:
    """Migrate an empty database to head and load the demo city into it."""
    url = fresh_database_url(name, tmp)
    upgrade(url)
    engine = make_engine(url)
    with system_session(engine) as session:
        demo.load(session, seed=SEED)
    return url, engine


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """The migrated demo database of this run."""
    # One database per test process, so parallel runs on one server do not collide.
    name = f"fangkong_test_{os.getpid()}"
    url, engine = build_database(name, tmp_path_factory.mktemp("db"))
    yield url, engine
    engine.dispose()
    drop_database(name)


@pytest.fixture(scope="session")
def engine(database: tuple[str, Engine]) -> Engine:
    return database[1]


@pytest.fixture
def connection(engine: Engine) -> Iterator:
    """One connection inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


def _session_on(connection) -> Session:  # type: ignore[no-untyped-def]
    # Commits inside the code under test release a SAVEPOINT; the test's outer transaction stays.
    return Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(connection) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A session acting as the system (unscoped) until a test binds a persona."""
    s = _session_on(connection)
    Principal.system().bind(s)
    yield s
    s.close()


@pytest.fixture
def as_user(session: Session):  # type: ignore[no-untyped-def]
    """Bind a persona's principal to ``session``: ``as_user("dongchang_worker")``."""

    def bind(username: str) -> Principal:
        user = users.find_user(session, username)
        assert user is not None, username
        principal = users.principal_for(user, address="127.0.0.1")
        principal.bind(session)
        return principal

    return bind


@pytest.fixture
def settings(database: tuple[str, Engine]) -> Settings:
    return Settings(database_url=database[0], secret_key="test-secret-key", run_jobs_in_process=False,
                    login_max_failures=5)


class Client(TestClient):
    """A test client that can log in as a persona and knows its CSRF token."""

    def csrf(self) -> str:
        page = self.get("/login")
        match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert match, "login page carries a CSRF token"
        return match.group(1)

    def login(self, username: str, password: str = demo.DEMO_PASSWORD) -> Client:
        token = self.csrf()
        response = self.post("/login", data={"username": username, "password": password, "csrf_token": token},
                             follow_redirects=False)
        assert response.status_code == 303, response.text
        self.headers["X-CSRF-Token"] = token
        return self


# Applications built by ``client_factory``, by engine and settings. FastAPI works out each route's
# parameters on the first request that reaches it, in every new application: a few tenths of a second
# per test when each test built its own. The folder for files is read from ``app.state.settings`` at
# each request, so tests that differ only in it share an application. Each entry holds its engine, so
# that the id of the key is never that of a later engine.
_apps: dict[tuple[int, str], tuple[Engine, FastAPI]] = {}


def app_for(settings: Settings, engine: Engine) -> FastAPI:
    """The application for ``settings`` on ``engine``, built once, with ``settings`` in force."""
    key = (id(engine), settings.model_dump_json(exclude={"data_dir"}))
    if key not in _apps:
        _apps[key] = (engine, create_app(settings, engine=engine))
    app = _apps[key][1]
    app.state.settings = settings
    apply_default_locale(settings)
    return app


@pytest.fixture
def client_factory(settings: Settings, engine: Engine, connection):  # type: ignore[no-untyped-def]
    """Make several independent clients (browsers) on the same test transaction."""
    made: list[Client] = []
    app = app_for(settings, engine)

    def session_in_test(request: Request) -> Iterator[Session]:
        yield from request_work(request, _session_on(connection))

    app.dependency_overrides[get_session] = session_in_test

    def make() -> Client:
        c = Client(app, base_url="http://testserver")
        c.__enter__()
        made.append(c)
        return c

    yield make
    for c in made:
        c.__exit__(None, None, None)
    app.dependency_overrides.clear()


@pytest.fixture
def client(client_factory) -> Client:  # type: ignore[no-untyped-def]
    """One browser-like client of the application."""
    return client_factory()


@pytest.fixture(scope="module")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """A migrated database with no data, for code that opens and commits its own sessions (jobs)."""
    name = f"fangkong_empty_{os.getpid()}"
    url = fresh_database_url(name, tmp_path_factory.mktemp("empty"))
    upgrade(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    drop_database(name)
