"""The one place where tenancy is enforced, twice: by the ORM and by the database.

A session is opened either for one workspace or, for the few operations that must find the
workspace first (authenticating an API key, the command line), explicitly unscoped. Every ORM
SELECT, UPDATE and DELETE that touches a tenant table in a workspace session is filtered by
that workspace, however the statement was written; a statement on a tenant table in a session
that is neither scoped nor marked unscoped fails instead of leaking rows.

The second wall is PostgreSQL's row-level security (migration 0004). Every tenant table has a
policy that shows and accepts only the rows of the workspace named by the transaction's
`salesgraph.workspace_id` setting, forced on the tables' owner too, and the server's requests
run as `salesgraph_app`, a role that owns no table and cannot bypass policies. A workspace
session sets the setting at the start of each of its transactions, with `set_config(..., true)`:
it ends with the transaction, so it never outlives it on a pooled connection. SQL that forgets
the workspace (raw SQL, a Core statement, a missing filter) thus reaches nothing of another
workspace, and without a workspace set (the setting unset, or '' once a transaction that set it
has ended) it reaches no tenant row at all.

The owner's maintenance across workspaces (the command line, seeding) runs on a Database made
with `all_workspaces=True`: its unscoped transactions set `salesgraph.all_workspaces`, which a
second policy honours for the role that ran the migrations only, never for `salesgraph_app`.
(Superusers, such as the embedded server's, bypass row-level security anyway.)
"""

from __future__ import annotations

import uuid
from typing import Final, cast

from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables

from salesgraph.db.base import Base, WorkspaceScoped

SCOPE_KEY: Final = "salesgraph.workspace_id"
UNSCOPED: Final = "unscoped"
# Session.info keys: the sessions of a Database made for the owner's maintenance, and the
# workspace the current transaction has told the database about.
ALL_WORKSPACES_KEY: Final = "salesgraph.all_workspaces"
_TOLD_KEY: Final = "salesgraph.database_scope"

# The database's side: the settings the row-level security policies read, local to the
# transaction (the third argument), so they end with it.
SET_WORKSPACE_SQL: Final = "SELECT set_config('salesgraph.workspace_id', :workspace_id, true)"
SET_ALL_WORKSPACES_SQL: Final = "SELECT set_config('salesgraph.all_workspaces', 'on', true)"
_SET_WORKSPACE = text(SET_WORKSPACE_SQL)
_SET_ALL_WORKSPACES = text(SET_ALL_WORKSPACES_SQL)


class MissingTenantScopeError(RuntimeError):
    """A tenant table was queried through a session that names no workspace."""


def scope_session(session: Session, workspace_id: uuid.UUID | None) -> None:
    """Bind a session to one workspace, or (None) mark it deliberately unscoped."""
    session.info[SCOPE_KEY] = workspace_id if workspace_id is not None else UNSCOPED


async def enter_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Bind an unscoped session to one workspace from here on, in the ORM and in the database.

    For work that learns its workspace inside the session (authentication reads it from the
    token): the ORM filter applies from now on, and the database's row-level security from this
    transaction on. A session bound to another workspace cannot be moved.
    """
    current = session.info.get(SCOPE_KEY)
    if isinstance(current, uuid.UUID) and current != workspace_id:
        raise MissingTenantScopeError("this session is bound to another workspace")
    scope_session(session.sync_session, workspace_id)
    # Begins the transaction on a connection if it has not yet, which tells the database
    # (_tell_the_database below); a transaction that had begun is told here.
    connection = await session.connection()
    if session.info.get(_TOLD_KEY) != workspace_id:
        await connection.execute(_SET_WORKSPACE, {"workspace_id": str(workspace_id)})
        session.info[_TOLD_KEY] = workspace_id


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


@event.listens_for(Session, "after_begin")
def _tell_the_database(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    """Set the transaction's workspace for row-level security, as the transaction begins."""
    scope = session.info.get(SCOPE_KEY)
    if isinstance(scope, uuid.UUID):
        connection.execute(_SET_WORKSPACE, {"workspace_id": str(scope)})
    elif scope == UNSCOPED and session.info.get(ALL_WORKSPACES_KEY):
        connection.execute(_SET_ALL_WORKSPACES)
    else:
        return
    session.info[_TOLD_KEY] = scope


@event.listens_for(Session, "after_transaction_end")
def _forget_the_told_scope(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the database's setting ended with the outermost one
        session.info.pop(_TOLD_KEY, None)
