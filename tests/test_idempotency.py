"""Idempotency keys: a mutation request with an Idempotency-Key runs at most once per API key."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.http.idempotency import IdempotencyMiddleware, mutation_ran
from salesgraph.settings import Settings
from salesgraph.workspaces import api_keys
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.models import Scope as KeyScope
from tests.conftest import Api

pytestmark = pytest.mark.anyio

CREATE_LEAD = """mutation CreateLead($input: CreateLeadInput!) {
  createLead(input: $input) { lead { id title } errors { field code message } }
}"""
COUNT_LEADS = "{ leads(first: 100) { totalCount } }"


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


async def post(
    api: Api,
    key: str | bytes | None,
    query: str = CREATE_LEAD,
    variables: dict[str, Any] | None = None,
    *,
    operation_name: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    if api.token:
        all_headers.append((b"authorization", f"Bearer {api.token}".encode()))
    if key is not None:
        all_headers.append((b"idempotency-key", key if isinstance(key, bytes) else key.encode()))
    body: dict[str, Any] = {"query": query, "variables": variables or {}}
    if operation_name is not None:
        body["operationName"] = operation_name
    return await api.client.post("/graphql", json=body, headers=all_headers)


def lead_input(title: str = "Deal") -> dict[str, Any]:
    return {"input": {"title": title}}


async def lead_count(api: Api) -> int:
    data = await api(COUNT_LEADS)
    return data["leads"]["totalCount"]  # type: ignore[no-any-return]


def error_code(response: httpx.Response) -> str:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]["extensions"]["code"]  # type: ignore[no-any-return]


async def record_state(database: Database, key: str) -> str | None:
    async with database.engine.connect() as connection:
        state = await connection.scalar(
            text("SELECT state FROM idempotency_records WHERE key = :key"), {"key": key}
        )
    return state  # type: ignore[no-any-return]


async def execute(database: Database, sql: str, **params: Any) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(text(sql), params)


# --- replay and reuse ------------------------------------------------------------------------


async def test_a_retry_with_the_same_body_gets_the_stored_response(api: Api) -> None:
    key = new_key()
    first = await post(api, key, variables=lead_input())
    assert first.status_code == 200
    assert first.json()["data"]["createLead"]["errors"] == []
    assert "idempotent-replayed" not in first.headers

    retry = await post(api, key, variables=lead_input())

    assert retry.status_code == 200
    assert retry.content == first.content
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert await lead_count(api) == 1


async def test_the_body_is_compared_as_canonical_json(api: Api) -> None:
    key = new_key()
    first = await post(api, key, variables={"input": {"title": "Deal", "source": "web"}})
    # the same request, with other whitespace and key order
    body = (
        '{ "variables": {"input": {"source": "web", "title": "Deal"}},\n'
        f'  "query": {json.dumps(CREATE_LEAD)} }}'
    )
    retry = await api.client.post(
        "/graphql",
        content=body,
        headers={
            "authorization": f"Bearer {api.token}",
            "idempotency-key": key,
            "content-type": "application/json",
        },
    )
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content
    assert await lead_count(api) == 1


async def test_a_retry_with_a_different_body_is_refused(api: Api) -> None:
    key = new_key()
    assert (await post(api, key, variables=lead_input("One"))).status_code == 200

    retry = await post(api, key, variables=lead_input("Two"), headers={"x-request-id": "abc"})

    assert retry.status_code == 422
    assert error_code(retry) == "IDEMPOTENCY_KEY_REUSED"
    assert retry.headers["x-request-id"] == "abc"
    assert await lead_count(api) == 1


async def test_payload_errors_are_a_stored_outcome(api: Api) -> None:
    key = new_key()
    first = await post(api, key, variables=lead_input("   "))
    assert first.json()["data"]["createLead"]["errors"]

    retry = await post(api, key, variables=lead_input("   "))

    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content


async def test_the_retry_keeps_its_own_request_id(api: Api) -> None:
    key = new_key()
    first = await post(api, key, variables=lead_input(), headers={"x-request-id": "first"})
    assert first.headers["x-request-id"] == "first"

    retry = await post(api, key, variables=lead_input(), headers={"x-request-id": "second"})
    assert retry.headers["x-request-id"] == "second"
    assert retry.headers["idempotent-replayed"] == "true"


# --- what the header applies to ---------------------------------------------------------------


async def test_queries_ignore_the_header(api: Api) -> None:
    key = new_key()
    await post(api, key, variables=lead_input())
    for _ in range(2):
        response = await post(api, key, COUNT_LEADS)
        assert response.status_code == 200
        assert "idempotent-replayed" not in response.headers
    # the counts differ: each query ran
    await post(api, None, variables=lead_input())
    response = await post(api, key, COUNT_LEADS)
    assert response.json()["data"]["leads"]["totalCount"] == 2
    # even an invalid key is ignored by a query
    assert (await post(api, "x" * 300, COUNT_LEADS)).status_code == 200


async def test_the_operation_name_selects_the_operation(api: Api) -> None:
    document = CREATE_LEAD + "\nquery Count " + COUNT_LEADS
    key = new_key()
    for _ in range(2):
        response = await post(api, key, document, operation_name="Count")
        assert "idempotent-replayed" not in response.headers
    first = await post(api, key, document, lead_input(), operation_name="CreateLead")
    retry = await post(api, key, document, lead_input(), operation_name="CreateLead")
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["idempotent-replayed"] == "true"
    assert await lead_count(api) == 1


async def test_requests_without_a_key_pass_through(api: Api, database: Database) -> None:
    key = new_key()
    response = await post(api.as_key(None), key, variables=lead_input())
    assert response.status_code == 401
    assert error_code(response) == "UNAUTHENTICATED"
    assert await record_state(database, key) is None


async def test_an_unauthenticated_request_releases_its_claim(api: Api, database: Database) -> None:
    key = new_key()
    response = await post(api.as_key("sg_not-a-real-key"), key, variables=lead_input())
    assert response.status_code == 401
    assert await record_state(database, key) is None
    # the real key's request with the same key is unaffected
    assert "idempotent-replayed" not in (await post(api, key, variables=lead_input())).headers


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "tab\there", "caf\u00e9".encode(), "line\x7f"], ids=repr
)
async def test_invalid_keys_are_refused(api: Api, key: str | bytes) -> None:
    response = await post(api, key, variables=lead_input(), headers={"x-request-id": "r1"})
    assert response.status_code == 400
    assert error_code(response) == "BAD_REQUEST"
    assert "Idempotency-Key" in response.json()["errors"][0]["message"]
    assert response.headers["x-request-id"] == "r1"
    assert await lead_count(api) == 0


async def test_two_keys_in_one_request_are_refused(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": CREATE_LEAD, "variables": lead_input()},
        headers=[
            ("authorization", f"Bearer {api.token}"),
            ("idempotency-key", "a"),
            ("idempotency-key", "b"),
        ],
    )
    assert response.status_code == 400
    assert error_code(response) == "BAD_REQUEST"
    assert await lead_count(api) == 0


async def test_a_mutation_that_did_not_validate_is_not_stored(api: Api, database: Database) -> None:
    key = new_key()
    broken = await post(api, key, CREATE_LEAD.replace("title", "titel", 1), lead_input())
    assert broken.json()["errors"]
    assert await record_state(database, key) is None
    # the corrected request with the same key is a new request, not a reuse
    fixed = await post(api, key, variables=lead_input())
    assert fixed.json()["data"]["createLead"]["errors"] == []
    assert await lead_count(api) == 1


async def test_a_body_the_endpoint_refuses_is_not_claimed(api: Api, database: Database) -> None:
    key = new_key()
    response = await api.client.post(
        "/graphql",
        content=json.dumps({"query": CREATE_LEAD, "variables": lead_input()}),
        headers={
            "authorization": f"Bearer {api.token}",
            "idempotency-key": key,
            "content-type": "text/plain",
        },
    )
    assert response.status_code == 415
    assert await record_state(database, key) is None
    assert await lead_count(api) == 0


async def test_a_body_over_the_limit_goes_to_the_endpoint_unread(
    database: Database, settings: Settings
) -> None:
    received: list[bytes] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        more = True
        while more:
            message = await receive()
            received.append(message.get("body", b""))
            more = message.get("more_body", False)
        await JSONResponse({"errors": [{"message": "too large"}]}, 413)(scope, receive, send)

    small = settings.model_copy(update={"max_body_bytes": 1024})
    key = new_key()
    body = json.dumps({"query": CREATE_LEAD, "variables": lead_input("x" * 5000)}).encode()

    async def chunked() -> Any:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    app = IdempotencyMiddleware(endpoint, database=database, settings=small)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/graphql",
            content=chunked(),
            headers={
                "authorization": f"Bearer {fake_token()}",
                "idempotency-key": key,
                "content-type": "application/json",
            },
        )
    assert response.status_code == 413
    assert b"".join(received) == body
    assert await record_state(database, key) is None


async def post_persisted(
    api: Api, key: str, query: str, variables: dict[str, Any], *, with_text: bool
) -> httpx.Response:
    sha256 = hashlib.sha256(query.encode()).hexdigest()
    body: dict[str, Any] = {
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}},
    }
    if with_text:
        body["query"] = query
    return await api.client.post(
        "/graphql",
        json=body,
        headers={"authorization": f"Bearer {api.token}", "idempotency-key": key},
    )


async def test_a_persisted_mutation_is_one_request_by_hash_or_by_text(
    api: Api, database: Database
) -> None:
    mutation = CREATE_LEAD + "\n# persisted " + uuid.uuid4().hex
    key = new_key()
    # Apollo's protocol: the hash alone is unknown, and that is no outcome...
    unknown = await post_persisted(api, key, mutation, lead_input(), with_text=False)
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert await record_state(database, key) is None
    # ...so the hash with its text runs, under the same key
    first = await post_persisted(api, key, mutation, lead_input(), with_text=True)
    assert first.json()["data"]["createLead"]["errors"] == []
    # and a retry by hash alone, or as plain text, is the same request
    by_hash = await post_persisted(api, key, mutation, lead_input(), with_text=False)
    by_text = await post(api, key, mutation, lead_input())
    for retry in (by_hash, by_text):
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.content == first.content
    other = await post_persisted(api, key, mutation, lead_input("Other"), with_text=False)
    assert other.status_code == 422
    assert await lead_count(api) == 1

    # A known hash alone is a mutation like its text.
    second_key = new_key()
    again = await post_persisted(api, second_key, mutation, lead_input(), with_text=False)
    assert again.json()["data"]["createLead"]["errors"] == []
    assert "idempotent-replayed" not in again.headers
    by_text = await post(api, second_key, mutation, lead_input())
    assert by_text.headers["idempotent-replayed"] == "true"
    assert await lead_count(api) == 2


async def test_a_persisted_query_ignores_the_header(api: Api, database: Database) -> None:
    query = COUNT_LEADS + "\n# persisted " + uuid.uuid4().hex
    key = new_key()
    await post_persisted(api, key, query, {}, with_text=True)
    for _ in range(2):
        response = await post_persisted(api, key, query, {}, with_text=False)
        assert response.json()["data"]["leads"]["totalCount"] == 0
        assert "idempotent-replayed" not in response.headers
    assert await record_state(database, key) is None


async def test_a_key_of_the_longest_length_is_accepted(api: Api) -> None:
    key = "k" * 255
    await post(api, key, variables=lead_input())
    assert (await post(api, key, variables=lead_input())).headers["idempotent-replayed"] == "true"


async def test_keys_are_per_api_key(api: Api, database: Database) -> None:
    async with unit_of_work(database, workspace_id=None) as session:
        created = await workspace_service.create_api_key(
            session,
            workspace_id=api.workspace_id,  # type: ignore[arg-type]
            name="integration",
            scopes=[KeyScope.WRITE],
            member_id=None,
            expires_at=None,
        )
    other = api.as_key(created.token)
    key = new_key()

    await post(api, key, variables=lead_input("One"))
    second = await post(other, key, variables=lead_input("One"))
    third = await post(other, key, variables=lead_input("One"))

    assert "idempotent-replayed" not in second.headers
    assert third.headers["idempotent-replayed"] == "true"
    assert await lead_count(api) == 2


# --- concurrency ------------------------------------------------------------------------------


async def test_concurrent_requests_with_the_same_key_run_once(api: Api) -> None:
    key = new_key()
    responses = await asyncio.gather(*(post(api, key, variables=lead_input()) for _ in range(8)))

    assert {response.status_code for response in responses} <= {200, 409}
    originals = [
        r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers
    ]
    assert len(originals) == 1
    for response in responses:
        if response.status_code == 200:
            assert response.content == originals[0].content
        else:
            assert error_code(response) == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert await lead_count(api) == 1


async def test_a_retry_while_the_first_runs_is_told_it_is_in_progress(
    api: Api, database: Database
) -> None:
    key = new_key()
    async with database.engine.begin() as blocker:
        # Hold the first request inside its mutation: inserting a lead waits for this lock.
        await blocker.execute(text("LOCK TABLE leads IN EXCLUSIVE MODE"))
        first = asyncio.create_task(post(api, key, variables=lead_input()))
        for _ in range(200):
            if await record_state(database, key) == "IN_PROGRESS":
                break
            await asyncio.sleep(0.01)
        assert await record_state(database, key) == "IN_PROGRESS"

        retries = await asyncio.gather(*(post(api, key, variables=lead_input()) for _ in range(3)))

        assert not first.done()
    for retry in retries:
        assert retry.status_code == 409
        assert error_code(retry) == "IDEMPOTENCY_KEY_IN_PROGRESS"
        assert retry.headers["retry-after"] == "1"
    assert (await first).status_code == 200
    later = await post(api, key, variables=lead_input())
    assert later.headers["idempotent-replayed"] == "true"
    assert later.content == (await first).content
    assert await lead_count(api) == 1


async def test_an_abandoned_claim_is_taken_over(api: Api, database: Database) -> None:
    key = new_key()
    await post(api, key, variables=lead_input())
    # As if the request had died while running: in progress, its lock still held.
    await execute(
        database,
        "UPDATE idempotency_records SET state = 'IN_PROGRESS', status_code = NULL,"
        " headers = NULL, body = NULL, locked_until = now() + interval '1 minute' WHERE key = :k",
        k=key,
    )
    assert (await post(api, key, variables=lead_input())).status_code == 409
    # another body is still refused while it is in progress
    assert (await post(api, key, variables=lead_input("Other"))).status_code == 422

    # Once its lock has lapsed, the retry runs.
    await execute(
        database,
        "UPDATE idempotency_records SET locked_until = now() - interval '1 second' WHERE key = :k",
        k=key,
    )
    retry = await post(api, key, variables=lead_input())
    assert retry.status_code == 200
    assert "idempotent-replayed" not in retry.headers
    assert await record_state(database, key) == "COMPLETED"
    assert await lead_count(api) == 2


# --- expiry -----------------------------------------------------------------------------------


async def test_an_expired_key_counts_as_absent(api: Api, database: Database) -> None:
    key = new_key()
    await post(api, key, variables=lead_input("One"))
    await execute(
        database,
        "UPDATE idempotency_records SET expires_at = now() - interval '1 second' WHERE key = :k",
        k=key,
    )

    again = await post(api, key, variables=lead_input("One"))
    assert again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert await lead_count(api) == 2
    # and the new record lasts the configured TTL again
    async with database.engine.connect() as connection:
        ttl = await connection.scalar(
            text("SELECT expires_at - created_at FROM idempotency_records WHERE key = :k"),
            {"k": key},
        )
    assert ttl.total_seconds() == 24 * 3600

    await execute(
        database,
        "UPDATE idempotency_records SET expires_at = now() - interval '1 second' WHERE key = :k",
        k=key,
    )
    other_body = await post(api, key, variables=lead_input("Two"))
    assert other_body.status_code == 200
    assert await lead_count(api) == 3


async def test_expired_records_are_purged(api: Api, database: Database) -> None:
    await execute(
        database,
        "INSERT INTO idempotency_records (token_hash, key, request_hash, state, claim_id,"
        " locked_until, expires_at) VALUES (:t, 'old', :t, 'IN_PROGRESS', :c,"
        " now() - interval '2 days', now() - interval '1 day')",
        t=hashlib.sha256(uuid.uuid4().bytes).digest(),
        c=uuid.uuid4(),
    )
    await post(api, new_key(), variables=lead_input())
    async with database.engine.connect() as connection:
        expired = await connection.scalar(
            text("SELECT count(*) FROM idempotency_records WHERE expires_at <= now()")
        )
    assert expired == 0


# --- which outcomes are stored, and the claim's heartbeat -------------------------------------

Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]


def scripted(statuses: list[int], delay: float = 0.0) -> tuple[Endpoint, list[int]]:
    """An endpoint answering with the given statuses in turn, and the list of calls it ran."""
    calls: list[int] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        calls.append(len(calls))
        await asyncio.sleep(delay)
        status = statuses[min(len(calls) - 1, len(statuses) - 1)]
        body = json.dumps({"data": {"call": len(calls)}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"x-extra", b"1")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return endpoint, calls


async def client_of(
    endpoint: Endpoint, database: Database, settings: Settings, lock_seconds: float = 30.0
) -> httpx.AsyncClient:
    app = IdempotencyMiddleware(
        endpoint, database=database, settings=settings, lock_seconds=lock_seconds
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def fake_token() -> str:
    """A token of the API's format (these endpoints are stand-ins: nothing checks it)."""
    return api_keys.format_token(uuid.uuid4(), uuid.uuid4(), api_keys.new_secret())


