"""Scalars: exact decimals as strings, timestamps with offsets, calendar dates, JSON objects.

Types annotate fields with plain Python types (Decimal, datetime, date, JSONObject); SCALAR_MAP
tells the schema how each is described, serialized and parsed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NewType

import strawberry
from graphql import GraphQLError
from strawberry.types.scalar import ScalarDefinition

from salesgraph.values import MAX_AMOUNT

JSONObject = NewType("JSONObject", dict[str, Any])

# ISO 8601's extended calendar date only: not the basic (20261127) or week (2026-W48-5) forms
# that date.fromisoformat also reads.
_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise GraphQLError('Decimal values are strings such as "1250.00"')
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise GraphQLError(f"{value!r} is not a decimal number") from None
    if not parsed.is_finite() or abs(parsed) >= MAX_AMOUNT:
        raise GraphQLError(f"{value!r} is not a finite decimal below 10^16")
    return parsed


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise GraphQLError("DateTime values are ISO 8601 strings with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise GraphQLError(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise GraphQLError(f"{value!r} has no UTC offset (add Z or +hh:mm)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise GraphQLError(f"{value!r} is outside the years 1 to 9999 in UTC") from None


def _parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise GraphQLError('Date values are ISO 8601 strings such as "2026-11-27"')
    if not _CALENDAR_DATE.fullmatch(value):
        raise GraphQLError(f"{value!r} is not an ISO 8601 date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise GraphQLError(f"{value!r} is not a date of the calendar") from None


def _parse_json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GraphQLError("JSONObject values are JSON objects")
    return value


SCALAR_MAP: dict[object, ScalarDefinition] = {
    Decimal: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number, serialized as a string ("1250.00") so that no '
        "client reads it as a binary float. Integers are accepted as input.",
        serialize=lambda value: format(value, "f"),
        parse_value=_parse_decimal,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description="A point in time: ISO 8601 with a UTC offset, such as "
        '"2026-11-27T08:30:00+00:00". Stored and returned in UTC.',
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_datetime,
    ),
    date: strawberry.scalar(
        name="Date",
        description='A calendar day without a time or time zone: ISO 8601, such as "2026-11-27".',
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_date,
    ),
    JSONObject: strawberry.scalar(
        name="JSONObject",
        description="A JSON object with string keys.",
        serialize=lambda value: value,
        parse_value=_parse_json_object,
    ),
}
