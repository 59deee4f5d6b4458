"""reporting: documented views for BI tools that speak SQL, read by roles bound to one workspace

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:00:00.000000

- The schema `reporting` holds views over the sales data with human-readable columns (stage,
  pipeline and owner names joined in, enums as text, durations in seconds) and nothing secret
  (no API key, no activity body). Deleted leads, everything recorded on them, and deleted
  activities are left out. Every view and every column carries a COMMENT that states its
  definition; they are those of the product's metrics (docs/reporting.md).
- `reporting.readers` maps a login role to the one workspace it may read. It is not a tenant
  table: it is read by the views only, as their owner, and by the command line.
- Every view filters explicitly by the reader's workspace, `workspace_id = (SELECT workspace_id
  FROM reporting.readers WHERE role_name = current_user)`, and is a `security_barrier` view, so
  that a function in a reader's query never sees a row of another workspace. A view reads its
  tables with its owner's privileges while current_user stays the reader: the explicit filter
  is what confines a reader, since a reader may set salesgraph.workspace_id or
  salesgraph.all_workspaces to anything it likes, and a superuser owner is not bound by row-level
  security at all.
- When the owner is no superuser, FORCE ROW LEVEL SECURITY (migration 0004) binds the owner's
  reads through the views too. The policy `reporting_read` (SELECT only, for the owner only)
  lets those reads see the rows of the workspace registered for the querying role, the same
  condition as the views' own filter, on each table the views read.
- `salesgraph_reporting` is the group role of the readers: NOLOGIN, with USAGE on the schema and
  SELECT on each view, and nothing else (not the public tables, not reporting.readers). Grants
  are given view by view, deliberately not by default privileges: a view added later that
  forgot the readers' filter must be unreadable until a migration grants it, not readable by
  every reader at once. `salesgraph reporting-role create` makes a reader (a member of the group
  with a row in reporting.readers).

Roles belong to the whole server, not one database: the downgrade drops the schema, the views
and the policies and leaves the group and the readers' login roles (`salesgraph reporting-role
list` names them beforehand).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER_GROUP = "salesgraph_reporting"

# The workspace of the querying role: NULL for any role that is not a registered reader, and
# `x = NULL` holds for no row.
READERS_WORKSPACE = (
    "(SELECT r.workspace_id FROM reporting.readers r WHERE r.role_name = current_user)"
)

# The tables the views read: the owner's reads through the views need `reporting_read` there.
READ_TABLES = (
    "members",
    "teams",
    "pipelines",
    "stages",
    "leads",
    "stage_visits",
    "lead_stage_totals",
    "activities",
    "objections",
    "objection_responses",
)

CREATE_READER_GROUP = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'salesgraph_reporting') THEN
        BEGIN
            CREATE ROLE salesgraph_reporting
                NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by a migration of another database
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'the role salesgraph_reporting is missing and % may not create it',
                    current_user
                    USING HINT = 'As a superuser: CREATE ROLE salesgraph_reporting NOLOGIN;';
        END;
    END IF;
    IF EXISTS (
        SELECT FROM pg_roles
        WHERE rolname = 'salesgraph_reporting' AND (rolsuper OR rolbypassrls)
    ) THEN
        RAISE EXCEPTION 'the role salesgraph_reporting bypasses row-level security'
            USING HINT = 'ALTER ROLE salesgraph_reporting NOSUPERUSER NOBYPASSRLS;';
    END IF;
END
$$
"""

CREATE_READERS = """
CREATE TABLE reporting.readers (
    role_name name PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class View:
    """A view of the reporting schema: its columns (name, SQL expression, documentation) are
    listed together, so that none can be added without its comment."""

    name: str
    comment: str
    columns: tuple[tuple[str, str, str], ...]
    source: str

    def create(self) -> str:
        select = ",\n    ".join(f"{expression} AS {name}" for name, expression, _ in self.columns)
        return (
            f"CREATE VIEW reporting.{self.name} WITH (security_barrier) AS\n"
            f"SELECT\n    {select}\n{self.source}"
        )


def _utc_day(column: str) -> str:
    return f"({column} AT TIME ZONE 'UTC')::date"


def _seconds(interval: str) -> str:
    return f"extract(epoch FROM {interval})"


def _live_lead(alias: str) -> str:
    """The row's lead is not deleted."""
    return (
        f"JOIN leads l ON l.workspace_id = {alias}.workspace_id AND l.id = {alias}.lead_id"
        " AND l.deleted_at IS NULL"
    )


