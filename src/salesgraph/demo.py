"""Deterministic demo data: a workspace whose sales history has known, printed shapes.

A demo workspace has reps in two or three teams, managers and a viewer, the seven-stage
pipeline, and leads created over about two years whose histories are simulated stage by stage:
each visit of a stage lasts a lognormal number of days around the stage's mean, then the lead
advances, moves back or is lost with the stage's probabilities (at the last stage, advancing is
winning). Some lost leads are reopened later, some leads are handed from inside sales to field
sales when they reach the presentation, and every visit gets completed activities (a Poisson
count around the stage's mean) and perhaps an objection. Open leads get planned follow-ups and
an expected close date. The parameters are `DemoShape`; `DemoPlan.describe()` prints them, so
that metrics computed from the data can be checked against what generated it.

The same seed and `until` give the same rows (ids included, except the workspace's own:
workspace, pipeline, stages, admin and key). History ends at `until`, by default the start of
the current UTC day: nothing happens after it (planned follow-ups may be due later), and leads
still in a stage then are open.

Rows are made in chunks and written through COPY (salesgraph.seeding), in bounded memory and one
transaction; the time goes to the database's own work per row (foreign key checks, indexes, the
trigger that keeps lead_stage_totals). Domain events (lead timelines, webhooks) are written only
when asked for: at scale they would be the largest table; the small demo of `serve --demo`
writes them.
"""

from __future__ import annotations

import bisect
import math
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from asyncpg.pgproto.pgproto import UUID as WireUUID
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.activities.models import (
    ActivityType,
    ApproachMethod,
    ClosingTechnique,
    Direction,
    Outcome,
)
from salesgraph.db.ids import uuid7_from
from salesgraph.leads.models import LeadStageTotal
from salesgraph.objections.models import ObjectionCategory
from salesgraph.pipelines.models import PipelineTemplate, Stage
from salesgraph.pipelines.templates import TEMPLATES
from salesgraph.seeding import StagedColumn, StagedTable, StagedWriter, millis, plain
from salesgraph.seeding import uuid_literal as sql_uuid
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.models import Member, MemberRole, Scope, Team, TeamMembership, Workspace

DEMO_WORKSPACE_NAME = "salesgraph demo"
MAX_LEADS = 1_000_000
MAX_REPS = 300
DEFAULT_DAYS = 730
DEFAULT_CHUNK = 50_000

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# A visit lasts at least this long, so that a lead's visits never start at the same moment (the
# stage of a moment is that of the latest visit entered at or before it).
MIN_VISIT_MS = MINUTE_MS
# A lead moving back and forth this many times is given up on (lost), ending its walk.
MAX_VISITS = 40

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
STAGE_NAMES = tuple(spec.name for spec in TEMPLATES[PipelineTemplate.SEVEN_STAGE])
PRESENTATION = 3  # index (position 4): where approach methods are used and handoffs happen
CLOSING = 5  # index (position 6): where closing techniques are used


def _words(text: str) -> list[str]:
    return text.split()


FIRST_NAMES = _words(
    """
    Ada Alan Aylin Can Deniz Elif Emre Grace Hakan Ines
    Jonas Kemal Lea Mert Nora Omar Selin Tim Yusuf Zeynep
    """
)
LAST_NAMES = _words(
    """
    Aksoy Berger Celik Demir Duarte Erdem Fischer Kaya Lindqvist Moreau
    Novak Ozturk Rossi Sahin Tanaka Weber Yilmaz
    """
)
COMPANY_WORDS = _words(
    """
    Anatolia Blue Cedar Delta Ember Fjord Granite Harbor Indigo Juniper
    Kestrel Lumen Meridian Nimbus Orbit Pioneer Quartz Riverside Summit Tidal
    """
)
COMPANY_KINDS = _words(
    "Logistics Foods Textiles Clinics Software Hotels Retail Energy Builders Media"
)
DEAL_KINDS = ["pilot", "annual plan", "expansion", "renewal", "rollout"]
# Company size bands: (label, share of leads, deal value factor).
COMPANY_SIZES = [
    ("1-10", 20, 0.5),
    ("11-50", 35, 0.8),
    ("51-200", 25, 1.2),
    ("201-1000", 14, 2.0),
    ("1000+", 6, 3.5),
]
# Where leads come from when nobody referred them: (source, share, deal value factor).
SOURCES = [
    ("web", 32, 0.8),
    ("outbound", 26, 1.1),
    ("chatbot", 18, 0.6),
    ("event", 12, 1.2),
    ("partner", 12, 1.5),
]
REFERRAL_VALUE_FACTOR = 1.3
LOST_REASONS = [
    "Price too high",
    "Chose a competitor",
    "No budget this year",
    "No response after five follow-ups",
    "Timing: revisit next quarter",
    "No real need",
]

_CALL, _EMAIL, _MEETING, _DEMO = "CALL", "EMAIL", "MEETING", "DEMO"
_MESSAGE, _CHAT, _NOTE, _TASK = "MESSAGE", "CHAT", "NOTE", "TASK"
_GIFT, _TRIAL, _QUOTE = "GIFT", "TRIAL", "QUOTE"
_OUT, _IN = "OUTBOUND", "INBOUND"
assert {_CALL, _EMAIL, _MEETING, _DEMO, _MESSAGE, _CHAT, _NOTE, _TASK, _GIFT, _TRIAL, _QUOTE} <= {
    kind.value for kind in ActivityType
}
assert {_OUT, _IN} == {direction.value for direction in Direction}

