"""Alembic migrations of the call log, run by :func:`engine.records.database.Database.migrate`."""