def _stage_and_pipeline(alias: str, *, outer: bool = False) -> str:
    join = "LEFT JOIN" if outer else "JOIN"
    return (
        f"{join} stages s ON s.workspace_id = {alias}.workspace_id AND s.id = {alias}.stage_id\n"
        f"{join} pipelines p ON p.workspace_id = s.workspace_id AND p.id = s.pipeline_id"
    )


PIPELINES = View(
    name="pipelines",
    comment="The workspace's pipelines: labels for pipeline_id in the other views.",
    columns=(
        ("pipeline_id", "p.id", "The pipeline's id."),
        ("pipeline_name", "p.name", "The pipeline's name."),
        (
            "template",
            "p.template::text",
            "The stage template it was created from: SEVEN_STAGE, FIVE_STAGE, NINE_STAGE or "
            "CUSTOM.",
        ),
        ("archived_at", "p.archived_at", "When it was archived; null while in use."),
        ("created_at", "p.created_at", "When it was created."),
    ),
    source=f"FROM pipelines p\nWHERE p.workspace_id = {READERS_WORKSPACE}",
)

STAGES = View(
    name="stages",
    comment=(
        "The stages of every pipeline, archived ones included (history may refer to them): "
        "labels and order for stage_id in the other views."
    ),
    columns=(
        ("stage_id", "s.id", "The stage's id."),
        ("pipeline_id", "s.pipeline_id", "The pipeline the stage belongs to."),
        ("pipeline_name", "p.name", "The pipeline's name."),
        ("stage_name", "s.name", "The stage's name."),
        (
            "position",
            "s.position",
            "The stage's place in its pipeline now, from 1; moving to a higher position is "
            "moving forward.",
        ),
        (
            "win_probability",
            "s.win_probability",
            "The chance, from 0 to 1, that a lead at this stage is won: the weight of the "
            "weighted forecast.",
        ),
        (
            "target_days",
            "s.target_days",
            "Days a lead may stay at the stage before it counts as stalled; null: no target.",
        ),
        ("archived_at", "s.archived_at", "When the stage was archived; null while in use."),
    ),
    source=(
        "FROM stages s\n"
        "JOIN pipelines p ON p.workspace_id = s.workspace_id AND p.id = s.pipeline_id\n"
        f"WHERE s.workspace_id = {READERS_WORKSPACE}"
    ),
)

MEMBERS = View(
    name="members",
    comment=(
        "The workspace's members (people, not API keys): labels for owner_id, assignee_id and "
        "the actors in the other views."
    ),
    columns=(
        ("member_id", "m.id", "The member's id."),
        ("name", "m.name", "The member's name."),
        ("email", "m.email", "The member's email address (lower case)."),
        ("role", "m.role::text", "ADMIN, MANAGER, REP or VIEWER."),
        ("is_active", "m.is_active", "False once the member has been deactivated."),
    ),
    source=f"FROM members m\nWHERE m.workspace_id = {READERS_WORKSPACE}",
)

