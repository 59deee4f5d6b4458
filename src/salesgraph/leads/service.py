"""Rules and writes of the lead domain.

Every stage entry and exit goes through this module, which keeps the stage-history invariant:
an open lead has exactly one open visit (at its current stage); a won or lost lead has none.
The database backs it with a partial unique index and an append-only trigger.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.activities import cadence
from salesgraph.db.clock import transaction_time
from salesgraph.db.ids import uuid7
from salesgraph.db.tenancy import session_workspace_id
from salesgraph.errors import (
    Collector,
    DomainError,
    ErrorCode,
    api_name,
    conflict,
    invalid_state,
    not_found,
)
from salesgraph.events import Actor, DomainEvent, changes, record_event
from salesgraph.handoffs import assignment as assignment_rules
from salesgraph.handoffs import service as handoff_service
from salesgraph.leads import repository
from salesgraph.leads.models import (
    Lead,
    LeadStatus,
    Qualification,
    StageVisit,
    VisitEntry,
    VisitExit,
)
from salesgraph.pipelines import repository as pipeline_repository
from salesgraph.pipelines.models import Stage
from salesgraph.values import UNSET, Unset, validate_money
from salesgraph.workspaces.models import Member, Team
from salesgraph.workspaces.service import EMAIL_PATTERN

PHONE_PATTERN = re.compile(r"^\+?[0-9 ().\-/]{3,50}$")
CUSTOM_FIELD_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_CUSTOM_FIELDS = 50
MAX_CUSTOM_FIELDS_BYTES = 16_384
MAX_CUSTOM_STRING = 2_000
MAX_CUSTOM_LIST = 50
MAX_REASON = 1_000
MAX_EXACT_INTEGER = 2**53
# Expected close dates: the years a forecast can sensibly hold (the Date scalar takes 1 to 9999).
MIN_CLOSE_YEAR = 1900
MAX_CLOSE_YEAR = 2200


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(slots=True)
class LeadChanges:
    """Fields of a lead to set; UNSET leaves a field as it is, None clears it."""

    title: str | Unset = UNSET
    company_name: str | Unset | None = UNSET
    contact_name: str | Unset | None = UNSET
    contact_email: str | Unset | None = UNSET
    contact_phone: str | Unset | None = UNSET
    source: str | Unset | None = UNSET
    owner_id: uuid.UUID | Unset | None = UNSET
    team_id: uuid.UUID | Unset | None = UNSET
    value: Money | Unset | None = UNSET
    expected_close_date: date | Unset | None = UNSET
    need: Qualification | Unset = UNSET
    budget: Qualification | Unset = UNSET
    authority: Qualification | Unset = UNSET
    timing: Qualification | Unset = UNSET
    score: int | Unset | None = UNSET
    referred_by_id: uuid.UUID | Unset | None = UNSET
    custom_fields: dict[str, Any] | Unset = UNSET


@dataclass(slots=True)
class NewLead(LeadChanges):
    """A lead to create: its fields, and where in which pipeline it starts."""

    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Fields stored on the lead as they are given (after trimming).
_TEXT_LIMITS: dict[str, int] = {
    name: Lead.__table__.c[name].type.length  # type: ignore[attr-defined]
    for name in (
        "title",
        "company_name",
        "contact_name",
        "contact_email",
        "contact_phone",
        "source",
    )
}


def _validate_custom_fields(value: Any, errors: Collector) -> dict[str, Any]:
    if not isinstance(value, dict):
        errors.add("must be a JSON object", "customFields")
        return {}
    if len(value) > MAX_CUSTOM_FIELDS:
        errors.add(f"at most {MAX_CUSTOM_FIELDS} fields", "customFields")
    for key, item in value.items():
        if not isinstance(key, str) or not CUSTOM_FIELD_KEY.match(key):
            errors.add(
                "keys are 1-64 letters, digits or underscores, not starting with a digit",
                "customFields",
                str(key),
            )
            continue
        items = item if isinstance(item, list) else [item]
        if isinstance(item, list) and len(item) > MAX_CUSTOM_LIST:
            errors.add(f"lists hold at most {MAX_CUSTOM_LIST} values", "customFields", key)
        for element in items:
            if isinstance(element, dict | list):
                errors.add(
                    "values are strings, numbers, booleans, null or lists of those",
                    "customFields",
                    key,
                )
                break
            if isinstance(element, str) and len(element) > MAX_CUSTOM_STRING:
                errors.add(
                    f"strings are at most {MAX_CUSTOM_STRING} characters", "customFields", key
                )
                break
            if not _exact_json_number(element):
                errors.add(
                    "numbers are finite and integers within +/-2^53 (beyond, use a string)",
                    "customFields",
                    key,
                )
                break
    if errors.errors:
        return value
    if len(orjson.dumps(value)) > MAX_CUSTOM_FIELDS_BYTES:
        errors.add(f"at most {MAX_CUSTOM_FIELDS_BYTES} bytes of JSON", "customFields")
    return value


def _exact_json_number(value: Any) -> bool:
    """Whether a number survives JSON in every client: finite, integers exact in a double."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return abs(value) <= MAX_EXACT_INTEGER


