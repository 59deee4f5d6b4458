"""Activities through the GraphQL endpoint: logging (completed and planned), completing,
correcting, cancelling and deleting them, and what they keep exact on the lead.

Covered:

1. A lead with a known history (created, moved twice, activities logged between the moves and
   one backfilled after a later move, planned ones with due times and assignees, one completed,
   one cancelled, others corrected and deleted): every activity's stage, status and times, and
   the lead's nextFollowUpAt and lastActivityAt after every step; the agenda of a member for a
   window (from included, to excluded, soonest first, ties by id); overdueFollowUps; leads with
   no next step (`nextFollowUpAt: {is: NULL}`) and sorted by NEXT_FOLLOW_UP_AT.
2. Bulk logging (logActivities): 500 rows in one call at the statements of 5 rows, 501 rows
   refused, both error policies with per-row error paths, duplicate externalIds.
3. Validation of every bad input, each with its exact field path and code, and nothing changed
   after each refusal (the lead's version and summary times, every activity, the count).
4. Tenant isolation of every activity query and mutation.
5. The statements a lead page and a lead list with nested activities cost: the same for 5 and
   200 activities, and for 3 and 30 leads.

The follow-up cadence has its own module (tests/test_cadence.py); the tests here that log
outbound touches switch it off so that only what they log is on the lead.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from salesgraph.db.engine import Database
from tests.conftest import Api, StatementCounter, new_workspace

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "01a21c19-758a-7126-9b0d-716b47d50b0d"
US = timedelta(microseconds=1)
DAY = timedelta(days=1)

ACTIVITY_FIELDS = """
fragment ActivityFields on Activity {
  id type status subject body direction dueAt occurredAt at durationSeconds outcome
  approachMethod closingTechnique cadenceStep canceledAt cancelReason externalId version
  createdAt updatedAt deletedAt
  stage { name }
  assignee { id }
  lead { id }
  createdBy { apiKeyId member { id } }
  completedBy { apiKeyId member { id } }
}
"""

INPUT_TYPES = {
    "logActivity": "LogActivityInput",
    "completeActivity": "CompleteActivityInput",
    "updateActivity": "UpdateActivityInput",
    "cancelActivity": "CancelActivityInput",
    "deleteActivity": "DeleteActivityInput",
}

LOG_ACTIVITIES = (
    """mutation($input: LogActivitiesInput!) { logActivities(input: $input) {
    loggedCount errors { field code message }
    results { index errors { field code message } activity { ...ActivityFields } } } }"""
    + ACTIVITY_FIELDS
)

STATE_QUERY = """query($id: ID!) {
  lead(id: $id) {
    version updatedAt nextFollowUpAt lastActivityAt cadencePausedAt
    activities(first: 100) {
      totalCount
      nodes {
        id status version updatedAt dueAt occurredAt at outcome subject durationSeconds
        cancelReason stage { name } assignee { id }
      }
    }
  }
  activities(first: 1) { totalCount }
}"""


# --- helpers (tests/test_cadence.py uses them too) ---------------------------------------------


def ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def iso(value: datetime) -> str:
    return value.isoformat()


def mid(earlier: datetime, later: datetime) -> datetime:
    return earlier + (later - earlier) / 2


async def db_now(database: Database) -> datetime:
    """The database clock, which every written time comes from."""
    async with database.engine.connect() as connection:
        value = await connection.scalar(text("SELECT now()"))
    assert isinstance(value, datetime)
    return value


async def mutate(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    """The payload ({activity, errors}) of an activity mutation."""
    query = (
        f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
        " activity { ...ActivityFields } errors { field code message } } }" + ACTIVITY_FIELDS
    )
    data = await api(query, {"input": input})
    return data[mutation]  # type: ignore[no-any-return]


async def succeed(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    """The activity of a mutation that must succeed."""
    payload = await mutate(api, mutation, input)
    assert payload["errors"] == []
    assert payload["activity"] is not None
    return payload["activity"]  # type: ignore[no-any-return]


async def fail(api: Api, mutation: str, input: dict[str, Any]) -> list[tuple[list[str], str]]:
    """The (field, code) pairs of a mutation that must be refused."""
    payload = await mutate(api, mutation, input)
    assert payload["activity"] is None
    assert payload["errors"], "expected the mutation to be refused"
    return [(error["field"], error["code"]) for error in payload["errors"]]


async def log_many(
    api: Api, rows: list[dict[str, Any]], policy: str | None = None
) -> dict[str, Any]:
    input: dict[str, Any] = {"activities": rows}
    if policy is not None:
        input["errorPolicy"] = policy
    return (await api(LOG_ACTIVITIES, {"input": input}))["logActivities"]  # type: ignore[no-any-return]


async def state(api: Api, lead_id: str) -> dict[str, Any]:
    """The lead's version, summary times and activities, and the workspace's activity count."""
    return await api(STATE_QUERY, {"id": lead_id})


async def summary(api: Api, lead_id: str) -> tuple[datetime | None, datetime | None]:
    """(nextFollowUpAt, lastActivityAt) of a lead."""
    lead = (await state(api, lead_id))["lead"]
    return ts(lead["nextFollowUpAt"]), ts(lead["lastActivityAt"])


async def new_member(api: Api, name: str, *, active: bool = True) -> str:
    data = await api(
        """mutation($input: CreateMemberInput!) { createMember(input: $input) {
            member { id } errors { field code } } }""",
        {
            "input": {
                "email": f"{name.lower()}-{secrets.token_hex(3)}@example.com",
                "name": name,
                "role": "REP",
            }
        },
    )
    assert data["createMember"]["errors"] == []
    member_id: str = data["createMember"]["member"]["id"]
    if not active:
        deactivated = await api(
            """mutation($input: UpdateMemberInput!) { updateMember(input: $input) {
                member { isActive } errors { field code } } }""",
            {"input": {"id": member_id, "isActive": False}},
        )
        assert deactivated["updateMember"] == {"member": {"isActive": False}, "errors": []}
    return member_id


async def viewer_member(api: Api) -> str:
    data = await api("{ viewer { member { id } apiKey { id } } }")
    return data["viewer"]["member"]["id"]  # type: ignore[no-any-return]


async def viewer_key(api: Api) -> str:
    data = await api("{ viewer { apiKey { id } } }")
    return data["viewer"]["apiKey"]["id"]  # type: ignore[no-any-return]


async def stages(api: Api) -> list[tuple[str, str]]:
    """(id, name) of the default pipeline's stages, in order."""
    data = await api("{ pipelines { stages { id name } } }")
    return [(stage["id"], stage["name"]) for stage in data["pipelines"][0]["stages"]]


async def new_lead(api: Api, title: str = "Deal", **fields: Any) -> dict[str, Any]:
    data = await api(
        """mutation($input: CreateLeadInput!) { createLead(input: $input) {
            lead { id createdAt version } errors { field code } } }""",
        {"input": {"title": title, **fields}},
    )
    assert data["createLead"]["errors"] == []
    return data["createLead"]["lead"]  # type: ignore[no-any-return]