LEADS = View(
    name="leads",
    comment=(
        "Leads as they are now, one row per lead; deleted leads are left out. Contact email "
        "and phone are not reported."
    ),
    columns=(
        ("lead_id", "l.id", "The lead's id."),
        ("title", "l.title", "The lead's title."),
        ("company_name", "l.company_name", "The prospect's company."),
        ("contact_name", "l.contact_name", "The person to talk to."),
        ("source", "l.source", "Where the lead came from (free text, as given)."),
        ("pipeline_id", "l.pipeline_id", "The lead's pipeline."),
        ("pipeline_name", "p.name", "The pipeline's name."),
        (
            "stage_id",
            "l.stage_id",
            "The lead's current stage; for a won or lost lead, the stage it was closed at.",
        ),
        ("stage_name", "s.name", "The current stage's name."),
        ("stage_position", "s.position", "The current stage's position in its pipeline now."),
        ("stage_entered_at", "l.stage_entered_at", "When the lead entered its current stage."),
        ("status", "l.status::text", "OPEN, WON or LOST: the lead's latest outcome."),
        ("lost_reason", "l.lost_reason", "Why it was lost; null unless LOST."),
        (
            "closed_at",
            "l.closed_at",
            "When it was won or lost (the latest time, if it was reopened); null while OPEN.",
        ),
        ("won_at", "CASE WHEN l.status = 'WON' THEN l.closed_at END", "closed_at of a WON lead."),
        (
            "sales_cycle_days",
            f"CASE WHEN l.status = 'WON' THEN {_seconds('l.closed_at - l.created_at')} / 86400 END",
            "For a WON lead, the days from its creation to its win (with fractions): the sales "
            "cycle whose median the metrics report.",
        ),
        (
            "value_amount",
            "l.value_amount",
            "The deal's value, exact (numeric); null when unknown.",
        ),
        ("value_currency", "l.value_currency", "ISO 4217 code of value_amount."),
        (
            "stage_win_probability",
            "s.win_probability",
            "The current stage's win probability, from 0 to 1.",
        ),
        (
            "weighted_value",
            "CASE WHEN l.status = 'OPEN' THEN l.value_amount * s.win_probability END",
            "value_amount x stage_win_probability for an OPEN lead (its share of the weighted "
            "forecast); null for a closed lead or one without a value.",
        ),
        (
            "expected_close_date",
            "l.expected_close_date",
            "The owner's estimate of the day it will close.",
        ),
        ("owner_id", "l.owner_id", "The member who owns the lead; null: unassigned."),
        ("owner_name", "o.name", "The owner's name."),
        ("team_id", "l.team_id", "The team the lead belongs to; null: none."),
        ("team_name", "t.name", "The team's name."),
        ("need", "l.need::text", "Qualification, need: UNKNOWN, MET or NOT_MET."),
        ("budget", "l.budget::text", "Qualification, budget: UNKNOWN, MET or NOT_MET."),
        ("authority", "l.authority::text", "Qualification, authority: UNKNOWN, MET or NOT_MET."),
        ("timing", "l.timing::text", "Qualification, timing: UNKNOWN, MET or NOT_MET."),
        ("score", "l.score", "Qualification score from 0 to 100; null: not scored."),
        (
            "referred_by_lead_id",
            "l.referred_by_id",
            "The lead that referred this one; null: none.",
        ),
        ("custom_fields", "l.custom_fields", "The workspace's own fields, as a JSON object."),
        (
            "last_activity_at",
            "l.last_activity_at",
            "When its latest completed activity happened.",
        ),
        (
            "next_follow_up_at",
            "l.next_follow_up_at",
            "When its earliest planned activity is due.",
        ),
        ("created_at", "l.created_at", "When the lead was created."),
        ("updated_at", "l.updated_at", "When the lead was last changed."),
    ),
    source=(
        "FROM leads l\n"
        "JOIN stages s ON s.workspace_id = l.workspace_id AND s.id = l.stage_id\n"
        "JOIN pipelines p ON p.workspace_id = l.workspace_id AND p.id = l.pipeline_id\n"
        "LEFT JOIN members o ON o.workspace_id = l.workspace_id AND o.id = l.owner_id\n"
        "LEFT JOIN teams t ON t.workspace_id = l.workspace_id AND t.id = l.team_id\n"
        f"WHERE l.workspace_id = {READERS_WORKSPACE} AND l.deleted_at IS NULL"
    ),
)

