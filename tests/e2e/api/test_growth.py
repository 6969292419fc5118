"""Experiments, stores nearby, favourites and footprints over the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from api.adapters import tables as t
from api.domain.experiments import assign
from api.service_layer.accounts import Role

PEOPLES_SQUARE = (31.2304, 121.4737)


def test_analysts_run_an_experiment_and_each_shopper_always_gets_the_same_variant_by_hash(
    stack, shopper, other_shopper, staff_member
) -> None:
    experiment = {
        "experiment_id": "checkout-button",
        "name": "Bigger pay button",
        "variants": [{"name": "control", "weight": 50}, {"name": "big_button", "weight": 50}],
        "target_metric": "conversion_rate",
    }
    marketer = staff_member("lili", Role.MARKETER)
    assert marketer.api.post("/admin/v1/experiments", json=experiment).status_code == 403
    analyst = staff_member("ada", Role.ANALYST)
    created = analyst.api.post("/admin/v1/experiments", json=experiment)
    assert created.status_code == 201 and created.json()["status"] == "draft", created.text
    assert analyst.api.post("/admin/v1/experiments", json=experiment).status_code == 409
    assert shopper.api.get("/v1/experiments/assignments").json() == []

    assert analyst.api.post("/admin/v1/experiments/checkout-button/start").json()["status"] == "running"
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    analyst.api.post(
        "/admin/v1/experiments", json={**experiment, "experiment_id": "next-week", "starts_at": later}
    )
    variants = [(v["name"], v["weight"]) for v in experiment["variants"]]
    for person in (shopper, other_shopper):
        mine = person.api.get("/v1/experiments/assignments").json()
        expected = assign("checkout-button", person.user_id, variants)
        assert mine == [{"experiment_id": "checkout-button", "variant": expected}]
        assert person.api.get("/v1/experiments/assignments").json() == mine
    # A shopper cannot choose a variant, and visitors who have not logged in get none.
    chosen = shopper.api.get("/v1/experiments/assignments", params={"variant": "big_button"}).json()
    assert chosen == shopper.api.get("/v1/experiments/assignments").json()
    assert httpx.get(f"{stack.api_url}/v1/experiments/assignments").status_code == 401

    assert analyst.api.post("/admin/v1/experiments/checkout-button/stop").json()["status"] == "stopped"
    assert shopper.api.get("/v1/experiments/assignments").json() == []
    with stack.app.state.container.uow() as uow:
        changes = list(
            uow.session.execute(
                select(t.outbox.c.key).where(t.outbox.c.event_name == "ExperimentChanged")
            ).scalars()
        )
    assert sorted(changes) == ["checkout-button"] * 3 + ["next-week"]


def test_nearby_stores_are_the_ones_within_the_radius_nearest_first_with_their_offer(
    stack, back_office, staff_member
) -> None:
    lat, lng = PEOPLES_SQUARE
    for store_id, d_lat, offer in (
        ("far", 0.09, ""),
        ("nanjing-road", 0.018, "满100减20"),
        ("square", 0.0045, "新人礼"),
    ):
        made = back_office.api.post(
            "/admin/v1/stores",
            json={
                "store_id": store_id,
                "name": store_id,
                "latitude": lat + d_lat,
                "longitude": lng,
                "opens_at": "00:00",
                "closes_at": "23:59",
                "offer": offer,
            },
        )
        assert made.status_code == 201, made.text
    assert (
        staff_member("lili", Role.MARKETER)
        .api.post("/admin/v1/stores", json={"name": "x", "latitude": 0, "longitude": 0})
        .status_code
        == 403
    )

    visitor = httpx.Client(base_url=stack.api_url)
    near = visitor.get("/v1/stores/nearby", params={"lat": lat, "lng": lng, "radius_m": 3000}).json()
    assert [(s["store_id"], s["offer"]) for s in near] == [
        ("square", "新人礼"),
        ("nanjing-road", "满100减20"),
    ]
    assert 490 <= near[0]["distance_m"] <= 510 and 1990 <= near[1]["distance_m"] <= 2010
    wide = visitor.get("/v1/stores/nearby", params={"lat": lat, "lng": lng, "radius_m": 20000}).json()
    assert [s["store_id"] for s in wide] == ["square", "nanjing-road", "far"]
    for bad in (
        {"lat": 91, "lng": lng},
        {"lat": lat, "lng": lng, "radius_m": 10_000_000},
        {"lat": "x", "lng": 1},
    ):
        assert visitor.get("/v1/stores/nearby", params=bad).status_code == 422


def test_favourites_and_footprints_are_the_shoppers_own(stack, shopper, other_shopper) -> None:
    assert shopper.api.put("/v1/favourites/p-tee").status_code == 204
    assert shopper.api.put("/v1/favourites/p-tee").status_code == 204  # a double tap keeps one
    assert shopper.api.put("/v1/favourites/p-mug").status_code == 204
    assert shopper.api.put("/v1/favourites/p-nothing").status_code == 404
    assert sorted(f["product_id"] for f in shopper.api.get("/v1/favourites").json()) == ["p-mug", "p-tee"]
    assert other_shopper.api.get("/v1/favourites").json() == []
    assert other_shopper.api.delete("/v1/favourites/p-tee").status_code == 204  # removes nothing of mine
    assert len(shopper.api.get("/v1/favourites").json()) == 2
    shopper.api.delete("/v1/favourites/p-mug")
    assert [f["product_id"] for f in shopper.api.get("/v1/favourites").json()] == ["p-tee"]

    for product_id in ("p-tee", "p-mug", "p-tee"):
        assert shopper.api.post("/v1/footprints", json={"product_id": product_id}).status_code == 204
    history = shopper.api.get("/v1/footprints").json()
    assert [(f["product_id"], f["view_count"]) for f in history] == [("p-tee", 2), ("p-mug", 1)]
    assert history[0]["title"] == "Panda T-shirt" and history[0]["min_price_fen"] == 9900
    assert other_shopper.api.get("/v1/footprints").json() == []
    assert shopper.api.delete("/v1/footprints").json() == {"count": 2}
    assert shopper.api.get("/v1/footprints").json() == []
    with stack.app.state.container.uow() as uow:
        names = sorted(
            uow.session.execute(
                select(t.outbox.c.event_name).where(
                    t.outbox.c.event_name.in_(("ProductFavourited", "ProductViewed"))
                )
            ).scalars()
        )
    assert names == ["ProductFavourited"] * 3 + ["ProductViewed"] * 3
