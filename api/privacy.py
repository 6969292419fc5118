"""The order core's part of `shoploop privacy forget`: a composition root that erases, through the service
layer, every order-core account among a person's ids, in the database of the order core's settings.

A missing database is reported, not created: an SQLite file that does not exist, or a database without the
order core's tables (never migrated), means the order core never ran there and holds nobody.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from api.adapters.db import make_engine, make_session_factory
from api.service_layer.account_erasure import AccountErasure, accounts_among, erase_account
from api.service_layer.unit_of_work import UnitOfWork
from api.settings import ApiSettings

ACTOR = "shoploop privacy forget"


@dataclass(frozen=True)
class OrderCoreErasure:
    database: str  # the URL without its password
    is_database_found: bool
    accounts: list[AccountErasure] = field(default_factory=list)


def erase_accounts(
    ids: Collection[str], settings: ApiSettings | None = None, *, now: datetime | None = None
) -> OrderCoreErasure:
    """Erase the order-core accounts among ``ids`` (see :mod:`api.service_layer.account_erasure`)."""
    settings = settings or ApiSettings()
    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
        return OrderCoreErasure(database=shown, is_database_found=False)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        if not inspect(engine).has_table("users"):
            return OrderCoreErasure(database=shown, is_database_found=False)
        session_factory = make_session_factory(engine)
        erased_at = now or datetime.now(UTC)
        accounts = [
            erase_account(UnitOfWork(session_factory), user_id=user_id, actor=ACTOR, now=erased_at)
            for user_id in accounts_among(UnitOfWork(session_factory), ids)
        ]
        return OrderCoreErasure(database=shown, is_database_found=True, accounts=accounts)
    finally:
        engine.dispose()