STAGE_VISITS = View(
    name="stage_visits",
    comment=(
        "The stage history: one row per visit, a lead's stay in a stage from its entry to its "
        "exit, append-only. EVERY_ENTRY metrics count these rows. Visits of deleted leads are "
        "left out."
    ),
    columns=(
        ("visit_id", "v.id", "The visit's id."),
        ("lead_id", "v.lead_id", "The lead."),
        ("lead_title", "l.title", "The lead's title."),
        ("pipeline_id", "v.pipeline_id", "The pipeline of the stage."),
        ("pipeline_name", "p.name", "The pipeline's name."),
        ("stage_id", "v.stage_id", "The stage visited."),
        ("stage_name", "s.name", "The stage's name now."),
        (
            "stage_position",
            "v.stage_position",
            "The stage's position when the lead entered it (stages can be reordered later).",
        ),
        ("entered_at", "v.entered_at", "When the lead entered the stage."),
        (
            "entry",
            "v.entry::text",
            "How it came: CREATED (the lead was created here), FORWARD, BACKWARD or REOPENED.",
        ),
        ("exited_at", "v.exited_at", "When it left the stage; null while the lead is there."),
        (
            "exit",
            "v.exit::text",
            "How it left: FORWARD (to a higher position), BACKWARD, WON or LOST; null while "
            "the lead is there.",
        ),
        (
            "seconds_in_stage",
            _seconds("v.exited_at - v.entered_at"),
            "exited_at - entered_at in seconds; null while the visit is open. timeInStage in "
            "EVERY_ENTRY mode is taken over the finished visits begun in the window.",
        ),
        (
            "advanced",
            "coalesce(v.exit IN ('FORWARD', 'WON'), false)",
            "The visit ended FORWARD or WON: advanced(S) in EVERY_ENTRY mode.",
        ),
        (
            "lost",
            "coalesce(v.exit = 'LOST', false)",
            "The lead was lost during this visit (at exited_at): what lost(S) counts.",
        ),
        (
            "is_first_entry",
            "NOT EXISTS (SELECT FROM stage_visits e WHERE e.workspace_id = v.workspace_id"
            " AND e.lead_id = v.lead_id AND e.stage_id = v.stage_id"
            " AND (e.entered_at, e.id) < (v.entered_at, v.id))",
            "This is the lead's first visit to the stage: what entered(S) counts in FIRST_ENTRY "
            "mode (when entered_at lies in the window).",
        ),
        ("entry_reason", "v.entry_reason", "The reason given for the move in, if any."),
        ("exit_reason", "v.exit_reason", "The reason given for the move out, if any."),
        (
            "entered_by_member_id",
            "v.entered_by_member_id",
            "The member who moved the lead in; null when an API key without a member did.",
        ),
        (
            "exited_by_member_id",
            "v.exited_by_member_id",
            "The member who moved the lead out; null while open or when an API key did.",
        ),
    ),
    source=(
        "FROM stage_visits v\n"
        f"{_live_lead('v')}\n"
        f"{_stage_and_pipeline('v')}\n"
        f"WHERE v.workspace_id = {READERS_WORKSPACE}"
    ),
)

LEAD_STAGES = View(
    name="lead_stages",
    comment=(
        "All of a lead's visits to one stage, summed: one row per lead and stage it ever "
        "entered. FIRST_ENTRY metrics count these rows. Deleted leads are left out."
    ),
    columns=(
        ("lead_id", "t.lead_id", "The lead."),
        ("lead_title", "l.title", "The lead's title."),
        ("pipeline_id", "t.pipeline_id", "The pipeline of the stage."),
        ("pipeline_name", "p.name", "The pipeline's name."),
        ("stage_id", "t.stage_id", "The stage."),
        ("stage_name", "s.name", "The stage's name now."),
        (
            "first_entered_at",
            "t.first_entered_at",
            "The lead's first entry into the stage: entered(S) in FIRST_ENTRY mode counts the "
            "leads whose first_entered_at lies in the window.",
        ),
        ("visit_count", "t.visit_count", "How many times the lead entered the stage."),
        ("in_stage_now", "t.open_visit_count > 0", "The lead is at this stage now."),
        (
            "seconds_in_stage",
            _seconds("t.time_in_stage"),
            "Total seconds over the lead's finished visits to the stage. timeInStage in "
            "FIRST_ENTRY mode takes it for the leads that have left the stage for good "
            "(in_stage_now is false).",
        ),
        (
            "advanced",
            "t.advanced",
            "Some visit of the lead to the stage ended FORWARD or WON: advanced(S) in "
            "FIRST_ENTRY mode.",
        ),
        ("last_exited_at", "t.last_exited_at", "When the lead last left the stage."),
    ),
    source=(
        "FROM lead_stage_totals t\n"
        f"{_live_lead('t')}\n"
        f"{_stage_and_pipeline('t')}\n"
        f"WHERE t.workspace_id = {READERS_WORKSPACE}"
    ),
)

