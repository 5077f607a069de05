"""Alembic's entry point: migrate on the connection dialplan hands over, or on the ini's URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from engine.records.tables import Base

config = context.config


def run() -> None:
    """Run the migrations (online: on a live connection)."""
    connection = config.attributes.get("connection")
    if connection is None:  # the `alembic` command line, with sqlalchemy.url in its ini
        url = config.get_main_option("sqlalchemy.url")
        assert url, "set sqlalchemy.url"
        with create_engine(url).begin() as own:
            _migrate(own)
        return
    _migrate(connection)


def _migrate(connection: Connection) -> None:
    # Batch mode lets later revisions alter columns on SQLite (which cannot ALTER much).
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
