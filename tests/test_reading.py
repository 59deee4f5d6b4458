"""The read side through the HTTP endpoint: keyset pagination, filters, nested fields and the
statements they cost, and the masking of unexpected faults."""

from __future__ import annotations

import base64
import functools
import itertools
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url
from starlette.requests import Request
from starlette.responses import Response

from salesgraph.app import create_app
from salesgraph.db.engine import Database, create_database
from salesgraph.db.scratch import execute_on_server
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.events import Actor
from salesgraph.graphql.context import Context
from salesgraph.graphql.schema import schema
from salesgraph.leads import service as lead_service
from salesgraph.leads.service import Money, NewLead
from salesgraph.pipelines import service as pipeline_service
from salesgraph.pipelines.models import PipelineTemplate
from salesgraph.settings import Settings
from salesgraph.workspaces.models import Member, MemberRole, Scope, Team, TeamMembership
from salesgraph.workspaces.service import Principal
from tests.conftest import Api, StatementCounter, new_workspace

# Marked here, not only by conftest's collection hook: anyio rebuilds the items that hook marks,
# which drops their parametrization.
pytestmark = pytest.mark.anyio

SYSTEM = Actor()

PAGE_FIELDS = """
    totalCount
    edges { cursor node { id title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
"""
LIST_ARGUMENTS = """filter: $filter, orderBy: $orderBy, first: $first, after: $after,
    last: $last, before: $before"""
LIST_VARIABLES = """$filter: LeadFilter, $orderBy: [LeadOrder!], $first: Int, $after: String,
    $last: Int, $before: String"""
LEADS_QUERY = f"""query Leads({LIST_VARIABLES}) {{
  leads({LIST_ARGUMENTS}) {{ {PAGE_FIELDS} }}
}}"""
STAGE_LEADS_QUERY = f"""query StageLeads($stageId: ID!, {LIST_VARIABLES}) {{
  stage(id: $stageId) {{ leads({LIST_ARGUMENTS}) {{ {PAGE_FIELDS} }} }}
}}"""


# Building data quickly, through the services, one transaction per call.


async def create_leads(
    database: Database, workspace_id: uuid.UUID, leads: Sequence[NewLead]
) -> list[uuid.UUID]:
    """Create leads in one transaction (so they share created_at); returns their ids."""
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        return [
            (await lead_service.create_lead(session, actor=SYSTEM, new=new)).id for new in leads
        ]