def _validate_fields(fields: LeadChanges, errors: Collector) -> dict[str, Any]:
    """Check the shape of every given field; returns the normalized values to store."""
    values: dict[str, Any] = {}
    for name, limit in _TEXT_LIMITS.items():
        raw = getattr(fields, name)
        if isinstance(raw, Unset):
            continue
        if raw is None:
            if name == "title":
                errors.add("must not be null", "title")
            values[name] = None
            continue
        text = raw.strip()
        if not text:
            if name == "title":
                errors.add("must not be blank", "title")
            values[name] = None
            continue
        if len(text) > limit:
            errors.add(f"must be at most {limit} characters", api_name(name))
        elif name == "contact_email" and not EMAIL_PATTERN.match(text):
            errors.add(f"{text!r} is not an email address", "contactEmail")
            continue
        elif name == "contact_phone" and not PHONE_PATTERN.match(text):
            errors.add("may hold digits, spaces, + ( ) . - and /", "contactPhone")
            continue
        values[name] = text.lower() if name == "contact_email" else text
    if not isinstance(fields.value, Unset):
        if fields.value is None:
            values["value_amount"] = values["value_currency"] = None
        else:
            amount, currency = validate_money(
                fields.value.amount, fields.value.currency, ("value",), errors
            )
            values["value_amount"], values["value_currency"] = amount, currency
    if not isinstance(fields.expected_close_date, Unset):
        close = fields.expected_close_date
        if close is not None and not MIN_CLOSE_YEAR <= close.year <= MAX_CLOSE_YEAR:
            errors.add(
                f"must be in the years {MIN_CLOSE_YEAR} to {MAX_CLOSE_YEAR}", "expectedCloseDate"
            )
        values["expected_close_date"] = close
    for name in ("need", "budget", "authority", "timing"):
        answer = getattr(fields, name)
        if not isinstance(answer, Unset):
            if answer is None:
                errors.add("must not be null", name)
            values[name] = answer
    if not isinstance(fields.score, Unset):
        if fields.score is not None and not 0 <= fields.score <= 100:
            errors.add("must be between 0 and 100", "score")
        values["score"] = fields.score
    for name in ("owner_id", "team_id", "referred_by_id"):
        reference = getattr(fields, name)
        if not isinstance(reference, Unset):
            values[name] = reference
    if not isinstance(fields.custom_fields, Unset):
        if fields.custom_fields is None:
            errors.add("must not be null (use {} to clear)", "customFields")
        else:
            values["custom_fields"] = _validate_custom_fields(fields.custom_fields, errors)
    return values


async def _check_references(
    session: AsyncSession, values: dict[str, Any], lead_id: uuid.UUID | None
) -> None:
    """Owner, team and referrer must exist in the caller's workspace (the session's scope)."""
    owner_id = values.get("owner_id")
    if owner_id is not None:
        owner = await session.get(Member, (_workspace_of(session), owner_id))
        if owner is None:
            raise not_found("member", "ownerId")
        if not owner.is_active:
            raise invalid_state("the member is inactive and cannot own leads", "ownerId")
    team_id = values.get("team_id")
    if team_id is not None and await session.get(Team, (_workspace_of(session), team_id)) is None:
        raise not_found("team", "teamId")
    referred_by_id = values.get("referred_by_id")
    if referred_by_id is not None:
        if referred_by_id == lead_id:
            raise DomainError(ErrorCode.VALIDATION, "a lead cannot refer itself", "referredById")
        if await repository.get_lead(session, referred_by_id) is None:
            raise not_found("referring lead", "referredById")


