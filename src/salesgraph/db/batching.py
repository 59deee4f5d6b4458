"""Helpers for DataLoader batch functions: results in key order, keys grouped by arguments."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")
ArgsT = TypeVar("ArgsT", bound=Hashable)


def in_key_order(keys: Sequence[K], found: dict[K, V]) -> list[V | None]:
    return [found.get(key) for key in keys]


async def grouped_by_arguments(
    keys: Sequence[tuple[uuid.UUID, ArgsT]],
    fetch: Callable[[list[uuid.UUID], ArgsT], Awaitable[dict[uuid.UUID, V]]],
) -> list[V]:
    """Load (parent id, arguments) keys with one fetch per distinct set of arguments."""
    by_arguments: dict[ArgsT, list[uuid.UUID]] = defaultdict(list)
    for parent_id, arguments in keys:
        by_arguments[arguments].append(parent_id)
    results: dict[tuple[uuid.UUID, ArgsT], V] = {}
    for arguments, parent_ids in by_arguments.items():
        for parent_id, value in (await fetch(parent_ids, arguments)).items():
            results[(parent_id, arguments)] = value
    return [results[key] for key in keys]