async def add_people(
    database: Database, workspace_id: uuid.UUID, teams: dict[str, list[str]], others: list[str]
) -> tuple[dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    """Members (those of `teams` and `others`) and teams; returns their ids by name."""
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        names = [*(name for members in teams.values() for name in members), *others]
        members = {
            name: Member(
                workspace_id=workspace_id,
                email=f"{name.lower()}@example.com",
                name=name,
                role=MemberRole.REP,
            )
            for name in dict.fromkeys(names)
        }
        team_rows = {name: Team(workspace_id=workspace_id, name=name) for name in teams}
        session.add_all([*members.values(), *team_rows.values()])
        await session.flush()
        session.add_all(
            TeamMembership(
                workspace_id=workspace_id, team_id=team_rows[team].id, member_id=members[name].id
            )
            for team, member_names in teams.items()
            for name in member_names
        )
    return (
        {name: member.id for name, member in members.items()},
        {name: team.id for name, team in team_rows.items()},
    )


async def stage_ids(api: Api) -> list[str]:
    data = await api("{ pipelines { stages { id } } }")
    return [stage["id"] for stage in data["pipelines"][0]["stages"]]


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def error_body(body: dict[str, Any]) -> dict[str, Any]:
    """The one error of a response body."""
    assert len(body["errors"]) == 1, body
    return body["errors"][0]  # type: ignore[no-any-return]


async def query_error(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(query, variables)
    assert response.status_code == 200, response.text
    return error_body(response.json())


# 1. Pagination


@dataclass(frozen=True)
class Row:
    id: uuid.UUID
    title: str
    company_name: str | None
    value: Decimal | None
    score: int | None
    created_at: datetime


SORT_VALUES: dict[str, Callable[[Row], Any]] = {
    "CREATED_AT": lambda row: row.created_at,
    "TITLE": lambda row: row.title,
    "COMPANY_NAME": lambda row: row.company_name,
    "VALUE": lambda row: row.value,
    "SCORE": lambda row: row.score,
}

Order = list[tuple[str, str, str]]  # (field, direction, nulls)


def expected_order(rows: Sequence[Row], order: Order | None) -> list[str]:
    """The ids sorted by `order` (newest first by default), ties in id order, in Python."""
    keys = order or [("CREATED_AT", "DESC", "LAST")]

    def compare(a: Row, b: Row) -> int:
        for field, direction, nulls in keys:
            x, y = SORT_VALUES[field](a), SORT_VALUES[field](b)
            if x == y:
                continue
            if x is None or y is None:
                first_is_null = x is None
                return -1 if first_is_null == (nulls == "FIRST") else 1
            result = -1 if x < y else 1
            return -result if direction == "DESC" else result
        result = -1 if a.id < b.id else 1  # the tiebreaker follows the last key's direction
        return -result if keys[-1][1] == "DESC" else result

    return [str(row.id) for row in sorted(rows, key=functools.cmp_to_key(compare))]


def order_argument(order: Order | None) -> list[dict[str, str]] | None:
    if order is None:
        return None
    return [{"field": f, "direction": d, "nulls": n} for f, d, n in order]


async def seed_paged_leads(api: Api, database: Database) -> list[Row]:
    """30 leads at the first stage: ties and NULLs in every sort key, created in 6 transactions
    of 5 (so created_at ties too)."""
    assert api.workspace_id is not None
    companies = [None, "Acme", "Birch", "Cedar", None, "Acme"]
    for batch in range(6):
        leads = []
        for i in range(batch * 5, batch * 5 + 5):
            leads.append(
                NewLead(
                    title=f"Lead {i:02d}",
                    company_name=companies[i % 6],
                    value=None if i % 4 == 0 else eur(str(100 * (i % 5))),
                    score=None if i % 3 == 0 else (i * 7) % 4 * 10,
                )
            )
        await create_leads(database, api.workspace_id, leads)
    data = await api(
        """{ leads(first: 100) { edges { node {
            id title companyName value { amount } score createdAt } } } }"""
    )
    rows = [
        Row(
            id=uuid.UUID(node["id"]),
            title=node["title"],
            company_name=node["companyName"],
            value=Decimal(node["value"]["amount"]) if node["value"] else None,
            score=node["score"],
            created_at=datetime.fromisoformat(node["createdAt"]),
        )
        for node in (edge["node"] for edge in data["leads"]["edges"])
    ]
    assert len(rows) == 30
    return rows


async def fetch_page(api: Api, stage_id: str | None, variables: dict[str, Any]) -> dict[str, Any]:
    if stage_id is None:
        return (await api(LEADS_QUERY, variables))["leads"]  # type: ignore[no-any-return]
    data = await api(STAGE_LEADS_QUERY, {"stageId": stage_id, **variables})
    return data["stage"]["leads"]  # type: ignore[no-any-return]


def assert_page_shape(page: dict[str, Any], total: int, size: int) -> None:
    edges = page["edges"]
    assert page["totalCount"] == total
    assert len(edges) == size
    assert page["pageInfo"]["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert page["pageInfo"]["endCursor"] == (edges[-1]["cursor"] if edges else None)


async def walk_forward(
    api: Api, order: Order | None, size: int, stage_id: str | None = None
) -> tuple[list[str], list[str]]:
    """Every page with first/after; checks each page's shape; returns ids and cursors."""
    ids: list[str] = []
    cursors: list[str] = []
    after = None
    total = None
    while True:
        page = await fetch_page(
            api, stage_id, {"orderBy": order_argument(order), "first": size, "after": after}
        )
        total = page["totalCount"] if total is None else total
        remaining = total - len(ids)
        assert_page_shape(page, total, min(size, remaining))
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert page["pageInfo"]["hasNextPage"] is (remaining > size)
        ids += [edge["node"]["id"] for edge in page["edges"]]
        cursors += [edge["cursor"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, cursors
        after = page["pageInfo"]["endCursor"]


async def walk_backward(
    api: Api, order: Order | None, size: int, stage_id: str | None = None
) -> tuple[list[str], list[str]]:
    """Every page with last/before, from the end; returns ids and cursors in list order."""
    ids: list[str] = []
    cursors: list[str] = []
    before = None
    total = None
    while True:
        page = await fetch_page(
            api, stage_id, {"orderBy": order_argument(order), "last": size, "before": before}
        )
        total = page["totalCount"] if total is None else total
        remaining = total - len(ids)
        assert_page_shape(page, total, min(size, remaining))
        assert page["pageInfo"]["hasNextPage"] is (before is not None)
        assert page["pageInfo"]["hasPreviousPage"] is (remaining > size)
        ids = [edge["node"]["id"] for edge in page["edges"]] + ids
        cursors = [edge["cursor"] for edge in page["edges"]] + cursors
        if not page["pageInfo"]["hasPreviousPage"]:
            return ids, cursors
        before = page["pageInfo"]["startCursor"]


ORDERS: dict[str, Order | None] = {
    "default": None,
    "created-asc": [("CREATED_AT", "ASC", "LAST")],
    "value-asc-nulls-first": [("VALUE", "ASC", "FIRST")],
    "value-asc-nulls-last": [("VALUE", "ASC", "LAST")],
    "value-desc-nulls-first": [("VALUE", "DESC", "FIRST")],
    "value-desc-nulls-last": [("VALUE", "DESC", "LAST")],
    "score-desc": [("SCORE", "DESC", "LAST")],
    "company-asc-created-desc": [("COMPANY_NAME", "ASC", "LAST"), ("CREATED_AT", "DESC", "LAST")],
    "company-desc-nulls-first-title": [
        ("COMPANY_NAME", "DESC", "FIRST"),
        ("TITLE", "ASC", "LAST"),
    ],
    "score-nulls-first-value-desc-title-desc": [
        ("SCORE", "ASC", "FIRST"),
        ("VALUE", "DESC", "LAST"),
        ("TITLE", "DESC", "LAST"),
    ],
}


@pytest.mark.parametrize("order", list(ORDERS.values()), ids=list(ORDERS))
async def test_walking_every_page_both_ways_yields_the_whole_list_in_order(
    api: Api, database: Database, order: Order | None
) -> None:
    # Given 30 leads with ties and NULLs in every sort key
    rows = await seed_paged_leads(api, database)
    expected = expected_order(rows, order)
    one_page = await fetch_page(api, None, {"orderBy": order_argument(order), "first": 100})
    assert [edge["node"]["id"] for edge in one_page["edges"]] == expected

    for size in (1, 7, 10):
        # When walking forward, then backward, page by page
        forward, forward_cursors = await walk_forward(api, order, size)
        backward, backward_cursors = await walk_backward(api, order, size)

        # Then both walks are the whole list in order: no duplicates, no gaps
        assert forward == expected, size
        assert backward == expected, size
        assert len(set(forward)) == 30
        # and a row has one cursor, whichever way it was reached
        assert forward_cursors == backward_cursors
        assert forward_cursors == [edge["cursor"] for edge in one_page["edges"]]


BOARD_ORDERS = ["default", "value-asc-nulls-first", "company-asc-created-desc"]


@pytest.mark.parametrize("name", BOARD_ORDERS)
async def test_walking_a_board_column_both_ways_yields_the_whole_column_in_order(
    api: Api, database: Database, name: str
) -> None:
    # Given 30 leads at the first stage, and one at another stage
    rows = await seed_paged_leads(api, database)
    stages = await stage_ids(api)
    assert api.workspace_id is not None
    await create_leads(
        database, api.workspace_id, [NewLead(title="Elsewhere", stage_id=uuid.UUID(stages[1]))]
    )
    order = ORDERS[name]

    for size in (7, 10):
        # When walking the first stage's column both ways
        forward, _ = await walk_forward(api, order, size, stage_id=stages[0])
        backward, _ = await walk_backward(api, order, size, stage_id=stages[0])

        # Then each walk is exactly the stage's leads in order
        assert forward == expected_order(rows, order)
        assert backward == expected_order(rows, order)


async def test_a_page_of_nothing_and_a_page_of_zero_have_exact_page_info(api: Api) -> None:
    # Given a workspace without leads, when listing it,
    # then there are no edges, no cursors and no neighbours
    empty = await fetch_page(api, None, {"first": 5})
    assert empty == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }
    # Given one lead, first: 0 returns no edges but says that more follow
    await api('mutation { createLead(input: {title: "Only"}) { lead { id } } }')
    zero = await fetch_page(api, None, {"first": 0})
    assert zero["edges"] == []
    assert zero["totalCount"] == 1
    assert zero["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_default_page_size_is_20(api: Api, database: Database) -> None:
    # Given 30 leads
    rows = await seed_paged_leads(api, database)
    expected = expected_order(rows, None)

    # When listing without a page size
    first = await fetch_page(api, None, {})
    second = await fetch_page(api, None, {"after": first["pageInfo"]["endCursor"]})

    # Then pages hold 20 leads
    assert [edge["node"]["id"] for edge in first["edges"]] == expected[:20]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [edge["node"]["id"] for edge in second["edges"]] == expected[20:]
    assert second["pageInfo"]["hasNextPage"] is False
    # and the maximum, 100, is accepted
    assert len((await fetch_page(api, None, {"first": 100}))["edges"]) == 30
    assert len((await fetch_page(api, None, {"last": 100}))["edges"]) == 30


async def test_walking_forward_while_leads_come_and_go_neither_repeats_nor_skips(
    api: Api, database: Database
) -> None:
    # Given 30 leads titled T00..T29, listed by title
    assert api.workspace_id is not None
    ids = await create_leads(
        database, api.workspace_id, [NewLead(title=f"T{i:02d}") for i in range(30)]
    )
    by_title = {f"T{i:02d}": str(lead_id) for i, lead_id in enumerate(ids)}
    order = [{"field": "TITLE", "direction": "ASC", "nulls": "LAST"}]

    async def page_after(after: str | None) -> dict[str, Any]:
        return await fetch_page(api, None, {"orderBy": order, "first": 5, "after": after})

    async def create(title: str) -> None:
        await api(
            "mutation($title: String!) { createLead(input: {title: $title}) { lead { id } } }",
            {"title": title},
        )

    async def delete(title: str) -> None:
        result = await api(
            "mutation($id: ID!) { deleteLead(input: {id: $id}) { errors { code } } }",
            {"id": by_title[title]},
        )
        assert result["deleteLead"]["errors"] == []

    # When walking forward 5 at a time, while between pages leads are deleted ahead of and
    # behind the cursor, and leads are inserted ahead of and behind it
    first = await page_after(None)
    seen = [edge["node"]["title"] for edge in first["edges"]]
    await delete("T07")
    await delete("T12")
    await delete("T02")
    await create("T015")  # sorts behind the cursor (T04)
    await create("T105")  # sorts ahead of it, between T10 and T11
    after = first["pageInfo"]["endCursor"]
    while True:
        page = await page_after(after)
        seen += [edge["node"]["title"] for edge in page["edges"]]
        if len(seen) == 10:  # the cursor is at T10
            await delete("T11")  # next in line after T105
            await create("T13a")  # ahead of the cursor
            await create("T08a")  # behind it
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # Then every lead that existed throughout was seen once, in order; deleted leads ahead of
    # the cursor and new leads behind it were not, new leads ahead of it were
    assert seen == [
        *("T00", "T01", "T02", "T03", "T04"),
        *("T05", "T06", "T08", "T09", "T10"),
        *("T105", "T13", "T13a"),
        *(f"T{i}" for i in range(14, 30)),
    ]
    assert len(set(seen)) == len(seen)


async def test_walking_newest_first_while_leads_come_and_go_neither_repeats_nor_skips(
    api: Api, database: Database
) -> None:
    # Given 12 leads created one after another (newest first is the default order)
    assert api.workspace_id is not None
    created = []
    for i in range(12):
        created += await create_leads(database, api.workspace_id, [NewLead(title=f"L{i:02d}")])
    newest_first = [str(lead_id) for lead_id in reversed(created)]

    # When walking 4 at a time while new leads arrive and unseen ones are deleted
    seen: list[str] = []
    after = None
    deleted: list[str] = []
    while True:
        page = await fetch_page(api, None, {"first": 4, "after": after})
        seen += [edge["node"]["id"] for edge in page["edges"]]
        await api('mutation { createLead(input: {title: "New"}) { lead { id } } }')
        unseen = [lead_id for lead_id in newest_first if lead_id not in seen + deleted]
        if unseen:
            deleted.append(unseen[1] if len(unseen) > 1 else unseen[0])
            await api(
                "mutation($id: ID!) { deleteLead(input: {id: $id}) { errors { code } } }",
                {"id": deleted[-1]},
            )
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # Then the walk is exactly the original leads that were not deleted, newest first
    assert seen == [lead_id for lead_id in newest_first if lead_id not in deleted]
    assert len(deleted) == 2


@pytest.mark.parametrize(
    ("arguments", "message", "field"),
    [
        ({"first": 101}, "first must be between 0 and 100", ["first"]),
        ({"last": 101}, "last must be between 0 and 100", ["last"]),
        ({"first": -1}, "first must be between 0 and 100", ["first"]),
        ({"last": -1}, "last must be between 0 and 100", ["last"]),
        ({"first": 5, "last": 5}, "give first or last, not both", ["first"]),
        ({"orderBy": []}, "sort by 1 to 3 fields", ["orderBy"]),
        ({"orderBy": [{"field": "TITLE"}] * 4}, "sort by 1 to 3 fields", ["orderBy"]),
    ],
    ids=["first-101", "last-101", "first-negative", "last-negative", "both", "no-key", "4-keys"],
)
async def test_bad_page_arguments_are_errors_not_silently_fixed(
    api: Api, arguments: dict[str, Any], message: str, field: list[str]
) -> None:
    # Given a lead
    await api('mutation { createLead(input: {title: "One"}) { lead { id } } }')
    stage_id = (await stage_ids(api))[0]

    # When listing leads, or a board column, with bad page arguments
    root = await query_error(api, LEADS_QUERY, arguments)
    column = await query_error(api, STAGE_LEADS_QUERY, {"stageId": stage_id, **arguments})

    # Then the field fails with a coded, readable error
    extensions = {"code": "BAD_USER_INPUT", "reason": "VALIDATION", "field": field}
    assert root["message"] == message
    assert root["extensions"] == extensions
    assert root["path"] == ["leads"]
    assert column["message"] == message
    assert column["extensions"] == extensions
    assert column["path"] == ["stage", "leads"]


def forged(signature: str, values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([signature, values])).decode().rstrip("=")


def cursor_parts(cursor: str) -> tuple[str, list[Any]]:
    signature, values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return signature, values


async def test_a_cursor_of_another_order_is_refused(api: Api) -> None:
    # Given two leads and a cursor of the title order
    for title in ("A", "B"):
        await api(
            "mutation($t: String!) { createLead(input: {title: $t}) { lead { id } } }", {"t": title}
        )
    by_title = [{"field": "TITLE"}]
    cursor = (await fetch_page(api, None, {"orderBy": by_title, "first": 1}))["edges"][0]["cursor"]

    # When it is used with another order, as after or before
    cases = [
        ({"first": 1, "after": cursor}, "after"),
        ({"last": 1, "before": cursor}, "before"),
        (
            {"first": 1, "after": cursor, "orderBy": [{"field": "TITLE", "direction": "DESC"}]},
            "after",
        ),
        (
            {"first": 1, "after": cursor, "orderBy": [{"field": "TITLE"}, {"field": "SCORE"}]},
            "after",
        ),
        ({"first": 1, "after": cursor, "orderBy": [{"field": "TITLE", "nulls": "FIRST"}]}, "after"),
    ]
    for arguments, field in cases:
        error = await query_error(api, LEADS_QUERY, arguments)

        # Then it is refused
        assert error["message"] == "is not a cursor of this list with this ordering"
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "reason": "VALIDATION",
            "field": [field],
        }
    # while with its own order it works
    page = await fetch_page(api, None, {"orderBy": by_title, "first": 1, "after": cursor})
    assert [edge["node"]["title"] for edge in page["edges"]] == ["B"]


GARBAGE = {
    "word": lambda sig, values: "garbage",
    "empty": lambda sig, values: "",
    "not-base64": lambda sig, values: "%%%***",
    "not-ascii": lambda sig, values: "çürük",
    "not-json": lambda sig, values: base64.urlsafe_b64encode(b"{not json").decode(),
    "a-number": lambda sig, values: base64.urlsafe_b64encode(b"5").decode(),
    "too-few-values": lambda sig, values: forged(sig, values[:1]),
    "too-many-values": lambda sig, values: forged(sig, [*values, 1]),
    "number-for-time": lambda sig, values: forged(sig, [123, values[1]]),
    "number-for-id": lambda sig, values: forged(sig, [values[0], 123]),
    "list-for-id": lambda sig, values: forged(sig, [values[0], [1]]),
    "bad-id": lambda sig, values: forged(sig, [values[0], "not-a-uuid"]),
    "null-id": lambda sig, values: forged(sig, [values[0], None]),
    "null-time": lambda sig, values: forged(sig, [None, values[1]]),
    "time-without-offset": lambda sig, values: forged(sig, ["2026-01-01T00:00:00", values[1]]),
    "time-out-of-range": lambda sig, values: forged(sig, ["0001-01-01T00:00:00+14:00", values[1]]),
}


@pytest.mark.parametrize("make", list(GARBAGE.values()), ids=list(GARBAGE))
async def test_a_garbage_cursor_is_refused(api: Api, make: Callable[..., str]) -> None:
    # Given a lead and a real cursor of the default order
    await api('mutation { createLead(input: {title: "One"}) { lead { id } } }')
    cursor = (await fetch_page(api, None, {"first": 1}))["edges"][0]["cursor"]
    garbage = make(*cursor_parts(cursor))
    stage_id = (await stage_ids(api))[0]

    # When a garbage cursor is given to a list or a board column
    for arguments in ({"first": 1, "after": garbage}, {"last": 1, "before": garbage}):
        field = "after" if "after" in arguments else "before"
        root = await query_error(api, LEADS_QUERY, arguments)
        column = await query_error(api, STAGE_LEADS_QUERY, {"stageId": stage_id, **arguments})

        # Then it is refused as bad input, not as an internal error
        for error in (root, column):
            assert error["message"] == "is not a cursor of this list with this ordering"
            assert error["extensions"] == {
                "code": "BAD_USER_INPUT",
                "reason": "VALIDATION",
                "field": [field],
            }


FORGED_VALUES = {
    "value-overflows-column": ("VALUE", "1e20"),
    "value-rounds-beyond-column": ("VALUE", "9999999999999999.99999"),
    "value-not-a-number": ("VALUE", "NaN"),
    "value-infinite": ("VALUE", "Infinity"),
    "value-as-json-number": ("VALUE", 10),
    "score-beyond-smallint": ("SCORE", 40000),
    "score-fraction": ("SCORE", 1.5),
    "score-boolean": ("SCORE", True),
    "score-as-string": ("SCORE", "10"),
    "title-with-nul": ("TITLE", "a\x00b"),
    "title-as-number": ("TITLE", 5),
}


@pytest.mark.parametrize(("field", "value"), list(FORGED_VALUES.values()), ids=list(FORGED_VALUES))
async def test_a_forged_cursor_value_is_refused(api: Api, field: str, value: Any) -> None:
    # Given a lead and a real cursor of an order by a value, score or title
    await api(
        """mutation { createLead(input: {title: "One", score: 5,
            value: {amount: "10", currency: "EUR"}}) { lead { id } } }"""
    )
    order = [{"field": field}]
    cursor = (await fetch_page(api, None, {"orderBy": order, "first": 1}))["edges"][0]["cursor"]
    signature, values = cursor_parts(cursor)

    # When its sort value is replaced by one the column cannot hold
    error = await query_error(
        api,
        LEADS_QUERY,
        {"orderBy": order, "first": 1, "after": forged(signature, [value, values[1]])},
    )

    # Then the cursor is refused as bad input
    assert error["message"] == "is not a cursor of this list with this ordering"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# 2. Filters


@dataclass
class Catalog:
    """A workspace with six visible leads and a deleted one, each with distinct attributes."""

    leads: dict[str, str]  # short name -> id
    created_at: dict[str, str]
    members: dict[str, str]
    teams: dict[str, str]
    sales: str
    renewals: str
    stages: list[str]


TITLES = {
    "A": "Alpha deal",
    "B": "Beta 100% growth",
    "G": "Gamma",
    "D": "Delta renewal",
    "E": "Epsilon",
    "Z": "Zeta 100 percent",
    "X": "Eta deleted",
}


@pytest.fixture
async def catalog(api: Api, database: Database) -> Catalog:
    workspace_id = api.workspace_id
    assert workspace_id is not None
    members, teams = await add_people(
        database,
        workspace_id,
        {"North": ["Ann", "Bob"], "South": ["Cem"], "Empty": []},
        ["Dee"],
    )
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        renewals = await pipeline_service.create_pipeline(
            session,
            workspace_id=workspace_id,
            actor=SYSTEM,
            name="Renewals",
            template=PipelineTemplate.FIVE_STAGE,
        )
    pipelines = await api("{ pipelines { id name stages { id } } }")
    sales = next(p for p in pipelines["pipelines"] if p["name"] == "Sales")
    stages = [uuid.UUID(stage["id"]) for stage in sales["stages"]]
    specs = {
        "A": NewLead(
            title=TITLES["A"],
            company_name="Acme GmbH",
            contact_name="Jane Doe",
            contact_email="jane@acme.example",
            source="web",
            owner_id=members["Ann"],
            team_id=teams["North"],
            value=eur("1000.00"),
            score=10,
            stage_id=stages[0],
        ),
        "B": NewLead(
            title=TITLES["B"],
            company_name="Beta_Co",
            contact_name="John Roe",
            contact_email="john@beta.example",
            source="referral",
            owner_id=members["Bob"],
            team_id=teams["North"],
            value=Money(Decimal("250.50"), "USD"),
            score=50,
            stage_id=stages[1],
        ),
        "G": NewLead(
            title=TITLES["G"],
            company_name="GAMMA LTD",
            contact_name="Zed Zulu",
            source="event",
            owner_id=members["Cem"],
            team_id=teams["South"],
            stage_id=stages[2],
        ),
        "D": NewLead(
            title=TITLES["D"],
            pipeline_id=renewals.id,
            contact_name="Max Mustermann",
            contact_email="max@delta.example",
            source="web",
            team_id=teams["South"],
            value=eur("999.99"),
            score=90,
        ),
        "E": NewLead(
            title=TITLES["E"],
            company_name="Betax Co",
            owner_id=members["Dee"],
            value=eur("1000.01"),
            score=100,
            stage_id=stages[3],
        ),
        "Z": NewLead(
            title=TITLES["Z"],
            company_name="Zeta",
            contact_name="Ann Other",
            source="partner",
            owner_id=members["Ann"],
            stage_id=stages[4],
        ),
        "X": NewLead(
            title=TITLES["X"],
            source="web",
            owner_id=members["Ann"],
            team_id=teams["North"],
            value=eur("5"),
            score=50,
            stage_id=stages[0],
        ),
    }
    ids = {}
    for name, spec in specs.items():  # one transaction each: distinct creation times
        ids[name] = (await create_leads(database, workspace_id, [spec]))[0]
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        await lead_service.update_lead(
            session,
            actor=SYSTEM,
            lead_id=ids["B"],
            fields=lead_service.LeadChanges(referred_by_id=ids["A"]),
            expected_version=None,
        )
        await lead_service.win_lead(
            session, actor=SYSTEM, lead_id=ids["E"], reason=None, expected_version=None
        )
        await lead_service.lose_lead(
            session, actor=SYSTEM, lead_id=ids["Z"], reason="budget", expected_version=None
        )
        await lead_service.delete_lead(
            session, actor=SYSTEM, lead_id=ids["X"], expected_version=None
        )
    listed = await api("{ leads(first: 100) { edges { node { id createdAt } } } }")
    created = {edge["node"]["id"]: edge["node"]["createdAt"] for edge in listed["leads"]["edges"]}
    return Catalog(
        leads={name: str(lead_id) for name, lead_id in ids.items()},
        created_at={name: created[str(i)] for name, i in ids.items() if name != "X"},
        members={name: str(i) for name, i in members.items()},
        teams={name: str(i) for name, i in teams.items()},
        sales=sales["id"],
        renewals=str(renewals.id),
        stages=[str(stage) for stage in stages],
    )


FILTER_QUERY = """query($filter: LeadFilter) {
  leads(filter: $filter, first: 100) { totalCount edges { node { title } } }
}"""


async def matching(api: Api, lead_filter: dict[str, Any]) -> str:
    """The short names of the leads the filter matches, sorted, e.g. "ABG"."""
    data = await api(FILTER_QUERY, {"filter": lead_filter})
    names = {title: name for name, title in TITLES.items()}
    found = "".join(sorted(names[edge["node"]["title"]] for edge in data["leads"]["edges"]))
    assert data["leads"]["totalCount"] == len(found)
    return found


async def test_no_filter_lists_every_lead_but_deleted_ones(api: Api, catalog: Catalog) -> None:
    assert await matching(api, {}) == "ABDEGZ"


async def test_filter_by_id(api: Api, catalog: Catalog) -> None:
    leads = catalog.leads
    assert await matching(api, {"id": {"eq": leads["A"]}}) == "A"
    assert await matching(api, {"id": {"in": [leads["A"], leads["G"]]}}) == "AG"
    assert await matching(api, {"id": {"neq": leads["A"]}}) == "BDEGZ"
    assert await matching(api, {"id": {"eq": leads["X"]}}) == ""  # deleted
    assert await matching(api, {"id": {"eq": str(uuid.uuid4())}}) == ""


async def test_filter_by_pipeline_and_stage(api: Api, catalog: Catalog) -> None:
    stages = catalog.stages
    assert await matching(api, {"pipelineId": {"eq": catalog.renewals}}) == "D"
    assert await matching(api, {"pipelineId": {"eq": catalog.sales}}) == "ABEGZ"
    assert await matching(api, {"pipelineId": {"neq": catalog.renewals}}) == "ABEGZ"
    assert await matching(api, {"stageId": {"eq": stages[1]}}) == "B"
    assert await matching(api, {"stageId": {"in": [stages[0], stages[2]]}}) == "AG"
    assert await matching(api, {"stageId": {"eq": stages[3]}}) == "E"  # won there
    assert await matching(api, {"stageId": {"eq": stages[6]}}) == ""


async def test_filter_by_status(api: Api, catalog: Catalog) -> None:
    assert await matching(api, {"status": {"eq": "OPEN"}}) == "ABDG"
    assert await matching(api, {"status": {"eq": "WON"}}) == "E"
    assert await matching(api, {"status": {"in": ["WON", "LOST"]}}) == "EZ"
    assert await matching(api, {"status": {"neq": "OPEN"}}) == "EZ"
    assert await matching(api, {"status": {"in": []}}) == ""


async def test_filter_by_owner_team_and_owner_in_team(api: Api, catalog: Catalog) -> None:
    members, teams = catalog.members, catalog.teams
    assert await matching(api, {"ownerId": {"eq": members["Ann"]}}) == "AZ"
    assert await matching(api, {"ownerId": {"is": "NULL"}}) == "D"
    assert await matching(api, {"ownerId": {"is": "NOT_NULL"}}) == "ABEGZ"
    assert await matching(api, {"ownerId": {"in": [members["Ann"], members["Cem"]]}}) == "AGZ"
    assert await matching(api, {"ownerId": {"neq": members["Ann"]}}) == "BEG"  # NULL never
    assert await matching(api, {"teamId": {"eq": teams["North"]}}) == "AB"
    assert await matching(api, {"teamId": {"eq": teams["South"]}}) == "DG"
    assert await matching(api, {"teamId": {"is": "NULL"}}) == "EZ"
    assert await matching(api, {"ownerInTeam": teams["North"]}) == "ABZ"
    assert await matching(api, {"ownerInTeam": teams["South"]}) == "G"
    assert await matching(api, {"ownerInTeam": teams["Empty"]}) == ""


async def test_filter_by_source_and_text_fields(api: Api, catalog: Catalog) -> None:
    assert await matching(api, {"source": {"eq": "web"}}) == "AD"
    assert await matching(api, {"source": {"in": ["event", "referral"]}}) == "BG"
    assert await matching(api, {"source": {"is": "NULL"}}) == "E"
    assert await matching(api, {"source": {"neq": "web"}}) == "BGZ"  # NULL never matches
    assert await matching(api, {"source": {"ilike": "W%"}}) == "AD"
    assert await matching(api, {"companyName": {"is": "NULL"}}) == "D"
    assert await matching(api, {"contactName": {"eq": "Zed Zulu"}}) == "G"
    assert await matching(api, {"contactEmail": {"ilike": "%.EXAMPLE"}}) == "ABD"


async def test_filter_by_title(api: Api, catalog: Catalog) -> None:
    assert await matching(api, {"title": {"ilike": "%DEAL%"}}) == "A"
    assert await matching(api, {"title": {"ilike": "%eta%"}}) == "BZ"
    assert await matching(api, {"title": {"ilike": "_amma"}}) == "G"  # _ is one character
    assert await matching(api, {"title": {"ilike": "gamma"}}) == "G"  # the whole title
    assert await matching(api, {"title": {"ilike": "%100%%"}}) == "BZ"  # % is a wildcard
    assert await matching(api, {"title": {"ilike": "%100\\%%"}}) == "B"  # \% is a percent sign
    assert await matching(api, {"title": {"eq": "Gamma"}}) == "G"
    assert await matching(api, {"title": {"eq": "gamma"}}) == ""  # eq is exact


async def test_filter_by_value_and_currency(api: Api, catalog: Catalog) -> None:
    assert await matching(api, {"value": {"gt": "999.99"}}) == "AE"
    assert await matching(api, {"value": {"gt": "1000.005"}}) == "E"
    assert await matching(api, {"value": {"lte": "999.99"}}) == "BD"
    assert await matching(api, {"value": {"lt": "1000.01"}}) == "ABD"
    assert await matching(api, {"value": {"gte": "1000", "lt": "1000.01"}}) == "A"
    assert await matching(api, {"value": {"eq": "250.5"}}) == "B"
    assert await matching(api, {"value": {"eq": "250.5000"}}) == "B"
    assert await matching(api, {"value": {"in": ["1000", "999.99"]}}) == "AD"
    assert await matching(api, {"value": {"neq": "1000"}}) == "BDE"
    assert await matching(api, {"value": {"is": "NULL"}}) == "GZ"
    assert await matching(api, {"value": {"gt": 999}}) == "ADE"  # integers are accepted
    assert await matching(api, {"currency": {"eq": "EUR"}}) == "ADE"
    assert await matching(api, {"currency": {"in": ["USD", "GBP"]}}) == "B"
    assert await matching(api, {"currency": {"is": "NULL"}}) == "GZ"


async def test_filter_by_score(api: Api, catalog: Catalog) -> None:
    assert await matching(api, {"score": {"gte": 50}}) == "BDE"
    assert await matching(api, {"score": {"lt": 50}}) == "A"
    assert await matching(api, {"score": {"gt": 10, "lte": 90}}) == "BD"
    assert await matching(api, {"score": {"in": [10, 100]}}) == "AE"
    assert await matching(api, {"score": {"neq": 50}}) == "ADE"
    assert await matching(api, {"score": {"is": "NULL"}}) == "GZ"
    assert await matching(api, {"score": {"eq": 0}}) == ""


async def test_filter_by_times_and_referrer(api: Api, catalog: Catalog) -> None:
    created = catalog.created_at
    assert await matching(api, {"createdAt": {"gt": created["G"]}}) == "DEZ"
    assert await matching(api, {"createdAt": {"lte": created["B"]}}) == "AB"
    assert await matching(api, {"createdAt": {"gte": created["B"], "lt": created["D"]}}) == "BG"
    assert await matching(api, {"createdAt": {"eq": created["G"]}}) == "G"
    assert await matching(api, {"createdAt": {"neq": created["G"]}}) == "ABDEZ"
    assert await matching(api, {"createdAt": {"is": "NOT_NULL"}}) == "ABDEGZ"
    # B (its referrer set), E (won) and Z (lost) changed after the last lead was created
    assert await matching(api, {"updatedAt": {"gt": created["Z"]}}) == "BEZ"
    assert await matching(api, {"stageEnteredAt": {"lte": created["G"]}}) == "ABG"
    assert await matching(api, {"closedAt": {"is": "NULL"}}) == "ABDG"
    assert await matching(api, {"closedAt": {"is": "NOT_NULL"}}) == "EZ"
    assert await matching(api, {"referredById": {"eq": catalog.leads["A"]}}) == "B"
    assert await matching(api, {"referredById": {"is": "NOT_NULL"}}) == "B"


async def test_search_is_case_insensitive_over_title_company_contact_and_email(
    api: Api, catalog: Catalog
) -> None:
    assert await matching(api, {"search": "acme"}) == "A"  # company (and email)
    assert await matching(api, {"search": "ACME GMBH"}) == "A"
    assert await matching(api, {"search": "jane doe"}) == "A"  # contact name
    assert await matching(api, {"search": "@BETA.example"}) == "B"  # email
    assert await matching(api, {"search": "gamma"}) == "G"  # title and company
    assert await matching(api, {"search": "zulu"}) == "G"
    assert await matching(api, {"search": "mustermann"}) == "D"
    assert await matching(api, {"search": "beta"}) == "BE"  # Beta_Co, Betax Co
    assert await matching(api, {"search": "  Gamma  "}) == "G"  # trimmed
    assert await matching(api, {"search": "   "}) == "ABDEGZ"  # blank: no condition
    assert await matching(api, {"search": "nothing like it"}) == ""


async def test_search_takes_percent_and_underscore_literally(api: Api, catalog: Catalog) -> None:
    assert await matching(api, {"search": "100%"}) == "B"  # not "Zeta 100 percent"
    assert await matching(api, {"search": "%"}) == "B"
    assert await matching(api, {"search": "beta_co"}) == "B"  # not "Betax Co"
    assert await matching(api, {"search": "_"}) == "B"
    assert await matching(api, {"search": "\\"}) == ""


async def test_and_or_not_combine_filters(api: Api, catalog: Catalog) -> None:
    members, teams = catalog.members, catalog.teams
    ann = {"ownerId": {"eq": members["Ann"]}}
    assert await matching(api, {"or": [ann, {"teamId": {"eq": teams["South"]}}]}) == "ADGZ"
    assert (
        await matching(api, {"and": [{"status": {"eq": "OPEN"}}, {"value": {"gt": "500"}}]}) == "AD"
    )
    assert await matching(api, {"not": {"status": {"eq": "OPEN"}}}) == "EZ"
    assert await matching(api, {"not": {"not": ann}}) == "AZ"
    assert (
        await matching(
            api,
            {
                "or": [
                    {"and": [{"teamId": {"eq": teams["North"]}}, {"score": {"gte": 50}}]},
                    {"not": {"closedAt": {"is": "NULL"}}},
                ]
            },
        )
        == "BEZ"
    )
    # fields and combinators at one level all hold
    assert (
        await matching(
            api,
            {"source": {"eq": "web"}, "or": [{"score": {"lt": 50}}, {"ownerId": {"is": "NULL"}}]},
        )
        == "AD"
    )
    assert await matching(api, {"and": []}) == "ABDEGZ"


async def test_not_matches_exactly_the_leads_the_filter_does_not(
    api: Api, catalog: Catalog
) -> None:
    # "This filter does not hold": a NULL column makes the inner filter not hold, so `not`
    # matches the lead (SQL's NOT would drop it as unknown)
    members = catalog.members
    assert await matching(api, {"not": {"ownerId": {"eq": members["Ann"]}}}) == "BDEG"
    assert await matching(api, {"not": {"search": "beta"}}) == "ADGZ"
    assert await matching(api, {"not": {"score": {"gte": 50}}}) == "AGZ"
    assert await matching(api, {"not": {"ownerInTeam": catalog.teams["North"]}}) == "DEG"
    for inner in (
        {"ownerId": {"eq": members["Ann"]}},
        {"search": "beta"},
        {"value": {"gt": "500"}, "source": {"eq": "web"}},
        {"or": [{"score": {"lt": 60}}, {"contactName": {"ilike": "%o%"}}]},
    ):
        matched, unmatched = await matching(api, inner), await matching(api, {"not": inner})
        assert "".join(sorted(matched + unmatched)) == "ABDEGZ"


def nested(combinator: str, levels: int, leaf: dict[str, Any]) -> dict[str, Any]:
    lead_filter = leaf
    for _ in range(levels):
        lead_filter = {combinator: [lead_filter]} if combinator != "not" else {"not": lead_filter}
    return lead_filter


async def test_filters_nest_five_levels_deep_and_no_deeper(api: Api, catalog: Catalog) -> None:
    leaf = {"title": {"eq": TITLES["A"]}}
    # Given filters of 5 levels (the top and 4 nested), they work
    assert await matching(api, nested("and", 4, leaf)) == "A"
    assert await matching(api, nested("or", 4, leaf)) == "A"
    assert await matching(api, nested("not", 4, leaf)) == "A"

    # When they nest one level deeper, then they are refused
    for combinator, path in (
        ("and", ["filter", *["and", "0"] * 5]),
        ("or", ["filter", *["or", "0"] * 5]),
        ("not", ["filter", *["not"] * 5]),
    ):
        error = await query_error(api, FILTER_QUERY, {"filter": nested(combinator, 5, leaf)})
        assert error["message"] == "filters nest at most 5 levels deep"
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "reason": "VALIDATION",
            "field": path,
        }


async def test_in_takes_at_most_500_values(api: Api, catalog: Catalog) -> None:
    ids = [catalog.leads["A"], *(str(uuid.uuid4()) for _ in range(499))]
    assert await matching(api, {"id": {"in": ids}}) == "A"
    for lead_filter, field in (
        ({"id": {"in": [*ids, str(uuid.uuid4())]}}, ["filter", "id", "in"]),
        ({"source": {"in": ["web"] * 501}}, ["filter", "source", "in"]),
        ({"score": {"in": list(range(501))}}, ["filter", "score", "in"]),
        ({"or": [{"value": {"in": ["1"] * 501}}]}, ["filter", "or", "0", "value", "in"]),
    ):
        error = await query_error(api, FILTER_QUERY, {"filter": lead_filter})
        assert error["message"] == "at most 500 values"
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "reason": "VALIDATION",
            "field": field,
        }


async def test_a_malformed_id_in_a_filter_is_refused(api: Api, catalog: Catalog) -> None:
    for lead_filter, field in (
        ({"id": {"eq": "nope"}}, ["filter", "id", "eq"]),
        ({"ownerId": {"in": [catalog.members["Ann"], "nope"]}}, ["filter", "ownerId", "in"]),
        ({"teamId": {"neq": "nope"}}, ["filter", "teamId", "neq"]),
        ({"ownerInTeam": "nope"}, ["filter", "ownerInTeam"]),
        ({"and": [{"stageId": {"eq": "nope"}}]}, ["filter", "and", "0", "stageId", "eq"]),
        ({"not": {"pipelineId": {"eq": "nope"}}}, ["filter", "not", "pipelineId", "eq"]),
    ):
        error = await query_error(api, FILTER_QUERY, {"filter": lead_filter})
        assert error["message"] == "'nope' is not a valid id"
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "reason": "VALIDATION",
            "field": field,
        }


async def test_a_value_the_column_cannot_hold_is_refused_as_bad_input(
    api: Api, catalog: Catalog
) -> None:
    for lead_filter, field in (
        ({"score": {"gt": 40000}}, ["filter", "score", "gt"]),
        ({"score": {"in": [1, -40000]}}, ["filter", "score", "in"]),
        ({"value": {"gt": "9999999999999999.99999"}}, ["filter", "value", "gt"]),
        ({"title": {"eq": "a\x00b"}}, ["filter", "title", "eq"]),
        ({"source": {"ilike": "%\x00%"}}, ["filter", "source", "ilike"]),
    ):
        error = await query_error(api, FILTER_QUERY, {"filter": lead_filter})
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "reason": "VALIDATION",
            "field": field,
        }
    error = await query_error(api, FILTER_QUERY, {"filter": {"search": "a\x00b"}})
    assert error["message"] == "must not contain NUL characters"
    assert error["extensions"]["field"] == ["filter", "search"]
    # the largest values the columns hold are fine
    assert await matching(api, {"score": {"lte": 32767}}) == "ABDE"
    assert await matching(api, {"value": {"lt": "9999999999999999.9999"}}) == "ABDE"