async def send_mutation(client: httpx.AsyncClient, key: str, token: str) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": CREATE_LEAD, "variables": lead_input()},
        headers={"authorization": f"Bearer {token}", "idempotency-key": key},
    )


@pytest.mark.parametrize(
    ("status", "stored"),
    [
        (200, True),
        (201, True),
        (400, False),
        (401, False),
        (403, False),
        (413, False),
        (429, False),
        (500, False),
        (503, False),
    ],
)
async def test_only_2xx_responses_are_stored(
    database: Database, settings: Settings, status: int, stored: bool
) -> None:
    endpoint, calls = scripted([status, 200])
    token, key = fake_token(), new_key()
    async with await client_of(endpoint, database, settings) as client:
        first = await send_mutation(client, key, token)
        retry = await send_mutation(client, key, token)
    assert first.status_code == status
    if stored:
        assert len(calls) == 1
        assert retry.status_code == status
        assert retry.content == first.content
        assert retry.headers["x-extra"] == "1"
        assert retry.headers["idempotent-replayed"] == "true"
    else:
        assert len(calls) == 2
        assert retry.status_code == 200
        assert "idempotent-replayed" not in retry.headers


def error(path: list[str] | None, code: str = "TIMEOUT") -> dict[str, Any]:
    return {"message": "m", "path": path, "extensions": {"code": code}}


