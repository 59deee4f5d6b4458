"""Batch functions of the objection domain for DataLoaders; results in key order.

Paged keys carry their list query and page request, so one batch reads one page per lead for
every distinct set of arguments in a single windowed statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.batching import grouped_by_arguments, in_key_order
from salesgraph.db.keyset import Page, PageRequest
from salesgraph.objections import repository
from salesgraph.objections.models import Objection, ObjectionResponse
from salesgraph.objections.repository import ObjectionListQuery, ResponseUsage

LeadObjectionsKey = tuple[uuid.UUID, tuple[ObjectionListQuery, PageRequest]]


async def objection_by_id(
    session: AsyncSession, keys: Sequence[uuid.UUID]
) -> list[Objection | None]:
    """Objections by id, whatever their status (and their lead's)."""
    return in_key_order(keys, await repository.objections_by_ids(session, keys))


async def objections_by_lead_id(
    session: AsyncSession, keys: Sequence[LeadObjectionsKey]
) -> list[Page[Objection]]:
    """A page of each lead's objections, newest first."""
    ordering = repository.objection_ordering()

    async def fetch(
        lead_ids: list[uuid.UUID], arguments: tuple[ObjectionListQuery, PageRequest]
    ) -> dict[uuid.UUID, Page[Objection]]:
        query, page = arguments
        return await repository.pages_of_objections_by_lead(
            session, lead_ids, query, ordering, page
        )

    return await grouped_by_arguments(keys, fetch)


async def objection_count_by_lead_id(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, ObjectionListQuery]]
) -> list[int]:
    async def fetch(lead_ids: list[uuid.UUID], query: ObjectionListQuery) -> dict[uuid.UUID, int]:
        return await repository.count_objections_by_lead(session, lead_ids, query)

    return await grouped_by_arguments(keys, fetch)


async def open_objections_by_lead_id(
    session: AsyncSession, keys: Sequence[uuid.UUID]
) -> list[list[Objection]]:
    """Each lead's open objections, oldest first."""
    grouped = await repository.open_objections_by_lead(session, keys)
    return [grouped[key] for key in keys]


async def objection_response_by_id(
    session: AsyncSession, keys: Sequence[uuid.UUID]
) -> list[ObjectionResponse | None]:
    """Library responses by id, archived ones included."""
    return in_key_order(keys, await repository.responses_by_ids(session, keys))


async def response_usage_by_id(
    session: AsyncSession, keys: Sequence[uuid.UUID]
) -> list[ResponseUsage]:
    usage = await repository.usage_by_response(session, keys)
    return [usage[key] for key in keys]
