"""Dependencies run one way, and only the unit of work commits."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "salesgraph"
GRAPHQL_FREE = ("models.py", "repository.py", "service.py", "loaders.py", "errors.py")


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_domain_layers_know_nothing_of_graphql() -> None:
    offenders = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if path.name in GRAPHQL_FREE and path.parent.name != "graphql"
        for module in _imports(path)
        if module.split(".")[0] in {"strawberry", "graphql", "starlette"}
        or module.startswith("salesgraph.graphql")
    ]
    assert offenders == []


def test_only_the_unit_of_work_commits() -> None:
    committing = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if ".commit(" in path.read_text()
    ]
    assert committing == []  # unit_of_work commits through `session.begin()`


def test_models_keep_relationships_out() -> None:
    """No relationship() at all yet: nested data goes through loaders, never lazy loads."""
    for path in SOURCE.rglob("models.py"):
        assert "relationship(" not in path.read_text(), path
