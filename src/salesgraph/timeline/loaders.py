"""Batch functions of the lead timeline for DataLoaders: a page of events per lead."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.batching import grouped_by_arguments
from salesgraph.db.keyset import Ordering, Page, PageRequest, SortKey
from salesgraph.db.windows import counts_by_parent, pages_by_parent
from salesgraph.events import DomainEvent


def newest_first() -> Ordering:
    """A timeline's order: the latest event first (by when it happened, then as written)."""
    return Ordering(
        [
            SortKey("OCCURRED_AT", DomainEvent.occurred_at, "occurred_at", "datetime", True),
            SortKey("ID", DomainEvent.id, "id", "uuid", descending=True),
        ]
    )


async def events_by_lead_id(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, PageRequest]]
) -> list[Page[DomainEvent]]:
    async def fetch(
        lead_ids: list[uuid.UUID], page: PageRequest
    ) -> dict[uuid.UUID, Page[DomainEvent]]:
        return await pages_by_parent(
            session, DomainEvent, DomainEvent.lead_id, lead_ids, newest_first(), page
        )

    return await grouped_by_arguments(keys, fetch)


async def event_count_by_lead_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[int]:
    counts = await counts_by_parent(session, DomainEvent.lead_id, keys)
    return [counts[key] for key in keys]
