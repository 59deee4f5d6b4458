"""Turn filter inputs into SQL conditions.

A comparison is any object with the attributes eq, neq, in_, gt, gte, lt, lte, ilike and is_
(each None when not used); the GraphQL filter inputs are such objects. All given operators of
one comparison must hold together.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, true
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.errors import validation

MAX_IN_LIST = 500


class NullCheck(enum.StrEnum):
    """Whether a value is absent or present."""

    NULL = "NULL"
    NOT_NULL = "NOT_NULL"


def like_pattern(text: str) -> str:
    """A substring ILIKE pattern for `text`, with its own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def compare(
    column: ColumnElement[Any], comparison: Any, field: tuple[str, ...]
) -> ColumnElement[bool]:
    """All conditions a comparison input asks of `column`."""
    conditions: list[ColumnElement[bool]] = []
    convert = _uuid_converter(field) if _is_uuid(column) else None
    operators = {
        "eq": column.__eq__,
        "neq": column.__ne__,
        "gt": column.__gt__,
        "gte": column.__ge__,
        "lt": column.__lt__,
        "lte": column.__le__,
    }
    for name, build in operators.items():
        value = getattr(comparison, name, None)
        if value is not None:
            conditions.append(build(convert(value, name) if convert else value))
    values = getattr(comparison, "in_", None)
    if values is not None:
        if len(values) > MAX_IN_LIST:
            raise validation(f"at most {MAX_IN_LIST} values", (*field, "in"))
        if convert:
            values = [convert(value, "in") for value in values]
        conditions.append(column.in_(values))
    pattern = getattr(comparison, "ilike", None)
    if pattern is not None:
        conditions.append(column.ilike(pattern, escape="\\"))
    null_check = getattr(comparison, "is_", None)
    if null_check is not None:
        conditions.append(column.is_(None) if null_check == NullCheck.NULL else column.is_not(None))
    return and_(*conditions) if conditions else true()


def _is_uuid(column: ColumnElement[Any]) -> bool:
    try:
        return column.type.python_type is uuid.UUID
    except NotImplementedError:
        return False


def _uuid_converter(field: tuple[str, ...]) -> Callable[[Any, str], uuid.UUID]:
    def convert(value: Any, operator: str) -> uuid.UUID:
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise validation(f"{value!r} is not a valid id", (*field, operator)) from None

    return convert
