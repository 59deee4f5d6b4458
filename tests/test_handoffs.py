"""Lead handoffs through the GraphQL endpoint: handing a lead over, accepting it, supersession,
the lists and filters, validation, tenancy and the statements a list costs.

Every refused mutation also checks that nothing changed: the leads, every handoff and the
number of domain events are read back after the refusal.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from salesgraph.db.engine import Database
from salesgraph.db.keyset import PageRequest
from salesgraph.db.unit_of_work import read_session
from salesgraph.events import DomainEvent
from salesgraph.handoffs import loaders as handoff_loaders
from tests.conftest import Api, StatementCounter

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "01a21c19-758a-7126-9b0d-716b47d50b0d"

HANDOFF_FIELDS = """
fragment HandoffFields on Handoff {
  id note status handedAt acceptedAt supersededAt secondsToAcceptance version
  lead { id }
  fromOwner { id } fromTeam { id } toOwner { id } toTeam { id }
  handedBy { apiKeyId member { id } }
  acceptedBy { apiKeyId member { id } }
}
"""
LEAD_STATE = "id version owner { id } team { id } updatedAt"

PAYLOAD = "handoff { ...HandoffFields } lead { " + LEAD_STATE + " } errors { field code message }"
HAND_OFF = (
    "mutation($input: HandOffLeadInput!) { handOffLead(input: $input) { " + PAYLOAD + " } }"
) + HANDOFF_FIELDS
ACCEPT = (
    "mutation($input: AcceptHandoffInput!) { acceptHandoff(input: $input) { " + PAYLOAD + " } }"
) + HANDOFF_FIELDS
HANDOFFS = (
    """query($filter: HandoffFilter, $first: Int, $after: String, $last: Int, $before: String) {
  handoffs(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ...HandoffFields } }
  }
}"""
    + HANDOFF_FIELDS
)
HANDOFF = "query($id: ID!) { handoff(id: $id) { ...HandoffFields } }" + HANDOFF_FIELDS


# --- helpers ---------------------------------------------------------------------------------


@dataclass
class People:
    """Members (by name), teams (by name), and a write key acting for each member."""

    admin: str
    admin_key: str
    members: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    keys: dict[str, Api] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)


async def create_member(api: Api, name: str) -> str:
    data = await api(
        """mutation($input: CreateMemberInput!) { createMember(input: $input) {
            member { id } errors { field code } } }""",
        {
            "input": {
                "email": f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com",
                "name": name,
                "role": "REP",
            }
        },
    )
    assert data["createMember"]["errors"] == []
    return data["createMember"]["member"]["id"]  # type: ignore[no-any-return]


async def deactivate(api: Api, member_id: str) -> None:
    data = await api(
        """mutation($input: UpdateMemberInput!) { updateMember(input: $input) {
            member { isActive } errors { field code } } }""",
        {"input": {"id": member_id, "isActive": False}},
    )
    assert data["updateMember"] == {"member": {"isActive": False}, "errors": []}


async def create_team(api: Api, name: str, member_ids: list[str]) -> str:
    data = await api(
        """mutation($input: CreateTeamInput!) { createTeam(input: $input) {
            team { id } errors { field code } } }""",
        {"input": {"name": name, "memberIds": member_ids}},
    )
    assert data["createTeam"]["errors"] == []
    return data["createTeam"]["team"]["id"]  # type: ignore[no-any-return]


async def create_key(api: Api, scopes: list[str], member_id: str | None = None) -> tuple[Api, str]:
    """A new key of the workspace (acting for `member_id`, if given) and the key's id."""
    data = await api(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
            apiKey { id } token errors { field code } } }""",
        {"input": {"name": "key", "scopes": scopes, "memberId": member_id}},
    )
    payload = data["createApiKey"]
    assert payload["errors"] == []
    return api.as_key(payload["token"]), payload["apiKey"]["id"]


async def add_people(api: Api, teams: dict[str, list[str]], loners: Sequence[str] = ()) -> People:
    """The members of `teams` (team name: member names) and `loners`, in no team, through the
    API; each member gets a write key of their own."""
    viewer = (await api("{ viewer { member { id } apiKey { id } } }"))["viewer"]
    people = People(admin=viewer["member"]["id"], admin_key=viewer["apiKey"]["id"])
    names = [name for members in teams.values() for name in members] + list(loners)
    for name in names:
        member_id = await create_member(api, name)
        people.members[name] = member_id
        people.keys[name], people.key_ids[name] = await create_key(api, ["WRITE"], member_id)
    for team, members in teams.items():
        people.teams[team] = await create_team(
            api, team, [people.members[name] for name in members]
        )
    return people


async def new_lead(api: Api, **fields: Any) -> dict[str, Any]:
    data = await api(
        "mutation($input: CreateLeadInput!) { createLead(input: $input) {"
        " lead { " + LEAD_STATE + " title } errors { field code } } }",
        {"input": {"title": "Deal", **fields}},
    )
    assert data["createLead"]["errors"] == []
    return data["createLead"]["lead"]  # type: ignore[no-any-return]


async def hand_off(api: Api, **input: Any) -> dict[str, Any]:
    return (await api(HAND_OFF, {"input": input}))["handOffLead"]  # type: ignore[no-any-return]


async def accept(api: Api, **input: Any) -> dict[str, Any]:
    return (await api(ACCEPT, {"input": input}))["acceptHandoff"]  # type: ignore[no-any-return]


def succeeded(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["errors"] == []
    assert payload["handoff"] is not None
    assert payload["lead"] is not None
    return payload


def refused(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    assert payload["handoff"] is None
    assert payload["lead"] is None
    assert payload["errors"], "expected the mutation to be refused"
    return [(error["field"], error["code"]) for error in payload["errors"]]


async def list_handoffs(api: Api, **arguments: Any) -> dict[str, Any]:
    return (await api(HANDOFFS, arguments))["handoffs"]  # type: ignore[no-any-return]


async def handoff_nodes(api: Api, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    connection = await list_handoffs(api, filter=filter, first=100)
    nodes = [edge["node"] for edge in connection["edges"]]
    assert connection["totalCount"] == len(nodes)
    return nodes


async def events(database: Database, workspace_id: uuid.UUID | None) -> list[DomainEvent]:
    async with read_session(database, workspace_id=workspace_id) as session:
        rows = await session.execute(select(DomainEvent).order_by(DomainEvent.id))
        return list(rows.scalars())


async def event_count(database: Database, workspace_id: uuid.UUID | None) -> int:
    async with read_session(database, workspace_id=workspace_id) as session:
        return int(await session.scalar(select(func.count()).select_from(DomainEvent)) or 0)


async def state(api: Api, database: Database) -> dict[str, Any]:
    """Everything a refused mutation must leave as it was."""
    leads = await api("{ leads(first: 100) { nodes { " + LEAD_STATE + " } } }")
    return {
        "leads": leads["leads"]["nodes"],
        "handoffs": await handoff_nodes(api),
        "events": await event_count(database, api.workspace_id),
    }


def ref(value: str | None) -> dict[str, str] | None:
    return {"id": value} if value is not None else None


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- handing over and accepting --------------------------------------------------------------


async def test_a_handoff_history_step_by_step(api: Api, database: Database) -> None:
    # given Ann and Bob in Inside, Cem in Field, and a lead of Ann's in Inside
    people = await add_people(api, {"Inside": ["Ann", "Bob"], "Field": ["Cem"]})
    ann, bob, cem = (people.members[name] for name in ("Ann", "Bob", "Cem"))
    inside, field_team = people.teams["Inside"], people.teams["Field"]
    lead = await new_lead(api, ownerId=ann, teamId=inside)
    assert lead["version"] == 1

    # when the admin hands it to Bob, with a note
    first = succeeded(
        await hand_off(api, leadId=lead["id"], toOwnerId=bob, note="  Call them on Monday.  ")
    )

    # then Bob owns it, still in Inside, and the handoff waits for him
    h1 = first["handoff"]
    assert (first["lead"]["owner"], first["lead"]["team"]) == (ref(bob), ref(inside))
    assert first["lead"]["version"] == 2
    assert h1 | {"handedAt": None} == {
        "id": h1["id"],
        "note": "Call them on Monday.",
        "status": "PENDING",
        "handedAt": None,
        "acceptedAt": None,
        "supersededAt": None,
        "secondsToAcceptance": None,
        "version": 1,
        "lead": ref(lead["id"]),
        "fromOwner": ref(ann),
        "fromTeam": ref(inside),
        "toOwner": ref(bob),
        "toTeam": None,
        "handedBy": {"apiKeyId": people.admin_key, "member": ref(people.admin)},
        "acceptedBy": None,
    }
    assert moment(h1["handedAt"]) == moment(first["lead"]["updatedAt"])

    # when Bob accepts it
    accepted = succeeded(await accept(people.keys["Bob"], id=h1["id"]))

    # then it is ACCEPTED by Bob, with the exact time to acceptance; the lead is unchanged
    h1 = accepted["handoff"]
    handed_at, accepted_at = moment(h1["handedAt"]), moment(h1["acceptedAt"])
    assert accepted_at > handed_at
    assert h1["secondsToAcceptance"] == (accepted_at - handed_at).total_seconds()
    assert h1["secondsToAcceptance"] == (accepted_at - handed_at) / timedelta(microseconds=1) / 1e6
    assert (h1["status"], h1["version"], h1["supersededAt"]) == ("ACCEPTED", 2, None)
    assert h1["acceptedBy"] == {"apiKeyId": people.key_ids["Bob"], "member": ref(bob)}
    assert accepted["lead"] == first["lead"]

    # when Bob hands it to the Field team (he is not in it)
    second = succeeded(await hand_off(people.keys["Bob"], leadId=lead["id"], toTeamId=field_team))

    # then it waits in Field without an owner
    h2 = second["handoff"]
    assert (second["lead"]["owner"], second["lead"]["team"]) == (None, ref(field_team))
    assert second["lead"]["version"] == 3
    assert (h2["fromOwner"], h2["fromTeam"], h2["toOwner"], h2["toTeam"]) == (
        ref(bob),
        ref(inside),
        None,
        ref(field_team),
    )
    assert (h2["status"], h2["note"]) == ("PENDING", None)

    # when, before anyone in Field accepts, the admin hands it on to Cem
    third = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=cem, expectedVersion=3))

    # then Cem owns it in Field, and the handoff to Field is superseded at that moment
    h3 = third["handoff"]
    assert (third["lead"]["owner"], third["lead"]["team"]) == (ref(cem), ref(field_team))
    assert third["lead"]["version"] == 4
    assert (h3["fromOwner"], h3["fromTeam"], h3["toOwner"], h3["toTeam"]) == (
        None,
        ref(field_team),
        ref(cem),
        None,
    )
    h2 = (await api(HANDOFF, {"id": h2["id"]}))["handoff"]
    assert (h2["status"], h2["version"], h2["acceptedAt"]) == ("SUPERSEDED", 2, None)
    assert h2["supersededAt"] == h3["handedAt"]
    assert h2["secondsToAcceptance"] is None

    # and the superseded handoff cannot be accepted any more
    assert refused(await accept(people.keys["Cem"], id=h2["id"])) == [
        (["input", "id"], "INVALID_STATE")
    ]

    # when Cem hands it to Inside, then Ann (a member of Inside) accepts that
    fourth = succeeded(await hand_off(people.keys["Cem"], leadId=lead["id"], toTeamId=inside))
    h4 = succeeded(await accept(people.keys["Ann"], id=fourth["handoff"]["id"]))["handoff"]

    # then the handoff to Inside is accepted by Ann, and h3 is superseded (never accepted)
    assert (fourth["lead"]["owner"], fourth["lead"]["team"]) == (None, ref(inside))
    assert (h4["status"], h4["acceptedBy"]["member"]) == ("ACCEPTED", ref(ann))
    assert (
        h4["secondsToAcceptance"]
        == (moment(h4["acceptedAt"]) - moment(h4["handedAt"])).total_seconds()
    )

    # and the list holds the whole history, newest first
    history = await handoff_nodes(api, {"leadId": {"eq": lead["id"]}})
    assert [(node["id"], node["status"]) for node in history] == [
        (h4["id"], "ACCEPTED"),
        (h3["id"], "SUPERSEDED"),
        (h2["id"], "SUPERSEDED"),
        (h1["id"], "ACCEPTED"),
    ]
    handed = [moment(node["handedAt"]) for node in history]
    assert handed == sorted(handed, reverse=True)

    # and each step wrote its events, on the lead's timeline
    written = [
        (event.type, str(event.subject_id), event.subject_type, event.lead_id, event.data)
        for event in await events(database, api.workspace_id)
        if event.type.startswith("handoff.")
    ]
    lead_id = uuid.UUID(lead["id"])

    def created(
        handoff: dict[str, Any],
        before: dict[str, Any],
        after: dict[str, Any],
        note: str | None,
        superseded: str | None,
    ) -> tuple[Any, ...]:
        return (
            "handoff.created",
            handoff["id"],
            "handoff",
            lead_id,
            {
                "from_owner_id": before["owner"],
                "from_team_id": before["team"],
                "to_owner_id": handoff["toOwner"] and handoff["toOwner"]["id"],
                "to_team_id": handoff["toTeam"] and handoff["toTeam"]["id"],
                "superseded_handoff_id": superseded,
                "note": note,
                "changes": {
                    name: {"old": before[name], "new": after[name]}
                    for name in ("owner_id", "team_id")
                    if before[name] != after[name]
                },
            },
        )

    def acceptance(handoff: dict[str, Any]) -> tuple[Any, ...]:
        return (
            "handoff.accepted",
            handoff["id"],
            "handoff",
            lead_id,
            {
                "seconds_to_acceptance": handoff["secondsToAcceptance"],
                "changes": {"status": {"old": "PENDING", "new": "ACCEPTED"}},
            },
        )

    def supersession(handoff_id: str) -> tuple[Any, ...]:
        return (
            "handoff.superseded",
            handoff_id,
            "handoff",
            lead_id,
            {
                "by": "handoff.created",
                "changes": {"status": {"old": "PENDING", "new": "SUPERSEDED"}},
            },
        )

    ann_inside = {"owner": ann, "team": inside, "owner_id": ann, "team_id": inside}
    bob_inside = {"owner": bob, "team": inside, "owner_id": bob, "team_id": inside}
    field_only = {"owner": None, "team": field_team, "owner_id": None, "team_id": field_team}
    cem_field = {"owner": cem, "team": field_team, "owner_id": cem, "team_id": field_team}
    inside_only = {"owner": None, "team": inside, "owner_id": None, "team_id": inside}
    assert written == [
        created(h1, ann_inside, bob_inside, "Call them on Monday.", None),
        acceptance(h1),
        created(h2, bob_inside, field_only, None, None),
        supersession(h2["id"]),
        created(h3, field_only, cem_field, None, h2["id"]),
        supersession(h3["id"]),
        created(h4, cem_field, inside_only, None, h3["id"]),
        acceptance(h4),
    ]


async def test_a_team_handoff_keeps_an_owner_who_is_in_the_team(api: Api) -> None:
    # given Ann in Inside, and a lead of Ann's without a team
    people = await add_people(api, {"Inside": ["Ann"]}, ["Bob"])
    ann, inside = people.members["Ann"], people.teams["Inside"]
    lead = await new_lead(api, ownerId=ann)

    # when it is handed to Inside
    payload = succeeded(await hand_off(api, leadId=lead["id"], toTeamId=inside))

    # then Ann keeps it, now in Inside; and Ann (a member of the team) may accept it
    assert (payload["lead"]["owner"], payload["lead"]["team"]) == (ref(ann), ref(inside))
    assert refused(await accept(people.keys["Bob"], id=payload["handoff"]["id"])) == [
        (["input", "id"], "FORBIDDEN")
    ]
    assert succeeded(await accept(people.keys["Ann"], id=payload["handoff"]["id"]))


async def test_handing_to_owner_and_team_sets_both(api: Api) -> None:
    people = await add_people(api, {"Inside": ["Ann"], "Field": ["Cem"]})
    lead = await new_lead(api, ownerId=people.members["Ann"], teamId=people.teams["Inside"])

    payload = succeeded(
        await hand_off(
            api, leadId=lead["id"], toOwnerId=people.members["Cem"], toTeamId=people.teams["Field"]
        )
    )

    assert (payload["lead"]["owner"], payload["lead"]["team"]) == (
        ref(people.members["Cem"]),
        ref(people.teams["Field"]),
    )
    assert (payload["handoff"]["toOwner"], payload["handoff"]["toTeam"]) == (
        ref(people.members["Cem"]),
        ref(people.teams["Field"]),
    )


async def test_won_and_lost_leads_can_be_handed_over(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])
    won, lost = await new_lead(api), await new_lead(api)
    await api(
        "mutation($input: WinLeadInput!) { winLead(input: $input) { errors { code } } }",
        {"input": {"id": won["id"]}},
    )
    await api(
        "mutation($input: LoseLeadInput!) { loseLead(input: $input) { errors { code } } }",
        {"input": {"id": lost["id"], "reason": "price"}},
    )

    for lead in (won, lost):
        payload = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
        assert payload["lead"]["owner"] == ref(people.members["Ann"])
        assert payload["lead"]["version"] == 3


async def test_a_reassignment_supersedes_the_pending_handoff(api: Api, database: Database) -> None:
    # given a lead handed to Ann, not yet accepted
    people = await add_people(api, {}, ["Ann", "Bob"])
    lead = await new_lead(api)
    handed = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))

    # when the lead is reassigned to Bob directly
    data = await api(
        """mutation($input: ReassignLeadInput!) { reassignLead(input: $input) {
            lead { owner { id } version } errors { code } } }""",
        {"input": {"id": lead["id"], "ownerId": people.members["Bob"]}},
    )
    assert data["reassignLead"] == {
        "lead": {"owner": ref(people.members["Bob"]), "version": 3},
        "errors": [],
    }

    # then the handoff is superseded, and Ann can no longer accept it
    handoff = (await api(HANDOFF, {"id": handed["handoff"]["id"]}))["handoff"]
    assert handoff["status"] == "SUPERSEDED"
    assert moment(handoff["supersededAt"]) >= moment(handoff["handedAt"])
    assert refused(await accept(people.keys["Ann"], id=handoff["id"])) == [
        (["input", "id"], "INVALID_STATE")
    ]
    superseded = [
        event
        for event in await events(database, api.workspace_id)
        if event.type == "handoff.superseded"
    ]
    assert [(str(event.subject_id), event.lead_id, event.data["by"]) for event in superseded] == [
        (handoff["id"], uuid.UUID(lead["id"]), "lead.reassigned")
    ]

    # and a reassignment that changes nothing supersedes nothing
    again = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
    await api(
        "mutation($input: ReassignLeadInput!) { reassignLead(input: $input) { errors { code } } }",
        {"input": {"id": lead["id"], "ownerId": people.members["Ann"]}},
    )
    assert (await api(HANDOFF, {"id": again["handoff"]["id"]}))["handoff"]["status"] == "PENDING"


async def test_who_may_accept(api: Api, database: Database) -> None:
    # given handoffs to Ann, and keys of other members, of integrations and of the admin
    people = await add_people(api, {"Inside": ["Ann", "Bob"]})
    integration, _ = await create_key(api, ["WRITE"])
    admin_integration, admin_integration_id = await create_key(api, ["ADMIN"])
    lead = await new_lead(api)
    handoff = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
    handoff_id = handoff["handoff"]["id"]
    before = await state(api, database)

    # when anyone but Ann accepts it: Bob (in Ann's team), the admin member, a write integration
    for caller in (people.keys["Bob"], api, integration):
        # then it is FORBIDDEN, and nothing changes
        assert refused(await accept(caller, id=handoff_id)) == [(["input", "id"], "FORBIDDEN")]
    assert await state(api, database) == before

    # and an integration key with the admin scope (acting for no member) may accept
    accepted = succeeded(await accept(admin_integration, id=handoff_id))["handoff"]
    assert accepted["acceptedBy"] == {"apiKeyId": admin_integration_id, "member": None}


async def test_handoff_refusals_change_nothing(
    api: Api, other_api: Api, database: Database
) -> None:
    # given a lead of Ann's in Inside, an inactive member, and another workspace's people
    people = await add_people(api, {"Inside": ["Ann"]}, ["Bob", "Zed"])
    ann, inside = people.members["Ann"], people.teams["Inside"]
    await deactivate(api, people.members["Zed"])
    foreign = await add_people(other_api, {"Elsewhere": ["Eve"]})
    foreign_lead = await new_lead(other_api)
    lead = await new_lead(api, ownerId=ann, teamId=inside)
    deleted = await new_lead(api)
    await api(
        "mutation($input: LeadVersionInput!) { deleteLead(input: $input) { errors { code } } }",
        {"input": {"id": deleted["id"]}},
    )
    before = await state(api, database)
    other_before = await state(other_api, database)
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({}, [(["input", "toOwnerId"], "VALIDATION")]),
        ({"toOwnerId": None, "toTeamId": None}, [(["input", "toOwnerId"], "VALIDATION")]),
        ({"toOwnerId": foreign.members["Eve"]}, [(["input", "toOwnerId"], "NOT_FOUND")]),
        ({"toOwnerId": UNKNOWN_ID}, [(["input", "toOwnerId"], "NOT_FOUND")]),
        ({"toTeamId": UNKNOWN_ID}, [(["input", "toTeamId"], "NOT_FOUND")]),
        ({"toTeamId": foreign.teams["Elsewhere"]}, [(["input", "toTeamId"], "NOT_FOUND")]),
        ({"toOwnerId": people.members["Zed"]}, [(["input", "toOwnerId"], "INVALID_STATE")]),
        ({"toOwnerId": ann}, [(["input", "toOwnerId"], "VALIDATION")]),
        ({"toOwnerId": ann, "toTeamId": inside}, [(["input", "toOwnerId"], "VALIDATION")]),
        ({"toTeamId": inside}, [(["input", "toTeamId"], "VALIDATION")]),
        (
            {"toOwnerId": people.members["Bob"], "note": "x" * 2001},
            [(["input", "note"], "VALIDATION")],
        ),
        (
            {"toOwnerId": people.members["Bob"], "expectedVersion": 7},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        ({"toOwnerId": "not-an-id"}, [(["input", "toOwnerId"], "VALIDATION")]),
        ({"toTeamId": "not-an-id"}, [(["input", "toTeamId"], "VALIDATION")]),
        (
            {"leadId": "not-an-id", "toOwnerId": people.members["Bob"]},
            [(["input", "leadId"], "VALIDATION")],
        ),
        (
            {"leadId": UNKNOWN_ID, "toOwnerId": people.members["Bob"]},
            [(["input", "leadId"], "NOT_FOUND")],
        ),
        (
            {"leadId": deleted["id"], "toOwnerId": people.members["Bob"]},
            [(["input", "leadId"], "NOT_FOUND")],
        ),
        (
            {"leadId": foreign_lead["id"], "toOwnerId": people.members["Bob"]},
            [(["input", "leadId"], "NOT_FOUND")],
        ),
    ]
    for input, expected in cases:
        payload = await hand_off(api, **{"leadId": lead["id"], **input})
        assert refused(payload) == expected, input
        assert await state(api, database) == before, input
    assert await state(other_api, database) == other_before

    # and the longest note is accepted (after trimming)
    note = "n" * 2000
    payload = succeeded(
        await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Bob"], note=f" {note} ")
    )
    assert payload["handoff"]["note"] == note


async def test_accept_refusals_change_nothing(api: Api, other_api: Api, database: Database) -> None:
    # given a handoff to Ann, accepted once, and a pending one of another lead
    people = await add_people(api, {}, ["Ann"])
    ann_key = people.keys["Ann"]
    lead, other_lead = await new_lead(api), await new_lead(api)
    done = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
    succeeded(await accept(ann_key, id=done["handoff"]["id"]))
    pending = succeeded(
        await hand_off(api, leadId=other_lead["id"], toOwnerId=people.members["Ann"])
    )
    before = await state(api, database)
    cases = [
        ({"id": done["handoff"]["id"]}, [(["input", "id"], "INVALID_STATE")]),
        (
            {"id": pending["handoff"]["id"], "expectedVersion": 2},
            [(["input", "expectedVersion"], "CONFLICT")],
        ),
        ({"id": "not-an-id"}, [(["input", "id"], "VALIDATION")]),
        ({"id": UNKNOWN_ID}, [(["input", "id"], "NOT_FOUND")]),
    ]
    for input, expected in cases:
        assert refused(await accept(ann_key, **input)) == expected, input
        assert await state(api, database) == before, input

    # and another workspace's admin finds no such handoff
    assert refused(await accept(other_api, id=pending["handoff"]["id"])) == [
        (["input", "id"], "NOT_FOUND")
    ]
    assert await state(api, database) == before

    # while the right version is accepted
    accepted = succeeded(await accept(ann_key, id=pending["handoff"]["id"], expectedVersion=1))
    assert accepted["handoff"]["version"] == 2


async def test_a_stale_lead_version_is_a_conflict(api: Api, database: Database) -> None:
    people = await add_people(api, {}, ["Ann", "Bob"])
    lead = await new_lead(api)
    succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
    before = await state(api, database)

    payload = await hand_off(
        api, leadId=lead["id"], toOwnerId=people.members["Bob"], expectedVersion=1
    )

    assert payload["errors"] == [
        {
            "field": ["input", "expectedVersion"],
            "code": "CONFLICT",
            "message": "the lead was changed by someone else: expected version 1, it is 2",
        }
    ]
    assert await state(api, database) == before


async def test_a_read_key_cannot_hand_over_or_accept(api: Api, database: Database) -> None:
    people = await add_people(api, {}, ["Ann"])
    lead = await new_lead(api)
    handoff = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
    reader, _ = await create_key(api, ["READ"], people.members["Ann"])
    before = await state(api, database)

    responses = [
        await reader.post(HAND_OFF, {"input": {"leadId": lead["id"], "toOwnerId": people.admin}}),
        await reader.post(ACCEPT, {"input": {"id": handoff["handoff"]["id"]}}),
    ]

    for response in responses:
        body = response.json()
        assert body["data"] is None
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert await state(api, database) == before
    assert len(await handoff_nodes(reader)) == 1


async def test_concurrent_handoffs_of_one_lead_leave_one_pending(api: Api) -> None:
    # given a lead, and six handoffs of it at once, to Ann and Bob in turn
    people = await add_people(api, {}, ["Ann", "Bob"])
    lead = await new_lead(api)
    receivers = [people.members["Ann"], people.members["Bob"]] * 3

    payloads = await asyncio.gather(
        *(hand_off(api, leadId=lead["id"], toOwnerId=receiver) for receiver in receivers)
    )

    # then those that changed the owner succeeded one after the other: exactly one is pending,
    # the others were superseded, each when the next was handed
    done = [succeeded(payload) for payload in payloads if payload["errors"] == []]
    refusals = [refused(payload) for payload in payloads if payload["errors"]]
    assert refusals == [[(["input", "toOwnerId"], "VALIDATION")]] * len(refusals)
    history = await handoff_nodes(api, {"leadId": {"eq": lead["id"]}})
    assert len(history) == len(done) >= 2
    assert [node["status"] for node in history] == ["PENDING"] + ["SUPERSEDED"] * (len(done) - 1)
    for newer, older in itertools.pairwise(history):
        assert older["supersededAt"] == newer["handedAt"]
        assert older["toOwner"] == newer["fromOwner"]
        assert older["toOwner"] != newer["toOwner"]
    final = await api(
        "query($id: ID!) { lead(id: $id) { owner { id } version } }", {"id": lead["id"]}
    )
    assert final["lead"] == {"owner": history[0]["toOwner"], "version": 1 + len(done)}


async def test_concurrent_acceptances_accept_once(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])
    lead = await new_lead(api)
    handoff = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))

    payloads = await asyncio.gather(
        *(accept(people.keys["Ann"], id=handoff["handoff"]["id"]) for _ in range(4))
    )

    assert sorted(len(payload["errors"]) for payload in payloads) == [0, 1, 1, 1]
    assert (
        sorted(
            (error["field"], error["code"]) for payload in payloads for error in payload["errors"]
        )
        == [(["input", "id"], "INVALID_STATE")] * 3
    )


# --- reading ---------------------------------------------------------------------------------


async def test_filters_and_the_inbox(api: Api) -> None:
    # given handoffs to Ann and Bob, from various owners, some accepted
    people = await add_people(api, {"Inside": ["Ann"]}, ["Bob"])
    ann, bob, inside = people.members["Ann"], people.members["Bob"], people.teams["Inside"]
    one, two, three = await new_lead(api), await new_lead(api, ownerId=bob), await new_lead(api)
    h1 = succeeded(await hand_off(api, leadId=one["id"], toOwnerId=ann))["handoff"]
    h2 = succeeded(await hand_off(api, leadId=two["id"], toOwnerId=ann))["handoff"]
    h3 = succeeded(await hand_off(api, leadId=three["id"], toOwnerId=bob))["handoff"]
    h4 = succeeded(await hand_off(api, leadId=one["id"], toTeamId=inside))["handoff"]
    succeeded(await accept(people.keys["Bob"], id=h3["id"]))

    async def ids(filter: dict[str, Any]) -> list[str]:
        return [node["id"] for node in await handoff_nodes(api, filter)]

    # then each filter finds exactly its handoffs, newest first
    assert await ids({"toOwnerId": {"eq": ann}, "status": {"eq": "PENDING"}}) == [h2["id"]]
    assert await ids({"toOwnerId": {"eq": ann}}) == [h2["id"], h1["id"]]
    assert await ids({"toTeamId": {"eq": inside}}) == [h4["id"]]
    assert await ids({"toTeamId": {"is": "NULL"}}) == [h3["id"], h2["id"], h1["id"]]
    assert await ids({"fromOwnerId": {"eq": bob}}) == [h2["id"]]
    assert await ids({"leadId": {"in": [one["id"], three["id"]]}}) == [
        h4["id"],
        h3["id"],
        h1["id"],
    ]
    assert await ids({"status": {"in": ["ACCEPTED", "SUPERSEDED"]}}) == [h3["id"], h1["id"]]
    assert await ids({"handedAt": {"gte": h3["handedAt"]}}) == [h4["id"], h3["id"]]
    assert await ids({"handedAt": {"lt": h2["handedAt"]}}) == [h1["id"]]
    assert await ids({}) == [h4["id"], h3["id"], h2["id"], h1["id"]]

    # and a malformed id in a filter is a coded query error
    response = await api.post(HANDOFFS, {"filter": {"toOwnerId": {"eq": "nope"}}})
    [error] = response.json()["errors"]
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "reason": "VALIDATION",
        "field": ["filter", "toOwnerId", "eq"],
    }


async def test_paging_forward_and_backward(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])
    handed = []
    for _ in range(5):
        lead = await new_lead(api)
        handed.append(
            succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
        )
    newest_first = [payload["handoff"]["id"] for payload in reversed(handed)]

    page1 = await list_handoffs(api, first=2)
    page2 = await list_handoffs(api, first=2, after=page1["pageInfo"]["endCursor"])
    page3 = await list_handoffs(api, first=2, after=page2["pageInfo"]["endCursor"])
    back = await list_handoffs(api, last=2, before=page3["pageInfo"]["startCursor"])

    def node_ids(connection: dict[str, Any]) -> list[str]:
        return [edge["node"]["id"] for edge in connection["edges"]]

    assert [node_ids(page) for page in (page1, page2, page3)] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:],
    ]
    assert node_ids(back) == newest_first[2:4]
    assert (page1["totalCount"], page3["pageInfo"]["hasNextPage"]) == (5, False)
    assert page1["pageInfo"]["hasNextPage"] is True
    bad = await api.post(HANDOFFS, {"first": 2, "after": "garbage"})
    assert bad.json()["errors"][0]["extensions"]["field"] == ["after"]


async def test_handoffs_of_deleted_leads_are_hidden(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])
    lead = await new_lead(api)
    handoff = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
    await api(
        "mutation($input: LeadVersionInput!) { deleteLead(input: $input) { errors { code } } }",
        {"input": {"id": lead["id"]}},
    )

    assert await handoff_nodes(api) == []
    assert (await api(HANDOFF, {"id": handoff["handoff"]["id"]}))["handoff"] is None
    assert refused(await accept(people.keys["Ann"], id=handoff["handoff"]["id"])) == [
        (["input", "id"], "NOT_FOUND")
    ]

    await api(
        "mutation($input: LeadVersionInput!) { restoreLead(input: $input) { errors { code } } }",
        {"input": {"id": lead["id"]}},
    )
    assert [node["id"] for node in await handoff_nodes(api)] == [handoff["handoff"]["id"]]


async def test_handoff_by_id(api: Api) -> None:
    people = await add_people(api, {}, ["Ann"])
    lead = await new_lead(api)
    handoff = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))

    read = (await api(HANDOFF, {"id": handoff["handoff"]["id"]}))["handoff"]

    assert read == handoff["handoff"]
    for missing in (UNKNOWN_ID, "not-an-id"):
        assert (await api(HANDOFF, {"id": missing}))["handoff"] is None


async def test_tenant_isolation(api: Api, other_api: Api, database: Database) -> None:
    # given a pending handoff in our workspace
    people = await add_people(api, {"Inside": ["Ann"]})
    lead = await new_lead(api)
    handoff = succeeded(await hand_off(api, leadId=lead["id"], toOwnerId=people.members["Ann"]))
    handoff_id = handoff["handoff"]["id"]
    foreign = await add_people(other_api, {}, ["Eve"])
    before = await state(api, database)

    # then the other workspace sees none of it
    assert (await other_api(HANDOFF, {"id": handoff_id}))["handoff"] is None
    assert await handoff_nodes(other_api) == []
    assert await handoff_nodes(other_api, {"leadId": {"eq": lead["id"]}}) == []
    assert await handoff_nodes(other_api, {"toOwnerId": {"eq": people.members["Ann"]}}) == []

    # and can change none of it, not even with its own members or through ours
    assert refused(
        await hand_off(other_api, leadId=lead["id"], toOwnerId=foreign.members["Eve"])
    ) == [(["input", "leadId"], "NOT_FOUND")]
    assert refused(await accept(other_api, id=handoff_id)) == [(["input", "id"], "NOT_FOUND")]
    assert refused(await accept(foreign.keys["Eve"], id=handoff_id)) == [
        (["input", "id"], "NOT_FOUND")
    ]
    assert await state(api, database) == before


# --- nested lists and statements -------------------------------------------------------------


async def test_a_leads_handoffs_load_in_one_batch(api: Api, database: Database) -> None:
    # given two leads with 3 and 1 handoffs, and one with none
    people = await add_people(api, {}, ["Ann", "Bob"])
    ann, bob = people.members["Ann"], people.members["Bob"]
    busy, quiet, untouched = await new_lead(api), await new_lead(api), await new_lead(api)
    busy_ids = [
        succeeded(await hand_off(api, leadId=busy["id"], toOwnerId=owner))["handoff"]["id"]
        for owner in (ann, bob, ann)
    ]
    quiet_id = succeeded(await hand_off(api, leadId=quiet["id"], toOwnerId=bob))["handoff"]["id"]
    lead_ids = [uuid.UUID(lead["id"]) for lead in (busy, quiet, untouched)]
    page = PageRequest(first=2)

    # when their first pages and counts are loaded as one DataLoader batch each
    async with read_session(database, workspace_id=api.workspace_id) as session:
        pages = await handoff_loaders.handoffs_by_lead_id(
            session, [(lead_id, page) for lead_id in lead_ids]
        )
        counts = await handoff_loaders.handoff_count_by_lead_id(session, lead_ids)

    # then each lead gets its own, newest first
    assert [[str(row.id) for row in result.rows] for result in pages] == [
        busy_ids[::-1][:2],
        [quiet_id],
        [],
    ]
    assert [result.has_next_page for result in pages] == [True, False, False]
    assert counts == [3, 1, 0]


LIST_QUERY = """{ handoffs(first: 50) { totalCount edges { node {
    id lead { title } toOwner { name } fromOwner { name } handedBy { member { name } }
} } } }"""
# The API key, the page, its count, the leads, and the members (owners and handers at once).
LIST_STATEMENTS = 5


async def seed_handoffs(api: Api, count: int) -> None:
    people = await add_people(api, {}, ["Ann", "Bob", "Cem"])
    names = ["Ann", "Bob", "Cem"]
    for index in range(count):
        lead = await new_lead(api, title=f"Deal {index}", ownerId=people.members[names[index % 3]])
        succeeded(
            await hand_off(
                people.keys[names[index % 3]],
                leadId=lead["id"],
                toOwnerId=people.members[names[(index + 1) % 3]],
            )
        )


async def test_listing_costs_the_same_statements_for_3_and_30_handoffs(
    api: Api, other_api: Api, statements: StatementCounter
) -> None:
    # given 3 handoffs in one workspace and 30 in another
    await seed_handoffs(api, 3)
    await seed_handoffs(other_api, 30)

    # when each list is read with its leads, owners and handers
    counts = []
    for caller, expected in ((api, 3), (other_api, 30)):
        await caller(LIST_QUERY)  # warm: the key's last use is recorded
        with statements.counting() as executed:
            data = await caller(LIST_QUERY)
        counts.append(len(executed))
        nodes = [edge["node"] for edge in data["handoffs"]["edges"]]
        assert data["handoffs"]["totalCount"] == len(nodes) == expected
        for node in nodes:
            index = int(node["lead"]["title"].split()[1])
            names = ["Ann", "Bob", "Cem"]
            assert node["fromOwner"] == {"name": names[index % 3]}
            assert node["toOwner"] == {"name": names[(index + 1) % 3]}
            assert node["handedBy"] == {"member": {"name": names[index % 3]}}

    # then both cost the same, fixed number of statements
    assert counts == [LIST_STATEMENTS, LIST_STATEMENTS]
