"""Persisted queries: Apollo's automatic persisted queries, the allow-list mode, and the parser
and validation caches serving a repeated persisted query."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from salesgraph.app import create_app
from salesgraph.db.engine import Database
from salesgraph.graphql.persisted import QueryCache
from salesgraph.settings import ConfigurationError, Settings
from tests.conftest import Api, new_workspace

pytestmark = pytest.mark.anyio

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
LEADS = "query Leads { leads { totalCount } }"
TITLES = "query Titles($first: Int) { leads(first: $first) { nodes { title } } }"
CREATE_LEAD = (
    "mutation Create($title: String!) { createLead(input: {title: $title}) "
    "{ lead { title } errors { code } } }"
)
NOT_FOUND = {
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
}
NOT_ALLOWED = {
    "errors": [
        {
            "message": "Only registered operations may run on this server, and this one is not "
            "registered.",
            "extensions": {"code": "PERSISTED_QUERY_NOT_ALLOWED"},
        }
    ]
}
NO_LEADS = {"data": {"leads": {"totalCount": 0}}}
MANIFEST = "apollo-persisted-query-manifest"


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str, digest: str | None = None) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest or sha256(query)}}


def bad_request(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}


class Client:
    """Speaks the APQ protocol as one API key."""

    def __init__(self, http: httpx.AsyncClient, token: str | None, accept: str = JSON):
        self.http = http
        self.headers = {"accept": accept}
        if token is not None:
            self.headers["authorization"] = f"Bearer {token}"

    async def post(
        self,
        query: str,
        *,
        send_query: bool,
        digest: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"extensions": persisted(query, digest), "variables": variables}
        if send_query:
            body["query"] = query
        return await self.http.post("/graphql", json=body, headers=self.headers)

    async def get(
        self, query: str, *, send_query: bool = False, variables: dict[str, Any] | None = None
    ) -> httpx.Response:
        params = {"extensions": json.dumps(persisted(query))}
        if send_query:
            params["query"] = query
        if variables is not None:
            params["variables"] = json.dumps(variables)
        return await self.http.get("/graphql", params=params, headers=self.headers)

    async def post_text(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers
        )


def payload(response: httpx.Response) -> dict[str, Any]:
    """The response's data and errors; its extensions (the query's cost) are not asserted here."""
    return {k: v for k, v in response.json().items() if k != "extensions"}


def assert_response(response: httpx.Response, status: int, body: dict[str, Any]) -> None:
    assert (response.status_code, payload(response)) == (status, body), response.text


@asynccontextmanager
async def server(
    database_url: str, owner: Database, **settings: Any
) -> AsyncIterator[tuple[Client, Database]]:
    application = create_app(Settings(database_url=database_url, **settings), database_url)
    database: Database = application.state.database
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            _, token = await new_workspace(owner)
            yield Client(http, token), database
    finally:
        await database.dispose()


@pytest.fixture
def apq(api: Api) -> Client:
    return Client(api.client, api.token)


# Automatic persisted queries


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_the_apq_round_trip(apq: Client, method: str) -> None:
    async def by_hash() -> httpx.Response:
        if method == "POST":
            return await apq.post(LEADS, send_query=False)
        return await apq.get(LEADS)

    # When a client sends only the hash of a query the server has not seen
    response = await by_hash()

    # Then it gets PERSISTED_QUERY_NOT_FOUND (200 with application/json), not to be cached
    assert_response(response, 200, NOT_FOUND)
    assert response.headers["cache-control"] == "private, no-cache, must-revalidate"

    # When it sends the hash with the query, then the query runs
    if method == "POST":
        response = await apq.post(LEADS, send_query=True)
    else:
        response = await apq.get(LEADS, send_query=True)
    assert_response(response, 200, NO_LEADS)

    # and from then on the hash alone runs it
    for _ in range(2):
        assert_response(await by_hash(), 200, NO_LEADS)


async def test_a_query_registered_by_post_runs_by_hash_over_get_with_variables(
    apq: Client, api: Api
) -> None:
    await api('mutation { createLead(input: {title: "One"}) { lead { id } } }')
    assert_response(
        await apq.post(TITLES, send_query=True, variables={"first": 5}),
        200,
        {"data": {"leads": {"nodes": [{"title": "One"}]}}},
    )
    # A GET carrying only the hash and the variables: what a CDN can cache
    response = await apq.get(TITLES, variables={"first": 0})
    assert_response(response, 200, {"data": {"leads": {"nodes": []}}})


async def test_persisted_query_errors_in_graphql_response_json_have_4xx_statuses(
    api: Api,
) -> None:
    client = Client(api.client, api.token, accept=GRAPHQL_RESPONSE)
    response = await client.post(LEADS, send_query=False)
    assert_response(response, 404, NOT_FOUND)
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    response = await client.post(LEADS, send_query=True, digest="0" * 64)
    assert_response(response, 400, bad_request("provided sha does not match query"))
    assert_response(await client.post(LEADS, send_query=True), 200, NO_LEADS)
    assert_response(await client.get(LEADS), 200, NO_LEADS)


async def test_a_hash_that_does_not_match_the_query_is_refused_and_not_kept(apq: Client) -> None:
    # When the query comes with the hash of another query
    wrong = sha256("{ __typename }")
    response = await apq.post(LEADS, send_query=True, digest=wrong)

    # Then it is refused and runs nothing
    assert_response(response, 400, bad_request("provided sha does not match query"))
    # and neither hash now names the query
    assert_response(await apq.post(LEADS, send_query=False, digest=wrong), 200, NOT_FOUND)
    assert_response(await apq.post(LEADS, send_query=False), 200, NOT_FOUND)


VERSION = "Unsupported persisted query version: only version 1 is supported"
HASH = "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits"


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        ("yes", "extensions.persistedQuery must be an object"),
        ({"sha256Hash": "0" * 64}, VERSION),
        ({"version": 2, "sha256Hash": "0" * 64}, VERSION),
        ({"version": True, "sha256Hash": "0" * 64}, VERSION),
        ({"version": 1}, HASH),
        ({"version": 1, "sha256Hash": "abc"}, HASH),
        ({"version": 1, "sha256Hash": "z" * 64}, HASH),
    ],
)
async def test_a_malformed_persisted_query_extension_is_400(
    apq: Client, extension: Any, message: str
) -> None:
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = await apq.http.post(
            "/graphql",
            json={"query": LEADS, "extensions": {"persistedQuery": extension}},
            headers={**apq.headers, "accept": accept},
        )
        assert_response(response, 400, bad_request(message))


async def test_an_uppercase_hash_names_the_same_query(apq: Client) -> None:
    assert_response(
        await apq.post(LEADS, send_query=True, digest=sha256(LEADS).upper()), 200, NO_LEADS
    )
    assert_response(await apq.post(LEADS, send_query=False), 200, NO_LEADS)


async def test_a_query_that_does_not_validate_is_not_kept(apq: Client) -> None:
    invalid = "{ leads { nope } }"
    response = await apq.post(invalid, send_query=True)
    assert response.json()["errors"][0]["message"] == (
        "Cannot query field 'nope' on type 'LeadConnection'. Did you mean 'nodes'?"
    )
    assert_response(await apq.post(invalid, send_query=False), 200, NOT_FOUND)


async def test_a_mutation_by_hash_over_get_is_refused(apq: Client, api: Api) -> None:
    # Given a mutation registered by POST (it runs then)
    response = await apq.post(CREATE_LEAD, send_query=True, variables={"title": "First"})
    assert response.json()["data"]["createLead"]["errors"] == []

    # When its hash is sent as a GET, then it is refused and runs nothing
    response = await apq.get(CREATE_LEAD, variables={"title": "Second"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert [
        lead["title"] for lead in (await api("{ leads { nodes { title } } }"))["leads"]["nodes"]
    ] == ["First"]
    # while a POST by hash runs it
    response = await apq.post(CREATE_LEAD, send_query=False, variables={"title": "Third"})
    assert response.json()["data"]["createLead"] == {"lead": {"title": "Third"}, "errors": []}


async def test_without_a_key_a_hash_gets_401_and_nothing_is_kept(apq: Client) -> None:
    anonymous = Client(apq.http, None)
    # A data query by hash, or by hash and text, needs a key like any other
    for send_query in (False, True):
        response = await anonymous.post(LEADS, send_query=send_query)
        assert response.status_code == 401
    # An introspection query by hash and text runs (public introspection), but is not kept:
    # anonymous clients cannot fill the cache
    introspection = "{ __typename }"
    assert_response(
        await anonymous.post(introspection, send_query=True), 200, {"data": {"__typename": "Query"}}
    )
    assert_response(await apq.post(introspection, send_query=False), 200, NOT_FOUND)
    assert (await anonymous.post(introspection, send_query=False)).status_code == 401
    # Once a key registered it, it runs by hash without a key too
    await apq.post(introspection, send_query=True)
    assert_response(await anonymous.get(introspection), 200, {"data": {"__typename": "Query"}})


async def test_the_cache_keeps_the_most_recently_used_queries(
    database_url: str, database: Database
) -> None:
    async with server(database_url, database, persisted_query_cache_size=2) as (client, _):
        first, second, third = (
            "query First { __typename }",
            "query Second { __typename }",
            "query Third { __typename }",
        )
        for query in (first, second):
            await client.post(query, send_query=True)
        # the first is used again, so the second is now the least recently used
        assert (await client.post(first, send_query=False)).status_code == 200
        await client.post(third, send_query=True)

        found = {
            query: payload(await client.post(query, send_query=False)) != NOT_FOUND
            for query in (first, second, third)
        }
        assert found == {first: True, second: False, third: True}


def test_the_cache_is_bounded_in_characters_too() -> None:
    cache = QueryCache(max_entries=10, max_characters=10)
    cache.put("a", "1234")
    cache.put("b", "5678")
    cache.put("c", "90")
    assert (len(cache), "a" in cache) == (3, True)
    cache.put("d", "xyz")  # 13 characters: the least recently used goes
    assert ("a" in cache, "b" in cache, "c" in cache, "d" in cache) == (False, True, True, True)
    cache.put("e", "x" * 11)  # larger than the whole budget: not kept, nothing evicted
    assert ("e" in cache, len(cache)) == (False, 3)


async def test_a_repeated_persisted_query_is_neither_parsed_nor_validated_again(
    apq: Client,
) -> None:
    # The schema's caches are keyed by the query's text, which a hash resolves to exactly
    from strawberry.extensions.validation_cache import _get_validate_cache

    from salesgraph.graphql.limits import parse_cache_info
    from salesgraph.graphql.schema import VALIDATION_CACHE_SIZE

    validated = _get_validate_cache(VALIDATION_CACHE_SIZE)
    query = "query RepeatedByHash { leads(first: 2) { totalCount nodes { title } } }"
    assert (await apq.post(query, send_query=True)).status_code == 200
    for by_hash in (lambda: apq.post(query, send_query=False), lambda: apq.get(query)):
        parse_hits, parse_misses = parse_cache_info().hits, parse_cache_info().misses
        validate_hits = validated.cache_info().hits
        assert (await by_hash()).status_code == 200
        assert parse_cache_info().hits == parse_hits + 1
        assert parse_cache_info().misses == parse_misses
        assert validated.cache_info().hits == validate_hits + 1


# Registered operations and the allow-list mode


def write_flat(path: Path, *queries: str) -> Path:
    path.write_text(json.dumps({sha256(query): query for query in queries}))
    return path


def write_manifest(path: Path, *queries: str) -> Path:
    operations = [
        {"id": sha256(query), "name": f"Op{index}", "type": "query", "body": query}
        for index, query in enumerate(queries)
    ]
    manifest = {"format": MANIFEST, "version": 1, "operations": operations}
    path.write_text(json.dumps(manifest))
    return path


@pytest.mark.parametrize("write", [write_flat, write_manifest], ids=["flat", "apollo-manifest"])
async def test_in_allow_list_mode_only_registered_operations_run(
    database_url: str, database: Database, tmp_path: Path, write: Any
) -> None:
    registered = write(tmp_path / "operations.json", LEADS, CREATE_LEAD)
    async with server(
        database_url, database, persisted_queries_only=True, persisted_queries_file=registered
    ) as (client, _):
        # Registered operations run by hash, over POST and GET, and by their text
        assert_response(await client.post(LEADS, send_query=False), 200, NO_LEADS)
        assert_response(await client.get(LEADS), 200, NO_LEADS)
        assert_response(await client.post_text(LEADS), 200, NO_LEADS)
        assert_response(await client.post(LEADS, send_query=True), 200, NO_LEADS)
        response = await client.post(CREATE_LEAD, send_query=False, variables={"title": "Ok"})
        assert response.json()["data"]["createLead"]["errors"] == []

        # Anything else is refused and runs nothing: an unregistered text (even one a space
        # away from a registered one), a hash alone, a hash with its text (APQ registration is
        # off), a registered hash with another text
        other = 'mutation { createLead(input: {title: "Sneaky"}) { errors { code } } }'
        strict = Client(client.http, client.headers["authorization"][7:], GRAPHQL_RESPONSE)
        for speaker in (client, strict):
            status = 403 if speaker is strict else 200
            for response in (
                await speaker.post_text(other),
                await speaker.post(other, send_query=True),
                await speaker.post(other, send_query=False),
                await speaker.post(other, send_query=True, digest=sha256(CREATE_LEAD)),
                await speaker.post_text(LEADS + " "),
                await speaker.get("{ __typename }"),
            ):
                assert_response(response, status, NOT_ALLOWED)
        # and the one lead is the registered mutation's
        assert_response(
            await client.post(LEADS, send_query=False), 200, {"data": {"leads": {"totalCount": 1}}}
        )


async def test_registered_operations_run_by_hash_at_once_when_apq_is_on(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    registered = write_flat(tmp_path / "operations.json", LEADS)
    async with server(database_url, database, persisted_queries_file=registered) as (client, _):
        # A registered operation needs no first round trip; others follow the APQ protocol
        assert_response(await client.post(LEADS, send_query=False), 200, NO_LEADS)
        assert_response(await client.post(TITLES, send_query=False), 200, NOT_FOUND)
        assert (await client.post(TITLES, send_query=True)).status_code == 200
        assert (await client.post_text("{ __typename }")).status_code == 200


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "No such file or directory"),
        ("{not json", "not JSON"),
        ("[]", "expected a JSON object"),
        (json.dumps({"0" * 64: LEADS}), f"{'0' * 64!r} is not the SHA-256 of its query"),
        (json.dumps({sha256(LEADS): ""}), f"the query of {sha256(LEADS)!r} is not a non-empty"),
        (
            json.dumps({"format": MANIFEST, "version": 2, "operations": []}),
            "only version 1 of the Apollo manifest format is supported",
        ),
        (
            json.dumps({"format": MANIFEST, "version": 1, "operations": {}}),
            "'operations' must be a list of objects",
        ),
        (
            json.dumps(
                {"format": MANIFEST, "version": 1, "operations": [{"id": "op-1", "body": LEADS}]}
            ),
            "'op-1' is not the SHA-256 of its query",
        ),
    ],
)
def test_a_bad_operations_file_stops_the_server_with_one_line(
    database_url: str, tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "operations.json"
    if content is not None:
        path.write_text(content)
    settings = Settings(database_url=database_url, persisted_queries_file=path)
    with pytest.raises(ConfigurationError) as raised:
        create_app(settings, database_url)
    message = str(raised.value)
    assert message.startswith(
        f"invalid configuration: SALESGRAPH_PERSISTED_QUERIES_FILE ({path}): "
    )
    assert problem in message
    assert "\n" not in message


def test_allow_list_mode_needs_a_file(database_url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        create_app(Settings(database_url=database_url, persisted_queries_only=True), database_url)
    assert str(raised.value) == (
        "invalid configuration: SALESGRAPH_PERSISTED_QUERIES_ONLY needs "
        "SALESGRAPH_PERSISTED_QUERIES_FILE"
    )
