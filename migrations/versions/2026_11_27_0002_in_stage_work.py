"""in-stage work: activities, follow-up cadence, objections, handoffs, timeline

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:50:19.111310
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM_TYPES = (
    "activity_type",
    "activity_status",
    "direction",
    "activity_outcome",
    "approach_method",
    "closing_technique",
    "objection_category",
    "objection_status",
    "handoff_status",
    "assignment_kind",
)


def upgrade() -> None:
    op.create_table(
        "follow_up_cadences",
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("max_touches", sa.SmallInteger(), server_default="5", nullable=False),
        sa.Column(
            "intervals_days", sa.ARRAY(sa.Integer()), server_default="{2,3,5,7}", nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "cardinality(intervals_days) = max_touches - 1",
            name=op.f("ck_follow_up_cadences_one_interval_per_gap"),
        ),
        sa.CheckConstraint(
            "max_touches BETWEEN 1 AND 20", name=op.f("ck_follow_up_cadences_max_touches_range")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_follow_up_cadences_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_follow_up_cadences")),
    )
    op.create_table(
        "objection_responses",
        sa.Column(
            "category",
            sa.Enum(
                "PRICE",
                "NEED",
                "TIMING",
                "AUTHORITY",
                "COMPETITOR",
                "TRUST",
                "OTHER",
                name="objection_category",
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(btrim(text)) > 0", name=op.f("ck_objection_responses_text_not_blank")
        ),
        sa.CheckConstraint(
            "length(btrim(title)) > 0", name=op.f("ck_objection_responses_title_not_blank")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_objection_responses_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_objection_responses")),
    )
    op.create_index(
        "ix_objection_responses_category",
        "objection_responses",
        ["workspace_id", "category"],
        unique=False,
    )
    op.create_table(
        "assignment_rules",
        sa.Column(
            "kind", sa.Enum("ROUND_ROBIN", "FIXED_OWNER", name="assignment_kind"), nullable=False
        ),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("last_member_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind <> 'FIXED_OWNER' OR owner_id IS NOT NULL",
            name=op.f("ck_assignment_rules_fixed_has_owner"),
        ),
        sa.CheckConstraint(
            "kind <> 'ROUND_ROBIN' OR (team_id IS NOT NULL AND owner_id IS NULL)",
            name=op.f("ck_assignment_rules_round_robin_has_team"),
        ),
        sa.CheckConstraint(
            "source IS NULL OR length(btrim(source)) > 0",
            name=op.f("ck_assignment_rules_source_not_blank"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "owner_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_assignment_rules_workspace_id_owner_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "team_id"],
            ["teams.workspace_id", "teams.id"],
            name=op.f("fk_assignment_rules_workspace_id_team_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_assignment_rules_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_assignment_rules")),
    )
    op.create_index(
        "uq_assignment_rules_source",
        "assignment_rules",
        ["workspace_id", sa.literal_column("lower(coalesce(source, ''))")],
        unique=True,
    )
    op.create_table(
        "activities",
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "CALL",
                "EMAIL",
                "MEETING",
                "DEMO",
                "MESSAGE",
                "CHAT",
                "NOTE",
                "TASK",
                "GIFT",
                "TRIAL",
                "QUOTE",
                "OTHER",
                name="activity_type",
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("PLANNED", "COMPLETED", "CANCELED", name="activity_status"),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("direction", sa.Enum("INBOUND", "OUTBOUND", name="direction"), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            sa.Computed("COALESCE(occurred_at, due_at)", persisted=True),
            nullable=False,
        ),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum("POSITIVE", "NEUTRAL", "NEGATIVE", "NO_RESPONSE", name="activity_outcome"),
            nullable=True,
        ),
        sa.Column(
            "approach_method",
            sa.Enum("GIFT", "QUESTION", "PRODUCT_TRIAL", name="approach_method"),
            nullable=True,
        ),
        sa.Column(
            "closing_technique",
            sa.Enum("ALTERNATIVE_CHOICE", "INCENTIVE", "URGENCY", name="closing_technique"),
            nullable=True,
        ),
        sa.Column("pipeline_id", sa.Uuid(), nullable=True),
        sa.Column("stage_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("cadence_step", sa.SmallInteger(), nullable=True),
        sa.Column("created_by_member_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("completed_by_member_id", sa.Uuid(), nullable=True),
        sa.Column("completed_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'CANCELED') = (canceled_at IS NOT NULL) "
            "AND (status <> 'CANCELED' OR (occurred_at IS NULL AND outcome IS NULL))",
            name=op.f("ck_activities_canceled_shape"),
        ),
        sa.CheckConstraint(
            "status <> 'COMPLETED' OR (occurred_at IS NOT NULL AND stage_id IS NOT NULL)",
            name=op.f("ck_activities_completed_shape"),
        ),
        sa.CheckConstraint(
            "status <> 'PLANNED' OR (due_at IS NOT NULL AND occurred_at IS NULL "
            "AND outcome IS NULL AND stage_id IS NULL)",
            name=op.f("ck_activities_planned_shape"),
        ),
        sa.CheckConstraint(
            "cadence_step IS NULL OR cadence_step BETWEEN 1 AND 50", name=op.f("ck_activities_step")
        ),
        sa.CheckConstraint(
            "duration_seconds IS NULL OR duration_seconds BETWEEN 0 AND 604800",
            name=op.f("ck_activities_duration_range"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "assignee_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_activities_workspace_id_assignee_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_activities_workspace_id_lead_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "pipeline_id", "stage_id"],
            ["stages.workspace_id", "stages.pipeline_id", "stages.id"],
            name=op.f("fk_activities_workspace_id_pipeline_id_stage_id_stages"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_activities")),
    )
    op.create_index(
        "ix_activities_agenda",
        "activities",
        ["workspace_id", "assignee_id", "due_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'PLANNED' AND deleted_at IS NULL"),
    )
    op.create_index(
        "ix_activities_due",
        "activities",
        ["workspace_id", "due_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'PLANNED' AND deleted_at IS NULL"),
    )
    op.create_index(
        "ix_activities_lead", "activities", ["workspace_id", "lead_id", "at", "id"], unique=False
    )
    op.create_index(
        "uq_activities_external_id",
        "activities",
        ["workspace_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_table(
        "handoffs",
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("from_owner_id", sa.Uuid(), nullable=True),
        sa.Column("from_team_id", sa.Uuid(), nullable=True),
        sa.Column("to_owner_id", sa.Uuid(), nullable=True),
        sa.Column("to_team_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("PENDING", "ACCEPTED", "SUPERSEDED", name="handoff_status"),
            server_default="PENDING",
            nullable=False,
        ),
        sa.Column("handed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handed_by_member_id", sa.Uuid(), nullable=True),
        sa.Column("handed_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by_member_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(status = 'ACCEPTED') = (accepted_at IS NOT NULL)",
            name=op.f("ck_handoffs_accepted_matches_status"),
        ),
        sa.CheckConstraint(
            "(status = 'SUPERSEDED') = (superseded_at IS NOT NULL)",
            name=op.f("ck_handoffs_superseded_matches_status"),
        ),
        sa.CheckConstraint(
            "accepted_at IS NULL OR accepted_at >= handed_at",
            name=op.f("ck_handoffs_accepted_after"),
        ),
        sa.CheckConstraint(
            "to_owner_id IS NOT NULL OR to_team_id IS NOT NULL",
            name=op.f("ck_handoffs_has_receiver"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "from_owner_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_handoffs_workspace_id_from_owner_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "from_team_id"],
            ["teams.workspace_id", "teams.id"],
            name=op.f("fk_handoffs_workspace_id_from_team_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_handoffs_workspace_id_lead_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "to_owner_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_handoffs_workspace_id_to_owner_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "to_team_id"],
            ["teams.workspace_id", "teams.id"],
            name=op.f("fk_handoffs_workspace_id_to_team_id_teams"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_handoffs")),
    )
    op.create_index(
        "ix_handoffs_handed", "handoffs", ["workspace_id", "handed_at", "id"], unique=False
    )
    op.create_index(
        "ix_handoffs_lead", "handoffs", ["workspace_id", "lead_id", "handed_at", "id"], unique=False
    )
    op.create_index(
        "ix_handoffs_pending_owner",
        "handoffs",
        ["workspace_id", "to_owner_id", "handed_at"],
        unique=False,
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_index(
        "uq_handoffs_pending",
        "handoffs",
        ["workspace_id", "lead_id"],
        unique=True,
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_table(
        "objections",
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column(
            "category",
            postgresql.ENUM(name="objection_category", create_type=False),
            nullable=False,
        ),
        sa.Column("customer_words", sa.Text(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_by_member_id", sa.Uuid(), nullable=True),
        sa.Column("raised_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("OPEN", "RESOLVED", "UNRESOLVED", name="objection_status"),
            server_default="OPEN",
            nullable=False,
        ),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_id", sa.Uuid(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_by_member_id", sa.Uuid(), nullable=True),
        sa.Column("settled_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'OPEN') = (settled_at IS NULL)",
            name=op.f("ck_objections_settled_matches_status"),
        ),
        sa.CheckConstraint(
            "length(btrim(customer_words)) > 0", name=op.f("ck_objections_words_not_blank")
        ),
        sa.CheckConstraint(
            "responded_at IS NULL OR responded_at >= raised_at",
            name=op.f("ck_objections_responded_after"),
        ),
        sa.CheckConstraint(
            "settled_at IS NULL OR settled_at >= raised_at",
            name=op.f("ck_objections_settled_after"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_objections_workspace_id_lead_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "pipeline_id", "stage_id"],
            ["stages.workspace_id", "stages.pipeline_id", "stages.id"],
            name=op.f("fk_objections_workspace_id_pipeline_id_stage_id_stages"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "response_id"],
            ["objection_responses.workspace_id", "objection_responses.id"],
            name=op.f("fk_objections_workspace_id_response_id_objection_responses"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_objections")),
    )
    op.create_index(
        "ix_objections_lead",
        "objections",
        ["workspace_id", "lead_id", "raised_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_objections_open",
        "objections",
        ["workspace_id", "lead_id"],
        unique=False,
        postgresql_where=sa.text("status = 'OPEN'"),
    )
    op.create_index(
        "ix_objections_raised", "objections", ["workspace_id", "raised_at", "id"], unique=False
    )
    op.create_index(
        "ix_objections_response", "objections", ["workspace_id", "response_id"], unique=False
    )
    op.add_column("domain_events", sa.Column("lead_id", sa.Uuid(), nullable=True))
    op.add_column(
        "domain_events",
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_domain_events_lead",
        "domain_events",
        ["workspace_id", "lead_id", "occurred_at", "id"],
        unique=False,
        postgresql_where=sa.text("lead_id IS NOT NULL"),
    )
    op.add_column(
        "leads", sa.Column("next_follow_up_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("leads", sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "leads", sa.Column("cadence_paused_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_leads_last_activity", "leads", ["workspace_id", "last_activity_at", "id"], unique=False
    )
    op.create_index(
        "ix_leads_next_follow_up",
        "leads",
        ["workspace_id", "next_follow_up_at", "id"],
        unique=False,
    )
    # Lead events written before this revision belong to their lead's timeline.
    op.execute("UPDATE domain_events SET lead_id = subject_id WHERE subject_type = 'lead'")
    op.execute("UPDATE domain_events SET recorded_at = occurred_at")


def downgrade() -> None:
    op.drop_index("ix_leads_next_follow_up", table_name="leads")
    op.drop_index("ix_leads_last_activity", table_name="leads")
    op.drop_column("leads", "cadence_paused_at")
    op.drop_column("leads", "last_activity_at")
    op.drop_column("leads", "next_follow_up_at")
    op.drop_index(
        "ix_domain_events_lead",
        table_name="domain_events",
        postgresql_where=sa.text("lead_id IS NOT NULL"),
    )
    op.drop_column("domain_events", "recorded_at")
    op.drop_column("domain_events", "lead_id")
    op.drop_index("ix_objections_response", table_name="objections")
    op.drop_index("ix_objections_raised", table_name="objections")
    op.drop_index(
        "ix_objections_open", table_name="objections", postgresql_where=sa.text("status = 'OPEN'")
    )
    op.drop_index("ix_objections_lead", table_name="objections")
    op.drop_table("objections")
    op.drop_index(
        "uq_handoffs_pending", table_name="handoffs", postgresql_where=sa.text("status = 'PENDING'")
    )
    op.drop_index(
        "ix_handoffs_pending_owner",
        table_name="handoffs",
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.drop_index("ix_handoffs_lead", table_name="handoffs")
    op.drop_index("ix_handoffs_handed", table_name="handoffs")
    op.drop_table("handoffs")
    op.drop_index(
        "uq_activities_external_id",
        table_name="activities",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_index("ix_activities_lead", table_name="activities")
    op.drop_index(
        "ix_activities_due",
        table_name="activities",
        postgresql_where=sa.text("status = 'PLANNED' AND deleted_at IS NULL"),
    )
    op.drop_index(
        "ix_activities_agenda",
        table_name="activities",
        postgresql_where=sa.text("status = 'PLANNED' AND deleted_at IS NULL"),
    )
    op.drop_table("activities")
    op.drop_index("uq_assignment_rules_source", table_name="assignment_rules")
    op.drop_table("assignment_rules")
    op.drop_index("ix_objection_responses_category", table_name="objection_responses")
    op.drop_table("objection_responses")
    op.drop_table("follow_up_cadences")
    for enum_type in ENUM_TYPES:
        op.execute(f"DROP TYPE {enum_type}")
