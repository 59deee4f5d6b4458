"""Query and mutation fields of the objection domain: short resolvers that call the service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from salesgraph.graphql.context import Info
from salesgraph.graphql.inputs import (
    INPUT,
    given,
    lookup_id,
    maybe_id,
    not_null,
    parse_id,
    payload_parts,
    run_mutation,
)
from salesgraph.graphql.pagination import After, Before, First, Last, connection
from salesgraph.graphql.permissions import CanRead, CanWrite
from salesgraph.objections import models, repository
from salesgraph.objections import service as objection_service
from salesgraph.objections.types import (
    ArchiveObjectionResponseInput,
    CreateObjectionResponseInput,
    Objection,
    ObjectionConnection,
    ObjectionFilter,
    ObjectionPayload,
    ObjectionResponse,
    ObjectionResponsePayload,
    RaiseObjectionInput,
    ReopenObjectionInput,
    ResolveObjectionInput,
    RespondToObjectionInput,
    UpdateObjectionInput,
    UpdateObjectionResponseInput,
    list_query,
    page_arguments,
)


@strawberry.type
class ObjectionQuery:
    @strawberry.field(
        description="An objection by id; null when it does not exist in the workspace or its "
        "lead is deleted.",
        permission_classes=[CanRead],
    )
    async def objection(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")],
    ) -> Objection | None:
        objection_id = lookup_id(id)
        if objection_id is None:
            return None
        loaders = info.context.loaders
        row = await loaders.objection_by_id.load(objection_id)
        if row is None or await loaders.lead_by_id.load(row.lead_id) is None:
            return None
        return Objection.from_model(row)

    @strawberry.field(
        description="Objections of the workspace's leads (deleted leads' excepted), newest "
        "first: by raisedAt, then id, descending.",
        permission_classes=[CanRead],
    )
    async def objections(
        self,
        info: Info,
        filter: Annotated[
            ObjectionFilter | None, strawberry.argument(description="Only objections that match.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> ObjectionConnection:
        page = page_arguments(info, first, after, last, before)
        query = list_query(filter)
        async with info.context.read_session() as session:
            result = await repository.page_of_objections(
                session, query, repository.objection_ordering(), page
            )

        async def count() -> int:
            async with info.context.read_session() as session:
                return await repository.count_objections(session, query)

        return connection(ObjectionConnection, result, Objection.from_model, count)

    @strawberry.field(
        description="The workspace's library of suggested responses, by category, then title.",
        permission_classes=[CanRead],
    )
    async def objection_responses(
        self,
        info: Info,
        category: Annotated[
            models.ObjectionCategory | None,
            strawberry.argument(description="Only responses to this category of objection."),
        ] = None,
        include_archived: Annotated[
            bool, strawberry.argument(description="Include archived responses.")
        ] = False,
    ) -> list[ObjectionResponse]:
        async with info.context.read_session() as session:
            rows = await repository.list_responses(
                session, category=category, include_archived=include_archived
            )
        return [ObjectionResponse.from_model(row) for row in rows]


def _payload(result: object) -> ObjectionPayload:
    objection, errors = payload_parts(result, Objection.from_model)
    return ObjectionPayload(objection=objection, errors=errors)


def _response_payload(result: object) -> ObjectionResponsePayload:
    response, errors = payload_parts(result, ObjectionResponse.from_model)
    return ObjectionResponsePayload(objection_response=response, errors=errors)


def _answer(response: str | None, suggested_response_id: str | None) -> objection_service.Answer:
    return objection_service.Answer(
        text=response, suggested_response_id=maybe_id(suggested_response_id, "suggestedResponseId")
    )


@strawberry.type
class ObjectionMutation:
    @strawberry.mutation(
        description="Record an objection a customer raised on a lead, at the stage the lead "
        "was in at that time.",
        permission_classes=[CanWrite],
    )
    async def raise_objection(
        self, info: Info, input: Annotated[RaiseObjectionInput, INPUT]
    ) -> ObjectionPayload:
        result = await run_mutation(
            info,
            lambda session, principal: objection_service.raise_objection(
                session,
                actor=principal.actor,
                lead_id=parse_id(input.lead_id, "leadId"),
                category=input.category,
                customer_words=input.customer_words,
                raised_at=input.raised_at,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Record the answer given to an open objection; it replaces an earlier one.",
        permission_classes=[CanWrite],
    )
    async def respond_to_objection(
        self, info: Info, input: Annotated[RespondToObjectionInput, INPUT]
    ) -> ObjectionPayload:
        result = await run_mutation(
            info,
            lambda session, principal: objection_service.respond_to_objection(
                session,
                actor=principal.actor,
                objection_id=parse_id(input.id, "id"),
                answer=_answer(input.response, input.suggested_response_id),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Settle an open objection as RESOLVED or UNRESOLVED.",
        permission_classes=[CanWrite],
    )
    async def resolve_objection(
        self, info: Info, input: Annotated[ResolveObjectionInput, INPUT]
    ) -> ObjectionPayload:
        result = await run_mutation(
            info,
            lambda session, principal: objection_service.resolve_objection(
                session,
                actor=principal.actor,
                objection_id=parse_id(input.id, "id"),
                status=input.status,
                answer=_answer(input.response, input.suggested_response_id),
                settled_at=input.settled_at,
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(description="Reopen a settled objection.", permission_classes=[CanWrite])
    async def reopen_objection(
        self, info: Info, input: Annotated[ReopenObjectionInput, INPUT]
    ) -> ObjectionPayload:
        result = await run_mutation(
            info,
            lambda session, principal: objection_service.reopen_objection(
                session,
                actor=principal.actor,
                objection_id=parse_id(input.id, "id"),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Correct what was recorded of an objection; omitted fields stay as they are.",
        permission_classes=[CanWrite],
    )
    async def update_objection(
        self, info: Info, input: Annotated[UpdateObjectionInput, INPUT]
    ) -> ObjectionPayload:
        result = await run_mutation(
            info,
            lambda session, principal: objection_service.update_objection(
                session,
                actor=principal.actor,
                objection_id=parse_id(input.id, "id"),
                category=not_null(given(input.category), "category"),
                customer_words=not_null(given(input.customer_words), "customerWords"),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Add a suggested response to the workspace's library.",
        permission_classes=[CanWrite],
    )
    async def create_objection_response(
        self, info: Info, input: Annotated[CreateObjectionResponseInput, INPUT]
    ) -> ObjectionResponsePayload:
        result = await run_mutation(
            info,
            lambda session, principal: objection_service.create_response(
                session,
                actor=principal.actor,
                category=input.category,
                title=input.title,
                text=input.text,
            ),
        )
        return _response_payload(result)

    @strawberry.mutation(
        description="Change a library response; objections that used it keep the answer they "
        "recorded.",
        permission_classes=[CanWrite],
    )
    async def update_objection_response(
        self, info: Info, input: Annotated[UpdateObjectionResponseInput, INPUT]
    ) -> ObjectionResponsePayload:
        result = await run_mutation(
            info,
            lambda session, principal: objection_service.update_response(
                session,
                actor=principal.actor,
                response_id=parse_id(input.id, "id"),
                category=not_null(given(input.category), "category"),
                title=not_null(given(input.title), "title"),
                text=not_null(given(input.text), "text"),
                expected_version=input.expected_version,
            ),
        )
        return _response_payload(result)

    @strawberry.mutation(
        description="Archive a library response: it is no longer offered nor newly usable.",
        permission_classes=[CanWrite],
    )
    async def archive_objection_response(
        self, info: Info, input: Annotated[ArchiveObjectionResponseInput, INPUT]
    ) -> ObjectionResponsePayload:
        result = await run_mutation(
            info,
            lambda session, principal: objection_service.archive_response(
                session,
                actor=principal.actor,
                response_id=parse_id(input.id, "id"),
                expected_version=input.expected_version,
            ),
        )
        return _response_payload(result)
