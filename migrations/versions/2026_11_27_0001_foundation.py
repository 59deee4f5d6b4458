"""foundation: workspaces, pipelines, leads, stage history, events

Revision ID: 0001
Revises:
Create Date: 2026-11-27 08:13:12.299398
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ENUM_TYPES = (
    "member_role",
    "pipeline_template",
    "qualification",
    "lead_status",
    "visit_entry",
    "visit_exit",
)

# Stage history is append-only: a visit is inserted on entry and closed exactly once on exit.
STAGE_VISITS_APPEND_ONLY = """
CREATE FUNCTION stage_visits_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'stage history is append-only: visits cannot be deleted';
    END IF;
    IF OLD.exited_at IS NOT NULL
       OR (NEW.workspace_id, NEW.id, NEW.lead_id, NEW.pipeline_id, NEW.stage_id,
           NEW.stage_position, NEW.entered_at, NEW.entry, NEW.entered_by_member_id,
           NEW.entered_by_api_key_id, NEW.entry_reason)
          IS DISTINCT FROM
          (OLD.workspace_id, OLD.id, OLD.lead_id, OLD.pipeline_id, OLD.stage_id,
           OLD.stage_position, OLD.entered_at, OLD.entry, OLD.entered_by_member_id,
           OLD.entered_by_api_key_id, OLD.entry_reason)
    THEN
        RAISE EXCEPTION 'stage history is append-only: a visit can only be closed, once';
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
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
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_workspaces_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    op.create_table(
        "domain_events",
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("subject_type", sa.String(length=50), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("actor_member_id", sa.Uuid(), nullable=True),
        sa.Column("actor_api_key_id", sa.Uuid(), nullable=True),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_domain_events_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_domain_events")),
    )
    op.create_index(
        "ix_domain_events_stream", "domain_events", ["workspace_id", "id"], unique=False
    )
    op.create_index(
        "ix_domain_events_subject",
        "domain_events",
        ["workspace_id", "subject_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_table(
        "members",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role", sa.Enum("ADMIN", "MANAGER", "REP", "VIEWER", name="member_role"), nullable=False
        ),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_members_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_members")),
        sa.UniqueConstraint("workspace_id", "email", name=op.f("uq_members_workspace_id_email")),
    )
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "template",
            sa.Enum("SEVEN_STAGE", "FIVE_STAGE", "NINE_STAGE", "CUSTOM", name="pipeline_template"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_pipelines_name_not_blank")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_pipelines_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_pipelines")),
    )
    op.create_table(
        "teams",
        sa.Column("name", sa.String(length=200), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_teams_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_teams")),
    )
    op.create_index(
        "uq_teams_name", "teams", ["workspace_id", sa.literal_column("lower(name)")], unique=True
    )
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("scopes", sa.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "scopes <@ ARRAY['read','write','admin']::varchar[] AND cardinality(scopes) > 0",
            name=op.f("ck_api_keys_known_scopes"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_api_keys_workspace_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "stages",
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("win_probability", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("target_days", sa.Integer(), nullable=True),
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
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_stages_name_not_blank")),
        sa.CheckConstraint("position >= 1", name=op.f("ck_stages_position_positive")),
        sa.CheckConstraint(
            "target_days IS NULL OR target_days > 0", name=op.f("ck_stages_target_days_positive")
        ),
        sa.CheckConstraint(
            "win_probability BETWEEN 0 AND 1", name=op.f("ck_stages_win_probability_range")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "pipeline_id"],
            ["pipelines.workspace_id", "pipelines.id"],
            name=op.f("fk_stages_workspace_id_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_stages")),
        sa.UniqueConstraint(
            "workspace_id", "pipeline_id", "id", name=op.f("uq_stages_workspace_id_pipeline_id_id")
        ),
        sa.UniqueConstraint(
            "workspace_id",
            "pipeline_id",
            "position",
            deferrable=True,
            initially="DEFERRED",
            name=op.f("uq_stages_workspace_id_pipeline_id_position"),
        ),
    )
    op.create_index(
        "uq_stages_active_name",
        "stages",
        ["workspace_id", "pipeline_id", sa.literal_column("lower(name)")],
        unique=True,
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.create_table(
        "team_memberships",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_team_memberships_workspace_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "team_id"],
            ["teams.workspace_id", "teams.id"],
            name=op.f("fk_team_memberships_workspace_id_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "team_id", "member_id", name=op.f("pk_team_memberships")
        ),
    )
    op.create_table(
        "leads",
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("company_name", sa.String(length=300), nullable=True),
        sa.Column("contact_name", sa.String(length=300), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("contact_phone", sa.String(length=50), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column(
            "stage_entered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("value_amount", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("value_currency", sa.String(length=3), nullable=True),
        sa.Column(
            "need",
            sa.Enum("UNKNOWN", "MET", "NOT_MET", name="qualification"),
            server_default="UNKNOWN",
            nullable=False,
        ),
        sa.Column(
            "budget",
            sa.Enum("UNKNOWN", "MET", "NOT_MET", name="qualification"),
            server_default="UNKNOWN",
            nullable=False,
        ),
        sa.Column(
            "authority",
            sa.Enum("UNKNOWN", "MET", "NOT_MET", name="qualification"),
            server_default="UNKNOWN",
            nullable=False,
        ),
        sa.Column(
            "timing",
            sa.Enum("UNKNOWN", "MET", "NOT_MET", name="qualification"),
            server_default="UNKNOWN",
            nullable=False,
        ),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("OPEN", "WON", "LOST", name="lead_status"),
            server_default="OPEN",
            nullable=False,
        ),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("referred_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
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
            "(status = 'OPEN') = (closed_at IS NULL)",
            name=op.f("ck_leads_closed_at_matches_status"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(custom_fields) = 'object'", name=op.f("ck_leads_custom_fields_object")
        ),
        sa.CheckConstraint(
            "status = 'LOST' OR lost_reason IS NULL", name=op.f("ck_leads_lost_reason_when_lost")
        ),
        sa.CheckConstraint(
            "(value_amount IS NULL) = (value_currency IS NULL)",
            name=op.f("ck_leads_value_has_currency"),
        ),
        sa.CheckConstraint("length(btrim(title)) > 0", name=op.f("ck_leads_title_not_blank")),
        sa.CheckConstraint(
            "referred_by_id IS NULL OR referred_by_id <> id",
            name=op.f("ck_leads_not_self_referred"),
        ),
        sa.CheckConstraint(
            "score IS NULL OR score BETWEEN 0 AND 100", name=op.f("ck_leads_score_range")
        ),
        sa.CheckConstraint(
            "value_amount IS NULL OR value_amount >= 0", name=op.f("ck_leads_value_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "owner_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_leads_workspace_id_owner_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "pipeline_id", "stage_id"],
            ["stages.workspace_id", "stages.pipeline_id", "stages.id"],
            name=op.f("fk_leads_workspace_id_pipeline_id_stage_id_stages"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "referred_by_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_leads_workspace_id_referred_by_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "team_id"],
            ["teams.workspace_id", "teams.id"],
            name=op.f("fk_leads_workspace_id_team_id_teams"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_leads")),
    )
    op.create_index(
        "ix_leads_board", "leads", ["workspace_id", "stage_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_leads_created", "leads", ["workspace_id", "created_at", "id"], unique=False)
    op.create_index("ix_leads_owner", "leads", ["workspace_id", "owner_id"], unique=False)
    op.create_index(
        "ix_leads_pipeline_status", "leads", ["workspace_id", "pipeline_id", "status"], unique=False
    )
    op.create_index(
        "ix_leads_referred_by", "leads", ["workspace_id", "referred_by_id"], unique=False
    )
    op.create_index("ix_leads_updated", "leads", ["workspace_id", "updated_at", "id"], unique=False)
    op.create_table(
        "stage_visits",
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("stage_position", sa.Integer(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "entry",
            sa.Enum("CREATED", "FORWARD", "BACKWARD", "REOPENED", name="visit_entry"),
            nullable=False,
        ),
        sa.Column("entered_by_member_id", sa.Uuid(), nullable=True),
        sa.Column("entered_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("entry_reason", sa.Text(), nullable=True),
        sa.Column("exited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "exit", sa.Enum("FORWARD", "BACKWARD", "WON", "LOST", name="visit_exit"), nullable=True
        ),
        sa.Column("exited_by_member_id", sa.Uuid(), nullable=True),
        sa.Column("exited_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("exit_reason", sa.Text(), nullable=True),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(exited_at IS NULL) = (exit IS NULL)", name=op.f("ck_stage_visits_exit_complete")
        ),
        sa.CheckConstraint(
            "exited_at IS NULL OR exited_at >= entered_at",
            name=op.f("ck_stage_visits_exit_after_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_stage_visits_workspace_id_lead_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "pipeline_id", "stage_id"],
            ["stages.workspace_id", "stages.pipeline_id", "stages.id"],
            name=op.f("fk_stage_visits_workspace_id_pipeline_id_stage_id_stages"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_stage_visits")),
    )
    op.create_index(
        "ix_stage_visits_lead",
        "stage_visits",
        ["workspace_id", "lead_id", "entered_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_stage_visits_stage",
        "stage_visits",
        ["workspace_id", "stage_id", "entered_at"],
        unique=False,
    )
    op.create_index(
        "uq_stage_visits_open_visit",
        "stage_visits",
        ["workspace_id", "lead_id"],
        unique=True,
        postgresql_where=sa.text("exited_at IS NULL"),
    )
    op.execute(STAGE_VISITS_APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER stage_visits_append_only BEFORE UPDATE OR DELETE ON stage_visits "
        "FOR EACH ROW EXECUTE FUNCTION stage_visits_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER stage_visits_append_only ON stage_visits")
    op.execute("DROP FUNCTION stage_visits_append_only()")
    op.drop_index(
        "uq_stage_visits_open_visit",
        table_name="stage_visits",
        postgresql_where=sa.text("exited_at IS NULL"),
    )
    op.drop_index("ix_stage_visits_stage", table_name="stage_visits")
    op.drop_index("ix_stage_visits_lead", table_name="stage_visits")
    op.drop_table("stage_visits")
    op.drop_index("ix_leads_updated", table_name="leads")
    op.drop_index("ix_leads_referred_by", table_name="leads")
    op.drop_index("ix_leads_pipeline_status", table_name="leads")
    op.drop_index("ix_leads_owner", table_name="leads")
    op.drop_index("ix_leads_created", table_name="leads")
    op.drop_index("ix_leads_board", table_name="leads")
    op.drop_table("leads")
    op.drop_table("team_memberships")
    op.drop_index(
        "uq_stages_active_name",
        table_name="stages",
        postgresql_where=sa.text("archived_at IS NULL"),
    )
    op.drop_table("stages")
    op.drop_table("api_keys")
    op.drop_index("uq_teams_name", table_name="teams")
    op.drop_table("teams")
    op.drop_table("pipelines")
    op.drop_table("members")
    op.drop_index("ix_domain_events_subject", table_name="domain_events")
    op.drop_index("ix_domain_events_stream", table_name="domain_events")
    op.drop_table("domain_events")
    op.drop_table("workspaces")
    for enum_type in ENUM_TYPES:
        op.execute(f"DROP TYPE {enum_type}")
