"""GraphQL over HTTP: media types and status codes, GET, content types (CSRF), the body cap,
the request timeout and the database's statement timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import strawberry
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import Route

from salesgraph.app import create_app
from salesgraph.db.engine import Database
from salesgraph.graphql.context import Context
from salesgraph.graphql.view import GraphQLView, negotiate_media_type
from salesgraph.settings import Settings
from tests.conftest import Api, new_workspace

pytestmark = pytest.mark.anyio

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
LEADS = "{ leads { totalCount } }"
CREATE_LEAD = 'mutation { createLead(input: {title: "Sneaky"}) { lead { id } errors { code } } }'


def bad_request(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}


def auth(api: Api, accept: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {api.token}"}
    if accept is not None:
        headers["accept"] = accept
    return headers


def payload(response: httpx.Response) -> dict[str, Any]:
    """The response's data and errors; its extensions (the query's cost) are not asserted here."""
    return {k: v for k, v in response.json().items() if k != "extensions"}


async def lead_count(api: Api) -> int:
    return (await api(LEADS))["leads"]["totalCount"]  # type: ignore[no-any-return]


@dataclass
class Server:
    client: httpx.AsyncClient
    database: Database
    api: Api


@asynccontextmanager
async def server(database_url: str, owner: Database, **settings: Any) -> AsyncIterator[Server]:
    """An application with its own settings, and an admin of a fresh workspace (made through
    the owner's connections) on it."""
    application = create_app(Settings(database_url=database_url, **settings), database_url)
    database: Database = application.state.database
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            workspace_id, token = await new_workspace(owner)
            yield Server(client, database, Api(client, token, workspace_id))
    finally:
        await database.dispose()


@asynccontextmanager
async def table_locked(database_url: str, table: str) -> AsyncIterator[None]:
    """Another session holds an exclusive lock on the table, so statements on it wait."""
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            await connection.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await connection.close()


# Media types


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE}, */*", GRAPHQL_RESPONSE),
        (f"{JSON}, */*;q=0.1", JSON),
        (f"*/*, {GRAPHQL_RESPONSE};q=0", JSON),
        ("text/html,application/xhtml+xml,*/*;q=0.8", JSON),
        ("text/html", JSON),  # a browser following a GET link: the default, not 406
        ("application/xml", None),
        (f"{GRAPHQL_RESPONSE};q=0, {JSON};q=0", None),
        ("text/plain, image/*", None),
    ],
)
def test_the_response_media_type_is_the_one_the_accept_header_prefers(
    accept: str | None, media_type: str | None
) -> None:
    assert negotiate_media_type(accept) == media_type