async def lead_mutation(api: Api, mutation: str, input_type: str, input: dict[str, Any]) -> Any:
    data = await api(
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{"
        " lead { id version stageEnteredAt status } errors { field code } } }",
        {"input": input},
    )
    assert data[mutation]["errors"] == [], data[mutation]["errors"]
    return data[mutation]["lead"]


async def move(api: Api, lead_id: str, stage_id: str) -> datetime:
    """Move a lead; returns when it entered the stage."""
    lead = await lead_mutation(
        api, "moveLead", "MoveLeadInput", {"id": lead_id, "stageId": stage_id}
    )
    entered = ts(lead["stageEnteredAt"])
    assert entered is not None
    await asyncio.sleep(0.002)  # the next step happens strictly later
    return entered


async def set_cadence(api: Api, **fields: Any) -> dict[str, Any]:
    data = await api(
        """mutation($input: UpdateFollowUpCadenceInput!) { updateFollowUpCadence(input: $input) {
            followUpCadence { enabled maxTouches intervalsDays version updatedAt }
            errors { field code message } } }""",
        {"input": fields},
    )
    return data["updateFollowUpCadence"]  # type: ignore[no-any-return]


async def cadence_off(api: Api) -> None:
    payload = await set_cadence(api, enabled=False)
    assert payload["errors"] == []


def names(nodes: list[dict[str, Any]]) -> list[str | None]:
    return [node["subject"] for node in nodes]


# --- 1. A lead with a known history ------------------------------------------------------------


async def test_a_lead_with_a_known_history(api: Api, database: Database) -> None:
    await cadence_off(api)
    admin, key = await viewer_member(api), await viewer_key(api)
    olga, rita = await new_member(api, "Olga"), await new_member(api, "Rita")
    (_, prospecting), (s2, preparation), (s3, needs) = (await stages(api))[:3]

    # Created at t0, in Prospecting; no activity yet.
    lead = await new_lead(api, "Known history", ownerId=olga)
    lead_id, t0 = lead["id"], ts(lead["createdAt"])
    assert t0 is not None
    assert await summary(api, lead_id) == (None, None)
    await asyncio.sleep(0.002)

    # A note at the very moment the lead was created: Prospecting, by the caller.
    note = await succeed(
        api,
        "logActivity",
        {
            "leadId": lead_id,
            "type": "NOTE",
            "occurredAt": iso(t0),
            "subject": "  First notes  ",
            "body": " Met at the fair ",
        },
    )
    assert {k: note[k] for k in ("type", "status", "subject", "body", "direction")} == {
        "type": "NOTE",
        "status": "COMPLETED",
        "subject": "First notes",
        "body": "Met at the fair",
        "direction": None,
    }
    assert ts(note["occurredAt"]) == t0
    assert ts(note["at"]) == t0
    assert note["dueAt"] is None
    assert note["stage"] == {"name": prospecting}
    assert note["assignee"] == {"id": admin}
    assert note["createdBy"] == {"apiKeyId": key, "member": {"id": admin}}
    assert note["completedBy"] == {"apiKeyId": key, "member": {"id": admin}}
    assert note["lead"] == {"id": lead_id}
    assert note["cadenceStep"] is None
    assert note["version"] == 1
    assert note["canceledAt"] is None
    assert note["deletedAt"] is None
    assert await summary(api, lead_id) == (None, t0)

    # Moved to Preparation at t1; a call at exactly t1 is in Preparation.
    t1 = await move(api, lead_id, s2)
    call = await succeed(
        api,
        "logActivity",
        {
            "leadId": lead_id,
            "type": "CALL",
            "direction": "OUTBOUND",
            "outcome": "NEUTRAL",
            "occurredAt": iso(t1),
            "durationSeconds": 300,
            "subject": "Call",
        },
    )
    assert call["stage"] == {"name": preparation}
    assert (call["outcome"], call["durationSeconds"]) == ("NEUTRAL", 300)
    assert await summary(api, lead_id) == (None, t1)

    # Moved to Needs assessment at t2. A meeting backfilled now, that happened between t0 and
    # t1, gets the stage of its time (Prospecting); lastActivityAt stays at the later call.
    t2 = await move(api, lead_id, s3)
    meeting = await succeed(
        api,
        "logActivity",
        {
            "leadId": lead_id,
            "type": "MEETING",
            "direction": "INBOUND",
            "outcome": "POSITIVE",
            "occurredAt": iso(mid(t0, t1)),
            "subject": "Meeting",
        },
    )
    assert meeting["stage"] == {"name": prospecting}
    assert ts(meeting["occurredAt"]) == mid(t0, t1)
    assert await summary(api, lead_id) == (None, t1)
    # One microsecond before the second move: still Preparation, and now the latest.
    email = await succeed(
        api,
        "logActivity",
        {"leadId": lead_id, "type": "EMAIL", "occurredAt": iso(t2 - US), "subject": "Email"},
    )
    assert email["stage"] == {"name": preparation}
    assert await summary(api, lead_id) == (None, t2 - US)

    # Planned activities: due times and assignees (the owner when none is given).
    now = await db_now(database)
    in_3_days, tomorrow, yesterday = (
        now + timedelta(days=3),
        now + timedelta(days=1),
        now - timedelta(days=1),
    )
    task = await succeed(
        api,
        "logActivity",
        {
            "leadId": lead_id,
            "type": "TASK",
            "dueAt": iso(in_3_days),
            "assigneeId": rita,
            "subject": "Task",
        },
    )
    assert task["status"] == "PLANNED"
    assert (ts(task["dueAt"]), ts(task["at"]), task["occurredAt"]) == (in_3_days, in_3_days, None)
    assert task["stage"] is None
    assert task["outcome"] is None
    assert task["assignee"] == {"id": rita}
    assert task["createdBy"] == {"apiKeyId": key, "member": {"id": admin}}
    assert task["completedBy"] is None
    assert await summary(api, lead_id) == (in_3_days, t2 - US)
    follow_up = await succeed(
        api,
        "logActivity",
        {"leadId": lead_id, "type": "CALL", "dueAt": iso(tomorrow), "subject": "Follow-up"},
    )
    assert follow_up["assignee"] == {"id": olga}
    assert await summary(api, lead_id) == (tomorrow, t2 - US)
    offer = await succeed(
        api,
        "logActivity",
        {
            "leadId": lead_id,
            "type": "QUOTE",
            "direction": "OUTBOUND",
            "dueAt": iso(yesterday),
            "assigneeId": rita,
            "subject": "Offer",
        },
    )
    assert await summary(api, lead_id) == (yesterday, t2 - US)

    # The overdue offer is completed, as of when it was planned: it is at the current stage.
    offered_at = ts(offer["createdAt"])
    assert offered_at is not None
    done = await succeed(
        api,
        "completeActivity",
        {
            "id": offer["id"],
            "occurredAt": iso(offered_at),
            "outcome": "POSITIVE",
            "durationSeconds": 120,
            "subject": " Sent the offer ",
            "approachMethod": "QUESTION",
            "closingTechnique": "URGENCY",
            "expectedVersion": 1,
        },
    )
    assert {
        k: done[k]
        for k in ("status", "outcome", "durationSeconds", "subject", "approachMethod", "version")
    } == {
        "status": "COMPLETED",
        "outcome": "POSITIVE",
        "durationSeconds": 120,
        "subject": "Sent the offer",
        "approachMethod": "QUESTION",
        "version": 2,
    }
    assert done["closingTechnique"] == "URGENCY"
    assert (ts(done["occurredAt"]), ts(done["at"]), ts(done["dueAt"])) == (
        offered_at,
        offered_at,
        yesterday,
    )
    assert done["stage"] == {"name": needs}
    assert done["assignee"] == {"id": rita}
    assert done["completedBy"] == {"apiKeyId": key, "member": {"id": admin}}
    assert await summary(api, lead_id) == (tomorrow, offered_at)

    # The follow-up is called off: the task is next.
    canceled = await succeed(
        api,
        "cancelActivity",
        {"id": follow_up["id"], "reason": "  on holiday  ", "expectedVersion": 1},
    )
    assert (canceled["status"], canceled["cancelReason"], canceled["version"]) == (
        "CANCELED",
        "on holiday",
        2,
    )
    assert canceled["canceledAt"] is not None
    assert (ts(canceled["at"]), canceled["occurredAt"], canceled["outcome"]) == (
        tomorrow,
        None,
        None,
    )
    assert await summary(api, lead_id) == (in_3_days, offered_at)

    # The task is moved earlier: it stays next, at its new time.
    in_5_hours = now + timedelta(hours=5)
    moved = await succeed(api, "updateActivity", {"id": task["id"], "dueAt": iso(in_5_hours)})
    assert (ts(moved["dueAt"]), ts(moved["at"]), moved["version"]) == (in_5_hours, in_5_hours, 2)
    assert await summary(api, lead_id) == (in_5_hours, offered_at)

    # The meeting's time is corrected to after the offer: its stage follows, and it is latest.
    corrected_at = offered_at + timedelta(milliseconds=1)
    corrected = await succeed(
        api, "updateActivity", {"id": meeting["id"], "occurredAt": iso(corrected_at)}
    )
    assert corrected["stage"] == {"name": needs}
    assert (ts(corrected["occurredAt"]), ts(corrected["at"])) == (corrected_at, corrected_at)
    assert await summary(api, lead_id) == (in_5_hours, corrected_at)

    # Deleting the meeting gives lastActivityAt back to the offer; deleting the task leaves
    # no next step.
    deleted = await succeed(api, "deleteActivity", {"id": meeting["id"]})
    assert deleted["deletedAt"] is not None
    assert await summary(api, lead_id) == (in_5_hours, offered_at)
    await succeed(api, "deleteActivity", {"id": task["id"], "expectedVersion": 2})
    assert await summary(api, lead_id) == (None, offered_at)
    assert (await api("query($id: ID!) { activity(id: $id) { id } }", {"id": task["id"]})) == {
        "activity": None
    }

    # The lead's activities, newest first (by occurredAt, else dueAt), deleted ones left out;
    # none of this changed the lead's own version (1, then two moves).
    final = await state(api, lead_id)
    nodes = final["lead"]["activities"]["nodes"]
    assert names(nodes) == ["Follow-up", "Sent the offer", "Email", "Call", "First notes"]
    assert [node["stage"] for node in nodes] == [
        None,
        {"name": needs},
        {"name": preparation},
        {"name": preparation},
        {"name": prospecting},
    ]
    assert final["lead"]["activities"]["totalCount"] == 5
    assert final["activities"]["totalCount"] == 5
    assert final["lead"]["version"] == 3


async def test_the_agenda_of_a_member_for_a_window(api: Api, database: Database) -> None:
    rita, sam = await new_member(api, "Rita"), await new_member(api, "Sam")
    lead_a, lead_b = (await new_lead(api, "A"))["id"], (await new_lead(api, "B"))["id"]
    gone = (await new_lead(api, "Gone"))["id"]
    start = (await db_now(database) + timedelta(days=10)).replace(microsecond=0)
    end = start + timedelta(hours=2)

    def planned(lead_id: str, subject: str, due: datetime, assignee: str) -> dict[str, Any]:
        return {
            "leadId": lead_id,
            "type": "CALL",
            "subject": subject,
            "dueAt": iso(due),
            "assigneeId": assignee,
        }

    rows = [
        planned(lead_b, "tie 1", start + timedelta(hours=1), rita),
        planned(lead_a, "at from", start, rita),
        planned(lead_a, "tie 2", start + timedelta(hours=1), rita),
        planned(lead_a, "just before to", end - US, rita),
        planned(lead_a, "at to", end, rita),
        planned(lead_a, "just before from", start - US, rita),
        planned(lead_b, "Sam's", start + timedelta(minutes=30), sam),
        planned(lead_a, "canceled", start + timedelta(minutes=40), rita),
        planned(lead_a, "completed", start + timedelta(minutes=50), rita),
        planned(lead_a, "deleted", start + timedelta(minutes=55), rita),
        planned(gone, "deleted lead", start + timedelta(minutes=20), rita),
    ]
    result = await log_many(api, rows)
    assert result["loggedCount"] == len(rows)
    ids = {row["activity"]["subject"]: row["activity"]["id"] for row in result["results"]}
    await succeed(api, "cancelActivity", {"id": ids["canceled"]})
    await succeed(api, "completeActivity", {"id": ids["completed"], "outcome": "NEUTRAL"})
    await succeed(api, "deleteActivity", {"id": ids["deleted"]})
    await lead_mutation(api, "deleteLead", "LeadVersionInput", {"id": gone})

    agenda = """query($from: DateTime!, $to: DateTime!, $assignee: ID, $first: Int,
        $after: String) {
      agenda(from: $from, to: $to, assigneeId: $assignee, first: $first, after: $after) {
        totalCount nodes { subject status } pageInfo { hasNextPage endCursor } } }"""
    window = {"from": iso(start), "to": iso(end)}

    ritas = (await api(agenda, {**window, "assignee": rita}))["agenda"]
    assert names(ritas["nodes"]) == ["at from", "tie 1", "tie 2", "just before to"]
    assert {node["status"] for node in ritas["nodes"]} == {"PLANNED"}
    assert ritas["totalCount"] == 4
    # Ties on dueAt are ordered by id: tie 1 was logged first.
    assert ids["tie 1"] < ids["tie 2"]

    everyone = (await api(agenda, window))["agenda"]
    assert names(everyone["nodes"]) == ["at from", "Sam's", "tie 1", "tie 2", "just before to"]
    assert (await api(agenda, {**window, "assignee": sam}))["agenda"]["totalCount"] == 1

    # Paged two at a time, the same order.
    first = (await api(agenda, {**window, "assignee": rita, "first": 2}))["agenda"]
    assert names(first["nodes"]) == ["at from", "tie 1"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = (
        await api(
            agenda,
            {**window, "assignee": rita, "first": 2, "after": first["pageInfo"]["endCursor"]},
        )
    )["agenda"]
    assert names(second["nodes"]) == ["tie 2", "just before to"]
    assert second["pageInfo"]["hasNextPage"] is False

    # A deleted lead's activities are gone everywhere, and nothing can be logged on it.
    assert await api(
        "query($id: ID!) { activity(id: $id) { id } }", {"id": ids["deleted lead"]}
    ) == {"activity": None}
    assert await fail(api, "logActivity", {"leadId": gone, "type": "NOTE"}) == [
        (["input", "leadId"], "NOT_FOUND")
    ]

    # A window that ends where the first one begins has only what is due before it.
    before = (await api(agenda, {"from": iso(start - timedelta(hours=1)), "to": iso(start)}))[
        "agenda"
    ]
    assert names(before["nodes"]) == ["just before from"]


async def test_overdue_follow_ups_are_the_planned_ones_due_in_the_past(
    api: Api, database: Database
) -> None:
    rita, sam = await new_member(api, "Rita"), await new_member(api, "Sam")
    lead_id = (await new_lead(api))["id"]
    now = await db_now(database)

    def planned(subject: str, due: datetime, assignee: str) -> dict[str, Any]:
        return {
            "leadId": lead_id,
            "type": "TASK",
            "subject": subject,
            "dueAt": iso(due),
            "assigneeId": assignee,
        }

    result = await log_many(
        api,
        [
            planned("an hour late", now - timedelta(hours=1), rita),
            planned("two days late", now - timedelta(days=2), rita),
            planned("Sam's, a day late", now - timedelta(days=1), sam),
            planned("in an hour", now + timedelta(hours=1), rita),
            planned("canceled", now - timedelta(days=3), rita),
            planned("completed", now - timedelta(days=4), rita),
        ],
    )
    ids = {row["activity"]["subject"]: row["activity"]["id"] for row in result["results"]}
    await succeed(api, "cancelActivity", {"id": ids["canceled"]})
    await succeed(api, "completeActivity", {"id": ids["completed"]})

    overdue = """query($assignee: ID) { overdueFollowUps(assigneeId: $assignee) {
        totalCount nodes { subject } } }"""
    everyone = (await api(overdue))["overdueFollowUps"]
    assert names(everyone["nodes"]) == ["two days late", "Sam's, a day late", "an hour late"]
    assert everyone["totalCount"] == 3
    ritas = (await api(overdue, {"assignee": rita}))["overdueFollowUps"]
    assert names(ritas["nodes"]) == ["two days late", "an hour late"]
    # The lead's next follow-up is the most overdue one.
    assert (await summary(api, lead_id))[0] == now - timedelta(days=2)


async def test_leads_without_a_next_step_and_sorted_by_next_follow_up(
    api: Api, database: Database
) -> None:
    now = await db_now(database)
    nothing = (await new_lead(api, "Nothing"))["id"]
    later = (await new_lead(api, "Later"))["id"]
    sooner = (await new_lead(api, "Sooner"))["id"]
    only_done = (await new_lead(api, "Only done"))["id"]
    called_off = (await new_lead(api, "Called off"))["id"]
    await log_many(
        api,
        [
            {"leadId": later, "type": "CALL", "dueAt": iso(now + timedelta(days=2))},
            {"leadId": sooner, "type": "CALL", "dueAt": iso(now + timedelta(days=1))},
            {"leadId": sooner, "type": "EMAIL", "dueAt": iso(now + timedelta(days=4))},
            {"leadId": only_done, "type": "NOTE"},
            {"leadId": called_off, "type": "CALL", "dueAt": iso(now + timedelta(hours=1))},
        ],
    )
    planned = (
        await api(
            """query($id: ID!) { lead(id: $id) { activities { nodes { id } } } }""",
            {"id": called_off},
        )
    )["lead"]["activities"]["nodes"][0]["id"]
    await succeed(api, "cancelActivity", {"id": planned})

    query = """query($filter: LeadFilter, $orderBy: [LeadOrder!]) {
        leads(filter: $filter, orderBy: $orderBy) { totalCount nodes { title nextFollowUpAt } } }"""
    without = (await api(query, {"filter": {"nextFollowUpAt": {"is": "NULL"}}}))["leads"]
    assert sorted(node["title"] for node in without["nodes"]) == [
        "Called off",
        "Nothing",
        "Only done",
    ]
    assert without["totalCount"] == 3
    with_next = (await api(query, {"filter": {"nextFollowUpAt": {"is": "NOT_NULL"}}}))["leads"]
    assert sorted(node["title"] for node in with_next["nodes"]) == ["Later", "Sooner"]

    ascending = (await api(query, {"orderBy": [{"field": "NEXT_FOLLOW_UP_AT"}]}))["leads"]
    titles = [node["title"] for node in ascending["nodes"]]
    assert titles[:2] == ["Sooner", "Later"]
    assert sorted(titles[2:]) == ["Called off", "Nothing", "Only done"]
    assert [ts(node["nextFollowUpAt"]) for node in ascending["nodes"][:2]] == [
        now + timedelta(days=1),
        now + timedelta(days=2),
    ]
    descending = (
        await api(
            query,
            {"orderBy": [{"field": "NEXT_FOLLOW_UP_AT", "direction": "DESC", "nulls": "FIRST"}]},
        )
    )["leads"]
    assert [node["title"] for node in descending["nodes"]][3:] == ["Later", "Sooner"]

    # Completing the sooner call leaves its email as the next step.
    sooner_call = (
        await api(
            """query($id: ID!) { lead(id: $id) { activities(filter: {type: {eq: CALL}}) {
                nodes { id } } } }""",
            {"id": sooner},
        )
    )["lead"]["activities"]["nodes"][0]["id"]
    await succeed(api, "completeActivity", {"id": sooner_call})
    assert (await summary(api, sooner))[0] == now + timedelta(days=4)
    assert (await summary(api, nothing)) == (None, None)


async def test_the_activity_list_filters_and_pages(api: Api, database: Database) -> None:
    await cadence_off(api)
    lead_a = (await new_lead(api, "A"))["id"]
    lead_b = await new_lead(api, "B")
    created = ts(lead_b["createdAt"])
    assert created is not None
    now = await db_now(database)
    ms = timedelta(milliseconds=1)

    def completed(lead_id: str, subject: str, at: datetime, **fields: Any) -> dict[str, Any]:
        return {"leadId": lead_id, "subject": subject, "occurredAt": iso(at), **fields}

    result = await log_many(
        api,
        [
            completed(
                lead_a,
                "call a",
                created + ms,
                type="CALL",
                direction="OUTBOUND",
                outcome="NEGATIVE",
            ),
            completed(
                lead_a,
                "email a",
                created + 2 * ms,
                type="EMAIL",
                direction="INBOUND",
                outcome="POSITIVE",
                externalId="mail-1",
            ),
            completed(lead_b["id"], "note b", created + 3 * ms, type="NOTE"),
            {"leadId": lead_b["id"], "subject": "task b", "type": "TASK", "dueAt": iso(now + DAY)},
            {"leadId": lead_a, "subject": "demo a", "type": "DEMO", "dueAt": iso(now + 2 * DAY)},
        ],
    )
    assert result["loggedCount"] == 5
    query = """query($filter: ActivityFilter, $first: Int, $after: String, $last: Int,
        $before: String) {
      activities(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
        totalCount nodes { subject } pageInfo { hasNextPage hasPreviousPage endCursor } } }"""

    async def listed(filter: dict[str, Any] | None = None, **page: Any) -> list[str | None]:
        data = await api(query, {"filter": filter, **page})
        assert data["activities"]["totalCount"] >= len(data["activities"]["nodes"])
        return names(data["activities"]["nodes"])

    everything = ["demo a", "task b", "note b", "email a", "call a"]
    assert await listed() == everything
    assert await listed({"leadId": {"eq": lead_a}}) == ["demo a", "email a", "call a"]
    assert await listed({"status": {"eq": "PLANNED"}}) == ["demo a", "task b"]
    assert await listed({"type": {"in": ["CALL", "EMAIL"]}}) == ["email a", "call a"]
    assert await listed({"direction": {"eq": "OUTBOUND"}}) == ["call a"]
    assert await listed({"outcome": {"eq": "POSITIVE"}}) == ["email a"]
    assert await listed({"occurredAt": {"gte": iso(created + 2 * ms)}}) == ["note b", "email a"]
    assert await listed({"at": {"lt": iso(now)}}) == ["note b", "email a", "call a"]
    assert await listed({"dueAt": {"is": "NULL"}}) == ["note b", "email a", "call a"]
    assert await listed({"cadenceStep": {"is": "NOT_NULL"}}) == []
    assert await listed({"externalId": {"eq": "mail-1"}}) == ["email a"]
    # Pages forward and backward.
    first = await api(query, {"first": 2})
    assert names(first["activities"]["nodes"]) == ["demo a", "task b"]
    cursor = first["activities"]["pageInfo"]["endCursor"]
    assert await listed(first=2, after=cursor) == ["note b", "email a"]
    assert await listed(last=2) == ["email a", "call a"]
    # A lead's own list takes the same filter.
    data = await api(
        """query($id: ID!) { lead(id: $id) { activities(filter: {status: {eq: COMPLETED}}) {
            totalCount nodes { subject } } } }""",
        {"id": lead_a},
    )
    assert data["lead"]["activities"] == {
        "totalCount": 2,
        "nodes": [{"subject": "email a"}, {"subject": "call a"}],
    }


async def test_a_planned_activity_defaults_to_an_active_owner_only(
    api: Api, database: Database
) -> None:
    # An owner who was deactivated after getting the lead is not assigned new work.
    olga = await new_member(api, "Olga")
    lead_id = (await new_lead(api, ownerId=olga))["id"]
    await api(
        """mutation($input: UpdateMemberInput!) { updateMember(input: $input) {
            errors { code } } }""",
        {"input": {"id": olga, "isActive": False}},
    )
    due = await db_now(database) + timedelta(days=1)
    planned = await succeed(
        api, "logActivity", {"leadId": lead_id, "type": "CALL", "dueAt": iso(due)}
    )
    assert planned["assignee"] is None
    # Unassigned on purpose: null clears the default.
    explicit = await succeed(
        api,
        "logActivity",
        {"leadId": lead_id, "type": "CALL", "dueAt": iso(due), "assigneeId": None},
    )
    assert explicit["assignee"] is None


async def test_an_integration_key_logs_without_a_member(api: Api) -> None:
    created = await api(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
            apiKey { id } token errors { code } } }""",
        {"input": {"name": "Sync", "scopes": ["WRITE"]}},
    )
    integration = api.as_key(created["createApiKey"]["token"])
    key_id = created["createApiKey"]["apiKey"]["id"]
    lead_id = (await new_lead(api))["id"]
    logged = await succeed(
        integration, "logActivity", {"leadId": lead_id, "type": "EMAIL", "direction": "INBOUND"}
    )
    assert logged["createdBy"] == {"apiKeyId": key_id, "member": None}
    assert logged["completedBy"] == {"apiKeyId": key_id, "member": None}
    assert logged["assignee"] is None
    # Without a time it happened now: at the time it was logged.
    assert logged["occurredAt"] == logged["createdAt"]


# --- 2. Bulk logging ---------------------------------------------------------------------------


def bulk_rows(lead_ids: list[str], count: int, since: datetime) -> list[dict[str, Any]]:
    """`count` rows spread over the leads, of five shapes: completed ones that do not start
    the cadence, and planned ones."""
    rows: list[dict[str, Any]] = []
    for i in range(count):
        row: dict[str, Any] = {
            "leadId": lead_ids[i % len(lead_ids)],
            "subject": f"row {i}",
            "externalId": f"sync-{secrets.token_hex(4)}-{i}",
        }
        shape = i % 5
        if shape == 0:
            row.update(type="NOTE", occurredAt=iso(since + i * US))
        elif shape == 1:
            row.update(type="EMAIL", direction="INBOUND", occurredAt=iso(since + i * US))
        elif shape == 2:
            row.update(type="TASK", dueAt=iso(since + timedelta(days=30) + i * US))
        elif shape == 3:
            row.update(
                type="MEETING",
                direction="OUTBOUND",
                outcome="POSITIVE",
                occurredAt=iso(since + i * US),
            )
        else:
            row.update(type="CALL", durationSeconds=i, occurredAt=iso(since + i * US))
        rows.append(row)
    return rows


async def bulk_statements(
    statements: StatementCounter, api: Api, rows: list[dict[str, Any]]
) -> tuple[int, dict[str, Any]]:
    await api("{ viewer { member { id } } }")  # warm: the key's last use is recorded
    with statements.counting() as executed:
        result = await log_many(api, rows)
    return len(executed), result


# The API key; the transaction's time; the leads, locked; the assignees and owners; the
# externalIds taken; the stage of every occurredAt; the activities; the cadence's pending steps
# of the leads with a positive touch; the cadence rule; the leads it calls for; the leads'
# summaries; the events; then the payload's stages, members and leads.
BULK_STATEMENTS = 15


async def test_500_rows_in_one_call_cost_the_statements_of_5(
    api: Api, client: Any, database: Database, statements: StatementCounter
) -> None:
    # Two workspaces alike: 5 leads each; one logs 5 rows, the other 500.
    big_workspace, big_token = await new_workspace(database, "Big")
    big_api = Api(client, big_token, big_workspace)
    small_leads = [(await new_lead(api, f"L{i}"))["id"] for i in range(5)]
    big_leads = [(await new_lead(big_api, f"L{i}"))["id"] for i in range(5)]
    since = await db_now(database)

    small_rows, big_rows = bulk_rows(small_leads, 5, since), bulk_rows(big_leads, 500, since)
    small_count, small = await bulk_statements(statements, api, small_rows)
    big_count, big = await bulk_statements(statements, big_api, big_rows)

    for rows, result in ((small_rows, small), (big_rows, big)):
        assert result["errors"] == []
        assert result["loggedCount"] == len(rows)
        assert [r["index"] for r in result["results"]] == list(range(len(rows)))
        assert all(r["errors"] == [] for r in result["results"])
        assert [r["activity"]["externalId"] for r in result["results"]] == [
            row["externalId"] for row in rows
        ]
        assert [r["activity"]["subject"] for r in result["results"]] == [
            row["subject"] for row in rows
        ]
        assert [r["activity"]["status"] for r in result["results"]] == [
            "PLANNED" if "dueAt" in row else "COMPLETED" for row in rows
        ]
    # Everything is stored: 100 per lead, and each lead's summary times are exact.
    count = await big_api("{ activities { totalCount } }")
    assert count["activities"]["totalCount"] == 500
    for position, lead_id in enumerate(big_leads):
        mine = [i for i in range(500) if i % 5 == position]
        lead = (await state(big_api, lead_id))["lead"]
        assert lead["activities"]["totalCount"] == 100
        if position == 2:
            assert ts(lead["nextFollowUpAt"]) == since + timedelta(days=30) + mine[0] * US
            assert lead["lastActivityAt"] is None
        else:
            assert lead["nextFollowUpAt"] is None
            assert ts(lead["lastActivityAt"]) == since + mine[-1] * US
    # and the call costs the same statements for 5 rows as for 500.
    assert big_count == small_count
    assert small_count == BULK_STATEMENTS


async def test_501_rows_are_refused_and_nothing_is_written(api: Api) -> None:
    lead_id = (await new_lead(api))["id"]
    before = await state(api, lead_id)
    result = await log_many(api, [{"leadId": lead_id, "type": "NOTE"}] * 501)
    assert result == {
        "loggedCount": 0,
        "errors": [
            {
                "field": ["input", "activities"],
                "code": "LIMIT_EXCEEDED",
                "message": "give 1 to 500 activities, got 501",
            }
        ],
        "results": [],
    }
    empty = await log_many(api, [])
    assert [(e["field"], e["code"]) for e in empty["errors"]] == [
        (["input", "activities"], "VALIDATION")
    ]
    assert await state(api, lead_id) == before


async def test_one_bad_row_refuses_everything_by_default(api: Api, database: Database) -> None:
    lead_id = (await new_lead(api))["id"]
    before = await state(api, lead_id)
    future = await db_now(database) + timedelta(hours=1)
    rows = [
        {"leadId": lead_id, "type": "NOTE", "subject": "fine"},
        {"leadId": lead_id, "type": "NOTE", "subject": "x" * 301, "occurredAt": iso(future)},
        {"leadId": lead_id, "type": "NOTE", "subject": "fine too"},
        {"leadId": "not-an-id", "type": "NOTE"},
        {"leadId": UNKNOWN_ID, "type": "NOTE"},
    ]
    for policy in (None, "REJECT_EVERYTHING"):
        result = await log_many(api, rows, policy)
        assert result["loggedCount"] == 0
        assert [(e["field"], e["code"]) for e in result["errors"]] == [
            (["input", "activities"], "VALIDATION")
        ]
        assert [r["index"] for r in result["results"]] == [0, 1, 2, 3, 4]
        assert [r["activity"] for r in result["results"]] == [None] * 5
        assert [[(e["field"], e["code"]) for e in r["errors"]] for r in result["results"]] == [
            [],
            [
                (["input", "activities", "1", "subject"], "VALIDATION"),
                (["input", "activities", "1", "occurredAt"], "VALIDATION"),
            ],
            [],
            [(["input", "activities", "3", "leadId"], "VALIDATION")],
            [(["input", "activities", "4", "leadId"], "NOT_FOUND")],
        ]
        assert await state(api, lead_id) == before


async def test_reject_failed_rows_writes_the_good_ones(api: Api) -> None:
    lead_id = (await new_lead(api))["id"]
    result = await log_many(
        api,
        [
            {"leadId": lead_id, "type": "NOTE", "subject": "first"},
            {"leadId": "not-an-id", "type": "NOTE"},
            {"leadId": lead_id, "type": "NOTE", "subject": "second", "durationSeconds": -1},
            {"leadId": UNKNOWN_ID, "type": "NOTE"},
            {"leadId": lead_id, "type": "CALL", "subject": "third"},
        ],
        "REJECT_FAILED_ROWS",
    )
    assert result["errors"] == []
    assert result["loggedCount"] == 2
    assert [r["activity"]["subject"] if r["activity"] else None for r in result["results"]] == [
        "first",
        None,
        None,
        None,
        "third",
    ]
    assert [[(e["field"], e["code"]) for e in r["errors"]] for r in result["results"]] == [
        [],
        [(["input", "activities", "1", "leadId"], "VALIDATION")],
        [(["input", "activities", "2", "durationSeconds"], "VALIDATION")],
        [(["input", "activities", "3", "leadId"], "NOT_FOUND")],
        [],
    ]
    lead = (await state(api, lead_id))["lead"]
    assert sorted(names(lead["activities"]["nodes"])) == ["first", "third"]  # type: ignore[type-var]


async def test_duplicate_external_ids_are_refused_per_row(api: Api) -> None:
    lead_id = (await new_lead(api))["id"]

    def row(external_id: str, subject: str) -> dict[str, Any]:
        return {"leadId": lead_id, "type": "EMAIL", "externalId": external_id, "subject": subject}

    first = await log_many(
        api, [row("crm-1", "a"), row(" crm-1 ", "b"), row("crm-2", "c")], "REJECT_FAILED_ROWS"
    )
    assert first["loggedCount"] == 2
    assert [[(e["field"], e["code"]) for e in r["errors"]] for r in first["results"]] == [
        [],
        [(["input", "activities", "1", "externalId"], "DUPLICATE")],
        [],
    ]
    assert first["results"][0]["activity"]["externalId"] == "crm-1"

    # A retried sync: the ones logged before are duplicates, the new one is written.
    again = await log_many(
        api, [row("crm-2", "c"), row("crm-3", "d"), row("crm-1", "a")], "REJECT_FAILED_ROWS"
    )
    assert again["loggedCount"] == 1
    assert [[(e["field"], e["code"]) for e in r["errors"]] for r in again["results"]] == [
        [(["input", "activities", "0", "externalId"], "DUPLICATE")],
        [],
        [(["input", "activities", "2", "externalId"], "DUPLICATE")],
    ]
    # By default, a duplicate refuses the whole call.
    refused = await log_many(api, [row("crm-4", "e"), row("crm-3", "d")])
    assert refused["loggedCount"] == 0
    assert [[(e["field"], e["code"]) for e in r["errors"]] for r in refused["results"]] == [
        [],
        [(["input", "activities", "1", "externalId"], "DUPLICATE")],
    ]
    # logActivity too; a deleted activity keeps its externalId taken.
    assert await fail(api, "logActivity", row("crm-1", "x")) == [
        (["input", "externalId"], "DUPLICATE")
    ]
    await succeed(api, "deleteActivity", {"id": first["results"][0]["activity"]["id"]})
    assert await fail(api, "logActivity", row("crm-1", "x")) == [
        (["input", "externalId"], "DUPLICATE")
    ]
    assert await fail(api, "logActivity", row("  ", "x")) == [
        (["input", "externalId"], "VALIDATION")
    ]
    lead = (await state(api, lead_id))["lead"]
    assert sorted(names(lead["activities"]["nodes"])) == ["c", "d"]  # type: ignore[type-var]


async def test_concurrent_duplicates_are_refused_not_faults(api: Api) -> None:
    # Two requests log the same externalId on different leads at once: whichever checks after
    # the other wrote gets DUPLICATE, and one that checked before gets it from the unique index.
    leads = [(await new_lead(api, f"L{i}"))["id"] for i in range(2)]
    single = """mutation($input: LogActivityInput!) { logActivity(input: $input) {
        activity { id } errors { field code } } }"""
    for attempt in range(3):
        responses = await asyncio.gather(
            *(
                api.post(
                    single,
                    {"input": {"leadId": lead, "type": "NOTE", "externalId": f"race-{attempt}"}},
                )
                for lead in leads
            )
        )
        bodies = [response.json() for response in responses]
        assert [body.get("errors") for body in bodies] == [None, None]
        payloads = [body["data"]["logActivity"] for body in bodies]
        assert sorted(len(payload["errors"]) for payload in payloads) == [0, 1]
        (refused,) = [payload for payload in payloads if payload["errors"]]
        assert refused == {
            "activity": None,
            "errors": [{"field": ["input", "externalId"], "code": "DUPLICATE"}],
        }
    for attempt in range(3):
        results = await asyncio.gather(
            *(
                log_many(api, [{"leadId": lead, "type": "NOTE", "externalId": f"bulk-{attempt}"}])
                for lead in leads
            )
        )
        assert sorted(result["loggedCount"] for result in results) == [0, 1]
        (refused,) = [result for result in results if result["loggedCount"] == 0]
        codes = {error["code"] for error in refused["errors"]} | {
            error["code"] for row in refused["results"] for error in row["errors"]
        }
        assert "DUPLICATE" in codes
    assert (await api("{ activities { totalCount } }"))["activities"]["totalCount"] == 6


async def test_a_read_key_cannot_write_activities(api: Api) -> None:
    created = await api(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
            token errors { code } } }""",
        {"input": {"name": "Reader", "scopes": ["READ"]}},
    )
    reader = api.as_key(created["createApiKey"]["token"])
    lead_id = (await new_lead(api))["id"]
    before = await state(api, lead_id)
    for mutation, input in (
        ("logActivity", {"leadId": lead_id, "type": "NOTE"}),
        ("completeActivity", {"id": UNKNOWN_ID}),
        ("updateActivity", {"id": UNKNOWN_ID}),
        ("cancelActivity", {"id": UNKNOWN_ID}),
        ("deleteActivity", {"id": UNKNOWN_ID}),
    ):
        response = await reader.post(
            f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
            " errors { code } } }",
            {"input": input},
        )
        errors = response.json()["errors"]
        assert [error["extensions"]["code"] for error in errors] == ["FORBIDDEN"]
    assert await state(reader, lead_id) == before


