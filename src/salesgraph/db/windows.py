"""Nested lists of many parents in one statement: a page per parent, and a count per parent.

A nested connection (a lead's activities, objections or timeline) is loaded for every parent of
a DataLoader batch at once: the rows are ranked per parent along the list's ordering and each
parent keeps its page (plus one row, to tell whether more follow). The number of statements
depends on the query's shape, never on the number of parents or rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.db.keyset import Ordering, Page, PageRequest

RowT = TypeVar("RowT")


async def pages_by_parent(
    session: AsyncSession,
    entity: type[RowT],
    parent: InstrumentedAttribute[Any],
    parent_ids: Sequence[uuid.UUID],
    ordering: Ordering,
    page: PageRequest,
    conditions: Sequence[ColumnElement[bool]] = (),
) -> dict[uuid.UUID, Page[RowT]]:
    """One page of `entity` rows per parent id (rows whose `parent` column is that id)."""
    rank = (
        func.row_number()
        .over(partition_by=parent, order_by=ordering.order_clauses(backward=page.backward))
        .label("rank")
    )
    inner = (
        select(entity)
        .where(parent.in_(parent_ids), *conditions, *ordering.conditions(page))
        .add_columns(rank)
        .subquery()
    )
    ranked: Any = aliased(entity, inner)
    parent_column = inner.c[parent.key]
    statement = (
        select(ranked).where(inner.c.rank <= page.size + 1).order_by(parent_column, inner.c.rank)
    )
    grouped: dict[uuid.UUID, list[RowT]] = {parent_id: [] for parent_id in parent_ids}
    for row in (await session.execute(statement)).scalars():
        grouped[getattr(row, parent.key)].append(row)
    return {parent_id: ordering.page(rows, page) for parent_id, rows in grouped.items()}


async def counts_by_parent(
    session: AsyncSession,
    parent: InstrumentedAttribute[Any],
    parent_ids: Sequence[uuid.UUID],
    conditions: Sequence[ColumnElement[bool]] = (),
) -> dict[uuid.UUID, int]:
    """How many rows each parent id has (zero for parents without any)."""
    statement = (
        select(parent, func.count()).where(parent.in_(parent_ids), *conditions).group_by(parent)
    )
    counts = dict.fromkeys(parent_ids, 0)
    for parent_id, count in (await session.execute(statement)).all():
        counts[parent_id] = count
    return counts
