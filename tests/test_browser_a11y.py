"""Accessibility: axe-core (from npm) runs in the browser over the main pages of every role;
no serious or critical violation is allowed. Contrast is part of it (white-on-white buttons).

Run: ``REQUIRE_BROWSER=1 python -m pytest tests/test_browser_a11y.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import test_browser as shared
from tests.test_browser import CASEWORKER, VERIFIER, Page, sign_in

browser = shared.browser
new_context = shared.new_context

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}

PAGES = {
    None: ["/", "/needs", "/login", "/register", "/leaderboards", "/rewards"],
    "donor1@demo.example": ["/notifications", "/me", "/me/points", "/me/giving", "/claims/mine"],
    "company1@demo.example": ["/donations", "/organisation", "/organisation/impact"],
    "team1@demo.example": ["/organisation", "/match/needs"],
    CASEWORKER: ["/work/", "/work/households", "/work/donations", "/notifications"],
    VERIFIER: ["/review/", "/review/lights", "/review/inspections"],
    "admin@demo.example": ["/admin/organisations", "/admin/staff", "/admin/rewards"],
}


def violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
            }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}) at {', '.join(v['nodes'])}"
        for v in result
        if v["impact"] in BLOCKING
    ]


def _first_link(page: Page, selector: str) -> str | None:
    link = page.locator(selector).first
    return link.get_attribute("href") if link.count() else None


@pytest.mark.parametrize("who", list(PAGES), ids=lambda w: (w or "anonymous").split("@")[0])
def test_main_pages_have_no_serious_accessibility_violations(new_context, who) -> None:
    if not AXE.exists():
        pytest.fail(f"axe-core missing at {AXE}: run npm install")
    page = new_context().new_page()
    if who:
        sign_in(page, who)
    paths = list(PAGES[who])
    found: dict[str, list[str]] = {}
    for path in paths:
        page.goto(path)
        problems = violations(page)
        if problems:
            found[path] = problems
    # The detail pages people reach from the lists.
    if who is None:
        page.goto("/needs")
        href = _first_link(page, "main article h3 a")
        assert href, "no public need in the demo"
        page.goto(href)
        if problems := violations(page):
            found[href] = problems
    if who in (CASEWORKER, VERIFIER):
        page.goto("/work/" if who == CASEWORKER else "/review/")
        href = _first_link(page, "main a[href^='/work/needs/']")
        if href:
            page.goto(href)
            if problems := violations(page):
                found[href] = problems
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(paths[0])
    if problems := violations(page):
        found[f"{paths[0]} (375px)"] = problems
    assert not found, "\n".join(f"{path}: {p}" for path, ps in found.items() for p in ps)
