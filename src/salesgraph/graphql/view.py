"""GraphQL over HTTP: authentication, request ids, JSON encoding.

Every request resolves to (workspace, principal, scopes) here, once. A request without a valid
API key gets HTTP 401 with an UNAUTHENTICATED error, except an introspection-only request when
public introspection is on (so GraphiQL can show the documented schema) and a browser's GET for
GraphiQL itself.
"""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Any

import orjson
from cross_web import HTTPException
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
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.asgi import GraphQL

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.graphql.context import Context
from salesgraph.settings import Settings
from salesgraph.workspaces import service as workspace_service

logger = logging.getLogger("salesgraph.http")

REQUEST_ID_HEADER = "x-request-id"


class AuthenticationFailedError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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


def _error_response(status: int, message: str, code: str, request_id: str) -> Response:
    headers = {REQUEST_ID_HEADER: request_id}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="salesgraph"'
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with salesgraph's authentication, context and encoding."""

    def __init__(self, schema: Any, *, settings: Settings, database: Database):
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.settings = settings
        self.database = database

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        request_id = request_id[:64]
        scope.setdefault("state", {})["request_id"] = request_id
        try:
            response = await self.run(request)
        except AuthenticationFailedError as error:
            response = _error_response(401, error.message, "UNAUTHENTICATED", request_id)
        except HTTPException as error:
            response = _error_response(error.status_code, error.reason, "BAD_REQUEST", request_id)
        except Exception:  # e.g. the database is unreachable while authenticating
            logger.exception("unexpected error outside execution (request %s)", request_id)
            response = _error_response(
                500,
                f"Internal server error. Request id: {request_id}",
                "INTERNAL_SERVER_ERROR",
                request_id,
            )
        response.headers[REQUEST_ID_HEADER] = request_id
        await response(scope, receive, send)

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = await self._authenticate(request)
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            database=self.database,
            request_id=request.scope["state"]["request_id"],
            principal_or_none=principal,
        )

    async def _authenticate(self, request: Request) -> workspace_service.Principal | None:
        header = request.headers.get("authorization")
        if header is None:
            if await self._may_run_without_key(request):
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

    async def _may_run_without_key(self, request: Request) -> bool:
        if (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        ):
            return True  # GraphiQL's page; it asks for the schema with a separate request
        if not self.settings.public_introspection:
            return False
        if request.method == "GET":
            return is_introspection_only(request.query_params.get("query"))
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return False
        return isinstance(body, dict) and is_introspection_only(body.get("query"))

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
