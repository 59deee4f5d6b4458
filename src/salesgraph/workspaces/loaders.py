"""Batch functions of the workspace domain for DataLoaders; results in key order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.batching import in_key_order
from salesgraph.workspaces import repository
from salesgraph.workspaces.models import Member, Team


async def member_by_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[Member | None]:
    return in_key_order(keys, await repository.members_by_ids(session, keys))


async def team_by_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[Team | None]:
    return in_key_order(keys, await repository.teams_by_ids(session, keys))


async def member_ids_by_team_id(
    session: AsyncSession, keys: Sequence[uuid.UUID]
) -> list[list[uuid.UUID]]:
    grouped = await repository.member_ids_by_team_ids(session, keys)
    return [grouped[key] for key in keys]
