"""GraphQL over HTTP: transport, authentication, persisted queries, timeouts, request ids.

The endpoint follows the GraphQL-over-HTTP specification.

- Media types: a response is `application/json` (also when Accept is missing or `*/*`) or
  `application/graphql-response+json` when the Accept header prefers it. An Accept that names
  neither gets 406, except a browser's (it names text/html), which gets `application/json`.
- Status codes with `application/graphql-response+json`: 200 when the operation executed (the
  body has `data`, even with field errors), 400 for a request error (the document does not
  parse or validate, its variables do not fit; the body has no `data`). With `application/json`
  both come with 200, as before. Under both: 400 for a body that is not a GraphQL request, 401
  without a valid API key, 405 for a method other than GET and POST and for a mutation over GET
  (`Allow: POST`), 413 for a body over `max_body_bytes` (counted while reading), 415 for a POST
  that is not `application/json` — forms and text/plain are what a browser sends across origins
  without asking first, so refusing them is the CSRF protection — and 504 when the request
  outlives `request_timeout_seconds`. A status that a resolver or an extension sets on the
  context's response (429) passes through. Persisted-query errors: see graphql/persisted.py.
- GET runs queries only; a browser's GET without a query gets GraphiQL.
- Every transaction of the server's engine starts with `SET LOCAL statement_timeout`, so the
  limit ends with the transaction and never travels with a pooled connection. A statement the
  database cancels (SQLSTATE 57014) surfaces as a GraphQL error with code TIMEOUT: a field of
  a query is null with the error; a mutation's transaction is rolled back and the mutation gets
  a top-level TIMEOUT error (not a payload error: nothing about its input was wrong).

Every request resolves to (workspace, principal, scopes) here, once. A request without a valid
API key gets 401 with an UNAUTHENTICATED error, except an introspection-only request when public
introspection is on (so GraphiQL can show the documented schema) and a browser's GET for
GraphiQL itself. Authentication comes before the content type is judged: without a key, a
refused request learns nothing else. Every response carries the request id (`x-request-id`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.graphql.context import Context
from salesgraph.graphql.persisted import PersistedQueries, PersistedQueryError
from salesgraph.settings import Settings
from salesgraph.workspaces import service as workspace_service

logger = logging.getLogger("salesgraph.http")

REQUEST_ID_HEADER: Final = "x-request-id"
JSON: Final = "application/json"
GRAPHQL_RESPONSE_JSON: Final = "application/graphql-response+json"
QUERY_CANCELED: Final = "57014"  # SQLSTATE of a statement cancelled by statement_timeout

_QUERIES = frozenset({OperationType.QUERY})
_QUERIES_AND_MUTATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class AuthenticationFailedError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RequestError(Exception):
    """A request refused before it could execute: one coded error and its HTTP status.

    `status` applies to `application/graphql-response+json`, `json_status` to
    `application/json` (the same unless said otherwise).
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "BAD_REQUEST",
        *,
        json_status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.json_status = status if json_status is None else json_status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})

    def response(self, media_type: str) -> Response:
        status = self.status if media_type == GRAPHQL_RESPONSE_JSON else self.json_status
        return error_response(status, self.message, self.code, media_type, self.headers)


class StatementTimeoutError(GraphQLError):
    """A statement that the database cancelled after the statement timeout.

    A GraphQL error (not a masked fault): it reaches the client with the code TIMEOUT.
    """

    def __init__(self, milliseconds: int):
        super().__init__(
            f"A database statement ran longer than {milliseconds} ms and was cancelled.",
            extensions={"code": "TIMEOUT"},
        )