async def test_a_time_beyond_the_calendar_in_utc_is_refused_by_the_scalar(api: Api) -> None:
    error = await query_error(
        api, FILTER_QUERY, {"filter": {"createdAt": {"gt": "0001-01-01T00:00:00+14:00"}}}
    )
    assert "'0001-01-01T00:00:00+14:00' is outside the years 1 to 9999 in UTC" in error["message"]


async def test_filters_and_total_count_apply_to_board_columns(api: Api, catalog: Catalog) -> None:
    # Given a filter on the first stage's column (A, and deleted X, are there)
    data = await api(
        """query($id: ID!) { stage(id: $id) {
            all: leads { totalCount edges { node { title } } }
            web: leads(filter: {source: {eq: "web"}}) { totalCount }
            none: leads(filter: {source: {eq: "event"}}) { totalCount edges { cursor } }
        } }""",
        {"id": catalog.stages[0]},
    )
    assert data["stage"]["all"] == {"totalCount": 1, "edges": [{"node": {"title": TITLES["A"]}}]}
    assert data["stage"]["web"] == {"totalCount": 1}
    assert data["stage"]["none"] == {"totalCount": 0, "edges": []}


async def test_total_count_is_exact_on_every_page_of_a_filtered_list(
    api: Api, database: Database
) -> None:
    # Given 30 leads, 22 of them with a value
    rows = await seed_paged_leads(api, database)
    with_value = [row for row in rows if row.value is not None]
    assert len(with_value) == 22
    valued = {"value": {"is": "NOT_NULL"}}
    expected = expected_order(with_value, None)

    # When paging through those with a value
    seen: list[str] = []
    after = None
    while True:
        page = await fetch_page(api, None, {"filter": valued, "first": 6, "after": after})
        # Then every page counts the whole filtered list
        assert page["totalCount"] == 22
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected


