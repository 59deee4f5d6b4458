"""All SQL of the objection domain. Sessions are workspace-scoped (salesgraph.db.tenancy)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.db.base import SqlColumn
from salesgraph.db.filters import combined
from salesgraph.db.keyset import Ordering, Page, PageRequest, SortKey
from salesgraph.db.windows import counts_by_parent, pages_by_parent
from salesgraph.leads.models import Lead, LeadStatus
from salesgraph.leads.repository import lead_is_live
from salesgraph.objections.models import (
    Objection,
    ObjectionCategory,
    ObjectionResponse,
    ObjectionStatus,
)

# Filter fields and the columns they compare.
FILTER_COLUMNS: dict[str, SqlColumn] = {
    "lead_id": Objection.lead_id,
    "category": Objection.category,
    "status": Objection.status,
    "stage_id": Objection.stage_id,
    "raised_at": Objection.raised_at,
    "response_id": Objection.response_id,
}


# The objection's lead is not deleted: a deleted lead's objections leave every list.
LEAD_IS_LIVE = lead_is_live(Objection.workspace_id, Objection.lead_id)


def objection_ordering() -> Ordering:
    """Newest first: by the time raised, then by id."""
    return Ordering(
        [
            SortKey("RAISED_AT", Objection.raised_at, "raised_at", "datetime", descending=True),
            SortKey("ID", Objection.id, "id", "uuid", descending=True),
        ]
    )


class ObjectionListQuery:
    """What an objection list asks for: a filter (an object of the GraphQL filter's shape).

    The conditions are built when the query is made, so a bad filter is refused before any
    read (in a DataLoader batch, the error would fail every key of the batch). Equal queries
    compare and hash equal (by the filter's printed form), so keys that carry the same query
    batch together.
    """

    __slots__ = ("conditions", "filter", "fingerprint")

    def __init__(self, filter: Any = None):
        self.filter = filter
        self.fingerprint = repr(filter)
        self.conditions = _filter_conditions(filter, ("filter",))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectionListQuery) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)


def _filter_conditions(objection_filter: Any, path: tuple[str, ...]) -> list[ColumnElement[bool]]:
    return combined(objection_filter, path, FILTER_COLUMNS)


def _conditions(query: ObjectionListQuery) -> ColumnElement[bool]:
    """The objections a list shows: those of leads that are not deleted, filtered."""
    return and_(LEAD_IS_LIVE, *query.conditions)


def _listed(query: ObjectionListQuery) -> Select[Objection]:
    return select(Objection).where(_conditions(query))


async def page_of_objections(
    session: AsyncSession, query: ObjectionListQuery, ordering: Ordering, page: PageRequest
) -> Page[Objection]:
    statement = (
        _listed(query)
        .where(*ordering.conditions(page))
        .order_by(*ordering.order_clauses(backward=page.backward))
        .limit(page.size + 1)
    )
    rows = (await session.execute(statement)).scalars().all()
    return ordering.page(rows, page)


async def count_objections(session: AsyncSession, query: ObjectionListQuery) -> int:
    statement = select(func.count()).select_from(Objection).where(_conditions(query))
    return int(await session.scalar(statement) or 0)


async def pages_of_objections_by_lead(
    session: AsyncSession,
    lead_ids: Sequence[uuid.UUID],
    query: ObjectionListQuery,
    ordering: Ordering,
    page: PageRequest,
) -> dict[uuid.UUID, Page[Objection]]:
    """One page of objections per lead, in one statement."""
    return await pages_by_parent(
        session, Objection, Objection.lead_id, lead_ids, ordering, page, query.conditions
    )


async def count_objections_by_lead(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID], query: ObjectionListQuery
) -> dict[uuid.UUID, int]:
    return await counts_by_parent(session, Objection.lead_id, lead_ids, query.conditions)


async def open_objections_by_lead(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Objection]]:
    """Each lead's open objections, oldest first, in one statement."""
    statement = (
        select(Objection)
        .where(Objection.lead_id.in_(lead_ids), Objection.status == ObjectionStatus.OPEN)
        .order_by(Objection.lead_id, Objection.raised_at, Objection.id)
    )
    grouped: dict[uuid.UUID, list[Objection]] = {lead_id: [] for lead_id in lead_ids}
    for objection in (await session.execute(statement)).scalars():
        grouped[objection.lead_id].append(objection)
    return grouped


async def objections_by_ids(
    session: AsyncSession, objection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Objection]:
    """Objections by id, whatever their status or their lead's."""
    statement = select(Objection).where(Objection.id.in_(objection_ids))
    return {row.id: row for row in (await session.execute(statement)).scalars()}


async def get_objection(
    session: AsyncSession, objection_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Objection, datetime] | None:
    """An objection of a lead that is not deleted, and the transaction's timestamp."""
    statement = select(Objection, func.now()).where(Objection.id == objection_id, LEAD_IS_LIVE)
    if for_update:
        statement = statement.with_for_update(of=Objection)
    row = (await session.execute(statement)).one_or_none()
    return (row[0], row[1]) if row is not None else None


# The response library.


async def list_responses(
    session: AsyncSession, *, category: ObjectionCategory | None, include_archived: bool
) -> Sequence[ObjectionResponse]:
    statement = select(ObjectionResponse).order_by(
        ObjectionResponse.category, ObjectionResponse.title, ObjectionResponse.id
    )
    if category is not None:
        statement = statement.where(ObjectionResponse.category == category)
    if not include_archived:
        statement = statement.where(ObjectionResponse.archived_at.is_(None))
    return (await session.execute(statement)).scalars().all()


async def responses_by_ids(
    session: AsyncSession, response_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ObjectionResponse]:
    statement = select(ObjectionResponse).where(ObjectionResponse.id.in_(response_ids))
    return {row.id: row for row in (await session.execute(statement)).scalars()}


async def get_response(
    session: AsyncSession, response_id: uuid.UUID, *, for_update: bool = False, lock: bool = False
) -> tuple[ObjectionResponse, datetime] | None:
    """A library response and the transaction's timestamp.

    `for_update` locks it to change it; `lock` takes the key-share lock a use of it needs,
    so it cannot be archived until the using transaction ends.
    """
    statement = select(ObjectionResponse, func.now()).where(ObjectionResponse.id == response_id)
    if for_update:
        statement = statement.with_for_update(of=ObjectionResponse)
    elif lock:
        statement = statement.with_for_update(of=ObjectionResponse, read=True, key_share=True)
    statement = statement.execution_options(populate_existing=True)
    row = (await session.execute(statement)).one_or_none()
    return (row[0], row[1]) if row is not None else None


@dataclass(frozen=True, slots=True)
class ResponseUsage:
    """How a library response fared: the objections that used it and the leads they were on.

    Leads that are deleted are not counted as reached (nor won).
    """

    times_used: int = 0
    leads_reached: int = 0
    leads_won: int = 0

    @property
    def win_rate(self) -> float | None:
        return self.leads_won / self.leads_reached if self.leads_reached else None


async def usage_by_response(
    session: AsyncSession, response_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ResponseUsage]:
    """The usage of each response, in one grouped statement."""
    live = Lead.deleted_at.is_(None)
    statement = (
        select(
            Objection.response_id,
            func.count(),
            func.count(distinct(Lead.id)).filter(live),
            func.count(distinct(Lead.id)).filter(live, Lead.status == LeadStatus.WON),
        )
        .join(
            Lead,
            and_(Lead.workspace_id == Objection.workspace_id, Lead.id == Objection.lead_id),
        )
        .where(Objection.response_id.in_(response_ids))
        .group_by(Objection.response_id)
    )
    usage = dict.fromkeys(response_ids, ResponseUsage())
    for response_id, times_used, reached, won in (await session.execute(statement)).all():
        if response_id is not None:  # always, by the WHERE clause
            usage[response_id] = ResponseUsage(times_used, reached, won)
    return usage
