"""metrics: per-lead stage totals kept by triggers, the indexes metric queries read, close dates

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:00:00.000000

- `lead_stage_totals` sums each lead's visits to each stage (first entry, visit count, open
  visits, time in the stage over finished visits, whether any visit advanced). FIRST_ENTRY
  funnel metrics read one row per lead and stage instead of grouping the whole history.
  Statement triggers on stage_visits recompute the touched (lead, stage) rows from the visits
  in the same transaction, so the totals are never stale; each touched (lead, stage) is one
  index lookup of its visits. Derived from stage_visits (whose foreign keys hold), it has no
  foreign keys of its own: checking them again would only slow every stage move. It is a
  tenant table: forced row-level security with the same two policies as every other (0004).
- Indexes for the metric windows: visits by pipeline and entry / exit time, completed
  activities by pipeline and time, closed leads by pipeline and close time, objections by
  pipeline and time; deleted leads (a small partial index: metrics exclude them).
- `leads.expected_close_date`: forecasts group open value by its month; lists sort by it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration must not change when the application code does.
TOUCH = (
    "status = 'COMPLETED' AND deleted_at IS NULL AND direction = 'OUTBOUND'"
    " AND type IN ('CALL', 'EMAIL', 'MEETING', 'DEMO', 'MESSAGE', 'CHAT')"
)
TECHNIQUE = (
    "status = 'COMPLETED' AND deleted_at IS NULL"
    " AND (approach_method IS NOT NULL OR closing_technique IS NOT NULL)"
)
REJECTION = "status = 'COMPLETED' AND deleted_at IS NULL AND outcome = 'NEGATIVE'"
THE_WORKSPACE = "nullif(current_setting('salesgraph.workspace_id', true), '')::uuid"
ALL_WORKSPACES = "current_setting('salesgraph.all_workspaces', true) = 'on'"

# Recomputes the totals of every (lead, stage) that the statement's visits belong to. The
# visits are the truth: the row is rebuilt from all of them, never incremented.
REFRESH_TOTALS = """
CREATE FUNCTION lead_stage_totals_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_stage_totals AS t (
        workspace_id, lead_id, stage_id, pipeline_id, first_entered_at, visit_count,
        open_visit_count, time_in_stage, advanced, last_exited_at
    )
    SELECT k.workspace_id, k.lead_id, k.stage_id, k.pipeline_id, s.*
    FROM (
        SELECT DISTINCT c.workspace_id, c.lead_id, c.stage_id, c.pipeline_id
        FROM changed_visits c
    ) k
    -- LATERAL: one index lookup of the lead's visits per touched (lead, stage), so the cost
    -- follows the statement's rows, never the size of the history.
    CROSS JOIN LATERAL (
        SELECT min(v.entered_at),
               count(*),
               count(*) FILTER (WHERE v.exited_at IS NULL),
               coalesce(sum(v.exited_at - v.entered_at), interval '0'),
               coalesce(bool_or(v.exit IN ('FORWARD', 'WON')), false),
               max(v.exited_at)
        FROM stage_visits v
        WHERE v.workspace_id = k.workspace_id AND v.lead_id = k.lead_id
          AND v.stage_id = k.stage_id
    ) s
    ON CONFLICT (workspace_id, lead_id, stage_id) DO UPDATE SET
        pipeline_id = excluded.pipeline_id,
        first_entered_at = excluded.first_entered_at,
        visit_count = excluded.visit_count,
        open_visit_count = excluded.open_visit_count,
        time_in_stage = excluded.time_in_stage,
        advanced = excluded.advanced,
        last_exited_at = excluded.last_exited_at;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.add_column("leads", sa.Column("expected_close_date", sa.Date(), nullable=True))
    op.create_table(
        "lead_stage_totals",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("first_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visit_count", sa.Integer(), nullable=False),
        sa.Column("open_visit_count", sa.Integer(), nullable=False),
        sa.Column("time_in_stage", sa.Interval(), nullable=False),
        sa.Column("advanced", sa.Boolean(), nullable=False),
        sa.Column("last_exited_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "workspace_id", "lead_id", "stage_id", name=op.f("pk_lead_stage_totals")
        ),
    )
    op.create_index(
        "ix_lead_stage_totals_first_entry",
        "lead_stage_totals",
        ["workspace_id", "pipeline_id", "first_entered_at"],
        postgresql_include=["stage_id", "lead_id", "advanced", "open_visit_count", "time_in_stage"],
    )
    op.create_index(
        "ix_stage_visits_pipeline_entered",
        "stage_visits",
        ["workspace_id", "pipeline_id", "entered_at"],
    )
    op.create_index(
        "ix_stage_visits_pipeline_exited",
        "stage_visits",
        ["workspace_id", "pipeline_id", "exited_at"],
    )
    op.create_index(
        "ix_stage_visits_lost",
        "stage_visits",
        ["workspace_id", "pipeline_id", "exited_at"],
        postgresql_include=["stage_id", "lead_id"],
        postgresql_where=sa.text("exit = 'LOST'"),
    )
    op.create_index(
        "ix_activities_completed",
        "activities",
        ["workspace_id", "pipeline_id", "occurred_at"],
        postgresql_include=[
            "stage_id",
            "lead_id",
            "type",
            "outcome",
            "duration_seconds",
            "completed_by_member_id",
        ],
        postgresql_where=sa.text("status = 'COMPLETED' AND deleted_at IS NULL"),
    )
    op.create_index(
        "ix_activities_techniques",
        "activities",
        ["workspace_id", "pipeline_id", "occurred_at"],
        postgresql_include=["stage_id", "lead_id", "approach_method", "closing_technique"],
        postgresql_where=sa.text(TECHNIQUE),
    )
    op.create_index(
        "ix_activities_touches",
        "activities",
        ["workspace_id", "lead_id", "occurred_at"],
        postgresql_where=sa.text(TOUCH),
    )
    op.create_index(
        "ix_activities_rejections",
        "activities",
        ["workspace_id", "lead_id", "occurred_at"],
        postgresql_where=sa.text(REJECTION),
    )
    op.create_index(
        "ix_leads_expected_close", "leads", ["workspace_id", "expected_close_date", "id"]
    )
    op.create_index(
        "ix_leads_deleted",
        "leads",
        ["workspace_id", "id"],
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_index(
        "ix_leads_closed",
        "leads",
        ["workspace_id", "pipeline_id", "closed_at"],
        postgresql_where=sa.text("closed_at IS NOT NULL"),
    )
    op.create_index(
        "ix_objections_pipeline_raised",
        "objections",
        ["workspace_id", "pipeline_id", "raised_at"],
    )

    op.execute("ALTER TABLE lead_stage_totals ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE lead_stage_totals FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY workspace_isolation ON lead_stage_totals"
        f" USING (workspace_id = {THE_WORKSPACE}) WITH CHECK (workspace_id = {THE_WORKSPACE})"
    )
    op.execute(
        "CREATE POLICY owner_maintenance ON lead_stage_totals TO CURRENT_USER"
        f" USING ({ALL_WORKSPACES}) WITH CHECK ({ALL_WORKSPACES})"
    )

    op.execute(REFRESH_TOTALS)
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER stage_visits_totals_{event.lower()} AFTER {event} ON stage_visits"
            " REFERENCING NEW TABLE AS changed_visits"
            " FOR EACH STATEMENT EXECUTE FUNCTION lead_stage_totals_refresh()"
        )
    # The history so far, every workspace's (this transaction only).
    op.execute("SELECT set_config('salesgraph.all_workspaces', 'on', true)")
    op.execute(
        "INSERT INTO lead_stage_totals"
        " SELECT v.workspace_id, v.lead_id, v.stage_id, v.pipeline_id, min(v.entered_at),"
        " count(*), count(*) FILTER (WHERE v.exited_at IS NULL),"
        " coalesce(sum(v.exited_at - v.entered_at), interval '0'),"
        " coalesce(bool_or(v.exit IN ('FORWARD', 'WON')), false), max(v.exited_at)"
        " FROM stage_visits v GROUP BY v.workspace_id, v.lead_id, v.stage_id, v.pipeline_id"
    )
    op.execute("SELECT set_config('salesgraph.all_workspaces', '', true)")


