"""The write side of leads through the GraphQL endpoint: create, update, move, win, lose,
reopen, reassign, delete and restore, their validation, and optimistic concurrency.

Every failed mutation also checks that nothing changed: the lead, its stage history and the
number of leads are read back after the refusal.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import uuid
from typing import Any

import pytest

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.models import Member, MemberRole, Scope, Team
from tests.conftest import Api

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "01a21c19-758a-7126-9b0d-716b47d50b0d"

LEAD_FIELDS = """
fragment LeadFields on Lead {
  id title companyName contactName contactEmail contactPhone source
  value { amount currency } expectedCloseDate
  need budget authority timing score status lostReason closedAt stageEnteredAt
  customFields version createdAt updatedAt deletedAt
  pipeline { id }
  stage { id name position }
  owner { id }
  team { id }
  referredBy { id }
  stageHistory {
    totalCount
    nodes {
      id enteredAt entry entryReason exitedAt exit exitReason stagePosition
      stage { id name }
    }
  }
}
"""

INPUT_TYPES = {
    "createLead": "CreateLeadInput",
    "updateLead": "UpdateLeadInput",
    "moveLead": "MoveLeadInput",
    "winLead": "WinLeadInput",
    "loseLead": "LoseLeadInput",
    "reopenLead": "ReopenLeadInput",
    "reassignLead": "ReassignLeadInput",
    "deleteLead": "LeadVersionInput",
    "restoreLead": "LeadVersionInput",
}


# --- helpers ---------------------------------------------------------------------------------


async def mutate(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    """The payload ({lead, errors}) of a lead mutation."""
    query = (
        f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
        " lead { ...LeadFields } errors { field code message } } }" + LEAD_FIELDS
    )
    data = await api(query, {"input": input})
    return data[mutation]  # type: ignore[no-any-return]


async def succeed(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    """The lead of a mutation that must succeed."""
    payload = await mutate(api, mutation, input)
    assert payload["errors"] == []
    assert payload["lead"] is not None
    return payload["lead"]  # type: ignore[no-any-return]


async def fail(api: Api, mutation: str, input: dict[str, Any]) -> list[tuple[list[str], str]]:
    """The (field, code) pairs of a mutation that must be refused."""
    payload = await mutate(api, mutation, input)
    assert payload["lead"] is None
    assert payload["errors"], "expected the mutation to be refused"
    return [(error["field"], error["code"]) for error in payload["errors"]]


async def read_lead(api: Api, lead_id: str) -> dict[str, Any] | None:
    data = await api(
        "query($id: ID!) { lead(id: $id) { ...LeadFields } }" + LEAD_FIELDS, {"id": lead_id}
    )
    return data["lead"]  # type: ignore[no-any-return]


async def lead_ids(api: Api) -> list[str]:
    data = await api("{ leads(first: 100) { totalCount nodes { id } } }")
    ids = [node["id"] for node in data["leads"]["nodes"]]
    assert data["leads"]["totalCount"] == len(ids)
    return ids


async def default_stages(api: Api) -> list[dict[str, Any]]:
    data = await api("{ pipelines { id stages { id name position } } }")
    return data["pipelines"][0]["stages"]  # type: ignore[no-any-return]


async def new_lead(api: Api, **fields: Any) -> dict[str, Any]:
    return await succeed(api, "createLead", {"title": "Deal", **fields})


async def create_pipeline(api: Api, name: str, stage_names: list[str]) -> dict[str, Any]:
    data = await api(
        """mutation($input: CreatePipelineInput!) { createPipeline(input: $input) {
            pipeline { id stages { id name position } } errors { field code } } }""",
        {
            "input": {
                "name": name,
                "stages": [{"name": stage, "winProbability": 0.5} for stage in stage_names],
            }
        },
    )
    assert data["createPipeline"]["errors"] == []
    return data["createPipeline"]["pipeline"]  # type: ignore[no-any-return]


async def add_member(
    database: Database, workspace_id: uuid.UUID | None, *, active: bool = True
) -> str:
    assert workspace_id is not None
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        member = Member(
            workspace_id=workspace_id,
            email=f"rep-{secrets.token_hex(4)}@example.com",
            name="Rep",
            role=MemberRole.REP,
            is_active=active,
        )
        session.add(member)
        await session.flush()
    return str(member.id)


async def add_team(database: Database, workspace_id: uuid.UUID | None) -> str:
    assert workspace_id is not None
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        team = Team(workspace_id=workspace_id, name=f"Team {secrets.token_hex(4)}")
        session.add(team)
        await session.flush()
    return str(team.id)


def visits(lead: dict[str, Any]) -> list[dict[str, Any]]:
    history = lead["stageHistory"]
    assert history["totalCount"] == len(history["nodes"])
    return history["nodes"]  # type: ignore[no-any-return]


def open_visits(lead: dict[str, Any]) -> list[dict[str, Any]]:
    return [visit for visit in visits(lead) if visit["exitedAt"] is None]


# --- createLead ------------------------------------------------------------------------------


async def test_create_lead_with_every_field(api: Api, database: Database) -> None:
    # given a member, a team and a referring lead
    owner_id = await add_member(database, api.workspace_id)
    team_id = await add_team(database, api.workspace_id)
    referrer = await new_lead(api, title="Referrer")
    stages = await default_stages(api)

    # when a lead is created with every field
    lead = await succeed(
        api,
        "createLead",
        {
            "title": "  Big deal  ",
            "companyName": "Acme GmbH",
            "contactName": "Ada Lovelace",
            "contactEmail": "Ada@Example.COM",
            "contactPhone": "+49 (30) 123-456",
            "source": "web",
            "ownerId": owner_id,
            "teamId": team_id,
            "value": {"amount": "1250.50", "currency": "eur"},
            "expectedCloseDate": "2026-12-31",
            "need": "MET",
            "budget": "NOT_MET",
            "authority": "MET",
            "timing": "UNKNOWN",
            "score": 73,
            "referredById": referrer["id"],
            "customFields": {"industry": "retail", "seats": 12, "tags": ["a", "b"], "vip": None},
        },
    )

    # then every field is stored, trimmed and normalised
    assert lead["title"] == "Big deal"
    assert lead["companyName"] == "Acme GmbH"
    assert lead["contactName"] == "Ada Lovelace"
    assert lead["contactEmail"] == "ada@example.com"
    assert lead["contactPhone"] == "+49 (30) 123-456"
    assert lead["source"] == "web"
    assert lead["owner"] == {"id": owner_id}
    assert lead["team"] == {"id": team_id}
    assert lead["value"] == {"amount": "1250.50", "currency": "EUR"}
    assert lead["expectedCloseDate"] == "2026-12-31"
    assert (lead["need"], lead["budget"], lead["authority"], lead["timing"]) == (
        "MET",
        "NOT_MET",
        "MET",
        "UNKNOWN",
    )
    assert lead["score"] == 73
    assert lead["referredBy"] == {"id": referrer["id"]}
    assert lead["customFields"] == {
        "industry": "retail",
        "seats": 12,
        "tags": ["a", "b"],
        "vip": None,
    }
    assert lead["status"] == "OPEN"
    assert lead["lostReason"] is None
    assert lead["closedAt"] is None
    assert lead["deletedAt"] is None
    assert lead["version"] == 1
    # and it starts at the first stage of the default pipeline, with one CREATED visit
    assert lead["stage"] == stages[0]
    assert lead["stageEnteredAt"] == lead["createdAt"]
    [visit] = visits(lead)
    assert visit["entry"] == "CREATED"
    assert visit["enteredAt"] == lead["createdAt"]
    assert visit["stage"]["id"] == stages[0]["id"]
    assert visit["stagePosition"] == 1
    assert (visit["exitedAt"], visit["exit"], visit["exitReason"]) == (None, None, None)
    # and it reads back the same way (the amount's form is checked on its own below)
    read = await read_lead(api, lead["id"])
    assert read is not None
    assert {**read, "value": None} == {**lead, "value": None}


async def test_create_lead_with_only_a_title_takes_the_defaults(api: Api) -> None:
    # given the workspace's default pipeline
    data = await api("{ pipelines { id stages { id name position } } }")
    pipeline = data["pipelines"][0]

    # when a lead is created with only a title
    lead = await new_lead(api, title="Small deal")

    # then everything else is empty or UNKNOWN, at the first stage of the first pipeline
    assert lead["pipeline"] == {"id": pipeline["id"]}
    assert lead["stage"] == pipeline["stages"][0]
    assert lead["value"] is None
    assert lead["expectedCloseDate"] is None
    assert [lead["need"], lead["budget"], lead["authority"], lead["timing"]] == ["UNKNOWN"] * 4
    assert lead["score"] is None
    assert lead["customFields"] == {}
    for name in ("companyName", "contactName", "contactEmail", "contactPhone", "source"):
        assert lead[name] is None
    assert (lead["owner"], lead["team"], lead["referredBy"]) == (None, None, None)


async def test_blank_optional_text_is_stored_as_null(api: Api) -> None:
    lead = await new_lead(api, companyName="   ", source="")
    assert (lead["companyName"], lead["source"]) == (None, None)


async def test_money_amount_is_an_exact_decimal_string(api: Api) -> None:
    # given amounts that a binary float cannot hold exactly
    cases = [
        ({"amount": "0.10", "currency": "usd"}, {"amount": "0.10", "currency": "USD"}),
        ({"amount": "1500", "currency": " JPY "}, {"amount": "1500", "currency": "JPY"}),
        ({"amount": "12.345", "currency": "kwd"}, {"amount": "12.345", "currency": "KWD"}),
        (
            {"amount": "9999999999999999.99", "currency": "EUR"},
            {"amount": "9999999999999999.99", "currency": "EUR"},
        ),
    ]
    for given, expected in cases:
        # when a lead is created with it
        lead = await new_lead(api, value=given)
        # then the amount comes back as the same exact string, the currency upper-cased
        assert lead["value"] == expected
    # and an amount of 10^16 or more is refused by the Decimal scalar before anything runs
    response = await api.post(
        "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }",
        {"input": {"title": "Huge", "value": {"amount": "10000000000000000", "currency": "EUR"}}},
    )
    body = response.json()
    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [
        "Variable '$input' has invalid value at .value.amount: "
        "'10000000000000000' is not a finite decimal below 10^16"
    ]
    assert len(await lead_ids(api)) == 4


async def test_money_amount_reads_back_as_the_mutation_returned_it(api: Api) -> None:
    # given a lead created with an amount in EUR
    lead = await new_lead(api, value={"amount": "1250.50", "currency": "EUR"})
    assert lead["value"] == {"amount": "1250.50", "currency": "EUR"}

    # when it is read back, and when another field of it is updated
    read = await read_lead(api, lead["id"])
    updated = await succeed(api, "updateLead", {"id": lead["id"], "score": 1})

    # then the amount is the same string every time
    assert read is not None
    assert read["value"] == {"amount": "1250.50", "currency": "EUR"}
    assert updated["value"] == {"amount": "1250.50", "currency": "EUR"}


async def test_create_lead_at_an_explicit_stage(api: Api) -> None:
    stages = await default_stages(api)

    lead = await new_lead(api, stageId=stages[3]["id"])

    assert lead["stage"] == stages[3]
    [visit] = visits(lead)
    assert (visit["entry"], visit["stage"]["id"], visit["stagePosition"]) == (
        "CREATED",
        stages[3]["id"],
        4,
    )


async def test_create_lead_in_an_explicit_pipeline(api: Api) -> None:
    pipeline = await create_pipeline(api, "Partners", ["Intro", "Pilot", "Contract"])

    at_first = await new_lead(api, pipelineId=pipeline["id"])
    at_second = await new_lead(api, pipelineId=pipeline["id"], stageId=pipeline["stages"][1]["id"])

    assert at_first["pipeline"] == {"id": pipeline["id"]}
    assert at_first["stage"] == pipeline["stages"][0]
    assert at_second["stage"] == pipeline["stages"][1]


async def test_create_lead_reports_every_validation_error_at_once(api: Api) -> None:
    # when a lead has many bad fields
    payload = await mutate(
        api,
        "createLead",
        {
            "title": "   ",
            "contactEmail": "not-an-email",
            "contactPhone": "call me",
            "value": {"amount": "-5", "currency": "XYZ"},
            "score": 101,
            "customFields": {"1bad": 1},
        },
    )

    # then every one is reported, in input order, and nothing is created
    assert payload == {
        "lead": None,
        "errors": [
            {"field": ["input", "title"], "code": "VALIDATION", "message": "must not be blank"},
            {
                "field": ["input", "contactEmail"],
                "code": "VALIDATION",
                "message": "'not-an-email' is not an email address",
            },
            {
                "field": ["input", "contactPhone"],
                "code": "VALIDATION",
                "message": "may hold digits, spaces, + ( ) . - and /",
            },
            {
                "field": ["input", "value", "currency"],
                "code": "VALIDATION",
                "message": "'XYZ' is not an ISO 4217 currency code",
            },
            {
                "field": ["input", "value", "amount"],
                "code": "VALIDATION",
                "message": "must not be negative",
            },
            {
                "field": ["input", "score"],
                "code": "VALIDATION",
                "message": "must be between 0 and 100",
            },
            {
                "field": ["input", "customFields", "1bad"],
                "code": "VALIDATION",
                "message": "keys are 1-64 letters, digits or underscores, not starting with a "
                "digit",
            },
        ],
    }
    assert await lead_ids(api) == []


async def test_create_lead_validation_errors_one_by_one(api: Api) -> None:
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"title": ""}, ["input", "title"]),
        ({"title": "x" * 301}, ["input", "title"]),
        ({"companyName": "x" * 301}, ["input", "companyName"]),
        ({"contactName": "x" * 301}, ["input", "contactName"]),
        ({"contactEmail": "a@b.c" + "x" * 320}, ["input", "contactEmail"]),
        ({"contactEmail": "ada@example"}, ["input", "contactEmail"]),
        ({"contactEmail": "ada lovelace@example.com"}, ["input", "contactEmail"]),
        ({"contactPhone": "12"}, ["input", "contactPhone"]),
        ({"contactPhone": "+1 555 CALL"}, ["input", "contactPhone"]),
        ({"contactPhone": "1" * 51}, ["input", "contactPhone"]),
        ({"source": "x" * 101}, ["input", "source"]),
        ({"value": {"amount": "10", "currency": "EURO"}}, ["input", "value", "currency"]),
        ({"value": {"amount": "10", "currency": "ABC"}}, ["input", "value", "currency"]),
        ({"value": {"amount": "1.5", "currency": "JPY"}}, ["input", "value", "amount"]),
        ({"value": {"amount": "1.005", "currency": "EUR"}}, ["input", "value", "amount"]),
        ({"value": {"amount": "1.0005", "currency": "KWD"}}, ["input", "value", "amount"]),
        ({"value": {"amount": "-0.01", "currency": "EUR"}}, ["input", "value", "amount"]),
        ({"score": -1}, ["input", "score"]),
        ({"score": 101}, ["input", "score"]),
        ({"expectedCloseDate": "1899-12-31"}, ["input", "expectedCloseDate"]),
        ({"expectedCloseDate": "2201-01-01"}, ["input", "expectedCloseDate"]),
    ]
    for fields, field in cases:
        errors = await fail(api, "createLead", {"title": "Deal", **fields})
        assert errors == [(field, "VALIDATION")], fields
    assert await lead_ids(api) == []


async def test_create_lead_boundaries_are_accepted(api: Api) -> None:
    lead = await new_lead(
        api,
        title="x" * 300,
        source="s" * 100,
        contactPhone="1" * 50,
        score=0,
        value={"amount": "0.00", "currency": "EUR"},
        expectedCloseDate="1900-01-01",
    )
    assert (len(lead["title"]), len(lead["source"]), lead["score"]) == (300, 100, 0)
    assert lead["expectedCloseDate"] == "1900-01-01"
    assert lead["value"] == {"amount": "0.00", "currency": "EUR"}
    assert (await new_lead(api, score=100))["score"] == 100
    last_day = await new_lead(api, expectedCloseDate="2200-12-31")
    assert last_day["expectedCloseDate"] == "2200-12-31"


async def test_custom_fields_validation(api: Api) -> None:
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"a": {"b": 1}}, [(["input", "customFields", "a"], "VALIDATION")]),
        ({"a": [[1]]}, [(["input", "customFields", "a"], "VALIDATION")]),
        ({"a": [{"b": 1}]}, [(["input", "customFields", "a"], "VALIDATION")]),
        ({"1a": 1}, [(["input", "customFields", "1a"], "VALIDATION")]),
        ({"has-dash": 1}, [(["input", "customFields", "has-dash"], "VALIDATION")]),
        ({"": 1}, [(["input", "customFields", ""], "VALIDATION")]),
        ({"k" * 65: 1}, [(["input", "customFields", "k" * 65], "VALIDATION")]),
        ({"a": "x" * 2001}, [(["input", "customFields", "a"], "VALIDATION")]),
        ({"a": list(range(51))}, [(["input", "customFields", "a"], "VALIDATION")]),
        (
            {f"f{index}": index for index in range(51)},
            [(["input", "customFields"], "VALIDATION")],
        ),
        (
            {f"f{index}": "x" * 2000 for index in range(9)},
            [(["input", "customFields"], "VALIDATION")],
        ),
    ]
    for custom_fields, expected in cases:
        errors = await fail(api, "createLead", {"title": "Deal", "customFields": custom_fields})
        assert errors == expected, list(custom_fields)[:2]
    assert await lead_ids(api) == []


async def test_custom_fields_limits_are_accepted(api: Api) -> None:
    # given 50 fields, one with the longest key, one a list of 50 values with the longest string
    fields: dict[str, Any] = {f"f{index}": index for index in range(1, 49)}
    fields["k" * 64] = True
    fields["f0"] = ["x" * 2000, *range(49)]
    assert len(fields) == 50

    lead = await new_lead(api, customFields=fields)

    assert lead["customFields"] == fields


async def test_custom_fields_that_are_not_an_object_are_refused_by_the_scalar(api: Api) -> None:
    for value in ([1, 2], "text", 5):
        response = await api.post(
            "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }",
            {"input": {"title": "Deal", "customFields": value}},
        )
        body = response.json()
        assert body["data"] is None
        assert [error["message"] for error in body["errors"]] == [
            "Variable '$input' has invalid value at .customFields: "
            "JSONObject values are JSON objects"
        ]
    assert await lead_ids(api) == []


async def test_create_lead_unknown_references_are_not_found(api: Api, other_api: Api) -> None:
    # given ids that do not exist here (including a stage of another workspace)
    foreign_stage = (await default_stages(other_api))[0]["id"]
    foreign_lead = (await new_lead(other_api))["id"]
    cases = [
        ({"ownerId": UNKNOWN_ID}, ["input", "ownerId"]),
        ({"teamId": UNKNOWN_ID}, ["input", "teamId"]),
        ({"referredById": UNKNOWN_ID}, ["input", "referredById"]),
        ({"referredById": foreign_lead}, ["input", "referredById"]),
        ({"stageId": UNKNOWN_ID}, ["input", "stageId"]),
        ({"stageId": foreign_stage}, ["input", "stageId"]),
        ({"pipelineId": UNKNOWN_ID}, ["input", "pipelineId"]),
    ]
    for fields, field in cases:
        # when a lead refers to one
        errors = await fail(api, "createLead", {"title": "Deal", **fields})
        # then it is NOT_FOUND on that field
        assert errors == [(field, "NOT_FOUND")], fields
    assert await lead_ids(api) == []


async def test_create_lead_with_an_inactive_owner_is_invalid_state(
    api: Api, database: Database
) -> None:
    owner_id = await add_member(database, api.workspace_id, active=False)

    errors = await fail(api, "createLead", {"title": "Deal", "ownerId": owner_id})

    assert errors == [(["input", "ownerId"], "INVALID_STATE")]
    assert await lead_ids(api) == []


async def test_create_lead_at_a_stage_of_another_pipeline_is_invalid(api: Api) -> None:
    # given a second pipeline
    other = await create_pipeline(api, "Partners", ["Intro", "Pilot"])

    # when a lead of the default pipeline names a stage of the other one
    errors = await fail(api, "createLead", {"title": "Deal", "stageId": other["stages"][1]["id"]})

    # then the stage is refused, and nothing is created
    assert errors == [(["input", "stageId"], "VALIDATION")]
    assert await lead_ids(api) == []


async def test_create_lead_with_malformed_ids_is_invalid(api: Api) -> None:
    for name in ("pipelineId", "stageId", "ownerId", "teamId", "referredById"):
        payload = await mutate(api, "createLead", {"title": "Deal", name: "not-a-uuid"})
        assert payload == {
            "lead": None,
            "errors": [
                {
                    "field": ["input", name],
                    "code": "VALIDATION",
                    "message": "'not-a-uuid' is not a valid id",
                }
            ],
        }
    assert await lead_ids(api) == []


# --- updateLead ------------------------------------------------------------------------------


async def test_partial_update_changes_only_the_given_fields(api: Api) -> None:
    # given a lead with several fields
    lead = await new_lead(
        api,
        companyName="Acme",
        contactName="Ada",
        value={"amount": "100.00", "currency": "EUR"},
        expectedCloseDate="2026-12-31",
        score=10,
        customFields={"a": 1},
    )

    # when two fields are updated
    updated = await succeed(
        api,
        "updateLead",
        {"id": lead["id"], "companyName": "Acme Ltd", "score": 55, "need": "MET"},
    )

    # then those change, the version goes up by exactly one, and everything else stays
    # (the amount's textual form is the subject of the xfail test above)
    expected = {**lead, "companyName": "Acme Ltd", "score": 55, "need": "MET", "version": 2}
    unchecked = {"updatedAt", "value"}
    assert {key: value for key, value in updated.items() if key not in unchecked} == {
        key: value for key, value in expected.items() if key not in unchecked
    }
    assert updated["updatedAt"] >= lead["updatedAt"]
    read = await read_lead(api, lead["id"])
    assert read is not None
    assert (read["companyName"], read["score"], read["need"], read["version"]) == (
        "Acme Ltd",
        55,
        "MET",
        2,
    )
    assert (read["contactName"], read["customFields"]) == ("Ada", {"a": 1})


async def test_null_clears_nullable_fields(api: Api, database: Database) -> None:
    referrer = await new_lead(api, title="Referrer")
    lead = await new_lead(
        api,
        companyName="Acme",
        contactName="Ada",
        contactEmail="ada@example.com",
        contactPhone="+1 555",
        source="web",
        value={"amount": "5", "currency": "EUR"},
        expectedCloseDate="2026-12-31",
        score=5,
        referredById=referrer["id"],
    )

    updated = await succeed(
        api,
        "updateLead",
        {
            "id": lead["id"],
            "companyName": None,
            "contactName": None,
            "contactEmail": None,
            "contactPhone": None,
            "source": None,
            "value": None,
            "expectedCloseDate": None,
            "score": None,
            "referredById": None,
            "customFields": {},
        },
    )

    for name in ("companyName", "contactName", "contactEmail", "contactPhone", "source"):
        assert updated[name] is None, name
    assert (updated["value"], updated["score"], updated["referredBy"]) == (None, None, None)
    assert updated["expectedCloseDate"] is None
    assert updated["customFields"] == {}
    assert updated["version"] == 2
    assert updated["title"] == "Deal"


async def test_update_replaces_custom_fields(api: Api) -> None:
    lead = await new_lead(api, customFields={"a": 1, "b": 2})

    updated = await succeed(api, "updateLead", {"id": lead["id"], "customFields": {"c": "x"}})

    assert updated["customFields"] == {"c": "x"}


async def test_update_refuses_null_for_required_fields(api: Api) -> None:
    lead = await new_lead(api)
    for name in ("title", "need", "budget", "authority", "timing", "customFields"):
        errors = await fail(api, "updateLead", {"id": lead["id"], name: None})
        assert errors == [(["input", name], "VALIDATION")], name
    assert await read_lead(api, lead["id"]) == lead


async def test_update_validation_errors_leave_the_lead_unchanged(api: Api) -> None:
    lead = await new_lead(api, companyName="Acme")

    errors = await fail(
        api,
        "updateLead",
        {
            "id": lead["id"],
            "title": " ",
            "companyName": "Fine",
            "value": {"amount": "0.001", "currency": "EUR"},
            "score": 1000,
        },
    )

    assert errors == [
        (["input", "title"], "VALIDATION"),
        (["input", "value", "amount"], "VALIDATION"),
        (["input", "score"], "VALIDATION"),
    ]
    assert await read_lead(api, lead["id"]) == lead


async def test_update_with_a_stale_expected_version_is_a_conflict(api: Api) -> None:
    # given a lead at version 2
    lead = await new_lead(api)
    lead = await succeed(api, "updateLead", {"id": lead["id"], "source": "web"})
    assert lead["version"] == 2

    # when an update expects version 1
    payload = await mutate(
        api, "updateLead", {"id": lead["id"], "expectedVersion": 1, "title": "Stale"}
    )

    # then it is refused with CONFLICT and nothing changed
    assert payload == {
        "lead": None,
        "errors": [
            {
                "field": ["input", "expectedVersion"],
                "code": "CONFLICT",
                "message": "the lead was changed by someone else: expected version 1, it is 2",
            }
        ],
    }
    assert await read_lead(api, lead["id"]) == lead


async def test_update_with_the_current_expected_version_succeeds(api: Api) -> None:
    lead = await new_lead(api)

    updated = await succeed(
        api, "updateLead", {"id": lead["id"], "expectedVersion": 1, "title": "Fresh"}
    )

    assert (updated["title"], updated["version"]) == ("Fresh", 2)


async def test_every_update_increments_the_version_by_exactly_one(api: Api) -> None:
    lead = await new_lead(api)
    for version, score in enumerate([1, 2, 3, 4], start=2):
        lead = await succeed(api, "updateLead", {"id": lead["id"], "score": score})
        assert lead["version"] == version
    assert len(visits(lead)) == 1


async def test_update_referring_itself_is_invalid(api: Api) -> None:
    lead = await new_lead(api)

    errors = await fail(api, "updateLead", {"id": lead["id"], "referredById": lead["id"]})

    assert errors == [(["input", "referredById"], "VALIDATION")]
    assert await read_lead(api, lead["id"]) == lead


async def test_update_unknown_or_malformed_lead(api: Api) -> None:
    assert await fail(api, "updateLead", {"id": UNKNOWN_ID, "title": "x"}) == [
        (["input", "id"], "NOT_FOUND")
    ]
    assert await fail(api, "updateLead", {"id": "nope", "title": "x"}) == [
        (["input", "id"], "VALIDATION")
    ]


# --- moveLead --------------------------------------------------------------------------------


async def test_move_forward_then_backward_is_recorded_in_history(api: Api) -> None:
    # given a lead at the first stage
    stages = await default_stages(api)
    lead = await new_lead(api)

    # when it moves forward two stages, then back one
    forward = await succeed(
        api,
        "moveLead",
        {
            "id": lead["id"],
            "stageId": stages[2]["id"],
            "reason": " qualified ",
            "expectedVersion": 1,
        },
    )
    backward = await succeed(
        api, "moveLead", {"id": lead["id"], "stageId": stages[1]["id"], "expectedVersion": 2}
    )

    # then the lead is at the last stage it moved to, one version per move
    assert (forward["stage"], forward["version"]) == (stages[2], 2)
    assert (backward["stage"], backward["version"]) == (stages[1], 3)
    # and its history holds one visit per stay, each exit matching the next entry
    first, second, third = visits(backward)
    assert (first["stage"]["id"], first["entry"], first["exit"]) == (
        stages[0]["id"],
        "CREATED",
        "FORWARD",
    )
    assert (second["stage"]["id"], second["entry"], second["exit"]) == (
        stages[2]["id"],
        "FORWARD",
        "BACKWARD",
    )
    assert (third["stage"]["id"], third["entry"], third["exit"]) == (
        stages[1]["id"],
        "BACKWARD",
        None,
    )
    assert [visit["stagePosition"] for visit in (first, second, third)] == [1, 3, 2]
    assert (first["exitReason"], second["entryReason"]) == ("qualified", "qualified")
    assert (second["exitReason"], third["entryReason"]) == (None, None)
    assert first["exitedAt"] == second["enteredAt"] == forward["stageEnteredAt"]
    assert second["exitedAt"] == third["enteredAt"] == backward["stageEnteredAt"]
    assert third["exitedAt"] is None
    # and earlier visits did not change
    assert visits(forward)[0] == first
    assert await read_lead(api, lead["id"]) == backward


async def test_move_to_the_current_stage_is_invalid_state(api: Api) -> None:
    stages = await default_stages(api)
    lead = await new_lead(api)

    errors = await fail(api, "moveLead", {"id": lead["id"], "stageId": stages[0]["id"]})

    assert errors == [(["input", "stageId"], "INVALID_STATE")]
    assert await read_lead(api, lead["id"]) == lead


async def test_move_to_an_archived_stage_is_invalid_state(api: Api) -> None:
    stages = await default_stages(api)
    lead = await new_lead(api)
    archived = await api(
        """mutation($input: ArchiveStageInput!) { archiveStage(input: $input) {
            stage { id archivedAt } errors { field code } } }""",
        {"input": {"id": stages[4]["id"]}},
    )
    assert archived["archiveStage"]["errors"] == []
    lead = await read_lead(api, lead["id"])
    assert lead is not None

    errors = await fail(api, "moveLead", {"id": lead["id"], "stageId": stages[4]["id"]})

    assert errors == [(["input", "stageId"], "INVALID_STATE")]
    assert await read_lead(api, lead["id"]) == lead


async def test_move_a_closed_lead_is_invalid_state(api: Api) -> None:
    stages = await default_stages(api)
    for close, extra in (("winLead", {}), ("loseLead", {"reason": "price"})):
        lead = await new_lead(api)
        lead = await succeed(api, close, {"id": lead["id"], **extra})

        errors = await fail(api, "moveLead", {"id": lead["id"], "stageId": stages[2]["id"]})

        assert errors == [(["input", "id"], "INVALID_STATE")]
        assert await read_lead(api, lead["id"]) == lead


async def test_move_to_a_stage_of_another_pipeline_or_an_unknown_stage(api: Api) -> None:
    other = await create_pipeline(api, "Partners", ["Intro", "Pilot"])
    lead = await new_lead(api)

    assert await fail(api, "moveLead", {"id": lead["id"], "stageId": other["stages"][1]["id"]}) == [
        (["input", "stageId"], "VALIDATION")
    ]
    assert await fail(api, "moveLead", {"id": lead["id"], "stageId": UNKNOWN_ID}) == [
        (["input", "stageId"], "NOT_FOUND")
    ]
    assert await fail(api, "moveLead", {"id": lead["id"], "stageId": "bad"}) == [
        (["input", "stageId"], "VALIDATION")
    ]
    assert await read_lead(api, lead["id"]) == lead


async def test_move_with_a_stale_version_is_a_conflict(api: Api) -> None:
    stages = await default_stages(api)
    lead = await new_lead(api)
    lead = await succeed(api, "updateLead", {"id": lead["id"], "score": 1})

    errors = await fail(
        api, "moveLead", {"id": lead["id"], "stageId": stages[1]["id"], "expectedVersion": 1}
    )

    assert errors == [(["input", "expectedVersion"], "CONFLICT")]
    assert await read_lead(api, lead["id"]) == lead


async def test_move_with_a_too_long_reason_is_invalid(api: Api) -> None:
    stages = await default_stages(api)
    lead = await new_lead(api)

    errors = await fail(
        api, "moveLead", {"id": lead["id"], "stageId": stages[1]["id"], "reason": "x" * 1001}
    )

    assert errors == [(["input", "reason"], "VALIDATION")]
    assert await read_lead(api, lead["id"]) == lead


# --- winLead / loseLead / reopenLead ---------------------------------------------------------


async def test_win_closes_the_open_visit(api: Api) -> None:
    stages = await default_stages(api)
    lead = await new_lead(api, stageId=stages[5]["id"])

    won = await succeed(
        api, "winLead", {"id": lead["id"], "reason": "signed", "expectedVersion": 1}
    )

    assert (won["status"], won["version"], won["lostReason"]) == ("WON", 2, None)
    assert won["closedAt"] is not None
    assert won["stage"] == stages[5]
    [visit] = visits(won)
    assert (visit["exit"], visit["exitReason"], visit["exitedAt"]) == (
        "WON",
        "signed",
        won["closedAt"],
    )
    assert open_visits(won) == []
    assert await read_lead(api, lead["id"]) == won


async def test_win_or_lose_a_closed_lead_is_invalid_state(api: Api) -> None:
    lead = await new_lead(api)
    won = await succeed(api, "winLead", {"id": lead["id"]})

    assert await fail(api, "winLead", {"id": lead["id"]}) == [(["input", "id"], "INVALID_STATE")]
    assert await fail(api, "loseLead", {"id": lead["id"], "reason": "x"}) == [
        (["input", "id"], "INVALID_STATE")
    ]
    assert await read_lead(api, lead["id"]) == won


async def test_lose_records_the_reason(api: Api) -> None:
    lead = await new_lead(api)

    lost = await succeed(api, "loseLead", {"id": lead["id"], "reason": "  too expensive  "})

    assert (lost["status"], lost["lostReason"], lost["version"]) == ("LOST", "too expensive", 2)
    [visit] = visits(lost)
    assert (visit["exit"], visit["exitReason"], visit["exitedAt"]) == (
        "LOST",
        "too expensive",
        lost["closedAt"],
    )


async def test_lose_needs_a_reason(api: Api) -> None:
    lead = await new_lead(api)
    for reason in ("", "   "):
        errors = await fail(api, "loseLead", {"id": lead["id"], "reason": reason})
        assert errors == [(["input", "reason"], "VALIDATION")]
    assert await fail(api, "loseLead", {"id": lead["id"], "reason": "x" * 1001}) == [
        (["input", "reason"], "VALIDATION")
    ]
    # and a missing reason is refused by the schema itself
    response = await api.post(
        "mutation($input: LoseLeadInput!) { loseLead(input: $input) { lead { id } } }",
        {"input": {"id": lead["id"]}},
    )
    assert response.json()["data"] is None
    assert await read_lead(api, lead["id"]) == lead


async def test_reopen_returns_to_the_closing_stage_by_default(api: Api) -> None:
    # given a lead lost at the third stage
    stages = await default_stages(api)
    lead = await new_lead(api)
    await succeed(api, "moveLead", {"id": lead["id"], "stageId": stages[2]["id"]})
    lost = await succeed(api, "loseLead", {"id": lead["id"], "reason": "budget"})

    # when it is reopened without a stage
    reopened = await succeed(
        api, "reopenLead", {"id": lead["id"], "reason": "budget found", "expectedVersion": 3}
    )

    # then it is open again at that stage, with a REOPENED visit
    assert (reopened["status"], reopened["closedAt"], reopened["lostReason"]) == (
        "OPEN",
        None,
        None,
    )
    assert (reopened["stage"], reopened["version"]) == (stages[2], 4)
    history = visits(reopened)
    assert history[:2] == visits(lost)
    assert len(history) == 3
    assert (history[2]["stage"]["id"], history[2]["entry"], history[2]["entryReason"]) == (
        stages[2]["id"],
        "REOPENED",
        "budget found",
    )
    assert history[2]["stagePosition"] == 3
    assert history[2]["enteredAt"] == reopened["stageEnteredAt"]
    assert open_visits(reopened) == [history[2]]


async def test_reopen_at_a_given_stage(api: Api) -> None:
    stages = await default_stages(api)
    lead = await new_lead(api, stageId=stages[5]["id"])
    await succeed(api, "winLead", {"id": lead["id"]})

    reopened = await succeed(api, "reopenLead", {"id": lead["id"], "stageId": stages[1]["id"]})

    assert reopened["stage"] == stages[1]
    last = visits(reopened)[-1]
    assert (last["entry"], last["stage"]["id"], last["stagePosition"]) == (
        "REOPENED",
        stages[1]["id"],
        2,
    )
    assert [visit["stage"]["id"] for visit in open_visits(reopened)] == [stages[1]["id"]]


async def test_reopen_an_open_lead_is_invalid_state(api: Api) -> None:
    lead = await new_lead(api)

    assert await fail(api, "reopenLead", {"id": lead["id"]}) == [(["input", "id"], "INVALID_STATE")]
    assert await read_lead(api, lead["id"]) == lead


async def test_reopen_at_an_archived_or_foreign_stage_is_refused(api: Api) -> None:
    stages = await default_stages(api)
    other = await create_pipeline(api, "Partners", ["Intro", "Pilot"])
    lead = await new_lead(api, stageId=stages[5]["id"])
    won = await succeed(api, "winLead", {"id": lead["id"]})
    archived = await api(
        """mutation($input: ArchiveStageInput!) { archiveStage(input: $input) {
            errors { field code } } }""",
        {"input": {"id": stages[5]["id"]}},
    )
    assert archived["archiveStage"]["errors"] == []
    won = await read_lead(api, lead["id"])
    assert won is not None

    # the closing stage is archived now, so the default is refused
    assert await fail(api, "reopenLead", {"id": lead["id"]}) == [
        (["input", "stageId"], "INVALID_STATE")
    ]
    assert await fail(
        api, "reopenLead", {"id": lead["id"], "stageId": other["stages"][0]["id"]}
    ) == [(["input", "stageId"], "VALIDATION")]
    assert await read_lead(api, lead["id"]) == won


# --- reassignLead ----------------------------------------------------------------------------


async def test_reassign_owner_and_team(api: Api, database: Database) -> None:
    owner_id = await add_member(database, api.workspace_id)
    team_id = await add_team(database, api.workspace_id)
    lead = await new_lead(api)

    both = await succeed(
        api, "reassignLead", {"id": lead["id"], "ownerId": owner_id, "teamId": team_id}
    )
    only_team_cleared = await succeed(api, "reassignLead", {"id": lead["id"], "teamId": None})

    assert (both["owner"], both["team"], both["version"]) == ({"id": owner_id}, {"id": team_id}, 2)
    assert (only_team_cleared["owner"], only_team_cleared["team"]) == ({"id": owner_id}, None)
    assert only_team_cleared["version"] == 3


async def test_reassign_refusals(api: Api, database: Database, other_api: Api) -> None:
    inactive = await add_member(database, api.workspace_id, active=False)
    foreign = await add_member(database, other_api.workspace_id)
    lead = await new_lead(api)

    assert await fail(api, "reassignLead", {"id": lead["id"]}) == [
        (["input", "ownerId"], "VALIDATION")
    ]
    assert await fail(api, "reassignLead", {"id": lead["id"], "ownerId": inactive}) == [
        (["input", "ownerId"], "INVALID_STATE")
    ]
    assert await fail(api, "reassignLead", {"id": lead["id"], "ownerId": foreign}) == [
        (["input", "ownerId"], "NOT_FOUND")
    ]
    assert await fail(api, "reassignLead", {"id": lead["id"], "teamId": UNKNOWN_ID}) == [
        (["input", "teamId"], "NOT_FOUND")
    ]
    assert await fail(api, "reassignLead", {"id": lead["id"], "ownerId": "x"}) == [
        (["input", "ownerId"], "VALIDATION")
    ]
    assert await fail(
        api, "reassignLead", {"id": lead["id"], "teamId": None, "expectedVersion": 7}
    ) == [(["input", "expectedVersion"], "CONFLICT")]
    assert await read_lead(api, lead["id"]) == lead


# --- deleteLead / restoreLead ----------------------------------------------------------------


async def test_delete_hides_the_lead_and_restore_brings_it_back(api: Api) -> None:
    # given two leads
    kept = await new_lead(api, title="Kept")
    lead = await new_lead(api, title="Gone")

    # when one is deleted
    deleted = await succeed(api, "deleteLead", {"id": lead["id"], "expectedVersion": 1})

    # then the payload shows it deleted, and reads no longer find it
    assert deleted["deletedAt"] is not None
    assert deleted["version"] == 2
    assert await read_lead(api, lead["id"]) is None
    assert await lead_ids(api) == [kept["id"]]
    # and it cannot be changed while deleted
    assert await fail(api, "updateLead", {"id": lead["id"], "title": "x"}) == [
        (["input", "id"], "NOT_FOUND")
    ]
    assert await fail(api, "deleteLead", {"id": lead["id"]}) == [(["input", "id"], "NOT_FOUND")]

    # when it is restored
    restored = await succeed(api, "restoreLead", {"id": lead["id"], "expectedVersion": 2})

    # then it is back, with its history, at version 3
    assert restored["deletedAt"] is None
    assert restored["version"] == 3
    assert visits(restored) == visits(lead)
    assert await read_lead(api, lead["id"]) == restored
    assert sorted(await lead_ids(api)) == sorted([kept["id"], lead["id"]])


async def test_delete_with_a_stale_version_changes_nothing(api: Api) -> None:
    lead = await new_lead(api)

    assert await fail(api, "deleteLead", {"id": lead["id"], "expectedVersion": 2}) == [
        (["input", "expectedVersion"], "CONFLICT")
    ]
    assert await read_lead(api, lead["id"]) == lead


async def test_restore_refusals(api: Api) -> None:
    lead = await new_lead(api)

    assert await fail(api, "restoreLead", {"id": lead["id"]}) == [
        (["input", "id"], "INVALID_STATE")
    ]
    assert await fail(api, "restoreLead", {"id": UNKNOWN_ID}) == [(["input", "id"], "NOT_FOUND")]
    deleted = await succeed(api, "deleteLead", {"id": lead["id"]})
    assert await fail(api, "restoreLead", {"id": lead["id"], "expectedVersion": 1}) == [
        (["input", "expectedVersion"], "CONFLICT")
    ]
    assert await read_lead(api, lead["id"]) is None
    assert deleted["version"] == 2


# --- concurrency -----------------------------------------------------------------------------


async def test_concurrent_updates_with_the_same_expected_version(api: Api) -> None:
    # given a lead at version 1
    lead = await new_lead(api)

    # when two updates that both expect version 1 run at the same time
    first, second = await asyncio.gather(
        mutate(api, "updateLead", {"id": lead["id"], "expectedVersion": 1, "title": "First"}),
        mutate(api, "updateLead", {"id": lead["id"], "expectedVersion": 1, "title": "Second"}),
    )

    # then exactly one wins and the other gets CONFLICT
    outcomes = sorted([first, second], key=lambda payload: payload["lead"] is None)
    winner, loser = outcomes
    assert winner["errors"] == []
    assert loser["lead"] is None
    assert [(error["field"], error["code"]) for error in loser["errors"]] == [
        (["input", "expectedVersion"], "CONFLICT")
    ]
    # and the lead is the winner's, one version later
    read = await read_lead(api, lead["id"])
    assert read == winner["lead"]
    assert read is not None
    assert read["version"] == 2
    assert read["title"] in {"First", "Second"}


async def test_concurrent_moves_without_expected_version_serialize(api: Api) -> None:
    # given a lead at the first stage
    stages = await default_stages(api)
    lead = await new_lead(api)

    # when it is moved to two different stages at the same time
    first, second = await asyncio.gather(
        mutate(api, "moveLead", {"id": lead["id"], "stageId": stages[2]["id"]}),
        mutate(api, "moveLead", {"id": lead["id"], "stageId": stages[4]["id"]}),
    )

    # then both succeed, one after the other
    assert (first["errors"], second["errors"]) == ([], [])
    assert sorted([first["lead"]["version"], second["lead"]["version"]]) == [2, 3]
    last = max(first, second, key=lambda payload: payload["lead"]["version"])["lead"]
    read = await read_lead(api, lead["id"])
    assert read == last
    assert read is not None
    # and the history is a valid chain with exactly one open visit, at the lead's stage
    history = visits(read)
    assert len(history) == 3
    assert [visit["entry"] for visit in history] == ["CREATED", "FORWARD", history[2]["entry"]]
    assert open_visits(read) == [history[2]]
    assert history[2]["stage"]["id"] == read["stage"]["id"]
    for previous, following in itertools.pairwise(history):
        assert previous["exitedAt"] == following["enteredAt"]
        assert previous["exit"] == following["entry"]


# --- permissions -----------------------------------------------------------------------------


async def _key(database: Database, workspace_id: uuid.UUID | None, scopes: list[Scope]) -> str:
    assert workspace_id is not None
    async with unit_of_work(database, workspace_id=None) as session:
        created = await workspace_service.create_api_key(
            session, workspace_id=workspace_id, name="integration", scopes=scopes
        )
    return created.token


async def test_a_read_key_cannot_write_leads(api: Api, database: Database) -> None:
    # given a lead, and a key that may only read
    lead = await new_lead(api)
    reader = api.as_key(await _key(database, api.workspace_id, [Scope.READ]))

    # when the reader creates and updates leads
    responses = [
        await reader.post(
            "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }",
            {"input": {"title": "Nope"}},
        ),
        await reader.post(
            "mutation($input: UpdateLeadInput!) { updateLead(input: $input) { lead { id } } }",
            {"input": {"id": lead["id"], "title": "Nope"}},
        ),
    ]

    # then each gets a FORBIDDEN GraphQL error
    for response in responses:
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
        assert body["errors"][0]["message"] == "This API key lacks the 'write' scope."
    # and nothing was written, though the key may still read
    assert await lead_ids(reader) == [lead["id"]]
    assert await read_lead(api, lead["id"]) == lead


async def test_many_concurrent_moves_never_fail_unexpectedly(api: Api) -> None:
    # given a lead, and eight moves of it at once to alternating stages
    stages = await default_stages(api)
    for _ in range(3):
        lead = await new_lead(api)
        targets = [stages[1 + index % 6]["id"] for index in range(8)]

        # when they all run at the same time (each waits for the lead's row lock)
        payloads = await asyncio.gather(
            *(mutate(api, "moveLead", {"id": lead["id"], "stageId": target}) for target in targets)
        )

        # then each one either moved the lead or found it already at its target
        moved = [payload for payload in payloads if payload["errors"] == []]
        refused = [payload for payload in payloads if payload["errors"] != []]
        for payload in refused:
            assert [(error["field"], error["code"]) for error in payload["errors"]] == [
                (["input", "stageId"], "INVALID_STATE")
            ]
        assert sorted(payload["lead"]["version"] for payload in moved) == list(
            range(2, 2 + len(moved))
        )
        # and the history is one valid chain, never running backwards in time
        read = await read_lead(api, lead["id"])
        assert read is not None
        history = visits(read)
        assert len(history) == 1 + len(moved)
        assert open_visits(read) == [history[-1]]
        assert history[-1]["stage"]["id"] == read["stage"]["id"]
        for previous, following in itertools.pairwise(history):
            assert previous["enteredAt"] <= previous["exitedAt"] == following["enteredAt"]


async def test_a_nul_character_is_a_validation_error_and_nothing_is_written(api: Api) -> None:
    before = await lead_ids(api)
    result = await api(
        """mutation($input: CreateLeadInput!) { createLead(input: $input) {
             lead { id } errors { field code message } } }""",
        {"input": {"title": "Acme\u0000Corp"}},
    )
    assert result["createLead"] == {
        "lead": None,
        "errors": [
            {
                "field": None,
                "code": "VALIDATION",
                "message": "text must not contain the NUL character (\\u0000)",
            }
        ],
    }
    assert await lead_ids(api) == before


CREATE_WITH_NUMBER = (
    '{"query": "mutation($input: CreateLeadInput!) { createLead(input: $input) { '
    'lead { id } errors { field code message } } }", '
    '"variables": {"input": {"title": "x", "customFields": {"n": NUMBER}}}}'
)


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("1000000000000000000000000000000", id="beyond 2^53"),
        pytest.param("1e400", id="inf"),
    ],
)
async def test_custom_numbers_must_survive_json(api: Api, number: str) -> None:
    # given a raw JSON body (Python's json module would not write these numbers)
    before = await lead_ids(api)
    response = await api.client.post(
        "/graphql",
        content=CREATE_WITH_NUMBER.replace("NUMBER", number),
        headers={"authorization": f"Bearer {api.token}", "content-type": "application/json"},
    )
    assert response.json()["data"]["createLead"]["errors"] == [
        {
            "field": ["input", "customFields", "n"],
            "code": "VALIDATION",
            "message": "numbers are finite and integers within +/-2^53 (beyond, use a string)",
        }
    ]
    assert await lead_ids(api) == before
