"""Expected failures of the domain. Knows nothing of GraphQL.

A service raises a DomainError with a code from ErrorCode, a message for humans and the path of
the input field at fault. The GraphQL layer turns it into a payload error; the transaction is
rolled back, so a failed mutation leaves nothing behind.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ErrorCode(enum.StrEnum):
    """What went wrong, for clients to switch on."""

    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    INVALID_STATE = "INVALID_STATE"
    FORBIDDEN = "FORBIDDEN"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    DUPLICATE = "DUPLICATE"


class DomainError(Exception):
    """An expected failure: bad input, a missing object, a wrong state or a stale version."""

    def __init__(self, code: ErrorCode, message: str, field: Sequence[str] | str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        if isinstance(field, str):
            field = (field,)
        self.field: tuple[str, ...] | None = tuple(field) if field is not None else None


class DomainErrors(Exception):
    """Several expected failures found together (all of an input's validation problems)."""

    def __init__(self, errors: Sequence[DomainError]):
        super().__init__("; ".join(error.message for error in errors))
        self.errors = tuple(errors)


def api_name(name: str) -> str:
    """The API's (camelCase) name of a Python field name: value_amount -> valueAmount."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def python_name(name: str) -> str:
    """The Python (snake_case) name of an API field name: valueAmount -> value_amount."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def validation(message: str, field: Sequence[str] | str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION, message, field)


def not_found(what: str, field: Sequence[str] | str | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} does not exist", field)


def conflict(what: str, expected: int, actual: int) -> DomainError:
    return DomainError(
        ErrorCode.CONFLICT,
        f"{what} was changed by someone else: expected version {expected}, it is {actual}",
        "expectedVersion",
    )


def invalid_state(message: str, field: Sequence[str] | str | None = None) -> DomainError:
    return DomainError(ErrorCode.INVALID_STATE, message, field)


class Collector:
    """Gathers validation errors so that one response names every bad field at once."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def add(self, message: str, *field: str) -> None:
        self.errors.append(validation(message, field))

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DomainErrors(self.errors)
