"""Pieces every page shows the same way: the chosen language and the data-freshness badge."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboards.i18n import Language, text
from dashboards.metrics import format_ago, is_stale, shop_time
from dashboards.queries import WarehouseStatus
from dashboards.settings import DashboardSettings


def current_language(settings: DashboardSettings) -> Language:
    """The language picked in the sidebar (it can be unselected, which means the default)."""
    chosen = st.session_state.get("language")
    return chosen if chosen in ("zh", "en") else settings.default_language


def freshness_badge(status: WarehouseStatus, settings: DashboardSettings, language: Language) -> None:
    now = datetime.now(UTC)
    label = text(
        "freshness.built",
        language,
        at=shop_time(status.built_at, settings.shop_timezone),
        ago=format_ago(now - status.built_at, language),
    )
    last_event = (
        text(
            "freshness.last_event",
            language,
            at=shop_time(status.last_event_received_at, settings.shop_timezone),
        )
        if status.last_event_received_at is not None
        else text("freshness.no_events", language)
    )
    stale = is_stale(status.built_at, now, stale_after_s=settings.stale_after_s)
    st.badge(f"{label} · {last_event}", icon=":material/schedule:", color="orange" if stale else "green")
