"""Keyset pagination: ordered pages whose cursors stay correct while rows come and go.

A page is read with a WHERE clause that starts strictly after (or before) the cursor's row in
the sort order, so page N costs the same as page 1 and inserting or deleting rows never shifts
a page. Every ordering ends in a unique key, so the order is total. Sort keys may be nullable
and mix directions; NULLs sort first or last as each key says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import and_, false, or_, tuple_
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.db.base import SqlColumn
from salesgraph.db.filters import representable
from salesgraph.errors import validation

RowT = TypeVar("RowT")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _aware_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(_text(value))
    if parsed.tzinfo is None:
        raise ValueError("a cursor's timestamps carry their offset")
    return parsed


def _calendar_date(value: Any) -> date:
    parsed = date.fromisoformat(_text(value))
    if parsed.isoformat() != value:  # only the YYYY-MM-DD form that `cursor_of` writes
        raise ValueError("a cursor's dates are YYYY-MM-DD")
    return parsed


def _whole_number(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer")
    return value


# Each decoder takes exactly the JSON type `cursor_of` writes, so a forged cursor is refused
# here instead of failing in the database.
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": _aware_datetime,
    "date": _calendar_date,
    "decimal": lambda value: Decimal(_text(value)),
    "str": _text,
    "int": _whole_number,
    "uuid": lambda value: uuid.UUID(_text(value)),
}


@dataclass(frozen=True, slots=True)
class SortKey:
    """One column of an ordering; `attribute` reads its value off a returned row."""

    name: str
    column: SqlColumn
    attribute: str
    kind: str
    descending: bool = False
    nulls_first: bool = False
    nullable: bool = False

    def reversed(self) -> SortKey:
        return SortKey(
            self.name,
            self.column,
            self.attribute,
            self.kind,
            not self.descending,
            not self.nulls_first,
            self.nullable,
        )

    def order_clause(self) -> ColumnElement[Any]:
        clause = self.column.desc() if self.descending else self.column.asc()
        if self.nullable:
            clause = clause.nulls_first() if self.nulls_first else clause.nulls_last()
        return clause

    def comes_after(self, value: Any) -> ColumnElement[bool]:
        """Rows strictly after `value` in this key's order."""
        if value is None:
            return self.column.is_not(None) if self.nulls_first else false()
        beyond: ColumnElement[bool] = (
            self.column < value if self.descending else self.column > value
        )
        if self.nullable and not self.nulls_first:
            return or_(beyond, self.column.is_(None))
        return beyond

    def equals(self, value: Any) -> ColumnElement[bool]:
        return self.column.is_(None) if value is None else self.column == value


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a client asked for: `first` rows after a cursor, or `last` rows before one."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def validated(self, *, default_size: int, max_size: int) -> PageRequest:
        """The request with a page size filled in; raises VALIDATION errors for bad arguments."""
        if self.first is not None and self.last is not None:
            raise validation("give first or last, not both", "first")
        for name in ("first", "last"):
            size = getattr(self, name)
            if size is not None and not 0 <= size <= max_size:
                raise validation(f"{name} must be between 0 and {max_size}", name)
        if self.first is None and self.last is None:
            return PageRequest(default_size, self.after, None, self.before)
        return self

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        size = self.last if self.last is not None else self.first
        assert size is not None
        return size


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    rows: list[RowT]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


class Ordering:
    """A total order over rows: the requested keys, then a unique tiebreaker."""

    def __init__(self, keys: Sequence[SortKey]):
        self.keys = tuple(keys)
        signature = "|".join(f"{k.name}:{int(k.descending)}{int(k.nulls_first)}" for k in keys)
        self.key = signature
        self.signature = hashlib.sha256(signature.encode()).hexdigest()[:8]
        self._same_direction_not_null = not any(k.nullable for k in keys) and (
            len({k.descending for k in keys}) == 1
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ordering) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def order_clauses(self, *, backward: bool = False) -> list[ColumnElement[Any]]:
        keys = [k.reversed() for k in self.keys] if backward else self.keys
        return [key.order_clause() for key in keys]

    def after(self, values: Sequence[Any], *, backward: bool = False) -> ColumnElement[bool]:
        """Rows strictly after the row with `values` (strictly before it when backward)."""
        keys = [k.reversed() for k in self.keys] if backward else list(self.keys)
        if self._same_direction_not_null:
            columns = tuple_(*(k.column for k in keys))
            return columns < tuple_(*values) if keys[0].descending else columns > tuple_(*values)
        alternatives = []
        for index, key in enumerate(keys):
            ties = [keys[j].equals(values[j]) for j in range(index)]
            alternatives.append(and_(*ties, key.comes_after(values[index])))
        return or_(*alternatives)

    def cursor_of(self, row: Any) -> str:
        values = []
        for key in self.keys:
            value = getattr(row, key.attribute)
            values.append(value.isoformat() if isinstance(value, datetime) else value)
        payload = orjson.dumps([self.signature, values], default=str)
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    def decode(self, cursor: str, field: str) -> list[Any]:
        """The sort values in a cursor; raises a VALIDATION error for a cursor of another order."""
        try:
            signature, raw = orjson.loads(
                base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            )
            if signature != self.signature or len(raw) != len(self.keys):
                raise ValueError("cursor of another ordering")
            values: list[Any] = []
            for key, value in zip(self.keys, raw, strict=True):
                if value is None:
                    if not key.nullable:
                        raise ValueError("null in a cursor of a key without nulls")
                    values.append(None)
                    continue
                decoded = _DECODERS[key.kind](value)
                if not representable(key.column, decoded):
                    raise ValueError("value out of the column's range")
                values.append(decoded)
            return values
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError, ArithmeticError):
            raise validation("is not a cursor of this list with this ordering", field) from None

    def check(self, page: PageRequest) -> None:
        """Raise the VALIDATION error of a bad cursor now, before the page is read (in a
        DataLoader batch, the error would fail every key of the batch)."""
        if page.after is not None:
            self.decode(page.after, "after")
        if page.before is not None:
            self.decode(page.before, "before")

    def conditions(self, page: PageRequest) -> list[ColumnElement[bool]]:
        """WHERE conditions for the cursors of a page request."""
        conditions = []
        if page.after is not None:
            conditions.append(self.after(self.decode(page.after, "after")))
        if page.before is not None:
            conditions.append(self.after(self.decode(page.before, "before"), backward=True))
        return conditions

    def page(self, rows: Sequence[RowT], page: PageRequest) -> Page[RowT]:
        """Trim the size+1 rows fetched for a page request into a page.

        In the direction of reading, the extra row tells whether more follow. In the other
        direction a cursor's own row lies beyond the page, so a given cursor means "more".
        """
        has_more = len(rows) > page.size
        kept = list(rows[: page.size])
        if page.backward:
            kept.reverse()
            return Page(
                kept,
                [self.cursor_of(row) for row in kept],
                has_next_page=page.before is not None,
                has_previous_page=has_more or page.after is not None,
            )
        return Page(
            kept,
            [self.cursor_of(row) for row in kept],
            has_next_page=has_more or page.before is not None,
            has_previous_page=page.after is not None,
        )
