"""Issue 9's "done when", in Debian's headless Chromium over the whole embedded stack: a marketer creates an
abandoned-cart rule in the console, narrows its audience to one province, sees the preview and saves it; the
order core publishes it with the audience, the streams use it for a shopper of that province who leaves a cart
(and not for one of another province who does the same), WeChat (the sandbox) receives the subscribe message,
and after the warehouse refresh the rule's results are on the Automations page."""

from __future__ import annotations

import os
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import orjson
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from api.demo_seed import DEMO_STAFF_PASSWORD
from dashboards.screenshots import PAGES, open_rendered_page
from shoploop.kafka import Topics
from tests.e2e.dashboards.conftest import LiveStack, wait_for

# The console's screenshots; docs/screenshots holds a run's (SHOPLOOP_SCREENSHOTS_DIR=docs/screenshots). A test run
# does not rewrite tracked files by default.
SCREENSHOTS = Path(
    os.environ.get("SHOPLOOP_SCREENSHOTS_DIR", Path(tempfile.gettempdir()) / "shoploop-screenshots")
)
RULE_ID = "cart-reminder-8s"
TEMPLATE_ID = "TPL_CART_E2E"
SHOP_TZ = ZoneInfo("Asia/Shanghai")
TEAPOT = {"product_id": "p-teapot", "sku": "teapot-white", "name": "白瓷茶壶", "price": 129.0, "quantity": 1}
# Shoppers who left a cart an hour ago: the audience an 8-second abandoned-cart rule reaches today; lan told
# the shop she lives in 广东, the province the marketer targets.
EARLIER_CARTS = ("lan", "jun", "hua")
PROVINCE = "广东"


def settle(tab: Any) -> None:
    """Wait until Streamlit has finished the rerun a widget change started (no running icon, nothing stale)."""
    tab.wait_for_timeout(400)
    tab.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon],"
        " [data-testid=stStatusWidgetRunningManIcon], [data-stale=true]')",
        timeout=30_000,
    )


def log_in_to_the_console(tab: Any, url: str) -> None:
    tab.goto(url, wait_until="domcontentloaded")
    tab.get_by_label("用户名").fill("marketer")
    tab.get_by_label("密码").fill(DEMO_STAFF_PASSWORD)
    tab.get_by_role("button", name="登录").click()
    tab.get_by_label("规则 ID").wait_for(timeout=30_000)
    settle(tab)


def metric_value(tab: Any, label: str, *, within: str = "[data-testid=stMain]") -> str:
    metric = tab.locator(f"{within} [data-testid=stMetric]").filter(has_text=label).first
    return str(metric.locator("[data-testid=stMetricValue]").inner_text())


def pick(tab: Any, label: str, option: str, *, widget: str = "stSelectbox") -> None:
    """Choose in a select box (or a multiselect); a rerun that lands while the list is open closes it, so open
    it again."""
    box = tab.get_by_test_id(widget).filter(has_text=label)
    for _ in range(3):
        box.click()
        choice = tab.get_by_role("option", name=option, exact=True)
        try:
            choice.wait_for(timeout=5_000)
        except PlaywrightTimeout:
            tab.keyboard.press("Escape")
            settle(tab)
            continue
        choice.click()
        if widget == "stMultiSelect":
            tab.keyboard.press("Escape")  # a multiselect's list stays open for more choices
        settle(tab)
        return
    raise AssertionError(f"{option} could not be chosen in {label}")


def type_into(tab: Any, label: str, value: str) -> None:
    field = tab.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    settle(tab)
    assert field.input_value() == value


def set_time(tab: Any, label: str, value: str) -> None:
    """Type hour and minute into a time input's segments (react-aria spin buttons), then leave it."""
    picker = tab.get_by_test_id("stTimeInput").filter(has_text=label)
    hour, minute = value.split(":")
    picker.locator("[data-type=hour]").click()
    tab.keyboard.type(hour)
    picker.locator("[data-type=minute]").click()
    tab.keyboard.type(minute)
    tab.keyboard.press("Tab")
    settle(tab)
    assert picker.locator("input[type=hidden]").input_value() == f"{value}:00"