async def test_a_lead_by_a_malformed_or_unknown_id_is_null(api: Api) -> None:
    data = await api(
        """query($unknown: ID!) {
            malformed: lead(id: "nope") { id }
            unknown: lead(id: $unknown) { id }
            pipeline(id: "nope") { id }
            stage(id: $unknown) { id }
        }""",
        {"unknown": str(uuid.uuid4())},
    )
    assert data == {"malformed": None, "unknown": None, "pipeline": None, "stage": None}


# 3. Nested fields and the statements they cost


@dataclass
class Board:
    api: Api
    pipeline_id: str
    stage_names: list[str]
    expected_columns: dict[str, list[str]]  # stage name -> titles, newest first
    owner_of: dict[str, str | None]
    team_of: dict[str, str | None]
    visits_of: dict[str, list[str]]  # title -> stage names of its visits, oldest first
    referrer_of: dict[str, str | None]


async def seed_board(api: Api, database: Database, count: int) -> Board:
    """`count` leads over all seven stages, with owners, teams, referrers and 2 to 7 visits."""
    workspace_id = api.workspace_id
    assert workspace_id is not None
    members, teams = await add_people(
        database, workspace_id, {"Inside": ["Ann", "Bob"], "Field": ["Cem"]}, []
    )
    pipelines = await api("{ pipelines { id stages { id name } } }")
    pipeline = pipelines["pipelines"][0]
    stages = [(uuid.UUID(stage["id"]), stage["name"]) for stage in pipeline["stages"]]
    owners = [("Ann", members["Ann"]), ("Bob", members["Bob"]), ("Cem", members["Cem"]), None]
    team_choices = [("Inside", teams["Inside"]), ("Field", teams["Field"]), None]
    board = Board(api, pipeline["id"], [name for _, name in stages], {}, {}, {}, {}, {})
    previous: uuid.UUID | None = None
    previous_title: str | None = None
    for batch_start in range(0, count, 10):
        async with unit_of_work(database, workspace_id=workspace_id) as session:
            for i in range(batch_start, min(count, batch_start + 10)):
                title = f"Deal {i:03d}"
                owner, team = owners[i % 4], team_choices[i % 3]
                referrer = previous if i % 3 == 1 else None
                lead = await lead_service.create_lead(
                    session,
                    actor=SYSTEM,
                    new=NewLead(
                        title=title,
                        owner_id=owner[1] if owner else None,
                        team_id=team[1] if team else None,
                        referred_by_id=referrer,
                    ),
                )
                target = i % 7
                path = [1, 0] if target == 0 else list(range(1, target + 1))
                for position in path:
                    await lead_service.move_lead(
                        session,
                        actor=SYSTEM,
                        lead_id=lead.id,
                        stage_id=stages[position][0],
                        reason=None,
                        expected_version=None,
                    )
                board.owner_of[title] = owner[0] if owner else None
                board.team_of[title] = team[0] if team else None
                board.visits_of[title] = [stages[p][1] for p in [0, *path]]
                board.referrer_of[title] = previous_title if referrer else None
                board.expected_columns.setdefault(stages[target][1], []).insert(0, title)
                previous, previous_title = lead.id, title
    return board


