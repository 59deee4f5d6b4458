"""Rules and writes of the workspace domain: workspaces, members, API keys, authentication."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.errors import Collector, DomainError, ErrorCode, not_found
from salesgraph.events import Actor, record_event
from salesgraph.workspaces import api_keys
from salesgraph.workspaces.models import ApiKey, Member, MemberRole, Scope, Workspace

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


def validate_name(name: str, field: str, errors: Collector, *, max_length: int = 200) -> str:
    name = name.strip()
    if not name:
        errors.add("must not be blank", field)
    elif len(name) > max_length:
        errors.add(f"must be at most {max_length} characters", field)
    return name


async def create_workspace(
    session: AsyncSession, *, name: str, admin_email: str, admin_name: str | None = None
) -> tuple[Workspace, Member, CreatedApiKey]:
    """A workspace with its first admin member, an admin API key and the default pipeline."""
    from salesgraph.pipelines import service as pipeline_service
    from salesgraph.pipelines.models import PipelineTemplate

    errors = Collector()
    name = validate_name(name, "name", errors)
    admin_email = validate_email(admin_email, "adminEmail", errors)
    errors.raise_if_any()

    workspace = Workspace(name=name)
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


async def revoke_api_key(session: AsyncSession, *, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key (from the command line, so the session is unscoped and ids are global)."""
    key = (
        await session.execute(select(ApiKey).where(ApiKey.id == key_id).with_for_update())
    ).scalar_one_or_none()
    if key is None:
        raise not_found("API key", "keyId")
    if key.revoked_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "the API key is already revoked", "keyId")
    key.revoked_at = await session.scalar(select(func.now()))
    record_event(
        session,
        workspace_id=key.workspace_id,
        type="api_key.revoked",
        subject_type="api_key",
        subject_id=key.id,
        actor=Actor(),
        data={"name": key.name},
    )
    return key


async def authenticate(session: AsyncSession, token: str) -> Principal | None:
    """The principal of a bearer token, or None for a malformed, unknown, revoked or expired key.

    Runs in an unscoped session: the token names its workspace, and the key is looked up by its
    full primary key. Last-used time is kept to the minute, so a busy key writes once a minute.
    """
    parsed = api_keys.parse_token(token)
    if parsed is None:
        return None
    row = (
        await session.execute(
            select(ApiKey, func.now()).where(
                ApiKey.workspace_id == parsed.workspace_id, ApiKey.id == parsed.key_id
            )
        )
    ).one_or_none()
    if row is None:
        return None
    key, now = row
    if not api_keys.secret_matches(parsed.secret, key.secret_hash):
        return None
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.workspace_id == key.workspace_id,
                ApiKey.id == key.id,
                or_(
                    ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION
                ),
            )
            .values(last_used_at=func.now())
            .execution_options(synchronize_session=False)
        )
    return Principal(
        workspace_id=key.workspace_id,
        api_key_id=key.id,
        member_id=key.member_id,
        scopes=api_keys.effective_scopes(key.scopes),
    )
