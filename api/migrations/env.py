"""Alembic environment: uses the connection handed over by api.migrate, or the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from api.adapters.db import make_engine
from api.adapters.tables import metadata

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as new_connection:
        run_with(new_connection)
    engine.dispose()
