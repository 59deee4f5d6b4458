"""Deterministic demo data: a workspace with members, teams, the seven-stage pipeline and leads
whose stage histories look like a real sales team's (most leads drop out early, some move
backward, a few reach closing and are won).

The same seed gives the same leads, owners, values and histories (times are relative to now).
Rows are written in bulk, with the history's own timestamps; the stage-visit invariant holds
by construction (each open lead ends with one open visit).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.activities.models import (
    Activity,
    ActivityStatus,
    ActivityType,
    Direction,
    Outcome,
)
from salesgraph.db.clock import transaction_time
from salesgraph.db.ids import uuid7_from
from salesgraph.db.tenancy import scope_session
from salesgraph.events import DomainEvent
from salesgraph.leads.models import (
    Lead,
    LeadStatus,
    Qualification,
    StageVisit,
    VisitEntry,
    VisitExit,
)
from salesgraph.pipelines.models import Stage
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.models import Member, MemberRole, Scope, Team, TeamMembership, Workspace

DEMO_WORKSPACE_NAME = "salesgraph demo"


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
COMPANY_KINDS = [
    "Logistics",
    "Foods",
    "Textiles",
    "Clinics",
    "Software",
    "Hotels",
    "Retail",
    "Energy",
    "Builders",
    "Media",
]
DEAL_KINDS = ["pilot", "annual plan", "expansion", "renewal", "rollout"]
SOURCES = ["web", "referral", "event", "outbound", "partner", "chatbot"]
DEMO_ACTIVITY_TYPES = [
    ActivityType.CALL,
    ActivityType.CALL,
    ActivityType.EMAIL,
    ActivityType.EMAIL,
    ActivityType.MEETING,
    ActivityType.DEMO,
    ActivityType.NOTE,
]
LOST_REASONS = [
    "Price too high",
    "Chose a competitor",
    "No budget this year",
    "No response after five follow-ups",
    "Timing: revisit next quarter",
    "No real need",
]


def _time_ordered_id(rng: random.Random, at: datetime) -> uuid.UUID:
    """A version 7 UUID for a historical time, with the seed's random bits (deterministic)."""
    return uuid7_from(int(at.timestamp() * 1000), rng.getrandbits(12), rng.getrandbits(62))


@dataclass
class _Walk:
    visits: list[dict[str, Any]]
    events: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    status: LeadStatus
    stage: Stage
    stage_entered_at: datetime
    closed_at: datetime | None
    lost_reason: str | None
    updated_at: datetime


