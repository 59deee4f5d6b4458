"""Domain errors as payload errors, codes on every GraphQL error, and masking of unexpected faults.

Expected failures (bad input, wrong state, stale version) become `UserError`s in the mutation's
payload. Every top-level GraphQL error carries `extensions.code`:

- GRAPHQL_PARSE_FAILED: the document is not GraphQL;
- GRAPHQL_VALIDATION_FAILED: it does not fit the schema (unknown field, wrong argument type, …);
- QUERY_TOO_COMPLEX: a limit refused it (see salesgraph.graphql.limits and .cost);
- BAD_USER_INPUT: a variable or argument value is wrong (bad cursor, page size, filter, id);
- UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED: who may do what, and how much;
- INTERNAL_SERVER_ERROR: anything else. Such a fault is logged with the request id and replaced
  by one generic error carrying that id, so no stack trace or SQL reaches a client.

Expected errors keep their readable messages; with introspection off, "Did you mean …?"
suggestions are removed from them, so the schema cannot be guessed from typos.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any, Literal

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from salesgraph.errors import DomainError, DomainErrors
from salesgraph.errors import ErrorCode as DomainErrorCode
from salesgraph.graphql.context import NotAuthenticatedError
from salesgraph.graphql.enums import graphql_enum
from salesgraph.graphql.limits import QUERY_TOO_COMPLEX

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


_SUGGESTION = re.compile(r"\s*Did you mean .*\?\s*$", re.DOTALL)
# Errors strawberry raises to the HTTP view, which answers them with HTTP 400.
_TRANSPORT_ERRORS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)

Stage = Literal["parse", "validate", "execute"]


def without_suggestions(message: str) -> str:
    """The message without graphql-core's trailing "Did you mean …?" hint."""
    return _SUGGESTION.sub("", message)


class MaskUnexpectedErrors(SchemaExtension):
    """Gives every error a code and replaces unexpected faults with a generic error that carries
    the request id. Listed first, so it sees every other extension's errors."""

    def __init__(self, *, suggestions: bool = True):
        self.suggestions = suggestions
        self.stage: Stage = "parse"

    def on_validate(self) -> Iterator[None]:
        self.stage = "validate"
        yield

    def on_execute(self) -> Iterator[None]:
        self.stage = "execute"
        yield

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except _TRANSPORT_ERRORS:
            raise
        except GraphQLError as error:
            # Raised by an extension (e.g. a parse refusal); strawberry returns it as the one error.
            raise self.coded(error) from None
        except Exception as error:  # an extension's fault: masked like a resolver's
            raise self.masked(error, None) from None
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        errors = [self.coded(error) for error in result.errors]
        if self.stage != "execute":
            # A document refused by a limit gets that one error, not also graphql's findings.
            refusals = [e for e in errors if (e.extensions or {}).get("code") == QUERY_TOO_COMPLEX]
            errors = refusals[:1] or errors
        result.errors = errors

    def coded(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, NotAuthenticatedError):
            return self._copy(error, str(original), {"code": "UNAUTHENTICATED"})
        if is_unexpected(error):
            return self.masked(original, error)
        extensions: dict[str, Any] = dict(error.extensions or {})
        if "code" not in extensions:
            extensions["code"] = self._code_of(error)
        message = error.message if self.suggestions else without_suggestions(error.message)
        if message == error.message and extensions == error.extensions:
            return error
        return self._copy(error, message, extensions)

    def _code_of(self, error: GraphQLError) -> str:
        if isinstance(error, GraphQLSyntaxError):
            return "GRAPHQL_PARSE_FAILED"
        if self.stage == "execute":
            # Raised as a GraphQLError while running: a variable or argument value that does not
            # coerce, or a resolver's refusal of its input.
            return "BAD_USER_INPUT"
        return "GRAPHQL_VALIDATION_FAILED"

    def masked(self, original: BaseException | None, error: GraphQLError | None) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        path = error.path if error is not None else None
        logger.error(
            "unexpected error in %s (request %s)",
            ".".join(str(part) for part in path or ()),
            request_id,
            exc_info=original,
        )
        return GraphQLError(
            f"Internal server error. Request id: {request_id}",
            nodes=error.nodes if error is not None else None,
            positions=error.positions if error is not None else None,
            path=path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )

    @staticmethod
    def _copy(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
        # A new error: validation errors come from a cache and must stay as they are.
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )
