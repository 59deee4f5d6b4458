"""Domain enums exposed as GraphQL enums, each value described.

The domain's enums stay free of GraphQL; this registers them with strawberry (which marks the
class itself) and requires a description for every value, so the schema documents itself.
"""

from __future__ import annotations

import enum
from typing import TypeVar

import strawberry

EnumT = TypeVar("EnumT", bound=type[enum.Enum])


def graphql_enum(cls: EnumT, *, name: str, description: str, values: dict[str, str]) -> EnumT:
    """Register `cls` as the GraphQL enum `name`; `values` describes every member by name."""
    missing = {member.name for member in cls} ^ set(values)
    if missing:
        raise ValueError(f"{name}: describe exactly its values; mismatched: {sorted(missing)}")
    strawberry.enum(cls, name=name, description=description)
    for value in cls.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]
    return cls
