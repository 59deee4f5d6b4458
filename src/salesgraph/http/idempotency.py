"""Idempotency keys: a mutation request with an `Idempotency-Key` header runs at most once.

An ASGI middleware in front of the GraphQL endpoint. It acts on POST requests with an
`Idempotency-Key` header, a bearer token and an application/json body whose operation
(respecting `operationName`; a persisted query's too) is a mutation; everything else passes
through untouched, queries included, and bodies the endpoint refuses (415, 413) reach it unread.

A record is identified by (SHA-256 of the bearer token, key): only the holder of a token can
reach its records, so the middleware needs no authentication of its own and the table is not
a tenant table (no workspace, no row-level security). The endpoint still authenticates the
request as usual; its 401 is not stored.

1. Claim: one `INSERT ... ON CONFLICT DO UPDATE ... WHERE` in its own short transaction inserts
   an IN_PROGRESS row, or overwrites a row that has expired (created more than the TTL ago) or
   whose claim was abandoned (IN_PROGRESS past `locked_until`, same request). PostgreSQL
   serializes conflicting inserts on the primary key, so exactly one of any number of concurrent
   requests wins the claim.
2. Otherwise the existing row answers: COMPLETED with the same request hash: the stored status,
   headers and body, with `Idempotent-Replayed: true`; another request hash: 422
   IDEMPOTENCY_KEY_REUSED; IN_PROGRESS: 409 IDEMPOTENCY_KEY_IN_PROGRESS with `Retry-After`.
3. The winner runs the endpoint while a heartbeat keeps extending `locked_until`, so a slow
   request is never taken over while its process is alive; a dead process's claim lapses after
   LOCK_SECONDS. The response is held until it is stored, then sent: a client that has seen a
   response gets it replayed.
4. Stored: 2xx responses of a mutation that ran, payload errors included (`mutation_ran`). Not
   stored, the claim released so that a retry runs: other statuses, responses saying that the
   mutation did not run or was rolled back, and an endpoint that raised.

Expired rows are purged opportunistically (at most once a minute per process, in batches).
The response is stored after the mutation's own transaction committed: if the process dies in
that instant, the claim lapses and a retry runs the mutation again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import anyio
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from sqlalchemy import Table, and_, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesgraph.db.engine import Database
from salesgraph.graphql.persisted import PersistedQueries, PersistedQueryError
from salesgraph.http.idempotency_models import COMPLETED, IN_PROGRESS, IdempotencyRecord
from salesgraph.settings import Settings
from salesgraph.workspaces import api_keys

logger = logging.getLogger("salesgraph.http.idempotency")

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
REQUEST_ID_HEADER = "x-request-id"
LOCK_SECONDS = 30.0  # a claim lapses this long after its last heartbeat
RETRY_AFTER_SECONDS = 1
PURGE_INTERVAL_SECONDS = 60.0
PURGE_BATCH = 1000
CLAIM_ATTEMPTS = 5
# Headers that describe one transmission, not the response: never stored or replayed.
UNSTORED_HEADERS = frozenset(
    {"date", "server", "set-cookie", "connection", "keep-alive", "transfer-encoding"}
)

RECORDS = cast("Table", IdempotencyRecord.__table__)

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

PURGE = text(
    """
    DELETE FROM idempotency_records
    WHERE expires_at <= now() AND (token_hash, key) IN (
        SELECT token_hash, key FROM idempotency_records
        WHERE expires_at <= now()
        ORDER BY expires_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    )
    """
)


# --- the request ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Analysed:
    """A mutation request: the hash of its canonical form, and whether it has one root field."""

    request_hash: bytes
    single_root_field: bool


@functools.lru_cache(maxsize=256)
def _operation(
    query: str, operation_name: str | None, max_tokens: int
) -> tuple[OperationType, bool] | None:
    """The type of the operation the request runs and whether it selects one root field.

    None when the document cannot run (the endpoint will say why).
    """
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [
            o for o in operations if o.name is not None and o.name.value == operation_name
        ]
    if len(operations) != 1:
        return None
    selections = operations[0].selection_set.selections
    return operations[0].operation, len(selections) == 1 and isinstance(selections[0], FieldNode)


def is_json(content_type: str | None) -> bool:
    """The endpoint's only accepted body: application/json in UTF-8 (others get its 415)."""
    media_type, _, parameters = (content_type or "").partition(";")
    charsets = [
        value.strip().strip('"').lower()
        for name, _, value in (p.partition("=") for p in parameters.split(";"))
        if name.strip().lower() == "charset"
    ]
    return media_type.strip().lower() == "application/json" and charsets in ([], ["utf-8"])