@pytest.mark.parametrize(
    ("body", "single_root_field", "ran"),
    [
        ({"data": {"createLead": {"lead": None, "errors": [{"code": "VALIDATION"}]}}}, True, True),
        ({"data": {"createLead": {"lead": {"id": "1"}, "errors": []}}}, True, True),
        # request errors: nothing ran (parsing, validation, limits, an unknown persisted query)
        ({"errors": [error(None, "GRAPHQL_VALIDATION_FAILED")]}, True, False),
        ({"data": None, "errors": [error(None)]}, False, False),
        # the root mutation's resolver failed: its transaction was rolled back
        ({"data": None, "errors": [error(["createLead"])]}, True, False),
        ({"data": {"createLead": None}, "errors": [error(["createLead"])]}, True, False),
        # the resolver returned (committed), a field below it failed
        ({"data": None, "errors": [error(["createLead", "lead", "stage"])]}, True, True),
        # several root mutations: an earlier one may have committed
        ({"data": None, "errors": [error(["second"])]}, False, True),
        (
            {"data": {"first": {"id": "1"}, "second": None}, "errors": [error(["second"])]},
            False,
            True,
        ),
    ],
)
def test_which_outcomes_mean_the_mutation_ran(
    body: dict[str, Any], single_root_field: bool, ran: bool
) -> None:
    encoded = json.dumps(body).encode()
    assert mutation_ran(200, encoded, single_root_field=single_root_field) is ran


