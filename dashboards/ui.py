"""Pieces every page shows the same way: language, freshness badge, filters kept in the URL, tables with CSV."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from dashboards import queries
from dashboards.i18n import Language, column_label, text
from dashboards.metrics import format_ago, format_yuan, is_stale, shop_time
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


def page_start(
    title_key: str, caption_key: str
) -> tuple[DashboardSettings, Language, WarehouseStatus] | None:
    """Title, caption and freshness badge of a page; None (after saying so) when nothing is published yet."""
    settings = DashboardSettings()
    language = current_language(settings)
    st.title(text(title_key, language))
    st.caption(text(caption_key, language))
    status = queries.warehouse_status(settings.warehouse_path)
    if status is None:
        st.info(text("funnel.no_warehouse", language), icon=":material/hourglass_empty:")
        return None
    freshness_badge(status, settings, language)
    return settings, language, status


def shop_today(settings: DashboardSettings) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(settings.shop_timezone)).date()


def url_dates(key: str, default: tuple[date, date], *, first: date, last: date) -> tuple[date, date]:
    """A date range kept in the URL as `?key=YYYY-MM-DD..YYYY-MM-DD`, clamped to the data; else the default."""
    raw = st.query_params.get(key, "")
    try:
        start_text, end_text = raw.split("..")
        start, end = date.fromisoformat(start_text), date.fromisoformat(end_text)
    except ValueError:
        return default
    start, end = max(first, min(start, last)), max(first, min(end, last))
    return (start, end) if start <= end else default


def url_value(key: str, options: Sequence[str], default: str) -> str:
    """One choice kept in the URL; anything not among the options means the default."""
    raw = st.query_params.get(key, default)
    return raw if raw in options else default


def keep_in_url(key: str, value: str) -> None:
    if st.query_params.get(key) != value:
        st.query_params[key] = value


def date_range_filter(
    key: str, language: Language, *, first: date, last: date, default_days: int = 7
) -> tuple[date, date]:
    """The sidebar date range of a page, starting from the URL and written back to it."""
    default = (max(first, last - timedelta(days=default_days - 1)), last)
    initial = url_dates(key, default, first=first, last=last)
    picked = st.sidebar.date_input(
        text("filter.dates", language), value=initial, min_value=first, max_value=last, key=f"{key}_input"
    )
    if isinstance(picked, tuple | list) and len(picked) == 2:
        start, end = picked[0], picked[1]
    else:
        start, end = initial
    keep_in_url(key, f"{start.isoformat()}..{end.isoformat()}")
    return start, end


# Columns that hold a share of 1 (rates, lifts and their confidence bounds), shown as percentages.
FRACTION_COLUMNS = frozenset(
    {
        "conversion",
        "conversion_rate",
        "holdout_share",
        "click_through_rate",
        "conversion_ci_low",
        "conversion_ci_high",
        "holdout_conversion_rate",
        "lift",
        "lift_ci_low",
        "lift_ci_high",
        "uplift",
        "repeat_rate",
        "retention_rate",
    }
)


def table_with_download(frame: pl.DataFrame, language: Language, *, key: str, file_name: str) -> None:
    """Every table is shown with its columns' names in the page's language, and a CSV download of exactly its
    rows (with the column names themselves, which tools downstream rely on)."""
    column_config: dict[str, str | ColumnConfig] = {}
    for column in frame.columns:
        label = column_label(column, language)
        if column in FRACTION_COLUMNS:
            column_config[column] = st.column_config.NumberColumn(label, format="percent")
        elif label != column:
            column_config[column] = label
    st.dataframe(frame, hide_index=True, key=f"{key}_table", column_config=column_config)
    st.download_button(
        text("funnel.download", language),
        data=frame.write_csv(),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        key=f"{key}_csv",
    )


def yuan_columns(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Fen columns shown as exact yuan strings (format_yuan), the last step before display."""
    return frame.with_columns(
        pl.col(name).map_elements(lambda fen: format_yuan(int(fen)), return_dtype=pl.String)
        for name in columns
    )
