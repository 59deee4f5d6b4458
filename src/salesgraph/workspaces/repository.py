"""All SQL of the workspace domain. Sessions are workspace-scoped (salesgraph.db.tenancy)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.workspaces.models import (
    ApiKey,
    Member,
    MemberRole,
    Team,
    TeamMembership,
    Workspace,
)


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


async def key_for_token(
    session: AsyncSession, workspace_id: uuid.UUID, key_id: uuid.UUID
) -> tuple[ApiKey, bool, datetime] | None:
    """A key by its full primary key, whether its member (if any) is active, and the time now."""
    statement = (
        select(ApiKey, func.coalesce(Member.is_active, True), func.now())
        .outerjoin(
            Member,
            (Member.workspace_id == ApiKey.workspace_id) & (Member.id == ApiKey.member_id),
        )
        .where(ApiKey.workspace_id == workspace_id, ApiKey.id == key_id)
    )
    row = (await session.execute(statement)).one_or_none()
    return (row[0], bool(row[1]), row[2]) if row is not None else None


async def touch_api_key(session: AsyncSession, key: ApiKey, older_than: datetime) -> None:
    """Set the key's last-used time to now, unless it is already later than `older_than`."""
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.workspace_id == key.workspace_id,
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < older_than),
        )
        .values(last_used_at=func.now())
        .execution_options(synchronize_session=False)
    )


async def list_api_keys(session: AsyncSession) -> Sequence[ApiKey]:
    statement = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    return (await session.execute(statement)).scalars().all()


async def get_api_key_for_update(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    statement = select(ApiKey).where(ApiKey.id == key_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def member_email_taken(session: AsyncSession, email: str) -> bool:
    statement = select(func.count()).select_from(Member).where(Member.email == email)
    return bool(await session.scalar(statement))


async def get_member(
    session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False
) -> Member | None:
    statement = select(Member).where(Member.id == member_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_active_admin_ids(session: AsyncSession) -> Sequence[uuid.UUID]:
    """The active admins, locked so that concurrent demotions see each other."""
    statement = (
        select(Member.id)
        .where(Member.role == MemberRole.ADMIN, Member.is_active.is_(True))
        .with_for_update()
    )
    return (await session.execute(statement)).scalars().all()


async def team_name_taken(session: AsyncSession, name: str) -> bool:
    statement = select(func.count()).select_from(Team).where(func.lower(Team.name) == name.lower())
    return bool(await session.scalar(statement))


async def get_team_for_update(session: AsyncSession, team_id: uuid.UUID) -> Team | None:
    statement = select(Team).where(Team.id == team_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
