"""`shoploop privacy forget` also reaches the recommender's saved models and the order core: Lily's row leaves
every model run and her account is erased (her paid order stays on record), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, insert, select

from api.adapters import tables as t
from api.adapters.db import make_engine
from api.migrate import upgrade_database
from api.privacy import erase_accounts
from api.service_layer.account_erasure import is_erased_openid
from api.settings import ApiSettings
from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from ingestion.collector.settings import CollectorSettings
from recsys.dataset import build_interaction_matrix
from recsys.model import ALSModel, ALSParams, Recommender
from recsys.registry import ModelRegistry
from recsys.settings import RecsysSettings
from shoploop.privacy import forget
from tests.support import databases
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def order_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with databases.database_url(request.param, tmp_path, name="order_core") as url:
        upgrade_database(url)
        yield url


def _model_of_lily_and_ming() -> Recommender:
    day = timedelta(days=1)
    frame = pl.DataFrame(
        {
            "person_id": ["u-lily", "u-lily", "u-ming", "u-ming", "u-wang", "u-wang"],
            "product_id": ["scarf", "tea", "tea", "mug", "mug", "coffee"],
            "kind": ["purchase", "view", "purchase", "purchase", "purchase", "view"],
            "occurred_at": [AT - 3 * day, AT - 2 * day, AT - 2 * day, AT - day, AT - day, AT - day],
            "quantity": [1] * 6,
        }
    )
    matrix = build_interaction_matrix(frame)
    model = ALSModel(ALSParams(factors=2, iterations=3), num_threads=1).fit(matrix.user_items)
    return Recommender.from_training(matrix, model)


def _accounts_of_lily_and_ming(url: str) -> None:
    """Both have a scarf in their cart; Lily paid an order."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(t.categories).values(category_id="c-silk", name="Silk"))
        connection.execute(
            insert(t.products).values(
                product_id="scarf", category_id="c-silk", title="Silk scarf", created_at=AT
            )
        )
        connection.execute(
            insert(t.skus).values(sku_id="scarf-red", product_id="scarf", price_fen=9900, stock=5)
        )
        for user_id, openid in (("u-lily", "o-lily-openid"), ("u-ming", "o-ming-openid")):
            connection.execute(
                insert(t.users).values(
                    user_id=user_id,
                    openid=openid,
                    unionid=None,
                    session_key="k",
                    created_at=AT,
                    last_login_at=AT,
                )
            )
            connection.execute(
                insert(t.cart_items).values(user_id=user_id, sku_id="scarf-red", quantity=1, added_at=AT)
            )
        connection.execute(
            insert(t.orders).values(
                order_id="o-lily-1",
                user_id="u-lily",
                status="paid",
                discount_fen=0,
                total_fen=9900,
                created_at=AT,
                expires_at=AT,
                paid_at=AT,
            )
        )
    engine.dispose()


def test_forget_takes_lily_out_of_every_model_run_and_erases_her_order_core_account(
    tmp_path: Path, order_database: str
) -> None:
    collector = CollectorSettings(identity_database_url=f"sqlite:///{tmp_path / 'identity.db'}")
    IdentityGraph.from_url(collector.identity_database_url).resolve(
        [Sighting(identities=(anonymous("phone-lily"), user("u-lily")), links=True)]
    )
    recsys = RecsysSettings(registry_dir=tmp_path / "models")
    registry = ModelRegistry(recsys.registry_dir)
    for day in range(2):  # the live run and one kept for rollback
        registry.save_run(_model_of_lily_and_ming(), validation_score=0.1 + day, now=AT + timedelta(days=day))
        registry.promote_best()
    ming_before = registry.load_live().recommend_for("u-ming", n=2)
    _accounts_of_lily_and_ming(order_database)

    report = forget(
        "phone-lily",
        collector=collector,
        warehouse=WarehouseSettings(data_dir=tmp_path / "var"),
        recsys=recsys,
        order_core=ApiSettings(database_url=order_database),
    )

    assert sorted(report.recommender_rows_removed.values()) == [1, 1]
    for card in registry.runs():
        assert "u-lily" not in Recommender.load(card.model_path).person_index
    assert registry.load_live().recommend_for("u-ming", n=2) == ming_before
    assert report.order_core is not None and report.order_core.is_database_found
    assert [a.user_id for a in report.order_core.accounts] == ["u-lily"]
    engine = make_engine(order_database)
    with engine.connect() as connection:
        openids = dict(connection.execute(select(t.users.c.user_id, t.users.c.openid)).all())
        carts = dict(
            connection.execute(
                select(t.cart_items.c.user_id, func.count()).group_by(t.cart_items.c.user_id)
            ).all()
        )
        orders = connection.execute(select(t.orders.c.order_id, t.orders.c.user_id)).all()
    engine.dispose()
    assert is_erased_openid(openids["u-lily"]) and openids["u-ming"] == "o-ming-openid"
    assert carts == {"u-ming": 1}
    assert [tuple(o) for o in orders] == [("o-lily-1", "u-lily")]  # the transaction record stays


def test_forget_says_so_when_there_is_no_order_database(tmp_path: Path) -> None:
    erasure = erase_accounts(["u-lily"], ApiSettings(database_url=f"sqlite:///{tmp_path / 'absent.db'}"))

    assert not erasure.is_database_found and erasure.accounts == []
    assert not (tmp_path / "absent.db").exists()