BOARD_QUERY = """query Board($id: ID!) { pipeline(id: $id) { stages { name leads(first: 10) {
    totalCount
    edges { node {
        title owner { name } team { name } stage { name }
        stageHistory(last: 5) { edges { node { entry exitedAt stage { name } } } }
    } }
} } } }"""

LIST_QUERY = """{ leads(first: 50) { edges { node {
    title stage { name } owner { name } referredBy { title }
    stageHistory(first: 5) { totalCount edges { node { stage { name } } } }
} } } }"""


def check_board(board: Board, data: dict[str, Any]) -> None:
    columns = data["pipeline"]["stages"]
    assert [column["name"] for column in columns] == board.stage_names
    for column in columns:
        expected = board.expected_columns.get(column["name"], [])
        nodes = [edge["node"] for edge in column["leads"]["edges"]]
        assert column["leads"]["totalCount"] == len(expected)
        assert [node["title"] for node in nodes] == expected[:10]
        for node in nodes:
            title = node["title"]
            assert node["stage"] == {"name": column["name"]}
            owner, team = board.owner_of[title], board.team_of[title]
            assert node["owner"] == ({"name": owner} if owner else None)
            assert node["team"] == ({"name": team} if team else None)
            visits = [edge["node"] for edge in node["stageHistory"]["edges"]]
            assert [visit["stage"]["name"] for visit in visits] == board.visits_of[title][-5:]
            assert [visit["exitedAt"] is None for visit in visits] == [False] * (
                len(visits) - 1
            ) + [True]
            positions = [board.stage_names.index(name) for name in board.visits_of[title]]
            entries = ["CREATED"] + [
                "FORWARD" if later > earlier else "BACKWARD"
                for earlier, later in itertools.pairwise(positions)
            ]
            assert [visit["entry"] for visit in visits] == entries[-5:]


