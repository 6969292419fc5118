"""Recommendations over HTTP: best sellers before any training, then a tiny model trained in the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from api.service_layer import catalogue
from recsys.dataset import basket_matrix, build_interaction_matrix
from recsys.model import ALSModel, ALSParams, Recommender
from recsys.registry import ModelRegistry

DAY = datetime(2025, 5, 1, tzinfo=UTC)


def _add_products(stack) -> None:
    for product_id, title, category, price in (
        ("p-socks", "Panda socks", "Clothing", 1900),
        ("p-cap", "Panda cap", "Clothing", 4900),
        ("p-bowl", "Panda bowl", "Kitchen", 2900),
    ):
        catalogue.create_product(
            stack.app.state.container.uow(),
            product_id=product_id,
            title=title,
            category=category,
            description="",
            skus=[{"price_fen": price, "stock": 20}],
            now=datetime.now(UTC),
        )


def _train_tiny_model(stack, shopper_id: str) -> None:
    """Shoppers who buy the T-shirt buy socks in the same basket; our shopper has bought the T-shirt only."""
    rows = [(shopper_id, "p-tee", "purchase", 0)]
    for friend in range(8):
        person = f"friend-{friend}"
        rows += [(person, "p-tee", "purchase", friend), (person, "p-socks", "purchase", friend)]
        rows.append((person, "p-cap" if friend % 2 else "p-bowl", "view", friend))
    rows.append(("friend-0", "p-retired", "purchase", 9))  # a product no longer in the catalogue
    frame = pl.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "product_id": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "occurred_at": [DAY + timedelta(days=r[3]) for r in rows],
            "quantity": [1] * len(rows),
            "basket_id": [f"{r[0]}-{r[3]}" for r in rows],
        }
    )
    matrix = build_interaction_matrix(frame)
    model = ALSModel(ALSParams(factors=4, iterations=5, regularization=0.1), num_threads=1).fit(
        matrix.user_items
    )
    recommender = Recommender.from_training(matrix, model, baskets=basket_matrix(frame, matrix.product_ids))
    ModelRegistry(stack.settings.recsys.resolved_registry_dir()).save_run(recommender, validation_score=0.1)


def test_recommendations_are_best_sellers_until_a_model_is_trained_then_come_from_the_model(
    stack, shopper, back_office
) -> None:
    _add_products(stack)
    before = shopper.api.get("/v1/recommendations", params={"n": 3})
    assert before.status_code == 200, before.text
    assert before.json()["source"] == "popular" and len(before.json()["items"]) == 3
    assert shopper.api.get("/v1/products/p-tee/similar").json()["source"] == "popular"

    _train_tiny_model(stack, shopper.user_id)
    assert back_office.api.put("/admin/v1/skus/mug/stock", json={"stock": 0}).status_code == 200

    mine = shopper.api.get("/v1/recommendations", params={"n": 10}).json()
    assert mine["source"] == "model"
    recommended = [item["product_id"] for item in mine["items"]]
    assert "p-socks" in recommended
    assert "p-tee" not in recommended  # already bought
    assert "p-mug" not in recommended  # sold out
    assert "p-retired" not in recommended  # not in our catalogue
    assert all(item["reason"] and item["min_price_fen"] > 0 for item in mine["items"])

    together = shopper.api.get("/v1/products/p-tee/complements", params={"n": 5, "lang": "en"}).json()
    assert together["source"] == "model"
    assert together["items"][0]["product_id"] == "p-socks"
    assert together["items"][0]["reason"].startswith("often bought with")
    assert together["items"][0]["reason_code"] == "bought_with"
    in_chinese = shopper.api.get("/v1/products/p-tee/complements", params={"n": 5}).json()["items"][0]
    assert in_chinese["reason"].startswith("常与") and in_chinese["reason"].endswith("一起购买")
    assert in_chinese["reason_params"] == together["items"][0]["reason_params"]
    alike = shopper.api.get("/v1/products/p-tee/similar", params={"n": 5}).json()
    assert alike["items"] and "p-tee" not in [item["product_id"] for item in alike["items"]]

    assert shopper.api.get("/v1/products/p-nothing/similar").status_code == 404
    assert shopper.api.get("/v1/recommendations", params={"n": 0}).status_code == 422


def test_a_shopper_hides_a_recommended_product_and_it_stays_out_of_every_list_until_unhidden(
    stack, shopper
) -> None:
    _add_products(stack)
    _train_tiny_model(stack, shopper.user_id)
    assert "p-socks" in [i["product_id"] for i in shopper.api.get("/v1/recommendations").json()["items"]]

    assert shopper.api.post("/v1/recommendations/hidden/p-socks").status_code == 204
    assert shopper.api.post("/v1/recommendations/hidden/p-socks").status_code == 204  # a double tap

    assert shopper.api.get("/v1/recommendations/hidden").json() == ["p-socks"]
    for path in ("/v1/recommendations", "/v1/products/p-tee/complements", "/v1/products/p-tee/similar"):
        shown = [item["product_id"] for item in shopper.api.get(path, params={"n": 10}).json()["items"]]
        assert "p-socks" not in shown, path
    assert shopper.api.post("/v1/recommendations/hidden/p-nothing").json()["code"] == "product_not_found"

    assert shopper.api.delete("/v1/recommendations/hidden/p-socks").status_code == 204
    assert "p-socks" in [i["product_id"] for i in shopper.api.get("/v1/recommendations").json()["items"]]
