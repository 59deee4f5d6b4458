"""Query fields of the workspace domain."""

from __future__ import annotations

import strawberry

from salesgraph.graphql.context import Info
from salesgraph.graphql.permissions import CanRead
from salesgraph.workspaces import repository
from salesgraph.workspaces.types import ApiKey, Member, Team, Viewer, Workspace


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