def _workspace_of(session: AsyncSession) -> uuid.UUID:
    return session_workspace_id(session.sync_session)


def _snapshot(lead: Lead) -> dict[str, Any]:
    return {
        "title": lead.title,
        "company_name": lead.company_name,
        "contact_name": lead.contact_name,
        "contact_email": lead.contact_email,
        "contact_phone": lead.contact_phone,
        "source": lead.source,
        "owner_id": lead.owner_id,
        "team_id": lead.team_id,
        "value_amount": lead.value_amount,
        "value_currency": lead.value_currency,
        "expected_close_date": lead.expected_close_date,
        "need": lead.need,
        "budget": lead.budget,
        "authority": lead.authority,
        "timing": lead.timing,
        "score": lead.score,
        "referred_by_id": lead.referred_by_id,
        "custom_fields": lead.custom_fields,
    }


def _event(
    session: AsyncSession, lead: Lead, actor: Actor, type_: str, data: dict[str, Any]
) -> None:
    record_event(
        session,
        workspace_id=lead.workspace_id,
        type=type_,
        subject_type="lead",
        subject_id=lead.id,
        actor=actor,
        data=data,
    )


def _enter(
    session: AsyncSession,
    lead: Lead,
    stage: Stage,
    *,
    at: datetime,
    entry: VisitEntry,
    actor: Actor,
    reason: str | None,
) -> StageVisit:
    visit = StageVisit(
        id=uuid7(),
        workspace_id=lead.workspace_id,
        lead_id=lead.id,
        pipeline_id=stage.pipeline_id,
        stage_id=stage.id,
        stage_position=stage.position,
        entered_at=at,
        entry=entry,
        entered_by_member_id=actor.member_id,
        entered_by_api_key_id=actor.api_key_id,
        entry_reason=reason,
    )
    session.add(visit)
    return visit


async def _exit(
    session: AsyncSession,
    lead: Lead,
    *,
    at: datetime,
    exit: VisitExit,
    actor: Actor,
    reason: str | None,
) -> StageVisit:
    visit = await repository.open_visit(session, lead.id)
    if visit is None:  # the database's invariant makes this unreachable for an open lead
        raise RuntimeError(f"open lead {lead.id} has no open stage visit")
    visit.exited_at = at
    visit.exit = exit
    visit.exited_by_member_id = actor.member_id
    visit.exited_by_api_key_id = actor.api_key_id
    visit.exit_reason = reason
    return visit


