import threading
import time
from datetime import timedelta

import pytest

from app.extensions import db
from app.fleet.orders import create_order, expire_overdue
from app.models import AgentOrder, Device, utcnow


def _order(app, device_id, order_type="ra.end", payload=None, secret=None, **kw):
    with app.app_context():
        order = create_order(
            db.session.get(Device, device_id),
            order_type,
            payload or {"assistance_id": 1},
            secret=secret,
            **kw,
        )
        db.session.commit()
        return order.id


def _status(app, order_id):
    with app.app_context():
        return db.session.get(AgentOrder, order_id).status


def test_long_poll_returns_within_milliseconds_of_a_new_order(app, make_agent):
    agent = make_agent()
    result = {}

    def poll():
        result["response"] = agent.poll(wait=10)
        result["returned_at"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)  # the poll is now blocked waiting
    created = time.monotonic()
    order_id = _order(app, agent.device_id)
    thread.join(timeout=15)
    assert result["response"].status_code == 200
    orders = result["response"].get_json()["orders"]
    assert [o["id"] for o in orders] == [order_id]
    assert orders[0]["type"] == "ra.end" and orders[0]["payload"] == {"assistance_id": 1}
    # Woken by Redis, not by the 10 s timeout (generous bound for a shared CI machine;
    # bench/checkin.py measures the real latency).
    assert result["returned_at"] - created < 2, result["returned_at"] - created
    assert _status(app, order_id) == "delivered"


def test_long_poll_times_out_cleanly_with_no_orders(app, make_agent):
    agent = make_agent()
    started = time.monotonic()
    response = agent.poll(wait=1)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.get_json() == {"orders": []}
    assert 0.9 <= elapsed < 5


def test_pending_order_is_returned_immediately_and_only_once(app, make_agent):
    agent = make_agent()
    order_id = _order(app, agent.device_id)
    assert [o["id"] for o in agent.poll(wait=5).get_json()["orders"]] == [order_id]
    assert agent.poll(wait=0).get_json()["orders"] == []
    assert agent.checkin().get_json()["orders"] == []


def test_checkin_also_delivers_pending_orders(app, make_agent):
    agent = make_agent()
    order_id = _order(app, agent.device_id)
    assert [o["id"] for o in agent.checkin().get_json()["orders"]] == [order_id]


def test_wait_out_of_range_is_400(app, make_agent):
    agent = make_agent()
    for wait in ("31", "-1", "soon"):
        response = agent.poll(wait=wait)
        assert response.status_code == 400
        assert response.get_json()["error"]["field"] == "wait"


def test_result_is_idempotent(app, make_agent):
    agent = make_agent()
    order_id = _order(app, agent.device_id)
    agent.poll()
    first = agent.answer(order_id, result={"service_removed": True})
    again = agent.answer(order_id, result={"service_removed": True})
    assert first.status_code == again.status_code == 200
    assert again.get_json() == {"id": order_id, "status": "succeeded"}
    conflict = agent.answer(order_id, status="failed", error="boom")
    assert conflict.status_code == 409
    with app.app_context():
        order = db.session.get(AgentOrder, order_id)
        assert (order.status, order.result) == ("succeeded", {"service_removed": True})


def test_unknown_order_and_another_devices_order_are_404(app, make_agent):
    mine, other = make_agent(), make_agent()
    theirs = _order(app, other.device_id)
    assert mine.answer(999999).status_code == 404
    response = mine.answer(theirs)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_order"
    assert _status(app, theirs) == "pending"


def test_malformed_result_is_400(app, make_agent):
    agent = make_agent()
    order_id = _order(app, agent.device_id)
    response = agent.client.post(
        f"/api/agent/v1/orders/{order_id}/result", json={"status": "done"}, headers=agent.headers
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "status"


def test_secret_payload_is_sealed_at_rest_and_wiped_once_delivered(app, make_agent):
    agent = make_agent()
    secret = "Kq7-very-secret-Password"
    order_id = _order(
        app,
        agent.device_id,
        "ra.unattended.start",
        {"assistance_id": 5},
        secret={"password": secret},
    )
    with app.app_context():
        order = db.session.get(AgentOrder, order_id)
        assert secret not in str(order.payload)
        assert order.sealed_payload and secret.encode() not in order.sealed_payload
    delivered = agent.poll().get_json()["orders"][0]
    assert delivered["payload"] == {"assistance_id": 5, "password": secret}
    with app.app_context():
        order = db.session.get(AgentOrder, order_id)
        assert order.sealed_payload is None
        assert secret not in str(order.payload)


def test_orders_not_picked_up_or_not_answered_expire(app, make_agent):
    agent = make_agent()
    not_picked = _order(app, agent.device_id, pickup_s=60)
    not_answered = _order(app, agent.device_id, answer_s=60)
    with app.app_context():
        db.session.get(AgentOrder, not_picked).pickup_by = utcnow() - timedelta(seconds=1)
        db.session.commit()
    delivered = [o["id"] for o in agent.poll().get_json()["orders"]]
    assert delivered == [not_answered]  # an overdue order is never delivered
    with app.app_context():
        db.session.get(AgentOrder, not_answered).answer_by = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert expire_overdue() == 2
        assert expire_overdue() == 0
    assert _status(app, not_picked) == _status(app, not_answered) == "expired"
    response = agent.answer(not_answered)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "order_expired"


@pytest.mark.parametrize(
    "body", [None, "x", [], {"status": None}, {"status": "succeeded", "result": "x"}]
)
def test_garbage_result_bodies_never_500(app, make_agent, body):
    agent = make_agent()
    order_id = _order(app, agent.device_id)
    response = agent.client.post(
        f"/api/agent/v1/orders/{order_id}/result", json=body, headers=agent.headers
    )
    assert response.status_code == 400
