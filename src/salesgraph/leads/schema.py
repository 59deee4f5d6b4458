"""Query and mutation fields of the lead domain: short resolvers that call the service."""

from __future__ import annotations

from typing import Annotated

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
from salesgraph.graphql.permissions import CanRead, CanWrite
from salesgraph.leads import repository
from salesgraph.leads import service as lead_service
from salesgraph.leads.types import (
    CreateLeadInput,
    Lead,
    LeadConnection,
    LeadFilter,
    LeadOrder,
    LeadPayload,
    LeadVersionInput,
    LoseLeadInput,
    MoveLeadInput,
    ReassignLeadInput,
    ReopenLeadInput,
    UpdateLeadInput,
    WinLeadInput,
    lead_columns,
    lead_list_arguments,
    money_value,
    page_arguments,
)
from salesgraph.values import Unset


@strawberry.type
class LeadQuery:
    @strawberry.field(
        description="A lead by id; null when it does not exist in the workspace or is deleted.",
        permission_classes=[CanRead],
    )
    async def lead(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")],
    ) -> Lead | None:
        lead_id = lookup_id(id)
        if lead_id is None:
            return None
        row = await info.context.loaders.lead_by_id.load(lead_id)
        return Lead.from_model(row) if row is not None else None

    @strawberry.field(
        description="Leads of the workspace, filtered and sorted (newest first by default).",
        permission_classes=[CanRead],
    )
    async def leads(
        self,
        info: Info,
        filter: Annotated[
            LeadFilter | None, strawberry.argument(description="Only leads that match.")
        ] = None,
        order_by: Annotated[
            list[LeadOrder] | None,
            strawberry.argument(description="Sort keys (1 to 3); ties end in id order."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> LeadConnection:
        page = page_arguments(info, first, after, last, before)
        query, ordering = lead_list_arguments(filter, order_by)
        try:
            async with info.context.read_session() as session:
                result = await repository.page_of_leads(
                    session, query, ordering, page, lead_columns(info)
                )
        except DomainError as error:
            raise query_error(error) from None

        async def count() -> int:
            async with info.context.read_session() as session:
                return await repository.count_leads(session, query)

        return connection(LeadConnection, result, Lead.from_model, count)


def _payload(result: object) -> LeadPayload:
    lead, errors = payload_parts(result, Lead.from_model)
    return LeadPayload(lead=lead, errors=errors)


@strawberry.type
class LeadMutation:
    @strawberry.mutation(
        description="Create a lead at the first stage of a pipeline (or the given stage).",
        permission_classes=[CanWrite],
    )
    async def create_lead(
        self, info: Info, input: Annotated[CreateLeadInput, INPUT]
    ) -> LeadPayload:
        def new_lead() -> lead_service.NewLead:
            return lead_service.NewLead(
                title=input.title,
                pipeline_id=maybe_id(input.pipeline_id, "pipelineId"),
                stage_id=maybe_id(input.stage_id, "stageId"),
                company_name=input.company_name,
                contact_name=input.contact_name,
                contact_email=input.contact_email,
                contact_phone=input.contact_phone,
                source=input.source,
                owner_id=maybe_id(input.owner_id, "ownerId"),
                team_id=maybe_id(input.team_id, "teamId"),
                value=money_value(input.value),
                expected_close_date=input.expected_close_date,
                need=input.need,
                budget=input.budget,
                authority=input.authority,
                timing=input.timing,
                score=input.score,
                referred_by_id=maybe_id(input.referred_by_id, "referredById"),
                custom_fields=input.custom_fields if input.custom_fields is not None else {},
            )

        result = await run_mutation(
            info,
            lambda session, principal: lead_service.create_lead(
                session, actor=principal.actor, new=new_lead()
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Change a lead's fields; omitted fields stay as they are.",
        permission_classes=[CanWrite],
    )
    async def update_lead(
        self, info: Info, input: Annotated[UpdateLeadInput, INPUT]
    ) -> LeadPayload:
        def changes() -> lead_service.LeadChanges:
            value = given(input.value)
            return lead_service.LeadChanges(
                title=not_null(given(input.title), "title"),
                company_name=given(input.company_name),
                contact_name=given(input.contact_name),
                contact_email=given(input.contact_email),
                contact_phone=given(input.contact_phone),
                source=given(input.source),
                value=value if isinstance(value, Unset) else money_value(value),
                expected_close_date=given(input.expected_close_date),
                need=not_null(given(input.need), "need"),
                budget=not_null(given(input.budget), "budget"),
                authority=not_null(given(input.authority), "authority"),
                timing=not_null(given(input.timing), "timing"),
                score=given(input.score),
                referred_by_id=given_id(input.referred_by_id, "referredById"),
                custom_fields=not_null(given(input.custom_fields), "customFields"),
            )

        result = await run_mutation(
            info,
            lambda session, principal: lead_service.update_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.id, "id"),
                fields=changes(),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Move an open lead to another stage of its pipeline; the stage history "
        "records the exit, the entry and their direction.",
        permission_classes=[CanWrite],
    )
    async def move_lead(self, info: Info, input: Annotated[MoveLeadInput, INPUT]) -> LeadPayload:
        result = await run_mutation(
            info,
            lambda session, principal: lead_service.move_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.id, "id"),
                stage_id=parse_id(input.stage_id, "stageId"),
                reason=input.reason,
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(description="Mark an open lead as won.", permission_classes=[CanWrite])
    async def win_lead(self, info: Info, input: Annotated[WinLeadInput, INPUT]) -> LeadPayload:
        result = await run_mutation(
            info,
            lambda session, principal: lead_service.win_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.id, "id"),
                reason=input.reason,
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Mark an open lead as lost, with the reason.", permission_classes=[CanWrite]
    )
    async def lose_lead(self, info: Info, input: Annotated[LoseLeadInput, INPUT]) -> LeadPayload:
        result = await run_mutation(
            info,
            lambda session, principal: lead_service.lose_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.id, "id"),
                reason=input.reason,
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Reopen a won or lost lead at a stage of its pipeline.",
        permission_classes=[CanWrite],
    )
    async def reopen_lead(
        self, info: Info, input: Annotated[ReopenLeadInput, INPUT]
    ) -> LeadPayload:
        result = await run_mutation(
            info,
            lambda session, principal: lead_service.reopen_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.id, "id"),
                stage_id=maybe_id(input.stage_id, "stageId"),
                reason=input.reason,
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Give a lead another owner and/or team.", permission_classes=[CanWrite]
    )
    async def reassign_lead(
        self,
        info: Info,
        input: Annotated[ReassignLeadInput, INPUT],
    ) -> LeadPayload:
        result = await run_mutation(
            info,
            lambda session, principal: lead_service.reassign_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.id, "id"),
                owner_id=given_id(input.owner_id, "ownerId"),
                team_id=given_id(input.team_id, "teamId"),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Soft-delete a lead: it leaves every list but keeps its history.",
        permission_classes=[CanWrite],
    )
    async def delete_lead(
        self, info: Info, input: Annotated[LeadVersionInput, INPUT]
    ) -> LeadPayload:
        result = await run_mutation(
            info,
            lambda session, principal: lead_service.delete_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.id, "id"),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(description="Restore a deleted lead.", permission_classes=[CanWrite])
    async def restore_lead(
        self, info: Info, input: Annotated[LeadVersionInput, INPUT]
    ) -> LeadPayload:
        result = await run_mutation(
            info,
            lambda session, principal: lead_service.restore_lead(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.id, "id"),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)
