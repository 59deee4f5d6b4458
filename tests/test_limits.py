"""Queries are bounded before they run (size, tokens, depth, aliases, directives, page sizes),
and every error carries a code."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from salesgraph.app import create_app
from salesgraph.db.engine import Database
from salesgraph.settings import Settings
from tests.conftest import Api, new_workspace

pytestmark = pytest.mark.anyio

LEADS = "leads { edges { node { "
COUNT_LEADS = "{ leads { totalCount } }"


async def _refusal(api: Api, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The one error of a request refused before anything ran."""
    response = await api.post(query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


def _too_complex(limit: str, value: int | None, maximum: int) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": "QUERY_TOO_COMPLEX", "limit": limit}
    if value is not None:
        extensions[limit] = value
    extensions["maximum"] = maximum
    return extensions


ApiWith = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def api_with(database_url: str, database: Database) -> ApiWith:
    """An admin of a fresh workspace on an app built with the given settings."""

    @asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[Api]:
        app = create_app(Settings(database_url=database_url, **overrides), database_url)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                workspace_id, token = await new_workspace(database)
                yield Api(client, token, workspace_id)
        finally:
            await app.state.database.dispose()

    return build


# Depth


async def test_a_query_deeper_than_twelve_levels_is_refused(api: Api) -> None:
    # leads > edges > node > referredBy x 10 > title: 14 levels
    deep = "{ " + LEADS + "referredBy { " * 10 + "title" + " }" * 13 + " }"
    error = await _refusal(api, deep)
    assert error["message"] == "The query is 14 levels deep; the maximum is 12."
    assert error["extensions"] == _too_complex("depth", 14, 12)

    # twelve levels run, thirteen do not
    twelve = "{ " + LEADS + "referredBy { " * 8 + "title" + " }" * 11 + " }"
    await api(twelve)
    thirteen = "{ " + LEADS + "referredBy { " * 9 + "title" + " }" * 12 + " }"
    assert (await _refusal(api, thirteen))["extensions"] == _too_complex("depth", 13, 12)

    # the board query, ten levels deep, runs
    await api(
        """{ pipelines { stages { leads(first: 1) { edges { node {
             stageHistory(last: 1) { edges { node { stage { name } } } } } } } } } }"""
    )


async def test_depth_counts_through_fragments(api: Api) -> None:
    query = (
        "{ " + LEADS + "...Deep } } } }"
        " fragment Deep on Lead { referredBy { ...Deeper } }"
        " fragment Deeper on Lead { " + "referredBy { " * 9 + "title" + " }" * 9 + " }"
    )
    assert (await _refusal(api, query))["extensions"] == _too_complex("depth", 14, 12)


async def test_a_document_nested_too_deeply_to_parse_is_refused(api: Api) -> None:
    query = "{ " + "a { " * 250 + "b" + " }" * 251
    error = await _refusal(api, query)
    assert error["message"] == ("The query is nested too deeply to parse; the maximum depth is 12.")
    assert error["extensions"] == _too_complex("depth", None, 12)


async def test_nested_introspection_lists_are_refused(api: Api) -> None:
    query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    error = await _refusal(api, query)
    assert error["extensions"] == _too_complex("introspectionDepth", None, 3)


# Aliases and directives


async def test_more_than_twenty_aliases_are_refused(api: Api) -> None:
    many = (
        "{ " + " ".join(f"a{index}: leads(first: 1) {{ totalCount }}" for index in range(21)) + " }"
    )
    error = await _refusal(api, many)
    assert error["message"] == "The query uses 21 aliases; the maximum is 20."
    assert error["extensions"] == _too_complex("aliases", 21, 20)
    await api("{ " + " ".join(f"a{index}: __typename" for index in range(20)) + " }")


async def test_aliases_count_every_use_of_a_fragment(api: Api) -> None:
    fragment = " ".join(f"a{index}: __typename" for index in range(11))
    query = "{ ...A viewer { workspace { ...W } } } fragment A on Query { " + fragment + " }"
    query += " fragment W on Workspace { " + fragment + " }"
    assert (await _refusal(api, query))["extensions"] == _too_complex("aliases", 22, 20)


async def test_more_than_fifty_directives_are_refused(api: Api) -> None:
    many = "{ " + " ".join(f"a{index}: __typename @include(if: true)" for index in range(20))
    many += " __typename" + " @skip(if: false)" * 31 + " }"
    error = await _refusal(api, many)
    assert error["message"] == "The query uses 51 directives; the maximum is 50."
    assert error["extensions"] == _too_complex("directives", 51, 50)
    fifty = "{ __typename" + " @skip(if: false)" * 50 + " }"
    response = await api.post(fifty)
    # under the limit, graphql's own rule (one @skip per field) applies, with its own code
    assert response.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


# Size


async def test_a_query_of_more_than_3000_tokens_is_refused(api: Api) -> None:
    huge = "{ " + " ".join("__typename" for _ in range(3001)) + " }"
    error = await _refusal(api, huge)
    assert error["message"] == "The query has 3003 tokens; the maximum is 3000."
    assert error["extensions"] == _too_complex("tokens", 3003, 3000)
    assert "locations" not in error


async def test_a_query_of_more_than_100_000_bytes_is_refused(api: Api) -> None:
    # comments are no tokens, but they are bytes
    query = "{ __typename }\n#" + "é" * 50_000
    error = await _refusal(api, query)
    assert error["message"] == "The query is 100016 bytes long; the maximum is 100000."
    assert error["extensions"] == _too_complex("bytes", 100_016, 100_000)


async def test_graphiqls_introspection_query_is_within_the_limits(api: Api) -> None:
    from graphql import get_introspection_query

    data = await api(get_introspection_query(descriptions=True))
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_the_limits_are_configurable(api_with: ApiWith) -> None:
    async with api_with(
        query_max_depth=3,
        query_max_aliases=1,
        query_max_tokens=100,
        query_max_directives=0,
        query_max_bytes=1000,
    ) as api:
        await api("{ leads { nodes { title } } }")
        refusals = {
            "depth": "{ leads { nodes { owner { name } } } }",
            "aliases": "{ a: __typename b: __typename }",
            "tokens": "{ " + "a " * 99 + "}",
            "directives": "{ __typename @include(if: true) }",
            "bytes": "{ __typename }" + " " * 1000,
        }
        values = {"depth": 4, "aliases": 2, "tokens": 101, "directives": 1, "bytes": 1014}
        maximums = {"depth": 3, "aliases": 1, "tokens": 100, "directives": 0, "bytes": 1000}
        for limit, query in refusals.items():
            error = await _refusal(api, query)
            assert error["extensions"] == _too_complex(limit, values[limit], maximums[limit])


# Page sizes


async def test_a_page_size_over_the_maximum_written_in_the_query_is_refused_before_running(
    api: Api,
) -> None:
    for argument, value in (("first", 101), ("last", 1000), ("first", -1)):
        error = await _refusal(
            api,
            f"{{ viewer {{ workspace {{ name }} }} leads({argument}: {value}) {{ totalCount }} }}",
        )
        assert error["message"] == f"{argument} must be between 0 and 100"
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "reason": "VALIDATION",
            "field": [argument],
        }
    # nested connections too
    stage = "{ pipelines { stages { leads(first: 101) { totalCount } } } }"
    assert (await _refusal(api, stage))["message"] == "first must be between 0 and 100"
    await api("{ leads(first: 100) { totalCount } }")