async def _lock_stage(session: AsyncSession, stage_id: uuid.UUID) -> Stage | None:
    """The stage, locked FOR KEY SHARE until the transaction ends.

    That is the lock the foreign key check takes anyway, but taken before the stage is checked:
    archiving locks the stage FOR UPDATE, so a lead cannot enter a stage that is being archived
    after the archive has moved that stage's open leads away.
    """
    statement = (
        select(Stage)
        .where(Stage.id == stage_id)
        .with_for_update(read=True, key_share=True)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def _usable_stage(stage: Stage | None, pipeline_id: uuid.UUID, field: str = "stageId") -> Stage:
    if stage is None:
        raise not_found("stage", field)
    if stage.pipeline_id != pipeline_id:
        raise DomainError(ErrorCode.VALIDATION, "the stage is not in the lead's pipeline", field)
    if stage.archived_at is not None:
        raise invalid_state("the stage is archived", field)
    return stage


async def _stage_for_lead(
    session: AsyncSession, stage_id: uuid.UUID, pipeline_id: uuid.UUID, field: str = "stageId"
) -> Stage:
    return _usable_stage(await _lock_stage(session, stage_id), pipeline_id, field)


def _reason(reason: str | None, field: str, *, required: bool = False) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise DomainError(ErrorCode.VALIDATION, "must not be blank", field)
    if len(text) > MAX_REASON:
        raise DomainError(ErrorCode.VALIDATION, f"must be at most {MAX_REASON} characters", field)
    return text or None


async def create_lead(session: AsyncSession, *, actor: Actor, new: NewLead) -> Lead:
    errors = Collector()
    if isinstance(new.title, Unset):
        errors.add("is required", "title")
    values = _validate_fields(new, errors)
    errors.raise_if_any()
    workspace_id = _workspace_of(session)

    if new.pipeline_id is not None:
        pipeline = await pipeline_repository.get_pipeline(session, new.pipeline_id)
        if pipeline is None:
            raise not_found("pipeline", "pipelineId")
    else:
        pipeline = await pipeline_repository.default_pipeline(session)
        if pipeline is None:
            raise invalid_state("the workspace has no pipeline: create one first", "pipelineId")
    if pipeline.archived_at is not None:
        raise invalid_state("the pipeline is archived", "pipelineId")
    if new.stage_id is not None:
        stage = await _stage_for_lead(session, new.stage_id, pipeline.id)
    else:
        stages = await pipeline_repository.stages_by_pipeline_ids(
            session, [pipeline.id], include_archived=False
        )
        stage = await _stage_for_lead(session, stages[pipeline.id][0].id, pipeline.id)
    await _check_references(session, values, None)
    assigned = None
    if values.get("owner_id") is None:
        assigned = await assignment_rules.assign_new_lead(
            session, source=values.get("source"), team_id=values.get("team_id")
        )
        if assigned is not None:
            values = {**values, "owner_id": assigned.owner_id, "team_id": assigned.team_id}

    now = await transaction_time(session)
    lead = Lead(
        id=uuid7(),
        workspace_id=workspace_id,
        pipeline_id=pipeline.id,
        stage_id=stage.id,
        stage_entered_at=now,
        status=LeadStatus.OPEN,
        **{"custom_fields": {}, **values},
    )
    session.add(lead)
    await session.flush()
    _enter(session, lead, stage, at=now, entry=VisitEntry.CREATED, actor=actor, reason=None)
    await session.flush()
    _event(
        session,
        lead,
        actor,
        "lead.created",
        {
            "pipeline_id": str(pipeline.id),
            "stage_id": str(stage.id),
            "changes": changes({}, _snapshot(lead)),
            "assignment_rule_id": str(assigned.rule_id) if assigned is not None else None,
        },
    )
    return lead


async def _load(
    session: AsyncSession,
    lead_id: uuid.UUID,
    expected_version: int | None,
    *,
    include_deleted: bool = False,
) -> tuple[Lead, datetime]:
    """The lead, locked, and the time to record its changes at; checks the expected version."""
    found = await repository.get_lead(
        session, lead_id, for_update=True, include_deleted=include_deleted
    )
    if found is None:
        raise not_found("lead", "id")
    lead, now = found
    # now() is when this transaction began, which can be before a change it waited for on the
    # row lock was committed; the lead's history must never run backwards.
    now = max(now, lead.stage_entered_at, lead.closed_at or now)
    if expected_version is not None and lead.version != expected_version:
        raise conflict("the lead", expected_version, lead.version)
    return lead, now


async def update_lead(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    fields: LeadChanges,
    expected_version: int | None,
) -> Lead:
    errors = Collector()
    values = _validate_fields(fields, errors)
    errors.raise_if_any()
    lead, _ = await _load(session, lead_id, expected_version)
    await _check_references(session, values, lead.id)
    before = _snapshot(lead)
    for name, value in values.items():
        setattr(lead, name, value)
    changed = changes(before, _snapshot(lead))
    if not changed:
        return lead
    await session.flush()
    _event(session, lead, actor, "lead.updated", {"changes": changed})
    return lead


async def move_lead(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    stage_id: uuid.UUID,
    reason: str | None,
    expected_version: int | None,
) -> Lead:
    """Move an open lead to another stage of its pipeline, forward or backward."""
    reason = _reason(reason, "reason")
    # The stage before the lead: archiving locks its stages, then their leads, so the same
    # order here keeps a move out of a stage being archived from deadlocking with it.
    locked_target = await _lock_stage(session, stage_id)
    lead, now = await _load(session, lead_id, expected_version)
    if lead.status != LeadStatus.OPEN:
        raise invalid_state(f"the lead is {lead.status.value}: reopen it first", "id")
    if stage_id == lead.stage_id:
        raise invalid_state("the lead is already at that stage", "stageId")
    target = _usable_stage(locked_target, lead.pipeline_id)
    current = await pipeline_repository.get_stage(session, lead.stage_id)
    assert current is not None
    forward = target.position > current.position
    await _exit(
        session,
        lead,
        at=now,
        exit=VisitExit.FORWARD if forward else VisitExit.BACKWARD,
        actor=actor,
        reason=reason,
    )
    await session.flush()  # close the old visit before the new one opens (one open visit)
    _enter(
        session,
        lead,
        target,
        at=now,
        entry=VisitEntry.FORWARD if forward else VisitEntry.BACKWARD,
        actor=actor,
        reason=reason,
    )
    lead.stage_id = target.id
    lead.stage_entered_at = now
    await session.flush()
    _event(
        session,
        lead,
        actor,
        "lead.stage_changed",
        {
            "direction": "FORWARD" if forward else "BACKWARD",
            "reason": reason,
            "changes": changes({"stage_id": current.id}, {"stage_id": target.id}),
        },
    )
    return lead


async def win_lead(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    reason: str | None,
    expected_version: int | None,
) -> Lead:
    reason = _reason(reason, "reason")
    lead, now = await _load(session, lead_id, expected_version)
    if lead.status != LeadStatus.OPEN:
        raise invalid_state(f"the lead is already {lead.status.value}", "id")
    await _exit(session, lead, at=now, exit=VisitExit.WON, actor=actor, reason=reason)
    lead.status = LeadStatus.WON
    lead.closed_at = now
    await session.flush()
    await cadence.stop(session, lead, at=now, reason="the lead was won")
    _event(
        session,
        lead,
        actor,
        "lead.won",
        {
            "stage_id": str(lead.stage_id),
            "reason": reason,
            "changes": changes({"status": "OPEN"}, {"status": "WON"}),
        },
    )
    return lead


async def lose_lead(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
) -> Lead:
    lost_reason = _reason(reason, "reason", required=True)
    lead, now = await _load(session, lead_id, expected_version)
    if lead.status != LeadStatus.OPEN:
        raise invalid_state(f"the lead is already {lead.status.value}", "id")
    await _exit(session, lead, at=now, exit=VisitExit.LOST, actor=actor, reason=lost_reason)
    lead.status = LeadStatus.LOST
    lead.closed_at = now
    lead.lost_reason = lost_reason
    await session.flush()
    await cadence.stop(session, lead, at=now, reason="the lead was lost")
    _event(
        session,
        lead,
        actor,
        "lead.lost",
        {
            "stage_id": str(lead.stage_id),
            "reason": lost_reason,
            "changes": changes({"status": "OPEN"}, {"status": "LOST"}),
        },
    )
    return lead


async def reopen_lead(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    stage_id: uuid.UUID | None,
    reason: str | None,
    expected_version: int | None,
) -> Lead:
    """Reopen a won or lost lead at `stage_id`, or at the stage where it was closed."""
    reason = _reason(reason, "reason")
    lead, now = await _load(session, lead_id, expected_version)
    if lead.status == LeadStatus.OPEN:
        raise invalid_state("the lead is already open", "id")
    stage = await _stage_for_lead(session, stage_id or lead.stage_id, lead.pipeline_id, "stageId")
    previous_status = lead.status
    _enter(session, lead, stage, at=now, entry=VisitEntry.REOPENED, actor=actor, reason=reason)
    lead.status = LeadStatus.OPEN
    lead.closed_at = None
    lead.lost_reason = None
    lead.stage_id = stage.id
    lead.stage_entered_at = now
    await session.flush()
    _event(
        session,
        lead,
        actor,
        "lead.reopened",
        {
            "stage_id": str(stage.id),
            "reason": reason,
            "changes": changes({"status": previous_status.value}, {"status": "OPEN"}),
        },
    )
    return lead


async def reassign_lead(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    owner_id: uuid.UUID | Unset | None,
    team_id: uuid.UUID | Unset | None,
    expected_version: int | None,
) -> Lead:
    if isinstance(owner_id, Unset) and isinstance(team_id, Unset):
        raise DomainError(ErrorCode.VALIDATION, "give an owner, a team or both", "ownerId")
    lead, now = await _load(session, lead_id, expected_version)
    values: dict[str, Any] = {}
    if not isinstance(owner_id, Unset):
        values["owner_id"] = owner_id
    if not isinstance(team_id, Unset):
        values["team_id"] = team_id
    await _check_references(session, values, lead.id)
    before = {name: getattr(lead, name) for name in values}
    for name, value in values.items():
        setattr(lead, name, value)
    changed = changes(before, values)
    if changed:
        await session.flush()
        if "owner_id" in changed:
            await cadence.follow_owner(session, lead)
        # A direct reassignment replaces the handoff the receiver has not accepted yet.
        await handoff_service.supersede_pending_handoff(
            session, actor=actor, lead=lead, at=now, by="lead.reassigned"
        )
        _event(session, lead, actor, "lead.reassigned", {"changes": changed})
    return lead


async def delete_lead(
    session: AsyncSession, *, actor: Actor, lead_id: uuid.UUID, expected_version: int | None
) -> Lead:
    """Soft-delete: the lead disappears from reads but keeps its history and can be restored."""
    lead, now = await _load(session, lead_id, expected_version)
    lead.deleted_at = now
    await session.flush()
    _event(session, lead, actor, "lead.deleted", {})
    return lead


async def restore_lead(
    session: AsyncSession, *, actor: Actor, lead_id: uuid.UUID, expected_version: int | None
) -> Lead:
    lead, _ = await _load(session, lead_id, expected_version, include_deleted=True)
    if lead.deleted_at is None:
        raise invalid_state("the lead is not deleted", "id")
    lead.deleted_at = None
    await session.flush()
    _event(session, lead, actor, "lead.restored", {})
    return lead


async def count_open_leads_at(session: AsyncSession, stage_id: uuid.UUID) -> int:
    return await repository.count_open_leads_at(session, stage_id)


async def move_all_open_leads(
    session: AsyncSession, *, actor: Actor, from_stage: Stage, to_stage: Stage, reason: str
) -> int:
    """Move every open lead at `from_stage` to `to_stage` in a few set-based statements."""
    workspace_id = from_stage.workspace_id
    rows = (
        await session.execute(
            select(Lead.id, Lead.version, Lead.stage_entered_at)
            .where(Lead.stage_id == from_stage.id, Lead.status == LeadStatus.OPEN)
            .with_for_update()
        )
    ).all()
    if not rows:
        return 0
    lead_ids = [row.id for row in rows]
    # Never before a visit it closes began (a move may have committed while we waited).
    now = max([await transaction_time(session), *(row.stage_entered_at for row in rows)])
    forward = to_stage.position > from_stage.position
    await session.execute(
        update(StageVisit)
        .where(StageVisit.lead_id.in_(lead_ids), StageVisit.exited_at.is_(None))
        .values(
            exited_at=now,
            exit=VisitExit.FORWARD if forward else VisitExit.BACKWARD,
            exited_by_member_id=actor.member_id,
            exited_by_api_key_id=actor.api_key_id,
            exit_reason=reason,
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        insert(StageVisit),
        [
            {
                "id": uuid7(),
                "workspace_id": workspace_id,
                "lead_id": lead_id,
                "pipeline_id": to_stage.pipeline_id,
                "stage_id": to_stage.id,
                "stage_position": to_stage.position,
                "entered_at": now,
                "entry": VisitEntry.FORWARD if forward else VisitEntry.BACKWARD,
                "entered_by_member_id": actor.member_id,
                "entered_by_api_key_id": actor.api_key_id,
                "entry_reason": reason,
            }
            for lead_id in lead_ids
        ],
    )
    await session.execute(
        update(Lead)
        .where(Lead.id.in_(lead_ids))
        .values(stage_id=to_stage.id, stage_entered_at=now, version=Lead.version + 1)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        insert(DomainEvent),
        [
            {
                "id": uuid7(),
                "workspace_id": workspace_id,
                "type": "lead.stage_changed",
                "subject_type": "lead",
                "subject_id": lead_id,
                "lead_id": lead_id,
                "actor_member_id": actor.member_id,
                "actor_api_key_id": actor.api_key_id,
                "data": {
                    "direction": "FORWARD" if forward else "BACKWARD",
                    "reason": reason,
                    "changes": {"stage_id": {"old": str(from_stage.id), "new": str(to_stage.id)}},
                },
            }
            for lead_id in lead_ids
        ],
    )
    return len(lead_ids)
