"""Access rules, declared on root fields only: one check per root field, none per row.

Rows are restricted to the caller's workspace in SQL (salesgraph.db.tenancy); these classes
only check what the API key may do.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from salesgraph.graphql.context import Info
from salesgraph.workspaces.models import Scope


class _RequiresScope(BasePermission):
    scope: Scope

    def __init__(self) -> None:
        self.message = f"This API key lacks the '{self.scope.value}' scope."
        self.error_extensions = {"code": "FORBIDDEN", "requiredScope": self.scope.value}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal_or_none
        return principal is not None and principal.has(self.scope)


class CanRead(_RequiresScope):
    """The key may read the workspace's data."""

    scope = Scope.READ


class CanWrite(_RequiresScope):
    """The key may change the workspace's sales data."""

    scope = Scope.WRITE


class IsAdmin(_RequiresScope):
    """The key may configure the workspace (pipelines, members, keys)."""

    scope = Scope.ADMIN
