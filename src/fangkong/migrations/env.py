"""Alembic environment: runs migrations against the URL the caller configured."""

from alembic import context

import fangkong.models  # noqa: F401  (registers every table on the metadata)
from fangkong.core.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run the migrations online, in one transaction (batch mode, so SQLite can alter tables)."""
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
