"""A real browser (Debian's chromium driven by Playwright) on the live assistance page: the
state changes from "requested" to "ready" without a page reload, the countdown runs, and the
credentials are revealed once."""

import pytest

from tests import factories
from tests.assistance.helpers import answer, deliver, sign
from tests.browser import chromium, serve

pytestmark = pytest.mark.usefixtures("as_worker")


@pytest.fixture
def live_server(app):
    with serve(app) as url:
        yield url


@pytest.fixture
def page():
    with chromium() as browser:
        yield browser.new_page()


def test_live_page_updates_without_reload_and_reveals_once(app, world, live_server, page):
    page.goto(f"{live_server}/login")
    page.fill("#email", "operator@acme.example")
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/workspaces/devices/{world['server']}/assist")
    page.check("input[value=unattended]")
    page.click("text=Start remote assistance")
    page.wait_for_selector(".badge.state-requested")
    page.evaluate("window.__sameDocument = true")
    assistance_id = int(page.url.rsplit("/", 1)[1])

    answer(app, deliver(app, world["server"])[0]["id"], result={"session_id": "555666777"})
    sign(app, assistance_id)
    page.wait_for_selector(".badge.state-ready", timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True  # updated in place, no reload
    page.wait_for_function("document.querySelector('[data-countdown]').textContent.includes('min')")

    page.click("#reveal")
    page.wait_for_selector("#secret-box:not([hidden])")
    assert page.text_content("#secret-sid") == "555666777"
    password = page.text_content("#secret-password")
    assert len(password) == 14
    page.wait_for_selector("text=shown once", timeout=10_000)
    assert page.query_selector("#reveal") is None
    assert page.is_visible("#download")
