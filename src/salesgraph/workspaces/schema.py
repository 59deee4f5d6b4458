"""Query and mutation fields of the workspace domain: short resolvers that call the service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from salesgraph.graphql.context import Info
from salesgraph.graphql.inputs import INPUT, maybe_id, parse_id, payload_parts, run_mutation
from salesgraph.graphql.permissions import CanRead, IsAdmin
from salesgraph.workspaces import repository
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.types import (
    ApiKey,
    ApiKeyPayload,
    CreateApiKeyInput,
    CreateApiKeyPayload,
    CreateMemberInput,
    CreateTeamInput,
    Member,
    MemberPayload,
    RevokeApiKeyInput,
    Team,
    TeamMembershipInput,
    TeamPayload,
    UpdateMemberInput,
    Viewer,
    Workspace,
)


@strawberry.type
class WorkspaceQuery:
    @strawberry.field(description="The caller: workspace, API key and member.")
    async def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        async with info.context.read_session() as session:
            workspace = await repository.get_workspace(session, principal.workspace_id)
            key = await repository.get_api_key(session, principal.api_key_id)
        assert workspace is not None  # authenticated just now
        assert key is not None
        member = (
            await info.context.loaders.member_by_id.load(principal.member_id)
            if principal.member_id is not None
            else None
        )
        return Viewer(
            workspace=Workspace.from_model(workspace),
            api_key=ApiKey.from_model(key),
            member=Member.from_model(member) if member is not None else None,
            scopes=sorted(principal.scopes),
        )

    @strawberry.field(description="The workspace's members, by name.", permission_classes=[CanRead])
    async def members(self, info: Info) -> list[Member]:
        async with info.context.read_session() as session:
            rows = await repository.list_members(session)
        return [Member.from_model(row) for row in rows]

    @strawberry.field(description="The workspace's teams, by name.", permission_classes=[CanRead])
    async def teams(self, info: Info) -> list[Team]:
        async with info.context.read_session() as session:
            rows = await repository.list_teams(session)
        return [Team.from_model(row) for row in rows]

    @strawberry.field(
        description="The workspace's API keys, oldest first (never their tokens).",
        permission_classes=[IsAdmin],
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        async with info.context.read_session() as session:
            rows = await repository.list_api_keys(session)
        return [ApiKey.from_model(row) for row in rows]


def _member_payload(result: object) -> MemberPayload:
    member, errors = payload_parts(result, Member.from_model)
    return MemberPayload(member=member, errors=errors)


def _team_payload(result: object) -> TeamPayload:
    team, errors = payload_parts(result, Team.from_model)
    return TeamPayload(team=team, errors=errors)


async def _change_membership(info: Info, input: TeamMembershipInput, *, add: bool) -> TeamPayload:
    result = await run_mutation(
        info,
        lambda session, principal: workspace_service.change_team_membership(
            session,
            actor=principal.actor,
            team_id=parse_id(input.team_id, "teamId"),
            member_id=parse_id(input.member_id, "memberId"),
            add=add,
        ),
    )
    return _team_payload(result)


@strawberry.type
class WorkspaceMutation:
    @strawberry.mutation(description="Add a member to the workspace.", permission_classes=[IsAdmin])
    async def create_member(
        self,
        info: Info,
        input: Annotated[CreateMemberInput, INPUT],
    ) -> MemberPayload:
        result = await run_mutation(
            info,
            lambda session, principal: workspace_service.create_member(
                session,
                workspace_id=principal.workspace_id,
                actor=principal.actor,
                email=input.email,
                name=input.name,
                role=input.role,
            ),
        )
        return _member_payload(result)

    @strawberry.mutation(
        description="Rename a member, change their role, or (de)activate them. The workspace "
        "always keeps one active admin.",
        permission_classes=[IsAdmin],
    )
    async def update_member(
        self,
        info: Info,
        input: Annotated[UpdateMemberInput, INPUT],
    ) -> MemberPayload:
        result = await run_mutation(
            info,
            lambda session, principal: workspace_service.update_member(
                session,
                actor=principal.actor,
                member_id=parse_id(input.id, "id"),
                name=input.name,
                role=input.role,
                is_active=input.is_active,
                expected_version=input.expected_version,
            ),
        )
        return _member_payload(result)

    @strawberry.mutation(description="Create a team.", permission_classes=[IsAdmin])
    async def create_team(
        self, info: Info, input: Annotated[CreateTeamInput, INPUT]
    ) -> TeamPayload:
        result = await run_mutation(
            info,
            lambda session, principal: workspace_service.create_team(
                session,
                workspace_id=principal.workspace_id,
                actor=principal.actor,
                name=input.name,
                member_ids=[
                    parse_id(member_id, "memberIds", str(index))
                    for index, member_id in enumerate(input.member_ids)
                ],
            ),
        )
        return _team_payload(result)

    @strawberry.mutation(description="Put a member in a team.", permission_classes=[IsAdmin])
    async def add_team_member(
        self,
        info: Info,
        input: Annotated[TeamMembershipInput, INPUT],
    ) -> TeamPayload:
        return await _change_membership(info, input, add=True)

    @strawberry.mutation(description="Take a member out of a team.", permission_classes=[IsAdmin])
    async def remove_team_member(
        self,
        info: Info,
        input: Annotated[TeamMembershipInput, INPUT],
    ) -> TeamPayload:
        return await _change_membership(info, input, add=False)

    @strawberry.mutation(
        description="Create an API key. Its token is in the payload once and never again.",
        permission_classes=[IsAdmin],
    )
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[CreateApiKeyInput, INPUT],
    ) -> CreateApiKeyPayload:
        result = await run_mutation(
            info,
            lambda session, principal: workspace_service.create_api_key(
                session,
                workspace_id=principal.workspace_id,
                name=input.name,
                scopes=list(input.scopes),
                member_id=maybe_id(input.member_id, "memberId"),
                expires_at=input.expires_at,
            ),
        )
        if isinstance(result, list):
            return CreateApiKeyPayload(api_key=None, token=None, errors=result)
        return CreateApiKeyPayload(
            api_key=ApiKey.from_model(result.key), token=result.token, errors=[]
        )

    @strawberry.mutation(
        description="Revoke an API key: requests with it fail from now on.",
        permission_classes=[IsAdmin],
    )
    async def revoke_api_key(
        self,
        info: Info,
        input: Annotated[RevokeApiKeyInput, INPUT],
    ) -> ApiKeyPayload:
        result = await run_mutation(
            info,
            lambda session, principal: workspace_service.revoke_api_key(
                session, key_id=parse_id(input.id, "id"), actor=principal.actor
            ),
        )
        api_key, errors = payload_parts(result, ApiKey.from_model)
        return ApiKeyPayload(api_key=api_key, errors=errors)