def analyse(
    body: bytes, *, max_tokens: int, persisted: PersistedQueries | None = None
) -> Analysed | None:
    """The request when it is a JSON GraphQL request for a mutation; None for anything else.

    Canonical form: `{"operationName", "queryHash", "variables"}` as JSON with sorted keys and no
    whitespace, where queryHash is the SHA-256 of the query text (a persisted query's hash when
    only that is sent): JSON formatting and key order do not matter, and a persisted query sent
    by hash and then with its text (Apollo's protocol) is one request. A hash the server does
    not know yet may name a mutation, so it is treated as one.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # malformed, not UTF-8, or nested beyond the parser
        return None
    if not isinstance(payload, dict):
        return None
    query, operation_name = payload.get("query"), payload.get("operationName")
    variables, extensions = payload.get("variables"), payload.get("extensions")
    if not (operation_name is None or isinstance(operation_name, str)):
        return None
    if not (variables is None or isinstance(variables, dict)):
        return None
    if isinstance(query, str):
        query_hash = hashlib.sha256(query.encode()).hexdigest()
    elif query is None and isinstance(extensions, dict):
        persisted_query = extensions.get("persistedQuery")
        sha256 = persisted_query.get("sha256Hash") if isinstance(persisted_query, dict) else None
        if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
            return None
        query_hash = sha256.lower()
        if persisted is not None:
            try:
                query = persisted.resolve(None, extensions).query
            except PersistedQueryError as error:
                if error.code != "PERSISTED_QUERY_NOT_FOUND":
                    return None
    else:
        return None
    if query is None:
        single_root_field = False  # unknown yet
    else:
        operation = _operation(query, operation_name, max_tokens)
        if operation is None or operation[0] is not OperationType.MUTATION:
            return None
        single_root_field = operation[1]
    canonical = json.dumps(
        {"operationName": operation_name, "queryHash": query_hash, "variables": variables or {}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return Analysed(hashlib.sha256(canonical.encode()).digest(), single_root_field)


def mutation_ran(status: int, body: bytes, *, single_root_field: bool) -> bool:
    """Whether a response is the outcome of a mutation that ran, and so is stored.

    Not: a status other than 2xx (refused before running: 4xx; failed: 5xx), and a 2xx whose
    errors all say that nothing ran (request errors, which have no path: parsing, validation,
    limits, an unknown persisted query) or that the one root mutation field's resolver failed
    (its transaction was rolled back: a timeout, an unexpected fault), with no root field
    answered. Everything else ran: a payload with payload errors, and field errors beside data.
    """
    if not 200 <= status < 300:
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return True
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not errors or not isinstance(errors, list):
        return True
    data = payload.get("data")
    if isinstance(data, dict) and any(value is not None for value in data.values()):
        return True
    paths = [error.get("path") if isinstance(error, dict) else None for error in errors]
    if any(isinstance(path, list) and len(path) > 1 for path in paths):
        return True  # a resolver returned (and committed); a field below it failed
    # With several root mutation fields, an earlier one may have committed.
    return not single_root_field and any(paths)


def valid_key(key: str, max_length: int) -> bool:
    """1 to max_length printable ASCII characters."""
    return 0 < len(key) <= max_length and all(" " <= char <= "~" for char in key)


def _bearer_token(headers: Headers) -> str | None:
    header = headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    # Only a token of the API's format can be a key: anything else gets its 401 from the view
    # without a record being claimed for it.
    return token.strip() if api_keys.parse_token(token.strip()) is not None else None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The whole request body, and a receive that hands it to the endpoint again.

    The body is None when it is larger than `limit` (the endpoint refuses it with 413) or the
    client disconnected; the receive then replays what was read and goes on.
    """
    chunks: list[Message] = []
    size = 0
    complete = False
    while not complete:
        message = await receive()
        chunks.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > limit:
            break
        complete = not message.get("more_body", False)

    async def replay() -> Message:
        if chunks:
            return chunks.pop(0)
        return await receive()

    if not complete:
        return None, replay
    body = b"".join(message.get("body", b"") for message in chunks)
    chunks[:] = [{"type": "http.request", "body": body, "more_body": False}]
    return body, replay


# --- the records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    token_hash: bytes
    key: str
    request_hash: bytes
    claim_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def owned(self) -> Any:
        return and_(
            RECORDS.c.token_hash == self.token_hash,
            RECORDS.c.key == self.key,
            RECORDS.c.claim_id == self.claim_id,
        )


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Reused:
    """The key was used with another request."""


