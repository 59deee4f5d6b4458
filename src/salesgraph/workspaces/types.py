"""GraphQL types of the workspace domain."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from salesgraph.graphql.context import Info
from salesgraph.graphql.enums import graphql_enum
from salesgraph.graphql.errors import UserError
from salesgraph.workspaces import models

MemberRole = graphql_enum(
    models.MemberRole,
    name="MemberRole",
    description="A member's part in the workspace.",
    values={
        "ADMIN": "Configures the workspace: pipelines, members, teams, API keys.",
        "MANAGER": "Leads a sales team; sees and reassigns its leads.",
        "REP": "Works leads.",
        "VIEWER": "Reads only.",
    },
)
Scope = graphql_enum(
    models.Scope,
    name="Scope",
    description="What an API key may do. ADMIN includes WRITE; WRITE includes READ.",
    values={
        "READ": "Read the workspace's data.",
        "WRITE": "Change sales data: leads and their stages.",
        "ADMIN": "Configure the workspace: pipelines, stages, members, teams, API keys.",
    },
)


@strawberry.type(description="The tenant: a company's sales organisation and all of its data.")
class Workspace:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    name: str = strawberry.field(description="Display name.")
    created_at: datetime = strawberry.field(description="When the workspace was created.")

    @classmethod
    def from_model(cls, row: models.Workspace) -> Workspace:
        return cls(id=strawberry.ID(str(row.id)), name=row.name, created_at=row.created_at)


@strawberry.type(description="A person who works in the workspace.")
class Member:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    email: str = strawberry.field(description="Email address, unique in the workspace.")
    name: str = strawberry.field(description="Display name.")
    role: models.MemberRole = strawberry.field(description="What the member may do.")
    is_active: bool = strawberry.field(
        description="Inactive members keep their history but cannot be given leads."
    )
    version: int = strawberry.field(
        description="Increases with every change; pass it as expectedVersion to refuse a change "
        "made on stale data."
    )
    created_at: datetime = strawberry.field(description="When the member was added.")

    @classmethod
    def from_model(cls, row: models.Member) -> Member:
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            name=row.name,
            role=row.role,
            is_active=row.is_active,
            version=row.version,
            created_at=row.created_at,
        )


@strawberry.type(description="A group of members, such as inside sales or account management.")
class Team:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    name: str = strawberry.field(description="Display name, unique in the workspace.")
    created_at: datetime = strawberry.field(description="When the team was created.")

    @strawberry.field(description="The team's members, in the order they joined.")
    async def members(self, info: Info) -> list[Member]:
        member_ids = await info.context.loaders.member_ids_by_team_id.load(uuid.UUID(self.id))
        members = await info.context.loaders.member_by_id.load_many(member_ids)
        return [Member.from_model(member) for member in members if member is not None]

    @classmethod
    def from_model(cls, row: models.Team) -> Team:
        return cls(id=strawberry.ID(str(row.id)), name=row.name, created_at=row.created_at)


@strawberry.type(description="An API credential (its secret is never shown again after creation).")
class ApiKey:
    id: strawberry.ID = strawberry.field(description="Unique id of the key (not its secret).")
    name: str = strawberry.field(description="What the key is for.")
    scopes: list[models.Scope] = strawberry.field(description="What the key may do, as granted.")
    created_at: datetime = strawberry.field(description="When the key was created.")
    expires_at: datetime | None = strawberry.field(description="When the key stops working.")
    revoked_at: datetime | None = strawberry.field(description="When the key was revoked.")
    last_used_at: datetime | None = strawberry.field(
        description="When the key was last used, to the minute."
    )

    @classmethod
    def from_model(cls, row: models.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            scopes=[models.Scope(scope) for scope in row.scopes],
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


@strawberry.type(description="The caller: the workspace and API key the request runs as.")
class Viewer:
    workspace: Workspace = strawberry.field(description="The caller's workspace.")
    api_key: ApiKey = strawberry.field(description="The API key of this request.")
    member: Member | None = strawberry.field(
        description="The member the key acts for; null for integration keys."
    )
    scopes: list[models.Scope] = strawberry.field(
        description="Everything the key may do, implied scopes included."
    )


@strawberry.input(description="A new member of the workspace.")
class CreateMemberInput:
    email: str = strawberry.field(description="Email address, unique in the workspace.")
    name: str = strawberry.field(description="Display name.")
    role: models.MemberRole = strawberry.field(description="What the member does.")


@strawberry.input(description="Changes to a member; omitted fields stay as they are.")
class UpdateMemberInput:
    id: strawberry.ID = strawberry.field(description="The member.")
    name: str | None = strawberry.field(default=None, description="New display name.")
    role: models.MemberRole | None = strawberry.field(default=None, description="New role.")
    is_active: bool | None = strawberry.field(
        default=None,
        description="false deactivates: the member keeps history, gets no leads, and their API "
        "keys stop working.",
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the member is at this version."
    )


@strawberry.input(description="A new team.")
class CreateTeamInput:
    name: str = strawberry.field(description="Display name, unique in the workspace.")
    member_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Members to put in the team."
    )


@strawberry.input(description="A member to add to or remove from a team.")
class TeamMembershipInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    member_id: strawberry.ID = strawberry.field(description="The member.")


@strawberry.input(description="A new API key.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="What the key is for, e.g. the integration's name.")
    scopes: list[models.Scope] = strawberry.field(description="What the key may do.")
    member_id: strawberry.ID | None = strawberry.field(
        default=None, description="The member the key acts for; null for an integration."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the key stops working; never when null."
    )


@strawberry.input(description="An API key to revoke.")
class RevokeApiKeyInput:
    id: strawberry.ID = strawberry.field(description="The key's id (not its token).")


@strawberry.type(description="Result of a member mutation.")
class MemberPayload:
    member: Member | None = strawberry.field(description="The member; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")


@strawberry.type(description="Result of a team mutation.")
class TeamPayload:
    team: Team | None = strawberry.field(description="The team; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")


@strawberry.type(description="Result of an API key mutation.")
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The key; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")


@strawberry.type(description="Result of createApiKey: the key and, once only, its token.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The key; null on errors.")
    token: str | None = strawberry.field(
        description="The secret token to send as 'Authorization: Bearer <token>'. Shown only "
        "now: only a digest is stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was created, if so.")
