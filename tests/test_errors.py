from app import create_app
from tests import factories


def test_unknown_api_path_gets_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_unknown_page_gets_an_html_404_without_a_trace(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_oversized_body_is_413(client, app):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/login", data={"email": big, "password": "x"})
    assert response.status_code == 413
    assert "Traceback" not in response.get_data(as_text=True)


def test_sign_in_with_redis_down_is_a_clear_503_and_no_crash(app, services):
    with app.app_context():
        email = factories.create_member(factories.create_org()).email
    # Same database, but a Redis nobody listens on.
    broken = create_app("test", REDIS_URL="redis://127.0.0.1:1/0")
    broken.config["WTF_CSRF_ENABLED"] = False
    client = broken.test_client()
    response = client.post("/login", data={"email": email, "password": factories.PASSWORD})
    assert response.status_code == 503
    assert "temporarily unavailable" in response.get_data(as_text=True)
    # Pages that do not need Redis keep working.
    assert client.get("/login").status_code == 200


def test_database_down_is_a_503_with_retry_after_and_one_log_line(app, services, caplog):
    """Nobody listens where the database should be: API calls, agent calls and pages get a
    503 with Retry-After, each logged once without a traceback."""
    import logging

    broken = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
    )
    client = broken.test_client()
    caplog.set_level(logging.WARNING)
    for path, headers in (
        ("/api/v1/devices", {"Authorization": "Bearer rap_not-a-real-token"}),
        ("/api/agent/v1/orders?wait=0", {"Authorization": "Bearer dev_not-a-real-token"}),
        ("/invitations/not-a-real-invitation", {}),
    ):
        caplog.clear()
        response = client.get(path, headers=headers)
        assert response.status_code == 503, (path, response.status_code)
        assert int(response.headers["Retry-After"]) > 0
        assert "Traceback" not in response.get_data(as_text=True)
        errors = [r for r in caplog.records if r.name == "app.errors"]
        assert len(errors) == 1 and errors[0].exc_info is None, [r.getMessage() for r in errors]