def _walk(
    rng: random.Random,
    workspace_id: uuid.UUID,
    lead_id: uuid.UUID,
    stages: list[Stage],
    created_at: datetime,
    now: datetime,
    actor: uuid.UUID,
) -> _Walk:
    """Simulate one lead's path through the stages from creation until now."""
    visits: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    index, at, entry = 0, created_at, VisitEntry.CREATED
    last = len(stages) - 1

    def visit(stage: Stage, entered: datetime, how: VisitEntry) -> dict[str, Any]:
        row = {
            "id": _time_ordered_id(rng, entered),
            "workspace_id": workspace_id,
            "lead_id": lead_id,
            "pipeline_id": stage.pipeline_id,
            "stage_id": stage.id,
            "stage_position": stage.position,
            "entered_at": entered,
            "entry": how,
            "entered_by_member_id": actor,
            "exited_at": None,
            "exit": None,
            "exited_by_member_id": None,
            "exit_reason": None,
        }
        visits.append(row)
        return row

    def event(type_: str, at: datetime, data: dict[str, Any]) -> None:
        events.append(
            {
                "id": _time_ordered_id(rng, at),
                "workspace_id": workspace_id,
                "type": type_,
                "subject_type": "lead",
                "subject_id": lead_id,
                "lead_id": lead_id,
                "actor_member_id": actor,
                "occurred_at": at,
                "data": data,
            }
        )

    activities: list[dict[str, Any]] = []

    def work(stage: Stage, start: datetime, end: datetime) -> None:
        """The activities done while the lead was at `stage`, between start and end."""
        span = (end - start).total_seconds()
        for _ in range(rng.randint(0, 3) if span > 0 else 0):
            happened = start + timedelta(seconds=rng.uniform(0, span))
            kind = rng.choice(DEMO_ACTIVITY_TYPES)
            outbound = kind is not ActivityType.NOTE and rng.random() < 0.8
            row = {
                "id": _time_ordered_id(rng, happened),
                "workspace_id": workspace_id,
                "lead_id": lead_id,
                "type": kind,
                "status": ActivityStatus.COMPLETED,
                "subject": f"{kind.value.title()} with the customer",
                "direction": None
                if kind is ActivityType.NOTE
                else (Direction.OUTBOUND if outbound else Direction.INBOUND),
                "occurred_at": happened,
                "duration_seconds": rng.choice([300, 900, 1800, 3600]),
                "outcome": None if kind is ActivityType.NOTE else rng.choice(list(Outcome)),
                "pipeline_id": stage.pipeline_id,
                "stage_id": stage.id,
                "assignee_id": actor,
                "created_by_member_id": actor,
                "completed_by_member_id": actor,
                "created_at": happened,
                "updated_at": happened,
            }
            activities.append(row)
            events.append(
                {
                    "id": _time_ordered_id(rng, happened),
                    "workspace_id": workspace_id,
                    "type": "activity.logged",
                    "subject_type": "activity",
                    "subject_id": row["id"],
                    "lead_id": lead_id,
                    "actor_member_id": actor,
                    "occurred_at": happened,
                    "data": {"type": kind.value, "status": "COMPLETED"},
                }
            )

    current = visit(stages[0], at, entry)
    event("lead.created", at, {"stage_id": str(stages[0].id)})
    while True:
        stage = stages[index]
        mean_days = (stage.target_days or 7) * 0.9
        leave_at = at + timedelta(days=rng.expovariate(1 / mean_days), hours=rng.random() * 8)
        work(stage, at, min(leave_at, now))
        if leave_at >= now:
            return _Walk(visits, events, activities, LeadStatus.OPEN, stage, at, None, None, at)
        roll = rng.random()
        drop_out = 0.10 + 0.05 * (index < 3)
        if index == last:
            outcome = "won" if roll < 0.85 else "lost"
        elif roll < drop_out:
            outcome = "lost"
        elif roll < drop_out + 0.08 and index > 0:
            outcome = "back"
        else:
            outcome = "forward"
        if outcome in ("won", "lost"):
            exit_ = VisitExit.WON if outcome == "won" else VisitExit.LOST
            reason = rng.choice(LOST_REASONS) if outcome == "lost" else None
            current.update(
                exited_at=leave_at, exit=exit_, exited_by_member_id=actor, exit_reason=reason
            )
            event(f"lead.{outcome}", leave_at, {"stage_id": str(stage.id), "reason": reason})
            status = LeadStatus.WON if outcome == "won" else LeadStatus.LOST
            return _Walk(visits, events, activities, status, stage, at, leave_at, reason, leave_at)
        index = index + 1 if outcome == "forward" else index - rng.randint(1, min(2, index))
        direction = VisitExit.FORWARD if outcome == "forward" else VisitExit.BACKWARD
        current.update(exited_at=leave_at, exit=direction, exited_by_member_id=actor)
        current = visit(stages[index], leave_at, VisitEntry(direction.value))
        event(
            "lead.stage_changed",
            leave_at,
            {
                "direction": direction.value,
                "changes": {"stage_id": {"old": str(stage.id), "new": str(stages[index].id)}},
            },
        )
        at = leave_at