def pushes_on_the_topic(bootstrap: str) -> list[dict[str, Any]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=1000)
    try:
        partitions = [
            TopicPartition(Topics.PUSHES.name, p)
            for p in consumer.partitions_for_topic(Topics.PUSHES.name) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return [orjson.loads(record.value) for record in consumer]
    finally:
        consumer.close()


class Browsing(threading.Thread):
    """Another shopper browsing now and then, as in the demo: the traffic that moves the streams' event time."""

    def __init__(self, stack: LiveStack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.halt = threading.Event()

    def browse(self) -> None:
        self.stack.track(
            "anon-browsing",
            [("Product Viewed", {"product_id": "p-mug", "price": 35.0})],
            at=datetime.now(UTC),
        )

    def run(self) -> None:
        while not self.halt.wait(1.0):
            self.browse()


def test_a_marketer_creates_an_abandoned_cart_rule_that_the_streams_send_and_the_console_reports(
    live_stack: LiveStack, browser: Any
) -> None:
    stack = live_stack
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    stack.track("anon-lan", [("identify", {"province": PROVINCE})], at=an_hour_ago - timedelta(minutes=1))
    for persona in EARLIER_CARTS:
        stack.track(f"anon-{persona}", [("Product Added", TEAPOT)], at=an_hour_ago)
    Browsing(stack).browse()  # someone is in the shop now: the hour-old carts count as abandoned
    wait_for(lambda: stack.lake_rows("events") == 5, timeout_s=60, what="the earlier carts in the lake")
    stack.refresh_warehouse()

    # Quiet hours set explicitly, away from now in shop time, so that they do not hold the reminder back.
    now_in_shop = datetime.now(SHOP_TZ)
    quiet_start = f"{(now_in_shop.hour + 2) % 24:02d}:00"
    quiet_end = f"{(now_in_shop.hour + 3) % 24:02d}:00"

    # Tall enough for the whole console in one screenshot (Streamlit scrolls inside its main block).
    tab = browser.new_page(viewport={"width": 1400, "height": 2600}, locale="zh-CN")
    browsing = Browsing(stack)
    try:
        log_in_to_the_console(tab, f"{stack.url('dashboard')}/automations")
        type_into(tab, "规则 ID", RULE_ID)
        type_into(tab, "延迟", "8")
        pick(tab, "延迟单位", "秒")
        holdout = tab.get_by_test_id("stSlider").filter(has_text="对照组比例").get_by_role("slider")
        holdout.focus()
        holdout.press("Home")
        settle(tab)
        set_time(tab, "免打扰开始", quiet_start)
        set_time(tab, "免打扰结束", quiet_end)
        type_into(tab, "订阅消息模板 ID", TEMPLATE_ID)
        type_into(tab, "点击跳转页面", "pages/cart/index")
        assert metric_value(tab, "预计触达人数") == str(len(EARLIER_CARTS))
        pick(tab, "省份", PROVINCE, widget="stMultiSelect")
        assert metric_value(tab, "预计触达人数") == "1"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / "console-new-abandoned-cart-rule.png"), full_page=True)
        tab.get_by_role("button", name="保存并发布").click()
        tab.get_by_text(f"已保存 {RULE_ID}（版本 1）").wait_for(timeout=30_000)
        assert tab.locator("[data-testid=stException]").count() == 0
        saved = stack.rule(RULE_ID)
        assert (saved["delay_s"], saved["holdout_share"], saved["template_id"], saved["page"]) == (
            8,
            0,
            TEMPLATE_ID,
            "pages/cart/index",
        )
        assert (saved["quiet_start"], saved["quiet_end"]) == (f"{quiet_start}:00", f"{quiet_end}:00")
        assert saved["audience"] == {"segments": [], "provinces": [PROVINCE], "min_paid_orders": 0}

        # Two shoppers log in, allow the cart template's subscribe message, add a teapot and leave: mei lives
        # in the audience's province, tao in another.
        mei, tao = stack.log_in("mei"), stack.log_in("tao")
        now = datetime.now(UTC)
        for shopper, nickname, province in ((mei, "小美", PROVINCE), (tao, "小涛", "浙江")):
            stack.allow_subscribe(shopper, TEMPLATE_ID)
            stack.track(
                shopper,
                [
                    ("identify", {"nickname": nickname, "province": province}),
                    ("Subscribe Message Consent", {"results": {TEMPLATE_ID: "accept"}}),
                    ("Product Added", TEAPOT),
                ],
                at=now,
            )
        browsing.start()
        messages = wait_for(
            lambda: stack.subscribe_messages(mei.openid), timeout_s=90, what="the cart reminder in WeChat"
        )
        tab.wait_for_timeout(3_000)  # tao's reminder was due at the same moment: it would have come by now
        assert stack.subscribe_messages(tao.openid) == []
        assert [(m["template_id"], m["data"]) for m in messages] == [
            (TEMPLATE_ID, {"thing1": {"value": "白瓷茶壶"}})
        ]
        push_id = parse_qs(urlsplit(messages[0]["page"]).query)["push_id"][0]
        pushes = wait_for(
            lambda: [p for p in pushes_on_the_topic(stack.bootstrap) if p.get("trigger_id") == push_id],
            timeout_s=30,
            what="the push record",
        )
        assert {(p["rule_id"], p["rule_version"], p["status"]) for p in pushes} == {(RULE_ID, 1, "sent")}
        browsing.halt.set()

        wait_for(lambda: stack.lake_rows("pushes") > 0, timeout_s=60, what="the push in the lake")
        stack.refresh_warehouse()
        log_in_to_the_console(tab, f"{stack.url('dashboard')}/automations?rule={RULE_ID}")
        results = ".st-key-rule_results"
        tab.locator(f"{results} [data-testid=stMetric]").first.wait_for(timeout=30_000)
        assert metric_value(tab, "已发送", within=results) == "1"
        assert tab.locator("[data-testid=stException]").count() == 0
        tab.screenshot(path=str(SCREENSHOTS / "console-rule-results.png"), full_page=True)
    except BaseException:
        tab.screenshot(path=str(stack.root / "failure.png"), full_page=True)
        print(f"screenshot of the failure: {stack.root / 'failure.png'}")
        print(stack.logs())
        raise
    finally:
        browsing.halt.set()
        tab.close()


def test_every_page_renders_without_an_exception_on_the_warehouse_the_pipeline_built(
    live_stack: LiveStack, browser: Any
) -> None:
    """The sample warehouse has every mart full; this one holds only what the stack's shoppers did, as the
    collector, streams, sink and dbt turned it into marts: thin, but built by the real pipeline."""
    stack = live_stack
    stack.track("anon-visitor", [("Product Viewed", TEAPOT)], at=datetime.now(UTC))
    wait_for(lambda: stack.lake_rows("events") > 0, timeout_s=60, what="events in the lake")
    stack.refresh_warehouse()
    for page in PAGES:
        tab = open_rendered_page(browser, stack.url("dashboard"), page, with_metrics=False)
        tab.close()
