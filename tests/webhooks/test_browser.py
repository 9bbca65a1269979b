"""Settings → Webhooks in a real browser (Debian's chromium driven by Playwright), in English
on a desktop and in Catalan on a phone (390 px): the Organization Admin creates an endpoint
pointing at a local receiver, copies the secret shown once, sends a test event and sees it
delivered (by a real worker) in the delivery log. axe-core checks every page; no page is
wider than the screen."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests import factories
from tests.browser import chromium, serve
from tests.conftest import ROOT

pytestmark = pytest.mark.heavy

AXE = os.path.join(ROOT, "static", "vendor", "axe-core", "axe.min.js")
BLOCKING = ("serious", "critical")


class Walk:
    def __init__(self, browser, url: str, locale: str, width: int, shots: Path) -> None:
        self.context = browser.new_context(
            locale=locale,
            viewport={"width": width, "height": 900 if width > 500 else 844},
            permissions=["clipboard-read", "clipboard-write"],
        )
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.url, self.width, self.shots = url, width, shots
        self.language = locale.split("-")[0]

    def check(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.lang") == self.language
        page.add_script_tag(path=AXE)
        result = page.evaluate("async () => await axe.run(document)")
        blocking = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:4])
            for v in result["violations"]
            if v["impact"] in BLOCKING
        ]
        assert not blocking, (name, page.url, blocking)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.width + 1, (name, page.url, width)
        page.screenshot(
            path=str(self.shots / f"{self.width}-{self.language}-webhooks-{name}.png"),
            full_page=True,
        )


@pytest.fixture
def portal(app):
    with serve(app) as url:
        yield url


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


@pytest.mark.parametrize(("locale", "width"), [("en-GB", 1366), ("ca-ES", 390)])
def test_the_admin_creates_an_endpoint_sends_a_test_event_and_sees_it_delivered(
    app,
    acme,
    portal,
    browser,
    receiver,
    processes,
    tmp_path,
    locale,
    width,
):
    r = receiver()
    processes.start(
        ["worker.py"],
        env={"SECRET_KEY": app.config["SECRET_KEY"], "WEBHOOK_SWEEP_INTERVAL_SECONDS": 1},
    )
    shots = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    walk = Walk(browser, portal, locale, width, shots)
    page = walk.page
    try:
        page.goto(f"{portal}/login")
        page.fill("#email", "admin@acme.example")
        page.fill("#password", factories.PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{portal}/")

        page.goto(f"{portal}/settings/")
        page.click("nav.tabs a[href='/settings/webhooks']")
        page.wait_for_selector("#new-webhook")
        walk.check("list-empty")

        page.fill("#url", r.url)
        assert page.is_checked("#new-webhook input[value='*']")
        page.click("#new-webhook button[type=submit]")
        page.wait_for_selector("#webhook-secret")
        walk.check("secret-once")
        secret = page.text_content("#webhook-secret").strip()
        assert secret.startswith("whsec_")
        page.click("button[data-copy='#webhook-secret']")
        assert page.evaluate("navigator.clipboard.readText()") == secret

        page.click("main a[href^='/settings/webhooks/']")
        page.wait_for_selector("#send-test")
        assert secret not in page.content()
        page.click("#send-test")
        page.wait_for_selector(".flash.success")
        deadline = time.monotonic() + 60
        delivered = "tr.delivery.delivered:has(code:text-is('ping'))"
        while not page.is_visible(delivered) and time.monotonic() < deadline:
            time.sleep(0.5)
            page.reload()
        assert page.is_visible(delivered), processes.output()[-3000:]
        assert "HTTP 204" in page.text_content(delivered)
        walk.check("delivered")

        pings = [x for x in r.delivered() if x.payload["type"] == "ping"]
        assert len(pings) == 1 and pings[0].signature_ok(secret)
        assert pings[0].payload["organization"]["slug"] == "acme"

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("form[action$='/enabled'] button")
        page.wait_for_selector(".badge.offline")
        walk.check("disabled")
    finally:
        walk.context.close()
