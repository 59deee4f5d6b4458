"""Objections through the GraphQL endpoint: raising them at the stage the lead was in,
answering, settling and reopening them, the response library and its usage statistics,
validation, tenant isolation, the statements a list costs, and the domain events written.

Every failed mutation also checks that nothing changed: the workspace's objections, its
library (with usage) and its domain events are read back after the refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.config import StrawberryConfig

from salesgraph.db.engine import Database
from salesgraph.db.ids import uuid7
from salesgraph.db.unit_of_work import read_session, unit_of_work
from salesgraph.events import Actor, DomainEvent
from salesgraph.graphql.context import Context, Info
from salesgraph.graphql.scalars import SCALAR_MAP
from salesgraph.leads import service as lead_service
from salesgraph.leads.models import Lead, LeadStatus, StageVisit, VisitEntry, VisitExit
from salesgraph.leads.service import NewLead
from salesgraph.objections import service as objection_service
from salesgraph.objections.models import ObjectionCategory
from salesgraph.objections.types import (
    Objection,
    ObjectionConnection,
    ObjectionFilter,
    lead_objections,
    lead_open_objections,
)
from salesgraph.settings import Settings
from salesgraph.workspaces.models import Scope
from salesgraph.workspaces.service import Principal
from tests.conftest import Api, StatementCounter, new_workspace

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "01a21c19-758a-7126-9b0d-716b47d50b0d"

OBJECTION_FIELDS = """
fragment ObjectionFields on Objection {
  id category customerWords raisedAt status response respondedAt settledAt
  timeToResolutionSeconds version createdAt updatedAt
  lead { id title }
  stage { id name }
  raisedBy { apiKeyId member { id } }
  settledBy { apiKeyId member { id } }
  suggestedResponse { id title }
}
"""
RESPONSE_FIELDS = """
fragment ResponseFields on ObjectionResponse {
  id category title text archivedAt version createdAt updatedAt
  timesUsed leadsReached leadsWon winRate
}
"""

INPUT_TYPES = {
    "raiseObjection": "RaiseObjectionInput",
    "respondToObjection": "RespondToObjectionInput",
    "resolveObjection": "ResolveObjectionInput",
    "reopenObjection": "ReopenObjectionInput",
    "updateObjection": "UpdateObjectionInput",
    "createObjectionResponse": "CreateObjectionResponseInput",
    "updateObjectionResponse": "UpdateObjectionResponseInput",
    "archiveObjectionResponse": "ArchiveObjectionResponseInput",
}
LIBRARY_MUTATIONS = {
    "createObjectionResponse",
    "updateObjectionResponse",
    "archiveObjectionResponse",
}


# --- helpers ---------------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def mutate(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    """The payload of an objection or library mutation, its object under "node"."""
    library = mutation in LIBRARY_MUTATIONS
    selection = (
        "objectionResponse { ...ResponseFields }" if library else "objection { ...ObjectionFields }"
    )
    query = (
        f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
        f" {selection} errors {{ field code message }} }} }}"
        + (RESPONSE_FIELDS if library else OBJECTION_FIELDS)
    )
    payload = (await api(query, {"input": input}))[mutation]
    node = payload["objectionResponse" if library else "objection"]
    return {"node": node, "errors": payload["errors"]}


async def succeed(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    payload = await mutate(api, mutation, input)
    assert payload["errors"] == []
    assert payload["node"] is not None
    return payload["node"]  # type: ignore[no-any-return]


async def fail(api: Api, mutation: str, input: dict[str, Any]) -> list[tuple[list[str], str]]:
    """The (field, code) pairs of a mutation that must be refused."""
    payload = await mutate(api, mutation, input)
    assert payload["node"] is None
    assert payload["errors"], "expected the mutation to be refused"
    return [(error["field"], error["code"]) for error in payload["errors"]]


async def read_objection(api: Api, objection_id: str) -> dict[str, Any] | None:
    data = await api(
        "query($id: ID!) { objection(id: $id) { ...ObjectionFields } }" + OBJECTION_FIELDS,
        {"id": objection_id},
    )
    return data["objection"]  # type: ignore[no-any-return]


async def list_objections(api: Api, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    data = await api(
        """query($filter: ObjectionFilter) { objections(filter: $filter, first: 100) {
            totalCount nodes { ...ObjectionFields } } }"""
        + OBJECTION_FIELDS,
        {"filter": filter},
    )
    nodes = data["objections"]["nodes"]
    assert data["objections"]["totalCount"] == len(nodes)
    return nodes  # type: ignore[no-any-return]


async def library(api: Api, **arguments: Any) -> list[dict[str, Any]]:
    data = await api(
        """query($category: ObjectionCategory, $includeArchived: Boolean!) {
            objectionResponses(category: $category, includeArchived: $includeArchived) {
              ...ResponseFields } }"""
        + RESPONSE_FIELDS,
        {"category": arguments.get("category"), "includeArchived": arguments.get("archived", True)},
    )
    return data["objectionResponses"]  # type: ignore[no-any-return]


async def event_rows(database: Database, workspace_id: uuid.UUID | None) -> list[DomainEvent]:
    assert workspace_id is not None
    async with read_session(database, workspace_id=workspace_id) as session:
        statement = select(DomainEvent).order_by(DomainEvent.recorded_at, DomainEvent.id)
        return list((await session.execute(statement)).scalars())


async def workspace_state(api: Api, database: Database) -> Any:
    """Everything a refused mutation must leave as it was."""
    events = await event_rows(database, api.workspace_id)
    return await list_objections(api), await library(api), len(events)


async def refused(
    api: Api, database: Database, mutation: str, input: dict[str, Any]
) -> list[tuple[list[str], str]]:
    """The errors of a refused mutation, after checking that it changed nothing."""
    before = await workspace_state(api, database)
    errors = await fail(api, mutation, input)
    assert await workspace_state(api, database) == before
    return errors


async def default_stages(api: Api) -> list[dict[str, Any]]:
    data = await api("{ pipelines { id stages { id name position } } }")
    return data["pipelines"][0]["stages"]  # type: ignore[no-any-return]


async def new_lead(api: Api, title: str = "Deal") -> str:
    data = await api(
        """mutation($input: CreateLeadInput!) { createLead(input: $input) {
            lead { id } errors { field } } }""",
        {"input": {"title": title}},
    )
    return data["createLead"]["lead"]["id"]  # type: ignore[no-any-return]


async def lead_mutation(api: Api, mutation: str, input: dict[str, Any]) -> None:
    input_type = {"deleteLead": "LeadVersionInput", "restoreLead": "LeadVersionInput"}.get(
        mutation, mutation[0].upper() + mutation[1:] + "Input"
    )
    data = await api(
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ errors {{ field }} }} }}",
        {"input": input},
    )
    assert data[mutation]["errors"] == []


async def admin_member_id(api: Api) -> str:
    data = await api("{ viewer { member { id } } }")
    return data["viewer"]["member"]["id"]  # type: ignore[no-any-return]


async def past_lead(
    database: Database,
    workspace_id: uuid.UUID | None,
    stages: Sequence[dict[str, Any]],
    path: Sequence[tuple[int, datetime]],
    title: str = "Backfilled deal",
) -> str:
    """A lead created in the past: `path` is (stage index, entered at) of each visit, the
    first being its creation. Written directly: stage history is append-only through the API.
    """
    assert workspace_id is not None
    pipeline_id = stages[0]["pipelineId"]
    last_index, last_entered = path[-1]
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        lead = Lead(
            id=uuid7(),
            workspace_id=workspace_id,
            title=title,
            pipeline_id=uuid.UUID(pipeline_id),
            stage_id=uuid.UUID(stages[last_index]["id"]),
            stage_entered_at=last_entered,
            status=LeadStatus.OPEN,
            created_at=path[0][1],
            updated_at=last_entered,
        )
        session.add(lead)
        await session.flush()
        for number, (index, entered) in enumerate(path):
            following = path[number + 1] if number + 1 < len(path) else None
            session.add(
                StageVisit(
                    id=uuid7(),
                    workspace_id=workspace_id,
                    lead_id=lead.id,
                    pipeline_id=uuid.UUID(pipeline_id),
                    stage_id=uuid.UUID(stages[index]["id"]),
                    stage_position=stages[index]["position"],
                    entered_at=entered,
                    entry=VisitEntry.CREATED if number == 0 else VisitEntry.FORWARD,
                    exited_at=following[1] if following else None,
                    exit=VisitExit.FORWARD if following else None,
                )
            )
            await session.flush()
    return str(lead.id)


async def pipeline_stages(api: Api) -> list[dict[str, Any]]:
    data = await api("{ pipelines { id stages { id name position } } }")
    pipeline = data["pipelines"][0]
    return [{**stage, "pipelineId": pipeline["id"]} for stage in pipeline["stages"]]


async def raise_one(api: Api, lead_id: str, **fields: Any) -> dict[str, Any]:
    return await succeed(
        api,
        "raiseObjection",
        {"leadId": lead_id, "category": "PRICE", "customerWords": "Too expensive", **fields},
    )


async def new_response(
    api: Api, category: str = "PRICE", title: str = "Value framing"
) -> dict[str, Any]:
    return await succeed(
        api,
        "createObjectionResponse",
        {"category": category, "title": title, "text": f"{title}: what it saves you."},
    )


# The Lead type's objection fields are attached by the lead domain; until then they are read
# through a stand-in type that resolves them with the same helpers.


@strawberry.type(description="Stands in for Lead: its objection fields.")
class LeadStandIn:
    lead_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The lead's objections, newest first.")
    async def objections(
        self,
        info: Info,
        filter: ObjectionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ObjectionConnection:
        return await lead_objections(info, self.lead_id, filter, first, after, last, before)

    @strawberry.field(description="The lead's open objections, oldest first.")
    async def open_objections(self, info: Info) -> list[Objection]:
        return await lead_open_objections(info, self.lead_id)


@strawberry.type(description="Stand-in root.")
class StandInQuery:
    @strawberry.field(description="Leads by id, in the order given.")
    def leads(self, ids: list[strawberry.ID]) -> list[LeadStandIn]:
        return [LeadStandIn(lead_id=uuid.UUID(lead_id)) for lead_id in ids]


stand_in_schema = strawberry.Schema(
    query=StandInQuery, config=StrawberryConfig(scalar_map=SCALAR_MAP)
)


def stand_in_context(api: Api, database: Database) -> Context:
    assert api.workspace_id is not None
    return Context(
        request=Request({"type": "http", "method": "POST", "headers": [], "query_string": b""}),
        response=Response(),
        settings=Settings(),
        database=database,
        request_id="stand-in",
        principal_or_none=Principal(
            workspace_id=api.workspace_id,
            api_key_id=uuid.uuid4(),
            member_id=None,
            scopes=frozenset({Scope.READ}),
        ),
    )


async def run_on_leads(
    api: Api, database: Database, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    result = await stand_in_schema.execute(
        query, variable_values=variables, context_value=stand_in_context(api, database)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


# --- a hand-built history ----------------------------------------------------------------------

T0 = at("2026-11-02T09:00:00+00:00")  # created at stage 1
T1 = at("2026-11-04T09:00:00+00:00")  # moved to stage 2
T2 = at("2026-11-09T09:00:00+00:00")  # moved to stage 3, where it is now


async def test_objections_sit_at_the_stage_the_lead_was_in_when_raised(
    api: Api, database: Database
) -> None:
    # Given a lead created at T0 in stage 1, moved to stage 2 at T1 and to stage 3 at T2
    stages = await pipeline_stages(api)
    lead_id = await past_lead(database, api.workspace_id, stages, [(0, T0), (1, T1), (2, T2)])
    member_id = await admin_member_id(api)
    price = await new_response(api, "PRICE", "Value framing")

    # When objections are raised: one backfilled between T0 and T1, one at the very moment of
    # the move to stage 2, one after T2, one at the lead's creation, and one now
    backfilled = await raise_one(
        api, lead_id, category="PRICE", raisedAt="2026-11-03T10:00:00+00:00"
    )
    at_move = await raise_one(api, lead_id, category="TIMING", raisedAt=iso(T1))
    later = await raise_one(api, lead_id, category="NEED", raisedAt="2026-11-10T08:00:00Z")
    at_creation = await raise_one(api, lead_id, category="OTHER", raisedAt=iso(T0))
    now = await raise_one(api, lead_id, category="AUTHORITY", customerWords="  Ask my boss  ")

    # Then each sits at the stage the lead was in at its raisedAt
    assert backfilled["stage"]["id"] == stages[0]["id"]
    assert at_move["stage"]["id"] == stages[1]["id"]
    assert later["stage"]["id"] == stages[2]["id"]
    assert at_creation["stage"]["id"] == stages[0]["id"]
    assert now["stage"]["id"] == stages[2]["id"]
    # and they start OPEN, unanswered, recorded by the caller, with the words trimmed
    assert now["customerWords"] == "Ask my boss"
    assert at(now["raisedAt"]) == at(now["createdAt"])
    for objection in (backfilled, at_move, later, at_creation, now):
        assert objection["status"] == "OPEN"
        assert objection["version"] == 1
        assert objection["lead"] == {"id": lead_id, "title": "Backfilled deal"}
        assert objection["raisedBy"]["member"] == {"id": member_id}
        assert objection["raisedBy"]["apiKeyId"] is not None
        for name in ("response", "respondedAt", "settledAt", "settledBy", "suggestedResponse"):
            assert objection[name] is None
        assert objection["timeToResolutionSeconds"] is None
    assert at(backfilled["raisedAt"]) == at("2026-11-03T10:00:00Z")

    # When the backfilled one is answered from the library and resolved 2.5 hours after it was
    # raised, the one at the move is settled UNRESOLVED, and the later one is resolved 15
    # minutes after it was raised and then reopened
    answered = await succeed(
        api, "respondToObjection", {"id": backfilled["id"], "suggestedResponseId": price["id"]}
    )
    resolved = await succeed(
        api,
        "resolveObjection",
        {"id": backfilled["id"], "status": "RESOLVED", "settledAt": "2026-11-03T12:30:00Z"},
    )
    unresolved = await succeed(
        api,
        "resolveObjection",
        {
            "id": at_move["id"],
            "status": "UNRESOLVED",
            "response": "We can start in January.",
            "settledAt": "2026-11-05T09:00:00Z",
        },
    )
    settled_later = await succeed(
        api,
        "resolveObjection",
        {"id": later["id"], "status": "RESOLVED", "settledAt": "2026-11-10T08:15:00Z"},
    )
    reopened = await succeed(
        api, "reopenObjection", {"id": later["id"], "expectedVersion": settled_later["version"]}
    )

    # Then a library answer records the library's text and the response
    assert answered["response"] == price["text"]
    assert answered["suggestedResponse"] == {"id": price["id"], "title": "Value framing"}
    assert answered["respondedAt"] is not None
    assert answered["version"] == 2
    # and the time to resolution is settledAt - raisedAt, for RESOLVED objections only
    assert resolved["status"] == "RESOLVED"
    assert at(resolved["settledAt"]) == at("2026-11-03T12:30:00Z")
    assert resolved["timeToResolutionSeconds"] == 9000.0
    assert resolved["settledBy"]["member"] == {"id": member_id}
    assert resolved["response"] == price["text"]  # the answer stays
    assert unresolved["status"] == "UNRESOLVED"
    assert unresolved["timeToResolutionSeconds"] is None
    assert unresolved["response"] == "We can start in January."
    assert unresolved["suggestedResponse"] is None
    assert at(unresolved["respondedAt"]) == at("2026-11-05T09:00:00Z")  # answered as settled
    assert settled_later["timeToResolutionSeconds"] == 900.0
    assert reopened["status"] == "OPEN"
    assert (reopened["settledAt"], reopened["settledBy"]) == (None, None)
    assert reopened["timeToResolutionSeconds"] is None
    assert reopened["version"] == 3

    # And the open objections of the lead are exactly the three not settled, newest first
    open_ones = await list_objections(api, {"leadId": {"eq": lead_id}, "status": {"eq": "OPEN"}})
    assert [node["id"] for node in open_ones] == [now["id"], later["id"], at_creation["id"]]
    # and the whole list is newest first by raisedAt, and reads back as the mutations returned
    every = await list_objections(api, {"leadId": {"eq": lead_id}})
    assert [node["id"] for node in every] == [
        now["id"],
        later["id"],
        at_move["id"],
        backfilled["id"],
        at_creation["id"],
    ]
    assert every[2] == unresolved
    assert every[3] == resolved
    assert await read_objection(api, backfilled["id"]) == resolved
    # and the lead's open objections (the Lead field's helper) are those three, oldest first
    quiet = await new_lead(api, "Quiet")
    data = await run_on_leads(
        api,
        database,
        "query($ids: [ID!]!) { leads(ids: $ids) { openObjections { id status } } }",
        {"ids": [lead_id, quiet]},
    )
    assert data["leads"] == [
        {
            "openObjections": [
                {"id": at_creation["id"], "status": "OPEN"},
                {"id": later["id"], "status": "OPEN"},
                {"id": now["id"], "status": "OPEN"},
            ]
        },
        {"openObjections": []},
    ]


async def test_a_lead_raised_at_now_sits_at_its_current_stage(api: Api) -> None:
    # Given a lead moved through the API to its third stage
    stages = await default_stages(api)
    lead_id = await new_lead(api)
    for stage in stages[1:3]:
        await lead_mutation(api, "moveLead", {"id": lead_id, "stageId": stage["id"]})

    # When an objection is raised without a time
    objection = await raise_one(api, lead_id)

    # Then it sits at the third stage
    assert objection["stage"] == {"id": stages[2]["id"], "name": stages[2]["name"]}


async def test_filters_and_pages(api: Api, database: Database) -> None:
    # Given a lead with objections of several categories, stages, statuses and responses
    stages = await pipeline_stages(api)
    lead_id = await past_lead(database, api.workspace_id, stages, [(0, T0), (1, T1)])
    other_lead = await new_lead(api, "Other")
    response = await new_response(api, "PRICE")
    first = await raise_one(api, lead_id, raisedAt="2026-11-03T00:00:00Z")
    second = await raise_one(api, lead_id, category="TRUST", raisedAt="2026-11-05T00:00:00Z")
    third = await raise_one(api, other_lead, category="TIMING")
    await succeed(
        api, "respondToObjection", {"id": first["id"], "suggestedResponseId": response["id"]}
    )
    await succeed(api, "resolveObjection", {"id": second["id"], "status": "UNRESOLVED"})

    async def ids(filter: dict[str, Any]) -> list[str]:
        return [node["id"] for node in await list_objections(api, filter)]

    # Then each filter keeps exactly its objections, newest first
    assert await ids({}) == [third["id"], second["id"], first["id"]]
    assert await ids({"leadId": {"eq": lead_id}}) == [second["id"], first["id"]]
    assert await ids({"leadId": {"in": [other_lead, UNKNOWN_ID]}}) == [third["id"]]
    assert await ids({"category": {"eq": "TRUST"}}) == [second["id"]]
    assert await ids({"category": {"in": ["PRICE", "TIMING"]}}) == [third["id"], first["id"]]
    assert await ids({"status": {"eq": "UNRESOLVED"}}) == [second["id"]]
    assert await ids({"status": {"in": ["OPEN"]}}) == [third["id"], first["id"]]
    assert await ids({"stageId": {"eq": stages[0]["id"]}}) == [third["id"], first["id"]]
    assert await ids({"stageId": {"eq": stages[1]["id"]}}) == [second["id"]]
    assert await ids({"raisedAt": {"gte": "2026-11-05T00:00:00Z"}}) == [third["id"], second["id"]]
    assert await ids({"raisedAt": {"lt": "2026-11-05T00:00:00Z"}}) == [first["id"]]
    assert await ids({"responseId": {"eq": response["id"]}}) == [first["id"]]
    assert await ids({"responseId": {"is": "NULL"}}) == [third["id"], second["id"]]
    assert await ids({"category": {"eq": "PRICE"}, "status": {"eq": "OPEN"}}) == [first["id"]]

    # And pages of one walk the list both ways
    query = """query($first: Int, $after: String, $last: Int, $before: String) {
        objections(first: $first, after: $after, last: $last, before: $before) {
          totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
        } }"""
    forward, cursor = [], None
    while True:
        page = (await api(query, {"first": 1, "after": cursor}))["objections"]
        assert page["totalCount"] == 3
        forward += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert forward == [third["id"], second["id"], first["id"]]
    backward, cursor = [], None
    while True:
        page = (await api(query, {"last": 2, "before": cursor}))["objections"]
        backward = [node["id"] for node in page["nodes"]] + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        cursor = page["pageInfo"]["startCursor"]
    assert backward == forward

    # And a malformed id in a filter or a bad cursor is bad input, not a fault
    for filter in ({"leadId": {"eq": "nope"}}, {"responseId": {"in": ["x"]}}):
        response_body = (
            await api.post(
                "query($f: ObjectionFilter) { objections(filter: $f) { totalCount } }",
                {"f": filter},
            )
        ).json()
        assert response_body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = (await api.post('{ objections(after: "garbage") { totalCount } }')).json()
    assert body["errors"][0]["extensions"]["field"] == ["after"]


async def test_objections_of_deleted_leads_are_not_listed(api: Api) -> None:
    # Given two leads with an objection each, one of them then deleted
    kept, deleted = await new_lead(api, "Kept"), await new_lead(api, "Deleted")
    kept_objection = await raise_one(api, kept)
    gone = await raise_one(api, deleted)
    await lead_mutation(api, "deleteLead", {"id": deleted})

    # Then only the kept lead's objection is listed or found
    assert [node["id"] for node in await list_objections(api)] == [kept_objection["id"]]
    assert await read_objection(api, gone["id"]) is None
    # and the deleted lead's objection can no longer be changed
    assert await fail(api, "respondToObjection", {"id": gone["id"], "response": "Hm"}) == [
        (["input", "id"], "NOT_FOUND")
    ]
    # and when the lead is restored, its objection is back
    await lead_mutation(api, "restoreLead", {"id": deleted})
    restored = await read_objection(api, gone["id"])
    assert restored is not None
    assert restored["lead"] == {"id": deleted, "title": "Deleted"}


async def test_the_lead_fields_page_count_and_batch_across_leads(
    api: Api, app_database: Database, statements: StatementCounter
) -> None:
    # Given leads with 3, 1 and 0 objections, one of the three settled
    leads = [await new_lead(api, f"Lead {i}") for i in range(3)]
    raised: dict[str, list[str]] = {lead: [] for lead in leads}
    for lead, count in zip(leads, (3, 1, 0), strict=True):
        for _ in range(count):
            raised[lead].insert(0, (await raise_one(api, lead))["id"])
    await succeed(api, "resolveObjection", {"id": raised[leads[0]][0], "status": "RESOLVED"})
    query = """query($ids: [ID!]!, $filter: ObjectionFilter, $after: String) { leads(ids: $ids) {
        objections(first: 2, after: $after, filter: $filter) {
          totalCount nodes { id stage { name } } pageInfo { hasNextPage endCursor } }
        openObjections { id }
    } }"""

    # When the first two objections of every lead, their counts and open ones are read
    with statements.counting() as executed:
        data = await run_on_leads(api, app_database, query, {"ids": leads})

    # Then each lead has its own newest two, its count and its open ones (oldest first)
    pages = [lead["objections"] for lead in data["leads"]]
    assert [[node["id"] for node in page["nodes"]] for page in pages] == [
        raised[leads[0]][:2],
        raised[leads[1]],
        [],
    ]
    assert [page["totalCount"] for page in pages] == [3, 1, 0]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, False, False]
    assert [[node["id"] for node in lead["openObjections"]] for lead in data["leads"]] == [
        raised[leads[0]][:0:-1],
        raised[leads[1]],
        [],
    ]
    # and in one statement each for the pages, the counts, the open ones and the stages
    assert len(executed) == 4
    # and the next page and a filter apply per lead
    cursor = pages[0]["pageInfo"]["endCursor"]
    rest = await run_on_leads(api, app_database, query, {"ids": leads[:1], "after": cursor})
    assert [node["id"] for node in rest["leads"][0]["objections"]["nodes"]] == [raised[leads[0]][2]]
    resolved = await run_on_leads(
        api, app_database, query, {"ids": leads, "filter": {"status": {"eq": "RESOLVED"}}}
    )
    assert [lead["objections"]["totalCount"] for lead in resolved["leads"]] == [1, 0, 0]
    # and a bad cursor or a malformed id in the filter is bad input
    for variables in ({"after": "garbage"}, {"filter": {"stageId": {"eq": "nope"}}}):
        result = await stand_in_schema.execute(
            query,
            variable_values={"ids": leads, **variables},
            context_value=stand_in_context(api, app_database),
        )
        assert result.errors is not None
        assert result.errors[0].extensions is not None
        assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"


# --- the response library ----------------------------------------------------------------------


async def test_library_statistics_are_exact(api: Api) -> None:
    # Given three responses, two of them for PRICE
    framing = await new_response(api, "PRICE", "Value framing")
    roi = await new_response(api, "PRICE", "ROI calculation")
    unused = await new_response(api, "NEED", "Discovery questions")
    # and five leads: 1 and 2 will be won, 4 lost, 3 stays open, 5 is deleted
    leads = [await new_lead(api, f"Lead {i}") for i in range(1, 6)]

    async def answered(lead: str, response: dict[str, Any]) -> str:
        objection = await raise_one(api, lead)
        await succeed(
            api,
            "respondToObjection",
            {"id": objection["id"], "suggestedResponseId": response["id"]},
        )
        return objection["id"]  # type: ignore[no-any-return]

    # framing: twice on lead 1, once on leads 2, 3 and 5 (deleted)
    await answered(leads[0], framing)
    await answered(leads[0], framing)
    await answered(leads[1], framing)
    await answered(leads[2], framing)
    await answered(leads[4], framing)
    # roi: on leads 2 and 4, and on lead 3, where the answer was then replaced by one's own
    await answered(leads[1], roi)
    await answered(leads[3], roi)
    replaced = await answered(leads[2], roi)
    await succeed(api, "respondToObjection", {"id": replaced, "response": "Own words"})
    # and an answer of one's own on lead 4, which no library response counts
    own = await raise_one(api, leads[3])
    await succeed(api, "respondToObjection", {"id": own["id"], "response": "Own words"})
    await lead_mutation(api, "winLead", {"id": leads[0]})
    await lead_mutation(api, "winLead", {"id": leads[1]})
    await lead_mutation(api, "loseLead", {"id": leads[3], "reason": "Budget"})
    await lead_mutation(api, "deleteLead", {"id": leads[4]})

    # When the library is read
    responses = {response["id"]: response for response in await library(api)}

    def stats(response: dict[str, Any]) -> tuple[Any, ...]:
        read = responses[response["id"]]
        return read["timesUsed"], read["leadsReached"], read["leadsWon"], read["winRate"]

    # Then framing was used 5 times, reached leads 1, 2 and 3 (5 is deleted), won 1 and 2
    assert stats(framing) == (5, 3, 2, 2 / 3)
    # and roi was used twice (the replaced answer no longer counts): leads 2 and 4, won 2
    assert stats(roi) == (2, 2, 1, 0.5)
    # and an unused response has no win rate
    assert stats(unused) == (0, 0, 0, None)
    # and the library is ordered by category, then title
    assert list(responses) == [roi["id"], framing["id"], unused["id"]]
    # and the objections filtered by response agree with timesUsed (less the deleted lead's)
    assert len(await list_objections(api, {"responseId": {"eq": framing["id"]}})) == 4


async def test_library_create_update_archive(api: Api, database: Database) -> None:
    # Given a response
    created = await succeed(
        api,
        "createObjectionResponse",
        {"category": "TRUST", "title": "  Case studies ", "text": " Three customers like you. "},
    )
    assert (created["title"], created["text"], created["version"]) == (
        "Case studies",
        "Three customers like you.",
        1,
    )
    assert created["archivedAt"] is None

    # When it is updated partially, then archived
    updated = await succeed(
        api,
        "updateObjectionResponse",
        {"id": created["id"], "title": "References", "expectedVersion": 1},
    )
    archived = await succeed(
        api, "archiveObjectionResponse", {"id": created["id"], "expectedVersion": 2}
    )

    # Then the omitted fields stayed, and the archived one is only listed on request
    assert (updated["title"], updated["text"], updated["category"], updated["version"]) == (
        "References",
        "Three customers like you.",
        "TRUST",
        2,
    )
    assert archived["archivedAt"] is not None
    assert archived["version"] == 3
    assert await library(api, archived=False) == []
    assert [response["id"] for response in await library(api)] == [created["id"]]
    assert await library(api, category="PRICE") == []
    # and the changes were recorded as events
    events = await event_rows(database, api.workspace_id)
    library_events = [event for event in events if event.subject_type == "objection_response"]
    assert [event.type for event in library_events] == [
        "objection_response.created",
        "objection_response.updated",
        "objection_response.archived",
    ]
    assert library_events[1].data["changes"] == {
        "title": {"old": "Case studies", "new": "References"}
    }
    assert library_events[2].lead_id is None


async def test_an_archived_response_keeps_its_objections(api: Api) -> None:
    # Given an objection answered from the library, whose response is then archived
    lead_id = await new_lead(api)
    response = await new_response(api)
    objection = await raise_one(api, lead_id)
    await succeed(
        api, "respondToObjection", {"id": objection["id"], "suggestedResponseId": response["id"]}
    )
    await succeed(api, "archiveObjectionResponse", {"id": response["id"]})

    # Then the objection still points at it, and it still counts
    read = await read_objection(api, objection["id"])
    assert read is not None
    assert read["suggestedResponse"] == {"id": response["id"], "title": response["title"]}
    [archived] = await library(api)
    assert (archived["timesUsed"], archived["leadsReached"]) == (1, 1)


# --- validation --------------------------------------------------------------------------------


async def test_raise_objection_validation(api: Api, database: Database) -> None:
    stages = await pipeline_stages(api)
    lead_id = await past_lead(database, api.workspace_id, stages, [(0, T0)])
    deleted = await new_lead(api, "Deleted")
    await lead_mutation(api, "deleteLead", {"id": deleted})
    await raise_one(api, lead_id)  # something that must stay as it is

    def raising(**fields: Any) -> dict[str, Any]:
        return {"leadId": lead_id, "category": "PRICE", "customerWords": "Too much", **fields}

    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        (raising(customerWords="   "), [(["input", "customerWords"], "VALIDATION")]),
        (raising(customerWords="x" * 5001), [(["input", "customerWords"], "VALIDATION")]),
        (
            raising(raisedAt=iso(datetime.now(UTC) + timedelta(minutes=10))),
            [(["input", "raisedAt"], "VALIDATION")],
        ),
        (
            raising(raisedAt=iso(T0 - timedelta(microseconds=1))),
            [(["input", "raisedAt"], "VALIDATION")],
        ),
        (raising(leadId=UNKNOWN_ID), [(["input", "leadId"], "NOT_FOUND")]),
        (raising(leadId=deleted), [(["input", "leadId"], "NOT_FOUND")]),
        (raising(leadId="not-an-id"), [(["input", "leadId"], "VALIDATION")]),
        (raising(customerWords="no\x00nul"), [(None, "VALIDATION")]),  # type: ignore[list-item]
    ]
    for input, expected in cases:
        assert await refused(api, database, "raiseObjection", input) == expected, input

    # and the limits themselves are allowed
    longest = await raise_one(api, lead_id, customerWords="x" * 5000, raisedAt=iso(T0))
    assert len(longest["customerWords"]) == 5000


async def test_respond_and_resolve_validation(api: Api, database: Database) -> None:
    lead_id = await new_lead(api)
    price = await new_response(api, "PRICE", "Value framing")
    need = await new_response(api, "NEED", "Discovery")
    archived = await new_response(api, "PRICE", "Old pitch")
    await succeed(api, "archiveObjectionResponse", {"id": archived["id"]})
    objection = await raise_one(api, lead_id)
    settled = await raise_one(api, lead_id, category="TRUST")
    await succeed(api, "resolveObjection", {"id": settled["id"], "status": "RESOLVED"})
    oid = objection["id"]

    respond_cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"id": oid}, [(["input", "response"], "VALIDATION")]),
        ({"id": oid, "response": "  "}, [(["input", "response"], "VALIDATION")]),
        ({"id": oid, "response": "y" * 5001}, [(["input", "response"], "VALIDATION")]),
        (
            {"id": oid, "suggestedResponseId": need["id"]},
            [(["input", "suggestedResponseId"], "VALIDATION")],
        ),
        (
            {"id": oid, "suggestedResponseId": archived["id"]},
            [(["input", "suggestedResponseId"], "INVALID_STATE")],
        ),
        (
            {"id": oid, "suggestedResponseId": UNKNOWN_ID},
            [(["input", "suggestedResponseId"], "NOT_FOUND")],
        ),
        (
            {"id": oid, "suggestedResponseId": "bad"},
            [(["input", "suggestedResponseId"], "VALIDATION")],
        ),
        ({"id": settled["id"], "response": "Hm"}, [(["input", "id"], "INVALID_STATE")]),
        (
            {"id": oid, "response": "Hm", "expectedVersion": 7},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        ({"id": UNKNOWN_ID, "response": "Hm"}, [(["input", "id"], "NOT_FOUND")]),
        ({"id": "bad", "response": "Hm"}, [(["input", "id"], "VALIDATION")]),
    ]
    for input, expected in respond_cases:
        assert await refused(api, database, "respondToObjection", input) == expected, input

    future = iso(datetime.now(UTC) + timedelta(minutes=10))
    before_raised = iso(at(objection["raisedAt"]) - timedelta(seconds=1))
    resolve_cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"id": oid, "status": "OPEN"}, [(["input", "status"], "VALIDATION")]),
        (
            {"id": oid, "status": "OPEN", "response": " "},
            [(["input", "status"], "VALIDATION"), (["input", "response"], "VALIDATION")],
        ),
        ({"id": settled["id"], "status": "RESOLVED"}, [(["input", "id"], "INVALID_STATE")]),
        (
            {"id": oid, "status": "RESOLVED", "settledAt": future},
            [(["input", "settledAt"], "VALIDATION")],
        ),
        (
            {"id": oid, "status": "RESOLVED", "settledAt": before_raised},
            [(["input", "settledAt"], "VALIDATION")],
        ),
        (
            {"id": oid, "status": "RESOLVED", "suggestedResponseId": need["id"]},
            [(["input", "suggestedResponseId"], "VALIDATION")],
        ),
        (
            {"id": oid, "status": "RESOLVED", "expectedVersion": 2},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        ({"id": UNKNOWN_ID, "status": "RESOLVED"}, [(["input", "id"], "NOT_FOUND")]),
    ]
    for input, expected in resolve_cases:
        assert await refused(api, database, "resolveObjection", input) == expected, input

    other_cases: list[tuple[str, dict[str, Any], list[tuple[list[str], str]]]] = [
        ("reopenObjection", {"id": oid}, [(["input", "id"], "INVALID_STATE")]),
        (
            "reopenObjection",
            {"id": settled["id"], "expectedVersion": 1},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        ("reopenObjection", {"id": "bad"}, [(["input", "id"], "VALIDATION")]),
        (
            "updateObjection",
            {"id": oid, "customerWords": " "},
            [(["input", "customerWords"], "VALIDATION")],
        ),
        ("updateObjection", {"id": oid, "category": None}, [(["input", "category"], "VALIDATION")]),
        (
            "updateObjection",
            {"id": oid, "customerWords": None},
            [(["input", "customerWords"], "VALIDATION")],
        ),
        (
            "updateObjection",
            {"id": oid, "category": "NEED", "expectedVersion": 9},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        (
            "updateObjection",
            {"id": UNKNOWN_ID, "category": "NEED"},
            [(["input", "id"], "NOT_FOUND")],
        ),
    ]
    for mutation, input, expected in other_cases:
        assert await refused(api, database, mutation, input) == expected, (mutation, input)

    # and after all that, a valid answer and settlement still work
    answered = await succeed(
        api,
        "resolveObjection",
        {"id": oid, "status": "RESOLVED", "suggestedResponseId": price["id"], "response": "Mine"},
    )
    assert (answered["response"], answered["suggestedResponse"]["id"]) == ("Mine", price["id"])


async def test_library_validation(api: Api, database: Database) -> None:
    response = await new_response(api)
    archived = await new_response(api, "NEED", "Archived")
    await succeed(api, "archiveObjectionResponse", {"id": archived["id"]})
    rid = response["id"]
    cases: list[tuple[str, dict[str, Any], list[tuple[list[str], str]]]] = [
        (
            "createObjectionResponse",
            {"category": "PRICE", "title": " ", "text": ""},
            [(["input", "title"], "VALIDATION"), (["input", "text"], "VALIDATION")],
        ),
        (
            "createObjectionResponse",
            {"category": "PRICE", "title": "t" * 201, "text": "x" * 5001},
            [(["input", "title"], "VALIDATION"), (["input", "text"], "VALIDATION")],
        ),
        (
            "updateObjectionResponse",
            {"id": rid, "title": None},
            [(["input", "title"], "VALIDATION")],
        ),
        ("updateObjectionResponse", {"id": rid, "text": "  "}, [(["input", "text"], "VALIDATION")]),
        (
            "updateObjectionResponse",
            {"id": rid, "category": None},
            [(["input", "category"], "VALIDATION")],
        ),
        (
            "updateObjectionResponse",
            {"id": rid, "title": "New", "expectedVersion": 5},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        (
            "updateObjectionResponse",
            {"id": UNKNOWN_ID, "title": "New"},
            [(["input", "id"], "NOT_FOUND")],
        ),
        ("archiveObjectionResponse", {"id": archived["id"]}, [(["input", "id"], "INVALID_STATE")]),
        (
            "archiveObjectionResponse",
            {"id": rid, "expectedVersion": 3},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        ("archiveObjectionResponse", {"id": "bad"}, [(["input", "id"], "VALIDATION")]),
    ]
    for mutation, input, expected in cases:
        assert await refused(api, database, mutation, input) == expected, (mutation, input)
    # and the limits themselves are allowed
    longest = await succeed(
        api,
        "createObjectionResponse",
        {"category": "OTHER", "title": "t" * 200, "text": "x" * 5000},
    )
    assert (len(longest["title"]), len(longest["text"])) == (200, 5000)


async def test_update_objection_changes_only_what_is_given(api: Api, database: Database) -> None:
    lead_id = await new_lead(api)
    objection = await raise_one(api, lead_id)

    updated = await succeed(
        api, "updateObjection", {"id": objection["id"], "category": "TRUST", "expectedVersion": 1}
    )
    unchanged = await succeed(api, "updateObjection", {"id": objection["id"], "category": "TRUST"})

    assert (updated["category"], updated["customerWords"], updated["version"]) == (
        "TRUST",
        "Too expensive",
        2,
    )
    assert unchanged == updated  # nothing to change: no new version, no event
    events = [
        event
        for event in await event_rows(database, api.workspace_id)
        if event.subject_id == uuid.UUID(objection["id"])
    ]
    assert [event.type for event in events] == ["objection.raised", "objection.updated"]
    assert events[1].data == {
        "category": "TRUST",
        "status": "OPEN",
        "changes": {"category": {"old": "PRICE", "new": "TRUST"}},
    }


# --- tenancy ------------------------------------------------------------------------------------


async def test_another_workspace_can_neither_see_nor_change_nor_use(
    api: Api, other_api: Api, database: Database
) -> None:
    # Given an answered objection and a library response in the first workspace
    lead_id = await new_lead(api)
    response = await new_response(api)
    objection = await raise_one(api, lead_id)
    await succeed(
        api, "respondToObjection", {"id": objection["id"], "suggestedResponseId": response["id"]}
    )
    settled = await raise_one(api, lead_id, category="NEED")
    await succeed(api, "resolveObjection", {"id": settled["id"], "status": "RESOLVED"})
    before = await workspace_state(api, database)

    # Then the other workspace reads nothing of them
    assert await read_objection(other_api, objection["id"]) is None
    assert await list_objections(other_api) == []
    assert await list_objections(other_api, {"leadId": {"eq": lead_id}}) == []
    assert await library(other_api) == []

    # and every change it tries finds nothing
    other_lead = await new_lead(other_api)
    other_objection = await raise_one(other_api, other_lead)
    oid, rid = objection["id"], response["id"]
    attempts: list[tuple[str, dict[str, Any], list[str]]] = [
        (
            "raiseObjection",
            {"leadId": lead_id, "category": "PRICE", "customerWords": "x"},
            ["input", "leadId"],
        ),
        ("respondToObjection", {"id": oid, "response": "x"}, ["input", "id"]),
        ("resolveObjection", {"id": oid, "status": "RESOLVED"}, ["input", "id"]),
        ("reopenObjection", {"id": settled["id"]}, ["input", "id"]),
        ("updateObjection", {"id": oid, "category": "NEED"}, ["input", "id"]),
        ("updateObjectionResponse", {"id": rid, "title": "Mine"}, ["input", "id"]),
        ("archiveObjectionResponse", {"id": rid}, ["input", "id"]),
        (
            "respondToObjection",
            {"id": other_objection["id"], "suggestedResponseId": rid},
            ["input", "suggestedResponseId"],
        ),
        (
            "resolveObjection",
            {"id": other_objection["id"], "status": "RESOLVED", "suggestedResponseId": rid},
            ["input", "suggestedResponseId"],
        ),
    ]
    for mutation, input, field in attempts:
        assert await fail(other_api, mutation, input) == [(field, "NOT_FOUND")], mutation

    # and the first workspace's objections, library and events are as they were
    assert await workspace_state(api, database) == before
    # and the other workspace's own objection is untouched by the refusals
    read = await read_objection(other_api, other_objection["id"])
    assert read is not None
    assert (read["version"], read["response"]) == (1, None)


# --- statements ---------------------------------------------------------------------------------

LIST_QUERY = """{ objections(first: 50) { totalCount nodes {
    id customerWords lead { title } stage { name } raisedBy { member { name } }
    suggestedResponse { title timesUsed winRate }
} } }"""
# The API key, the page, the count, leads, stages, members, library responses and their usage.
LIST_STATEMENTS = 8


async def seed_objections(database: Database, api: Api, count: int) -> None:
    """`count` objections over leads of every stage, each answered from a library of three."""
    assert api.workspace_id is not None
    member_id = uuid.UUID(await admin_member_id(api))
    actor = Actor(member_id=member_id)
    stages = await default_stages(api)
    async with unit_of_work(database, workspace_id=api.workspace_id) as session:
        responses = [
            await objection_service.create_response(
                session, actor=actor, category=ObjectionCategory.PRICE, title=f"R{i}", text="Hi"
            )
            for i in range(3)
        ]
        for i in range(count):
            lead = await lead_service.create_lead(
                session,
                actor=actor,
                new=NewLead(title=f"Lead {i}", stage_id=uuid.UUID(stages[i % 7]["id"])),
            )
            objection = await objection_service.raise_objection(
                session,
                actor=actor,
                lead_id=lead.id,
                category=ObjectionCategory.PRICE,
                customer_words=f"Words {i}",
                raised_at=None,
            )
            await objection_service.respond_to_objection(
                session,
                actor=actor,
                objection_id=objection.id,
                answer=objection_service.Answer(suggested_response_id=responses[i % 3].id),
                expected_version=None,
            )


async def statements_of(statements: StatementCounter, api: Api, query: str) -> tuple[int, Any]:
    await api(query)  # warm: the key's last use is recorded, connections are open
    with statements.counting() as executed:
        data = await api(query)
    return len(executed), data


async def test_listing_3_or_30_objections_costs_the_same_statements(
    api: Api, client: Any, database: Database, statements: StatementCounter
) -> None:
    # Given 3 objections, and another workspace with 30
    big_workspace, big_token = await new_workspace(database, "Big")
    big_api = Api(client, big_token, big_workspace)
    await seed_objections(database, api, 3)
    await seed_objections(database, big_api, 30)

    # When each list is read with its nested fields
    small_count, small_data = await statements_of(statements, api, LIST_QUERY)
    big_count, big_data = await statements_of(statements, big_api, LIST_QUERY)

    # Then the nested fields are right
    for data, count in ((small_data, 3), (big_data, 30)):
        nodes = data["objections"]["nodes"]
        assert data["objections"]["totalCount"] == count
        assert sorted(node["customerWords"] for node in nodes) == sorted(
            f"Words {i}" for i in range(count)
        )
        for node in nodes:
            i = int(node["customerWords"].split()[1])
            assert node["lead"] == {"title": f"Lead {i}"}
            assert node["raisedBy"]["member"] is not None
            used = len(range(i % 3, count, 3))
            assert node["suggestedResponse"] == {
                "title": f"R{i % 3}",
                "timesUsed": used,
                "winRate": 0.0,
            }
    # and both cost the same, fixed number of statements
    assert small_count == LIST_STATEMENTS
    assert big_count == LIST_STATEMENTS


# --- domain events ------------------------------------------------------------------------------


async def test_every_change_writes_an_event_on_the_leads_timeline(
    api: Api, database: Database
) -> None:
    # Given an objection raised in the past, answered, resolved, reopened and settled again
    stages = await pipeline_stages(api)
    lead_id = await past_lead(database, api.workspace_id, stages, [(0, T0), (1, T1)])
    response = await new_response(api)
    objection = await raise_one(api, lead_id, raisedAt="2026-11-03T10:00:00Z")
    oid = objection["id"]
    await succeed(api, "respondToObjection", {"id": oid, "suggestedResponseId": response["id"]})
    await succeed(
        api,
        "resolveObjection",
        {"id": oid, "status": "RESOLVED", "settledAt": "2026-11-03T11:00:00Z"},
    )
    await succeed(api, "reopenObjection", {"id": oid})
    await succeed(api, "resolveObjection", {"id": oid, "status": "UNRESOLVED"})
    member_id = uuid.UUID(await admin_member_id(api))

    # Then each change wrote one event, on the lead's timeline, by the caller
    events = [
        event
        for event in await event_rows(database, api.workspace_id)
        if event.subject_id == uuid.UUID(oid)
    ]
    assert [event.type for event in events] == [
        "objection.raised",
        "objection.responded",
        "objection.resolved",
        "objection.reopened",
        "objection.unresolved",
    ]
    for event in events:
        assert event.subject_type == "objection"
        assert event.lead_id == uuid.UUID(lead_id)
        assert event.actor_member_id == member_id
        assert event.actor_api_key_id is not None
        assert event.data["category"] == "PRICE"
    raised, responded, resolved, reopened, unresolved = events
    # and the raise and the settlement are dated when they happened
    assert raised.occurred_at == at("2026-11-03T10:00:00Z")
    assert resolved.occurred_at == at("2026-11-03T11:00:00Z")
    assert reopened.occurred_at == reopened.recorded_at
    # and each carries the status and the changed fields' old and new values
    assert raised.data["status"] == "OPEN"
    assert raised.data["stage_id"] == stages[0]["id"]
    assert raised.data["changes"]["customer_words"] == {"old": None, "new": "Too expensive"}
    assert responded.data["changes"]["response_id"] == {"old": None, "new": response["id"]}
    assert responded.data["changes"]["response"] == {"old": None, "new": response["text"]}
    assert resolved.data["status"] == "RESOLVED"
    assert resolved.data["changes"]["status"] == {"old": "OPEN", "new": "RESOLVED"}
    assert resolved.data["changes"]["settled_at"] == {
        "old": None,
        "new": "2026-11-03T11:00:00+00:00",
    }
    assert reopened.data["changes"]["status"] == {"old": "RESOLVED", "new": "OPEN"}
    assert reopened.data["changes"]["settled_at"]["new"] is None
    assert unresolved.data["status"] == "UNRESOLVED"
    # and the timeline of the lead, in time order, has them where they happened
    async with read_session(database, workspace_id=api.workspace_id) as session:
        timeline = (
            (
                await session.execute(
                    select(DomainEvent.type)
                    .where(DomainEvent.lead_id == uuid.UUID(lead_id))
                    .order_by(DomainEvent.occurred_at, DomainEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert list(timeline) == [
        "objection.raised",
        "objection.resolved",
        "objection.responded",
        "objection.reopened",
        "objection.unresolved",
    ]


async def test_a_category_cannot_drift_from_the_library_response_used(api: Api) -> None:
    lead = await api('mutation { createLead(input: {title: "Drift"}) { lead { id } } }')
    lead_id = lead["createLead"]["lead"]["id"]
    created = await api(
        """mutation { createObjectionResponse(input: {category: PRICE, title: "ROI",
             text: "It pays for itself"}) { objectionResponse { id } errors { message } } }"""
    )
    response_id = created["createObjectionResponse"]["objectionResponse"]["id"]
    raised = await api(
        """mutation($lead: ID!) { raiseObjection(input: {leadId: $lead, category: PRICE,
             customerWords: "Too dear"}) { objection { id } } }""",
        {"lead": lead_id},
    )
    objection_id = raised["raiseObjection"]["objection"]["id"]
    answered = await api(
        """mutation($id: ID!, $r: ID!) { respondToObjection(input: {id: $id,
             suggestedResponseId: $r}) { errors { message } } }""",
        {"id": objection_id, "r": response_id},
    )
    assert answered["respondToObjection"]["errors"] == []
    changed = await api(
        """mutation($id: ID!) { updateObjection(input: {id: $id, category: TIMING}) {
             objection { id } errors { field code } } }""",
        {"id": objection_id},
    )
    assert changed["updateObjection"] == {
        "objection": None,
        "errors": [{"field": ["input", "category"], "code": "INVALID_STATE"}],
    }
    moved = await api(
        """mutation($r: ID!) { updateObjectionResponse(input: {id: $r, category: TIMING}) {
             objectionResponse { id } errors { field code } } }""",
        {"r": response_id},
    )
    assert moved["updateObjectionResponse"] == {
        "objectionResponse": None,
        "errors": [{"field": ["input", "category"], "code": "INVALID_STATE"}],
    }
