"""Turning GraphQL input values into service arguments."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import strawberry
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from strawberry.types.unset import UnsetType

from salesgraph.errors import DomainError, DomainErrors, ErrorCode, validation
from salesgraph.graphql.context import Info
from salesgraph.graphql.errors import UserError, user_errors
from salesgraph.values import UNSET, Unset
from salesgraph.workspaces.service import Principal

T = TypeVar("T")

# Every mutation takes one `input` argument, described the same way.
INPUT = strawberry.argument(description="The arguments of the mutation, in one input object.")

# Deadlock and serialization failure: the transaction was rolled back and may simply be retried.
RETRYABLE = frozenset({"40P01", "40001"})

# Text PostgreSQL cannot store (the NUL character): bad input, whichever field it was in.
UNSTORABLE_TEXT = frozenset({"22021", "22P05"})

# Constraint violations that a race between two valid requests can cause, as the error the
# losing request gets. Every other integrity error is a bug and is masked.
EXPECTED_VIOLATIONS: dict[str, DomainError] = {
    "uq_stages_active_name": DomainError(
        ErrorCode.DUPLICATE, "another stage of the pipeline has that name", "name"
    ),
    "uq_members_workspace_id_email": DomainError(
        ErrorCode.DUPLICATE, "another member has that email", "email"
    ),
    "uq_teams_name": DomainError(ErrorCode.DUPLICATE, "another team has that name", "name"),
    "uq_activities_external_id": DomainError(
        ErrorCode.DUPLICATE, "an activity with this externalId was already logged", "externalId"
    ),
    "uq_assignment_rules_source": DomainError(
        ErrorCode.DUPLICATE, "another assignment rule has that source", "source"
    ),
}


def parse_id(value: str, *field: str) -> uuid.UUID:
    """An ID argument as a UUID; a malformed one is a VALIDATION error naming the field."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise validation(f"{value!r} is not a valid id", field) from None


def maybe_id(value: str | None, field: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, field)


def given(value: T | UnsetType) -> T | Unset:
    """Strawberry's 'not given' as the services' UNSET."""
    return UNSET if isinstance(value, UnsetType) else value


def given_id(value: str | UnsetType | None, field: str) -> uuid.UUID | Unset | None:
    if isinstance(value, UnsetType):
        return UNSET
    return maybe_id(value, field)


def probability(value: float) -> Decimal:
    """A rate given as a GraphQL Float, as the exact decimal stored (4 places)."""
    return Decimal(repr(value))


def given_probability(value: float | UnsetType | None, field: str) -> Decimal | Unset:
    """An optional rate of a partial update: omitted stays, null is refused."""
    if isinstance(value, UnsetType):
        return UNSET
    if value is None:
        raise validation("must not be null", field)
    return probability(value)


async def run_mutation(
    info: Info, work: Callable[[AsyncSession, Principal], Awaitable[T]]
) -> T | list[UserError]:
    """Run one mutation in its own transaction; expected failures roll back into UserErrors."""
    principal = info.context.principal
    try:
        async with info.context.unit_of_work() as session:
            return await work(session, principal)
    except (DomainError, DomainErrors) as error:
        return user_errors(error)
    except StaleDataError:
        return user_errors(
            DomainError(ErrorCode.CONFLICT, "the object was changed concurrently; retry", None)
        )
    except IntegrityError as error:
        constraint = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)
        if constraint in EXPECTED_VIOLATIONS:
            return user_errors(EXPECTED_VIOLATIONS[constraint])
        raise
    except DBAPIError as error:
        sqlstate = getattr(getattr(error.orig, "__cause__", None), "sqlstate", None)
        if sqlstate in UNSTORABLE_TEXT:
            return user_errors(
                DomainError(
                    ErrorCode.VALIDATION, "text must not contain the NUL character (\\u0000)", None
                )
            )
        if sqlstate in RETRYABLE:
            return user_errors(
                DomainError(
                    ErrorCode.CONFLICT,
                    "a concurrent change got in the way; nothing was changed, retry",
                    None,
                )
            )
        raise


def payload_parts(result: Any, convert: Callable[[Any], Any]) -> tuple[Any, list[UserError]]:
    """(converted object, []) for a success, (None, errors) for a failure."""
    if isinstance(result, list):
        return None, result
    return convert(result), []


def lookup_id(value: str) -> uuid.UUID | None:
    """An id argument of a query: a malformed id finds nothing, exactly like an unknown one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def not_null(value: T | Unset | None, field: str) -> T | Unset:
    """A field that may be omitted from a partial update but not set to null."""
    if value is None:
        raise validation("must not be null", field)
    return value
