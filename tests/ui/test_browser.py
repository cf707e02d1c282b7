"""The UI in a real browser (Debian's Chromium driven by Playwright), behind a reverse proxy at /features, at
1280 and 400 px: the overview, a search for a feature, its view, its histogram, its online values, a copied
snippet run against the live server, lineage followed to a service, keyboard navigation; screenshots are saved
under the test's temp folder.

``FEATURESTORE_UI_SCREENSHOTS=<folder>`` also writes the README's pictures there (``docs/``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from featurestore import FeatureStore
from tests.server.conftest import Server, start_server

from .browser import launched, prefix_proxy
from .conftest import cli_env

FEATURES = ["driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:avg_daily_trips"]
SCREENSHOTS = os.environ.get("FEATURESTORE_UI_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as b:
        yield b


@pytest.fixture(scope="module")
def live(example_repo: Path, browser: Any) -> Iterator[tuple[Server, str]]:
    """``featurestore serve`` on the example repo, and the URL of a proxy serving it under /features."""
    server = start_server(example_repo, cli_env())
    try:
        with prefix_proxy(int(server.url.rsplit(":", 1)[1])) as url:
            yield server, url
    finally:
        server.stop()


def _errors(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("pageerror", lambda err: seen.append(f"page error: {err}"))
    page.on("console", lambda msg: seen.append(f"console: {msg.text}") if msg.type == "error" else None)
    return seen


def _shot(page: Any, folder: Path, name: str, readme: str | None = None, at: str | None = None) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    if SCREENSHOTS and readme:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        top = page.evaluate(f"document.querySelector('{at}').getBoundingClientRect().top + scrollY - 8") if at else 0
        page.evaluate(f"window.scrollTo(0, {top})")
        page.screenshot(path=str(Path(SCREENSHOTS) / readme))  # the viewport only: a small PNG


@pytest.mark.parametrize("width", [1280, 400])
def test_the_catalog_in_a_browser(browser: Any, live: tuple[Server, str], example_store: FeatureStore,
                                  tmp_path: Path, width: int) -> None:
    from playwright.sync_api import expect

    server, base = live
    origin = base.split("/features")[0]
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page = context.new_page()
    errors = _errors(page)
    readme = width == 1280
    try:
        # the overview, reached through the proxy: every asset and link carries /features
        page.goto(f"{base}/ui")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Overview")
        expect(page.get_by_role("link", name=re.compile("feature views"))).to_be_visible()
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # the stylesheet loaded
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, "wider than the window"
        _shot(page, tmp_path, f"overview-{width}", "ui-overview.png" if readme else None)

        # keyboard: the skip link first, then the navigation; the skip link moves the focus to the content
        reached = []
        for _ in range(12):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("document.activeElement.textContent.trim()"))
        assert reached[0] == "Skip to content", reached
        assert {"Feature views", "Entities", "Services", "Training sets", "History"} <= set(reached), reached
        page.locator("a.skip").focus()
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "content"

        # search for a feature, open its view
        search = page.get_by_role("searchbox", name="Search")
        search.fill("conv_rate")
        search.press("Enter")
        expect(page).to_have_url(re.compile(r"/features/ui/search\?q=conv_rate"))
        page.get_by_role("link", name="driver_stats", exact=True).first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("driver_stats")
        expect(page.get_by_role("cell", name="conv_rate", exact=True)).to_be_visible()

        # its histogram: statistics are computed on request; the bars add up to the profile's values
        # (the first width computes them, the second finds them cached: the view page then links its statistics)
        page.get_by_role("link", name=re.compile("^(Compute statistics|Statistics page)$")).click()
        figure = page.locator('figure[data-feature="conv_rate"]')
        expect(figure.locator("svg")).to_be_visible()
        counts = figure.locator("svg .bar").evaluate_all("bars => bars.map(b => Number(b.dataset.count))")
        want = example_store.profile("driver_stats").features["conv_rate"]
        assert sum(counts) == want.count + want.infinite > 0
        inner = figure.locator("svg .bar:not(.outside)").evaluate_all("bs => bs.map(b => Number(b.dataset.count))")
        fine = want.histogram.counts if want.histogram else ()
        assert inner == [sum(fine[1 + 5 * i:6 + 5 * i]) for i in range(40)]  # 200 fine bins drawn as 40 bars
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        _shot(page, tmp_path, f"statistics-{width}")

        # online values for an entity the user types
        page.get_by_role("link", name="driver_stats", exact=True).first.click()
        page.get_by_label("driver_id").fill("1001")
        page.get_by_role("button", name="Look up").click()
        table = page.locator("#sample-values")
        expect(table).to_be_visible()
        shown = {row.get_attribute("data-feature"): row.locator("td.value").inner_text()
                 for row in table.locator("tbody tr").all()}
        sdk = example_store.get_online_features(FEATURES, [{"driver_id": 1001}]).to_dict()
        assert shown == {f.split(":")[1]: str(sdk[f.split(":")[1]][0]) for f in FEATURES}
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        _shot(page, tmp_path, f"view-{width}", "ui-feature-view.png" if readme else None, at="#fresh-h")

        # copy the curl snippet and run it against the live server (through the proxy, as printed)
        page.locator('button[data-copy="snippet-curl"]').click()
        expect(page.locator("#snippet-curl-status")).to_have_text("Copied")
        snippet = page.evaluate("navigator.clipboard.readText()")
        assert snippet == page.locator("#snippet-curl").inner_text()
        assert f"{base}/get-online-features" in snippet
        done = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        names = answer["metadata"]["feature_names"]
        got = {n: r["values"][0] for n, r in zip(names, answer["results"], strict=True)}
        assert {k: str(v) for k, v in got.items() if k != "driver_id"} == shown

        # lineage, followed to the service
        page.get_by_role("link", name=re.compile("what driver_stats is made from")).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Lineage of")
        node = page.locator('svg g[data-node="feature_service:driver_activity"]')
        expect(node).to_be_visible()
        _shot(page, tmp_path, f"lineage-{width}")
        node.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("driver_activity")
        expect(page).to_have_url(re.compile(r"/features/ui/services/driver_activity$"))
        assert not errors, errors
    finally:
        context.close()
    assert "Traceback" not in server.log()
