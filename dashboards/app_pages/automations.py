"""Automations, the marketer console: results per rule from fct_pushes, and rules edited through the order core."""

from __future__ import annotations

from datetime import time
from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import Language, segment_label, text
from dashboards.metrics import format_yuan
from dashboards.order_core import OrderCoreClient, OrderCoreRefused, OrderCoreUnavailable
from dashboards.rule_form import CONSOLE_KINDS, audience_body, rule_body, rule_problem
from dashboards.settings import DashboardSettings
from dashboards.staff_session import forget_token, order_core, unreachable
from dashboards.ui import keep_in_url, page_start, table_with_download, url_value, yuan_columns
from shoploop.rfm import SEGMENTS

NEW_RULE = "+"
# Seconds per unit of the delay input, largest first: a rule's delay shows in the largest unit that divides it.
DELAY_UNITS = {"h": 3600, "min": 60, "s": 1}


def delay_in_units(delay_s: int) -> tuple[int, str]:
    """A delay as (amount, unit) in the largest unit that divides it exactly (0 shows as 0 minutes)."""
    if delay_s == 0:
        return 0, "min"
    unit = next(unit for unit, seconds in DELAY_UNITS.items() if delay_s % seconds == 0)
    return delay_s // DELAY_UNITS[unit], unit


def results(settings: DashboardSettings, language: Language) -> None:
    st.subheader(text("console.results", language))
    pushed = queries.pushes(settings.warehouse_path)
    if pushed.is_empty():
        st.info(text("console.no_results", language), icon=":material/campaign:")
        return
    columns = st.columns([1, 1, 1, 2])
    columns[0].metric(text("console.sent", language), f"{int(pushed['sent'].sum()):,}")
    columns[1].metric(text("console.opened", language), f"{int(pushed['opened'].sum()):,}")
    columns[2].metric(text("console.converted", language), f"{int(pushed['converted'].sum()):,}")
    columns[3].metric(
        text("console.revenue", language), format_yuan(int(pushed["attributed_revenue_fen"].sum()))
    )
    labels = [
        f"{rule} v{version}" for rule, version in zip(pushed["rule_id"], pushed["rule_version"], strict=True)
    ]
    if pushed["lift"].is_null().all():
        # No rule has a holdout with shoppers yet: there is no lift to draw.
        st.caption(text("console.no_lift", language))
    else:
        lift_chart(pushed, labels, language)
    table_with_download(
        yuan_columns(pushed, "attributed_revenue_fen"), language, key="pushes", file_name="pushes.csv"
    )


def lift_chart(pushed: pl.DataFrame, labels: list[str], language: Language) -> None:
    figure = go.Figure(
        go.Scatter(
            x=labels,
            y=pushed["lift"],
            mode="markers",
            marker={"size": 14, "color": "#07c160"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": pushed["lift_ci_high"] - pushed["lift"],
                "arrayminus": pushed["lift"] - pushed["lift_ci_low"],
            },
        )
    )
    figure.add_hline(y=0, line_dash="dot")
    figure.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"tickformat": ".1%", "title": text("console.lift", language)},
    )
    st.plotly_chart(figure, key="lift_chart")
    st.caption(text("console.lift_note", language))


def rule_results(rule: dict[str, Any], settings: DashboardSettings, language: Language) -> None:
    """The picked rule's current version: what the streams sent for it, from fct_pushes."""
    pushed = queries.pushes(settings.warehouse_path).filter(
        (pl.col("rule_id") == rule["rule_id"]) & (pl.col("rule_version") == rule["version"])
    )
    with st.container(key="rule_results"):
        st.markdown(
            f"**{text('console.rule_results', language, rule=rule['rule_id'], version=rule['version'])}**"
        )
        if pushed.is_empty():
            st.caption(text("console.rule_no_results", language))
            return
        columns = st.columns(4)
        columns[0].metric(text("console.sent", language), f"{int(pushed['sent'].sum()):,}")
        columns[1].metric(text("console.opened", language), f"{int(pushed['opened'].sum()):,}")
        columns[2].metric(text("console.converted", language), f"{int(pushed['converted'].sum()):,}")
        columns[3].metric(
            text("console.revenue", language), format_yuan(int(pushed["attributed_revenue_fen"].sum()))
        )


def audience_summary(audience: dict[str, Any] | None, language: Language) -> str:
    """A saved audience in one line for the rules table (everyone when it has no filter)."""
    if not audience:
        return text("console.everyone", language)
    parts = [
        "、".join(segment_label(code, language) for code in audience.get("segments", ())),
        "、".join(audience.get("provinces", ())),
        text("console.min_orders_short", language, n=audience["min_paid_orders"])
        if audience.get("min_paid_orders")
        else "",
    ]
    return " · ".join(part for part in parts if part) or text("console.everyone", language)


