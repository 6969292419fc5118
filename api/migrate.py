"""Run the Alembic migrations programmatically (`alembic upgrade head`), for the CLI and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from api.adapters.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(
    database_url: str | None = None, *, engine: Engine | None = None, revision: str = "head"
) -> None:
    """Bring the database at `database_url` (or behind `engine`) up to `revision`."""
    if engine is None:
        if database_url is None:
            from api.settings import ApiSettings

            database_url = ApiSettings().database_url
        engine = make_engine(database_url)
    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
