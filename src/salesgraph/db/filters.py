"""Turn filter inputs into SQL conditions.

A comparison is any object with the attributes eq, neq, in_, gt, gte, lt, lte, ilike and is_
(each None when not used); the GraphQL filter inputs are such objects. All given operators of
one comparison must hold together.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, Numeric, SmallInteger, and_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.db.base import SqlColumn
from salesgraph.errors import api_name, validation

MAX_IN_LIST = 500


class NullCheck(enum.StrEnum):
    """Whether a value is absent or present."""

    NULL = "NULL"
    NOT_NULL = "NOT_NULL"


def like_pattern(text: str) -> str:
    """A substring ILIKE pattern for `text`, with its own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def representable(column: SqlColumn, value: Any) -> bool:
    """Whether `value` can be sent as a parameter of `column`'s type.

    PostgreSQL (or asyncpg) refuses the rest with an error that would otherwise surface as an
    unexpected fault: NUL characters in text, timestamps beyond the calendar once moved to UTC,
    numbers beyond the column's range (after rounding to its scale).
    """
    column_type = column.type
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, datetime):
        try:
            value.astimezone(UTC)
        except OverflowError:
            return False
        return True
    if isinstance(value, Decimal):
        if not value.is_finite():
            return False
        if isinstance(column_type, Numeric) and not isinstance(column_type, Float):
            if column_type.precision is None or column_type.scale is None:
                return True
            limit = Decimal(10) ** (column_type.precision - column_type.scale)
            if abs(value) >= limit:
                return False
            rounded = value.quantize(Decimal(10) ** -column_type.scale, rounding=ROUND_HALF_UP)
            return abs(rounded) < limit
        return True
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(column_type, Integer):
        bits = 32
        if isinstance(column_type, SmallInteger):
            bits = 16
        elif isinstance(column_type, BigInteger):
            bits = 64
        bound = 1 << (bits - 1)
        return -bound <= value < bound
    return True


def compare(column: SqlColumn, comparison: Any, field: tuple[str, ...]) -> ColumnElement[bool]:
    """All conditions a comparison input asks of `column`."""
    conditions: list[ColumnElement[bool]] = []
    convert = _uuid_converter(field) if _is_uuid(column) else None

    def checked(value: Any, operator: str) -> Any:
        if convert:
            return convert(value, operator)
        if not representable(column, value):
            raise validation(f"{value!r} is not a value this field can hold", (*field, operator))
        return value

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
            conditions.append(build(checked(value, name)))
    values = getattr(comparison, "in_", None)
    if values is not None:
        if len(values) > MAX_IN_LIST:
            raise validation(f"at most {MAX_IN_LIST} values", (*field, "in"))
        conditions.append(column.in_([checked(value, "in") for value in values]))
    pattern = getattr(comparison, "ilike", None)
    if pattern is not None:
        conditions.append(column.ilike(checked(pattern, "ilike"), escape="\\"))
    null_check = getattr(comparison, "is_", None)
    if null_check is not None:
        conditions.append(column.is_(None) if null_check == NullCheck.NULL else column.is_not(None))
    return and_(*conditions) if conditions else true()


def _is_uuid(column: SqlColumn) -> bool:
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


MAX_FILTER_DEPTH = 5


def combined(
    filter_input: Any,
    path: tuple[str, ...],
    columns: Mapping[str, SqlColumn],
    depth: int = 1,
) -> list[ColumnElement[bool]]:
    """The conditions of a filter input: each of its fields named in `columns` compared with
    that column, and the `and` / `or` / `not` combinators, nested up to MAX_FILTER_DEPTH
    levels. `not` matches exactly what the inner filter does not match, also where a compared
    column is NULL (IS NOT TRUE rather than NOT).
    """
    if filter_input is None:
        return []
    if depth > MAX_FILTER_DEPTH:
        raise validation(f"filters nest at most {MAX_FILTER_DEPTH} levels deep", path)
    conditions = [
        compare(column, comparison, (*path, api_name(name)))
        for name, column in columns.items()
        if (comparison := getattr(filter_input, name, None)) is not None
    ]
    for index, child in enumerate(getattr(filter_input, "and_", None) or ()):
        conditions.extend(combined(child, (*path, "and", str(index)), columns, depth + 1))
    alternatives = getattr(filter_input, "or_", None)
    if alternatives:
        conditions.append(
            or_(
                *(
                    and_(true(), *combined(child, (*path, "or", str(index)), columns, depth + 1))
                    for index, child in enumerate(alternatives)
                )
            )
        )
    negated = getattr(filter_input, "not_", None)
    if negated is not None:
        inner = combined(negated, (*path, "not"), columns, depth + 1)
        conditions.append(and_(true(), *inner).is_not(True))
    return conditions
