"""Authentication and transport: API keys, scopes, public introspection, GraphiQL, content
types, GET, request ids."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from salesgraph.app import create_app
from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.settings import Settings
from salesgraph.workspaces import api_keys
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.models import ApiKey, Member, Scope
from tests.conftest import Api

# Marked here, not only by conftest's collection hook: anyio rebuilds the items that hook marks,
# which drops their parametrization.
pytestmark = pytest.mark.anyio

KEY_REQUIRED = "An API key is required: send 'Authorization: Bearer <key>'."
USE_BEARER = "Use 'Authorization: Bearer <key>'."
INVALID_KEY = "The API key is invalid, expired or revoked."
LEADS = "{ leads { totalCount } }"
CREATE_LEAD = 'mutation { createLead(input: {title: "Sneaky"}) { lead { id } errors { code } } }'


def without_extensions(response: httpx.Response) -> dict[str, Any]:
    """The body without `extensions` (the query's cost and the key's remaining budget)."""
    body: dict[str, Any] = response.json()
    body.pop("extensions", None)
    return body


async def post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=headers or {})


def assert_unauthenticated(response: httpx.Response, message: str) -> None:
    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    assert response.headers["www-authenticate"] == 'Bearer realm="salesgraph"'
    assert response.headers["x-request-id"]


async def new_key(
    database: Database,
    workspace_id: uuid.UUID | None,
    scopes: list[Scope],
    *,
    member_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> tuple[uuid.UUID, str]:
    assert workspace_id is not None
    async with unit_of_work(database, workspace_id=None) as session:
        created = await workspace_service.create_api_key(
            session,
            workspace_id=workspace_id,
            name="integration",
            scopes=scopes,
            member_id=member_id,
            expires_at=expires_at,
        )
    return created.key.id, created.token


async def database_now(database: Database) -> datetime:
    async with unit_of_work(database, workspace_id=None) as session:
        now = await session.scalar(select(func.now()))
    assert now is not None
    return now


async def lead_count(api: Api) -> int:
    return (await api(LEADS))["leads"]["totalCount"]  # type: ignore[no-any-return]


# Without a valid key


async def test_a_request_without_a_key_gets_401_and_runs_nothing(
    api: Api, client: httpx.AsyncClient
) -> None:
    # When a query and a mutation come without an Authorization header
    for query in (LEADS, CREATE_LEAD, "{ viewer { scopes } }"):
        response = await post(client, query)

        # Then each gets 401 with an UNAUTHENTICATED error and a Bearer challenge
        assert_unauthenticated(response, KEY_REQUIRED)
    # and nothing was created
    assert await lead_count(api) == 0


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic x", USE_BEARER),
        ("Basic dXNlcjpwYXNz", USE_BEARER),
        ("Token abc", USE_BEARER),
        ("Bearer", USE_BEARER),
        ("Bearer    ", USE_BEARER),
        ("", USE_BEARER),
        ("Bearer garbage", INVALID_KEY),
        ("Bearer sg_garbage", INVALID_KEY),
        (f"Bearer sg_{'A' * 43}_secret", INVALID_KEY),
    ],
)
async def test_a_malformed_authorization_header_gets_401(
    api: Api, client: httpx.AsyncClient, header: str, message: str
) -> None:
    # When a mutation comes with a malformed Authorization header
    response = await post(client, CREATE_LEAD, {"authorization": header})

    # Then it is refused and runs nothing
    assert_unauthenticated(response, message)
    assert await lead_count(api) == 0


async def test_a_token_with_a_wrong_secret_or_of_an_unknown_key_gets_401(
    api: Api, other_api: Api, client: httpx.AsyncClient
) -> None:
    # Given two real tokens
    assert api.token is not None
    assert other_api.token is not None
    mine = api_keys.parse_token(api.token)
    theirs = api_keys.parse_token(other_api.token)
    assert mine is not None
    assert theirs is not None
    forged = [
        # the right key with another secret
        api_keys.format_token(mine.workspace_id, mine.key_id, api_keys.new_secret()),
        # the right key with the other key's secret
        api_keys.format_token(mine.workspace_id, mine.key_id, theirs.secret),
        # the right secret with the key moved to the other workspace
        api_keys.format_token(theirs.workspace_id, mine.key_id, mine.secret),
        # a key that does not exist
        api_keys.format_token(mine.workspace_id, uuid.uuid4(), mine.secret),
        # the right token, truncated
        api.token[:-1],
    ]
    for token in forged:
        # When it is used, then it is refused
        response = await post(client, CREATE_LEAD, {"authorization": f"Bearer {token}"})
        assert_unauthenticated(response, INVALID_KEY)
    # while the real one works, whatever the case of the scheme
    response = await post(client, LEADS, {"authorization": f"bearer {api.token}"})
    assert response.status_code == 200
    assert without_extensions(response) == {"data": {"leads": {"totalCount": 0}}}


async def test_a_revoked_key_gets_401(
    api: Api, client: httpx.AsyncClient, database: Database
) -> None:
    # Given a working key
    key_id, token = await new_key(database, api.workspace_id, [Scope.READ])
    assert (await post(client, LEADS, {"authorization": f"Bearer {token}"})).status_code == 200

    # When it is revoked
    async with unit_of_work(database, workspace_id=None) as session:
        await workspace_service.revoke_api_key(session, key_id=key_id)

    # Then it is refused
    assert_unauthenticated(
        await post(client, LEADS, {"authorization": f"Bearer {token}"}), INVALID_KEY
    )


async def test_an_expired_key_gets_401(
    api: Api, client: httpx.AsyncClient, database: Database
) -> None:
    # Given a key that expired a minute ago (keys are created with a future expiry, so it is
    # moved into the past directly in the table), and one that expires in a minute
    now = await database_now(database)
    expired_id, expired = await new_key(
        database, api.workspace_id, [Scope.READ], expires_at=now + timedelta(minutes=1)
    )
    async with unit_of_work(database, workspace_id=api.workspace_id) as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == expired_id)
            .values(expires_at=now - timedelta(minutes=1))
        )
    _, valid = await new_key(
        database, api.workspace_id, [Scope.READ], expires_at=now + timedelta(minutes=1)
    )

    # When each is used, then the expired one is refused and the other works
    assert_unauthenticated(
        await post(client, LEADS, {"authorization": f"Bearer {expired}"}), INVALID_KEY
    )
    response = await post(client, LEADS, {"authorization": f"Bearer {valid}"})
    assert response.status_code == 200


# Public introspection and GraphiQL


@pytest.mark.parametrize(
    ("query", "data"),
    [
        ("{ __typename }", {"__typename": "Query"}),
        ("{ __schema { queryType { name } } }", {"__schema": {"queryType": {"name": "Query"}}}),
        (
            '{ __type(name: "Lead") { name } __typename }',
            {"__type": {"name": "Lead"}, "__typename": "Query"},
        ),
        ("query { ...Meta } fragment Meta on Query { __typename }", {"__typename": "Query"}),
    ],
)
async def test_an_introspection_only_request_runs_without_a_key(
    client: httpx.AsyncClient, query: str, data: dict[str, Any]
) -> None:
    # When it is posted, or sent as a GET, without a key
    posted = await post(client, query)
    fetched = await client.get("/graphql", params={"query": query})

    # Then it runs
    for response in (posted, fetched):
        assert response.status_code == 200
        assert response.json() == {"data": data}


@pytest.mark.parametrize(
    "query",
    [
        "{ __typename leads { totalCount } }",
        "{ __schema { queryType { name } } viewer { scopes } }",
        "query { ...Mixed } fragment Mixed on Query { __typename leads { totalCount } }",
        "query A { __typename } query B { leads { totalCount } }",
        "{ __typename",  # not a document
    ],
)
async def test_a_request_mixing_introspection_with_data_needs_a_key(
    client: httpx.AsyncClient, query: str
) -> None:
    assert_unauthenticated(await post(client, query), KEY_REQUIRED)
    assert_unauthenticated(await client.get("/graphql", params={"query": query}), KEY_REQUIRED)


@pytest.fixture
async def private_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an application whose introspection is not public."""
    application = create_app(
        Settings(database_url=database_url, public_introspection=False), database_url
    )
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await application.state.database.dispose()


