"""The dashboards' composition root: `streamlit run dashboards/streamlit_app.py` (or `shoploop dashboard`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards.i18n import LANGUAGES, text
from dashboards.settings import DashboardSettings
from dashboards.ui import current_language

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"
# (file and url path, label key prefix, icon); the Funnel stays the landing page.
PAGES = (
    ("funnel", "funnel", ":material/filter_alt:"),
    ("overview", "overview", ":material/dashboard:"),
    ("retention", "retention", ":material/event_repeat:"),
    ("products", "products", ":material/inventory_2:"),
    ("users", "users", ":material/groups:"),
    ("referrals", "referrals", ":material/share:"),
    ("experiments", "experiments", ":material/science:"),
    ("recommender", "recommender", ":material/recommend:"),
    ("live", "live", ":material/sensors:"),
    ("automations", "console", ":material/campaign:"),
)


def main() -> None:
    settings = DashboardSettings()
    st.set_page_config(page_title="ShopLoop", page_icon="🛒", layout="wide")
    st.session_state.setdefault("language", settings.default_language)
    language = current_language(settings)
    st.sidebar.segmented_control(
        text("app.language", language),
        options=list(LANGUAGES),
        format_func=lambda code: LANGUAGES[code],
        key="language",
    )
    language = current_language(settings)
    pages = [
        st.Page(
            PAGES_DIR / f"{name}.py",
            title=text(f"{label}.page", language),
            icon=icon,
            url_path=name,
            default=name == "funnel",
        )
        for name, label, icon in PAGES
    ]
    st.navigation(pages).run()


main()