async def seed_demo_workspace(
    session: AsyncSession, *, leads: int = 300, seed: int = 7, name: str = DEMO_WORKSPACE_NAME
) -> tuple[uuid.UUID, str]:
    """Create a demo workspace with `leads` leads; returns its id and an admin API key."""
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible by design
    workspace, _, key = await workspace_service.create_workspace(
        session, name=name, admin_email="admin@demo.example", admin_name="Demo Admin"
    )
    workspace_id = workspace.id
    scope_session(session.sync_session, workspace_id)
    now = await transaction_time(session)

    people = [
        ("Maya Manager", "maya@demo.example", MemberRole.MANAGER),
        ("Rafael Rep", "rafael@demo.example", MemberRole.REP),
        ("Sena Rep", "sena@demo.example", MemberRole.REP),
        ("Tom Rep", "tom@demo.example", MemberRole.REP),
        ("Una Rep", "una@demo.example", MemberRole.REP),
        ("Victor Viewer", "victor@demo.example", MemberRole.VIEWER),
    ]
    members = [Member(workspace_id=workspace_id, name=n, email=e, role=r) for n, e, r in people]
    session.add_all(members)
    teams = [Team(workspace_id=workspace_id, name=n) for n in ("Inside sales", "Field sales")]
    session.add_all(teams)
    await session.flush()
    reps = [m for m in members if m.role == MemberRole.REP]
    team_of = {
        reps[0].id: teams[0],
        reps[1].id: teams[0],
        reps[2].id: teams[1],
        reps[3].id: teams[1],
    }
    session.add_all(
        TeamMembership(workspace_id=workspace_id, team_id=team.id, member_id=member_id)
        for member_id, team in team_of.items()
    )
    stages = list((await session.execute(select(Stage).order_by(Stage.position))).scalars())

    lead_rows: list[dict[str, Any]] = []
    visit_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    activity_rows: list[dict[str, Any]] = []
    created_times = sorted(now - timedelta(days=rng.uniform(0.5, 180)) for _ in range(leads))
    for created_at in created_times:
        lead_id = _time_ordered_id(rng, created_at)
        owner = rng.choice(reps)
        walk = _walk(rng, workspace_id, lead_id, stages, created_at, now, owner.id)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
        currency = "EUR" if rng.random() < 0.7 else rng.choice(["USD", "TRY", "GBP"])
        has_value = rng.random() < 0.9
        referrer = rng.choice(lead_rows)["id"] if lead_rows and rng.random() < 0.1 else None
        lead_rows.append(
            {
                "id": lead_id,
                "workspace_id": workspace_id,
                "title": f"{company}: {rng.choice(DEAL_KINDS)}",
                "company_name": company,
                "contact_name": f"{first} {last}",
                "contact_email": f"{first}.{last}@{company.split()[0]}.example".lower(),
                "contact_phone": f"+90 5{rng.randint(10, 59)} {rng.randint(100, 9999):04d}",
                "source": "referral" if referrer else rng.choice(SOURCES),
                "pipeline_id": stages[0].pipeline_id,
                "stage_id": walk.stage.id,
                "stage_entered_at": walk.stage_entered_at,
                "owner_id": owner.id,
                "team_id": team_of[owner.id].id,
                "value_amount": Decimal(rng.randrange(500, 50_000, 50)) if has_value else None,
                "value_currency": currency if has_value else None,
                "need": rng.choice(list(Qualification)),
                "budget": rng.choice(list(Qualification)),
                "authority": rng.choice(list(Qualification)),
                "timing": rng.choice(list(Qualification)),
                "score": rng.randint(0, 100),
                "status": walk.status,
                "lost_reason": walk.lost_reason,
                "closed_at": walk.closed_at,
                "referred_by_id": referrer,
                "custom_fields": {"industry": company.split()[1].lower()},
                "created_at": created_at,
                "updated_at": walk.updated_at,
                "version": 1 + len(walk.visits) - (walk.status == LeadStatus.OPEN),
                "last_activity_at": max(
                    (row["occurred_at"] for row in walk.activities), default=None
                ),
            }
        )
        activity_rows.extend(walk.activities)
        visit_rows.extend(walk.visits)
        event_rows.extend(walk.events)
    if lead_rows:
        await session.execute(insert(Lead), lead_rows)
        await session.execute(insert(StageVisit), visit_rows)
        await session.execute(insert(DomainEvent), event_rows)
        if activity_rows:
            await session.execute(insert(Activity), activity_rows)
    await session.flush()
    return workspace_id, key.token


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
