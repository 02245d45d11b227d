"""The migrations build exactly the schema the models describe, on the database under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

import fangkong.models  # noqa: F401
from fangkong.core.db import Base


def test_an_empty_database_upgraded_to_head_matches_the_models(empty_database: tuple[str, Engine]) -> None:
    _, engine = empty_database
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_model_table_exists(empty_database: tuple[str, Engine]) -> None:
    _, engine = empty_database
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_sqlite_runs_in_wal_mode_with_foreign_keys(empty_database: tuple[str, Engine]) -> None:
    _, engine = empty_database
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
