"""The funnel page, run with AppTest on a seeded warehouse: the numbers a shop owner reads are the right ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

OpenDashboard = Callable[[Path], AppTest]
SeedWarehouse = Callable[..., Path]

STEP_LABELS = ("浏览商品", "加入购物车", "发起结算", "完成支付", "订单数", "成交额 (GMV)", "浏览→支付")


def _today_and_range_metrics(app: AppTest) -> tuple[dict[str, str], dict[str, str]]:
    """The page shows the same seven metrics twice: today's first, then the selected range's."""
    assert not app.exception
    values = [(metric.label, metric.value) for metric in app.metric]
    assert [label for label, _ in values] == [*STEP_LABELS, *STEP_LABELS]
    return dict(values[:7]), dict(values[7:])


def _rows(today: date) -> list[tuple[object, ...]]:
    yesterday, long_ago = today - timedelta(days=1), today - timedelta(days=10)
    return [
        # event_date, channel, scene, viewed, added, checkout, paid, orders, gmv_fen
        (today, "share_single_chat", 1007, 120, 48, 30, 24, 26, 1288800),
        (today, "search", 1053, 80, 20, 10, 6, 6, 59940),
        (yesterday, "share_single_chat", 1007, 100, 40, 20, 10, 11, 100001),
        (long_ago, "search", 1053, 999, 99, 9, 1, 1, 500),
    ]


def test_the_page_shows_todays_shoppers_at_each_funnel_step(
    open_dashboard: OpenDashboard, seed_warehouse: SeedWarehouse, today: date
) -> None:
    app = open_dashboard(seed_warehouse(_rows(today)))

    today_metrics, _ = _today_and_range_metrics(app)

    assert today_metrics == {
        "浏览商品": "200",
        "加入购物车": "68",
        "发起结算": "40",
        "完成支付": "30",
        "订单数": "32",
        "成交额 (GMV)": "¥13,487.40",
        "浏览→支付": "15.0%",
    }


def test_the_selected_range_defaults_to_the_last_seven_days_and_can_be_widened(
    open_dashboard: OpenDashboard, seed_warehouse: SeedWarehouse, today: date
) -> None:
    app = open_dashboard(seed_warehouse(_rows(today)))

    _, week = _today_and_range_metrics(app)
    assert (week["浏览商品"], week["订单数"], week["成交额 (GMV)"]) == ("300", "43", "¥14,487.41")

    app.date_input(key="funnel_dates").set_value((today - timedelta(days=10), today)).run()
    _, month = _today_and_range_metrics(app)
    assert (month["浏览商品"], month["订单数"], month["成交额 (GMV)"]) == ("1,299", "44", "¥14,492.41")
    assert len(app.dataframe[0].value) == 4


def test_choosing_a_channel_shows_only_that_channel(
    open_dashboard: OpenDashboard, seed_warehouse: SeedWarehouse, today: date
) -> None:
    app = open_dashboard(seed_warehouse(_rows(today)))

    app.multiselect(key="funnel_channels").set_value(["search"]).run()

    today_metrics, week = _today_and_range_metrics(app)
    assert (today_metrics["浏览商品"], today_metrics["完成支付"]) == ("80", "6")
    assert week["成交额 (GMV)"] == "¥599.40"
    assert set(app.dataframe[0].value["渠道"]) == {"微信搜索"}


def test_the_daily_table_labels_channels_in_chinese_and_shows_yuan(
    open_dashboard: OpenDashboard, seed_warehouse: SeedWarehouse, today: date
) -> None:
    app = open_dashboard(seed_warehouse(_rows(today)))

    table = app.dataframe[0].value

    first = table.iloc[0]
    assert (first["渠道"], first["场景值"], first["浏览商品"], float(first["成交额 (元)"])) == (
        "好友分享",
        "1007",
        120,
        12888.00,
    )


def test_the_freshness_badge_says_when_the_warehouse_was_built_in_shop_time(
    open_dashboard: OpenDashboard, seed_warehouse: SeedWarehouse, today: date
) -> None:
    built_at = datetime.now(UTC) - timedelta(minutes=2, seconds=5)
    app = open_dashboard(seed_warehouse(_rows(today), built_at=built_at))

    badges = [m.value for m in app.markdown if "badge" in m.value]

    shanghai = (built_at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    assert len(badges) == 1
    assert f"数据更新于 {shanghai}（2 分钟前）" in badges[0]
    assert badges[0].startswith(":green-badge")


def test_an_old_build_gets_an_orange_badge(
    open_dashboard: OpenDashboard, seed_warehouse: SeedWarehouse, today: date
) -> None:
    app = open_dashboard(seed_warehouse(_rows(today), built_at=datetime.now(UTC) - timedelta(hours=3)))

    badges = [m.value for m in app.markdown if "badge" in m.value]

    assert badges[0].startswith(":orange-badge")
    assert "3 小时前" in badges[0]


def test_before_anything_is_published_the_page_explains_what_to_run(
    open_dashboard: OpenDashboard, tmp_path: Path
) -> None:
    app = open_dashboard(tmp_path / "never-built.duckdb")

    assert not app.exception
    assert "shoploop dbt build" in app.info[0].value
    assert len(app.metric) == 0


def test_an_empty_warehouse_says_data_is_on_its_way(
    open_dashboard: OpenDashboard, seed_warehouse: SeedWarehouse
) -> None:
    app = open_dashboard(seed_warehouse([]))

    assert not app.exception
    assert "还没有任何漏斗数据" in app.info[0].value


def test_the_english_switch_relabels_the_page(
    open_dashboard: OpenDashboard, seed_warehouse: SeedWarehouse, today: date
) -> None:
    app = open_dashboard(seed_warehouse(_rows(today)))

    app.button_group(key="language").set_value("en").run()

    assert not app.exception
    assert app.title[0].value == "Shopping funnel"
    assert app.metric[0].label == "Viewed a product"
    assert app.metric[0].value == "200"
    assert "Shared in a chat" in set(app.dataframe[0].value["Channel"])
