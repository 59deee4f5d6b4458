"""Assignment rules through the GraphQL endpoint: who owns a lead created without an owner.

Round-robin turns (also under concurrent creates), fixed owners per source, the rule for every
other source, inactive rules and members, the rules' own validation and tenancy. Every refused
mutation also checks that the rules are unchanged.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest

from salesgraph.db.engine import Database
from tests.conftest import Api
from tests.test_handoffs import UNKNOWN_ID, add_people, create_key, deactivate, events

pytestmark = pytest.mark.anyio

RULE_FIELDS = """
fragment RuleFields on AssignmentRule {
  id kind source isActive version createdAt updatedAt
  team { id } owner { id } lastMember { id }
}
"""
RULE_PAYLOAD = "assignmentRule { ...RuleFields } errors { field code message }"
INPUT_TYPES = {
    "createAssignmentRule": "CreateAssignmentRuleInput",
    "updateAssignmentRule": "UpdateAssignmentRuleInput",
    "deleteAssignmentRule": "DeleteAssignmentRuleInput",
}
RULES = "{ assignmentRules { ...RuleFields } }" + RULE_FIELDS
CREATE_LEAD = """mutation($input: CreateLeadInput!) { createLead(input: $input) {
  lead { id owner { id } team { id } } errors { field code } } }"""


# --- helpers ---------------------------------------------------------------------------------


async def mutate(api: Api, mutation: str, **input: Any) -> dict[str, Any]:
    query = (
        f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
        f" {RULE_PAYLOAD} }} }}" + RULE_FIELDS
    )
    return (await api(query, {"input": input}))[mutation]  # type: ignore[no-any-return]


async def succeed(api: Api, mutation: str, **input: Any) -> dict[str, Any]:
    payload = await mutate(api, mutation, **input)
    assert payload["errors"] == []
    assert payload["assignmentRule"] is not None
    return payload["assignmentRule"]  # type: ignore[no-any-return]


async def fail(api: Api, mutation: str, **input: Any) -> list[tuple[list[str], str]]:
    payload = await mutate(api, mutation, **input)
    assert payload["assignmentRule"] is None
    assert payload["errors"], "expected the mutation to be refused"
    return [(error["field"], error["code"]) for error in payload["errors"]]


async def rules(api: Api) -> list[dict[str, Any]]:
    return (await api(RULES))["assignmentRules"]  # type: ignore[no-any-return]


async def create_lead(api: Api, **fields: Any) -> dict[str, Any]:
    data = await api(CREATE_LEAD, {"input": {"title": "Deal", **fields}})
    assert data["createLead"]["errors"] == []
    return data["createLead"]["lead"]  # type: ignore[no-any-return]


def owner_of(lead: dict[str, Any]) -> str | None:
    return lead["owner"]["id"] if lead["owner"] else None


def team_of(lead: dict[str, Any]) -> str | None:
    return lead["team"]["id"] if lead["team"] else None


def by_id(member_ids: list[str]) -> list[str]:
    return sorted(member_ids, key=uuid.UUID)


# --- round robin -----------------------------------------------------------------------------


async def test_round_robin_takes_turns_in_member_id_order(api: Api, database: Database) -> None:
    # given a round-robin rule over a team of three
    people = await add_people(api, {"Inside": ["Ann", "Bob", "Cem"]})
    inside = people.teams["Inside"]
    turns = by_id([people.members[name] for name in ("Ann", "Bob", "Cem")])
    rule = await succeed(api, "createAssignmentRule", kind="ROUND_ROBIN", teamId=inside)
    assert (rule["lastMember"], rule["version"], rule["source"]) == (None, 1, None)

    # when four leads are created without an owner, one after the other
    leads = [await create_lead(api) for _ in range(4)]

    # then they go round the team in member-id order, each into the rule's team
    assert [owner_of(lead) for lead in leads] == [*turns, turns[0]]
    assert {team_of(lead) for lead in leads} == {inside}
    [after] = await rules(api)
    assert after["lastMember"] == {"id": turns[0]}
    # turns are not changes of the rule's settings
    assert (after["version"], after["updatedAt"]) == (1, rule["updatedAt"])

    # and each lead's creation event names the rule
    assert [
        event.data["assignment_rule_id"]
        for event in await events(database, api.workspace_id)
        if event.type == "lead.created"
    ] == [rule["id"]] * 4


async def test_round_robin_skips_inactive_and_departed_members(api: Api) -> None:
    # given a round-robin rule over Ann, Bob and Cem (by id), whose last turn was Ann's
    people = await add_people(api, {"Inside": ["Ann", "Bob", "Cem"]})
    inside = people.teams["Inside"]
    first, second, third = by_id([people.members[name] for name in ("Ann", "Bob", "Cem")])
    await succeed(api, "createAssignmentRule", kind="ROUND_ROBIN", teamId=inside)
    assert owner_of(await create_lead(api)) == first

    # when the second member is deactivated, the turn goes past them
    await deactivate(api, second)
    assert owner_of(await create_lead(api)) == third

    # when the last member (the third) leaves the team, the next turn wraps to the first
    removed = await api(
        """mutation($input: TeamMembershipInput!) { removeTeamMember(input: $input) {
            errors { code } } }""",
        {"input": {"teamId": inside, "memberId": third}},
    )
    assert removed["removeTeamMember"]["errors"] == []
    assert owner_of(await create_lead(api)) == first
    assert owner_of(await create_lead(api)) == first

    # and a team without active members leaves the lead without owner, in the team
    await api(
        """mutation($input: TeamMembershipInput!) { removeTeamMember(input: $input) {
            errors { code } } }""",
        {"input": {"teamId": inside, "memberId": first}},
    )
    lead = await create_lead(api)
    assert (owner_of(lead), team_of(lead)) == (None, inside)


async def test_concurrent_creates_share_the_leads_fairly(api: Api) -> None:
    # given a team of three active members and one inactive one, and a round-robin rule
    people = await add_people(api, {"Inside": ["Ann", "Bob", "Cem", "Dan"]})
    await deactivate(api, people.members["Dan"])
    await succeed(api, "createAssignmentRule", kind="ROUND_ROBIN", teamId=people.teams["Inside"])

    # when twelve leads are created at once
    leads = await asyncio.gather(*(create_lead(api, title=f"Deal {i}") for i in range(12)))

    # then each active member gets exactly four, the inactive one none
    assert Counter(owner_of(lead) for lead in leads) == {
        people.members["Ann"]: 4,
        people.members["Bob"]: 4,
        people.members["Cem"]: 4,
    }


async def test_a_given_team_is_kept_and_an_explicit_owner_bypasses_the_rules(
    api: Api, database: Database
) -> None:
    people = await add_people(api, {"Inside": ["Ann"], "Field": ["Cem"]}, ["Zoe"])
    inside, field_team = people.teams["Inside"], people.teams["Field"]
    await succeed(api, "createAssignmentRule", kind="ROUND_ROBIN", teamId=inside)

    # a lead given a team but no owner gets an owner by the rule and keeps its team
    with_team = await create_lead(api, teamId=field_team)
    assert (owner_of(with_team), team_of(with_team)) == (people.members["Ann"], field_team)

    # a lead given an owner is not assigned: no team added, no turn taken
    explicit = await create_lead(api, ownerId=people.members["Zoe"])
    assert (owner_of(explicit), team_of(explicit)) == (people.members["Zoe"], None)
    [rule] = await rules(api)
    assert rule["lastMember"] == {"id": people.members["Ann"]}
    [event] = [
        event
        for event in await events(database, api.workspace_id)
        if event.type == "lead.created" and str(event.subject_id) == explicit["id"]
    ]
    assert event.data["assignment_rule_id"] is None


# --- fixed owners, sources and the catch-all -------------------------------------------------


async def test_fixed_owners_by_source_and_the_catch_all(api: Api) -> None:
    # given a fixed owner for "Web" (with a team), one for every other source, and an
    # inactive rule for "event"
    people = await add_people(api, {"Field": ["Cem"]}, ["Ann", "Bob"])
    ann, bob, field_team = people.members["Ann"], people.members["Bob"], people.teams["Field"]
    web = await succeed(
        api,
        "createAssignmentRule",
        kind="FIXED_OWNER",
        source=" Web ",
        ownerId=ann,
        teamId=field_team,
    )
    other = await succeed(api, "createAssignmentRule", kind="FIXED_OWNER", ownerId=bob)
    await succeed(
        api,
        "createAssignmentRule",
        kind="FIXED_OWNER",
        source="event",
        ownerId=ann,
        isActive=False,
    )
    assert (web["source"], web["owner"], web["team"]) == ("Web", {"id": ann}, {"id": field_team})
    assert (other["source"], other["team"]) == (None, None)

    # then the source matches case-insensitively, with the rule's team
    for source in ("web", "WEB", " wEb "):
        lead = await create_lead(api, source=source)
        assert (owner_of(lead), team_of(lead)) == (ann, field_team), source
    # and every other source, none and an inactive rule's source fall back to the catch-all
    for fields in ({"source": "referral"}, {}, {"source": "Event"}, {"source": "webinar"}):
        lead = await create_lead(api, **fields)
        assert (owner_of(lead), team_of(lead)) == (bob, None), fields


async def test_an_inactive_fixed_owner_gets_nothing(api: Api) -> None:
    people = await add_people(api, {"Field": ["Cem"]}, ["Ann"])
    await succeed(
        api,
        "createAssignmentRule",
        kind="FIXED_OWNER",
        ownerId=people.members["Ann"],
        teamId=people.teams["Field"],
    )
    await deactivate(api, people.members["Ann"])

    lead = await create_lead(api)

    assert (owner_of(lead), team_of(lead)) == (None, people.teams["Field"])


async def test_without_rules_nothing_is_assigned(api: Api, other_api: Api) -> None:
    # given a rule in another workspace only
    foreign = await add_people(other_api, {}, ["Eve"])
    await succeed(
        other_api, "createAssignmentRule", kind="FIXED_OWNER", ownerId=foreign.members["Eve"]
    )

    lead = await create_lead(api, source="web")

    assert (owner_of(lead), team_of(lead)) == (None, None)


async def test_any_key_that_creates_leads_gets_the_rules(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])
    await succeed(api, "createAssignmentRule", kind="FIXED_OWNER", ownerId=people.members["Ann"])
    integration, _ = await create_key(api, ["WRITE"])

    for caller in (integration, people.keys["Ann"]):
        assert owner_of(await create_lead(caller)) == people.members["Ann"]


# --- managing rules --------------------------------------------------------------------------


async def test_rules_are_listed_by_source_then_the_catch_all(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])
    for source in ("web", None, "Event", "ads"):
        await succeed(
            api,
            "createAssignmentRule",
            kind="FIXED_OWNER",
            source=source,
            ownerId=people.members["Ann"],
        )

    assert [rule["source"] for rule in await rules(api)] == ["ads", "Event", "web", None]


async def test_update_and_delete_a_rule(api: Api, database: Database) -> None:
    # given a round-robin rule that has taken a turn
    people = await add_people(api, {"Inside": ["Ann"], "Field": ["Cem"]})
    rule = await succeed(
        api, "createAssignmentRule", kind="ROUND_ROBIN", teamId=people.teams["Inside"]
    )
    await create_lead(api)

    # when its source and team change
    updated = await succeed(
        api,
        "updateAssignmentRule",
        id=rule["id"],
        source=" Web ",
        teamId=people.teams["Field"],
        expectedVersion=1,
    )

    # then it is at version 2, its turns restart in the new team
    assert (updated["source"], updated["team"], updated["version"]) == (
        "Web",
        {"id": people.teams["Field"]},
        2,
    )
    assert updated["lastMember"] is None
    assert updated["kind"] == "ROUND_ROBIN"
    assert owner_of(await create_lead(api, source="web")) == people.members["Cem"]

    # when it is deactivated, leads are not assigned; an update that changes nothing is no change
    off = await succeed(api, "updateAssignmentRule", id=rule["id"], isActive=False)
    assert (off["isActive"], off["version"]) == (False, 3)
    same = await succeed(api, "updateAssignmentRule", id=rule["id"], source="Web", isActive=False)
    assert same["version"] == 3
    assert owner_of(await create_lead(api, source="web")) is None

    # when it is deleted
    deleted = await succeed(api, "deleteAssignmentRule", id=rule["id"], expectedVersion=3)
    assert deleted["id"] == rule["id"]
    assert await rules(api) == []

    # and every change was an event
    assert [
        (event.type, str(event.subject_id))
        for event in await events(database, api.workspace_id)
        if event.type.startswith("assignment_rule.")
    ] == [
        ("assignment_rule.created", rule["id"]),
        ("assignment_rule.updated", rule["id"]),
        ("assignment_rule.updated", rule["id"]),
        ("assignment_rule.deleted", rule["id"]),
    ]


async def test_create_refusals_change_nothing(api: Api, other_api: Api) -> None:
    people = await add_people(api, {"Inside": ["Ann"]}, ["Zed"])
    ann, inside = people.members["Ann"], people.teams["Inside"]
    await deactivate(api, people.members["Zed"])
    foreign = await add_people(other_api, {"Elsewhere": ["Eve"]})
    await succeed(api, "createAssignmentRule", kind="FIXED_OWNER", source="Web", ownerId=ann)
    await succeed(api, "createAssignmentRule", kind="ROUND_ROBIN", teamId=inside)
    before = await rules(api)
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"kind": "ROUND_ROBIN", "source": "x"}, [(["input", "teamId"], "VALIDATION")]),
        (
            {"kind": "ROUND_ROBIN", "source": " ", "ownerId": ann},
            [
                (["input", "source"], "VALIDATION"),
                (["input", "teamId"], "VALIDATION"),
                (["input", "ownerId"], "VALIDATION"),
            ],
        ),
        (
            {"kind": "ROUND_ROBIN", "source": "x", "teamId": inside, "ownerId": ann},
            [(["input", "ownerId"], "VALIDATION")],
        ),
        ({"kind": "FIXED_OWNER", "source": "x"}, [(["input", "ownerId"], "VALIDATION")]),
        (
            {"kind": "FIXED_OWNER", "source": "x", "teamId": inside},
            [(["input", "ownerId"], "VALIDATION")],
        ),
        (
            {"kind": "FIXED_OWNER", "source": "web", "ownerId": ann},
            [(["input", "source"], "DUPLICATE")],
        ),
        (
            {"kind": "FIXED_OWNER", "source": " WEB ", "ownerId": ann},
            [(["input", "source"], "DUPLICATE")],
        ),
        ({"kind": "FIXED_OWNER", "ownerId": ann}, [(["input", "source"], "DUPLICATE")]),
        (
            {"kind": "FIXED_OWNER", "source": "  ", "ownerId": ann},
            [(["input", "source"], "VALIDATION")],
        ),
        (
            {"kind": "FIXED_OWNER", "source": "s" * 101, "ownerId": ann},
            [(["input", "source"], "VALIDATION")],
        ),
        (
            {"kind": "ROUND_ROBIN", "source": "x", "teamId": foreign.teams["Elsewhere"]},
            [(["input", "teamId"], "NOT_FOUND")],
        ),
        (
            {"kind": "FIXED_OWNER", "source": "x", "ownerId": foreign.members["Eve"]},
            [(["input", "ownerId"], "NOT_FOUND")],
        ),
        (
            {"kind": "FIXED_OWNER", "source": "x", "ownerId": ann, "teamId": UNKNOWN_ID},
            [(["input", "teamId"], "NOT_FOUND")],
        ),
        (
            {"kind": "FIXED_OWNER", "source": "x", "ownerId": people.members["Zed"]},
            [(["input", "ownerId"], "INVALID_STATE")],
        ),
        (
            {"kind": "FIXED_OWNER", "source": "x", "ownerId": "nope"},
            [(["input", "ownerId"], "VALIDATION")],
        ),
        (
            {"kind": "ROUND_ROBIN", "source": "x", "teamId": "nope"},
            [(["input", "teamId"], "VALIDATION")],
        ),
    ]
    for input, expected in cases:
        assert await fail(api, "createAssignmentRule", **input) == expected, input
        assert await rules(api) == before, input
    assert await rules(other_api) == []

    # and the longest source is accepted
    longest = await succeed(
        api, "createAssignmentRule", kind="FIXED_OWNER", source="s" * 100, ownerId=ann
    )
    assert longest["source"] == "s" * 100


async def test_update_and_delete_refusals_change_nothing(api: Api, other_api: Api) -> None:
    people = await add_people(api, {"Inside": ["Ann"]}, ["Zed"])
    ann, inside = people.members["Ann"], people.teams["Inside"]
    await deactivate(api, people.members["Zed"])
    web = await succeed(api, "createAssignmentRule", kind="FIXED_OWNER", source="Web", ownerId=ann)
    robin = await succeed(
        api, "createAssignmentRule", kind="ROUND_ROBIN", source="ads", teamId=inside
    )
    before = await rules(api)
    updates: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"id": robin["id"], "source": "WEB"}, [(["input", "source"], "DUPLICATE")]),
        ({"id": robin["id"], "teamId": None}, [(["input", "teamId"], "VALIDATION")]),
        ({"id": robin["id"], "ownerId": ann}, [(["input", "ownerId"], "VALIDATION")]),
        ({"id": web["id"], "ownerId": None}, [(["input", "ownerId"], "VALIDATION")]),
        (
            {"id": web["id"], "ownerId": people.members["Zed"]},
            [(["input", "ownerId"], "INVALID_STATE")],
        ),
        ({"id": web["id"], "teamId": UNKNOWN_ID}, [(["input", "teamId"], "NOT_FOUND")]),
        ({"id": web["id"], "source": ""}, [(["input", "source"], "VALIDATION")]),
        ({"id": web["id"], "isActive": None}, [(["input", "isActive"], "VALIDATION")]),
        (
            {"id": web["id"], "isActive": False, "expectedVersion": 2},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        ({"id": UNKNOWN_ID, "isActive": False}, [(["input", "id"], "NOT_FOUND")]),
        ({"id": "nope", "isActive": False}, [(["input", "id"], "VALIDATION")]),
    ]
    for input, expected in updates:
        assert await fail(api, "updateAssignmentRule", **input) == expected, input
        assert await rules(api) == before, input
    deletes: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"id": web["id"], "expectedVersion": 5}, [(["input", "expectedVersion"], "CONFLICT")]),
        ({"id": UNKNOWN_ID}, [(["input", "id"], "NOT_FOUND")]),
        ({"id": "nope"}, [(["input", "id"], "VALIDATION")]),
    ]
    for input, expected in deletes:
        assert await fail(api, "deleteAssignmentRule", **input) == expected, input
        assert await rules(api) == before, input

    # and another workspace can neither see nor change our rules
    assert await rules(other_api) == []
    assert await fail(other_api, "updateAssignmentRule", id=web["id"], isActive=False) == [
        (["input", "id"], "NOT_FOUND")
    ]
    assert await fail(other_api, "deleteAssignmentRule", id=web["id"]) == [
        (["input", "id"], "NOT_FOUND")
    ]
    assert await rules(api) == before


async def test_concurrent_rules_for_one_source_leave_one(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])

    payloads = await asyncio.gather(
        *(
            mutate(
                api,
                "createAssignmentRule",
                kind="FIXED_OWNER",
                source=source,
                ownerId=people.members["Ann"],
            )
            for source in ("web", "Web", "WEB", "wEB", " web")
        )
    )

    created = [payload for payload in payloads if payload["errors"] == []]
    assert len(created) == 1
    assert (
        sorted(
            (error["field"], error["code"]) for payload in payloads for error in payload["errors"]
        )
        == [(["input", "source"], "DUPLICATE")] * 4
    )
    assert len(await rules(api)) == 1


async def test_only_admins_manage_rules(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])
    rule = await succeed(
        api, "createAssignmentRule", kind="FIXED_OWNER", ownerId=people.members["Ann"]
    )
    writer = people.keys["Ann"]
    before = await rules(api)

    for mutation, input in (
        (
            "createAssignmentRule",
            {"kind": "FIXED_OWNER", "source": "x", "ownerId": people.members["Ann"]},
        ),
        ("updateAssignmentRule", {"id": rule["id"], "isActive": False}),
        ("deleteAssignmentRule", {"id": rule["id"]}),
    ):
        response = await writer.post(
            f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
            " errors { code } } }",
            {"input": input},
        )
        body = response.json()
        assert body["data"] is None
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]

    # a write key may still read them
    assert await rules(writer) == before
