"""What a query selects, so that list reads load only the columns they return."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from salesgraph.graphql.context import Info


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection set, fragments (named or inline) flattened."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def connection_node_fields(info: Info) -> frozenset[str]:
    """Names of the fields selected on a connection's nodes (under edges.node and nodes).

    @skip and @include are not evaluated: a field they may drop still counts, so the result
    is a superset of what the response needs, never less.
    """
    names: set[str] = set()
    for connection in info.selected_fields:
        for field in _fields(connection.selections):
            if field.name == "nodes":
                names.update(node.name for node in _fields(field.selections))
            elif field.name == "edges":
                for edge_field in _fields(field.selections):
                    if edge_field.name == "node":
                        names.update(node.name for node in _fields(edge_field.selections))
    return frozenset(names)