# --- 3. Validation -----------------------------------------------------------------------------


async def test_every_bad_input_is_refused_and_changes_nothing(
    api: Api, other_api: Api, database: Database
) -> None:
    await cadence_off(api)
    inactive = await new_member(api, "Gone", active=False)
    foreign_member = await new_member(other_api, "Foreign")
    foreign_lead = (await new_lead(other_api))["id"]
    lead = await new_lead(api)
    lead_id, created = lead["id"], ts(lead["createdAt"])
    assert created is not None
    now = await db_now(database)
    done = await succeed(
        api,
        "logActivity",
        {"leadId": lead_id, "type": "CALL", "direction": "OUTBOUND", "subject": "done"},
    )
    planned = await succeed(
        api,
        "logActivity",
        {"leadId": lead_id, "type": "TASK", "dueAt": iso(now + timedelta(days=1))},
    )
    called_off = await succeed(
        api, "logActivity", {"leadId": lead_id, "type": "TASK", "dueAt": iso(now)}
    )
    called_off = await succeed(api, "cancelActivity", {"id": called_off["id"]})
    before = await state(api, lead_id)

    async def refused(mutation: str, input: dict[str, Any]) -> list[tuple[list[str], str]]:
        errors = await fail(api, mutation, input)
        assert await state(api, lead_id) == before
        return errors

    def log(**fields: Any) -> dict[str, Any]:
        return {"leadId": lead_id, "type": "CALL", **fields}

    # logActivity
    assert await refused("logActivity", log(dueAt=iso(now), outcome="POSITIVE")) == [
        (["input", "outcome"], "VALIDATION")
    ]
    assert await refused("logActivity", log(dueAt=iso(now), occurredAt=iso(now))) == [
        (["input", "occurredAt"], "VALIDATION")
    ]
    assert await refused("logActivity", log(occurredAt=iso(now + timedelta(hours=1)))) == [
        (["input", "occurredAt"], "VALIDATION")
    ]
    assert await refused("logActivity", log(occurredAt=iso(created - US))) == [
        (["input", "occurredAt"], "VALIDATION")
    ]
    for duration in (-1, 604801):
        assert await refused("logActivity", log(durationSeconds=duration)) == [
            (["input", "durationSeconds"], "VALIDATION")
        ]
    assert await refused("logActivity", log(subject="x" * 301)) == [
        (["input", "subject"], "VALIDATION")
    ]
    assert await refused("logActivity", log(body="x" * 20_001)) == [
        (["input", "body"], "VALIDATION")
    ]
    assert await refused("logActivity", log(externalId="x" * 201)) == [
        (["input", "externalId"], "VALIDATION")
    ]
    # Several problems at once are reported together.
    assert await refused(
        "logActivity", log(subject="x" * 301, durationSeconds=-5, dueAt=iso(now), outcome="NEUTRAL")
    ) == [
        (["input", "subject"], "VALIDATION"),
        (["input", "durationSeconds"], "VALIDATION"),
        (["input", "outcome"], "VALIDATION"),
    ]
    for unknown in (UNKNOWN_ID, foreign_lead):
        assert await refused("logActivity", log(leadId=unknown)) == [
            (["input", "leadId"], "NOT_FOUND")
        ]
    assert await refused("logActivity", log(leadId="nope")) == [(["input", "leadId"], "VALIDATION")]
    for assignee, code in (
        (foreign_member, "NOT_FOUND"),
        (UNKNOWN_ID, "NOT_FOUND"),
        (inactive, "INVALID_STATE"),
        ("nope", "VALIDATION"),
    ):
        assert await refused("logActivity", log(dueAt=iso(now), assigneeId=assignee)) == [
            (["input", "assigneeId"], code)
        ]

    # completeActivity
    planned_at = ts(planned["createdAt"])
    assert planned_at is not None
    complete = {"id": planned["id"]}
    assert await refused("completeActivity", {**complete, "occurredAt": iso(planned_at - US)}) == [
        (["input", "occurredAt"], "VALIDATION")
    ]
    assert await refused(
        "completeActivity", {**complete, "occurredAt": iso(now + timedelta(hours=1))}
    ) == [(["input", "occurredAt"], "VALIDATION")]
    for duration in (-1, 604801):
        assert await refused("completeActivity", {**complete, "durationSeconds": duration}) == [
            (["input", "durationSeconds"], "VALIDATION")
        ]
    assert await refused("completeActivity", {**complete, "subject": "x" * 301}) == [
        (["input", "subject"], "VALIDATION")
    ]
    assert await refused("completeActivity", {**complete, "expectedVersion": 2}) == [
        (["input", "expectedVersion"], "CONFLICT")
    ]
    for other in (done, called_off):
        assert await refused("completeActivity", {"id": other["id"]}) == [
            (["input", "id"], "INVALID_STATE")
        ]
    assert await refused("completeActivity", {"id": UNKNOWN_ID}) == [(["input", "id"], "NOT_FOUND")]
    assert await refused("completeActivity", {"id": "nope"}) == [(["input", "id"], "VALIDATION")]

    # updateActivity
    assert await refused("updateActivity", {"id": planned["id"], "outcome": "POSITIVE"}) == [
        (["input", "outcome"], "VALIDATION")
    ]
    assert await refused("updateActivity", {"id": planned["id"], "occurredAt": iso(now)}) == [
        (["input", "occurredAt"], "VALIDATION")
    ]
    assert await refused("updateActivity", {"id": done["id"], "dueAt": iso(now)}) == [
        (["input", "dueAt"], "VALIDATION")
    ]
    assert await refused("updateActivity", {"id": done["id"], "occurredAt": iso(created - US)}) == [
        (["input", "occurredAt"], "VALIDATION")
    ]
    assert await refused(
        "updateActivity", {"id": done["id"], "occurredAt": iso(now + timedelta(hours=1))}
    ) == [(["input", "occurredAt"], "VALIDATION")]
    for field in ("occurredAt", "type", "dueAt"):
        assert await refused("updateActivity", {"id": done["id"], field: None}) == [
            (["input", field], "VALIDATION")
        ]
    assert await refused("updateActivity", {"id": done["id"], "durationSeconds": 604801}) == [
        (["input", "durationSeconds"], "VALIDATION")
    ]
    assert await refused("updateActivity", {"id": done["id"], "subject": "x" * 301}) == [
        (["input", "subject"], "VALIDATION")
    ]
    for assignee, code in (
        (foreign_member, "NOT_FOUND"),
        (inactive, "INVALID_STATE"),
        ("nope", "VALIDATION"),
    ):
        assert await refused("updateActivity", {"id": planned["id"], "assigneeId": assignee}) == [
            (["input", "assigneeId"], code)
        ]
    assert await refused(
        "updateActivity", {"id": done["id"], "subject": "new", "expectedVersion": 7}
    ) == [(["input", "expectedVersion"], "CONFLICT")]
    assert await refused("updateActivity", {"id": "nope", "subject": "new"}) == [
        (["input", "id"], "VALIDATION")
    ]

    # cancelActivity and deleteActivity
    for other in (done, called_off):
        assert await refused("cancelActivity", {"id": other["id"]}) == [
            (["input", "id"], "INVALID_STATE")
        ]
    assert await refused("cancelActivity", {"id": planned["id"], "reason": "x" * 1001}) == [
        (["input", "reason"], "VALIDATION")
    ]
    assert await refused("cancelActivity", {"id": planned["id"], "expectedVersion": 2}) == [
        (["input", "expectedVersion"], "CONFLICT")
    ]
    assert await refused("deleteActivity", {"id": done["id"], "expectedVersion": 2}) == [
        (["input", "expectedVersion"], "CONFLICT")
    ]
    for mutation in ("cancelActivity", "deleteActivity"):
        assert await refused(mutation, {"id": UNKNOWN_ID}) == [(["input", "id"], "NOT_FOUND")]
        assert await refused(mutation, {"id": "nope"}) == [(["input", "id"], "VALIDATION")]

    # The boundaries themselves are accepted.
    accepted = await succeed(
        api,
        "logActivity",
        log(subject="x" * 300, durationSeconds=604800, occurredAt=iso(created)),
    )
    assert (len(accepted["subject"]), accepted["durationSeconds"]) == (300, 604800)
    zero = await succeed(api, "completeActivity", {**complete, "durationSeconds": 0})
    # Without a time, it was completed now: when it was changed.
    assert (zero["durationSeconds"], zero["occurredAt"]) == (0, zero["updatedAt"])