@pytest.mark.parametrize("accept", [None, "*/*", JSON, GRAPHQL_RESPONSE])
async def test_a_query_runs_in_the_media_type_asked_for(
    api: Api, client: httpx.AsyncClient, accept: str | None
) -> None:
    expected = GRAPHQL_RESPONSE if accept == GRAPHQL_RESPONSE else JSON
    for response in (
        await client.post("/graphql", json={"query": LEADS}, headers=auth(api, accept)),
        await client.get("/graphql", params={"query": LEADS}, headers=auth(api, accept)),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == expected
        assert payload(response) == {"data": {"leads": {"totalCount": 0}}}


async def test_an_unacceptable_accept_header_gets_406_and_runs_nothing(
    api: Api, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/graphql", json={"query": CREATE_LEAD}, headers=auth(api, "application/xml")
    )
    assert response.status_code == 406
    assert response.headers["content-type"] == JSON
    assert payload(response) == bad_request(
        f"Not acceptable: this endpoint responds with {GRAPHQL_RESPONSE} or {JSON}."
    )
    assert response.headers["x-request-id"]
    assert await lead_count(api) == 0


# Status codes


REQUEST_ERRORS = [
    ("{ leads { totalCount }", None, "Syntax Error: Expected Name, found <EOF>."),
    ("{ nope }", None, "Cannot query field 'nope' on type 'Query'."),
    (
        "query($first: Int) { leads(first: $first) { totalCount } }",
        {"first": "many"},
        "Variable '$first' has invalid value: Int cannot represent non-integer value: 'many'",
    ),
]


@pytest.mark.parametrize(("query", "variables", "message"), REQUEST_ERRORS)
async def test_a_request_error_is_400_without_data_in_graphql_response_json(
    api: Api, client: httpx.AsyncClient, query: str, variables: Any, message: str
) -> None:
    body = {"query": query, "variables": variables}
    # With application/graphql-response+json: 400, and no data (nothing executed)
    response = await client.post("/graphql", json=body, headers=auth(api, GRAPHQL_RESPONSE))
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in payload(response)
    assert [error["message"] for error in payload(response)["errors"]] == [message]
    # With application/json: 200 and data null, as before
    response = await client.post("/graphql", json=body, headers=auth(api, JSON))
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    assert payload(response)["data"] is None
    assert [error["message"] for error in payload(response)["errors"]] == [message]


async def test_an_executed_operation_with_field_errors_is_200_in_both_media_types(
    api: Api, client: httpx.AsyncClient
) -> None:
    # A field error (a cursor that is not one of ours): the operation executed, data is present
    query = '{ leads(after: "garbage") { totalCount } }'
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await client.post("/graphql", json={"query": query}, headers=auth(api, accept))
        assert response.status_code == 200
        assert response.headers["content-type"] == accept
        body = payload(response)
        assert body["data"] is None
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["leads"], "BAD_USER_INPUT")
        ]


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_requests_that_are_not_graphql_requests_get_400(
    api: Api, client: httpx.AsyncClient, accept: str
) -> None:
    headers = {**auth(api, accept), "content-type": JSON}
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("POST", {"content": "{not json"}, "Unable to parse request body as JSON"),
        (
            "POST",
            {"content": '{"query": "{ __typename }", "variables": {"a": ' + "[" * 100_000 + "}"},
            "Unable to parse request body as JSON",
        ),
        ("POST", {"content": "[]"}, "Batching is not supported: send one operation per request."),
        ("POST", {"content": '"query"'}, "The request body must be a JSON object."),
        (
            "POST",
            {"json": {"query": 1}},
            "The GraphQL operation's `query` must be a string or null, if provided.",
        ),
        (
            "POST",
            {"json": {"query": LEADS, "variables": "x"}},
            "The GraphQL operation's `variables` must be an object or null, if provided.",
        ),
        (
            "POST",
            {"json": {"query": LEADS, "operationName": 3}},
            "The GraphQL operation's `operationName` must be a string or null, if provided.",
        ),
        ("POST", {"json": {}}, "No GraphQL query found in the request"),
        ("POST", {"json": {"query": None}}, "No GraphQL query found in the request"),
        ("GET", {}, "No GraphQL query found in the request"),
        (
            "GET",
            {"params": {"query": LEADS, "variables": "{x"}},
            "Unable to parse the variables parameter as JSON",
        ),
        (
            "POST",
            {"json": {"query": "query A { __typename }", "operationName": "B"}},
            'Unknown operation named "B".',
        ),
    ]
    for method, arguments, message in cases:
        response = await client.request(method, "/graphql", headers=headers, **arguments)
        assert (response.status_code, payload(response)) == (400, bad_request(message)), arguments
        assert response.headers["content-type"] == accept


