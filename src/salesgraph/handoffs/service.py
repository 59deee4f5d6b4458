"""Rules and writes of the handoff domain: handing leads over, accepting them, and the
workspace's assignment rules for new leads (applied by salesgraph.handoffs.assignment)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.activities import cadence
from salesgraph.db.clock import transaction_time
from salesgraph.db.ids import uuid7
from salesgraph.db.tenancy import session_workspace_id
from salesgraph.errors import (
    Collector,
    DomainError,
    ErrorCode,
    conflict,
    invalid_state,
    not_found,
    validation,
)
from salesgraph.events import Actor, changes, record_event
from salesgraph.handoffs import repository
from salesgraph.handoffs.models import AssignmentKind, AssignmentRule, Handoff, HandoffStatus
from salesgraph.leads import repository as lead_repository
from salesgraph.leads.models import Lead
from salesgraph.values import UNSET, Unset
from salesgraph.workspaces.models import Member, Scope, Team
from salesgraph.workspaces.service import Principal

MAX_NOTE = 2_000
MAX_SOURCE = AssignmentRule.__table__.c["source"].type.length  # type: ignore[attr-defined]


def _workspace_of(session: AsyncSession) -> uuid.UUID:
    return session_workspace_id(session.sync_session)


async def _active_member(session: AsyncSession, member_id: uuid.UUID, field: str) -> Member:
    """A member of the caller's workspace who can own leads (another workspace's is unknown)."""
    member = await session.get(Member, (_workspace_of(session), member_id))
    if member is None:
        raise not_found("member", field)
    if not member.is_active:
        raise invalid_state("the member is inactive and cannot own leads", field)
    return member


async def _team(session: AsyncSession, team_id: uuid.UUID, field: str) -> Team:
    team = await session.get(Team, (_workspace_of(session), team_id))
    if team is None:
        raise not_found("team", field)
    return team


# Handoffs.


def _note(note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise validation(f"must be at most {MAX_NOTE} characters", "note")
    return text or None


def _handoff_event(
    session: AsyncSession, handoff: Handoff, actor: Actor, type_: str, data: dict[str, Any]
) -> None:
    record_event(
        session,
        workspace_id=handoff.workspace_id,
        type=type_,
        subject_type="handoff",
        subject_id=handoff.id,
        actor=actor,
        data=data,
        lead_id=handoff.lead_id,
    )


def _ids(**values: uuid.UUID | None) -> dict[str, str | None]:
    return {name: str(value) if value is not None else None for name, value in values.items()}


async def supersede_pending_handoff(
    session: AsyncSession, *, actor: Actor, lead: Lead, at: datetime, by: str
) -> Handoff | None:
    """End the lead's pending handoff, if any: the lead was handed on or reassigned (`by`, the
    kind of change, goes into the event). The caller holds the lead's row lock."""
    pending = await repository.pending_handoff_for_update(session, lead.id)
    if pending is None:
        return None
    pending.status = HandoffStatus.SUPERSEDED
    pending.superseded_at = max(at, pending.handed_at)
    await session.flush()
    _handoff_event(
        session,
        pending,
        actor,
        "handoff.superseded",
        {"by": by, "changes": changes({"status": "PENDING"}, {"status": "SUPERSEDED"})},
    )
    return pending


async def _receivers(
    session: AsyncSession,
    lead: Lead,
    to_owner_id: uuid.UUID | None,
    to_team_id: uuid.UUID | None,
) -> dict[str, uuid.UUID | None]:
    """The lead's owner and team once handed to the given receivers.

    An owner given alone keeps the lead's team. A team given alone keeps the lead's owner only
    if that owner is a member of the team; otherwise the lead waits in the team without one.
    """
    if to_owner_id is not None:
        await _active_member(session, to_owner_id, "toOwnerId")
    if to_team_id is not None:
        await _team(session, to_team_id, "toTeamId")
    owner_id, team_id = lead.owner_id, lead.team_id
    if to_owner_id is not None:
        owner_id = to_owner_id
    if to_team_id is not None:
        team_id = to_team_id
        if (
            to_owner_id is None
            and owner_id is not None
            and not await repository.is_team_member(session, to_team_id, owner_id)
        ):
            owner_id = None
    return {"owner_id": owner_id, "team_id": team_id}