TOUCH = (
    "a.status = 'COMPLETED' AND a.direction = 'OUTBOUND'"
    " AND a.type IN ('CALL', 'EMAIL', 'MEETING', 'DEMO', 'MESSAGE', 'CHAT')"
)

ACTIVITIES = View(
    name="activities",
    comment=(
        "Activities on leads: done (COMPLETED), to do (PLANNED) or called off (CANCELED). "
        "Deleted activities and those of deleted leads are left out; the body is not "
        "reported."
    ),
    columns=(
        ("activity_id", "a.id", "The activity's id."),
        ("lead_id", "a.lead_id", "The lead it was done on."),
        ("lead_title", "l.title", "The lead's title."),
        (
            "type",
            "a.type::text",
            "CALL, EMAIL, MEETING, DEMO, MESSAGE, CHAT, NOTE, TASK, GIFT, TRIAL, QUOTE or OTHER.",
        ),
        ("status", "a.status::text", "PLANNED, COMPLETED or CANCELED."),
        (
            "direction",
            "a.direction::text",
            "INBOUND (the customer reached out) or OUTBOUND (we did); null: not given.",
        ),
        ("subject", "a.subject", "Its subject line."),
        (
            "outcome",
            "a.outcome::text",
            "How a completed activity went: POSITIVE, NEUTRAL, NEGATIVE or NO_RESPONSE.",
        ),
        (
            "approach_method",
            "a.approach_method::text",
            "How a presentation opened: GIFT, QUESTION or PRODUCT_TRIAL.",
        ),
        (
            "closing_technique",
            "a.closing_technique::text",
            "How a close was attempted: ALTERNATIVE_CHOICE, INCENTIVE or URGENCY.",
        ),
        (
            "pipeline_id",
            "s.pipeline_id",
            "The pipeline of stage_id; null for an activity not done yet.",
        ),
        ("pipeline_name", "p.name", "The pipeline's name."),
        (
            "stage_id",
            "a.stage_id",
            "For a completed activity, the stage the lead was at when it happened: actions(S) "
            "counts completed activities by this stage and occurred_at. Null otherwise.",
        ),
        ("stage_name", "s.name", "The stage's name."),
        ("due_at", "a.due_at", "When a planned activity is (was) due."),
        ("occurred_at", "a.occurred_at", "When a completed activity happened."),
        ("duration_seconds", "a.duration_seconds", "How long it took, if recorded."),
        (
            "is_touch",
            TOUCH,
            "A completed OUTBOUND CALL, EMAIL, MEETING, DEMO, MESSAGE or CHAT: what 'touches "
            "before a win' counts (those with occurred_at before the lead's won_at).",
        ),
        ("assignee_id", "a.assignee_id", "The member who is to do it (or did)."),
        ("assignee_name", "m.name", "The assignee's name."),
        (
            "cadence_step",
            "a.cadence_step",
            "Which follow-up of the cadence planned it (1, 2, ...); null: planned by hand.",
        ),
        ("canceled_at", "a.canceled_at", "When it was called off; null unless CANCELED."),
        ("created_at", "a.created_at", "When it was recorded."),
    ),
    source=(
        "FROM activities a\n"
        f"{_live_lead('a')}\n"
        f"{_stage_and_pipeline('a', outer=True)}\n"
        "LEFT JOIN members m ON m.workspace_id = a.workspace_id AND m.id = a.assignee_id\n"
        f"WHERE a.workspace_id = {READERS_WORKSPACE} AND a.deleted_at IS NULL"
    ),
)

