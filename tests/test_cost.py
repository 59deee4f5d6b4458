"""A query's estimated cost: how it is counted, its limit, and extensions.cost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import parse

from salesgraph.app import create_app
from salesgraph.db.engine import Database
from salesgraph.graphql.cost import estimate_cost
from salesgraph.graphql.limits import QueryLimits
from salesgraph.graphql.schema import schema
from salesgraph.settings import Settings
from tests.conftest import Api, new_workspace

pytestmark = pytest.mark.anyio

LIMITS = QueryLimits()


def cost(query: str, variables: dict[str, Any] | None = None, name: str | None = None) -> int:
    return estimate_cost(schema._schema, parse(query), name, variables, LIMITS)


# How it is counted


def test_scalars_and_introspection_are_free_and_objects_cost_one() -> None:
    assert cost("{ __typename }") == 0
    assert cost("{ __schema { types { name fields { name } } } __typename }") == 0
    assert cost("{ viewer { scopes } }") == 1
    assert cost("{ viewer { workspace { name } member { name } } }") == 3


def test_a_connection_costs_its_page_size_times_one_plus_an_item() -> None:
    assert cost("{ leads(first: 5) { nodes { title } } }") == 5
    assert cost("{ leads(last: 4) { totalCount } }") == 4
    # edges, node, nodes and pageInfo add nothing: the item is counted once
    query = """{ leads(first: 5) { totalCount pageInfo { hasNextPage endCursor }
                 edges { cursor node { title owner { name } } } } }"""
    assert cost(query) == 5 * (1 + 1)
    # no page size: the default page (20)
    assert cost("{ leads { nodes { title } } }") == 20


def test_page_sizes_from_variables_defaults_and_beyond_the_maximum() -> None:
    query = "query($n: Int = 3) { leads(first: $n) { nodes { title } } }"
    assert cost(query, {"n": 7}) == 7
    assert cost(query) == 3
    assert cost(query, {"n": None}) == 20
    # more than the maximum is refused when the field runs; the estimate counts the maximum
    assert cost(query, {"n": 1000}) == 100
    # a size GraphQL coerces (100.0 is the Int 100) counts as that size, and anything else
    # given as the largest page: no spelling of a size costs less than it reads
    assert cost(query, {"n": 7.0}) == 7
    assert cost(query, {"n": "seven"}) == 100


def test_plain_lists_are_assumed_to_hold_ten_items() -> None:
    assert cost("{ pipelines { name } }") == 10
    assert cost("{ pipelines { stages { name } } }") == 10 * (1 + 10 * 1)


def test_nested_lists_multiply() -> None:
    # the bench's board: 50 leads with value, stage, owner and 5 activities with their stage
    board = """query Board($first: Int!) { leads(first: $first) { totalCount edges { node {
        id title value { amount currency } stage { id name } owner { id name }
        activities(first: 5) { edges { node { type status stage { name } } } } } } } }"""
    assert cost(board, {"first": 50}) == 50 * (1 + 3 + 5 * (1 + 1))
    assert cost(board, {"first": 50}) == 700
    # the README's first query
    readme = """{ pipelines { name stages { name leads(first: 3) { totalCount edges { node {
        title value { amount currency } owner { name } } } } } } }"""
    assert cost(readme) == 10 * (1 + 10 * (1 + 3 * (1 + 2)))


def test_fragments_count_as_if_all_applied() -> None:
    query = """{ leads(first: 2) { nodes { ...Lead ... on Lead { stage { name } } } } }
               fragment Lead on Lead { owner { name } referredBy { title } }"""
    assert cost(query) == 2 * (1 + 2 + 1)
    # the timeline's union members are summed
    union = """{ lead(id: "01a21ca4-76c8-70ba-988a-71afbafd371b") { timeline(first: 10) {
        nodes { ... on StageVisit { stage { name } } ... on Activity { stage { name } } } } } }"""
    assert cost(union) == 1 + 10 * (1 + 2)


def test_a_mutation_field_costs_ten_plus_what_it_selects() -> None:
    query = 'mutation { createLead(input: {title: "x"}) { lead { id } errors { code } } }'
    assert cost(query) == 10 + 1 + 10 * 1


def test_a_metric_costs_each_aggregate_statement_it_runs_once() -> None:
    window = '(pipelineId: "p", window: {from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z"})'
    # the object, then the funnel's two statements and its ten stages (a plain list)
    assert cost(f"{{ metrics{window} {{ funnel {{ entered }} }} }}") == 1 + 200 + 10
    # the outcomes' statement and the forecast's, whose list is counted as any other
    query = f"{{ metrics{window} {{ outcomes {{ won forecastByMonth {{ leads }} }} }} }}"
    assert cost(query) == 1 + (100 + 1 + (100 + 10))
    # the map's five statements, once, whatever the number of stages
    query = f"{{ processMap{window} {{ stages {{ funnel {{ entered }} }} }} }}"
    assert cost(query) == 500 + 1 + 10 * (1 + 1)
    # two windows, twice the work
    query = f"{{ a: metrics{window} {{ persistence {{ lostWithoutRejection }} }} b: metrics{window}"
    query += " { persistence { lostWithoutRejection } } }"
    assert cost(query) == 2 * (1 + 100 + 1)


def test_only_the_operation_that_runs_counts() -> None:
    document = "query Small { viewer { scopes } } query Big { leads(first: 100) { nodes { id } } }"
    assert cost(document, name="Small") == 1
    assert cost(document, name="Big") == 100


# Through the API

EXPENSIVE = """{ leads(first: 100) { nodes { title
    activities(first: 100) { nodes { stage { name } assignee { name } } } } } }"""


@pytest.fixture
async def small_budget(database_url: str, database: Database) -> AsyncIterator[Api]:
    """An admin of a fresh workspace on an app whose queries may cost at most 20."""
    app = create_app(Settings(database_url=database_url, query_max_cost=20), database_url)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            workspace_id, token = await new_workspace(database)
            yield Api(client, token, workspace_id)
    finally:
        await app.state.database.dispose()


async def test_the_cost_is_returned_in_extensions(api: Api) -> None:
    response = await api.post("{ leads(first: 5) { nodes { title } } }")
    body = response.json()
    assert body["data"] == {"leads": {"nodes": []}}
    cost = body["extensions"]["cost"]
    assert list(cost) == ["requested", "maximum", "limit", "remaining"]
    assert (cost["requested"], cost["maximum"], cost["limit"]) == (5, 20_000, 100_000)
    # the bucket refills 1667 points a second on the real clock (exact: test_rate_limit.py)
    assert 99_995 <= cost["remaining"] <= 100_000
    # a query of scalars costs 0 and is reported so
    response = await api.post("{ __typename }")
    assert response.json()["extensions"]["cost"]["requested"] == 0


async def test_a_query_over_the_cost_limit_is_refused_with_the_numbers(api: Api) -> None:
    response = await api.post(EXPENSIVE)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "The query's estimated cost is 30100 points; the maximum is 20000. "
            "Ask for smaller pages (first/last) or fewer nested lists.",
            "extensions": {
                "code": "QUERY_TOO_COMPLEX",
                "limit": "cost",
                "cost": 30_100,
                "maximum": 20_000,
            },
        }
    ]
    # nothing was charged for it
    assert body["extensions"]["cost"] == {
        "requested": 30_100,
        "maximum": 20_000,
        "limit": 100_000,
        "remaining": 100_000,
    }


async def test_nothing_runs_when_the_cost_is_over_the_limit(small_budget: Api) -> None:
    api = small_budget
    # 10 for the mutation + lead, stage, owner + 10 for the list of errors: 23 > 20
    mutation = """mutation { createLead(input: {title: "Never"}) {
        lead { stage { name } owner { name } } errors { code } } }"""
    error = (await api.post(mutation)).json()["errors"][0]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "cost",
        "cost": 23,
        "maximum": 20,
    }
    assert await api("{ leads { totalCount } }") == {"leads": {"totalCount": 0}}