def check_list(board: Board, data: dict[str, Any], count: int) -> None:
    nodes = [edge["node"] for edge in data["leads"]["edges"]]
    assert [node["title"] for node in nodes] == [
        f"Deal {i:03d}" for i in reversed(range(max(0, count - 50), count))
    ]
    for node in nodes:
        title = node["title"]
        visits = board.visits_of[title]
        assert node["stage"] == {"name": visits[-1]}
        owner, referrer = board.owner_of[title], board.referrer_of[title]
        assert node["owner"] == ({"name": owner} if owner else None)
        assert node["referredBy"] == ({"title": referrer} if referrer else None)
        assert node["stageHistory"]["totalCount"] == len(visits)
        history = [edge["node"]["stage"]["name"] for edge in node["stageHistory"]["edges"]]
        assert history == visits[:5]


async def statements_of(
    statements: StatementCounter, api: Api, query: str, variables: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    await api(query, variables)  # warm: the key's last use is recorded, connections are open
    with statements.counting() as executed:
        data = await api(query, variables)
    return len(executed), data


# Statements of the board query: the API key, the pipeline, its stages, one page per stage (one
# statement reads every column), the counts per stage, owners, teams, lead stages, and one page
# of history per lead (the visits' stages are the leads' stages, already loaded).
BOARD_STATEMENTS = 9
# The list: the API key, the page, lead stages, owners, referrers, one page of history per
# lead and the history counts.
LIST_STATEMENTS = 7


async def test_the_board_query_costs_the_same_statements_for_10_and_100_leads(
    api: Api, client: Any, database: Database, statements: StatementCounter
) -> None:
    # Given a board of 10 leads, and another workspace's board of 100
    big_workspace, big_token = await new_workspace(database, "Big")
    big_api = Api(client, big_token, big_workspace)
    small = await seed_board(api, database, 10)
    big = await seed_board(big_api, database, 100)

    # When each board is read
    small_count, small_data = await statements_of(
        statements, api, BOARD_QUERY, {"id": small.pipeline_id}
    )
    big_count, big_data = await statements_of(
        statements, big_api, BOARD_QUERY, {"id": big.pipeline_id}
    )

    # Then each column holds exactly its leads, newest first, with their nested fields
    check_board(small, small_data)
    check_board(big, big_data)
    # and both cost the same, fixed number of statements
    assert small_count == BOARD_STATEMENTS
    assert big_count == BOARD_STATEMENTS


async def test_the_lead_list_query_costs_the_same_statements_for_10_and_100_leads(
    api: Api, client: Any, database: Database, statements: StatementCounter
) -> None:
    # Given 10 leads, and another workspace with 100
    big_workspace, big_token = await new_workspace(database, "Big")
    big_api = Api(client, big_token, big_workspace)
    small = await seed_board(api, database, 10)
    big = await seed_board(big_api, database, 100)

    # When the first 50 leads are read with their stage, owner, referrer and history
    small_count, small_data = await statements_of(statements, api, LIST_QUERY, {})
    big_count, big_data = await statements_of(statements, big_api, LIST_QUERY, {})

    # Then the nested fields are right
    check_list(small, small_data, 10)
    check_list(big, big_data, 100)
    # and both cost the same, fixed number of statements
    assert small_count == LIST_STATEMENTS
    assert big_count == LIST_STATEMENTS


# 6. Unexpected faults are masked


async def test_an_unexpected_fault_is_masked_with_the_request_id(
    api: Api, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a context whose database does not exist, for a real workspace and a read key
    assert api.workspace_id is not None
    missing = f"salesgraph_missing_{secrets.token_hex(4)}"
    url = make_url(database_url).set(database=missing).render_as_string(hide_password=False)
    broken = create_database(url)
    request_id = f"req-{secrets.token_hex(4)}"
    context = Context(
        request=Request({"type": "http", "method": "POST", "headers": [], "query_string": b""}),
        response=Response(),
        settings=Settings(database_url=url),
        database=broken,
        request_id=request_id,
        principal_or_none=Principal(
            workspace_id=api.workspace_id,
            api_key_id=uuid.uuid4(),
            member_id=None,
            scopes=frozenset({Scope.READ}),
        ),
    )

    # When a field that reads the database runs
    try:
        with caplog.at_level(logging.ERROR, logger="salesgraph.errors"):
            result = await schema.execute(
                "{ leads(first: 1) { totalCount } }", context_value=context
            )
    finally:
        await broken.dispose()

    # Then the client gets one generic error that carries the request id, and nothing else
    assert result.data is None
    assert result.errors is not None
    assert len(result.errors) == 1
    error = result.errors[0].formatted
    assert error == {
        "message": f"Internal server error. Request id: {request_id}",
        "locations": [{"line": 1, "column": 3}],
        "path": ["leads"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    }
    text = str(error).lower()
    for leak in (missing, "does not exist", "select", "traceback", "asyncpg", "sqlalchemy"):
        assert leak not in text
    # while the log has the fault, under the same request id
    records = [r for r in caplog.records if r.name == "salesgraph.errors"]
    assert len(records) == 1
    assert request_id in records[0].getMessage()
    assert records[0].exc_info is not None


async def _as_admin(database_url: str, *statements: str) -> None:
    await execute_on_server(database_url, ";\n".join(statements))


async def test_an_unexpected_fault_over_http_is_masked_with_the_request_id(
    api: Api, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the application connected as a role that may check API keys but not read leads, so
    # that the database refuses the query (no mocks: a real fault from PostgreSQL)
    role = f"salesgraph_limited_{secrets.token_hex(4)}"
    await _as_admin(
        database_url,
        f'CREATE ROLE "{role}" LOGIN',
        f'GRANT USAGE ON SCHEMA public TO "{role}"',
        f'GRANT SELECT, UPDATE ON api_keys TO "{role}"',
        f'GRANT SELECT ON members TO "{role}"',
    )
    limited_url = make_url(database_url).set(username=role).render_as_string(hide_password=False)
    application = create_app(
        Settings(database_url=database_url, app_database_url=limited_url), database_url
    )
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            # When a query that reads leads is sent with a request id
            with caplog.at_level(logging.ERROR, logger="salesgraph.errors"):
                response = await client.post(
                    "/graphql",
                    json={"query": "{ leads(first: 1) { totalCount } }"},
                    headers={"authorization": f"Bearer {api.token}", "x-request-id": "fault-1"},
                )
    finally:
        await application.state.database.dispose()
        await _as_admin(database_url, f'DROP OWNED BY "{role}"', f'DROP ROLE "{role}"')

    # Then the client gets a generic error with the request id, in the body and the header
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "fault-1"
    body = response.json()
    body.pop("extensions", None)  # the query's cost
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Internal server error. Request id: fault-1",
                "locations": [{"line": 1, "column": 3}],
                "path": ["leads"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "fault-1"},
            }
        ],
    }
    assert "permission" not in response.text.lower()
    # and the log has the database's refusal under the same id
    records = [r for r in caplog.records if r.name == "salesgraph.errors"]
    assert len(records) == 1
    assert "fault-1" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert "permission denied" in str(records[0].exc_info[1])


async def test_a_board_column_holds_open_leads_unless_closed_ones_are_asked_for(api: Api) -> None:
    pipeline = (await api("{ pipelines { id stages { id } } }"))["pipelines"][0]
    first_stage = pipeline["stages"][0]["id"]
    ids = []
    for title in ("open", "won", "lost"):
        created = await api(
            "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }",
            {"input": {"title": title}},
        )
        ids.append(created["createLead"]["lead"]["id"])
    await api(
        "mutation($input: WinLeadInput!) { winLead(input: $input) { errors { code } } }",
        {"input": {"id": ids[1]}},
    )
    await api(
        "mutation($input: LoseLeadInput!) { loseLead(input: $input) { errors { code } } }",
        {"input": {"id": ids[2], "reason": "No budget"}},
    )
    query = """query($id: ID!, $closed: Boolean!) { stage(id: $id) {
        leads(includeClosed: $closed, orderBy: [{field: TITLE}]) {
          totalCount nodes { title status } } } }"""
    only_open = await api(query, {"id": first_stage, "closed": False})
    assert only_open["stage"]["leads"] == {
        "totalCount": 1,
        "nodes": [{"title": "open", "status": "OPEN"}],
    }
    everything = await api(query, {"id": first_stage, "closed": True})
    assert everything["stage"]["leads"] == {
        "totalCount": 3,
        "nodes": [
            {"title": "lost", "status": "LOST"},
            {"title": "open", "status": "OPEN"},
            {"title": "won", "status": "WON"},
        ],
    }


async def test_fields_selected_through_fragments_are_loaded(api: Api) -> None:
    """List reads load only the selected columns; fragments must count as selected."""
    await api(
        "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }",
        {
            "input": {
                "title": "Fragmented",
                "companyName": "Acme",
                "value": {"amount": "10", "currency": "EUR"},
                "score": 7,
            }
        },
    )
    data = await api(
        """fragment LeadBits on Lead { companyName value { amount currency } }
        query { leads(first: 5) {
          edges { node { ...LeadBits ... on Lead { score } } }
          nodes { title stage { name } }
        } }"""
    )
    assert data["leads"]["edges"] == [
        {
            "node": {
                "companyName": "Acme",
                "value": {"amount": "10.00", "currency": "EUR"},
                "score": 7,
            }
        }
    ]
    assert data["leads"]["nodes"] == [{"title": "Fragmented", "stage": {"name": "Prospecting"}}]


async def test_a_bad_stage_history_cursor_is_bad_input(api: Api) -> None:
    created = await api(
        "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }",
        {"input": {"title": "Cursor"}},
    )
    lead_id = created["createLead"]["lead"]["id"]
    response = await api.post(
        'query($id: ID!) { lead(id: $id) { stageHistory(after: "zz") { totalCount } } }',
        {"id": lead_id},
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == ["after"]
