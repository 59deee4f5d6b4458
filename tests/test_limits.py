"""Queries are bounded before they run: depth, aliases and size."""

from __future__ import annotations

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.anyio


async def _refusal(api: Api, query: str) -> str:
    response = await api.post(query)
    body = response.json()
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body
    return str(body["errors"][0]["message"])


async def test_a_query_deeper_than_twelve_levels_is_refused(api: Api) -> None:
    deep = "{ leads { edges { node { " + "referredBy { " * 10 + "title" + " }" * 13 + " }"
    assert await _refusal(api, deep) == "'anonymous' exceeds maximum operation depth of 12"
    # the board query, ten levels deep, runs
    await api(
        """{ pipelines { stages { leads(first: 1) { edges { node {
             stageHistory(last: 1) { edges { node { stage { name } } } } } } } } } }"""
    )


async def test_more_than_twenty_aliases_are_refused(api: Api) -> None:
    many = (
        "{ " + " ".join(f"a{index}: leads(first: 1) {{ totalCount }}" for index in range(21)) + " }"
    )
    assert "aliases found. Allowed: 20" in await _refusal(api, many)
    await api("{ " + " ".join(f"a{index}: __typename" for index in range(20)) + " }")


async def test_a_query_of_more_than_3000_tokens_is_refused(api: Api) -> None:
    huge = "{ " + " ".join("__typename" for _ in range(3001)) + " }"
    assert "Document contains more than 3000 tokens" in await _refusal(api, huge)


async def test_graphiqls_introspection_query_is_within_the_limits(api: Api) -> None:
    from graphql import get_introspection_query

    data = await api(get_introspection_query(descriptions=True))
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_a_repeated_query_is_neither_parsed_nor_validated_again(api: Api) -> None:
    from strawberry.extensions.parser_cache import _get_parse_cache
    from strawberry.extensions.validation_cache import _get_validate_cache

    parsed, validated = _get_parse_cache(512), _get_validate_cache(512)
    query = "query Repeated { leads(first: 3) { totalCount nodes { title } } }"
    await api(query)
    parse_hits, validate_hits = parsed.cache_info().hits, validated.cache_info().hits
    await api(query)
    assert parsed.cache_info().hits == parse_hits + 1
    assert validated.cache_info().hits == validate_hits + 1
