"""The OpenAPI document: valid 3.1, all three APIs with their security schemes, every route
documented and nothing else, request bodies generated from the models that validate them."""

import re

import pytest
from openapi_spec_validator import validate

from app.api.openapi.components import REQUEST_MODELS

PREFIXES = ("/api/v1/", "/api/agent/v1/", "/api/relay/v1/", "/.well-known/")
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
def doc(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_openapi_document_is_valid(doc):
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_every_api_route_of_the_three_apis_is_documented_and_nothing_else(app, doc):
    documented = {
        (path, method.upper())
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIXES):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert {p for p, _ in routed if p.startswith("/api/agent/")}  # the agent API is there
    assert {p for p, _ in routed if p.startswith("/api/relay/")}  # and the relay API
    assert routed == documented


def test_each_api_has_its_security_scheme(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apiToken"]["scheme"] == schemes["deviceToken"]["scheme"] == "bearer"
    assert doc["security"] == [{"apiToken": []}, {"session": []}]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            if path == "/api/agent/v1/enroll" or path.startswith(("/api/relay/", "/.well-known")):
                assert op["security"] == [], path
            elif path.startswith("/api/agent/"):
                assert op["security"] == [{"deviceToken": []}], path
            elif path not in ("/api/v1/health", "/api/v1/openapi.json"):
                assert "security" not in op, path  # the operator API's default


def test_request_bodies_are_the_validating_models_schemas(doc):
    """No hand-kept copy: each body's schema is exactly what its pydantic model produces."""
    schemas = doc["components"]["schemas"]
    for model in REQUEST_MODELS:
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
        generated.pop("$defs", None)
        assert schemas[model.__name__] == generated, model.__name__
    referenced = {
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for item in doc["paths"].values()
        for method, op in item.items()
        if method in METHODS and "requestBody" in op
    }
    assert referenced == {m.__name__ for m in REQUEST_MODELS}


def test_every_operation_documents_its_errors_with_the_error_schema(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)
            if "requestBody" in op or op.get("parameters") or item.get("parameters"):
                assert "400" in op["responses"], (path, method)
