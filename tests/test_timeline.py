"""The lead timeline and the lead page query.

A lead with a known history (created, moved, an activity backfilled before the move, an
objection raised and resolved, a handoff made and accepted, won) must show exactly those events,
newest first, as the right members of the TimelineItem union, and page through them with
keyset cursors. The lead page query (the lead with its activities, open objections, objections
and timeline) sends the same number of SQL statements whatever the number of items.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, StatementCounter

pytestmark = pytest.mark.anyio

TIMELINE = """
query($id: ID!, $first: Int, $after: String) {
  lead(id: $id) {
    timeline(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          __typename
          ... on TimelineEvent { id type occurredAt recordedAt actor { apiKeyId member { id } } }
          ... on LeadCreatedEvent { stage { name } }
          ... on StageChangedEvent { fromStage { name } toStage { name } direction reason }
          ... on LeadStatusChangedEvent { status reason stage { name } }
          ... on ActivityEvent { activity { id type stage { name } deletedAt } }
          ... on ObjectionEvent { objection { id status } }
          ... on HandoffEvent { handoff { id status } changes { field oldValue newValue } }
          ... on LeadChangedEvent { changes { field oldValue newValue } }
        }
      }
    }
  }
}
"""

LEAD_PAGE = """
query($id: ID!) {
  lead(id: $id) {
    id title status nextFollowUpAt lastActivityAt
    stage { name }
    owner { name }
    activities(first: 50) {
      totalCount
      edges { node { id type status occurredAt dueAt outcome stage { name } assignee { name }
        createdBy { member { name } } } }
    }
    openObjections { id category customerWords stage { name } }
    objections(first: 20) { totalCount nodes { id status raisedBy { member { name } } } }
    handoffs(first: 10) { totalCount nodes { id toOwner { name } handedBy { member { name } } } }
    timeline(first: 50) {
      totalCount
      edges { node {
        __typename
        ... on TimelineEvent { type occurredAt actor { member { name } } }
        ... on ActivityEvent { activity { type stage { name } } }
        ... on ObjectionEvent { objection { category } }
        ... on StageChangedEvent { toStage { name } }
      } }
    }
  }
}
"""


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _lead(api: Api, title: str = "Timeline Co") -> dict[str, Any]:
    data = await api(
        """mutation($title: String!) { createLead(input: {title: $title}) {
             lead { id createdAt version pipeline { stages { id name } } }
             errors { message } } }""",
        {"title": title},
    )
    return data["createLead"]["lead"]  # type: ignore[no-any-return]


async def _move(api: Api, lead_id: str, stage_id: str) -> None:
    data = await api(
        """mutation($id: ID!, $stage: ID!) { moveLead(input: {id: $id, stageId: $stage}) {
             errors { message } } }""",
        {"id": lead_id, "stage": stage_id},
    )
    assert data["moveLead"]["errors"] == []


async def _log(api: Api, lead_id: str, **fields: Any) -> dict[str, Any]:
    data = await api(
        """mutation($input: LogActivityInput!) { logActivity(input: $input) {
             activity { id version } errors { field code message } } }""",
        {"input": {"leadId": lead_id, **fields}},
    )
    assert data["logActivity"]["errors"] == [], data
    return data["logActivity"]["activity"]  # type: ignore[no-any-return]


async def _objection(api: Api, lead_id: str, words: str = "Too expensive") -> str:
    data = await api(
        """mutation($lead: ID!, $words: String!) {
             raiseObjection(input: {leadId: $lead, category: PRICE, customerWords: $words}) {
               objection { id } errors { message } } }""",
        {"lead": lead_id, "words": words},
    )
    assert data["raiseObjection"]["errors"] == []
    return data["raiseObjection"]["objection"]["id"]  # type: ignore[no-any-return]


async def _timeline(api: Api, lead_id: str) -> list[dict[str, Any]]:
    data = await api(TIMELINE, {"id": lead_id, "first": 100})
    return [edge["node"] for edge in data["lead"]["timeline"]["edges"]]


async def test_a_lead_history_shows_every_event_newest_first(api: Api) -> None:
    lead = await _lead(api)
    stages = lead["pipeline"]["stages"]
    created = _at(lead["createdAt"])
    await _move(api, lead["id"], stages[1]["id"])
    # Backfilled: it happened at the first stage, before the move.
    call = await _log(
        api,
        lead["id"],
        type="CALL",
        direction="OUTBOUND",
        outcome="POSITIVE",
        occurredAt=(created + timedelta(microseconds=1)).isoformat(),
    )
    objection_id = await _objection(api, lead["id"])
    resolved = await api(
        """mutation($id: ID!) { resolveObjection(input: {id: $id, status: RESOLVED,
             response: "We include onboarding"}) { errors { message } } }""",
        {"id": objection_id},
    )
    assert resolved["resolveObjection"]["errors"] == []
    member = await api("{ viewer { member { id } } }")
    me = member["viewer"]["member"]["id"]
    handed = await api(
        """mutation($id: ID!, $owner: ID!) { handOffLead(input: {leadId: $id, toOwnerId: $owner,
             note: "yours now"}) { handoff { id } errors { message } } }""",
        {"id": lead["id"], "owner": me},
    )
    assert handed["handOffLead"]["errors"] == []
    handoff_id = handed["handOffLead"]["handoff"]["id"]
    accepted = await api(
        """mutation($id: ID!) { acceptHandoff(input: {id: $id}) { errors { message } } }""",
        {"id": handoff_id},
    )
    assert accepted["acceptHandoff"]["errors"] == []
    won = await api(
        """mutation($id: ID!) { winLead(input: {id: $id, reason: "signed"}) {
             errors { message } } }""",
        {"id": lead["id"]},
    )
    assert won["winLead"]["errors"] == []

    events = await _timeline(api, lead["id"])
    assert [(event["__typename"], event["type"]) for event in events] == [
        ("LeadStatusChangedEvent", "lead.won"),
        ("HandoffEvent", "handoff.accepted"),
        ("HandoffEvent", "handoff.created"),
        ("ObjectionEvent", "objection.resolved"),
        ("ObjectionEvent", "objection.raised"),
        ("StageChangedEvent", "lead.stage_changed"),
        ("ActivityEvent", "activity.logged"),
        ("LeadCreatedEvent", "lead.created"),
    ]
    times = [_at(event["occurredAt"]) for event in events]
    assert times == sorted(times, reverse=True)
    won_event, accepted_event, handed_event, _, _, moved, logged, created_event = events
    assert won_event["status"] == "WON"
    assert won_event["reason"] == "signed"
    assert won_event["stage"]["name"] == stages[1]["name"]
    assert handed_event["handoff"] == {"id": handoff_id, "status": "ACCEPTED"}
    assert accepted_event["handoff"]["id"] == handoff_id
    assert {change["field"] for change in handed_event["changes"]} >= {"ownerId"}
    assert events[3]["objection"] == {"id": objection_id, "status": "RESOLVED"}
    assert moved["fromStage"]["name"] == stages[0]["name"]
    assert moved["toStage"]["name"] == stages[1]["name"]
    assert moved["direction"] == "FORWARD"
    # The backfilled call sits at its own time, and at the stage of that time.
    assert logged["activity"]["id"] == call["id"]
    assert logged["activity"]["stage"]["name"] == stages[0]["name"]
    assert _at(logged["occurredAt"]) == created + timedelta(microseconds=1)
    assert _at(logged["recordedAt"]) > _at(logged["occurredAt"])
    assert created_event["stage"]["name"] == stages[0]["name"]
    assert all(event["actor"]["member"]["id"] == me for event in events)


async def test_the_timeline_pages_with_cursors_and_keeps_deleted_activities(api: Api) -> None:
    lead = await _lead(api)
    for index in range(4):
        await _log(api, lead["id"], type="NOTE", subject=f"note {index}")
    activity = await _log(api, lead["id"], type="EMAIL", direction="INBOUND")
    deleted = await api(
        """mutation($id: ID!) { deleteActivity(input: {id: $id}) { errors { message } } }""",
        {"id": activity["id"]},
    )
    assert deleted["deleteActivity"]["errors"] == []
    everything = await _timeline(api, lead["id"])
    assert len(everything) == 7  # created, 5 logged, 1 deleted
    assert everything[0]["type"] == "activity.deleted"
    assert everything[0]["activity"]["deletedAt"] is not None

    seen: list[str] = []
    after = None
    while True:
        data = await api(TIMELINE, {"id": lead["id"], "first": 2, "after": after})
        timeline = data["lead"]["timeline"]
        assert timeline["totalCount"] == 7
        seen.extend(edge["node"]["id"] for edge in timeline["edges"])
        if not timeline["pageInfo"]["hasNextPage"]:
            break
        after = timeline["pageInfo"]["endCursor"]
    assert seen == [event["id"] for event in everything]

    response = await api.post(TIMELINE, {"id": lead["id"], "first": 2, "after": "bogus"})
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_another_workspace_sees_no_timeline(api: Api, other_api: Api) -> None:
    lead = await _lead(api)
    await _log(api, lead["id"], type="CALL", direction="OUTBOUND")
    assert (await other_api(TIMELINE, {"id": lead["id"], "first": 10}))["lead"] is None
    own = await _lead(other_api, "Theirs")
    events = await _timeline(other_api, own["id"])
    assert [event["type"] for event in events] == ["lead.created"]


async def _lead_page_statements(
    api: Api, statements: StatementCounter, activities: int, objections: int
) -> int:
    lead = await _lead(api, f"Page {activities}")
    rows = [
        {"leadId": lead["id"], "type": "EMAIL" if index % 2 else "CALL", "direction": "INBOUND"}
        for index in range(activities)
    ]
    for start in range(0, len(rows), 500):
        data = await api(
            """mutation($rows: [LogActivityInput!]!) { logActivities(input: {activities: $rows}) {
                 loggedCount errors { message } } }""",
            {"rows": rows[start : start + 500]},
        )
        assert data["logActivities"]["loggedCount"] == len(rows[start : start + 500])
    for index in range(objections):
        await _objection(api, lead["id"], f"objection {index}")
    with statements.counting() as sent:
        page = await api(LEAD_PAGE, {"id": lead["id"]})
    assert page["lead"]["activities"]["totalCount"] == activities
    assert len(page["lead"]["activities"]["edges"]) == min(activities, 50)
    assert len(page["lead"]["openObjections"]) == objections
    assert page["lead"]["timeline"]["totalCount"] == 1 + activities + objections
    return len(sent)


async def test_the_lead_page_query_does_not_grow_with_its_items(
    api: Api, statements: StatementCounter
) -> None:
    small = await _lead_page_statements(api, statements, activities=5, objections=1)
    large = await _lead_page_statements(api, statements, activities=200, objections=15)
    assert small == large
    # The lead, its stage and owner, activities (+ count), their stages, assignees and
    # creators, open objections, objections (+ count), their raisers, timeline (+ count) and
    # the objects its entries point to: a fixed number, set by the query's shape.
    assert large <= 16, large