async def test_an_unknown_enum_value_is_a_graphql_error(api: Api) -> None:
    lead_id = (await new_lead(api))["id"]
    before = await state(api, lead_id)
    inline = await api.post(
        f'mutation {{ logActivity(input: {{leadId: "{lead_id}", type: PHONE}})'
        " { errors { code } } }"
    )
    body = inline.json()
    assert body.get("data") is None
    assert len(body["errors"]) == 1
    assert "PHONE" in body["errors"][0]["message"]
    assert "ActivityType" in body["errors"][0]["message"]

    for field, value in (("type", "PHONE"), ("outcome", "MAYBE"), ("direction", "SIDEWAYS")):
        input = {"leadId": lead_id, "type": "CALL", field: value}
        response = await api.post(
            "mutation($input: LogActivityInput!) {"
            " logActivity(input: $input) { errors { code } } }",
            {"input": input},
        )
        body = response.json()
        assert body.get("data") is None
        assert len(body["errors"]) == 1
        assert value in body["errors"][0]["message"]
        assert "$input" in body["errors"][0]["message"]
    assert await state(api, lead_id) == before


async def test_bad_query_arguments_are_top_level_errors(api: Api, database: Database) -> None:
    now = await db_now(database)
    agenda = """query($from: DateTime!, $to: DateTime!, $assignee: ID) {
        agenda(from: $from, to: $to, assigneeId: $assignee) { totalCount } }"""
    for to, message in (
        (now, "must be after from"),
        (now - US, "must be after from"),
        (now + timedelta(days=367), "the window is at most 366 days"),
    ):
        response = await api.post(agenda, {"from": iso(now), "to": iso(to)})
        body = response.json()
        assert body["data"] is None
        assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
            (message, {"code": "BAD_USER_INPUT", "reason": "VALIDATION", "field": ["to"]})
        ]
    response = await api.post(
        agenda, {"from": iso(now), "to": iso(now + timedelta(days=1)), "assignee": "nope"}
    )
    errors = response.json()["errors"]
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in errors] == [
        ("BAD_USER_INPUT", ["assigneeId"])
    ]
    response = await api.post('{ overdueFollowUps(assigneeId: "nope") { totalCount } }')
    errors = response.json()["errors"]
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in errors] == [
        ("BAD_USER_INPUT", ["assigneeId"])
    ]
    # A malformed id finds nothing, like an unknown one.
    assert await api('{ activity(id: "nope") { id } }') == {"activity": None}
    assert await api(f'{{ activity(id: "{UNKNOWN_ID}") {{ id }} }}') == {"activity": None}


