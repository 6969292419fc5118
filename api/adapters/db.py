"""Engines for SQLite (embedded default) and PostgreSQL (production); nothing connects until first use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "shoploop_read_only"


def make_engine(database_url: str, *, pool_size: int = 10) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _make_sqlite_transactions_immediate(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)


def _make_sqlite_transactions_immediate(engine: Engine) -> None:
    """SQLite's deferred transactions deadlock when two readers both upgrade to writers; BEGIN IMMEDIATE
    takes the write lock up front, so concurrent checkouts queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only transaction never upgrades to a writer, so it cannot deadlock: it begins deferred and
        # reads its WAL snapshot beside the writers instead of queueing for the write lock.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def make_read_only_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads only (on SQLite they do not take the write lock); never write through them."""
    return sessionmaker(
        bind=engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False, autoflush=False
    )


def insert_or_merge(session: Session, table: Any) -> Any:
    """An INSERT that can take ON CONFLICT DO NOTHING / DO UPDATE on the session's database (both dialects
    spell it the same way); one round trip instead of a SELECT then an INSERT."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