async def test_introspection_needs_a_key_when_it_is_not_public(
    private_client: httpx.AsyncClient, api: Api
) -> None:
    query = "{ __schema { queryType { name } } }"
    assert_unauthenticated(await post(private_client, query), KEY_REQUIRED)
    response = await post(private_client, query, {"authorization": f"Bearer {api.token}"})
    assert without_extensions(response) == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_a_browser_gets_graphiql_without_a_key(client: httpx.AsyncClient) -> None:
    # When a browser asks for the endpoint
    response = await client.get("/graphql", headers={"accept": "text/html,*/*;q=0.8"})

    # Then it gets GraphiQL's page
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "graphiql" in response.text.lower()
    assert response.headers["x-request-id"]


async def test_a_browser_get_with_a_query_is_not_a_way_around_the_key(
    client: httpx.AsyncClient,
) -> None:
    # When a browser-like GET carries a data query and no key, then it is refused
    for query in ("{ viewer { scopes } }", LEADS):
        response = await client.get(
            "/graphql", params={"query": query}, headers={"accept": "text/html"}
        )
        assert_unauthenticated(response, KEY_REQUIRED)
    # while an introspection query still runs
    response = await client.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"accept": "text/html"}
    )
    assert response.json() == {"data": {"__typename": "Query"}}