OBJECTIONS = View(
    name="objections",
    comment=(
        "Objections customers raised on leads, at the stage the lead was in, and how they "
        "were met. Objections on deleted leads are left out."
    ),
    columns=(
        ("objection_id", "x.id", "The objection's id."),
        ("lead_id", "x.lead_id", "The lead it was raised on."),
        ("lead_title", "l.title", "The lead's title."),
        (
            "category",
            "x.category::text",
            "PRICE, NEED, TIMING, AUTHORITY, COMPETITOR, TRUST or OTHER.",
        ),
        ("customer_words", "x.customer_words", "What the customer said."),
        ("pipeline_id", "x.pipeline_id", "The pipeline of the stage."),
        ("pipeline_name", "p.name", "The pipeline's name."),
        ("stage_id", "x.stage_id", "The stage the lead was at when it was raised."),
        ("stage_name", "s.name", "The stage's name."),
        ("raised_at", "x.raised_at", "When it was raised: objections are counted by this."),
        (
            "status",
            "x.status::text",
            "OPEN, RESOLVED or UNRESOLVED. The resolution rate is RESOLVED / all raised.",
        ),
        ("response", "x.response", "How it was answered, if it was."),
        ("responded_at", "x.responded_at", "When it was answered."),
        ("response_id", "x.response_id", "The library response used, if any."),
        ("response_title", "r.title", "The library response's title."),
        ("settled_at", "x.settled_at", "When it was marked RESOLVED or UNRESOLVED."),
        (
            "seconds_to_resolution",
            f"CASE WHEN x.status = 'RESOLVED' THEN {_seconds('x.settled_at - x.raised_at')} END",
            "settled_at - raised_at in seconds for a RESOLVED objection; null otherwise.",
        ),
    ),
    source=(
        "FROM objections x\n"
        f"{_live_lead('x')}\n"
        f"{_stage_and_pipeline('x')}\n"
        "LEFT JOIN objection_responses r"
        " ON r.workspace_id = x.workspace_id AND r.id = x.response_id\n"
        f"WHERE x.workspace_id = {READERS_WORKSPACE}"
    ),
)

# The funnel's events, one row each, dated by the UTC day they happened; funnel_daily counts
# them per stage and day. Sums of integers are bigint, like the counts.
FUNNEL_EVENTS = f"""
    SELECT v.workspace_id, v.stage_id, {_utc_day("v.entered_at")} AS day,
           1 AS visit, coalesce(v.exit IN ('FORWARD', 'WON'), false)::int AS visit_advanced,
           0 AS first_entry, 0 AS first_entry_advanced, NULL::uuid AS lost_lead_id,
           0 AS completed_activity
    FROM stage_visits v
    {_live_lead("v")}
    WHERE v.workspace_id = {READERS_WORKSPACE}
    UNION ALL
    SELECT t.workspace_id, t.stage_id, {_utc_day("t.first_entered_at")},
           0, 0, 1, t.advanced::int, NULL, 0
    FROM lead_stage_totals t
    {_live_lead("t")}
    WHERE t.workspace_id = {READERS_WORKSPACE}
    UNION ALL
    SELECT v.workspace_id, v.stage_id, {_utc_day("v.exited_at")}, 0, 0, 0, 0, v.lead_id, 0
    FROM stage_visits v
    {_live_lead("v")}
    WHERE v.workspace_id = {READERS_WORKSPACE} AND v.exit = 'LOST'
    UNION ALL
    SELECT a.workspace_id, a.stage_id, {_utc_day("a.occurred_at")}, 0, 0, 0, 0, NULL, 1
    FROM activities a
    {_live_lead("a")}
    WHERE a.workspace_id = {READERS_WORKSPACE}
      AND a.status = 'COMPLETED' AND a.deleted_at IS NULL
"""  # noqa: S608 - constants only

