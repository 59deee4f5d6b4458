"""The typed context of one GraphQL request."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeAlias

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import read_session, unit_of_work
from salesgraph.graphql.loaders import Loaders
from salesgraph.settings import Settings
from salesgraph.workspaces.service import Principal


class NotAuthenticatedError(Exception):
    """A field that needs a principal ran in a request without one."""


@dataclass
class Context:
    request: Request
    response: Response
    settings: Settings
    database: Database
    request_id: str
    principal_or_none: Principal | None = field(default=None)

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise NotAuthenticatedError("this field needs an API key")
        return self.principal_or_none

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.database, self.principal.workspace_id)

    def read_session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A short read session scoped to the caller's workspace."""
        return read_session(self.database, workspace_id=self.principal.workspace_id)

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One transaction scoped to the caller's workspace, for one mutation."""
        return unit_of_work(self.database, workspace_id=self.principal.workspace_id)


Info: TypeAlias = strawberry.Info[Context, None]

__all__ = ["Context", "Info", "NotAuthenticatedError"]