async def hand_off_lead(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    to_owner_id: uuid.UUID | None,
    to_team_id: uuid.UUID | None,
    note: str | None,
    expected_version: int | None,
) -> tuple[Handoff, Lead]:
    """Hand a lead (open, won or lost) to an owner and/or a team, with a note.

    The lead's owner and team change now; a pending handoff of the lead is superseded. The
    handoff waits for the receiver to accept it.
    """
    if to_owner_id is None and to_team_id is None:
        raise validation("give the owner or the team (or both) to hand the lead to", "toOwnerId")
    note = _note(note)
    found = await lead_repository.get_lead(session, lead_id, for_update=True)
    if found is None:
        raise not_found("lead", "leadId")
    lead, now = found
    if expected_version is not None and lead.version != expected_version:
        raise conflict("the lead", expected_version, lead.version)
    # now() is when this transaction began, which can be before a handoff of the lead that
    # committed while it waited for the lock: the lead's handoffs must never run backwards.
    now = max(now, await repository.latest_handoff_moment(session, lead.id) or now)
    before = {"owner_id": lead.owner_id, "team_id": lead.team_id}
    after = await _receivers(session, lead, to_owner_id, to_team_id)
    changed = changes(before, after)
    if not changed:
        raise validation(
            "the lead already has that owner and team",
            "toOwnerId" if to_owner_id is not None else "toTeamId",
        )
    superseded = await supersede_pending_handoff(
        session, actor=actor, lead=lead, at=now, by="handoff.created"
    )
    handoff = Handoff(
        id=uuid7(),
        workspace_id=lead.workspace_id,
        lead_id=lead.id,
        from_owner_id=lead.owner_id,
        from_team_id=lead.team_id,
        to_owner_id=to_owner_id,
        to_team_id=to_team_id,
        note=note,
        status=HandoffStatus.PENDING,
        handed_at=now,
        handed_by_member_id=actor.member_id,
        handed_by_api_key_id=actor.api_key_id,
    )
    session.add(handoff)
    lead.owner_id, lead.team_id = after["owner_id"], after["team_id"]
    await session.flush()
    await cadence.follow_owner(session, lead)
    _handoff_event(
        session,
        handoff,
        actor,
        "handoff.created",
        {
            **_ids(
                from_owner_id=handoff.from_owner_id,
                from_team_id=handoff.from_team_id,
                to_owner_id=to_owner_id,
                to_team_id=to_team_id,
                superseded_handoff_id=superseded.id if superseded else None,
            ),
            "note": note,
            "changes": changed,
        },
    )
    return handoff, lead


async def _may_accept(session: AsyncSession, principal: Principal, handoff: Handoff) -> bool:
    """The receiver accepts: the owner handed to or, for a handoff to a team alone, a member of
    the team. A key that acts for no member needs the admin scope."""
    member_id = principal.member_id
    if member_id is None:
        return principal.has(Scope.ADMIN)
    if handoff.to_owner_id is not None:
        return member_id == handoff.to_owner_id
    assert handoff.to_team_id is not None  # a check constraint
    return await repository.is_team_member(session, handoff.to_team_id, member_id)


async def accept_handoff(
    session: AsyncSession,
    *,
    principal: Principal,
    handoff_id: uuid.UUID,
    expected_version: int | None,
) -> tuple[Handoff, Lead]:
    handoff = await repository.get_handoff_for_update(session, handoff_id)
    if handoff is None:
        raise not_found("handoff", "id")
    if expected_version is not None and handoff.version != expected_version:
        raise conflict("the handoff", expected_version, handoff.version)
    if handoff.status != HandoffStatus.PENDING:
        raise invalid_state(f"the handoff is {handoff.status.value}, not PENDING", "id")
    if not await _may_accept(session, principal, handoff):
        raise DomainError(
            ErrorCode.FORBIDDEN, "only the receiver of the handoff may accept it", "id"
        )
    now = await transaction_time(session)
    handoff.status = HandoffStatus.ACCEPTED
    handoff.accepted_at = max(now, handoff.handed_at)
    handoff.accepted_by_member_id = principal.member_id
    handoff.accepted_by_api_key_id = principal.api_key_id
    await session.flush()
    _handoff_event(
        session,
        handoff,
        principal.actor,
        "handoff.accepted",
        {
            "seconds_to_acceptance": (handoff.accepted_at - handoff.handed_at).total_seconds(),
            "changes": changes({"status": "PENDING"}, {"status": "ACCEPTED"}),
        },
    )
    # The lead as it is now (deleted meanwhile, perhaps: the payload then shows it so).
    found = await lead_repository.get_lead(session, handoff.lead_id, include_deleted=True)
    assert found is not None  # a foreign key
    return handoff, found[0]


# Assignment rules.


@dataclass(slots=True)
class RuleChanges:
    """Settings of an assignment rule to set; UNSET leaves one as it is, None clears it."""

    source: str | Unset | None = UNSET
    team_id: uuid.UUID | Unset | None = UNSET
    owner_id: uuid.UUID | Unset | None = UNSET
    is_active: bool | Unset = UNSET


def _source(source: str | None, errors: Collector) -> str | None:
    if source is None:
        return None
    text = source.strip()
    if not text:
        errors.add("must not be blank (null makes the rule apply to every other source)", "source")
    elif len(text) > MAX_SOURCE:
        errors.add(f"must be at most {MAX_SOURCE} characters", "source")
    return text


