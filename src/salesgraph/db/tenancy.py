"""The one place where tenancy is enforced for ORM statements.

A session is opened either for one workspace or, for the few operations that must find the
workspace first (authenticating an API key, the command line), explicitly unscoped. Every ORM
SELECT, UPDATE and DELETE that touches a tenant table in a workspace session is filtered by
that workspace, however the statement was written; a statement on a tenant table in a session
that is neither scoped nor marked unscoped fails instead of leaking rows.
"""

from __future__ import annotations

import uuid
from typing import Final, cast

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables

from salesgraph.db.base import Base, WorkspaceScoped

SCOPE_KEY: Final = "salesgraph.workspace_id"
UNSCOPED: Final = "unscoped"


class MissingTenantScopeError(RuntimeError):
    """A tenant table was queried through a session that names no workspace."""


def scope_session(session: Session, workspace_id: uuid.UUID | None) -> None:
    """Bind a session to one workspace, or (None) mark it deliberately unscoped."""
    session.info[SCOPE_KEY] = workspace_id if workspace_id is not None else UNSCOPED


def session_workspace_id(session: Session) -> uuid.UUID:
    """The workspace a session is bound to; raises when it is not bound to one."""
    scope = session.info.get(SCOPE_KEY)
    if not isinstance(scope, uuid.UUID):
        raise MissingTenantScopeError("this session is not bound to a workspace")
    return scope


def _touches_tenant_table(state: ORMExecuteState) -> bool:
    """Whether any table the statement reads or writes is a tenant table, wherever it appears
    (columns, FROM, joins, subqueries)."""
    tenant_tables = {
        mapper.local_table
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, WorkspaceScoped)
    }
    statement = cast("ClauseElement", state.statement)
    return any(table in tenant_tables for table in find_tables(statement, include_crud=True))


@event.listens_for(Session, "do_orm_execute")
def _filter_by_workspace(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return  # the parent statement was already filtered
    if not (state.is_select or state.is_update or state.is_delete):
        return
    scope = state.session.info.get(SCOPE_KEY)
    if scope == UNSCOPED:
        return
    if scope is None:
        if _touches_tenant_table(state):
            raise MissingTenantScopeError("a tenant table was queried outside a workspace scope")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            WorkspaceScoped,
            lambda cls: cls.workspace_id == scope,
            include_aliases=True,
        )
    )
