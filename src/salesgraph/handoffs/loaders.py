"""Batch functions of the handoff domain for DataLoaders; results in key order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.batching import grouped_by_arguments, in_key_order
from salesgraph.db.keyset import Page, PageRequest
from salesgraph.handoffs import repository
from salesgraph.handoffs.models import Handoff


async def handoff_by_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[Handoff | None]:
    return in_key_order(keys, await repository.handoffs_by_ids(session, keys))


async def handoffs_by_lead_id(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, PageRequest]]
) -> list[Page[Handoff]]:
    async def fetch(lead_ids: list[uuid.UUID], page: PageRequest) -> dict[uuid.UUID, Page[Handoff]]:
        return await repository.pages_of_handoffs_by_lead(session, lead_ids, page)

    return await grouped_by_arguments(keys, fetch)


async def handoff_count_by_lead_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[int]:
    counts = await repository.count_handoffs_by_lead(session, keys)
    return [counts[key] for key in keys]