def _check_kind(
    kind: AssignmentKind, team_id: uuid.UUID | None, owner_id: uuid.UUID | None, errors: Collector
) -> None:
    if kind == AssignmentKind.ROUND_ROBIN:
        if team_id is None:
            errors.add("a round-robin rule needs the team whose members take turns", "teamId")
        if owner_id is not None:
            errors.add("a round-robin rule has no fixed owner", "ownerId")
    elif owner_id is None:
        errors.add("a fixed-owner rule needs its owner", "ownerId")


async def _check_source_free(
    session: AsyncSession, source: str | None, rule_id: uuid.UUID | None
) -> None:
    if await repository.assignment_rule_for_source_taken(session, source, except_id=rule_id):
        raise DomainError(
            ErrorCode.DUPLICATE,
            f"a rule for source {source!r} exists"
            if source is not None
            else "a rule for every other source exists",
            "source",
        )


def _rule_snapshot(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "kind": rule.kind.value,
        "source": rule.source,
        "team_id": rule.team_id,
        "owner_id": rule.owner_id,
        "is_active": rule.is_active,
    }


def _rule_event(
    session: AsyncSession, rule: AssignmentRule, actor: Actor, type_: str, data: dict[str, Any]
) -> None:
    record_event(
        session,
        workspace_id=rule.workspace_id,
        type=type_,
        subject_type="assignment_rule",
        subject_id=rule.id,
        actor=actor,
        data=data,
    )


async def create_assignment_rule(
    session: AsyncSession,
    *,
    actor: Actor,
    kind: AssignmentKind,
    source: str | None,
    team_id: uuid.UUID | None,
    owner_id: uuid.UUID | None,
    is_active: bool,
) -> AssignmentRule:
    errors = Collector()
    source = _source(source, errors)
    _check_kind(kind, team_id, owner_id, errors)
    errors.raise_if_any()
    if owner_id is not None:
        await _active_member(session, owner_id, "ownerId")
    if team_id is not None:
        await _team(session, team_id, "teamId")
    await _check_source_free(session, source, None)
    rule = AssignmentRule(
        id=uuid7(),
        workspace_id=_workspace_of(session),
        kind=kind,
        source=source,
        team_id=team_id,
        owner_id=owner_id,
        is_active=is_active,
    )
    session.add(rule)
    await session.flush()
    _rule_event(
        session,
        rule,
        actor,
        "assignment_rule.created",
        {"changes": changes({}, _rule_snapshot(rule))},
    )
    return rule


async def _load_rule(
    session: AsyncSession, rule_id: uuid.UUID, expected_version: int | None
) -> AssignmentRule:
    rule = await repository.get_assignment_rule(session, rule_id, for_update=True)
    if rule is None:
        raise not_found("assignment rule", "id")
    if expected_version is not None and rule.version != expected_version:
        raise conflict("the assignment rule", expected_version, rule.version)
    return rule


async def update_assignment_rule(
    session: AsyncSession,
    *,
    actor: Actor,
    rule_id: uuid.UUID,
    fields: RuleChanges,
    expected_version: int | None,
) -> AssignmentRule:
    """Change a rule's settings (not its kind). A new team restarts its round-robin turns."""
    errors = Collector()
    source = fields.source if isinstance(fields.source, Unset) else _source(fields.source, errors)
    errors.raise_if_any()
    rule = await _load_rule(session, rule_id, expected_version)
    team_id = rule.team_id if isinstance(fields.team_id, Unset) else fields.team_id
    owner_id = rule.owner_id if isinstance(fields.owner_id, Unset) else fields.owner_id
    _check_kind(rule.kind, team_id, owner_id, errors)
    errors.raise_if_any()
    if owner_id is not None and owner_id != rule.owner_id:
        await _active_member(session, owner_id, "ownerId")
    if team_id is not None and team_id != rule.team_id:
        await _team(session, team_id, "teamId")
    if not isinstance(source, Unset) and (source or "").lower() != (rule.source or "").lower():
        await _check_source_free(session, source, rule.id)
    before = _rule_snapshot(rule)
    if team_id != rule.team_id:
        rule.last_member_id = None
    if not isinstance(source, Unset):
        rule.source = source
    rule.team_id, rule.owner_id = team_id, owner_id
    if not isinstance(fields.is_active, Unset):
        rule.is_active = fields.is_active
    changed = changes(before, _rule_snapshot(rule))
    if not changed:
        return rule
    await session.flush()
    _rule_event(session, rule, actor, "assignment_rule.updated", {"changes": changed})
    return rule


async def delete_assignment_rule(
    session: AsyncSession, *, actor: Actor, rule_id: uuid.UUID, expected_version: int | None
) -> AssignmentRule:
    """Delete a rule: leads it assigned keep their owners; new ones no longer follow it."""
    rule = await _load_rule(session, rule_id, expected_version)
    before = _rule_snapshot(rule)
    await session.delete(rule)
    await session.flush()
    _rule_event(
        session,
        rule,
        actor,
        "assignment_rule.deleted",
        {"changes": changes(before, dict.fromkeys(before))},
    )
    return rule
