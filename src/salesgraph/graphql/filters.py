"""Filter inputs shared by every list: one input per field type."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import strawberry

from salesgraph.db.filters import NullCheck as NullCheckEnum
from salesgraph.graphql.enums import graphql_enum

NullCheck = graphql_enum(
    NullCheckEnum,
    name="NullCheck",
    description="Whether a value is absent or present.",
    values={"NULL": "The value is absent.", "NOT_NULL": "The value is present."},
)

_EQ = "Equal to."
_NEQ = "Not equal to (null values never match)."
_IN = "Equal to one of (at most 500 values)."
_IS = "NULL: the value is absent; NOT_NULL: it is present."


@strawberry.input(description="Conditions on an id; all given conditions must hold.")
class IDFilter:
    eq: strawberry.ID | None = strawberry.field(default=None, description=_EQ)
    neq: strawberry.ID | None = strawberry.field(default=None, description=_NEQ)
    in_: list[strawberry.ID] | None = strawberry.field(default=None, name="in", description=_IN)
    is_: NullCheckEnum | None = strawberry.field(default=None, name="is", description=_IS)


@strawberry.input(description="Conditions on a text; all given conditions must hold.")
class StringFilter:
    eq: str | None = strawberry.field(default=None, description=_EQ)
    neq: str | None = strawberry.field(default=None, description=_NEQ)
    in_: list[str] | None = strawberry.field(default=None, name="in", description=_IN)
    ilike: str | None = strawberry.field(
        default=None,
        description="Case-insensitive SQL LIKE pattern: % matches any run of characters, _ one "
        "character, \\ escapes them.",
    )
    is_: NullCheckEnum | None = strawberry.field(default=None, name="is", description=_IS)


@strawberry.input(description="Conditions on a whole number; all given conditions must hold.")
class IntFilter:
    eq: int | None = strawberry.field(default=None, description=_EQ)
    neq: int | None = strawberry.field(default=None, description=_NEQ)
    in_: list[int] | None = strawberry.field(default=None, name="in", description=_IN)
    gt: int | None = strawberry.field(default=None, description="Greater than.")
    gte: int | None = strawberry.field(default=None, description="Greater than or equal to.")
    lt: int | None = strawberry.field(default=None, description="Less than.")
    lte: int | None = strawberry.field(default=None, description="Less than or equal to.")
    is_: NullCheckEnum | None = strawberry.field(default=None, name="is", description=_IS)


@strawberry.input(description="Conditions on a decimal; all given conditions must hold.")
class DecimalFilter:
    eq: Decimal | None = strawberry.field(default=None, description=_EQ)
    neq: Decimal | None = strawberry.field(default=None, description=_NEQ)
    in_: list[Decimal] | None = strawberry.field(default=None, name="in", description=_IN)
    gt: Decimal | None = strawberry.field(default=None, description="Greater than.")
    gte: Decimal | None = strawberry.field(default=None, description="At least.")
    lt: Decimal | None = strawberry.field(default=None, description="Less than.")
    lte: Decimal | None = strawberry.field(default=None, description="At most.")
    is_: NullCheckEnum | None = strawberry.field(default=None, name="is", description=_IS)


@strawberry.input(description="Conditions on a point in time; all given conditions must hold.")
class DateTimeFilter:
    eq: datetime | None = strawberry.field(default=None, description=_EQ)
    neq: datetime | None = strawberry.field(default=None, description=_NEQ)
    gt: datetime | None = strawberry.field(default=None, description="Later than.")
    gte: datetime | None = strawberry.field(default=None, description="At or later than.")
    lt: datetime | None = strawberry.field(default=None, description="Earlier than.")
    lte: datetime | None = strawberry.field(default=None, description="At or earlier than.")
    is_: NullCheckEnum | None = strawberry.field(default=None, name="is", description=_IS)


@strawberry.input(description="Conditions on a calendar date; all given conditions must hold.")
class DateFilter:
    eq: date | None = strawberry.field(default=None, description=_EQ)
    neq: date | None = strawberry.field(default=None, description=_NEQ)
    gt: date | None = strawberry.field(default=None, description="Later than.")
    gte: date | None = strawberry.field(default=None, description="On or later than.")
    lt: date | None = strawberry.field(default=None, description="Earlier than.")
    lte: date | None = strawberry.field(default=None, description="On or earlier than.")
    is_: NullCheckEnum | None = strawberry.field(default=None, name="is", description=_IS)


@strawberry.enum(description="Sort direction.")
class OrderDirection(enum.Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest, earliest or A first.")
    DESC = strawberry.enum_value("DESC", description="Largest, latest or Z first.")


@strawberry.enum(description="Where null values sort.")
class NullsOrder(enum.Enum):
    FIRST = strawberry.enum_value("FIRST", description="Items without a value come first.")
    LAST = strawberry.enum_value("LAST", description="Items without a value come last.")


def enum_filter(enum_type: type[enum.Enum], name: str, what: str) -> type:
    """A filter input on one enum: `eq`, `in` and `is` (NULL / NOT_NULL)."""
    namespace = {
        "__annotations__": {
            "eq": enum_type | None,
            "in_": list[enum_type] | None,  # type: ignore[valid-type]
            "is_": NullCheckEnum | None,
        },
        "eq": strawberry.field(default=None, description=_EQ),
        "in_": strawberry.field(default=None, name="in", description=_IN),
        "is_": strawberry.field(default=None, name="is", description=_IS),
    }
    return strawberry.input(
        type(name, (), namespace), name=name, description=f"Conditions on {what}."
    )
