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


def test_postgresql_columns_have_the_collation_the_models_ask_for(empty_database: tuple[str, Engine]) -> None:
    _, engine = empty_database
    if engine.dialect.name != "postgresql":
        return
    wanted = {}
    for table in Base.metadata.tables.values():
        for column in table.columns:
            collation = getattr(column.type.dialect_impl(engine.dialect), "collation", None)
            if collation:
                wanted[(table.name, column.name)] = collation
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "select table_name, column_name, collation_name from information_schema.columns "
            "where table_schema = 'public' and collation_name is not null").all()
    actual = {(t, c): coll for t, c, coll in rows}
    assert wanted, "the models ask for byte-wise collations"
    assert {k: actual.get(k) for k in wanted} == wanted
