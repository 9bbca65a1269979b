"""Reading requests safely, for every surface (SPEC §6: bad input gets a clear 4xx).

- One JSON reader (`json_body`, `json_object`): bounded nesting, finite numbers, parsed
  once per request; deep nesting or a non-object where an object is expected is a 400.
- One validator (`parse`): a pydantic model checks the body; the first error becomes a
  400 that names the field (`sessions[0].username`). The same models describe the
  requests in the OpenAPI document.
- One request-level guard: a NUL byte or a lone surrogate anywhere in the query string,
  form, path or JSON body is a 400 naming the field, before any view (PostgreSQL cannot
  store either, and an id of another encoding is never what the caller meant).
- Ids in URLs (`<int:…>`) beyond the database's integer range match no route (404).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.routing import BaseConverter

from app.core.listing import MAX_ID

MAX_JSON_DEPTH = 32
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
_NO_BODY = object()
M = TypeVar("M", bound=BaseModel)


class InputError(ValueError):
    """Bad input: `field` names it, `message` says what is wrong, `code` is stable."""

    def __init__(
        self, field: str, message: str, code: str = "invalid_field", status: int = 400
    ) -> None:
        super().__init__(message)
        self.field, self.message, self.code, self.status = field, message, code, status


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON with limits: nesting beyond MAX_JSON_DEPTH, NaN, Infinity and numbers
    too large for a float are a ValueError (a 400), never a RecursionError (a 500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        kwargs.setdefault("parse_float", _finite_float)
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
        if _depth_exceeds(value, MAX_JSON_DEPTH):
            raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
        return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def up_to(n: int) -> str:
    """A regular expression matching exactly the decimal numbers 1..n (no sign, no
    leading zero)."""
    digits, k = str(n), len(str(n))
    options = [rf"[1-9]\d{{0,{k - 2}}}"] if k > 1 else []
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            rest = rf"\d{{{k - i - 1}}}" if i < k - 1 else ""
            options.append(f"{digits[:i]}[{low}-{int(d) - 1}]{rest}")
    options.append(digits)
    return "(?:" + "|".join(options) + ")"


class IdConverter(BaseConverter):
    """`<int:…>` matching only ids the database can hold (1..MAX_ID). A larger number does
    not match the route at all, so it is a 404 for every method (a converter that refused
    it after matching would make Werkzeug answer 405 where another method's rule has the
    same path)."""

    regex = up_to(MAX_ID)
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


# --- the JSON body ---------------------------------------------------------------------
def _read_json() -> tuple[Any, str | None]:
    """(value, None), (_NO_BODY, None) for an empty body, or (None, why it is not JSON);
    parsed once per request."""
    cached = g.get("_json_body")
    if cached is None:
        data = request.get_data(cache=True)
        if not data.strip():
            cached = (_NO_BODY, None)
        else:
            try:
                cached = (current_app.json.loads(data), None)
            except ValueError as exc:
                cached = (None, str(exc).split("\n")[0][:200])
        g._json_body = cached
    return cached


def _json_value() -> Any:
    if not request.is_json and request.get_data(cache=True).strip():
        raise InputError("body", "Send JSON with Content-Type: application/json.", "invalid_body")
    value, problem = _read_json()
    if problem is not None:
        raise InputError("body", f"The body is not valid JSON: {problem}.", "invalid_body")
    return value


def _missing() -> InputError:
    return InputError("body", "Send a JSON body (Content-Type: application/json).", "invalid_body")


def json_body() -> Any:
    """The request's JSON value; a missing body is a 400."""
    value = _json_value()
    if value is _NO_BODY:
        raise _missing()
    return value


def json_object(optional: bool = False) -> dict[str, Any]:
    """The request's JSON object; a missing body is `{}` when `optional`, anything but an
    object a 400."""
    value = _json_value()
    if value is _NO_BODY:
        if optional:
            return {}
        raise _missing()
    if not isinstance(value, dict):
        raise InputError("body", "The body must be a JSON object.", "invalid_body")
    return value


# --- validation with pydantic ----------------------------------------------------------
class Body(BaseModel):
    """Base of every request body model: strict types (no "1" for 1, no 1 for true)."""

    model_config = ConfigDict(extra="ignore", strict=True)


def field_path(loc: tuple) -> str:
    """`("sessions", 0, "username")` → `sessions[0].username`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def parse(
    model: type[M],
    data: Any = _NO_BODY,
    *,
    code: str = "invalid_field",
    field_of: Callable[[tuple], str] = field_path,
) -> M:
    """Validate `data` (default: the request's JSON object) with `model`, or raise an
    InputError naming the first bad field."""
    if data is _NO_BODY:
        data = json_body()
    if not isinstance(data, dict):
        raise InputError(field_of(()), "The body must be a JSON object.", code)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = tuple(p for p in first["loc"] if not _is_validator_label(p))
        field = field_of(loc)
        message = re.sub(r"^(Value|Assertion) error, ", "", first["msg"])
        raise InputError(field, f"{field}: {message}", code) from None


def _is_validator_label(part: Any) -> bool:
    # pydantic adds the validator's name to the location of union and function errors.
    return isinstance(part, str) and part.startswith(("literal[", "function-"))


# --- the request-level guard -----------------------------------------------------------
def _problem(text: str) -> str | None:
    match = _BAD_CHAR.search(text)
    if match is None:
        return None
    return "a NUL byte" if match.group() == "\x00" else "an unpaired surrogate (invalid text)"


def _printable(name: str) -> str:
    return _BAD_CHAR.sub("?", name)[:100]


def _refuse(field: str, problem: str) -> None:
    field = _printable(field) or "(empty)"
    raise InputError(field, f"{field} contains {problem}; send plain text.", "invalid_character")


def _check_json(value: Any) -> None:
    stack: list[tuple[tuple, Any]] = [((), value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, str):
            if problem := _problem(item):
                _refuse(field_path(loc), problem)
        elif isinstance(item, dict):
            for key, child in item.items():
                if problem := _problem(key):
                    _refuse(field_path((*loc, key)), problem)
                stack.append(((*loc, key), child))
        elif isinstance(item, list):
            stack.extend(((*loc, i), child) for i, child in enumerate(item))


def guard_request() -> None:
    """Refuse NUL bytes and lone surrogates anywhere a view could read text from."""
    for values in (request.args, request.form):
        for name, value in values.items(multi=True):
            if problem := _problem(name) or _problem(value):
                _refuse(name, problem)
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and (problem := _problem(value)):
            _refuse(name, problem)
    if request.is_json:
        value, problem = _read_json()
        if problem is None and value is not _NO_BODY:
            _check_json(value)


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered (the `int` converter applies to routes
    added afterwards) and before other `before_request` hooks (the guard runs first)."""
    app.json = SafeJSONProvider(app)
    app.url_map.converters["int"] = IdConverter
    app.before_request(guard_request)
