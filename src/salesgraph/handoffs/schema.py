"""Query and mutation fields of the handoff domain: short resolvers that call the service."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from salesgraph.errors import DomainError
from salesgraph.graphql.context import Info
from salesgraph.graphql.errors import query_error
from salesgraph.graphql.inputs import (
    INPUT,
    given,
    given_id,
    lookup_id,
    maybe_id,
    not_null,
    parse_id,
    payload_parts,
    run_mutation,
)
from salesgraph.graphql.pagination import After, Before, First, Last, connection
from salesgraph.graphql.permissions import CanRead, CanWrite, IsAdmin
from salesgraph.handoffs import repository
from salesgraph.handoffs import service as handoff_service
from salesgraph.handoffs.repository import handoff_ordering
from salesgraph.handoffs.types import (
    AcceptHandoffInput,
    AssignmentRule,
    AssignmentRulePayload,
    CreateAssignmentRuleInput,
    DeleteAssignmentRuleInput,
    Handoff,
    HandoffConnection,
    HandoffFilter,
    HandOffLeadInput,
    HandoffPayload,
    UpdateAssignmentRuleInput,
)
from salesgraph.leads.types import Lead, page_arguments


@strawberry.type
class HandoffQuery:
    @strawberry.field(
        description="A handoff by id; null when it does not exist in the workspace or its lead "
        "is deleted.",
        permission_classes=[CanRead],
    )
    async def handoff(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")],
    ) -> Handoff | None:
        handoff_id = lookup_id(id)
        if handoff_id is None:
            return None
        row = await info.context.loaders.handoff_by_id.load(handoff_id)
        return Handoff.from_model(row) if row is not None else None

    @strawberry.field(
        description="Handoffs of the workspace's leads (deleted leads' excluded), newest first.",
        permission_classes=[CanRead],
    )
    async def handoffs(
        self,
        info: Info,
        filter: Annotated[
            HandoffFilter | None, strawberry.argument(description="Only handoffs that match.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> HandoffConnection:
        page = page_arguments(info, first, after, last, before)
        try:
            async with info.context.read_session() as session:
                result = await repository.page_of_handoffs(
                    session, filter, handoff_ordering(), page
                )
        except DomainError as error:  # a bad cursor or filter value
            raise query_error(error) from None

        async def count() -> int:
            async with info.context.read_session() as session:
                return await repository.count_handoffs(session, filter)

        return connection(HandoffConnection, result, Handoff.from_model, count)

    @strawberry.field(
        description="The rules that pick the owner of a new lead created without one: "
        "source-specific rules by source, then the rule for every other source.",
        permission_classes=[CanRead],
    )
    async def assignment_rules(self, info: Info) -> list[AssignmentRule]:
        async with info.context.read_session() as session:
            rows = await repository.list_assignment_rules(session)
        return [AssignmentRule.from_model(row) for row in rows]


def _handoff_payload(result: Any) -> HandoffPayload:
    if isinstance(result, list):
        return HandoffPayload(handoff=None, lead=None, errors=result)
    handoff, lead = result
    return HandoffPayload(
        handoff=Handoff.from_model(handoff), lead=Lead.from_model(lead), errors=[]
    )


def _rule_payload(result: object) -> AssignmentRulePayload:
    rule, errors = payload_parts(result, AssignmentRule.from_model)
    return AssignmentRulePayload(assignment_rule=rule, errors=errors)


@strawberry.type
class HandoffMutation:
    @strawberry.mutation(
        description="Hand a lead to another owner and/or team, with a note. The lead's owner "
        "and team change now, a pending handoff of it is superseded, and the receiver accepts "
        "the new one with acceptHandoff.",
        permission_classes=[CanWrite],
    )
    async def hand_off_lead(
        self, info: Info, input: Annotated[HandOffLeadInput, INPUT]
    ) -> HandoffPayload:
        result = await run_mutation(
            info,
            lambda session, principal: handoff_service.hand_off_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.lead_id, "leadId"),
                to_owner_id=maybe_id(input.to_owner_id, "toOwnerId"),
                to_team_id=maybe_id(input.to_team_id, "toTeamId"),
                note=input.note,
                expected_version=input.expected_version,
            ),
        )
        return _handoff_payload(result)

    @strawberry.mutation(
        description="Accept a pending handoff. Only its receiver may: the member it was handed "
        "to or, for a handoff to a team alone, a member of the team; a key acting for no "
        "member needs the admin scope.",
        permission_classes=[CanWrite],
    )
    async def accept_handoff(
        self, info: Info, input: Annotated[AcceptHandoffInput, INPUT]
    ) -> HandoffPayload:
        result = await run_mutation(
            info,
            lambda session, principal: handoff_service.accept_handoff(
                session,
                principal=principal,
                handoff_id=parse_id(input.id, "id"),
                expected_version=input.expected_version,
            ),
        )
        return _handoff_payload(result)

    @strawberry.mutation(
        description="Create an assignment rule for new leads of a source (or of every other "
        "source).",
        permission_classes=[IsAdmin],
    )
    async def create_assignment_rule(
        self, info: Info, input: Annotated[CreateAssignmentRuleInput, INPUT]
    ) -> AssignmentRulePayload:
        result = await run_mutation(
            info,
            lambda session, principal: handoff_service.create_assignment_rule(
                session,
                actor=principal.actor,
                kind=input.kind,
                source=input.source,
                team_id=maybe_id(input.team_id, "teamId"),
                owner_id=maybe_id(input.owner_id, "ownerId"),
                is_active=input.is_active,
            ),
        )
        return _rule_payload(result)

    @strawberry.mutation(
        description="Change an assignment rule's source, team, owner or activity.",
        permission_classes=[IsAdmin],
    )
    async def update_assignment_rule(
        self, info: Info, input: Annotated[UpdateAssignmentRuleInput, INPUT]
    ) -> AssignmentRulePayload:
        def fields() -> handoff_service.RuleChanges:
            return handoff_service.RuleChanges(
                source=given(input.source),
                team_id=given_id(input.team_id, "teamId"),
                owner_id=given_id(input.owner_id, "ownerId"),
                is_active=not_null(given(input.is_active), "isActive"),
            )

        result = await run_mutation(
            info,
            lambda session, principal: handoff_service.update_assignment_rule(
                session,
                actor=principal.actor,
                rule_id=parse_id(input.id, "id"),
                fields=fields(),
                expected_version=input.expected_version,
            ),
        )
        return _rule_payload(result)

    @strawberry.mutation(
        description="Delete an assignment rule; leads it assigned keep their owners.",
        permission_classes=[IsAdmin],
    )
    async def delete_assignment_rule(
        self, info: Info, input: Annotated[DeleteAssignmentRuleInput, INPUT]
    ) -> AssignmentRulePayload:
        result = await run_mutation(
            info,
            lambda session, principal: handoff_service.delete_assignment_rule(
                session,
                actor=principal.actor,
                rule_id=parse_id(input.id, "id"),
                expected_version=input.expected_version,
            ),
        )
        return _rule_payload(result)