# --- 4. Tenant isolation -----------------------------------------------------------------------


async def test_another_workspace_reaches_no_activity(
    api: Api, other_api: Api, database: Database
) -> None:
    # The first workspace: a completed touch (whose cadence step is pending), a planned task
    # assigned to a member, an overdue one, and an externalId.
    rita = await new_member(api, "Rita")
    lead = await new_lead(api, ownerId=rita)
    lead_id = lead["id"]
    now = await db_now(database)
    logged = await log_many(
        api,
        [
            {
                "leadId": lead_id,
                "type": "EMAIL",
                "direction": "OUTBOUND",
                "outcome": "NO_RESPONSE",
                "externalId": "shared-1",
            },
            {"leadId": lead_id, "type": "TASK", "dueAt": iso(now - timedelta(days=1))},
        ],
    )
    assert logged["loggedCount"] == 2
    touch, task = (row["activity"] for row in logged["results"])
    mine = (await state(api, lead_id))["lead"]
    ids = [node["id"] for node in mine["activities"]["nodes"]]
    assert len(ids) == 2  # the task is planned: the cadence planned nothing
    before = await state(api, lead_id)
    other_lead = (await new_lead(other_api))["id"]

    # Nothing is visible.
    for activity_id in ids:
        assert await other_api(
            "query($id: ID!) { activity(id: $id) { id } }", {"id": activity_id}
        ) == {"activity": None}
    listed = await other_api(
        """query($lead: ID!, $rita: ID!, $from: DateTime!, $to: DateTime!) {
            all: activities { totalCount nodes { id } }
            ofLead: activities(filter: {leadId: {eq: $lead}}) { totalCount nodes { id } }
            agenda(from: $from, to: $to) { totalCount nodes { id } }
            ritas: agenda(from: $from, to: $to, assigneeId: $rita) { totalCount nodes { id } }
            overdueFollowUps { totalCount nodes { id } }
            ritasOverdue: overdueFollowUps(assigneeId: $rita) { totalCount nodes { id } }
            lead(id: $lead) { activities { totalCount } }
            leads(filter: {nextFollowUpAt: {is: NOT_NULL}}) { totalCount }
        }""",
        {
            "lead": lead_id,
            "rita": rita,
            "from": iso(now - timedelta(days=100)),
            "to": iso(now + timedelta(days=100)),
        },
    )
    empty = {"totalCount": 0, "nodes": []}
    assert listed == {
        "all": empty,
        "ofLead": empty,
        "agenda": empty,
        "ritas": empty,
        "overdueFollowUps": empty,
        "ritasOverdue": empty,
        "lead": None,
        "leads": {"totalCount": 0},
    }

    # Nothing can be changed, and foreign ids are reported exactly like unknown ones.
    assert await fail(other_api, "logActivity", {"leadId": lead_id, "type": "NOTE"}) == [
        (["input", "leadId"], "NOT_FOUND")
    ]
    bulk = await log_many(
        other_api,
        [{"leadId": other_lead, "type": "NOTE"}, {"leadId": lead_id, "type": "NOTE"}],
        "REJECT_FAILED_ROWS",
    )
    assert bulk["loggedCount"] == 1
    assert [[(e["field"], e["code"]) for e in r["errors"]] for r in bulk["results"]] == [
        [],
        [(["input", "activities", "1", "leadId"], "NOT_FOUND")],
    ]
    assert await fail(
        other_api,
        "logActivity",
        {"leadId": other_lead, "type": "NOTE", "dueAt": iso(now), "assigneeId": rita},
    ) == [(["input", "assigneeId"], "NOT_FOUND")]
    for activity_id in ids:
        for mutation, input in (
            ("completeActivity", {"id": activity_id, "outcome": "POSITIVE"}),
            ("updateActivity", {"id": activity_id, "subject": "taken over"}),
            ("cancelActivity", {"id": activity_id}),
            ("deleteActivity", {"id": activity_id}),
        ):
            assert await fail(other_api, mutation, input) == [(["input", "id"], "NOT_FOUND")]
    for mutation in ("pauseFollowUpCadence", "resumeFollowUpCadence"):
        data = await other_api(
            f"mutation($input: LeadCadenceInput!) {{ {mutation}(input: $input) {{"
            " lead { id } errors { field code } } }",
            {"input": {"leadId": lead_id}},
        )
        assert data[mutation] == {
            "lead": None,
            "errors": [{"field": ["input", "leadId"], "code": "NOT_FOUND"}],
        }
    # An externalId is unique per workspace only.
    same_external = await succeed(
        other_api, "logActivity", {"leadId": other_lead, "type": "NOTE", "externalId": "shared-1"}
    )
    assert same_external["externalId"] == "shared-1"
    # A workspace's cadence is its own.
    changed = await set_cadence(other_api, maxTouches=2, intervalsDays=[9])
    assert changed["errors"] == []
    assert (await api("{ followUpCadence { maxTouches intervalsDays version } }")) == {
        "followUpCadence": {"maxTouches": 5, "intervalsDays": [2, 3, 5, 7], "version": 1}
    }

    assert await state(api, lead_id) == before
    assert sorted(ids) == sorted([touch["id"], task["id"]])