async def test_unauthenticated_is_401_in_both_media_types(client: httpx.AsyncClient) -> None:
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await client.post("/graphql", json={"query": LEADS}, headers={"accept": accept})
        assert response.status_code == 401
        assert response.headers["content-type"] == accept
        assert payload(response)["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


# GET


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_get_runs_queries_only(api: Api, client: httpx.AsyncClient, accept: str) -> None:
    # When a mutation is sent as a GET, then it is refused with 405 and Allow: POST
    response = await client.get(
        "/graphql", params={"query": CREATE_LEAD}, headers=auth(api, accept)
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == accept
    assert payload(response) == bad_request("mutations are not allowed when using GET")
    # also when operationName picks the mutation out of a document with a query
    document = f"query Count {LEADS} mutation Create {CREATE_LEAD.removeprefix('mutation ')}"
    response = await client.get(
        "/graphql", params={"query": document, "operationName": "Create"}, headers=auth(api)
    )
    assert response.status_code == 405
    assert await lead_count(api) == 0
    # while the query of the same document runs
    response = await client.get(
        "/graphql", params={"query": document, "operationName": "Count"}, headers=auth(api)
    )
    assert response.status_code == 200
    assert payload(response) == {"data": {"leads": {"totalCount": 0}}}
    # and so does a query with variables
    response = await client.get(
        "/graphql",
        params={
            "query": "query($first: Int) { leads(first: $first) { totalCount } }",
            "variables": '{"first": 5}',
        },
        headers=auth(api, accept),
    )
    assert payload(response) == {"data": {"leads": {"totalCount": 0}}}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def test_methods_other_than_get_and_post_get_405(
    api: Api, client: httpx.AsyncClient, method: str
) -> None:
    response = await client.request(method, "/graphql", json={"query": LEADS}, headers=auth(api))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    if method != "HEAD":
        assert payload(response) == bad_request("GraphQL only supports GET and POST requests.")


# Content types: only JSON may be posted (CSRF)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no content type at all
        {"content-type": "text/plain"},
        {"content-type": "text/plain; charset=utf-8"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "multipart/form-data; boundary=x"},
        {"content-type": "application/graphql"},
        {"content-type": "application/json-patch+json"},
        {"content-type": "application/jsonx"},
        {"content-type": "application/json; charset=latin-1"},
    ],
)
async def test_a_post_body_that_is_not_json_gets_415_and_runs_nothing(
    api: Api, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = f'{{"query": "{CREATE_LEAD.replace(chr(34), chr(92) + chr(34))}"}}'
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = await client.post(
            "/graphql", content=body, headers={**auth(api, accept), **headers}
        )
        assert response.status_code == 415
        assert response.headers["content-type"] == accept
        assert payload(response) == bad_request(
            "Unsupported content type: send the request as application/json."
        )
    assert await lead_count(api) == 0
    # while the same body as application/json runs
    response = await client.post(
        "/graphql",
        content=body,
        headers={**auth(api), "content-type": "Application/JSON; Charset=UTF-8"},
    )
    assert payload(response)["data"]["createLead"]["errors"] == []


# The body cap


async def test_a_body_over_the_cap_gets_413_with_or_without_content_length(
    database_url: str, database: Database
) -> None:
    async with server(database_url, database, max_body_bytes=2048) as app:
        padding = " " * 2048
        too_big = f'{{"query": "{CREATE_LEAD[:-1].replace(chr(34), chr(92) + chr(34))}"}}{padding}'

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
            for start in range(0, len(too_big), 100):
                yield too_big[start : start + 100].encode()

        for content in (too_big.encode, chunked):
            for headers in (auth(app.api), {}):  # also before authentication
                response = await app.client.post(
                    "/graphql", content=content(), headers={**headers, "content-type": JSON}
                )
                assert response.status_code == 413
                assert payload(response) == bad_request(
                    "The request body is larger than 2048 bytes."
                )
                assert response.headers["x-request-id"]
        # A Content-Length over the cap is refused before the body is read
        response = await app.client.post(
            "/graphql",
            content=b"{}",
            headers={**auth(app.api), "content-type": JSON, "content-length": "2049"},
        )
        assert response.status_code == 413
        assert await lead_count(app.api) == 0
        # while a body of exactly the cap runs
        exact = f'{{"query": "{LEADS}"}}'
        exact += " " * (2048 - len(exact))
        response = await app.client.post(
            "/graphql", content=exact.encode(), headers={**auth(app.api), "content-type": JSON}
        )
        assert payload(response) == {"data": {"leads": {"totalCount": 0}}}


# A status set during execution passes through


@strawberry.type
class LimitedQuery:
    @strawberry.field(description="Always over the limit.")
    def limited(self, info: strawberry.Info[Context, None]) -> int:
        info.context.response.status_code = 429
        info.context.response.headers["retry-after"] = "7"
        return 0


async def test_a_status_set_by_a_resolver_passes_through(
    database_url: str, database: Database, api: Api
) -> None:
    # Given the view serving a schema whose field answers 429 (as a rate limit would)
    view = GraphQLView(
        strawberry.Schema(query=LimitedQuery),
        settings=Settings(database_url=database_url),
        database=database,
    )
    transport = httpx.ASGITransport(app=Starlette(routes=[Route("/graphql", view)]))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for accept in (JSON, GRAPHQL_RESPONSE):
            response = await client.post(
                "/graphql", json={"query": "{ limited }"}, headers=auth(api, accept)
            )
            # Then the status and the header reach the client
            assert response.status_code == 429
            assert response.headers["retry-after"] == "7"
            assert response.headers["content-type"] == accept
            assert payload(response) == {"data": {"limited": 0}}


# Timeouts


async def pool_settles(database: Database) -> int:
    """The pool's checked-out connections once in-flight cleanup has had a moment."""
    for _ in range(50):
        if database.engine.sync_engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
            return 0
        await asyncio.sleep(0.02)
    return database.engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined,no-any-return]


