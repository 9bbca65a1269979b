"""Building blocks of the OpenAPI document: responses, parameters, request bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.core.listing import MAX_ID

ERROR_REF = "#/components/schemas/Error"

# What each error status means, everywhere in the document.
ERROR_TEXT = {
    400: "Bad input: a malformed body, a bad field or argument (the error names it)",
    401: "Missing or bad credentials",
    403: "The caller's role does not allow this (the code says why)",
    404: "No such object for the caller (another organization's is not found either)",
    409: "Conflict with the object's state (the code says why)",
    410: "Gone: it ended and will not come back",
    413: "The body is over the size limit",
    423: "Locked",
    429: "Too many requests from this address; see Retry-After",
    503: "A service the request needs is temporarily unavailable; see Retry-After",
}

# Every operator API call can meet these.
OPERATOR_ERRORS = (400, 401, 403, 404, 503)


def error_response(description: str) -> dict[str, Any]:
    return json_response(ERROR_REF, description)


def errors(*statuses: int, **descriptions: str) -> dict[str, Any]:
    """Error responses for `statuses`; `descriptions` (`e409="…"`) say more for one."""
    return {
        str(s): error_response(descriptions.get(f"e{s}", ERROR_TEXT[s])) for s in sorted(statuses)
    }


def json_response(schema_ref: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


def ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def request_body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """The body a pydantic model validates (its schema is generated from the model)."""
    return {
        "required": required,
        "content": {"application/json": {"schema": {"$ref": ref(model.__name__)}}},
    }


def id_param(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"{what} (beyond the database's range: 404)",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def query(name: str, type_: str, description: str, **schema: Any) -> dict[str, Any]:
    if type_ == "integer":
        schema = {"minimum": 1, "maximum": MAX_ID, **schema}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": type_, **schema},
    }


def page_of(item_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "page", "page_size", "total", "pages"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    }
