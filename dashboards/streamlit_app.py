"""The dashboards' composition root: `streamlit run dashboards/streamlit_app.py` (or `shoploop dashboard`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards.i18n import LANGUAGES, text
from dashboards.settings import DashboardSettings
from dashboards.ui import current_language

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"


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
            PAGES_DIR / "funnel.py",
            title=text("funnel.page", language),
            icon=":material/filter_alt:",
            url_path="funnel",
            default=True,
        ),
    ]
    st.navigation(pages).run()


main()