async def test_a_statement_over_the_statement_timeout_ends_with_timeout(
    database_url: str, database: Database
) -> None:
    async with server(database_url, database, statement_timeout_ms=300) as app:
        await app.api('mutation { createLead(input: {title: "Existing"}) { lead { id } } }')

        # Given another session holding a lock that the leads' statements wait on
        async with table_locked(database_url, "leads"):
            # When a query reads leads
            started = time.monotonic()
            response = await app.api.post(LEADS)
            elapsed = time.monotonic() - started

            # Then the statement is cancelled after the timeout and the field fails with TIMEOUT
            assert response.status_code == 200
            assert payload(response) == {
                "data": None,
                "errors": [
                    {
                        "message": "A database statement ran longer than 300 ms and was cancelled.",
                        "locations": [{"line": 1, "column": 3}],
                        "path": ["leads"],
                        "extensions": {"code": "TIMEOUT"},
                    }
                ],
            }
            assert 0.3 <= elapsed < 3

            # When a mutation writes a lead
            response = await app.api.post(CREATE_LEAD)

            # Then its transaction is rolled back and it gets a top-level TIMEOUT error
            body = payload(response)
            assert response.status_code == 200
            assert body["data"] is None
            assert [(e["path"], e["extensions"]) for e in body["errors"]] == [
                (["createLead"], {"code": "TIMEOUT"})
            ]

        # Then every connection went back to the pool, and the next requests succeed
        assert await pool_settles(app.database) == 0
        for _ in range(3):
            assert await lead_count(app.api) == 1  # the mutation wrote nothing
        assert await pool_settles(app.database) == 0


async def test_the_statement_timeout_is_local_to_each_transaction(
    database_url: str, database: Database
) -> None:
    async with server(
        database_url,
        database,
        statement_timeout_ms=1234,
        database_pool_size=1,
        database_max_overflow=0,
    ) as app:
        await lead_count(app.api)
        # Inside a transaction of the server's engine the timeout holds
        async with app.database.engine.connect() as connection:
            inside = await connection.scalar(text("SHOW statement_timeout"))
            raw = await connection.get_raw_connection()
            await connection.rollback()
            # and once the transaction ended, the same pooled connection has the server's own
            assert raw.driver_connection is not None
            outside = await raw.driver_connection.fetchval(
                "SELECT setting = reset_val FROM pg_settings WHERE name = 'statement_timeout'"
            )
        assert inside == "1234ms"
        assert outside is True


async def test_a_request_over_the_request_timeout_ends_with_504(
    database_url: str, database: Database
) -> None:
    async with server(
        database_url, database, request_timeout_seconds=0.5, statement_timeout_ms=0
    ) as app:
        # Given a lock that the leads' statements wait on, with no statement timeout
        async with table_locked(database_url, "leads"):
            # When a query waits on it past the request timeout
            started = time.monotonic()
            for accept in (JSON, GRAPHQL_RESPONSE):
                response = await app.client.post(
                    "/graphql",
                    json={"query": LEADS},
                    headers={**auth(app.api, accept), "x-request-id": "slow-1"},
                )

                # Then it ends with 504 and TIMEOUT
                assert response.status_code == 504
                assert response.headers["content-type"] == accept
                assert response.headers["x-request-id"] == "slow-1"
                assert payload(response) == {
                    "errors": [
                        {
                            "message": "The request took longer than 0.5 s and was cancelled.",
                            "extensions": {"code": "TIMEOUT"},
                        }
                    ]
                }
            assert time.monotonic() - started < 3

        # Then its connection went back to the pool, and the next requests succeed
        assert await pool_settles(app.database) == 0
        for _ in range(3):
            assert await lead_count(app.api) == 0
        assert await pool_settles(app.database) == 0


def test_the_transport_settings_have_defaults() -> None:
    settings = Settings(database_url=None)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.request_timeout_seconds == 30.0
    assert settings.statement_timeout_ms == 10_000
