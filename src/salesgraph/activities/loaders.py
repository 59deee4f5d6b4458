"""Batch functions of the activity domain for DataLoaders; results in key order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.activities import repository
from salesgraph.activities.models import Activity
from salesgraph.db.batching import grouped_by_arguments, in_key_order
from salesgraph.db.keyset import Page, PageRequest
from salesgraph.db.windows import counts_by_parent, pages_by_parent


class ActivityQuery:
    """What an activity list asks for: a filter (an object of the GraphQL filter's shape).

    Equal queries compare and hash equal (by the filter's printed form), so DataLoader keys
    that carry the same query batch together.
    """

    __slots__ = ("filter", "fingerprint")

    def __init__(self, filter: Any = None):
        self.filter = filter
        self.fingerprint = repr(filter)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActivityQuery) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def conditions(self) -> list[Any]:
        """The filter's SQL conditions; raises VALIDATION errors for a filter that cannot be
        built (call once before loading, so the error names the argument)."""
        return repository.filter_conditions(self.filter, ("filter",))


LeadActivitiesKey = tuple[uuid.UUID, tuple[ActivityQuery, PageRequest]]


async def activity_by_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[Activity | None]:
    return in_key_order(keys, await repository.activities_by_ids(session, keys))


async def activities_by_lead_id(
    session: AsyncSession, keys: Sequence[LeadActivitiesKey]
) -> list[Page[Activity]]:
    async def fetch(
        lead_ids: list[uuid.UUID], arguments: tuple[ActivityQuery, PageRequest]
    ) -> dict[uuid.UUID, Page[Activity]]:
        query, page = arguments
        return await pages_by_parent(
            session,
            Activity,
            Activity.lead_id,
            lead_ids,
            repository.newest_first(),
            page,
            [Activity.deleted_at.is_(None), *query.conditions()],
        )

    return await grouped_by_arguments(keys, fetch)


async def activity_count_by_lead_id(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, ActivityQuery]]
) -> list[int]:
    async def fetch(lead_ids: list[uuid.UUID], query: ActivityQuery) -> dict[uuid.UUID, int]:
        return await counts_by_parent(
            session,
            Activity.lead_id,
            lead_ids,
            [Activity.deleted_at.is_(None), *query.conditions()],
        )

    return await grouped_by_arguments(keys, fetch)
