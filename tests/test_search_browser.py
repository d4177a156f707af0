"""The needs map and "near me" in the machine's Chromium (Playwright), on the live server.

Map tiles come from the internet, which tests do not have: tile requests are refused
here, and the page must carry on (markers on a blank background). Skipped without
Chromium, like ``tests/test_browser.py``, unless ``REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"
LEAFLET = Path(__file__).resolve().parent.parent / "static" / "vendor" / "leaflet" / "leaflet.js"
TIANHE = {"latitude": 23.1249, "longitude": 113.3612}


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}"
    if not LEAFLET.is_file():
        return "Leaflet is not in static/vendor (run make setup)"
    return None


_MISSING = _missing()
if _MISSING and not REQUIRED:
    pytest.skip(f"map browser tests skipped: {_MISSING}", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if _MISSING:
        pytest.fail(f"REQUIRE_BROWSER=1 but {_MISSING}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def _visitor(browser: Browser, live_server: str, **options) -> tuple[Page, list[str]]:
    context = browser.new_context(base_url=live_server, locale="zh-CN", **options)
    context.set_default_timeout(10_000)
    # No internet in tests: every tile request fails, as it would offline.
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1).*"), lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def test_map_shows_the_needs_even_when_tiles_fail(browser, live_server):
    page, errors = _visitor(browser, live_server)
    page.goto("/needs?near=440106&radius_km=200")
    cards = page.locator(".need-card")
    expect(cards.first).to_be_visible()
    expect(page.locator("#needs-map-figure")).to_be_visible()
    # One marker per public location (needs in one grid cell share it), all needs listed.
    shown = json.loads(page.locator("#needs-map-data").text_content() or "[]")
    assert len(shown) == cards.count()
    places = {(need["lat"], need["lng"]) for need in shown}
    markers = page.locator("#needs-map path.leaflet-interactive")
    expect(markers).to_have_count(len(places))
    expect(page.locator("#needs-map")).to_have_class(re.compile("tiles-unavailable"))
    # ...and says so, instead of a blank box.
    expect(page.locator("#map-tiles-failed")).to_be_visible()
    markers.last.click()  # the last drawn is on top
    links = page.locator(".leaflet-popup-content ul.map-needs a")
    expect(links.first).to_have_attribute("href", re.compile(r"^/needs/\d+$"))
    assert errors == []


def test_near_me_uses_the_browsers_location(browser, live_server):
    page, errors = _visitor(browser, live_server, geolocation=TIANHE, permissions=["geolocation"])
    page.goto("/needs")
    near_me = page.locator("#near-me")
    expect(near_me).to_be_visible()
    with page.expect_navigation():
        near_me.click()
    expect(page).to_have_url(re.compile(r".*[?&]lat=23\.125&lng=113\.361(&|$).*"))
    assert "sort=distance" in page.url and "near=&" in page.url + "&"
    distances = page.locator(".hit .distance").all_inner_texts()
    kms = [float(re.search(r"[\d.]+", text).group()) for text in distances]
    assert kms and kms == sorted(kms) and kms[-1] <= 50
    assert errors == []


def test_without_javascript_the_list_and_district_search_still_work(browser, live_server):
    page, _errors = _visitor(browser, live_server, java_script_enabled=False)
    page.goto("/needs")
    expect(page.locator("#near-me")).to_be_hidden()
    expect(page.locator("#needs-map-figure")).to_be_hidden()
    page.locator("select[name=near]").select_option("440106")
    page.locator("select[name=sort]").select_option("distance")
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").click()
    expect(page.locator(".hit .distance").first).to_be_visible()
