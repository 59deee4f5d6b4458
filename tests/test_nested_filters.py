"""and / or / not combinators on the activity, objection and handoff lists."""

from __future__ import annotations

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.anyio


async def test_combinators_on_activities_objections_and_handoffs(api: Api) -> None:
    created = await api('mutation { createLead(input: {title: "Filters"}) { lead { id } } }')
    lead_id = created["createLead"]["lead"]["id"]
    for kind, direction in (("CALL", "OUTBOUND"), ("EMAIL", "INBOUND"), ("EMAIL", "OUTBOUND")):
        logged = await api(
            """mutation($input: LogActivityInput!) { logActivity(input: $input) {
                 errors { message } } }""",
            {"input": {"leadId": lead_id, "type": kind, "direction": direction}},
        )
        assert logged["logActivity"]["errors"] == []
    await api(
        """mutation($lead: ID!) { logActivity(input: {leadId: $lead, type: NOTE}) {
             errors { message } } }""",
        {"lead": lead_id},
    )
    data = await api(
        """query($lead: ID!) { activities(filter: {leadId: {eq: $lead}, status: {eq: COMPLETED},
             or: [{type: {eq: CALL}}, {type: {eq: EMAIL}}],
             not: {direction: {eq: INBOUND}}}) { nodes { type direction } } }""",
        {"lead": lead_id},
    )
    assert sorted((n["type"], n["direction"]) for n in data["activities"]["nodes"]) == [
        ("CALL", "OUTBOUND"),
        ("EMAIL", "OUTBOUND"),
    ]
    # `not` also matches where the compared column is NULL (the note has no direction).
    data = await api(
        """query($lead: ID!) { activities(filter: {leadId: {eq: $lead}, status: {eq: COMPLETED},
             not: {direction: {eq: INBOUND}}}) { totalCount } }""",
        {"lead": lead_id},
    )
    assert data["activities"]["totalCount"] == 3

    for category in ("PRICE", "TIMING", "TRUST"):
        raised = await api(
            """mutation($lead: ID!, $category: ObjectionCategory!) {
                 raiseObjection(input: {leadId: $lead, category: $category,
                   customerWords: "hmm"}) { errors { message } } }""",
            {"lead": lead_id, "category": category},
        )
        assert raised["raiseObjection"]["errors"] == []
    data = await api(
        """query($lead: ID!) { objections(filter: {leadId: {eq: $lead},
             or: [{category: {eq: PRICE}}, {category: {eq: TRUST}}]}) { nodes { category } } }""",
        {"lead": lead_id},
    )
    assert sorted(n["category"] for n in data["objections"]["nodes"]) == ["PRICE", "TRUST"]

    viewer = await api("{ viewer { member { id } } }")
    handed = await api(
        """mutation($lead: ID!, $owner: ID!) { handOffLead(input: {leadId: $lead,
             toOwnerId: $owner}) { errors { message } } }""",
        {"lead": lead_id, "owner": viewer["viewer"]["member"]["id"]},
    )
    assert handed["handOffLead"]["errors"] == []
    data = await api(
        """query($lead: ID!) {
             pending: handoffs(filter: {leadId: {eq: $lead}, not: {status: {eq: ACCEPTED}}}) {
               totalCount }
             none: handoffs(filter: {and: [{leadId: {eq: $lead}}, {status: {eq: ACCEPTED}}]}) {
               totalCount } }""",
        {"lead": lead_id},
    )
    assert data == {"pending": {"totalCount": 1}, "none": {"totalCount": 0}}

    response = await api.post(
        """{ activities(filter: {not: {not: {not: {not: {not: {type: {eq: CALL}}}}}}}) {
             totalCount } }"""
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "5 levels" in error["message"]