# --- 5. Statements of nested activities --------------------------------------------------------

# The API key, the lead(s), one page of activities per lead (one statement for all leads), the
# activity counts, their stages, and the members (assignees and authors together).
NESTED_STATEMENTS = 6

LEAD_PAGE = """query($id: ID!) { lead(id: $id) {
  id title
  activities(first: 50) {
    totalCount
    edges { node { id type stage { name } assignee { name } createdBy { member { name } } } }
  }
} }"""

LEAD_LIST = """{ leads(first: 50) { edges { node {
  title
  activities(first: 5) {
    totalCount
    edges { node { id type stage { name } assignee { name } createdBy { member { name } } } }
  }
} } } }"""


async def seed_activities(
    api: Api, database: Database, lead_count: int, per_lead: list[int]
) -> dict[str, list[dict[str, Any]]]:
    """Leads (half of them moved through three stages), with activities spread between their
    creation and now, assigned to three members, every seventh planned; returns each lead's
    activities as logged, by lead id."""
    await cadence_off(api)
    members = [await new_member(api, name) for name in ("Ann", "Bob", "Cem")]
    stage_ids = [stage_id for stage_id, _ in await stages(api)]
    leads = [await new_lead(api, f"Lead {i:02d}") for i in range(lead_count)]
    for lead in leads[: max(1, lead_count // 2)]:
        await move(api, lead["id"], stage_ids[1])
        await move(api, lead["id"], stage_ids[2])
    now = await db_now(database)
    rows: list[dict[str, Any]] = []
    for index, lead in enumerate(leads):
        created = ts(lead["createdAt"])
        assert created is not None
        count = per_lead[index % len(per_lead)]
        for i in range(count):
            row: dict[str, Any] = {
                "leadId": lead["id"],
                "type": ["CALL", "EMAIL", "MEETING", "NOTE"][i % 4],
                "assigneeId": members[i % 3],
            }
            if i % 7 == 6:
                row["dueAt"] = iso(now + timedelta(days=1, seconds=i))
            else:
                row["occurredAt"] = iso(created + (now - created) * (i + 1) / (count + 1))
            rows.append(row)
    logged: dict[str, list[dict[str, Any]]] = {lead["id"]: [] for lead in leads}
    for start in range(0, len(rows), 500):
        result = await log_many(api, rows[start : start + 500])
        assert result["loggedCount"] == len(rows[start : start + 500])
        for row in result["results"]:
            logged[row["activity"]["lead"]["id"]].append(row["activity"])
    return logged


def newest_first(activities: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """The first page of a lead's activities as the API lists them: by at, then id, descending."""
    ordered = sorted(activities, key=lambda a: (ts(a["at"]), a["id"]), reverse=True)
    return ordered[:size]


async def member_names(api: Api) -> dict[str, str]:
    return {m["id"]: m["name"] for m in (await api("{ members { id name } }"))["members"]}


def check_page(
    page: dict[str, Any], logged: list[dict[str, Any]], size: int, members: dict[str, str]
) -> None:
    """A nested page holds exactly the expected activities with their stage, assignee, author."""
    assert page["totalCount"] == len(logged)
    expected = newest_first(logged, size)
    nodes = [edge["node"] for edge in page["edges"]]
    assert [node["id"] for node in nodes] == [activity["id"] for activity in expected]
    for node, activity in zip(nodes, expected, strict=True):
        assert node["type"] == activity["type"]
        assert node["stage"] == activity["stage"]
        assert node["assignee"] == {"name": members[activity["assignee"]["id"]]}
        author = activity["createdBy"]["member"]["id"]
        assert node["createdBy"] == {"member": {"name": members[author]}}


async def count_statements(
    statements: StatementCounter, api: Api, query: str, variables: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    await api(query, variables)  # warm: the key's last use is recorded
    with statements.counting() as executed:
        data = await api(query, variables)
    return len(executed), data


async def test_a_lead_page_costs_the_same_statements_for_5_and_200_activities(
    api: Api, client: Any, database: Database, statements: StatementCounter
) -> None:
    big_workspace, big_token = await new_workspace(database, "Big")
    big_api = Api(client, big_token, big_workspace)
    small = await seed_activities(api, database, 1, [5])
    big = await seed_activities(big_api, database, 1, [200])
    counts = []
    for client_api, logged in ((api, small), (big_api, big)):
        ((lead_id, activities),) = logged.items()
        count, data = await count_statements(statements, client_api, LEAD_PAGE, {"id": lead_id})
        check_page(data["lead"]["activities"], activities, 50, await member_names(client_api))
        counts.append(count)
    assert counts == [NESTED_STATEMENTS, NESTED_STATEMENTS]
    # Stages of three kinds, and planned ones without a stage, are among the 200.
    assert {
        activity["stage"]["name"] if activity["stage"] else None for activity in big[lead_id]
    } == {
        "Prospecting",
        "Preparation & research",
        "Needs assessment",
        None,
    }


async def test_a_lead_list_with_activities_costs_the_same_statements_for_3_and_30_leads(
    api: Api, client: Any, database: Database, statements: StatementCounter
) -> None:
    big_workspace, big_token = await new_workspace(database, "Big")
    big_api = Api(client, big_token, big_workspace)
    small = await seed_activities(api, database, 3, [0, 2, 9])
    big = await seed_activities(big_api, database, 30, [0, 2, 9, 40])
    counts = []
    for client_api, logged in ((api, small), (big_api, big)):
        count, data = await count_statements(statements, client_api, LEAD_LIST)
        members = await member_names(client_api)
        nodes = [edge["node"] for edge in data["leads"]["edges"]]
        assert len(nodes) == len(logged)
        ids = await client_api("{ leads(first: 50) { nodes { id } } }")
        for node, lead in zip(nodes, ids["leads"]["nodes"], strict=True):
            check_page(node["activities"], logged[lead["id"]], 5, members)
        counts.append(count)
    assert counts == [NESTED_STATEMENTS, NESTED_STATEMENTS]