class InProgress:
    """Another request holds the key's claim."""


ClaimOutcome = Claim | StoredResponse | Reused | InProgress


async def _try_claim(
    connection: AsyncConnection, claim: Claim, *, lock: timedelta, ttl: timedelta
) -> ClaimOutcome | None:
    now = func.now()
    new = insert(RECORDS).values(
        token_hash=claim.token_hash,
        key=claim.key,
        request_hash=claim.request_hash,
        state=IN_PROGRESS,
        claim_id=claim.claim_id,
        created_at=now,
        locked_until=now + lock,
        expires_at=now + ttl,
    )
    existing = RECORDS.c
    claimed = await connection.scalar(
        new.on_conflict_do_update(
            index_elements=[existing.token_hash, existing.key],
            set_={
                "request_hash": new.excluded.request_hash,
                "state": IN_PROGRESS,
                "claim_id": new.excluded.claim_id,
                "status_code": None,
                "headers": None,
                "body": None,
                "created_at": new.excluded.created_at,
                "locked_until": new.excluded.locked_until,
                "expires_at": new.excluded.expires_at,
            },
            # Expired rows count as absent; an abandoned claim on the same request is taken over.
            where=or_(
                existing.expires_at <= now,
                and_(
                    existing.state == IN_PROGRESS,
                    existing.locked_until <= now,
                    existing.request_hash == new.excluded.request_hash,
                ),
            ),
        ).returning(existing.claim_id)
    )
    if claimed == claim.claim_id:
        return claim
    row = (
        await connection.execute(
            select(
                existing.state,
                existing.request_hash,
                existing.status_code,
                existing.headers,
                existing.body,
            ).where(
                existing.token_hash == claim.token_hash,
                existing.key == claim.key,
                existing.expires_at > now,
            )
        )
    ).one_or_none()
    if row is None:
        return None  # released or expired in between: try again
    if row.request_hash != claim.request_hash:
        return Reused()
    if row.state == COMPLETED:
        return StoredResponse(row.status_code, [(n, v) for n, v in row.headers], row.body)
    return InProgress()


# --- the middleware ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Response:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    sent: bool = False