FUNNEL_DAILY = View(
    name="funnel_daily",
    comment=(
        "The funnel per pipeline, stage and UTC day: one row per stage and day on which "
        "something happened there. Sum the rows of the days of a window to get the window's "
        "entered, advanced and actions; divide advanced by entered for the conversion rate. "
        "Deleted leads and deleted activities are left out."
    ),
    columns=(
        ("day", "f.day", "The UTC calendar day."),
        ("pipeline_id", "s.pipeline_id", "The pipeline."),
        ("pipeline_name", "p.name", "The pipeline's name."),
        ("stage_id", "f.stage_id", "The stage."),
        ("stage_name", "s.name", "The stage's name now."),
        ("stage_position", "s.position", "The stage's position in its pipeline now."),
        (
            "visits_entered",
            "f.visits_entered",
            "Visits of the stage that began on the day: entered(S) in EVERY_ENTRY mode.",
        ),
        (
            "visits_advanced",
            "f.visits_advanced",
            "Of visits_entered, those that ended FORWARD or WON, at any time up to now: "
            "advanced(S) in EVERY_ENTRY mode.",
        ),
        (
            "first_entries",
            "f.first_entries",
            "Leads whose first entry into the stage was on the day: entered(S) in FIRST_ENTRY "
            "mode (the default).",
        ),
        (
            "first_entries_advanced",
            "f.first_entries_advanced",
            "Of first_entries, the leads of which some visit to the stage ended FORWARD or WON, "
            "at any time up to now: advanced(S) in FIRST_ENTRY mode.",
        ),
        (
            "leads_lost",
            "f.leads_lost",
            "Leads lost while at the stage, on the day: lost(S). A lead lost at the stage, "
            "reopened and lost there again on another day counts on both days.",
        ),
        (
            "completed_activities",
            "f.completed_activities",
            "Completed activities recorded at the stage that occurred on the day: actions(S).",
        ),
    ),
    source=(
        "FROM (\n"  # noqa: S608 - constants only
        "    SELECT e.workspace_id, e.stage_id, e.day,\n"
        "           sum(e.visit) AS visits_entered,\n"
        "           sum(e.visit_advanced) AS visits_advanced,\n"
        "           sum(e.first_entry) AS first_entries,\n"
        "           sum(e.first_entry_advanced) AS first_entries_advanced,\n"
        "           count(DISTINCT e.lost_lead_id) AS leads_lost,\n"
        "           sum(e.completed_activity) AS completed_activities\n"
        f"    FROM ({FUNNEL_EVENTS}) e\n"
        "    GROUP BY e.workspace_id, e.stage_id, e.day\n"
        ") f\n"
        "JOIN stages s ON s.workspace_id = f.workspace_id AND s.id = f.stage_id\n"
        "JOIN pipelines p ON p.workspace_id = s.workspace_id AND p.id = s.pipeline_id"
    ),
)

VIEWS = (
    PIPELINES,
    STAGES,
    MEMBERS,
    LEADS,
    STAGE_VISITS,
    LEAD_STAGES,
    ACTIVITIES,
    OBJECTIONS,
    FUNNEL_DAILY,
)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute(CREATE_READER_GROUP)
    op.execute("CREATE SCHEMA reporting")
    op.execute(
        "COMMENT ON SCHEMA reporting IS "
        + _literal(
            "Views of one workspace's sales data for BI tools; each reader role sees the "
            "workspace it is registered for (salesgraph reporting-role create)."
        )
    )
    op.execute(CREATE_READERS)
    op.execute(
        "COMMENT ON TABLE reporting.readers IS "
        + _literal("The login roles that read the reporting views, and the workspace of each.")
    )
    for table in READ_TABLES:
        op.execute(
            f"CREATE POLICY reporting_read ON {table} FOR SELECT TO CURRENT_USER"
            f" USING (workspace_id = {READERS_WORKSPACE})"
        )
    op.execute(f"GRANT USAGE ON SCHEMA reporting TO {READER_GROUP}")
    for view in VIEWS:
        op.execute(view.create())
        op.execute(f"COMMENT ON VIEW reporting.{view.name} IS {_literal(view.comment)}")
        for name, _, comment in view.columns:
            op.execute(f"COMMENT ON COLUMN reporting.{view.name}.{name} IS {_literal(comment)}")
        op.execute(f"GRANT SELECT ON reporting.{view.name} TO {READER_GROUP}")


def downgrade() -> None:
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW reporting.{view.name}")
    for table in READ_TABLES:
        op.execute(f"DROP POLICY reporting_read ON {table}")
    op.execute("DROP TABLE reporting.readers")
    op.execute("DROP SCHEMA reporting")
