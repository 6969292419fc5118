"""Every dashboard page opened in Debian's headless Chromium (never a downloaded browser), checked and saved.

    .venv/bin/python -m dashboards.screenshots --url http://127.0.0.1:8501 --out docs/screenshots

With `make demo` running, that command made the screenshots in docs/screenshots: the pages as the whole
pipeline fills them (simulator → collector → Kafka → streams and sink → dbt → warehouse). The browser tests open
the pages with the same functions. playwright is a development package (`make install` has it); it drives the
system's `chromium` through its own protocol, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Each page by its URL path, in the order of the navigation. The funnel is the landing page, at the root.
PAGES = (
    "funnel",
    "overview",
    "retention",
    "products",
    "users",
    "referrals",
    "experiments",
    "recommender",
    "live",
    "automations",
)
PAGE_TIMEOUT_MS = 30_000


class PageBroken(Exception):
    """A page showed Streamlit's exception box or "Page not found"."""


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def page_url(dashboard_url: str, page: str) -> str:
    return f"{dashboard_url.rstrip('/')}/{'' if page == 'funnel' else page}"


def open_rendered_page(
    browser: Browser, dashboard_url: str, page: str, *, locale: str = "zh-CN", with_metrics: bool = True
) -> Page:
    """The page in a new tab once its title, its metrics (unless `with_metrics` is off: a young warehouse may
    have none yet on some pages) and every chart have drawn; raises PageBroken if it shows an exception. The
    caller closes the tab."""
    tab = browser.new_page(viewport={"width": 1400, "height": 1000}, locale=locale)
    try:
        tab.goto(page_url(dashboard_url, page), wait_until="domcontentloaded")
        tab.wait_for_selector("[data-testid=stMain] h1", timeout=PAGE_TIMEOUT_MS)
        if with_metrics:
            tab.wait_for_selector("[data-testid=stMetric]", timeout=PAGE_TIMEOUT_MS)
        # The first metric can draw while the script is still running: the page is read once it has finished.
        tab.wait_for_function(
            "() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon],"
            " [data-testid=stStatusWidgetRunningManIcon]') && document.querySelector('[data-testid=stApp]')"
            "?.getAttribute('data-test-script-state') === 'notRunning'",
            timeout=PAGE_TIMEOUT_MS,
        )
        # plotly loads lazily: every chart of the page has its SVG before anyone looks at it.
        tab.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
            ".every(chart => chart.querySelector('.main-svg'))",
            timeout=PAGE_TIMEOUT_MS,
        )
        tab.wait_for_timeout(500)
        if tab.locator("[data-testid=stException]").count():
            raise PageBroken(f"{page}: {tab.locator('[data-testid=stException]').first.inner_text()[:2000]}")
        if tab.get_by_text("Page not found").count():
            raise PageBroken(f"{page}: Page not found")
    except BaseException:
        tab.close()
        raise
    return tab


def metric_values(tab: Page) -> list[str]:
    return tab.locator("[data-testid=stMetricValue]").all_inner_texts()


def metrics_by_label(tab: Page) -> dict[str, str]:
    """Each metric's label and value, read together from the same `stMetric` box in one pass over the page."""
    pairs: list[list[str]] = tab.evaluate(
        "() => [...document.querySelectorAll('[data-testid=stMetric]')].map(metric => ["
        "metric.querySelector('[data-testid=stMetricLabel]')?.innerText.trim() ?? '',"
        "metric.querySelector('[data-testid=stMetricValue]')?.innerText.trim() ?? ''])"
    )
    return dict((label, value) for label, value in pairs)


def screenshot_whole_page(tab: Page, path: Path) -> None:
    """Streamlit scrolls inside its main block, so the window is made as tall as the page before the shot."""
    height = tab.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    tab.set_viewport_size({"width": 1400, "height": max(1000, int(height))})
    tab.wait_for_timeout(800)  # charts redraw at the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(path), full_page=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501", help="the running dashboard")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="folder for the PNG files")
    parser.add_argument("--prefix", default="dashboard-", help="file name prefix; the page name follows")
    parser.add_argument("--page", action="append", choices=PAGES, help="only these pages (repeatable)")
    arguments = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is absent: install Debian's chromium package (make browser)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    broken = 0
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for page in arguments.page or PAGES:
            try:
                tab = open_rendered_page(browser, arguments.url, page)
            except PageBroken as error:
                print(f"BROKEN {error}", file=sys.stderr)
                broken += 1
                continue
            try:
                path = arguments.out / f"{arguments.prefix}{page}.png"
                screenshot_whole_page(tab, path)
                print(f"{page}: {' · '.join(metric_values(tab))} → {path}")
            finally:
                tab.close()
        browser.close()
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
