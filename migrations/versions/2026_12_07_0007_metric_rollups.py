# ruff: noqa: S608 - statements are composed from constant fragments only.
"""metric rollups: daily activity counts, closed leads, per-stage metric indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 09:00:00.000000

Every table below is derived, kept exact by statement triggers in the transaction that changes
its source rows: never stale, never written by the application, no foreign keys of their own
(their sources' hold). Each is a tenant table with the policies of 0004.

- `activity_daily` and `activity_daily_members` count completed activities (not deleted) per
  UTC day of `occurred_at` and pipeline: by stage, type and outcome (with their summed
  duration), and by the member who completed them. Whole days of a metric window are read
  here; the partial days at its edges, and the activities of deleted leads (subtracted), are
  read from the activities. Triggers add each changed activity's old row with -1 and its new
  row with +1, in key order; two transactions counting into the same day, stage, type and
  outcome wait for each other's commit.
- `closed_leads` holds each closed (WON or LOST) lead that is not deleted, with what outcome,
  persistence and leaderboard metrics read: status, close time, sales cycle, owner, value, and
  the touches persistence counts (before the win, or after the first rejection of a lost lead;
  NULL: lost without one). A row is recomputed from the lead and its activities whenever the
  lead's status, close time, pipeline, owner, value or deletion changes, or one of its
  completed activities does.
- `seconds` (double precision, generated) on `lead_stage_totals` and `stage_visits`: time in
  stage, sortable without converting intervals per row; indexes by pipeline, stage and entry
  (and by stage and exit for losses) let a funnel read each stage's rows in one range and never
  sort by stage. Leads by pipeline and creation (not deleted): leads created in a window.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THE_WORKSPACE = "nullif(current_setting('salesgraph.workspace_id', true), '')::uuid"
ALL_WORKSPACES = "current_setting('salesgraph.all_workspaces', true) = 'on'"
DERIVED = ("activity_daily", "activity_daily_members", "closed_leads")

# Copied, not imported: a migration must not change when the application code does.
DONE = "a.status = 'COMPLETED' AND a.deleted_at IS NULL"
TOUCH = (
    f"{DONE} AND a.direction = 'OUTBOUND'"
    " AND a.type IN ('CALL', 'EMAIL', 'MEETING', 'DEMO', 'MESSAGE', 'CHAT')"
)
REJECTION = f"{DONE} AND a.outcome = 'NEGATIVE'"

# Recomputes the rows of the given leads from the leads and their activities.
REFRESH_CLOSED_LEADS = f"""
CREATE FUNCTION closed_leads_refresh(workspace_ids uuid[], lead_ids uuid[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM closed_leads t
    USING unnest(workspace_ids, lead_ids) AS k(workspace_id, lead_id)
    WHERE t.workspace_id = k.workspace_id AND t.lead_id = k.lead_id;

    INSERT INTO closed_leads (
        workspace_id, lead_id, pipeline_id, status, closed_at, cycle_seconds, owner_id,
        value_amount, value_currency, touches
    )
    SELECT l.workspace_id, l.id, l.pipeline_id, l.status, l.closed_at,
           extract(epoch FROM l.closed_at - l.created_at)::float8, l.owner_id,
           l.value_amount, l.value_currency,
           CASE WHEN l.status = 'WON' THEN (
               SELECT count(*) FROM activities a
               WHERE a.workspace_id = l.workspace_id AND a.lead_id = l.id
                 AND a.at < l.closed_at AND a.occurred_at < l.closed_at AND {TOUCH}
           ) WHEN r.rejected_at IS NOT NULL THEN (
               SELECT count(*) FROM activities a
               WHERE a.workspace_id = l.workspace_id AND a.lead_id = l.id
                 AND a.at > r.rejected_at AND a.at <= l.closed_at
                 AND a.occurred_at > r.rejected_at AND a.occurred_at <= l.closed_at
                 AND {TOUCH}
           ) END
    FROM (SELECT DISTINCT * FROM unnest(workspace_ids, lead_ids)) AS k(workspace_id, lead_id)
    JOIN leads l ON l.workspace_id = k.workspace_id AND l.id = k.lead_id
    LEFT JOIN LATERAL (
        SELECT min(a.occurred_at) AS rejected_at FROM activities a
        WHERE l.status = 'LOST' AND a.workspace_id = l.workspace_id AND a.lead_id = l.id
          AND a.at <= l.closed_at AND {REJECTION}
    ) r ON true
    WHERE l.status IN ('WON', 'LOST') AND l.closed_at IS NOT NULL AND l.deleted_at IS NULL;
$$
"""


def _count_changes(sources: Sequence[tuple[str, int]]) -> str:
    """The activity trigger body for one event: the changed rows' counts, by rollup key."""
    changes = "\n            UNION ALL\n".join(
        f"""SELECT a.workspace_id, a.pipeline_id, (a.occurred_at AT TIME ZONE 'UTC')::date AS day,
                   a.stage_id, a.type, a.outcome, a.completed_by_member_id,
                   {sign} AS sign, {sign} * coalesce(a.duration_seconds, 0)::bigint AS seconds
            FROM {table} a WHERE {DONE} AND a.pipeline_id IS NOT NULL"""
        for table, sign in sources
    )
    leads = "\n            UNION\n".join(
        f"SELECT a.workspace_id, a.lead_id FROM {table} a WHERE a.status = 'COMPLETED'"
        for table, _ in sources
    )
    # One statement: the changed rows are read from the transition tables once for both rollups.
    return f"""
    WITH changes AS (
            {changes}
    ),
    daily AS (
        INSERT INTO activity_daily AS r (
            workspace_id, pipeline_id, day, stage_id, type, outcome, activities, seconds
        )
        SELECT workspace_id, pipeline_id, day, stage_id, type, outcome, sum(sign), sum(seconds)
        FROM changes
        GROUP BY workspace_id, pipeline_id, day, stage_id, type, outcome
        HAVING sum(sign) <> 0 OR sum(seconds) <> 0
        ORDER BY workspace_id, pipeline_id, day, stage_id, type, outcome
        ON CONFLICT (workspace_id, pipeline_id, day, stage_id, type, outcome) DO UPDATE SET
            activities = r.activities + excluded.activities,
            seconds = r.seconds + excluded.seconds
    )
    INSERT INTO activity_daily_members AS r (
        workspace_id, pipeline_id, day, member_id, activities
    )
    SELECT workspace_id, pipeline_id, day, completed_by_member_id, sum(sign)
    FROM changes WHERE completed_by_member_id IS NOT NULL
    GROUP BY workspace_id, pipeline_id, day, completed_by_member_id
    HAVING sum(sign) <> 0
    ORDER BY workspace_id, pipeline_id, day, completed_by_member_id
    ON CONFLICT (workspace_id, pipeline_id, day, member_id) DO UPDATE SET
        activities = r.activities + excluded.activities;

    PERFORM closed_leads_refresh(array_agg(k.workspace_id), array_agg(k.lead_id))
    FROM (
            {leads}
    ) k;"""


# The transition tables each event has, with the sign their rows count with.
ACTIVITY_EVENTS = {
    "INSERT": ("REFERENCING NEW TABLE AS new_activities", [("new_activities", 1)]),
    "UPDATE": (
        "REFERENCING OLD TABLE AS old_activities NEW TABLE AS new_activities",
        [("old_activities", -1), ("new_activities", 1)],
    ),
    "DELETE": ("REFERENCING OLD TABLE AS old_activities", [("old_activities", -1)]),
}

# Leads whose closed_leads row may have changed: inserted closed, or closed, reopened, moved,
# reassigned, revalued, deleted, restored or erased.
LEAD_EVENTS = {
    "INSERT": (
        "REFERENCING NEW TABLE AS new_leads",
        "SELECT n.workspace_id, n.id FROM new_leads n WHERE n.status IN ('WON', 'LOST')",
    ),
    "UPDATE": (
        "REFERENCING OLD TABLE AS old_leads NEW TABLE AS new_leads",
        "SELECT n.workspace_id, n.id FROM new_leads n JOIN old_leads o"
        " ON o.workspace_id = n.workspace_id AND o.id = n.id"
        " WHERE (n.status, n.closed_at, n.pipeline_id, n.deleted_at, n.created_at, n.owner_id,"
        " n.value_amount, n.value_currency) IS DISTINCT FROM (o.status, o.closed_at,"
        " o.pipeline_id, o.deleted_at, o.created_at, o.owner_id, o.value_amount,"
        " o.value_currency)",
    ),
    # The application never deletes a lead; an erasure by hand must not leave its row behind.
    "DELETE": (
        "REFERENCING OLD TABLE AS old_leads",
        "SELECT o.workspace_id, o.id FROM old_leads o",
    ),
}


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\n"
        "    RETURN NULL;\nEND\n$$"
    )


def _tenant_table(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY workspace_isolation ON {table}"
        f" USING (workspace_id = {THE_WORKSPACE}) WITH CHECK (workspace_id = {THE_WORKSPACE})"
    )
    op.execute(
        f"CREATE POLICY owner_maintenance ON {table} TO CURRENT_USER"
        f" USING ({ALL_WORKSPACES}) WITH CHECK ({ALL_WORKSPACES})"
    )


def upgrade() -> None:
    activity_type = sa.Enum(name="activity_type", create_type=False)
    activity_outcome = sa.Enum(name="activity_outcome", create_type=False)
    lead_status = sa.Enum(name="lead_status", create_type=False)
    op.create_table(
        "activity_daily",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("type", activity_type, nullable=False),
        sa.Column("outcome", activity_outcome, nullable=True),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "uq_activity_daily",
        "activity_daily",
        ["workspace_id", "pipeline_id", "day", "stage_id", "type", "outcome"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "activity_daily_members",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id",
            "pipeline_id",
            "day",
            "member_id",
            name=op.f("pk_activity_daily_members"),
        ),
    )
    op.create_table(
        "closed_leads",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("status", lead_status, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_seconds", sa.Double(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("value_amount", sa.Numeric(20, 4), nullable=True),
        sa.Column("value_currency", sa.String(3), nullable=True),
        sa.Column("touches", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("workspace_id", "lead_id", name=op.f("pk_closed_leads")),
    )
    # One per status, partial: under row-level security a condition on an enum (whose equality
    # is not leakproof) cannot be an index condition, but it selects a partial index.
    for status in ("WON", "LOST"):
        op.create_index(
            f"ix_closed_leads_{status.lower()}",
            "closed_leads",
            ["workspace_id", "pipeline_id", "closed_at"],
            postgresql_include=[
                "cycle_seconds",
                "touches",
                "owner_id",
                "value_amount",
                "value_currency",
            ],
            postgresql_where=sa.text(f"status = '{status}'"),
        )
    for table in DERIVED:
        _tenant_table(table)

    op.add_column(
        "lead_stage_totals",
        sa.Column(
            "seconds",
            sa.Double(),
            sa.Computed(
                "CASE WHEN open_visit_count = 0"
                " THEN extract(epoch FROM time_in_stage)::double precision"
                " ELSE NULL::double precision END",
                persisted=True,
            ),
            nullable=True,
        ),
    )
    op.drop_index("ix_lead_stage_totals_first_entry", table_name="lead_stage_totals")
    op.create_index(
        "ix_lead_stage_totals_stage_entry",
        "lead_stage_totals",
        ["workspace_id", "pipeline_id", "stage_id", "first_entered_at"],
        postgresql_include=["lead_id", "advanced", "open_visit_count", "seconds"],
    )
    op.add_column(
        "stage_visits",
        sa.Column(
            "seconds",
            sa.Double(),
            sa.Computed(
                "extract(epoch FROM exited_at - entered_at)::double precision", persisted=True
            ),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_stage_visits_stage_entered",
        "stage_visits",
        ["workspace_id", "pipeline_id", "stage_id", "entered_at"],
        postgresql_include=["lead_id", "exit", "seconds"],
    )
    op.create_index(
        "ix_stage_visits_stage_lost",
        "stage_visits",
        ["workspace_id", "pipeline_id", "stage_id", "exited_at"],
        postgresql_include=["lead_id"],
        postgresql_where=sa.text("exit = 'LOST'"),
    )

    op.create_index(
        "ix_leads_pipeline_created",
        "leads",
        ["workspace_id", "pipeline_id", "created_at"],
        postgresql_include=["owner_id"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )

    # The leads open at the end of a window, and each one's latest completed work (stalled).
    op.create_index(
        "ix_stage_visits_open",
        "stage_visits",
        ["workspace_id", "pipeline_id", "entered_at"],
        postgresql_include=["lead_id", "stage_id"],
        postgresql_where=sa.text("exited_at IS NULL"),
    )
    op.create_index(
        "ix_activities_lead_done",
        "activities",
        ["workspace_id", "lead_id", "occurred_at"],
        postgresql_where=sa.text("status = 'COMPLETED' AND deleted_at IS NULL"),
    )

    op.execute(REFRESH_CLOSED_LEADS)
    for event, (referencing, sources) in ACTIVITY_EVENTS.items():
        name = f"activities_metrics_{event.lower()}"
        op.execute(_function(name, _count_changes(sources)))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON activities {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    for event, (referencing, changed) in LEAD_EVENTS.items():
        name = f"leads_closed_leads_{event.lower()}"
        body = (
            "    PERFORM closed_leads_refresh(array_agg(k.workspace_id), array_agg(k.id))"
            f"\n    FROM ({changed}) k;"
        )
        op.execute(_function(name, body))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON leads {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )

    # The history so far, every workspace's (this transaction only).
    op.execute("SELECT set_config('salesgraph.all_workspaces', 'on', true)")
    op.execute(
        "INSERT INTO activity_daily"
        " SELECT a.workspace_id, a.pipeline_id, (a.occurred_at AT TIME ZONE 'UTC')::date,"
        " a.stage_id, a.type, a.outcome, count(*), coalesce(sum(a.duration_seconds), 0)"
        f" FROM activities a WHERE {DONE} AND a.pipeline_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6"
    )
    op.execute(
        "INSERT INTO activity_daily_members"
        " SELECT a.workspace_id, a.pipeline_id, (a.occurred_at AT TIME ZONE 'UTC')::date,"
        " a.completed_by_member_id, count(*)"
        f" FROM activities a WHERE {DONE} AND a.pipeline_id IS NOT NULL"
        " AND a.completed_by_member_id IS NOT NULL GROUP BY 1, 2, 3, 4"
    )
    op.execute(
        "SELECT closed_leads_refresh(array_agg(workspace_id), array_agg(id))"
        " FROM leads WHERE status IN ('WON', 'LOST')"
    )
    op.execute("SELECT set_config('salesgraph.all_workspaces', '', true)")


def downgrade() -> None:
    for event in LEAD_EVENTS:
        name = f"leads_closed_leads_{event.lower()}"
        op.execute(f"DROP TRIGGER {name} ON leads")
        op.execute(f"DROP FUNCTION {name}()")
    for event in ACTIVITY_EVENTS:
        name = f"activities_metrics_{event.lower()}"
        op.execute(f"DROP TRIGGER {name} ON activities")
        op.execute(f"DROP FUNCTION {name}()")
    op.execute("DROP FUNCTION closed_leads_refresh(uuid[], uuid[])")
    op.drop_index(
        "ix_activities_lead_done",
        table_name="activities",
        postgresql_where=sa.text("status = 'COMPLETED' AND deleted_at IS NULL"),
    )
    op.drop_index(
        "ix_stage_visits_open",
        table_name="stage_visits",
        postgresql_where=sa.text("exited_at IS NULL"),
    )
    op.drop_index(
        "ix_leads_pipeline_created",
        table_name="leads",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(
        "ix_stage_visits_stage_lost",
        table_name="stage_visits",
        postgresql_where=sa.text("exit = 'LOST'"),
    )
    op.drop_index("ix_stage_visits_stage_entered", table_name="stage_visits")
    op.drop_column("stage_visits", "seconds")
    op.drop_index("ix_lead_stage_totals_stage_entry", table_name="lead_stage_totals")
    op.drop_column("lead_stage_totals", "seconds")
    op.create_index(
        "ix_lead_stage_totals_first_entry",
        "lead_stage_totals",
        ["workspace_id", "pipeline_id", "first_entered_at"],
        postgresql_include=["stage_id", "lead_id", "advanced", "open_visit_count", "time_in_stage"],
    )
    for table in reversed(DERIVED):
        op.drop_table(table)
