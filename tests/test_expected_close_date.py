"""A lead's expected close date through the GraphQL endpoint: the Date scalar, setting,
changing and clearing it, its validation, the events that record it, filtering and sorting
lead lists by it, and that another workspace's leads stay out of reach.

Every refused mutation also checks that nothing was written: the lead, the number of leads and
the number of domain events are read back after the refusal.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import read_session
from salesgraph.events import DomainEvent
from tests.conftest import Api
from tests.test_leads import UNKNOWN_ID, lead_ids

pytestmark = pytest.mark.anyio

LEAD = "id title expectedCloseDate version"

INPUT_TYPES = {"createLead": "CreateLeadInput", "updateLead": "UpdateLeadInput"}

CHANGES = """query($id: ID!) { lead(id: $id) { timeline(first: 100) { edges { node {
  __typename
  ... on TimelineEvent { type }
  ... on LeadCreatedEvent { changes { field oldValue newValue } }
  ... on LeadChangedEvent { changes { field oldValue newValue } }
} } } } }"""

LIST = """query($filter: LeadFilter, $orderBy: [LeadOrder!], $first: Int, $after: String,
    $last: Int, $before: String) {
  leads(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last,
      before: $before) {
    totalCount
    edges { cursor node { title expectedCloseDate } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""

COLUMN = """query($stageId: ID!, $filter: LeadFilter, $orderBy: [LeadOrder!]) {
  stage(id: $stageId) {
    leads(filter: $filter, orderBy: $orderBy, first: 100) {
      totalCount nodes { title expectedCloseDate }
    }
  }
}"""


# --- helpers ---------------------------------------------------------------------------------


async def mutate(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    """The payload ({lead, errors}) of createLead or updateLead."""
    data = await api(
        f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
        f" lead {{ {LEAD} }} errors {{ field code message }} }} }}",
        {"input": input},
    )
    return data[mutation]  # type: ignore[no-any-return]


async def succeed(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    payload = await mutate(api, mutation, input)
    assert payload["errors"] == []
    assert payload["lead"] is not None
    return payload["lead"]  # type: ignore[no-any-return]


async def refused(api: Api, mutation: str, input: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors of a mutation that must be refused in its payload."""
    payload = await mutate(api, mutation, input)
    assert payload["lead"] is None
    assert payload["errors"], "expected the mutation to be refused"
    return payload["errors"]  # type: ignore[no-any-return]


async def new_lead(api: Api, title: str = "Deal", **fields: Any) -> dict[str, Any]:
    return await succeed(api, "createLead", {"title": title, **fields})


async def read_lead(api: Api, lead_id: str) -> dict[str, Any] | None:
    data = await api(f"query($id: ID!) {{ lead(id: $id) {{ {LEAD} }} }}", {"id": lead_id})
    return data["lead"]  # type: ignore[no-any-return]


async def event_count(database: Database, workspace_id: uuid.UUID | None) -> int:
    async with read_session(database, workspace_id=workspace_id) as session:
        return int(await session.scalar(select(func.count()).select_from(DomainEvent)) or 0)


async def event_changes(api: Api, database: Database, lead_id: str) -> list[tuple[str, Any]]:
    """(type, data["changes"]) of a lead's domain events, oldest first, as stored."""
    async with read_session(database, workspace_id=api.workspace_id) as session:
        rows = await session.execute(
            select(DomainEvent)
            .where(DomainEvent.subject_id == uuid.UUID(lead_id))
            .order_by(DomainEvent.id)
        )
        return [(event.type, event.data.get("changes", {})) for event in rows.scalars()]


async def timeline_changes(api: Api, lead_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(type, changes) of a lead's timeline entries, oldest first."""
    data = await api(CHANGES, {"id": lead_id})
    nodes = [edge["node"] for edge in data["lead"]["timeline"]["edges"]]
    return [(node["type"], node.get("changes", [])) for node in reversed(nodes)]


def close_date_change(changes: list[dict[str, Any]]) -> dict[str, Any] | None:
    found = [change for change in changes if change["field"] == "expectedCloseDate"]
    assert len(found) <= 1
    return found[0] if found else None


async def top_level_error(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The one GraphQL error of an operation refused before it ran."""
    response = await api.post(query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body
    return body["errors"][0]  # type: ignore[no-any-return]


async def listed(api: Api, **variables: Any) -> list[tuple[str, str | None]]:
    """(title, expectedCloseDate) of one page of the lead list."""
    data = await api(LIST, {"first": 100, **variables})
    page = data["leads"]
    assert page["totalCount"] == len(page["edges"])
    return [(edge["node"]["title"], edge["node"]["expectedCloseDate"]) for edge in page["edges"]]


async def titles(api: Api, lead_filter: dict[str, Any]) -> str:
    """The titles (one letter each) of the leads a filter matches, sorted."""
    return "".join(sorted(title for title, _ in await listed(api, filter=lead_filter)))


# --- setting, changing and clearing it -------------------------------------------------------


async def test_create_with_a_date_returns_and_reads_it_back(api: Api) -> None:
    lead = await new_lead(api, expectedCloseDate="2026-12-31")

    assert lead["expectedCloseDate"] == "2026-12-31"
    assert await read_lead(api, lead["id"]) == lead
    assert await listed(api) == [("Deal", "2026-12-31")]


async def test_create_without_a_date_leaves_it_null(api: Api) -> None:
    lead = await new_lead(api)
    explicit = await new_lead(api, "Explicit", expectedCloseDate=None)

    assert lead["expectedCloseDate"] is None
    assert explicit["expectedCloseDate"] is None


async def test_update_sets_changes_and_clears_it(api: Api, database: Database) -> None:
    # given a lead without a date
    lead = await new_lead(api)

    # when a date is set, changed, and cleared with null
    set_ = await succeed(api, "updateLead", {"id": lead["id"], "expectedCloseDate": "2027-01-15"})
    changed = await succeed(
        api, "updateLead", {"id": lead["id"], "expectedCloseDate": "2027-02-28"}
    )
    cleared = await succeed(api, "updateLead", {"id": lead["id"], "expectedCloseDate": None})

    # then each change is returned, read back, and goes up one version
    assert (set_["expectedCloseDate"], set_["version"]) == ("2027-01-15", 2)
    assert (changed["expectedCloseDate"], changed["version"]) == ("2027-02-28", 3)
    assert (cleared["expectedCloseDate"], cleared["version"]) == (None, 4)
    assert await read_lead(api, lead["id"]) == cleared
    # and each is a lead.updated event with the old and new value, as stored and on the timeline
    stored = await event_changes(api, database, lead["id"])
    assert stored[0][0] == "lead.created"
    assert "expected_close_date" not in stored[0][1]  # created without one
    assert stored[1:] == [
        ("lead.updated", {"expected_close_date": {"old": None, "new": "2027-01-15"}}),
        ("lead.updated", {"expected_close_date": {"old": "2027-01-15", "new": "2027-02-28"}}),
        ("lead.updated", {"expected_close_date": {"old": "2027-02-28", "new": None}}),
    ]
    assert [
        (kind, close_date_change(changes))
        for kind, changes in await timeline_changes(api, lead["id"])
    ] == [
        ("lead.created", None),
        (
            "lead.updated",
            {"field": "expectedCloseDate", "oldValue": None, "newValue": "2027-01-15"},
        ),
        (
            "lead.updated",
            {"field": "expectedCloseDate", "oldValue": "2027-01-15", "newValue": "2027-02-28"},
        ),
        (
            "lead.updated",
            {"field": "expectedCloseDate", "oldValue": "2027-02-28", "newValue": None},
        ),
    ]


async def test_the_created_event_records_the_date(api: Api, database: Database) -> None:
    lead = await new_lead(api, expectedCloseDate="2026-12-31")

    [(kind, changes)] = await event_changes(api, database, lead["id"])
    assert kind == "lead.created"
    assert changes["expected_close_date"] == {"old": None, "new": "2026-12-31"}
    [(kind, timeline)] = await timeline_changes(api, lead["id"])
    assert close_date_change(timeline) == {
        "field": "expectedCloseDate",
        "oldValue": None,
        "newValue": "2026-12-31",
    }


async def test_an_update_that_does_not_give_it_leaves_it(api: Api, database: Database) -> None:
    # given a lead with a date
    lead = await new_lead(api, expectedCloseDate="2026-12-31")

    # when another field is updated
    updated = await succeed(api, "updateLead", {"id": lead["id"], "title": "Renamed"})

    # then the date stays, and the event names only the field that changed
    assert (updated["title"], updated["expectedCloseDate"]) == ("Renamed", "2026-12-31")
    assert (await event_changes(api, database, lead["id"]))[-1] == (
        "lead.updated",
        {"title": {"old": "Deal", "new": "Renamed"}},
    )


async def test_setting_the_same_date_again_changes_nothing(api: Api, database: Database) -> None:
    lead = await new_lead(api, expectedCloseDate="2026-12-31")
    events = await event_count(database, api.workspace_id)

    again = await succeed(api, "updateLead", {"id": lead["id"], "expectedCloseDate": "2026-12-31"})

    assert again == lead  # same version: no write
    assert await event_count(database, api.workspace_id) == events


async def test_the_date_is_kept_through_a_win_and_a_reopening(api: Api) -> None:
    lead = await new_lead(api, expectedCloseDate="2026-12-31")
    for mutation in ("winLead", "reopenLead"):
        data = await api(
            f"mutation($id: ID!) {{ {mutation}(input: {{id: $id}}) {{"
            " lead { expectedCloseDate } errors { code } } }",
            {"id": lead["id"]},
        )
        assert data[mutation] == {"lead": {"expectedCloseDate": "2026-12-31"}, "errors": []}


# --- validation --------------------------------------------------------------------------------


async def test_years_outside_1900_to_2200_are_refused_and_nothing_is_created(
    api: Api, database: Database
) -> None:
    events = await event_count(database, api.workspace_id)
    for day in ("1899-12-31", "2201-01-01", "0001-01-01", "9999-12-31"):
        errors = await refused(api, "createLead", {"title": "Deal", "expectedCloseDate": day})
        assert errors == [
            {
                "field": ["input", "expectedCloseDate"],
                "code": "VALIDATION",
                "message": "must be in the years 1900 to 2200",
            }
        ], day
    assert await lead_ids(api) == []
    assert await event_count(database, api.workspace_id) == events


async def test_the_first_and_last_days_of_the_range_are_accepted(api: Api) -> None:
    first = await new_lead(api, expectedCloseDate="1900-01-01")
    last = await new_lead(api, expectedCloseDate="2200-12-31")
    leap = await new_lead(api, expectedCloseDate="2028-02-29")

    assert first["expectedCloseDate"] == "1900-01-01"
    assert last["expectedCloseDate"] == "2200-12-31"
    assert leap["expectedCloseDate"] == "2028-02-29"


async def test_an_update_out_of_range_is_refused_and_leaves_the_lead(
    api: Api, database: Database
) -> None:
    lead = await new_lead(api, expectedCloseDate="2026-12-31")
    events = await event_count(database, api.workspace_id)

    errors = await refused(
        api,
        "updateLead",
        {"id": lead["id"], "title": "Changed", "expectedCloseDate": "2300-01-01"},
    )

    assert errors == [
        {
            "field": ["input", "expectedCloseDate"],
            "code": "VALIDATION",
            "message": "must be in the years 1900 to 2200",
        }
    ]
    assert await read_lead(api, lead["id"]) == lead
    assert await event_count(database, api.workspace_id) == events


async def test_it_is_reported_with_the_other_bad_fields_in_input_order(api: Api) -> None:
    errors = await refused(
        api,
        "createLead",
        {
            "title": "Deal",
            "value": {"amount": "-1", "currency": "EUR"},
            "expectedCloseDate": "1800-06-01",
            "score": 101,
        },
    )

    assert [(error["field"], error["code"]) for error in errors] == [
        (["input", "value", "amount"], "VALIDATION"),
        (["input", "expectedCloseDate"], "VALIDATION"),
        (["input", "score"], "VALIDATION"),
    ]
    assert await lead_ids(api) == []


BAD_DATES: dict[str, tuple[Any, str]] = {
    "not-a-day": ("2026-02-30", "'2026-02-30' is not a date of the calendar"),
    "month-13": ("2026-13-01", "'2026-13-01' is not a date of the calendar"),
    "with-a-time": (
        "2026-11-27T00:00:00+00:00",
        "'2026-11-27T00:00:00+00:00' is not an ISO 8601 date (YYYY-MM-DD)",
    ),
    "basic-form": ("20261127", "'20261127' is not an ISO 8601 date (YYYY-MM-DD)"),
    "week-form": ("2026-W48-5", "'2026-W48-5' is not an ISO 8601 date (YYYY-MM-DD)"),
    "trailing-newline": ("2026-11-27\n", "'2026-11-27\\n' is not an ISO 8601 date (YYYY-MM-DD)"),
    "day-first": ("27.11.2026", "'27.11.2026' is not an ISO 8601 date (YYYY-MM-DD)"),
    "empty": ("", "'' is not an ISO 8601 date (YYYY-MM-DD)"),
    "year-zero": ("0000-01-01", "'0000-01-01' is not a date of the calendar"),
    "number": (20261127, 'Date values are ISO 8601 strings such as "2026-11-27"'),
    "object": ({"year": 2026}, 'Date values are ISO 8601 strings such as "2026-11-27"'),
}


@pytest.mark.parametrize(("value", "message"), list(BAD_DATES.values()), ids=list(BAD_DATES))
async def test_a_malformed_date_is_refused_by_the_scalar_and_nothing_is_written(
    api: Api, database: Database, value: Any, message: str
) -> None:
    lead = await new_lead(api, expectedCloseDate="2026-12-31")
    events = await event_count(database, api.workspace_id)

    for mutation, input in (
        ("createLead", {"title": "Other", "expectedCloseDate": value}),
        ("updateLead", {"id": lead["id"], "expectedCloseDate": value}),
    ):
        error = await top_level_error(
            api,
            f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
            " lead { id } errors { code } } }",
            {"input": input},
        )
        assert error["message"] == (
            f"Variable '$input' has invalid value at .expectedCloseDate: {message}"
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT"

    assert await read_lead(api, lead["id"]) == lead
    assert len(await lead_ids(api)) == 1
    assert await event_count(database, api.workspace_id) == events


async def test_a_malformed_date_written_in_the_query_is_refused(api: Api) -> None:
    response = await api.post(
        'mutation { createLead(input: {title: "Deal", expectedCloseDate: "2026-02-30"}) {'
        " lead { id } errors { code } } }"
    )
    body = response.json()
    assert body.get("data") is None
    assert "'2026-02-30' is not a date of the calendar" in body["errors"][0]["message"]
    assert await lead_ids(api) == []


# --- filtering and sorting ---------------------------------------------------------------------

# One lead per letter; C and F share a date, E has none.
DATES = {
    "A": "2026-01-15",
    "B": "2026-01-31",
    "C": "2026-02-01",
    "D": "2026-03-10",
    "E": None,
    "F": "2026-02-01",
}


@pytest.fixture
async def dated(api: Api) -> dict[str, str]:
    """The leads of DATES (titles A to F), and a deleted one with a date: title -> id."""
    ids = {}
    for title, day in DATES.items():
        ids[title] = (await new_lead(api, title, expectedCloseDate=day))["id"]
    deleted = await new_lead(api, "X", expectedCloseDate="2026-02-01")
    data = await api(
        "mutation($id: ID!) { deleteLead(input: {id: $id}) { errors { code } } }",
        {"id": deleted["id"]},
    )
    assert data["deleteLead"]["errors"] == []
    return ids


async def test_filter_by_expected_close_date(api: Api, dated: dict[str, str]) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"eq": "2026-02-01"}, "CF"),
        ({"neq": "2026-02-01"}, "ABD"),  # null values never match
        ({"gt": "2026-01-31"}, "CDF"),
        ({"gte": "2026-01-31"}, "BCDF"),
        ({"lt": "2026-02-01"}, "AB"),
        ({"lte": "2026-02-01"}, "ABCF"),
        ({"gte": "2026-02-01", "lt": "2026-03-01"}, "CF"),  # one month, as forecasts group
        ({"is": "NULL"}, "E"),
        ({"is": "NOT_NULL"}, "ABCDF"),
        ({"lt": "9999-12-31", "gt": "0001-01-01"}, "ABCDF"),  # any calendar day compares
        ({}, "ABCDEF"),
    ]
    for comparison, expected in cases:
        assert await titles(api, {"expectedCloseDate": comparison}) == expected, comparison


async def test_expected_close_date_combines_with_and_or_not(
    api: Api, dated: dict[str, str]
) -> None:
    january = {"expectedCloseDate": {"gte": "2026-01-01", "lt": "2026-02-01"}}
    assert await titles(api, {"not": january}) == "CDEF"  # not: also the lead without a date
    assert await titles(api, {"or": [january, {"expectedCloseDate": {"is": "NULL"}}]}) == "ABE"
    assert await titles(api, {"and": [january, {"title": {"eq": "B"}}]}) == "B"
    same_day_not_c = {"expectedCloseDate": {"eq": "2026-02-01"}, "id": {"neq": dated["C"]}}
    assert await titles(api, same_day_not_c) == "F"


async def test_a_malformed_date_in_a_filter_is_bad_input(api: Api, dated: dict[str, str]) -> None:
    error = await top_level_error(
        api, LIST, {"filter": {"expectedCloseDate": {"gte": "2026-02-30"}}}
    )
    assert "'2026-02-30' is not a date of the calendar" in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


ORDERS: dict[str, tuple[list[dict[str, str]], str]] = {
    "asc-nulls-last": ([{"field": "EXPECTED_CLOSE_DATE"}], "AB**DE"),
    "asc-nulls-first": ([{"field": "EXPECTED_CLOSE_DATE", "nulls": "FIRST"}], "EAB**D"),
    "desc-nulls-last": ([{"field": "EXPECTED_CLOSE_DATE", "direction": "DESC"}], "D**BAE"),
    "desc-nulls-first": (
        [{"field": "EXPECTED_CLOSE_DATE", "direction": "DESC", "nulls": "FIRST"}],
        "ED**BA",
    ),
    "then-title-desc": (
        [{"field": "EXPECTED_CLOSE_DATE"}, {"field": "TITLE", "direction": "DESC"}],
        "ABFCDE",
    ),
}


def in_id_order(expected: str, ids: dict[str, str], descending: bool) -> str:
    """Fill the two ** of `expected` with C and F in id order (the tiebreaker's direction)."""
    tied = "".join(sorted("CF", key=lambda title: uuid.UUID(ids[title]), reverse=descending))
    return expected.replace("**", tied)


@pytest.mark.parametrize(("order", "expected"), list(ORDERS.values()), ids=list(ORDERS))
async def test_sort_by_expected_close_date_and_page_with_cursors_both_ways(
    api: Api, dated: dict[str, str], order: list[dict[str, str]], expected: str
) -> None:
    descending = order[-1].get("direction") == "DESC"
    expected = in_id_order(expected, dated, descending)

    # the whole list in one page
    assert "".join(title for title, _ in await listed(api, orderBy=order)) == expected

    # and page by page, forward with first/after and backward with last/before
    forward, after = "", None
    while True:
        data = await api(LIST, {"orderBy": order, "first": 2, "after": after})
        page = data["leads"]
        forward += "".join(edge["node"]["title"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    backward, before = "", None
    while True:
        data = await api(LIST, {"orderBy": order, "first": None, "last": 2, "before": before})
        page = data["leads"]
        backward = "".join(edge["node"]["title"] for edge in page["edges"]) + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert forward == expected
    assert backward == expected


async def test_a_board_column_filters_and_sorts_by_expected_close_date(
    api: Api, dated: dict[str, str]
) -> None:
    stages = await api("{ pipelines { stages { id } } }")
    stage_id = stages["pipelines"][0]["stages"][0]["id"]

    data = await api(
        COLUMN,
        {
            "stageId": stage_id,
            "filter": {"expectedCloseDate": {"lt": "2026-03-01"}},
            "orderBy": [{"field": "EXPECTED_CLOSE_DATE", "direction": "DESC"}],
        },
    )

    column = data["stage"]["leads"]
    assert column["totalCount"] == 4
    assert "".join(node["title"] for node in column["nodes"]) == in_id_order("**BA", dated, True)


def cursor_parts(cursor: str) -> tuple[str, list[Any]]:
    signature, values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return signature, values


def forged(signature: str, values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([signature, values])).decode().rstrip("=")


@pytest.mark.parametrize(
    "value",
    ["2026-02-30", "20260201", "2026-W05-7", "2026-02-01T00:00:00+00:00", 20260201, [2026]],
)
async def test_a_forged_date_in_a_cursor_is_refused(
    api: Api, dated: dict[str, str], value: Any
) -> None:
    order = [{"field": "EXPECTED_CLOSE_DATE"}]
    page = (await api(LIST, {"orderBy": order, "first": 1}))["leads"]
    signature, values = cursor_parts(page["pageInfo"]["endCursor"])
    assert values[0] == "2026-01-15"  # a cursor carries the date as YYYY-MM-DD

    error = await top_level_error(
        api,
        LIST,
        {"orderBy": order, "first": 1, "after": forged(signature, [value, values[1]])},
    )

    assert error["message"] == "is not a cursor of this list with this ordering"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# --- other workspaces --------------------------------------------------------------------------


async def test_another_workspace_cannot_read_filter_or_change_it(
    api: Api, other_api: Api, database: Database
) -> None:
    # given a lead with a date here, and one in another workspace
    mine = await new_lead(api, "Mine", expectedCloseDate="2026-12-31")
    theirs = await new_lead(other_api, "Theirs", expectedCloseDate="2026-12-31")
    events = await event_count(database, api.workspace_id)

    # then the other workspace neither reads nor lists it, by id or by date
    assert await read_lead(other_api, mine["id"]) is None
    assert await listed(other_api, filter={"expectedCloseDate": {"eq": "2026-12-31"}}) == [
        ("Theirs", "2026-12-31")
    ]
    assert await listed(other_api, orderBy=[{"field": "EXPECTED_CLOSE_DATE"}]) == [
        ("Theirs", "2026-12-31")
    ]
    # and cannot change or clear it: the id behaves like one that does not exist
    for value in ("2027-01-01", None):
        foreign = await refused(
            other_api, "updateLead", {"id": mine["id"], "expectedCloseDate": value}
        )
        unknown = await refused(
            other_api, "updateLead", {"id": UNKNOWN_ID, "expectedCloseDate": value}
        )
        assert [(error["field"], error["code"]) for error in foreign] == [
            (["input", "id"], "NOT_FOUND")
        ]
        assert foreign == unknown
    assert await read_lead(api, mine["id"]) == mine
    assert await read_lead(other_api, theirs["id"]) == theirs
    assert await event_count(database, api.workspace_id) == events
