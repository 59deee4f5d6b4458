"""Rules and writes of the workspace domain: workspaces, members, API keys, authentication."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.clock import transaction_time
from salesgraph.db.ids import uuid7
from salesgraph.db.tenancy import enter_workspace
from salesgraph.errors import Collector, DomainError, ErrorCode, conflict, not_found
from salesgraph.events import Actor, changes, record_event
from salesgraph.workspaces import api_keys, repository
from salesgraph.workspaces.models import (
    ApiKey,
    Member,
    MemberRole,
    Scope,
    Team,
    TeamMembership,
    Workspace,
)

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the workspace every row they touch must belong to, and what they may do."""

    workspace_id: uuid.UUID
    api_key_id: uuid.UUID
    member_id: uuid.UUID | None
    scopes: frozenset[Scope]

    @property
    def actor(self) -> Actor:
        return Actor(member_id=self.member_id, api_key_id=self.api_key_id)

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A new key and its token, which is shown once and never stored."""

    key: ApiKey
    token: str


def validate_email(email: str, field: str, errors: Collector) -> str:
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email) or len(email) > 320:
        errors.add(f"{email!r} is not an email address", field)
    return email


def validate_name(
    name: str, field: str | tuple[str, ...], errors: Collector, *, max_length: int = 200
) -> str:
    """A display name, trimmed; blank or too long is a VALIDATION error at `field`."""
    path = (field,) if isinstance(field, str) else field
    name = name.strip()
    if not name:
        errors.add("must not be blank", *path)
    elif len(name) > max_length:
        errors.add(f"must be at most {max_length} characters", *path)
    return name


async def create_workspace(
    session: AsyncSession, *, name: str, admin_email: str, admin_name: str | None = None
) -> tuple[Workspace, Member, CreatedApiKey]:
    """A workspace with its first admin member, an admin API key and the default pipeline.

    The session enters the new workspace first (row-level security accepts its rows only once
    the transaction names it), and stays in it: one new workspace per session.
    """
    from salesgraph.pipelines import service as pipeline_service
    from salesgraph.pipelines.models import PipelineTemplate

    errors = Collector()
    name = validate_name(name, "name", errors)
    admin_email = validate_email(admin_email, "adminEmail", errors)
    errors.raise_if_any()

    workspace = Workspace(id=uuid7(), name=name)
    await enter_workspace(session, workspace.id)
    session.add(workspace)
    await session.flush()
    admin = Member(
        workspace_id=workspace.id,
        email=admin_email,
        name=(admin_name or admin_email.split("@", 1)[0]).strip(),
        role=MemberRole.ADMIN,
    )
    session.add(admin)
    await session.flush()
    created = await create_api_key(
        session,
        workspace_id=workspace.id,
        name="admin",
        scopes=[Scope.ADMIN, Scope.WRITE, Scope.READ],
        member_id=admin.id,
    )
    actor = Actor(member_id=admin.id)
    await pipeline_service.create_pipeline(
        session,
        workspace_id=workspace.id,
        actor=actor,
        name="Sales",
        template=PipelineTemplate.SEVEN_STAGE,
    )
    record_event(
        session,
        workspace_id=workspace.id,
        type="workspace.created",
        subject_type="workspace",
        subject_id=workspace.id,
        actor=actor,
        data={"name": name, "admin_email": admin_email},
    )
    return workspace, admin, created


async def create_api_key(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    name: str,
    scopes: list[Scope],
    member_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> CreatedApiKey:
    errors = Collector()
    name = validate_name(name, "name", errors)
    if not scopes:
        errors.add("name at least one scope", "scopes")
    errors.raise_if_any()
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise not_found("workspace", "workspaceId")
    if member_id is not None:
        member = await session.get(Member, (workspace_id, member_id))
        if member is None:
            raise not_found("member", "memberId")
        if not member.is_active:
            raise DomainError(
                ErrorCode.INVALID_STATE, "the member is inactive and cannot have keys", "memberId"
            )
    if expires_at is not None and expires_at <= await transaction_time(session):
        raise DomainError(ErrorCode.VALIDATION, "must be in the future", "expiresAt")
    secret = api_keys.new_secret()
    key = ApiKey(
        workspace_id=workspace_id,
        name=name,
        secret_hash=api_keys.digest(secret),
        scopes=sorted({scope.value for scope in scopes}),
        member_id=member_id,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    record_event(
        session,
        workspace_id=workspace_id,
        type="api_key.created",
        subject_type="api_key",
        subject_id=key.id,
        actor=Actor(member_id=member_id),
        data={"name": name, "scopes": key.scopes},
    )
    return CreatedApiKey(key=key, token=api_keys.format_token(workspace_id, key.id, secret))


async def revoke_api_key(
    session: AsyncSession, *, key_id: uuid.UUID, actor: Actor | None = None
) -> ApiKey:
    """Revoke a key: through the API in a workspace session, or from the command line (in an
    unscoped session, where key ids are global)."""
    key = await repository.get_api_key_for_update(session, key_id)
    if key is None:
        raise not_found("API key", "keyId")
    if key.revoked_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "the API key is already revoked", "keyId")
    key.revoked_at = await transaction_time(session)
    record_event(
        session,
        workspace_id=key.workspace_id,
        type="api_key.revoked",
        subject_type="api_key",
        subject_id=key.id,
        actor=actor or Actor(),
        data={"name": key.name},
    )
    return key


async def authenticate(session: AsyncSession, token: str) -> Principal | None:
    """The principal of a bearer token; None for a malformed, unknown, revoked or expired key,
    and for the key of a member who has been deactivated.

    Runs in an unscoped session: the token names its workspace, which the session enters before
    anything is read (row-level security shows the key only there), and the key is looked up by
    its full primary key. Last-used time is kept to the minute, so a busy key writes once a
    minute.
    """
    parsed = api_keys.parse_token(token)
    if parsed is None:
        return None
    await enter_workspace(session, parsed.workspace_id)
    found = await repository.key_for_token(session, parsed.workspace_id, parsed.key_id)
    if found is None:
        return None
    key, member_active, now = found
    if not api_keys.secret_matches(parsed.secret, key.secret_hash):
        return None
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if not member_active:
        return None
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        await repository.touch_api_key(session, key, now - LAST_USED_RESOLUTION)
    return Principal(
        workspace_id=key.workspace_id,
        api_key_id=key.id,
        member_id=key.member_id,
        scopes=api_keys.effective_scopes(key.scopes),
    )


async def create_member(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    actor: Actor,
    email: str,
    name: str,
    role: MemberRole,
) -> Member:
    errors = Collector()
    email = validate_email(email, "email", errors)
    name = validate_name(name, "name", errors)
    errors.raise_if_any()
    if await repository.member_email_taken(session, email):
        raise DomainError(ErrorCode.DUPLICATE, f"a member with email {email} exists", "email")
    member = Member(workspace_id=workspace_id, email=email, name=name, role=role)
    session.add(member)
    await session.flush()
    record_event(
        session,
        workspace_id=workspace_id,
        type="member.created",
        subject_type="member",
        subject_id=member.id,
        actor=actor,
        data={"email": email, "name": name, "role": role.value},
    )
    return member


async def update_member(
    session: AsyncSession,
    *,
    actor: Actor,
    member_id: uuid.UUID,
    name: str | None,
    role: MemberRole | None,
    is_active: bool | None,
    expected_version: int | None = None,
) -> Member:
    """Rename, change the role of, or (de)activate a member; one active admin always remains."""
    errors = Collector()
    if name is not None:
        name = validate_name(name, "name", errors)
    errors.raise_if_any()
    member = await repository.get_member(session, member_id, for_update=True)
    if member is None:
        raise not_found("member", "id")
    if expected_version is not None and member.version != expected_version:
        raise conflict("the member", expected_version, member.version)
    before = {"name": member.name, "role": member.role.value, "is_active": member.is_active}
    loses_admin = (
        member.role == MemberRole.ADMIN
        and member.is_active
        and ((role is not None and role != MemberRole.ADMIN) or is_active is False)
    )
    # The admins are locked, so two concurrent demotions cannot both pass this check.
    if loses_admin and len(await repository.lock_active_admin_ids(session)) <= 1:
        raise DomainError(ErrorCode.INVALID_STATE, "the workspace must keep an active admin", "id")
    if name is not None:
        member.name = name
    if role is not None:
        member.role = role
    if is_active is not None:
        member.is_active = is_active
    after = {"name": member.name, "role": member.role.value, "is_active": member.is_active}
    if after == before:
        return member
    await session.flush()
    record_event(
        session,
        workspace_id=member.workspace_id,
        type="member.updated",
        subject_type="member",
        subject_id=member.id,
        actor=actor,
        data={"changes": changes(before, after)},
    )
    return member


async def create_team(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    actor: Actor,
    name: str,
    member_ids: list[uuid.UUID],
) -> Team:
    errors = Collector()
    name = validate_name(name, "name", errors)
    if len(set(member_ids)) != len(member_ids):
        errors.add("a member is listed twice", "memberIds")
    errors.raise_if_any()
    if await repository.team_name_taken(session, name):
        raise DomainError(ErrorCode.DUPLICATE, f"a team named {name!r} exists", "name")
    team = Team(workspace_id=workspace_id, name=name)
    session.add(team)
    await session.flush()
    for index, member_id in enumerate(member_ids):
        await _add_to_team(session, team, member_id, ("memberIds", str(index)))
    record_event(
        session,
        workspace_id=workspace_id,
        type="team.created",
        subject_type="team",
        subject_id=team.id,
        actor=actor,
        data={"name": name, "member_ids": [str(member_id) for member_id in member_ids]},
    )
    return team


async def _add_to_team(
    session: AsyncSession, team: Team, member_id: uuid.UUID, field: tuple[str, ...]
) -> None:
    if await session.get(Member, (team.workspace_id, member_id)) is None:
        raise not_found("member", field)
    already = await session.get(TeamMembership, (team.workspace_id, team.id, member_id))
    if already is not None:
        raise DomainError(ErrorCode.DUPLICATE, "the member is already in the team", field)
    session.add(
        TeamMembership(workspace_id=team.workspace_id, team_id=team.id, member_id=member_id)
    )
    await session.flush()


async def change_team_membership(
    session: AsyncSession,
    *,
    actor: Actor,
    team_id: uuid.UUID,
    member_id: uuid.UUID,
    add: bool,
) -> Team:
    team = await repository.get_team_for_update(session, team_id)
    if team is None:
        raise not_found("team", "teamId")
    if add:
        await _add_to_team(session, team, member_id, ("memberId",))
    else:
        membership = await session.get(TeamMembership, (team.workspace_id, team.id, member_id))
        if membership is None:
            raise not_found("membership of that member in the team", "memberId")
        await session.delete(membership)
        await session.flush()
    record_event(
        session,
        workspace_id=team.workspace_id,
        type="team.member_added" if add else "team.member_removed",
        subject_type="team",
        subject_id=team.id,
        actor=actor,
        data={"member_id": str(member_id)},
    )
    return team