# What reps do at each stage: (type, direction, subject, shortest and longest seconds or 0 for
# no duration, weight). Types without a counterpart (notes, tasks) have no direction or outcome.
ActivityTemplate = tuple[str, str | None, str, int, int, int]
ACTIVITY_MIX: tuple[tuple[ActivityTemplate, ...], ...] = (
    (
        (_CALL, _OUT, "Cold call", 60, 900, 30),
        (_EMAIL, _OUT, "Introduction email", 0, 0, 28),
        (_MESSAGE, _OUT, "LinkedIn message", 0, 0, 10),
        (_CHAT, _IN, "Website chat", 120, 1200, 10),
        (_CALL, _IN, "Inbound call", 120, 1200, 7),
        (_EMAIL, _IN, "Reply from the prospect", 0, 0, 8),
        (_NOTE, None, "Qualification notes", 0, 0, 7),
    ),
    (
        (_NOTE, None, "Account research", 0, 0, 30),
        (_TASK, None, "Prepare the discovery call", 0, 0, 15),
        (_EMAIL, _OUT, "Meeting request", 0, 0, 25),
        (_CALL, _OUT, "Scheduling call", 60, 600, 20),
        (_EMAIL, _IN, "Meeting confirmed", 0, 0, 10),
    ),
    (
        (_CALL, _OUT, "Discovery call", 900, 3600, 35),
        (_MEETING, _OUT, "Needs assessment meeting", 1800, 5400, 28),
        (_EMAIL, _OUT, "Discovery recap", 0, 0, 17),
        (_EMAIL, _IN, "Requirements from the customer", 0, 0, 8),
        (_NOTE, None, "Needs summary", 0, 0, 12),
    ),
    (
        (_DEMO, _OUT, "Product demo", 1800, 3600, 35),
        (_MEETING, _OUT, "Presentation meeting", 1800, 5400, 20),
        (_TRIAL, _OUT, "Free trial started", 0, 0, 12),
        (_GIFT, _OUT, "Welcome gift sent", 0, 0, 5),
        (_EMAIL, _OUT, "Presentation follow-up", 0, 0, 18),
        (_CALL, _IN, "Questions after the demo", 300, 1800, 10),
    ),
    (
        (_CALL, _OUT, "Objection call", 600, 2400, 35),
        (_EMAIL, _OUT, "Answer to concerns", 0, 0, 28),
        (_MEETING, _OUT, "Stakeholder meeting", 1800, 3600, 17),
        (_EMAIL, _IN, "Concerns from the customer", 0, 0, 12),
        (_MESSAGE, _OUT, "Quick check-in", 0, 0, 8),
    ),
    (
        (_QUOTE, _OUT, "Quote sent", 0, 0, 25),
        (_CALL, _OUT, "Closing call", 600, 2400, 30),
        (_EMAIL, _OUT, "Contract and next steps", 0, 0, 22),
        (_MEETING, _OUT, "Negotiation meeting", 1800, 5400, 15),
        (_EMAIL, _IN, "Counter-offer", 0, 0, 8),
    ),
    (
        (_CALL, _OUT, "Onboarding check-in", 600, 1800, 30),
        (_EMAIL, _OUT, "Referral request", 0, 0, 25),
        (_MESSAGE, _OUT, "Satisfaction check", 0, 0, 20),
        (_MEETING, _OUT, "Account review", 1800, 3600, 15),
        (_EMAIL, _IN, "Customer feedback", 0, 0, 10),
    ),
)
# The activities an approach method or closing technique is recorded on, at their stage.
APPROACH_TYPES = frozenset({_DEMO, _MEETING, _GIFT, _TRIAL})
CLOSING_TYPES = frozenset({_QUOTE, _CALL, _MEETING})
NO_OUTCOME_TYPES = frozenset({_NOTE, _TASK})
PLANNED_KINDS = ((_CALL, "Follow-up call"), (_EMAIL, "Follow-up email"), (_MEETING, "Check-in"))
OUTCOMES = tuple(outcome.value for outcome in Outcome)

OBJECTION_WORDS: dict[str, tuple[tuple[str, ...], str]] = {
    "PRICE": (
        (
            "It is more than we budgeted for.",
            "Your competitor quoted us 20% less.",
            "We cannot justify the price this year.",
        ),
        "Walked through the return on investment and offered annual billing.",
    ),
    "NEED": (
        ("We are not sure we need this right now.", "Our current process works well enough."),
        "Showed where the current process loses time, with their own numbers.",
    ),
    "TIMING": (
        ("Let's talk again next quarter.", "We are in the middle of a reorganisation."),
        "Proposed a phased start that fits their calendar.",
    ),
    "AUTHORITY": (
        ("I need to get my manager's approval.", "The board decides on purchases like this."),
        "Prepared a one-page summary for the decision makers.",
    ),
    "COMPETITOR": (
        ("We already work with another vendor.", "A competitor offers a longer trial."),
        "Compared the offers side by side and extended the trial.",
    ),
    "TRUST": (
        ("We have not heard of you before.", "Can you share references from our industry?"),
        "Shared two references from their industry and a case study.",
    ),
    "OTHER": (
        ("Your contract terms do not fit our legal requirements.",),
        "Legal reviewed the terms and sent an amended contract.",
    ),
}
# Objections settled as resolved, by how the visit they were raised in ended (else unresolved).
RESOLVED_SHARE = {"FORWARD": 0.85, "WON": 0.85, "BACKWARD": 0.5, "LOST": 0.3}
assert set(OBJECTION_WORDS) == {category.value for category in ObjectionCategory}


@dataclass(frozen=True, slots=True)
class StageShape:
    """How leads behave in one stage.

    When a visit ends, the lead advances (at the last stage: is won), moves back (one stage, or
    two with a quarter's chance) or is lost, with these probabilities. A visit lasts a lognormal
    number of days with mean `mean_days`; it has a Poisson number of completed activities with
    mean `activities`, and raises an objection with chance `objections` (a second one with a
    fifth's chance).
    """

    advance: float
    back: float
    lost: float
    mean_days: float
    activities: float
    objections: float


DEFAULT_STAGES = (
    StageShape(advance=0.60, back=0.00, lost=0.40, mean_days=10, activities=1.6, objections=0.02),
    StageShape(advance=0.80, back=0.04, lost=0.16, mean_days=5, activities=1.2, objections=0.00),
    StageShape(advance=0.66, back=0.08, lost=0.26, mean_days=12, activities=2.0, objections=0.15),
    StageShape(advance=0.60, back=0.10, lost=0.30, mean_days=14, activities=2.4, objections=0.30),
    StageShape(advance=0.56, back=0.14, lost=0.30, mean_days=14, activities=2.2, objections=0.70),
    StageShape(advance=0.62, back=0.10, lost=0.28, mean_days=10, activities=2.0, objections=0.35),
    StageShape(advance=0.88, back=0.04, lost=0.08, mean_days=21, activities=1.5, objections=0.05),
)


@dataclass(frozen=True, slots=True)
class DemoShape:
    """Every parameter the histories are drawn from (see the module's docstring)."""

    stages: tuple[StageShape, ...] = DEFAULT_STAGES
    # Spread of visit durations: the sigma of the lognormal (the mean stays mean_days).
    duration_sigma: float = 1.0
    # Lost leads reopened later (once at most), at the stage they were lost in.
    reopen_share: float = 0.06
    reopen_mean_days: float = 45.0
    # Inside sales leads reaching the presentation that are handed to field sales.
    handoff_share: float = 0.75
    handoff_accept_mean_hours: float = 6.0
    # Leads referred by an earlier won customer (their source is then "referral").
    referral_share: float = 0.05
    # Open leads with planned follow-ups (one, or two with a quarter's chance), due from three
    # days before `until` (overdue) to ten days after it.
    planned_share: float = 0.6
    expected_close_share: float = 0.85
    # Outcome weights (positive, neutral, negative, no response) of activities in visits that
    # end otherwise than lost, and in visits that end lost.
    outcomes: tuple[int, int, int, int] = (35, 33, 10, 22)
    outcomes_when_lost: tuple[int, int, int, int] = (10, 25, 40, 25)
    # Visits of the presentation (closing) stage that use an approach method (closing
    # technique), and the weights of each.
    approach_share: float = 0.7
    approaches: tuple[tuple[str, int], ...] = (
        (ApproachMethod.GIFT.value, 20),
        (ApproachMethod.QUESTION.value, 45),
        (ApproachMethod.PRODUCT_TRIAL.value, 35),
    )
    closing_share: float = 0.75
    closings: tuple[tuple[str, int], ...] = (
        (ClosingTechnique.ALTERNATIVE_CHOICE.value, 40),
        (ClosingTechnique.INCENTIVE.value, 30),
        (ClosingTechnique.URGENCY.value, 30),
    )
    objection_categories: tuple[tuple[str, int], ...] = (
        (ObjectionCategory.PRICE.value, 30),
        (ObjectionCategory.TIMING.value, 18),
        (ObjectionCategory.COMPETITOR.value, 15),
        (ObjectionCategory.NEED.value, 12),
        (ObjectionCategory.AUTHORITY.value, 10),
        (ObjectionCategory.TRUST.value, 8),
        (ObjectionCategory.OTHER.value, 7),
    )
    currency: str = "EUR"
    valued_share: float = 0.88
    # Deal values: lognormal around the median, times the size band's and the source's factor,
    # rounded to 50.
    value_median: int = 6_000
    value_sigma: float = 0.8
    # Leads per day at `until` over leads per day at the start of the history (steady growth).
    growth: float = 2.5

    def __post_init__(self) -> None:
        if len(self.stages) != len(STAGE_NAMES):
            raise ValueError(f"the demo pipeline has {len(STAGE_NAMES)} stages")
        for index, stage in enumerate(self.stages):
            if min(stage.advance, stage.back, stage.lost) < 0:
                raise ValueError(f"stage {index + 1}: probabilities must not be negative")
            if abs(stage.advance + stage.back + stage.lost - 1) > 1e-9:
                raise ValueError(f"stage {index + 1}: advance + back + lost must be 1")
            if index == 0 and stage.back:
                raise ValueError("the first stage has no stage to move back to")
            if stage.mean_days <= 0 or stage.activities < 0 or not 0 <= stage.objections <= 1:
                raise ValueError(f"stage {index + 1}: days, activities or objections out of range")
        for name in ("reopen_share", "handoff_share", "referral_share", "planned_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")

    def tuned(
        self,
        *,
        days: float = 1.0,
        activities: float = 1.0,
        reopen_share: float | None = None,
        handoff_share: float | None = None,
    ) -> DemoShape:
        """The same shape with every stage's mean days and activities multiplied, and the
        shares that are given replaced (the command line's options)."""
        return replace(
            self,
            stages=tuple(
                replace(s, mean_days=s.mean_days * days, activities=s.activities * activities)
                for s in self.stages
            ),
            reopen_share=self.reopen_share if reopen_share is None else reopen_share,
            handoff_share=self.handoff_share if handoff_share is None else handoff_share,
        )