# Transport


@pytest.mark.parametrize(
    "content",
    [
        {"content": '{"query": "mutation { createLead(input: {title: \\"Sneaky\\"}) { errors '
         '{ code } } }"}', "headers": {"content-type": "text/plain"}},
        {"data": {"query": CREATE_LEAD}},  # application/x-www-form-urlencoded
        {"files": {"query": (None, CREATE_LEAD)}},  # multipart/form-data
        {"content": CREATE_LEAD, "headers": {"content-type": "application/graphql"}},
    ],
    ids=["text-plain", "form-urlencoded", "multipart", "application-graphql"],
)  # fmt: skip
async def test_a_post_that_is_not_json_is_refused_and_runs_nothing(
    api: Api, client: httpx.AsyncClient, content: dict[str, Any]
) -> None:
    # When a mutation is posted with a key but a content type a form or a script can send
    body = {name: value for name, value in content.items() if name != "headers"}
    headers = {"authorization": f"Bearer {api.token}", **content.get("headers", {})}
    response = await client.post("/graphql", headers=headers, **body)

    # Then it is refused as an unsupported media type
    assert response.status_code == 415
    assert response.json() == {
        "errors": [
            {
                "message": "Unsupported content type: send the request as application/json.",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert response.headers["x-request-id"]
    # and nothing was created
    assert await lead_count(api) == 0
    # while without a key it is refused before anything else
    del headers["authorization"]
    assert_unauthenticated(await client.post("/graphql", headers=headers, **body), KEY_REQUIRED)


async def test_a_mutation_over_get_is_refused_and_runs_nothing(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers = {"authorization": f"Bearer {api.token}"}
    # When a mutation is sent as a GET
    response = await client.get("/graphql", params={"query": CREATE_LEAD}, headers=headers)

    # Then it is refused: GET runs queries only
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {
        "errors": [
            {
                "message": "mutations are not allowed when using GET",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert await lead_count(api) == 0
    # while a query over GET runs
    response = await client.get("/graphql", params={"query": LEADS}, headers=headers)
    assert without_extensions(response) == {"data": {"leads": {"totalCount": 0}}}


async def test_every_response_carries_a_request_id_and_echoes_a_given_one(
    api: Api, client: httpx.AsyncClient
) -> None:
    auth = {"authorization": f"Bearer {api.token}"}
    requests = [
        ("POST", {"json": {"query": LEADS}}, auth, 200),
        ("POST", {"json": {"query": "{ nope }"}}, auth, 200),  # a GraphQL validation error
        ("POST", {"json": {"query": LEADS}}, {}, 401),
        ("POST", {"content": "x"}, {**auth, "content-type": "text/plain"}, 415),
        ("POST", {"content": "{not json"}, {**auth, "content-type": "application/json"}, 400),
        ("GET", {"params": {"query": CREATE_LEAD}}, auth, 405),
        ("GET", {}, {"accept": "text/html"}, 200),
        ("GET", {"params": {"query": "{ __typename }"}}, {}, 200),
        ("PUT", {"json": {"query": LEADS}}, auth, 405),
    ]
    generated = set()
    for method, arguments, headers, status in requests:
        # When a request comes without an id, then the response has a fresh one
        response = await client.request(method, "/graphql", headers=headers, **arguments)
        assert response.status_code == status, (method, arguments, response.text)
        generated.add(response.headers["x-request-id"])
        # When it comes with one, then the response echoes it
        given = {**headers, "x-request-id": f"trace-{uuid.uuid4().hex}"}
        echoed = await client.request(method, "/graphql", headers=given, **arguments)
        assert echoed.headers["x-request-id"] == given["x-request-id"]
    assert len(generated) == len(requests)
    assert all(len(request_id) == 32 for request_id in generated)
    # and an overlong id is cut to 64 characters
    response = await client.post(
        "/graphql", json={"query": LEADS}, headers={**auth, "x-request-id": "r" * 500}
    )
    assert response.headers["x-request-id"] == "r" * 64


# Who the key is, and what it may do

VIEWER = """{ viewer {
    workspace { id name }
    apiKey { id name scopes expiresAt revokedAt lastUsedAt }
    member { id email name role }
    scopes
} }"""


async def test_the_viewer_is_the_workspace_key_and_member_of_the_request(
    api: Api, database: Database
) -> None:
    # Given the admin key of a workspace
    assert api.token is not None
    parsed = api_keys.parse_token(api.token)
    assert parsed is not None
    async with unit_of_work(database, workspace_id=None) as session:
        admin = (
            await session.execute(select(Member).where(Member.workspace_id == api.workspace_id))
        ).scalar_one()

    # When it asks who it is
    viewer = (await api(VIEWER))["viewer"]

    # Then it gets its workspace, key and member, and its scopes with those implied
    assert viewer["workspace"] == {"id": str(api.workspace_id), "name": "Acme"}
    assert viewer["apiKey"]["id"] == str(parsed.key_id)
    assert viewer["apiKey"]["name"] == "admin"
    assert viewer["apiKey"]["scopes"] == ["ADMIN", "READ", "WRITE"]
    assert viewer["apiKey"]["expiresAt"] is None
    assert viewer["apiKey"]["revokedAt"] is None
    assert viewer["member"] == {
        "id": str(admin.id),
        "email": admin.email,
        "name": admin.email.split("@")[0],
        "role": "ADMIN",
    }
    assert viewer["scopes"] == ["ADMIN", "READ", "WRITE"]


@pytest.mark.parametrize(
    ("granted", "implied"),
    [
        ([Scope.READ], ["READ"]),
        ([Scope.WRITE], ["READ", "WRITE"]),
        ([Scope.ADMIN], ["ADMIN", "READ", "WRITE"]),
    ],
)
async def test_the_viewer_lists_granted_and_implied_scopes(
    api: Api, database: Database, granted: list[Scope], implied: list[str]
) -> None:
    key_id, token = await new_key(database, api.workspace_id, granted)
    viewer = (await api.as_key(token)(VIEWER))["viewer"]
    assert viewer["apiKey"]["id"] == str(key_id)
    assert viewer["apiKey"]["name"] == "integration"
    assert viewer["apiKey"]["scopes"] == [scope.name for scope in granted]
    assert viewer["member"] is None  # an integration's key acts for no member
    assert viewer["scopes"] == implied


async def test_a_read_only_key_reads_but_gets_forbidden_on_mutations(
    api: Api, database: Database
) -> None:
    # Given a lead and a read-only key
    await api('mutation { createLead(input: {title: "Existing"}) { lead { id } } }')
    pipeline_id = (await api("{ pipelines { id } }"))["pipelines"][0]["id"]
    _, token = await new_key(database, api.workspace_id, [Scope.READ])
    reader = api.as_key(token)
    assert await lead_count(reader) == 1

    # When it runs mutations
    for mutation, scope in (
        (CREATE_LEAD, "write"),
        (
            f'mutation {{ renamePipeline(input: {{id: "{pipeline_id}", name: "Taken"}}) '
            "{ errors { code } } }",
            "admin",
        ),
    ):
        response = await reader.post(mutation)

        # Then each is forbidden, naming the missing scope
        body = response.json()
        assert response.status_code == 200
        assert body["data"] is None
        assert len(body["errors"]) == 1
        assert body["errors"][0]["message"] == f"This API key lacks the '{scope}' scope."
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "requiredScope": scope}
    # and nothing changed
    data = await api("{ leads { totalCount } pipelines { name version } }")
    assert data == {"leads": {"totalCount": 1}, "pipelines": [{"name": "Sales", "version": 1}]}


async def test_a_write_key_changes_leads_but_not_the_configuration(
    api: Api, database: Database
) -> None:
    _, token = await new_key(database, api.workspace_id, [Scope.WRITE])
    writer = api.as_key(token)
    created = await writer(CREATE_LEAD)
    assert created["createLead"]["errors"] == []
    response = await writer.post(
        'mutation { createPipeline(input: {name: "Other"}) { errors { code } } }'
    )
    assert response.json()["errors"][0]["extensions"] == {
        "code": "FORBIDDEN",
        "requiredScope": "admin",
    }
    assert await lead_count(api) == 1
    assert [p["name"] for p in (await api("{ pipelines { name } }"))["pipelines"]] == ["Sales"]


async def test_last_used_at_is_set_by_use_to_the_minute(api: Api, database: Database) -> None:
    # Given a key never used
    key_id, token = await new_key(database, api.workspace_id, [Scope.READ])

    async def stored() -> datetime | None:
        async with unit_of_work(database, workspace_id=None) as session:
            key = (await session.execute(select(ApiKey).where(ApiKey.id == key_id))).scalar_one()
        return key.last_used_at

    assert await stored() is None
    before = await database_now(database)

    # When it is used
    first = (await api.as_key(token)(VIEWER))["viewer"]["apiKey"]["lastUsedAt"]

    # Then its last use is recorded, and shown to the request that used it
    last_used = await stored()
    assert last_used is not None
    assert before <= last_used <= await database_now(database)
    assert datetime.fromisoformat(first) == last_used
    # and a second use within the minute writes nothing
    second = (await api.as_key(token)(VIEWER))["viewer"]["apiKey"]["lastUsedAt"]
    assert second == first
    assert await stored() == last_used


async def test_a_fault_before_execution_is_a_json_500_with_the_request_id(
    api: Api, database_url: str
) -> None:
    # Given the application pointed at a database that does not exist (authentication fails)
    missing = (
        make_url(database_url)
        .set(database="salesgraph_missing")
        .render_as_string(hide_password=False)
    )
    application = create_app(Settings(database_url=missing), missing)
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/graphql",
                json={"query": "{ viewer { scopes } }"},
                headers={"authorization": f"Bearer {api.token}", "x-request-id": "down-1"},
            )
    finally:
        await application.state.database.dispose()

    # Then the client gets a JSON error carrying the request id, and nothing about the cause
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "down-1"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error. Request id: down-1",
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ]
    }
