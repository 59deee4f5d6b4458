"""Domain errors as payload errors, and masking of unexpected faults.

Expected failures (bad input, wrong state, stale version) become `UserError`s in the mutation's
payload. Every other exception raised while resolving is logged with the request id and
replaced by one generic error carrying that id, so no stack trace or SQL reaches a client.
GraphQL's own errors (syntax, validation, permissions) stay readable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from salesgraph.errors import DomainError, DomainErrors
from salesgraph.errors import ErrorCode as DomainErrorCode
from salesgraph.graphql.enums import graphql_enum

logger = logging.getLogger("salesgraph.errors")

ErrorCode = graphql_enum(
    DomainErrorCode,
    name="ErrorCode",
    description="What went wrong, for clients to switch on.",
    values={
        "VALIDATION": "The input is malformed or out of range; see field and message.",
        "NOT_FOUND": "An id names nothing in the workspace (other workspaces' ids included).",
        "CONFLICT": "The object changed since it was read (stale expectedVersion) or a "
        "concurrent request took the same name.",
        "INVALID_STATE": "The object's state does not allow this (e.g. moving a won lead).",
        "FORBIDDEN": "The API key may not do this.",
        "LIMIT_EXCEEDED": "A size or count limit would be exceeded.",
        "DUPLICATE": "An equal object already exists.",
    },
)


@strawberry.type(description="An expected failure of a mutation, naming the input at fault.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path of the input field at fault, e.g. ["input", "value", "currency"]; '
        "null when the error is about the request as a whole."
    )
    code: DomainErrorCode = strawberry.field(description="Machine-readable kind of the error.")
    message: str = strawberry.field(description="Human-readable explanation.")

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        return cls(
            field=["input", *error.field] if error.field else None,
            code=error.code,
            message=error.message,
        )


def user_errors(error: DomainError | DomainErrors) -> list[UserError]:
    errors = error.errors if isinstance(error, DomainErrors) else (error,)
    return [UserError.from_domain(item) for item in errors]


def query_error(error: DomainError) -> GraphQLError:
    """An expected failure of a query (e.g. a bad cursor) as a coded GraphQL error."""
    extensions: dict[str, object] = {"code": "BAD_USER_INPUT", "reason": error.code.value}
    if error.field:
        extensions["field"] = list(error.field)
    return GraphQLError(error.message, extensions=extensions)


def is_unexpected(error: GraphQLError) -> bool:
    """True for faults that must not reach a client: anything not raised as a GraphQL error."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(SchemaExtension):
    """Replaces unexpected faults with a generic error that carries the request id."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        masked = []
        for error in result.errors:
            if is_unexpected(error):
                logger.error(
                    "unexpected error in %s (request %s)",
                    ".".join(str(part) for part in error.path or ()),
                    request_id,
                    exc_info=error.original_error,
                )
                masked.append(
                    GraphQLError(
                        f"Internal server error. Request id: {request_id}",
                        nodes=error.nodes,
                        positions=error.positions,
                        path=error.path,
                        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                    )
                )
            else:
                masked.append(error)
        result.errors = masked
