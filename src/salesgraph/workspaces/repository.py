"""All SQL of the workspace domain. Sessions are workspace-scoped (salesgraph.db.tenancy)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.workspaces.models import ApiKey, Member, Team, TeamMembership, Workspace


async def get_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> Workspace | None:
    return await session.get(Workspace, workspace_id)


async def members_by_ids(
    session: AsyncSession, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Member]:
    statement = select(Member).where(Member.id.in_(member_ids))
    return {member.id: member for member in (await session.execute(statement)).scalars()}


async def teams_by_ids(
    session: AsyncSession, team_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Team]:
    statement = select(Team).where(Team.id.in_(team_ids))
    return {team.id: team for team in (await session.execute(statement)).scalars()}


async def list_members(session: AsyncSession) -> Sequence[Member]:
    return (await session.execute(select(Member).order_by(Member.name, Member.id))).scalars().all()


async def list_teams(session: AsyncSession) -> Sequence[Team]:
    return (await session.execute(select(Team).order_by(Team.name, Team.id))).scalars().all()


async def member_ids_by_team_ids(
    session: AsyncSession, team_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    statement = (
        select(TeamMembership.team_id, TeamMembership.member_id)
        .where(TeamMembership.team_id.in_(team_ids))
        .order_by(TeamMembership.team_id, TeamMembership.created_at)
    )
    grouped: dict[uuid.UUID, list[uuid.UUID]] = {team_id: [] for team_id in team_ids}
    for team_id, member_id in (await session.execute(statement)).all():
        grouped[team_id].append(member_id)
    return grouped


async def get_api_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    return (await session.execute(select(ApiKey).where(ApiKey.id == key_id))).scalar_one_or_none()