async def test_a_rolled_back_mutation_is_not_stored(database: Database, settings: Settings) -> None:
    calls: list[int] = []

    async def timing_out(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        calls.append(1)
        result: dict[str, Any] = (
            {"data": None, "errors": [error(["createLead"])]}
            if len(calls) == 1
            else {"data": {"createLead": {"lead": {"id": "1"}}}}
        )
        response = JSONResponse(result)
        await response(scope, receive, send)

    token, key = fake_token(), new_key()
    async with await client_of(timing_out, database, settings) as client:
        first = await send_mutation(client, key, token)
        retry = await send_mutation(client, key, token)
        replay = await send_mutation(client, key, token)
    assert first.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert retry.json()["data"]["createLead"]["lead"] == {"id": "1"}
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(calls) == 2


async def test_a_failing_endpoint_releases_its_claim(
    database: Database, settings: Settings
) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    key = new_key()
    async with await client_of(broken, database, settings) as client:
        with pytest.raises(RuntimeError):
            await send_mutation(client, key, fake_token())
    assert await record_state(database, key) is None


async def test_a_slow_request_keeps_its_claim(database: Database, settings: Settings) -> None:
    endpoint, calls = scripted([200], delay=1.2)
    token, key = fake_token(), new_key()
    async with await client_of(endpoint, database, settings, lock_seconds=0.3) as client:
        first = asyncio.create_task(send_mutation(client, key, token))
        await asyncio.sleep(0.9)  # three times the lock: only the heartbeat keeps it
        retry = await send_mutation(client, key, token)
        assert retry.status_code == 409
        assert (await first).status_code == 200
    assert len(calls) == 1


async def test_a_token_that_cannot_be_a_key_claims_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": CREATE_LEAD, "variables": lead_input()},
        headers={"authorization": "Bearer not-a-key", "idempotency-key": "k-not-a-key"},
    )
    assert response.status_code == 401
    assert await record_state(database, "k-not-a-key") is None