def downgrade() -> None:
    for event in ("INSERT", "UPDATE"):
        op.execute(f"DROP TRIGGER stage_visits_totals_{event.lower()} ON stage_visits")
    op.execute("DROP FUNCTION lead_stage_totals_refresh()")
    op.drop_index("ix_objections_pipeline_raised", table_name="objections")
    op.drop_index(
        "ix_leads_closed", table_name="leads", postgresql_where=sa.text("closed_at IS NOT NULL")
    )
    op.drop_index(
        "ix_activities_rejections", table_name="activities", postgresql_where=sa.text(REJECTION)
    )
    op.drop_index(
        "ix_activities_techniques", table_name="activities", postgresql_where=sa.text(TECHNIQUE)
    )
    op.drop_index("ix_activities_touches", table_name="activities", postgresql_where=sa.text(TOUCH))
    op.drop_index(
        "ix_stage_visits_lost", table_name="stage_visits", postgresql_where=sa.text("exit = 'LOST'")
    )
    op.drop_index(
        "ix_activities_completed",
        table_name="activities",
        postgresql_where=sa.text("status = 'COMPLETED' AND deleted_at IS NULL"),
    )
    op.drop_index("ix_stage_visits_pipeline_exited", table_name="stage_visits")
    op.drop_index("ix_stage_visits_pipeline_entered", table_name="stage_visits")
    op.drop_index("ix_lead_stage_totals_first_entry", table_name="lead_stage_totals")
    op.drop_table("lead_stage_totals")
    op.drop_index(
        "ix_leads_deleted", table_name="leads", postgresql_where=sa.text("deleted_at IS NOT NULL")
    )
    op.drop_index("ix_leads_expected_close", table_name="leads")
    op.drop_column("leads", "expected_close_date")
