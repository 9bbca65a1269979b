"""The assistance's secrets (password, activation file, relay connection id) are never
kept by a cache: Cache-Control: no-store and Pragma: no-cache, refusals included."""

import re

import pytest

from tests import factories
from tests.assistance.helpers import answer, connect, deliver, ready_unattended, sign, start

pytestmark = pytest.mark.usefixtures("as_worker")


def assert_no_store(response):
    assert response.headers.get("Cache-Control") == "no-store", response.headers
    assert response.headers.get("Pragma") == "no-cache"


def test_api_reveal_file_and_relay_connect_are_no_store(app, client, world):
    body = start(client, world, "server", "unattended")
    answer(app, deliver(app, world["server"])[0]["id"], result={"session_id": "123456789"})
    content = sign(app, body["id"])
    headers = world["tokens"]["operator"]
    revealed = client.post(f"/api/v1/assistances/{body['id']}/reveal", headers=headers)
    assert revealed.status_code == 200 and "password" in revealed.get_json()
    assert_no_store(revealed)
    assert_no_store(client.post(f"/api/v1/assistances/{body['id']}/reveal", headers=headers))
    file = client.get(f"/api/v1/assistances/{body['id']}/activation-file", headers=headers)
    assert file.status_code == 200
    assert_no_store(file)
    from tests.assistance.helpers import token_of

    connected = connect(client, token_of(content), revealed.get_json()["password"])
    assert connected.status_code == 200 and connected.get_json()["connection_id"]
    assert_no_store(connected)


def test_reveal_page_and_file_download_are_no_store(app, browser, world):
    assert browser.login("operator@acme.example", factories.PASSWORD).status_code == 302
    started = browser.submit(
        f"/workspaces/devices/{world['server']}/assist", {"type": "unattended"}
    )
    assistance_id = int(started.headers["Location"].rsplit("/", 1)[1])
    page = browser.get(f"/workspaces/assistances/{assistance_id}").get_data(as_text=True)
    answer(app, deliver(app, world["server"])[0]["id"], result={"session_id": "987654321"})
    sign(app, assistance_id)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    revealed = browser.client.post(
        f"/workspaces/assistances/{assistance_id}/reveal", headers={"X-CSRFToken": token}
    )
    assert revealed.status_code == 200 and revealed.get_json()["password"]
    assert_no_store(revealed)
    file = browser.get(f"/workspaces/assistances/{assistance_id}/file")
    assert file.status_code == 200
    assert_no_store(file)


def test_an_ordinary_page_is_not_marked_no_store(app, client, world):
    assistance_id, *_ = ready_unattended(app, client, world)
    response = client.get(
        f"/api/v1/assistances/{assistance_id}", headers=world["tokens"]["operator"]
    )
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