def database_unavailable(error: BaseException) -> bool:
    """Whether an error means the database cannot be reached (rather than a bug)."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, PoolTimeoutError | OSError | asyncio.TimeoutError):
        return True
    cause = getattr(error, "orig", None) or error.__cause__
    return isinstance(cause, OSError | asyncio.TimeoutError | ConnectionError)


def error_response(
    status: int,
    message: str,
    code: str,
    media_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    all_headers = dict(headers or {})
    if status == 401:
        all_headers["www-authenticate"] = 'Bearer realm="salesgraph"'
    return Response(
        orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}),
        status_code=status,
        media_type=media_type,
        headers=all_headers,
    )


# --- what the client accepts and sent ------------------------------------------------------


def negotiate_media_type(accept: str | None) -> str | None:
    """The response media type the Accept header prefers; None when it accepts neither.

    The q-value of the most specific matching range counts. Equal preference goes to
    `application/graphql-response+json` when it is named, otherwise to `application/json`.
    """
    if accept is None or not accept.strip():
        return JSON
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media_range, *parameters = part.split(";")
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media_range.strip().lower(), quality))

    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for candidate in (JSON, GRAPHQL_RESPONSE_JSON):
        kind = candidate.split("/")[0]
        matches = [
            (specificity, quality)
            for media_range, quality in ranges
            for specificity, pattern in ((2, candidate), (1, f"{kind}/*"), (0, "*/*"))
            if media_range == pattern
        ]
        if not matches:
            continue
        specificity, quality = max(matches)
        if quality <= 0:
            continue
        named_first = (candidate == GRAPHQL_RESPONSE_JSON) == (specificity == 2)
        key = (quality, specificity, int(named_first))
        if best is None or key > best:
            best, chosen = key, candidate
    if chosen is None and "text/html" in accept:
        return JSON  # a browser showing a GET link: the specification allows the default
    return chosen


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    """The parameters of a GraphQL-over-HTTP request."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


def too_large(limit: int) -> RequestError:
    return RequestError(413, f"The request body is larger than {limit} bytes.")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large(limit)
    except ClientDisconnect:
        raise RequestError(400, "The client disconnected while sending the body.") from None
    return bytes(body)


def params_from_body(content_type: str | None, body: bytes) -> GraphQLParams:
    media_type, _, parameters = (content_type or "").partition(";")
    charset = next(
        (
            value.strip().strip('"').lower()
            for name, _, value in (p.partition("=") for p in parameters.split(";"))
            if name.strip().lower() == "charset"
        ),
        "utf-8",
    )
    if media_type.strip().lower() != JSON or charset != "utf-8":
        raise RequestError(415, "Unsupported content type: send the request as application/json.")
    try:
        # The standard library's parser, not orjson: it reads any JSON number (an integer beyond
        # 64 bits, 1e400), which the schema then refuses with a precise payload error.
        data = json.loads(body)
    except (ValueError, RecursionError):  # malformed, not UTF-8, or nested beyond the parser
        raise RequestError(400, "Unable to parse request body as JSON") from None
    if isinstance(data, list):
        raise RequestError(400, "Batching is not supported: send one operation per request.")
    if not isinstance(data, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    return _checked_params(data)


def params_from_query_string(request: Request) -> GraphQLParams:
    data: dict[str, Any] = dict(request.query_params)
    for name in ("variables", "extensions"):
        if data.get(name):
            try:
                data[name] = json.loads(data[name])
            except (ValueError, RecursionError):
                raise RequestError(400, f"Unable to parse the {name} parameter as JSON") from None
        else:
            data.pop(name, None)
    return _checked_params(data)


def _checked_params(data: dict[str, Any]) -> GraphQLParams:
    for name, kind, described in (
        ("query", str, "a string"),
        ("operationName", str, "a string"),
        ("variables", dict, "an object"),
        ("extensions", dict, "an object"),
    ):
        if data.get(name) is not None and not isinstance(data[name], kind):
            raise RequestError(
                400, f"The GraphQL operation's `{name}` must be {described} or null, if provided."
            )
    return GraphQLParams(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )


def is_request_error(result: ExecutionResult) -> bool:
    """True when the operation never executed: parsing, validation or its variables failed."""
    if isinstance(result, PreExecutionError):
        return True
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


# --- introspection without a key -------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> DocumentNode | None:
    try:
        return parse(query)
    except GraphQLError:
        return None


def is_introspection_only(query: str | None) -> bool:
    """True when every field the document selects at the root is an introspection field."""
    if not query:
        return False
    document = _parsed(query)
    if document is None:
        return False
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }

    def only_meta(selection_set: SelectionSetNode, seen: frozenset[str]) -> bool:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    return False
            elif isinstance(selection, InlineFragmentNode):
                if not only_meta(selection.selection_set, seen):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen or name not in fragments:
                    return False
                if not only_meta(fragments[name].selection_set, seen | {name}):
                    return False
        return True

    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(
        only_meta(operation.selection_set, frozenset()) for operation in operations
    )


