"""Who owns a new lead created without an owner: the workspace's assignment rules applied.

The lead service calls `assign_new_lead` in the lead's own transaction, for every lead created
without an owner, through any API key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.handoffs import repository
from salesgraph.handoffs.models import AssignmentKind, AssignmentRule
from salesgraph.workspaces.models import Member


@dataclass(frozen=True, slots=True)
class Assignment:
    """What a rule decided for a new lead: its owner (None when no one can take it) and team."""

    rule_id: uuid.UUID
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None


async def assign_new_lead(
    session: AsyncSession, *, source: str | None, team_id: uuid.UUID | None
) -> Assignment | None:
    """Apply the rule for `source` (or the rule for every other source) to a new lead.

    None when no active rule matches. The lead keeps a team it was given; otherwise it takes
    the rule's team.
    """
    rule = await repository.matching_rule_for_update(session, source)
    if rule is None:
        return None
    if rule.kind == AssignmentKind.FIXED_OWNER:
        owner_id = await _fixed_owner(session, rule)
    else:
        owner_id = await _next_in_turn(session, rule)
    return Assignment(rule_id=rule.id, owner_id=owner_id, team_id=team_id or rule.team_id)


async def _fixed_owner(session: AsyncSession, rule: AssignmentRule) -> uuid.UUID | None:
    assert rule.owner_id is not None  # a check constraint
    owner = await session.get(Member, (rule.workspace_id, rule.owner_id))
    return owner.id if owner is not None and owner.is_active else None


async def _next_in_turn(session: AsyncSession, rule: AssignmentRule) -> uuid.UUID | None:
    """The team's next active member after the rule's last one, in member-id order, wrapping.

    "After" compares ids, so a last member who has since left the team or become inactive
    still marks the place: the turn goes to the first active member with a greater id.
    """
    assert rule.team_id is not None  # a check constraint
    candidates = await repository.active_team_member_ids(session, rule.team_id)
    if not candidates:
        return None
    last = rule.last_member_id
    chosen = next((member_id for member_id in candidates if last is None or member_id > last), None)
    chosen = chosen or candidates[0]
    await repository.record_turn(session, rule, chosen)
    return chosen
