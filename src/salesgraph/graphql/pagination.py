"""Relay connections over keyset pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from salesgraph.db.keyset import Page, PageRequest

# The page arguments every connection field takes.
First = Annotated[
    int | None, strawberry.argument(description="Page size, forward (at most 100 by default).")
]
After = Annotated[str | None, strawberry.argument(description="Cursor to page after.")]
Last = Annotated[
    int | None, strawberry.argument(description="Page size, backward (at most 100 by default).")
]
Before = Annotated[str | None, strawberry.argument(description="Cursor to page before.")]

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow the last edge.")
    has_previous_page: bool = strawberry.field(
        description="Items precede the first edge. With first/after this is true whenever a "
        "cursor was given (the cursor's item precedes the page)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.type(description="An item of a list and its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque keyset cursor of this item.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, with keyset cursors.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="Number of items in the whole list (every page), filters applied."
    )
    async def total_count(self) -> int:
        return await self.count()

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


ConnectionT = TypeVar("ConnectionT", bound=Connection[Any])


def connection(
    kind: type[ConnectionT],
    page: Page[RowT],
    convert: Callable[[RowT], Any],
    count: Callable[[], Awaitable[int]],
) -> ConnectionT:
    edges = [
        Edge(cursor=cursor, node=convert(row))
        for row, cursor in zip(page.rows, page.cursors, strict=True)
    ]
    return kind(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count=count,
    )


def page_request(
    info: Any, first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    settings = info.context.settings
    return PageRequest(first, after, last, before).validated(
        default_size=settings.page_size_default, max_size=settings.page_size_max
    )
