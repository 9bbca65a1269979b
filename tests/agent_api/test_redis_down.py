"""Redis down: check-ins keep working from the database; long polls answer a clear 503."""

from app import create_app
from app.extensions import db
from app.models import Device
from tests.agent_api.conftest import Agent


def test_checkin_and_long_poll_without_redis(app, fleet, make_agent):
    agent = make_agent()
    broken = create_app("test", REDIS_URL="redis://127.0.0.1:1/0")
    client = broken.test_client()
    offline = Agent(client, fleet["token"], hardware_id=agent.hardware_id)
    offline.token, offline.device_id = agent.token, agent.device_id
    offline.instance_id = agent.instance_id
    response = offline.checkin()
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Device, agent.device_id).last_checkin_at is not None
    poll = offline.poll(wait=2)
    assert poll.status_code == 503
    assert 10 <= int(poll.headers["Retry-After"]) <= 30
    assert poll.get_json()["error"]["code"] == "service_unavailable"