def start_of_utc_day(at: datetime | None = None) -> datetime:
    """Midnight UTC of the day of `at` (now by default): the default end of demo histories."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def auto_reps(leads: int) -> int:
    """Reps for a number of leads: about 4,000 leads each over the history, 4 at least."""
    return max(4, min(MAX_REPS, round(leads / 4000)))


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """What to seed: how many leads, from which seed, ending when, with which shape."""

    leads: int = 300
    seed: int = 7
    until: datetime = field(default_factory=start_of_utc_day)
    days: int = DEFAULT_DAYS
    reps: int | None = None
    shape: DemoShape = field(default_factory=DemoShape)
    events: bool = True
    chunk_size: int = DEFAULT_CHUNK
    name: str = DEMO_WORKSPACE_NAME

    def __post_init__(self) -> None:
        if not 0 <= self.leads <= MAX_LEADS:
            raise ValueError(f"leads must be between 0 and {MAX_LEADS:,}")
        if self.until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        if self.days < 1 or self.chunk_size < 1:
            raise ValueError("days and chunk_size must be positive")
        if self.reps is not None and not 2 <= self.reps <= MAX_REPS:
            raise ValueError(f"reps must be between 2 and {MAX_REPS}")

    @property
    def rep_count(self) -> int:
        return self.reps if self.reps is not None else auto_reps(self.leads)

    def teams(self) -> list[tuple[str, int]]:
        """The teams and how many reps each has: inside sales takes new leads, field sales gets
        them at the presentation, partnerships (with six reps or more) takes partner and event
        leads."""
        reps = self.rep_count
        inside = math.ceil(reps / 2)
        if reps < 6:
            return [("Inside sales", inside), ("Field sales", reps - inside)]
        field_reps = math.ceil((reps - inside) * 0.65)
        return [
            ("Inside sales", inside),
            ("Field sales", field_reps),
            ("Partnerships", reps - inside - field_reps),
        ]

    def describe(self) -> list[str]:
        """The parameters, as printed before seeding."""
        shape = self.shape
        start = self.until - timedelta(days=self.days)
        teams = ", ".join(f"{name} {count}" for name, count in self.teams())
        lines = [
            f"seed {self.seed}: {self.leads:,} leads created from {start:%Y-%m-%d} to "
            f"{self.until:%Y-%m-%d %H:%M} UTC ({self.days} days, business hours mostly, "
            f"{shape.growth:g}x more leads per day at the end than at the start)",
            f"owners: {self.rep_count} reps in {len(self.teams())} teams ({teams}), "
            "a manager per team, one viewer",
            "stage                       advance  back  lost  mean days  activities/visit"
            "  objection chance",
        ]
        for index, (name, stage) in enumerate(zip(STAGE_NAMES, shape.stages, strict=True)):
            lines.append(
                f"{index + 1} {name:<24}  {stage.advance:6.2f} {stage.back:5.2f} "
                f"{stage.lost:5.2f} {stage.mean_days:10.1f} {stage.activities:17.2f}"
                f" {stage.objections:17.2f}"
            )
        approaches = ", ".join(f"{name} {weight}%" for name, weight in shape.approaches)
        closings = ", ".join(f"{name} {weight}%" for name, weight in shape.closings)
        categories = ", ".join(f"{name} {weight}%" for name, weight in shape.objection_categories)
        sources = ", ".join(f"{name} {share}%" for name, share, _ in SOURCES)
        lines += [
            f"(advance at stage {len(STAGE_NAMES)} = won; back = one stage, two with 25%; "
            f"visit days lognormal, sigma {shape.duration_sigma:g}; a lead is lost after "
            f"{MAX_VISITS} visits)",
            f"reopened: {shape.reopen_share:.0%} of lost leads, {shape.reopen_mean_days:g} days "
            "after the loss on average, at the stage lost in (once at most)",
            f"handoffs: {shape.handoff_share:.0%} of inside sales leads reaching "
            f"{STAGE_NAMES[PRESENTATION]} go to field sales, accepted after "
            f"{shape.handoff_accept_mean_hours:g} h on average",
            "activities: completed, Poisson per visit; outcomes (positive/neutral/negative/"
            f"no response) {_percent(shape.outcomes)}, in visits ending lost "
            f"{_percent(shape.outcomes_when_lost)}",
            f"approach methods at {STAGE_NAMES[PRESENTATION]}: {shape.approach_share:.0%} of "
            f"visits ({approaches}); closing techniques at {STAGE_NAMES[CLOSING]}: "
            f"{shape.closing_share:.0%} of visits ({closings})",
            f"objections: {categories}; resolved mostly when the lead advanced, unresolved "
            "mostly when lost",
            f"open leads: {shape.planned_share:.0%} with planned follow-ups (due -3..+10 days "
            f"around until), {shape.expected_close_share:.0%} with an expected close date",
            f"values: {shape.currency}, {shape.valued_share:.0%} of leads, median "
            f"{shape.value_median:,} (lognormal sigma {shape.value_sigma:g}) x size and source "
            "factors",
            f"sources: {sources}; referrals {shape.referral_share:.0%} (from won customers)",
            "domain events: "
            + ("written" if self.events else "not written (lead timelines stay empty)"),
        ]
        return lines


def _percent(weights: Sequence[int]) -> str:
    total = sum(weights)
    return "/".join(f"{weight / total:.0%}" for weight in weights)


@dataclass(slots=True)
class SeedReport:
    """What seeding wrote and how long it took."""

    workspace_id: uuid.UUID
    token: str
    rows: dict[str, int]
    statuses: dict[str, int]
    reopened: int
    handoffs: int
    seconds: float
    generate_seconds: float
    copy_seconds: float
    insert_wait_seconds: float
    analyze_seconds: float

    def describe(self) -> list[str]:
        total = sum(self.rows.values())
        rate = total / self.seconds if self.seconds > 0 else 0.0
        statuses = ", ".join(
            f"{count:,} {status.lower()}" for status, count in self.statuses.items()
        )
        lines = [
            f"leads: {statuses}; {self.reopened:,} reopened, {self.handoffs:,} handed off",
            "rows: " + ", ".join(f"{table} {count:,}" for table, count in self.rows.items()),
            f"seeded {total:,} rows in {self.seconds:.1f}s ({rate:,.0f} rows/s): building rows "
            f"{self.generate_seconds:.1f}s, COPY {self.copy_seconds:.1f}s, waiting for the "
            f"INSERTs {self.insert_wait_seconds:.1f}s, ANALYZE {self.analyze_seconds:.1f}s",
        ]
        return lines


# The tables written, in foreign key order, with the columns of the rows _HistoryMaker makes.
def _staged(*names: str) -> tuple[StagedColumn, ...]:
    columns: list[StagedColumn] = []
    for name in names:
        if name.endswith("_at"):
            columns += millis(name)
        elif name == "value_amount":
            columns.append(StagedColumn(name, "bigint", "value_amount::numeric"))
        else:
            columns += plain(name)
    return tuple(columns)


_WITH_PIPELINE = ("workspace_id", "pipeline_id")
LEADS = StagedTable(
    "leads",
    _staged(
        "id",
        "title",
        "company_name",
        "contact_name",
        "contact_email",
        "contact_phone",
        "source",
        "stage_id",
        "stage_entered_at",
        "owner_id",
        "team_id",
        "value_amount",
        "value_currency",
        "need",
        "budget",
        "authority",
        "timing",
        "score",
        "status",
        "lost_reason",
        "closed_at",
        "expected_close_date",
        "referred_by_id",
        "custom_fields",
        "created_at",
        "updated_at",
        "next_follow_up_at",
        "last_activity_at",
        "version",
    ),
    _WITH_PIPELINE,
)
STAGE_VISITS = StagedTable(
    "stage_visits",
    _staged(
        "id",
        "lead_id",
        "stage_id",
        "stage_position",
        "entered_at",
        "entry",
        "entered_by_member_id",
        "exited_at",
        "exit",
        "exited_by_member_id",
        "exit_reason",
    ),
    _WITH_PIPELINE,
)
ACTIVITIES = StagedTable(
    "activities",
    _staged(
        "id",
        "lead_id",
        "type",
        "status",
        "subject",
        "direction",
        "due_at",
        "occurred_at",
        "duration_seconds",
        "outcome",
        "approach_method",
        "closing_technique",
        "pipeline_id",
        "stage_id",
        "assignee_id",
        "created_by_member_id",
        "completed_by_member_id",
        "created_at",
        "updated_at",
    ),
)
OBJECTIONS = StagedTable(
    "objections",
    _staged(
        "id",
        "lead_id",
        "category",
        "customer_words",
        "stage_id",
        "raised_at",
        "raised_by_member_id",
        "status",
        "response",
        "responded_at",
        "settled_at",
        "settled_by_member_id",
        "created_at",
        "updated_at",
    ),
    _WITH_PIPELINE,
)
HANDOFFS = StagedTable(
    "handoffs",
    _staged(
        "id",
        "lead_id",
        "from_owner_id",
        "from_team_id",
        "to_owner_id",
        "to_team_id",
        "note",
        "status",
        "handed_at",
        "handed_by_member_id",
        "accepted_at",
        "accepted_by_member_id",
    ),
)
DOMAIN_EVENTS = StagedTable(
    "domain_events",
    _staged(
        "id",
        "type",
        "subject_type",
        "subject_id",
        "actor_member_id",
        "lead_id",
        "occurred_at",
        "data",
    ),
)
SEEDED_TABLES = (LEADS, STAGE_VISITS, ACTIVITIES, OBJECTIONS, HANDOFFS)
HANDOFF_NOTE = "Qualified and needs assessed: over to field sales for the presentation."

Row = tuple[Any, ...]
Chunk = dict[str, list[Row]]


def _id_of(rng: random.Random, millis: int) -> uuid.UUID:
    """A version 7 UUID for a historical time in Unix milliseconds, with the seed's random bits:
    the layout of salesgraph.db.ids.uuid7_from, built straight into asyncpg's wire type."""
    value = (
        (millis & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | rng.getrandbits(12) << 64
        | 0b10 << 62
        | rng.getrandbits(62)
    )
    return WireUUID(value.to_bytes(16, "big"))  # type: ignore[no-any-return]


def _time_ordered_id(rng: random.Random, at: datetime) -> uuid.UUID:
    """A version 7 UUID for a historical time, with the seed's random bits (deterministic)."""
    return uuid7_from(int(at.timestamp() * 1000), rng.getrandbits(12), rng.getrandbits(62))


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


@dataclass(frozen=True, slots=True)
class _Rep:
    id: uuid.UUID
    team_id: uuid.UUID
    team: str


@dataclass(slots=True)
class _Walk:
    """Where a lead's walk through the stages left it, and what the lead row needs of it."""

    owner: _Rep
    stage_entered: int
    index: int = 0  # of the stage it is in (or was closed in)
    furthest: int = 0
    changes: int = 0
    handed: bool = False
    last_activity: int = 0
    status: str = "OPEN"
    closed_at: int | None = None
    lost_reason: str | None = None
    kind: str = ""
    size: str = ""
    size_index: int = 0


@dataclass(frozen=True, slots=True)
class _StageRef:
    id: uuid.UUID
    text: str
    position: int


class _HistoryMaker:
    """Builds leads with their histories, chunk by chunk, in order of creation.

    Creation times are the order statistics of `leads` draws from the history's intensity
    (business hours, growth), produced in increasing order one at a time, so that no list of a
    million times is ever held. Everything random comes from the plan's seed; event ids come
    from a second generator, so that writing events or not leaves every other row unchanged.
    """

    def __init__(
        self,
        plan: DemoPlan,
        rng: random.Random,
        stages: Sequence[Stage],
        reps: dict[str, list[_Rep]],
    ) -> None:
        self.plan = plan
        self.shape = plan.shape
        self.rng = rng
        self.event_rng = random.Random(f"{plan.seed}/events")  # noqa: S311 - demo data
        self.stages = [
            _StageRef(WireUUID(stage.id.bytes), str(stage.id), stage.position) for stage in stages
        ]
        # Completed activities name the pipeline (planned ones have no stage, so none).
        self.pipeline_id = WireUUID(stages[0].pipeline_id.bytes)
        self.until = int(plan.until.timestamp() * 1000)
        self.start = self.until - plan.days * DAY_MS
        self.inside = reps["Inside sales"]
        self.field = reps["Field sales"]
        self.partners = reps.get("Partnerships") or self.field
        self.wire_ids = {rep.id: WireUUID(rep.id.bytes) for team in reps.values() for rep in team}
        self.wire_teams = {
            rep.team_id: WireUUID(rep.team_id.bytes) for team in reps.values() for rep in team
        }
        self.recent_wins: deque[tuple[int, uuid.UUID]] = deque(maxlen=500)
        self.made = 0
        self._position = 0.0  # the last creation time, as a quantile of the intensity
        self._hours, self._hour_cumulative = self._intensity()
        shape = self.shape
        sigma = shape.duration_sigma
        # ln of the median, so that the lognormal's mean is the stage's mean_days.
        self.mu = [math.log(stage.mean_days) - sigma * sigma / 2 for stage in shape.stages]
        self.no_activity = [math.exp(-stage.activities) for stage in shape.stages]
        self.mix = ACTIVITY_MIX
        self.mix_cumulative = [_cumulative([t[5] for t in mix]) for mix in ACTIVITY_MIX]
        self.outcome_cumulative = _cumulative(shape.outcomes)
        self.lost_outcome_cumulative = _cumulative(shape.outcomes_when_lost)
        self.approach_names = [name for name, _ in shape.approaches]
        self.approach_cumulative = _cumulative([weight for _, weight in shape.approaches])
        self.closing_names = [name for name, _ in shape.closings]
        self.closing_cumulative = _cumulative([weight for _, weight in shape.closings])
        self.category_names = [name for name, _ in shape.objection_categories]
        self.category_cumulative = _cumulative([w for _, w in shape.objection_categories])
        self.source_names = [name for name, _, _ in SOURCES]
        self.source_cumulative = _cumulative([share for _, share, _ in SOURCES])
        self.source_factor = {name: factor for name, _, factor in SOURCES}
        self.source_factor["referral"] = REFERRAL_VALUE_FACTOR
        self.size_cumulative = _cumulative([share for _, share, _ in COMPANY_SIZES])
        self.custom_fields = {
            (kind, size): orjson.dumps({"industry": kind.lower(), "company_size": size}).decode()
            for kind in COMPANY_KINDS
            for size, _, _ in COMPANY_SIZES
        }
        self.remaining_days = [
            sum(stage.mean_days for stage in shape.stages[index:])
            for index in range(len(shape.stages))
        ]
        self.statuses = {"OPEN": 0, "WON": 0, "LOST": 0}
        self.reopened = 0
        self.handoffs = 0

    def _intensity(self) -> tuple[int, list[float]]:
        """Relative lead inflow per hour of the history: weekday business hours (UTC 7-17)
        busiest, evenings and weekends quieter, nights quietest; growing steadily."""
        hours = self.plan.days * 24
        first = datetime.fromtimestamp(self.start / 1000, UTC)
        growth = math.log(self.shape.growth)
        weights = []
        for hour in range(hours):
            at = first + timedelta(hours=hour)
            weekday = at.weekday() < 5
            if 7 <= at.hour < 17:
                base = 1.0 if weekday else 0.12
            elif 17 <= at.hour < 21:
                base = 0.25 if weekday else 0.06
            else:
                base = 0.04 if weekday else 0.02
            weights.append(base * math.exp(growth * hour / hours))
        return hours, _cumulative(weights)

    def _next_created(self) -> int:
        """The next creation time: the minimum of the remaining draws, as a quantile (beta
        order statistics), mapped through the hourly intensity."""
        left = self.plan.leads - self.made
        self._position += (1 - self._position) * (1 - self.rng.random() ** (1 / left))
        cumulative = self._hour_cumulative
        target = self._position * cumulative[-1]
        hour = min(bisect.bisect_right(cumulative, target), self._hours - 1)
        before = cumulative[hour - 1] if hour else 0.0
        within = (target - before) / (cumulative[hour] - before)
        return self.start + hour * HOUR_MS + int(min(within, 0.999_999) * HOUR_MS)

    def chunk(self, count: int) -> Chunk:
        chunk: Chunk = {table.table: [] for table in (*SEEDED_TABLES, DOMAIN_EVENTS)}
        for _ in range(count):
            created = self._next_created()
            self.made += 1
            self._lead(created, chunk)
        return chunk

    def _lead(self, created: int, chunk: Chunk) -> None:
        """One lead: where it came from, its walk through the stages, who it is."""
        lead_id = _id_of(self.rng, created)
        events = chunk["domain_events"] if self.plan.events else None
        source, referrer, owner = self._origin(created)
        creator_id = self.wire_ids[owner.id]
        walk = self._walk(lead_id, created, owner, chunk, events)
        self.statuses[walk.status] += 1
        owner_id = self.wire_ids[walk.owner.id]

        rand = self.rng.random
        shape = self.shape
        next_follow_up = None
        expected_close: date | None = None
        touched = max(walk.last_activity, walk.stage_entered, walk.closed_at or 0)
        if walk.status == "OPEN":
            if rand() < shape.planned_share:
                next_follow_up, planned_at = self._planned(
                    lead_id, owner_id, walk.stage_entered, chunk, events
                )
                touched = max(touched, planned_at)
            if rand() < shape.expected_close_share:
                days = self.remaining_days[walk.index] * (0.4 + 1.2 * rand())
                expected_close = date.fromordinal(
                    _EPOCH_ORDINAL + (walk.stage_entered + int(days * DAY_MS)) // DAY_MS
                )
        chunk["leads"].append(
            (
                lead_id,
                *self._customer(source, walk),
                self.stages[walk.index].id,
                walk.stage_entered,
                owner_id,
                self.wire_teams[walk.owner.team_id],
                *self._value_and_qualification(source, walk),
                walk.status,
                walk.lost_reason,
                walk.closed_at,
                expected_close,
                referrer,
                self.custom_fields[(walk.kind, walk.size)],
                created,
                touched,
                next_follow_up,
                walk.last_activity or None,
                1 + walk.changes + walk.handed,
            )
        )
        if events is not None:
            self._event(
                events,
                "lead.created",
                "lead",
                lead_id,
                creator_id,
                lead_id,
                created,
                {"stage_id": self.stages[0].text},
            )

    def _origin(self, created: int) -> tuple[str, uuid.UUID | None, _Rep]:
        """The lead's source, the won customer who referred it (if any) and its first owner:
        referrals go to field sales, partner and event leads to partnerships, the rest mostly
        to inside sales."""
        rng = self.rng
        rand = rng.random
        referrer = None
        if self.recent_wins and rand() < self.shape.referral_share:
            won_at, candidate = self.recent_wins[int(rand() * len(self.recent_wins))]
            if won_at < created:
                referrer = candidate
        if referrer is not None:
            source, team = "referral", self.field
        else:
            source = rng.choices(self.source_names, cum_weights=self.source_cumulative)[0]
            if source in ("partner", "event"):
                team = self.partners
            else:
                team = self.inside if rand() < 0.75 else self.field
        return source, referrer, team[int(rand() * len(team))]

    def _walk(
        self,
        lead_id: uuid.UUID,
        created: int,
        owner: _Rep,
        chunk: Chunk,
        events: list[Row] | None,
    ) -> _Walk:
        """The lead's stage visits from its creation until it is won, lost or `until` comes,
        with the work done in each (activities, objections) and a handoff on the way."""
        rng = self.rng
        rand = rng.random
        shape = self.shape
        until = self.until
        stages = self.stages
        last_index = len(stages) - 1
        visits = chunk["stage_visits"]
        walk = _Walk(owner=owner, stage_entered=created)
        at, entry = created, "CREATED"
        reopened = False
        for visit_number in range(1, MAX_VISITS + 1):
            index = walk.index
            stage = stages[index]
            params = shape.stages[index]
            walk.furthest = max(walk.furthest, index)
            if index == PRESENTATION and not walk.handed and walk.owner.team == "Inside sales":
                walk.handed = True
                if rand() < shape.handoff_share:
                    walk.owner = self._handoff(lead_id, walk.owner, at, chunk, events)
            owner_id = self.wire_ids[walk.owner.id]
            days = rng.lognormvariate(self.mu[index], shape.duration_sigma)
            leave = at + max(MIN_VISIT_MS, int(days * DAY_MS))
            roll = rand()
            if visit_number == MAX_VISITS:
                exit_ = "LOST"
            elif roll < params.advance:
                exit_ = "WON" if index == last_index else "FORWARD"
            elif roll < params.advance + params.back:
                exit_ = "BACKWARD"
            else:
                exit_ = "LOST"
            # Whether the lead is still in the stage at `until`: then the visit is open.
            ended = None if leave >= until else exit_
            reason = LOST_REASONS[int(rand() * len(LOST_REASONS))] if exit_ == "LOST" else None
            worked = self._work(index, stage, at, leave, ended, lead_id, owner_id, chunk, events)
            walk.last_activity = max(walk.last_activity, worked)
            if params.objections and rand() < params.objections:
                self._objections(stage, at, leave, ended, lead_id, owner_id, chunk, events)
            walk.stage_entered = at
            visit_id = _id_of(rng, at)
            left: Row = (None,) * 4 if ended is None else (leave, exit_, owner_id, reason)
            visits.append((visit_id, lead_id, stage.id, stage.position, at, entry, owner_id, *left))
            if ended is None:
                break
            walk.changes += 1
            if events is not None:
                self._closing_event(events, lead_id, owner_id, stage, exit_, leave, reason)
            if exit_ == "FORWARD":
                walk.index, entry = index + 1, "FORWARD"
            elif exit_ == "BACKWARD":
                walk.index -= 2 if index >= 2 and rand() < 0.25 else 1
                entry = "BACKWARD"
            elif exit_ == "WON":
                walk.status, walk.closed_at = "WON", leave
                self.recent_wins.append((leave, lead_id))
                break
            else:
                if not reopened and visit_number < MAX_VISITS and rand() < shape.reopen_share:
                    back_at = leave + max(
                        DAY_MS, int(rng.expovariate(1 / shape.reopen_mean_days) * DAY_MS)
                    )
                    if back_at < until:
                        reopened = True
                        self.reopened += 1
                        walk.changes += 1
                        if events is not None:
                            self._event(
                                events,
                                "lead.reopened",
                                "lead",
                                lead_id,
                                owner_id,
                                lead_id,
                                back_at,
                                {
                                    "stage_id": stage.text,
                                    "reason": None,
                                    "changes": {"status": {"old": "LOST", "new": "OPEN"}},
                                },
                            )
                        at, entry = back_at, "REOPENED"
                        continue
                walk.status, walk.closed_at, walk.lost_reason = "LOST", leave, reason
                break
            at = leave
            if events is not None:
                self._event(
                    events,
                    "lead.stage_changed",
                    "lead",
                    lead_id,
                    owner_id,
                    lead_id,
                    at,
                    {
                        "direction": entry,
                        "reason": None,
                        "changes": {
                            "stage_id": {"old": stage.text, "new": stages[walk.index].text}
                        },
                    },
                )
        return walk

    def _customer(self, source: str, walk: _Walk) -> Row:
        """Title, company and contact (and, on the walk, the company's industry and size)."""
        rand = self.rng.random
        first = FIRST_NAMES[int(rand() * len(FIRST_NAMES))]
        last = LAST_NAMES[int(rand() * len(LAST_NAMES))]
        words = len(COMPANY_WORDS)
        pick = int(rand() * words)
        word = COMPANY_WORDS[pick]
        kind = COMPANY_KINDS[int(rand() * len(COMPANY_KINDS))]
        if rand() < 0.4:  # a two-word name, of two different words
            word = f"{word} {COMPANY_WORDS[(pick + 1 + int(rand() * (words - 1))) % words]}"
        company = f"{word} {kind}"
        size_index = bisect.bisect_right(self.size_cumulative, rand() * self.size_cumulative[-1])
        walk.kind = kind
        walk.size_index = min(size_index, len(COMPANY_SIZES) - 1)
        walk.size = COMPANY_SIZES[walk.size_index][0]
        return (
            f"{company}: {DEAL_KINDS[int(rand() * len(DEAL_KINDS))]}",
            company,
            f"{first} {last}",
            f"{first}.{last}@{word.replace(' ', '')}{kind}.example".lower(),
            f"+49 {150 + int(rand() * 30)} {1_000_000 + int(rand() * 9_000_000)}",
            source,
        )

    def _value_and_qualification(self, source: str, walk: _Walk) -> Row:
        """Value and currency (bigger for bigger companies and some sources), the four
        qualification answers (met more often the further the lead got) and the score."""
        rng = self.rng
        rand = rng.random
        shape = self.shape
        value = None
        if rand() < shape.valued_share:
            raw = (
                shape.value_median
                * COMPANY_SIZES[walk.size_index][2]
                * self.source_factor[source]
                * rng.lognormvariate(0.0, shape.value_sigma)
            )
            value = max(100, round(raw / 50) * 50)
        met_chance = 0.15 + 0.11 * (walk.furthest + 1)
        answers = []
        for _ in range(4):
            roll = rand()
            if roll < met_chance:
                answers.append("MET")
            elif walk.status == "LOST" and roll < met_chance + 0.25:
                answers.append("NOT_MET")
            else:
                answers.append("UNKNOWN")
        score = min(100, 8 + 20 * answers.count("MET") + int(rand() * 13))
        return (value, shape.currency if value is not None else None, *answers, score)

    def _handoff(
        self, lead_id: uuid.UUID, owner: _Rep, at: int, chunk: Chunk, events: list[Row] | None
    ) -> _Rep:
        """Hand the lead to a field sales rep as it enters the presentation."""
        rng = self.rng
        receiver = self.field[int(rng.random() * len(self.field))]
        delay = rng.expovariate(1 / self.shape.handoff_accept_mean_hours) * HOUR_MS
        accepted_at = at + max(MINUTE_MS, int(delay))
        accepted = accepted_at if accepted_at < self.until else None  # still pending
        handoff_id = _id_of(rng, at)
        giver, taker = self.wire_ids[owner.id], self.wire_ids[receiver.id]
        chunk["handoffs"].append(
            (
                handoff_id,
                lead_id,
                giver,
                self.wire_teams[owner.team_id],
                taker,
                self.wire_teams[receiver.team_id],
                HANDOFF_NOTE,
                "PENDING" if accepted is None else "ACCEPTED",
                at,
                giver,
                accepted,
                None if accepted is None else taker,
            )
        )
        self.handoffs += 1
        if events is not None:
            self._event(
                events,
                "handoff.created",
                "handoff",
                handoff_id,
                giver,
                lead_id,
                at,
                {
                    "from_owner_id": str(owner.id),
                    "to_owner_id": str(receiver.id),
                    "note": HANDOFF_NOTE,
                    "changes": {"owner_id": {"old": str(owner.id), "new": str(receiver.id)}},
                },
            )
            if accepted is not None:
                self._event(
                    events,
                    "handoff.accepted",
                    "handoff",
                    handoff_id,
                    taker,
                    lead_id,
                    accepted,
                    {
                        "seconds_to_acceptance": (accepted - at) / 1000,
                        "changes": {"status": {"old": "PENDING", "new": "ACCEPTED"}},
                    },
                )
        return receiver

    def _work(
        self,
        index: int,
        stage: _StageRef,
        start: int,
        end: int,
        exit_: str | None,
        lead_id: uuid.UUID,
        owner_id: uuid.UUID,
        chunk: Chunk,
        events: list[Row] | None,
    ) -> int:
        """The completed activities of a visit from `start` to `end` (those before `until`);
        returns the latest one's time, or 0."""
        rng = self.rng
        rand = rng.random
        # Poisson count (Knuth: multiply uniforms until below e^-mean).
        limit, product, count = self.no_activity[index], rand(), 0
        while product > limit:
            count += 1
            product *= rand()
        if not count:
            return 0
        templates = rng.choices(self.mix[index], cum_weights=self.mix_cumulative[index], k=count)
        cumulative = self.lost_outcome_cumulative if exit_ == "LOST" else self.outcome_cumulative
        outcomes = rng.choices(OUTCOMES, cum_weights=cumulative, k=count)
        method = technique = None
        if index == PRESENTATION and rand() < self.shape.approach_share:
            method = rng.choices(self.approach_names, cum_weights=self.approach_cumulative)[0]
        elif index == CLOSING and rand() < self.shape.closing_share:
            technique = rng.choices(self.closing_names, cum_weights=self.closing_cumulative)[0]
        until, span, latest = self.until, end - start, 0
        rows = chunk["activities"]
        for (kind, direction, subject, shortest, longest, _), outcome in zip(
            templates, outcomes, strict=True
        ):
            happened = start + int(rand() * span)
            if happened >= until:
                continue
            latest = max(latest, happened)
            activity_id = _id_of(rng, happened)
            rows.append(
                (
                    activity_id,
                    lead_id,
                    kind,
                    "COMPLETED",
                    subject,
                    direction,
                    None,
                    happened,
                    shortest + int(rand() * (longest - shortest)) if longest else None,
                    None if kind in NO_OUTCOME_TYPES else outcome,
                    method if kind in APPROACH_TYPES else None,
                    technique if kind in CLOSING_TYPES else None,
                    self.pipeline_id,
                    stage.id,
                    owner_id,
                    owner_id,
                    owner_id,
                    happened,
                    happened,
                )
            )
            if events is not None:
                self._event(
                    events,
                    "activity.logged",
                    "activity",
                    activity_id,
                    owner_id,
                    lead_id,
                    happened,
                    {"type": kind, "status": "COMPLETED"},
                )
        return latest

    def _objections(
        self,
        stage: _StageRef,
        start: int,
        end: int,
        exit_: str | None,
        lead_id: uuid.UUID,
        owner_id: uuid.UUID,
        chunk: Chunk,
        events: list[Row] | None,
    ) -> None:
        """An objection (two, a fifth of the time) raised during a visit, settled by how the
        visit ended: resolved when the lead advanced, unresolved mostly when it was lost."""
        rng = self.rng
        rand = rng.random
        until = self.until
        for _ in range(2 if rand() < 0.2 else 1):
            raised = start + int(rand() * (end - start))
            if raised >= until:
                continue
            category = rng.choices(self.category_names, cum_weights=self.category_cumulative)[0]
            words, answer = OBJECTION_WORDS[category]
            settling = raised + max(10 * MINUTE_MS, int(rng.expovariate(1 / 3) * DAY_MS))
            roll = rand()
            settled: int | None
            if exit_ is None:  # the visit goes on
                settled = settling if settling < until else None
                status = "OPEN" if settled is None else "RESOLVED" if roll < 0.6 else "UNRESOLVED"
            else:
                settled = min(settling, end)
                resolved = RESOLVED_SHARE.get(exit_, 0.3)
                status = "RESOLVED" if roll < resolved else "UNRESOLVED"
            if settled is None:
                responded = raised + int(rand() * (until - raised)) if rand() < 0.5 else None
            else:
                responded = raised + (settled - raised) // 2
            objection_id = _id_of(rng, raised)
            chunk["objections"].append(
                (
                    objection_id,
                    lead_id,
                    category,
                    words[int(rand() * len(words))],
                    stage.id,
                    raised,
                    owner_id,
                    status,
                    answer if responded is not None else None,
                    responded,
                    settled,
                    None if settled is None else owner_id,
                    raised,
                    settled or responded or raised,
                )
            )
            if events is not None:
                self._event(
                    events,
                    "objection.raised",
                    "objection",
                    objection_id,
                    owner_id,
                    lead_id,
                    raised,
                    {"category": category, "status": "OPEN", "stage_id": stage.text},
                )

    def _planned(
        self,
        lead_id: uuid.UUID,
        owner_id: uuid.UUID,
        stage_entered: int,
        chunk: Chunk,
        events: list[Row] | None,
    ) -> tuple[int, int]:
        """Planned follow-ups of an open lead; returns the earliest due time and the latest
        planning time."""
        rng = self.rng
        rand = rng.random
        until = self.until
        earliest, latest_planned = 0, 0
        for _ in range(2 if rand() < 0.25 else 1):
            due = until + int((rand() * 13 - 3) * DAY_MS)
            planned = min(until - MINUTE_MS, due - int((1 + 6 * rand()) * DAY_MS))
            planned = max(planned, stage_entered)
            kind, subject = PLANNED_KINDS[int(rand() * len(PLANNED_KINDS))]
            activity_id = _id_of(rng, planned)
            chunk["activities"].append(
                (
                    activity_id,
                    lead_id,
                    kind,
                    "PLANNED",
                    subject,
                    _OUT,
                    due,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    owner_id,
                    owner_id,
                    None,
                    planned,
                    planned,
                )
            )
            earliest = due if not earliest else min(earliest, due)
            latest_planned = max(latest_planned, planned)
            if events is not None:
                self._event(
                    events,
                    "activity.planned",
                    "activity",
                    activity_id,
                    owner_id,
                    lead_id,
                    planned,
                    {"type": kind, "status": "PLANNED"},
                )
        return earliest, latest_planned

    def _closing_event(
        self,
        events: list[Row],
        lead_id: uuid.UUID,
        owner_id: uuid.UUID,
        stage: _StageRef,
        exit_: str,
        at: int,
        reason: str | None,
    ) -> None:
        """lead.won or lead.lost, when the visit ended so (stage changes are written after)."""
        if exit_ in ("WON", "LOST"):
            self._event(
                events,
                f"lead.{exit_.lower()}",
                "lead",
                lead_id,
                owner_id,
                lead_id,
                at,
                {
                    "stage_id": stage.text,
                    "reason": reason,
                    "changes": {"status": {"old": "OPEN", "new": exit_}},
                },
            )

    def _event(
        self,
        events: list[Row],
        type_: str,
        subject_type: str,
        subject_id: uuid.UUID,
        actor: uuid.UUID,
        lead_id: uuid.UUID,
        at: int,
        data: dict[str, Any],
    ) -> None:
        events.append(
            (
                _id_of(self.event_rng, at),
                type_,
                subject_type,
                subject_id,
                actor,
                lead_id,
                at,
                orjson.dumps(data).decode(),
            )
        )


async def _add_people(
    session: AsyncSession, rng: random.Random, workspace_id: uuid.UUID, plan: DemoPlan
) -> dict[str, list[_Rep]]:
    """The teams, each with a manager and its reps, and a viewer; returns the reps by team.

    Ids come from the seed and rows are dated at the start of the history, so that the same
    plan gives the same members.
    """
    since = plan.until - timedelta(days=plan.days)
    people: list[Member] = []

    def person(role: MemberRole) -> Member:
        # 20 first and 17 last names: (index mod 20, 7 * index mod 17) stays distinct for 340
        # people (the Chinese remainder theorem), and neighbours differ in both names.
        index = len(people)
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[7 * index % len(LAST_NAMES)]
        member = Member(
            id=_time_ordered_id(rng, since),
            workspace_id=workspace_id,
            name=f"{first} {last}",
            email=f"{first}.{last}@demo.example".lower(),
            role=role,
            created_at=since,
            updated_at=since,
        )
        people.append(member)
        return member

    reps: dict[str, list[_Rep]] = {}
    memberships: list[TeamMembership] = []
    teams: list[Team] = []
    for name, count in plan.teams():
        team = Team(
            id=_time_ordered_id(rng, since),
            workspace_id=workspace_id,
            name=name,
            created_at=since,
            updated_at=since,
        )
        teams.append(team)
        crew = [person(MemberRole.MANAGER)] + [person(MemberRole.REP) for _ in range(count)]
        memberships += [
            TeamMembership(
                workspace_id=workspace_id, team_id=team.id, member_id=member.id, created_at=since
            )
            for member in crew
        ]
        reps[name] = [_Rep(member.id, team.id, name) for member in crew[1:]]
    person(MemberRole.VIEWER)
    session.add_all(teams)
    session.add_all(people)
    await session.flush()
    session.add_all(memberships)
    await session.flush()
    return reps


ProgressCallback = Callable[[int, float], None]


# Leads in the first chunk of a seeding (see seed_demo).
FIRST_CHUNK = 1_000


async def seed_demo(
    session: AsyncSession, plan: DemoPlan, *, progress: ProgressCallback | None = None
) -> SeedReport:
    """Create a demo workspace following `plan`, in the session's transaction.

    `progress(leads written, seconds so far)` is called after each chunk. Rows are built in
    chunks of `plan.chunk_size` leads and copied in bulk; the tables are analyzed at the end, so
    that the planner knows their new sizes before the first query.
    """
    started = time.perf_counter()
    rng = random.Random(plan.seed)  # noqa: S311 - demo data, reproducible by design
    workspace, _, key = await workspace_service.create_workspace(
        session, name=plan.name, admin_email="admin@demo.example", admin_name="Demo Admin"
    )
    reps = await _add_people(session, rng, workspace.id, plan)
    stages = list(
        (
            await session.execute(
                select(Stage).where(Stage.workspace_id == workspace.id).order_by(Stage.position)
            )
        ).scalars()
    )
    maker = _HistoryMaker(plan, rng, stages, reps)
    tables = [*SEEDED_TABLES, DOMAIN_EVENTS] if plan.events else list(SEEDED_TABLES)
    constants = {
        "workspace_id": sql_uuid(workspace.id),
        "pipeline_id": sql_uuid(stages[0].pipeline_id),
    }
    writer = StagedWriter(session, tables, constants)
    generate_seconds = 0.0
    await writer.open()
    try:
        done = 0
        analyzed = False
        while done < plan.leads:
            # The first chunk is small and followed by ANALYZE: the foreign-key checks plan
            # their lookups once, and planned against empty tables they scan them, which is
            # quadratic in a large first chunk (leads refer to leads). ANALYZE replans them.
            size = plan.chunk_size if analyzed else min(plan.chunk_size, FIRST_CHUNK)
            count = min(size, plan.leads - done)
            building = time.perf_counter()
            chunk = maker.chunk(count)
            generate_seconds += time.perf_counter() - building
            await writer.write(chunk)
            done += count
            if not analyzed and done < plan.leads:
                await writer.analyze([table.table for table in tables] + ["lead_stage_totals"])
                analyzed = True
            if progress is not None:
                progress(done, time.perf_counter() - started)
        await writer.analyze([table.table for table in tables] + ["lead_stage_totals"])
    except BaseException:
        await writer.settle()
        raise
    totals = await session.scalar(
        select(func.count())
        .select_from(LeadStageTotal)
        .where(LeadStageTotal.workspace_id == workspace.id)
    )
    stats = writer.stats
    return SeedReport(
        workspace_id=workspace.id,
        token=key.token,
        rows={**stats.rows, "lead_stage_totals": int(totals or 0)},
        statuses=dict(maker.statuses),
        reopened=maker.reopened,
        handoffs=maker.handoffs,
        seconds=time.perf_counter() - started,
        generate_seconds=generate_seconds,
        copy_seconds=stats.copy_seconds,
        insert_wait_seconds=stats.insert_wait_seconds,
        analyze_seconds=stats.analyze_seconds,
    )


async def seed_demo_workspace(
    session: AsyncSession,
    *,
    leads: int = 300,
    seed: int = 7,
    name: str = DEMO_WORKSPACE_NAME,
    until: datetime | None = None,
    events: bool = True,
) -> tuple[uuid.UUID, str]:
    """Create a demo workspace with `leads` leads (default shape); returns its id and an admin
    API key."""
    plan = DemoPlan(
        leads=leads, seed=seed, name=name, until=until or start_of_utc_day(), events=events
    )
    report = await seed_demo(session, plan)
    return report.workspace_id, report.token


async def ensure_demo_workspace(session: AsyncSession, *, leads: int = 300, seed: int = 7) -> str:
    """The demo workspace's admin key: the workspace is seeded when missing, otherwise a new
    admin key is minted (stored keys are hashed and cannot be shown again)."""
    existing = (
        await session.execute(
            select(Workspace)
            .where(Workspace.name == DEMO_WORKSPACE_NAME)
            .order_by(Workspace.created_at)
            .limit(1)
        )
    ).scalar_one_or_none()
    if existing is None:
        _, token = await seed_demo_workspace(session, leads=leads, seed=seed)
        return token
    admin = (
        await session.execute(
            select(Member)
            .where(Member.workspace_id == existing.id, Member.role == MemberRole.ADMIN)
            .order_by(Member.created_at)
            .limit(1)
        )
    ).scalar_one_or_none()
    created = await workspace_service.create_api_key(
        session,
        workspace_id=existing.id,
        name="demo admin",
        scopes=[Scope.ADMIN],
        member_id=admin.id if admin is not None else None,
    )
    return created.token
