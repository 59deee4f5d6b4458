"""Batch functions of the lead domain for DataLoaders; results in key order.

Paged keys carry their page request (and list query), so one batch reads one page per parent
for every distinct set of arguments in a single windowed statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.batching import grouped_by_arguments, in_key_order
from salesgraph.db.keyset import Ordering, Page, PageRequest
from salesgraph.leads import repository
from salesgraph.leads.models import Lead, StageVisit
from salesgraph.leads.repository import LeadQuery

StageLeadsArguments = tuple[LeadQuery, Ordering, PageRequest, frozenset[str] | None]
StageLeadsKey = tuple[uuid.UUID, StageLeadsArguments]


async def lead_by_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[Lead | None]:
    return in_key_order(keys, await repository.leads_by_ids(session, keys))


async def visits_by_lead_id(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, PageRequest]]
) -> list[Page[StageVisit]]:
    async def fetch(
        lead_ids: list[uuid.UUID], page: PageRequest
    ) -> dict[uuid.UUID, Page[StageVisit]]:
        return await repository.pages_of_visits_by_lead(session, lead_ids, page)

    return await grouped_by_arguments(keys, fetch)


async def visit_count_by_lead_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[int]:
    counts = await repository.count_visits_by_lead(session, keys)
    return [counts[key] for key in keys]


async def leads_by_stage_id(
    session: AsyncSession, keys: Sequence[StageLeadsKey]
) -> list[Page[Lead]]:
    async def fetch(
        stage_ids: list[uuid.UUID], arguments: StageLeadsArguments
    ) -> dict[uuid.UUID, Page[Lead]]:
        query, ordering, page, columns = arguments
        return await repository.pages_of_leads_by_stage(
            session, stage_ids, query, ordering, page, columns
        )

    return await grouped_by_arguments(keys, fetch)


async def lead_count_by_stage_id(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, LeadQuery]]
) -> list[int]:
    async def fetch(stage_ids: list[uuid.UUID], query: LeadQuery) -> dict[uuid.UUID, int]:
        return await repository.count_leads_by_stage(session, stage_ids, query)

    return await grouped_by_arguments(keys, fetch)