def rules_from_api(
    client: OrderCoreClient, settings: DashboardSettings, language: Language
) -> list[dict[str, Any]] | None:
    try:
        return client.rules()
    except OrderCoreUnavailable:
        unreachable(settings, language)
    except OrderCoreRefused as error:
        if error.status == 401:
            forget_token()
        st.error(text("console.refused", language, message=error.message), icon=":material/block:")
    return None


def _time(value: object, fallback: time) -> time:
    return time.fromisoformat(value) if isinstance(value, str) else fallback


def editor(
    client: OrderCoreClient | None,
    rules: list[dict[str, Any]],
    settings: DashboardSettings,
    language: Language,
) -> None:
    st.subheader(text("console.rules", language))
    if rules:
        listed = pl.DataFrame(
            [
                {
                    "rule_id": rule["rule_id"],
                    "kind": rule["kind"],
                    "version": rule["version"],
                    "is_active": rule["is_active"],
                    "delay_s": rule["delay_s"],
                    "holdout_share": rule["holdout_share"],
                    "template_id": rule.get("template_id"),
                    "coupon_campaign_id": rule.get("coupon_campaign_id"),
                    # Referral rewards follow the paid order: they have no audience.
                    "audience": audience_summary(rule.get("audience"), language)
                    if rule["kind"] != "referral_reward"
                    else None,
                }
                for rule in rules
            ]
        )
        table_with_download(listed, language, key="rules", file_name="automation_rules.csv")
    editable = {rule["rule_id"]: rule for rule in rules if rule["kind"] in CONSOLE_KINDS}
    choices = [NEW_RULE, *editable]
    picked = st.selectbox(
        text("console.pick_rule", language),
        options=choices,
        index=choices.index(url_value("rule", choices, NEW_RULE)),
        format_func=lambda rule_id: text("console.new_rule", language) if rule_id == NEW_RULE else rule_id,
        # Before login no rule is known: a separate widget, so a shared ?rule= link still opens it afterwards.
        key="console_rule" if client is not None else "console_rule_offline",
    )
    if client is not None:
        keep_in_url("rule", picked)
    current: dict[str, Any] = editable.get(picked, {})
    suffix = f"{picked}_{current.get('version', 0)}"
    if current:
        rule_results(current, settings, language)

    left, right = st.columns(2)
    with left:
        rule_id = st.text_input(
            text("console.rule_id", language),
            value=current.get("rule_id", ""),
            disabled=bool(current),
            key=f"id_{suffix}",
        )
        kind = st.selectbox(
            text("console.kind", language),
            options=CONSOLE_KINDS,
            index=CONSOLE_KINDS.index(current.get("kind", "abandoned_cart")),
            format_func=lambda code: text(f"kind.{code}", language),
            key=f"kind_{suffix}",
        )
        delay_amount, delay_unit = delay_in_units(int(current.get("delay_s", 3600)))
        delay = st.columns([2, 1])
        delay_value = delay[0].number_input(
            text("console.delay", language), min_value=0, value=delay_amount, key=f"delay_{suffix}"
        )
        delay_unit = delay[1].selectbox(
            text("console.delay_unit", language),
            options=list(DELAY_UNITS),
            index=list(DELAY_UNITS).index(delay_unit),
            format_func=lambda unit: text(f"unit.{unit}", language),
            key=f"delay_unit_{suffix}",
        )
        delay_s = int(delay_value) * DELAY_UNITS[delay_unit]
        cooldown_h = st.number_input(
            text("console.cooldown", language),
            min_value=0,
            value=int(current.get("cooldown_s", 7 * 86400)) // 3600,
            key=f"cooldown_{suffix}",
        )
        holdout_pct = st.slider(
            text("console.holdout", language),
            min_value=0,
            max_value=100,
            value=round(float(current.get("holdout_share", 0.1)) * 100),
            key=f"holdout_{suffix}",
        )
        quiet = st.columns(2)
        quiet_start = quiet[0].time_input(
            text("console.quiet_start", language),
            value=_time(current.get("quiet_start"), time(22)),
            key=f"qs_{suffix}",
        )
        quiet_end = quiet[1].time_input(
            text("console.quiet_end", language),
            value=_time(current.get("quiet_end"), time(8)),
            key=f"qe_{suffix}",
        )
        send_at = st.time_input(
            text("console.send_at", language),
            value=_time(current.get("send_at_local"), time(10)),
            key=f"at_{suffix}",
        )
    with right:
        template_id = st.text_input(
            text("console.template", language), value=current.get("template_id") or "", key=f"tpl_{suffix}"
        )
        page = st.text_input(
            text("console.page_path", language), value=current.get("page") or "", key=f"page_{suffix}"
        )
        fields = st.data_editor(
            pl.DataFrame(
                {
                    "field": list(current.get("template_data", {}) or ["thing1"]),
                    "value": list((current.get("template_data") or {"thing1": "{product_name}"}).values()),
                },
                schema={"field": pl.String, "value": pl.String},
            ),
            num_rows="dynamic",
            hide_index=True,
            key=f"fields_{suffix}",
        )
        coupon = st.text_input(
            text("console.coupon", language),
            value=current.get("coupon_campaign_id") or "",
            key=f"coupon_{suffix}",
        )
        is_active = st.toggle(
            text("console.active", language), value=bool(current.get("is_active", True)), key=f"on_{suffix}"
        )

    st.markdown(f"**{text('console.audience', language)}**")
    st.caption(text("console.audience_note", language))
    saved_audience: dict[str, Any] = current.get("audience") or {}
    _, province_options = queries.audience_filter_options(settings.warehouse_path)
    audience = st.columns(3)
    # Every segment can be targeted (also one that is empty today); a saved province stays offered.
    segments = audience[0].multiselect(
        text("console.segments", language),
        options=SEGMENTS,
        default=[s for s in SEGMENTS if s in saved_audience.get("segments", ())],
        format_func=lambda code: segment_label(code, language),
        placeholder=text("filter.all", language),
        key=f"seg_{suffix}",
    )
    provinces = audience[1].multiselect(
        text("console.provinces", language),
        options=sorted({*province_options, *saved_audience.get("provinces", ())}),
        default=list(saved_audience.get("provinces", ())),
        placeholder=text("filter.all", language),
        key=f"prov_{suffix}",
    )
    min_paid_orders = audience[2].number_input(
        text("console.min_orders", language),
        min_value=0,
        value=int(saved_audience.get("min_paid_orders", 0)),
        key=f"mo_{suffix}",
    )
    size = queries.audience_size(
        settings.warehouse_path,
        kind=kind,
        delay_s=delay_s,
        segments=tuple(segments),
        provinces=tuple(provinces),
        min_paid_orders=int(min_paid_orders),
    )
    held_out = round(size * holdout_pct / 100)
    st.metric(text("console.preview", language), f"{size:,}")
    st.caption(text("console.preview_note", language, sent=f"{size - held_out:,}", held=f"{held_out:,}"))

    body = rule_body(
        kind=kind,
        delay_s=delay_s,
        cooldown_s=int(cooldown_h) * 3600,
        holdout_share=holdout_pct / 100,
        quiet_start=quiet_start or time(22),
        quiet_end=quiet_end or time(8),
        template_id=template_id,
        page=page,
        template_data={str(f): str(v or "") for f, v in fields.select("field", "value").iter_rows() if f},
        coupon_campaign_id=coupon,
        send_at_local=send_at or time(10),
        is_active=is_active,
        audience=audience_body(segments=segments, provinces=provinces, min_paid_orders=int(min_paid_orders)),
    )
    problem = rule_problem(rule_id or "draft", body) if rule_id else text("console.needs_id", language)
    if problem:
        st.warning(problem, icon=":material/edit_note:")
    buttons = st.columns(3)
    save = buttons[0].button(
        text("console.save", language),
        type="primary",
        disabled=client is None or problem is not None,
        key="save_rule",
    )
    pause = buttons[1].button(
        text("console.resume" if current and not current.get("is_active") else "console.pause", language),
        disabled=client is None or not current,
        key="pause_rule",
    )
    archive = buttons[2].button(
        text("console.archive", language), disabled=client is None or not current, key="archive_rule"
    )
    if client is None:
        return
    try:
        if save:
            saved = client.save_rule(rule_id, body)
            st.success(text("console.saved", language, rule=saved["rule_id"], version=saved["version"]))
        elif pause:
            unchanged = {k: v for k, v in current.items() if k not in ("rule_id", "version")}
            saved = client.save_rule(picked, {**unchanged, "is_active": not current.get("is_active", True)})
            st.success(text("console.saved", language, rule=saved["rule_id"], version=saved["version"]))
        elif archive:
            saved = client.retire_rule(picked)
            st.success(text("console.archived", language, rule=saved["rule_id"], version=saved["version"]))
    except OrderCoreUnavailable:
        unreachable(settings, language)
    except OrderCoreRefused as error:
        st.error(text("console.refused", language, message=error.message), icon=":material/block:")


def render() -> None:
    started = page_start("console.title", "console.caption")
    if started is None:
        return
    settings, language, _ = started
    results(settings, language)
    client = order_core(settings, language, ask=True)
    rules = rules_from_api(client, settings, language) if client is not None else None
    if rules is None:
        client = None
        st.caption(text("console.offline", language))
    editor(client, rules or [], settings, language)


render()
