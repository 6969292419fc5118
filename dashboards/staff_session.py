"""The marketer's session with the order core, kept per browser session (the token, never the password)."""

from __future__ import annotations

import streamlit as st

from dashboards.i18n import Language, text
from dashboards.order_core import OrderCoreClient, OrderCoreRefused, OrderCoreUnavailable
from dashboards.settings import DashboardSettings

TOKEN_KEY = "order_core_token"


def order_core(settings: DashboardSettings, language: Language, *, ask: bool) -> OrderCoreClient | None:
    """A logged-in client, logging in with the configured account or (when `ask`) a form; None otherwise."""
    client = OrderCoreClient(
        settings.api_url, token=st.session_state.get(TOKEN_KEY), timeout_s=settings.api_timeout_s
    )
    if client.token:
        return client
    username, password = settings.api_username, settings.api_password.get_secret_value()
    is_asked = not username and ask
    if is_asked:
        with st.form("order_core_login"):
            st.write(text("console.login_prompt", language, url=settings.api_url))
            username = st.text_input(text("console.username", language))
            password = st.text_input(text("console.password", language), type="password")
            if not st.form_submit_button(text("console.login", language)):
                return None
    if not username:
        return None
    try:
        st.session_state[TOKEN_KEY] = client.login(username, password)
    except OrderCoreUnavailable:
        unreachable(settings, language)
        return None
    except OrderCoreRefused as error:
        st.error(text("console.refused", language, message=error.message), icon=":material/block:")
        return None
    if is_asked:
        st.rerun()  # the page again without the login form, now with the token
    return client


def unreachable(settings: DashboardSettings, language: Language) -> None:
    st.error(text("console.unreachable", language, url=settings.api_url), icon=":material/cloud_off:")


def forget_token() -> None:
    st.session_state.pop(TOKEN_KEY, None)
