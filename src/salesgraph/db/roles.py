"""The server's database role must be bound by row-level security: checked before serving.

Row-level security is the second wall of tenancy (salesgraph.db.tenancy), and it holds only if
the server's connections run as a role that is not a superuser, lacks BYPASSRLS and owns no
table (through membership neither). A configuration that breaks this (such as
SALESGRAPH_APP_DATABASE_URL naming the owner) stops the server at start with one line.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from salesgraph.db.engine import APP_ROLE, create_database, server_connection
from salesgraph.settings import ConfigurationError, Settings

# The current role's attributes, and the tables of the current schema it owns or holds the
# privileges of the owner of (a member of the owner role reaches the owner's policies too).
ROLE_CHECK = text(
    """
    SELECT current_user AS name, rolsuper, rolbypassrls,
           (SELECT count(*) FROM pg_class c
             WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND c.relkind IN ('r', 'p')
               AND pg_has_role(current_user, c.relowner, 'USAGE')) AS owned_tables
    FROM pg_roles WHERE rolname = current_user
    """
)


async def server_role_problem(settings: Settings, database_url: str) -> str | None:
    """Why the server's connections would not be bound by row-level security, or None."""
    url, role = server_connection(settings, database_url)
    database = create_database(url, role=role, pool_size=1, max_overflow=0)
    try:
        async with database.engine.connect() as connection:
            row = (await connection.execute(ROLE_CHECK)).one()
    except DBAPIError as error:
        if role is not None and "permission denied to set role" in str(error.orig):
            return (
                f"the database user cannot switch to the role {role}: grant it "
                f"(GRANT {role} TO <user>) or set SALESGRAPH_APP_DATABASE_URL"
            )
        raise
    finally:
        await database.dispose()
    if row.rolsuper or row.rolbypassrls:
        return (
            f"the server's database role {row.name} bypasses row-level security: set "
            f"SALESGRAPH_APP_DATABASE_URL to a login that is a member of {APP_ROLE}"
        )
    if row.owned_tables:
        return (
            f"the server's database role {row.name} owns the tables: set "
            f"SALESGRAPH_APP_DATABASE_URL to a login that is a member of {APP_ROLE}"
        )
    return None


def check_server_role(settings: Settings, database_url: str) -> None:
    """Raise ConfigurationError when the server would not be bound by row-level security
    (blocking; call outside a running event loop)."""
    problem = asyncio.run(server_role_problem(settings, database_url))
    if problem is not None:
        raise ConfigurationError(problem)