# --- the database's statement timeout ------------------------------------------------------


def limit_statement_time(database: Database, milliseconds: int) -> None:
    """Start every transaction of the database's engine with `SET LOCAL statement_timeout`, and
    turn a statement cancelled by it into a StatementTimeoutError. Call once per engine.

    The SET goes through the driver's cursor when the transaction begins: it is one round trip
    per transaction, and not a statement of the application's (no SQLAlchemy statement events).
    """
    engine = database.engine.sync_engine
    statement = f"SET LOCAL statement_timeout = {int(milliseconds)}"

    def on_begin(connection: Connection) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()

    def on_error(context: ExceptionContext) -> BaseException | None:
        if getattr(context.original_exception, "sqlstate", None) == QUERY_CANCELED:
            return StatementTimeoutError(milliseconds)
        return None

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "handle_error", on_error)


# --- the endpoint ------------------------------------------------------------------------------


class GraphQLView:
    """The /graphql endpoint: an ASGI application."""

    def __init__(self, schema: BaseSchema, *, settings: Settings, database: Database):
        self.schema = schema
        self.settings = settings
        self.database = database
        self.persisted_queries = PersistedQueries.from_settings(settings)
        self._graphiql_html = get_graphql_ide_html("graphiql")
        if settings.statement_timeout_ms:
            limit_statement_time(database, settings.statement_timeout_ms)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a Route only passes HTTP; anything else is refused
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope=scope, receive=receive)
        request_id = (request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex)[:64]
        scope.setdefault("state", {})["request_id"] = request_id
        response = await self._respond(request, request_id)
        response.headers[REQUEST_ID_HEADER] = request_id
        await response(scope, receive, send)

    async def _respond(self, request: Request, request_id: str) -> Response:
        if request.method not in ("GET", "POST"):
            return error_response(
                405,
                "GraphQL only supports GET and POST requests.",
                "BAD_REQUEST",
                headers={"allow": "GET, POST"},
            )
        if self._wants_graphiql(request):
            return HTMLResponse(self._graphiql_html)
        media_type = negotiate_media_type(request.headers.get("accept"))
        if media_type is None:
            return error_response(
                406,
                f"Not acceptable: this endpoint responds with {GRAPHQL_RESPONSE_JSON} or {JSON}.",
                "BAD_REQUEST",
            )
        deadline = asyncio.timeout(self.settings.request_timeout_seconds)
        try:
            async with deadline:
                return await self._execute(request, request_id, media_type)
        except RequestError as error:
            return error.response(media_type)
        except AuthenticationFailedError as error:
            return error_response(401, error.message, "UNAUTHENTICATED", media_type)
        except StatementTimeoutError as error:  # while authenticating
            return error_response(504, error.message, "TIMEOUT", media_type)
        except TimeoutError as error:
            if not deadline.expired():  # not the request's deadline: connecting timed out
                return self._unavailable(error, request_id, media_type)
            logger.warning(
                "request %s cancelled after %s s", request_id, self.settings.request_timeout_seconds
            )
            return error_response(
                504,
                f"The request took longer than {self.settings.request_timeout_seconds:g} s "
                "and was cancelled.",
                "TIMEOUT",
                media_type,
            )
        except Exception as error:  # e.g. the database is unreachable while authenticating
            return self._unavailable(error, request_id, media_type)

    def _unavailable(self, error: Exception, request_id: str, media_type: str) -> Response:
        """503 when the database cannot be reached (the client may retry), else a masked 500."""
        if not database_unavailable(error):
            return self._internal_error(request_id, media_type)
        logger.warning("database unavailable (request %s): %r", request_id, error)
        return error_response(
            503,
            f"The database is unavailable; retry shortly. Request id: {request_id}",
            "DATABASE_UNAVAILABLE",
            media_type,
            {"retry-after": "1"},
        )

    def _internal_error(self, request_id: str, media_type: str) -> Response:
        logger.exception("unexpected error outside execution (request %s)", request_id)
        return error_response(
            500,
            f"Internal server error. Request id: {request_id}",
            "INTERNAL_SERVER_ERROR",
            media_type,
        )

    def _wants_graphiql(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
            and "extensions" not in request.query_params
        )

    async def _execute(self, request: Request, request_id: str, media_type: str) -> Response:
        params = await self._read_params(request)
        principal = await self._authenticate(request, params)
        if isinstance(params, RequestError):
            raise params
        try:
            resolved = self.persisted_queries.resolve(params.query, params.extensions)
        except PersistedQueryError as error:
            raise RequestError(
                error.status,
                error.message,
                error.code,
                json_status=error.json_status,
                headers={"cache-control": "private, no-cache, must-revalidate"},
            ) from None

        sub_response = Response()
        sub_response.status_code = None  # type: ignore[assignment]  # unset unless a resolver sets it
        del sub_response.headers["content-length"]
        context = Context(
            request=request,
            response=sub_response,
            settings=self.settings,
            database=self.database,
            request_id=request_id,
            principal_or_none=principal,
        )
        allowed = _QUERIES if request.method == "GET" else _QUERIES_AND_MUTATIONS
        try:
            result = await self.schema.execute(
                resolved.query,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=params.extensions,
            )
        except InvalidOperationTypeError as error:
            raise RequestError(
                405, error.as_http_error_reason(request.method), headers={"allow": "POST"}
            ) from None
        except CannotGetOperationTypeError as error:
            raise RequestError(400, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise RequestError(400, "No GraphQL query found in the request") from None

        failed = is_request_error(result)
        if principal is not None and not failed:
            self.persisted_queries.remember(resolved)
        body_data = process_result(result)
        status = 200
        if failed and media_type == GRAPHQL_RESPONSE_JSON:
            body_data.pop("data", None)
            status = 400
        response = Response(
            orjson.dumps(body_data),
            status_code=sub_response.status_code or status,
            media_type=media_type,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response

    async def _read_params(self, request: Request) -> GraphQLParams | RequestError:
        """The request's parameters, or the reason they are malformed: reported only once the
        caller is known, so that a request without a key learns nothing but 401. A body over the
        cap is refused at once."""
        if request.method == "GET":
            read = functools.partial(params_from_query_string, request)
        else:
            body = await read_body(request, self.settings.max_body_bytes)
            read = functools.partial(params_from_body, request.headers.get("content-type"), body)
        try:
            return read()
        except RequestError as error:
            return error

    async def _authenticate(
        self, request: Request, params: GraphQLParams | RequestError
    ) -> workspace_service.Principal | None:
        header = request.headers.get("authorization")
        if header is None:
            if self._may_run_without_key(params):
                return None
            raise AuthenticationFailedError(
                "An API key is required: send 'Authorization: Bearer <key>'."
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailedError("Use 'Authorization: Bearer <key>'.")
        async with unit_of_work(self.database, workspace_id=None) as session:
            principal = await workspace_service.authenticate(session, token.strip())
        if principal is None:
            raise AuthenticationFailedError("The API key is invalid, expired or revoked.")
        return principal

    def _may_run_without_key(self, params: GraphQLParams | RequestError) -> bool:
        if not self.settings.public_introspection or isinstance(params, RequestError):
            return False
        try:
            resolved = self.persisted_queries.resolve(params.query, params.extensions)
        except PersistedQueryError:
            return False
        return is_introspection_only(resolved.query)
