"""What list pages and list endpoints share: a filter error that names its field, a page
of results, and the parsing of numbers and search text from request arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import Any

# The largest value an id column (PostgreSQL `integer`) holds; ids, page numbers and other
# whole numbers from requests are refused beyond it rather than reaching the database.
MAX_ID = 2**31 - 1


class FilterError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    page_size: int
    last_seen: dict[int, datetime] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.page_size))

    def as_json(self, items: list[Any]) -> dict[str, Any]:
        """The page as list endpoints answer it, with `items` already serialized."""
        return {
            "items": items,
            "page": self.page,
            "page_size": self.page_size,
            "total": self.total,
            "pages": self.pages,
        }


def int_arg(args, name: str) -> int | None:
    """The integer argument `name`, or None when absent."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise FilterError(name, f"{name} must be a whole number") from None
    if not -MAX_ID <= value <= MAX_ID:
        raise FilterError(name, f"{name} is out of range (at most {MAX_ID})")
    return value


def positive_arg(args, name: str, default: int, maximum: int | None = None) -> int:
    """A positive integer argument (at most `maximum`), or `default` when absent."""
    value = int_arg(args, name)
    if value is None:
        return default
    if value < 1 or (maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise FilterError(name, f"{name} is at least 1{bound}")
    return value


def page_number(args) -> int:
    page = int_arg(args, "page")
    if page is None:
        return 1
    if page < 1:
        raise FilterError("page", "page starts at 1")
    return page


def escape_like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (with escape "\\")."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