class IdempotencyMiddleware:
    """Runs a mutation request with an Idempotency-Key at most once per (API key, key)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        database: Database,
        settings: Settings,
        persisted_queries: PersistedQueries | None = None,
        lock_seconds: float = LOCK_SECONDS,
    ) -> None:
        self.app = app
        self.database = database
        # Resolves a query sent as a persisted query's hash alone; by default the endpoint's.
        found = persisted_queries or getattr(app, "persisted_queries", None)
        self.persisted = found if isinstance(found, PersistedQueries) else None
        self.ttl = timedelta(hours=settings.idempotency_ttl_hours)
        self.max_key_length = settings.idempotency_key_max_length
        self.max_tokens = settings.query_max_tokens
        self.max_body_bytes = settings.max_body_bytes
        self.lock = timedelta(seconds=lock_seconds)
        self._next_purge = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        keys = headers.getlist(HEADER)
        token = _bearer_token(headers)
        declared = headers.get("content-length", "")
        if (
            not keys
            or token is None
            or not is_json(headers.get("content-type"))
            or (declared.isdigit() and int(declared) > self.max_body_bytes)
        ):
            await self.app(scope, receive, send)  # the endpoint runs it, or refuses it
            return
        body, receive = await _read_body(receive, self.max_body_bytes)
        request = None
        if body is not None:
            request = analyse(body, max_tokens=self.max_tokens, persisted=self.persisted)
        if request is None:
            await self.app(scope, receive, send)
            return
        request_id = (headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex)[:64]
        if len(keys) != 1 or not valid_key(keys[0], self.max_key_length):
            await _error(
                400,
                f"Send one Idempotency-Key header of 1 to {self.max_key_length} printable "
                "ASCII characters.",
                "BAD_REQUEST",
                request_id,
            )(scope, receive, send)
            return
        claim = Claim(hashlib.sha256(token.encode()).digest(), keys[0], request.request_hash)
        try:
            outcome = await self._claim(claim)
        except Exception:
            logger.exception("cannot claim an idempotency key (request %s)", request_id)
            await _error(
                500,
                f"Internal server error. Request id: {request_id}",
                "INTERNAL_SERVER_ERROR",
                request_id,
            )(scope, receive, send)
            return
        if isinstance(outcome, Claim):
            await self._run(outcome, request, scope, receive, send)
        elif isinstance(outcome, StoredResponse):
            await _replay(outcome, headers.get(REQUEST_ID_HEADER), send)
        elif isinstance(outcome, Reused):
            await _error(
                422,
                "This Idempotency-Key was already used with a different request; "
                "use a new key for a new request.",
                "IDEMPOTENCY_KEY_REUSED",
                request_id,
            )(scope, receive, send)
        else:
            await _error(
                409,
                "A request with this Idempotency-Key is still in progress; retry after it has "
                "finished to get its response.",
                "IDEMPOTENCY_KEY_IN_PROGRESS",
                request_id,
                {"retry-after": str(RETRY_AFTER_SECONDS)},
            )(scope, receive, send)
        await self._maybe_purge()

    async def _claim(self, claim: Claim) -> ClaimOutcome:
        for _ in range(CLAIM_ATTEMPTS):
            async with self.database.engine.begin() as connection:
                outcome = await _try_claim(connection, claim, lock=self.lock, ttl=self.ttl)
            if outcome is not None:
                return outcome
        return InProgress()  # the key keeps changing hands; the client retries

    async def _run(
        self, claim: Claim, request: Analysed, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the endpoint under the claim; store or release, then send its response."""
        response = _Response()

        async def store_then_send(message: Message) -> None:
            if response.sent:  # e.g. trailers
                await send(message)
            elif message["type"] == "http.response.start":
                response.status = message["status"]
                response.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                response.chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(response.chunks)
                heartbeat.cancel()
                if mutation_ran(response.status, body, single_root_field=request.single_root_field):
                    await self._store(claim, response.status, response.headers, body)
                else:
                    await self._release(claim)
                response.sent = True
                # Sent once stored: whoever has seen a response gets it again on a retry. The
                # endpoint may go on (background tasks) without holding the response back.
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status,
                        "headers": response.headers,
                    }
                )
                await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        # Its own scope: cancelling the task group's would cancel the endpoint too.
        heartbeat = anyio.CancelScope()

        async def keep() -> None:
            with heartbeat:
                await self._keep(claim)

        failure: Exception | None = None
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(keep)
            try:
                await self.app(scope, receive, store_then_send)
            except Exception as error:
                failure = error
            finally:
                heartbeat.cancel()
                if not response.sent:  # it failed or never answered: a retry runs
                    with anyio.CancelScope(shield=True):
                        await self._release(claim)
        if failure is not None:
            raise failure

    async def _keep(self, claim: Claim) -> None:
        """Extend the claim while the request runs, so that it is not taken over."""
        while True:
            await anyio.sleep(self.lock.total_seconds() / 3)
            try:
                async with self.database.engine.begin() as connection:
                    await connection.execute(
                        update(RECORDS)
                        .where(claim.owned(), RECORDS.c.state == IN_PROGRESS)
                        .values(locked_until=func.now() + self.lock)
                    )
            except Exception:
                logger.warning("cannot extend an idempotency claim", exc_info=True)

    async def _store(
        self, claim: Claim, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        kept = [
            [name.decode("latin-1"), value.decode("latin-1")]
            for name, value in headers
            if name.decode("latin-1").lower() not in UNSTORED_HEADERS
        ]
        try:
            async with self.database.engine.begin() as connection:
                await connection.execute(
                    update(RECORDS)
                    .where(claim.owned())
                    .values(
                        state=COMPLETED,
                        status_code=status,
                        headers=kept,
                        body=body,
                        locked_until=func.now(),
                    )
                )
        except Exception:  # the response is sent anyway; a retry after the lock runs again
            logger.exception("cannot store an idempotent response")

    async def _release(self, claim: Claim) -> None:
        try:
            async with self.database.engine.begin() as connection:
                await connection.execute(delete(RECORDS).where(claim.owned()))
        except Exception:  # the claim lapses after the lock
            logger.exception("cannot release an idempotency claim")

    async def _maybe_purge(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
        try:
            async with self.database.engine.begin() as connection:
                await connection.execute(PURGE, {"batch": PURGE_BATCH})
        except Exception:
            logger.warning("cannot purge expired idempotency records", exc_info=True)


def _error(
    status: int,
    message: str,
    code: str,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers={REQUEST_ID_HEADER: request_id, **(headers or {})},
    )


async def _replay(stored: StoredResponse, request_id: str | None, send: Send) -> None:
    headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in stored.headers
        if not (request_id and name.lower() == REQUEST_ID_HEADER)
    ]
    if request_id:
        headers.append((REQUEST_ID_HEADER.encode(), request_id[:64].encode("latin-1")))
    headers.append((REPLAYED_HEADER.encode(), b"true"))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})