# Error codes


async def test_a_syntax_error_is_coded(api: Api) -> None:
    error = await _refusal(api, "{ leads { ")
    assert error == {
        "message": "Syntax Error: Expected Name, found <EOF>.",
        "locations": [{"line": 1, "column": 11}],
        "extensions": {"code": "GRAPHQL_PARSE_FAILED"},
    }


async def test_a_validation_error_is_coded_and_suggests_fields_while_introspection_is_on(
    api: Api,
) -> None:
    error = await _refusal(api, "{ leads { nodes { titel } } }")
    assert error == {
        "message": "Cannot query field 'titel' on type 'Lead'. Did you mean 'title'?",
        "locations": [{"line": 1, "column": 19}],
        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
    }


async def test_a_bad_variable_is_bad_user_input(api: Api) -> None:
    error = await _refusal(api, "query($n: Int) { leads(first: $n) { totalCount } }", {"n": "x"})
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"] == (
        "Variable '$n' has invalid value: Int cannot represent non-integer value: 'x'"
    )


async def test_with_introspection_off_schema_queries_and_suggestions_are_refused(
    api_with: ApiWith,
) -> None:
    async with api_with(introspection=False) as api:
        error = await _refusal(api, "{ __schema { queryType { name } } }")
        assert error == {
            "message": "Introspection is turned off on this server ('__schema').",
            "locations": [{"line": 1, "column": 3}],
            "extensions": {
                "code": "GRAPHQL_VALIDATION_FAILED",
                "reason": "INTROSPECTION_DISABLED",
            },
        }
        error = await _refusal(api, '{ __type(name: "Lead") { name } }')
        assert error["extensions"]["reason"] == "INTROSPECTION_DISABLED"

        # no "Did you mean" for fields, arguments or enum values
        error = await _refusal(api, "{ leads { nodes { titel } } }")
        assert error["message"] == "Cannot query field 'titel' on type 'Lead'."
        error = await _refusal(api, "{ leads(frist: 1) { totalCount } }")
        assert error["message"] == "Unknown argument 'frist' on field 'Query.leads'."
        error = await _refusal(
            api,
            "query($s: LeadStatus!) { leads(filter: {status: {eq: $s}}) { totalCount } }",
            {"s": "OPN"},
        )
        assert "Did you mean" not in error["message"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT"}

        # while __typename and ordinary queries work
        assert await api("{ __typename leads { totalCount } }") == {
            "__typename": "Query",
            "leads": {"totalCount": 0},
        }


async def test_a_fault_in_an_extension_is_masked_with_the_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from salesgraph.graphql import cost

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(cost, "estimate_cost", broken)
    with caplog.at_level(logging.ERROR, logger="salesgraph.errors"):
        response = await api.post(COUNT_LEADS)
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": f"Internal server error. Request id: {request_id}",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ],
    }
    assert "secret detail" in caplog.text


# Caches


async def test_a_repeated_query_is_neither_parsed_nor_validated_again(api: Api) -> None:
    from strawberry.extensions.validation_cache import _get_validate_cache

    from salesgraph.graphql.limits import parse_cache_info
    from salesgraph.graphql.schema import VALIDATION_CACHE_SIZE

    validated: Any = _get_validate_cache(VALIDATION_CACHE_SIZE)
    query = "query Repeated { leads(first: 3) { totalCount nodes { title } } }"
    await api(query)
    parse_hits, validate_hits = parse_cache_info().hits, validated.cache_info().hits
    await api(query)
    assert parse_cache_info().hits == parse_hits + 1
    assert validated.cache_info().hits == validate_hits + 1
