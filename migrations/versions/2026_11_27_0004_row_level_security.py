"""row-level security: every tenant table shows and accepts only the transaction's workspace

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 14:00:00.000000

The second wall of tenancy, behind the ORM's filter (salesgraph.db.tenancy):

- Every tenant table has row-level security enabled and forced (so it binds the tables' owner
  too) with the policy `workspace_isolation`: a row is visible, and may be written, only when
  its workspace is the transaction's `salesgraph.workspace_id` setting. Unset, the setting
  reads back as NULL or '' (once a transaction that set it has ended): no row at all.
- `owner_maintenance` lets the role running this migration (the owner, which migrates and
  seeds) reach every workspace when its transaction sets `salesgraph.all_workspaces` to 'on',
  as the command line does. It names the owner only; superusers bypass policies anyway.
- `salesgraph_app` is the role the server's requests run as: NOLOGIN, owning nothing, without
  BYPASSRLS, with SELECT/INSERT/UPDATE/DELETE on the tables (and the same on tables the owner
  creates later, by default privileges) and read-only on alembic_version. The owner is made a
  member, so that the server can switch its connections to it.

Roles belong to the whole server, not one database: the downgrade revokes what this database
granted and leaves the role (and memberships in it) for other databases that may use it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "salesgraph_app"

# Every table holding a workspace's rows, with the column naming the workspace. Listed, not
# found in the catalog: a table with a workspace_id column may not be a tenant table (rows
# looked up before a workspace is known), and a migration must not depend on what exists.
TENANT_TABLES = {
    "workspaces": "id",
    "members": "workspace_id",
    "teams": "workspace_id",
    "team_memberships": "workspace_id",
    "api_keys": "workspace_id",
    "pipelines": "workspace_id",
    "stages": "workspace_id",
    "leads": "workspace_id",
    "stage_visits": "workspace_id",
    "domain_events": "workspace_id",
    "activities": "workspace_id",
    "follow_up_cadences": "workspace_id",
    "objections": "workspace_id",
    "objection_responses": "workspace_id",
    "handoffs": "workspace_id",
    "assignment_rules": "workspace_id",
}

THE_WORKSPACE = "nullif(current_setting('salesgraph.workspace_id', true), '')::uuid"
ALL_WORKSPACES = "current_setting('salesgraph.all_workspaces', true) = 'on'"

# The role, made when missing (roles belong to the server: another database may have made it).
CREATE_APP_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'salesgraph_app') THEN
        BEGIN
            CREATE ROLE salesgraph_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by a migration of another database
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'the role salesgraph_app is missing and % may not create it',
                    current_user
                    USING HINT = 'As a superuser: CREATE ROLE salesgraph_app NOLOGIN; '
                        'GRANT salesgraph_app TO ' || quote_ident(current_user) || ';';
        END;
    END IF;
    IF EXISTS (
        SELECT FROM pg_roles
        WHERE rolname = 'salesgraph_app' AND (rolsuper OR rolbypassrls)
    ) THEN
        RAISE EXCEPTION 'the role salesgraph_app bypasses row-level security'
            USING HINT = 'ALTER ROLE salesgraph_app NOSUPERUSER NOBYPASSRLS;';
    END IF;
    IF NOT pg_has_role(current_user, 'salesgraph_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT salesgraph_app TO %I', current_user);
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE WARNING '% cannot switch to salesgraph_app: the server needs '
                    'SALESGRAPH_APP_DATABASE_URL, a login that is a member of salesgraph_app',
                    current_user;
        END;
    END IF;
END
$$
"""


def _schema() -> str:
    bind = op.get_bind()
    schema = bind.scalar(sa.text("SELECT current_schema()"))
    return str(bind.dialect.identifier_preparer.quote(schema))


def upgrade() -> None:
    schema = _schema()
    op.execute(CREATE_APP_ROLE)
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}")
    op.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP_ROLE}"
    )
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
        f" GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}"
    )
    for table, column in TENANT_TABLES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY workspace_isolation ON {table}"
            f" USING ({column} = {THE_WORKSPACE}) WITH CHECK ({column} = {THE_WORKSPACE})"
        )
        op.execute(
            f"CREATE POLICY owner_maintenance ON {table} TO CURRENT_USER"
            f" USING ({ALL_WORKSPACES}) WITH CHECK ({ALL_WORKSPACES})"
        )


def downgrade() -> None:
    schema = _schema()
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY owner_maintenance ON {table}")
        op.execute(f"DROP POLICY workspace_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
        f" REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    sequences = f"USAGE, SELECT ON SEQUENCES FROM {APP_ROLE}"  # noqa: S608 - constants only
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE {sequences}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {APP_ROLE}")
