"""Rules and writes of the objection domain.

An objection is recorded at the stage its lead was in when it was raised (also when it is
recorded later, with a past raisedAt), answered with a response of one's own or from the
workspace's library, and settled as RESOLVED or UNRESOLVED; a settled one can be reopened.
Every change writes a domain event on the lead's timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.ids import uuid7
from salesgraph.db.tenancy import session_workspace_id
from salesgraph.errors import Collector, conflict, invalid_state, not_found, validation
from salesgraph.events import Actor, changes, record_event
from salesgraph.leads import repository as lead_repository
from salesgraph.objections import repository
from salesgraph.objections.models import (
    Objection,
    ObjectionCategory,
    ObjectionResponse,
    ObjectionStatus,
)
from salesgraph.values import Unset

MAX_WORDS = 5_000
MAX_RESPONSE = 5_000
MAX_TITLE = ObjectionResponse.__table__.c["title"].type.length  # type: ignore[attr-defined]
MAX_TEXT = 5_000
# How far ahead of the database's clock a client's time may be and still count as the present.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Answer:
    """What was said to an objection: a text of one's own and/or a library response."""

    text: str | None = None
    suggested_response_id: uuid.UUID | None = None

    @property
    def given(self) -> bool:
        return self.text is not None or self.suggested_response_id is not None


def _text(
    value: str | None, field: str, limit: int, errors: Collector, *, required: bool = True
) -> str | None:
    """`value` trimmed; blank or too long is a validation error (None passes unless required)."""
    if value is None:
        if required:
            errors.add("must not be null", field)
        return None
    text = value.strip()
    if not text:
        errors.add("must not be blank", field)
    elif len(text) > limit:
        errors.add(f"must be at most {limit:,} characters", field)
    return text


def _answer(answer: Answer, errors: Collector) -> Answer:
    return Answer(
        _text(answer.text, "response", MAX_RESPONSE, errors, required=False),
        answer.suggested_response_id,
    )


def _not_in_future(at: datetime, now: datetime, field: str) -> None:
    if at > now + CLOCK_SKEW:
        raise validation("must not be in the future", field)


def _snapshot(objection: Objection) -> dict[str, Any]:
    return {
        "category": objection.category.value,
        "customer_words": objection.customer_words,
        "status": objection.status.value,
        "response": objection.response,
        "response_id": objection.response_id,
        "responded_at": objection.responded_at,
        "settled_at": objection.settled_at,
        "settled_by_member_id": objection.settled_by_member_id,
        "settled_by_api_key_id": objection.settled_by_api_key_id,
    }


def _event(
    session: AsyncSession,
    objection: Objection,
    actor: Actor,
    type_: str,
    before: dict[str, Any],
    *,
    occurred_at: datetime | None = None,
    **data: Any,
) -> None:
    record_event(
        session,
        workspace_id=objection.workspace_id,
        type=type_,
        subject_type="objection",
        subject_id=objection.id,
        actor=actor,
        data={
            "category": objection.category.value,
            "status": objection.status.value,
            **data,
            "changes": changes(before, _snapshot(objection)),
        },
        lead_id=objection.lead_id,
        occurred_at=occurred_at,
    )


async def _load(
    session: AsyncSession, objection_id: uuid.UUID, expected_version: int | None
) -> tuple[Objection, datetime]:
    """The objection, locked, and the time to record its changes at; checks the version."""
    found = await repository.get_objection(session, objection_id, for_update=True)
    if found is None:
        raise not_found("objection", "id")
    objection, now = found
    if expected_version is not None and objection.version != expected_version:
        raise conflict("the objection", expected_version, objection.version)
    # Never before it was raised (a raisedAt may be a little ahead of the database's clock).
    return objection, max(now, objection.raised_at)


async def _usable_response(
    session: AsyncSession, response_id: uuid.UUID, category: ObjectionCategory
) -> ObjectionResponse:
    found = await repository.get_response(session, response_id, lock=True)
    if found is None:
        raise not_found("objection response", "suggestedResponseId")
    response, _ = found
    if response.archived_at is not None:
        raise invalid_state("the response is archived", "suggestedResponseId")
    if response.category != category:
        raise validation(
            f"the response answers {response.category.value} objections, not {category.value} ones",
            "suggestedResponseId",
        )
    return response


async def _record_answer(
    session: AsyncSession, objection: Objection, answer: Answer, at: datetime
) -> None:
    """Store the answer: its own text, or else the library response's text."""
    library = (
        await _usable_response(session, answer.suggested_response_id, objection.category)
        if answer.suggested_response_id is not None
        else None
    )
    text = answer.text if answer.text is not None else library.text if library else None
    assert text is not None  # an answer is given
    objection.response = text
    objection.response_id = library.id if library is not None else None
    objection.responded_at = at


async def raise_objection(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    category: ObjectionCategory,
    customer_words: str,
    raised_at: datetime | None,
) -> Objection:
    """Record an objection on a lead, at the stage the lead was in when it was raised."""
    errors = Collector()
    words = _text(customer_words, "customerWords", MAX_WORDS, errors)
    errors.raise_if_any()
    found = await lead_repository.get_lead(session, lead_id, for_update=True)
    if found is None:
        raise not_found("lead", "leadId")
    lead, now = found
    if raised_at is None:
        # now() is when this transaction began, possibly before a change it waited for on the
        # lead's lock: the objection must come after the lead's history, not before it.
        at = max(now, lead.stage_entered_at, lead.closed_at or now)
    else:
        _not_in_future(raised_at, now, "raisedAt")
        if raised_at < lead.created_at:
            raise validation("must not be before the lead was created", "raisedAt")
        at = raised_at
    visit = (await lead_repository.visits_at(session, [(lead.id, at)]))[(lead.id, at)]
    if visit is None:
        raise validation("must not be before the lead was created", "raisedAt")
    objection = Objection(
        id=uuid7(),
        workspace_id=lead.workspace_id,
        lead_id=lead.id,
        category=category,
        customer_words=words,
        pipeline_id=visit.pipeline_id,
        stage_id=visit.stage_id,
        raised_at=at,
        raised_by_member_id=actor.member_id,
        raised_by_api_key_id=actor.api_key_id,
        status=ObjectionStatus.OPEN,
    )
    session.add(objection)
    await session.flush()
    _event(
        session,
        objection,
        actor,
        "objection.raised",
        {},
        occurred_at=at,
        stage_id=str(visit.stage_id),
    )
    return objection


async def respond_to_objection(
    session: AsyncSession,
    *,
    actor: Actor,
    objection_id: uuid.UUID,
    answer: Answer,
    expected_version: int | None,
) -> Objection:
    """Record the answer given to an open objection (replacing an earlier one)."""
    errors = Collector()
    answer = _answer(answer, errors)
    if not answer.given:
        errors.add("give a response, a suggestedResponseId or both", "response")
    errors.raise_if_any()
    objection, now = await _load(session, objection_id, expected_version)
    if objection.status != ObjectionStatus.OPEN:
        raise invalid_state(f"the objection is {objection.status.value}: reopen it first", "id")
    before = _snapshot(objection)
    await _record_answer(session, objection, answer, now)
    await session.flush()
    _event(session, objection, actor, "objection.responded", before)
    return objection


async def resolve_objection(
    session: AsyncSession,
    *,
    actor: Actor,
    objection_id: uuid.UUID,
    status: ObjectionStatus,
    answer: Answer,
    settled_at: datetime | None,
    expected_version: int | None,
) -> Objection:
    """Settle an open objection as RESOLVED or UNRESOLVED, optionally with the answer given."""
    errors = Collector()
    if status == ObjectionStatus.OPEN:
        errors.add("must be RESOLVED or UNRESOLVED (use reopenObjection to reopen)", "status")
    answer = _answer(answer, errors)
    errors.raise_if_any()
    objection, now = await _load(session, objection_id, expected_version)
    if objection.status != ObjectionStatus.OPEN:
        raise invalid_state(f"the objection is already {objection.status.value}", "id")
    at = now
    if settled_at is not None:
        _not_in_future(settled_at, now, "settledAt")
        if settled_at < objection.raised_at:
            raise validation("must not be before the objection was raised", "settledAt")
        at = settled_at
    before = _snapshot(objection)
    if answer.given:
        await _record_answer(session, objection, answer, at)
    objection.status = status
    objection.settled_at = at
    objection.settled_by_member_id = actor.member_id
    objection.settled_by_api_key_id = actor.api_key_id
    await session.flush()
    _event(
        session,
        objection,
        actor,
        f"objection.{status.value.lower()}",
        before,
        occurred_at=at,
    )
    return objection


async def reopen_objection(
    session: AsyncSession, *, actor: Actor, objection_id: uuid.UUID, expected_version: int | None
) -> Objection:
    """Make a settled objection open again."""
    objection, _ = await _load(session, objection_id, expected_version)
    if objection.status == ObjectionStatus.OPEN:
        raise invalid_state("the objection is already open", "id")
    before = _snapshot(objection)
    objection.status = ObjectionStatus.OPEN
    objection.settled_at = None
    objection.settled_by_member_id = None
    objection.settled_by_api_key_id = None
    await session.flush()
    _event(session, objection, actor, "objection.reopened", before)
    return objection


async def update_objection(
    session: AsyncSession,
    *,
    actor: Actor,
    objection_id: uuid.UUID,
    category: ObjectionCategory | Unset,
    customer_words: str | Unset,
    expected_version: int | None,
) -> Objection:
    """Correct what was recorded; omitted fields stay as they are."""
    errors = Collector()
    values: dict[str, Any] = {}
    if not isinstance(category, Unset):
        values["category"] = category
    if not isinstance(customer_words, Unset):
        values["customer_words"] = _text(customer_words, "customerWords", MAX_WORDS, errors)
    errors.raise_if_any()
    objection, _ = await _load(session, objection_id, expected_version)
    if "category" in values and objection.response_id is not None:
        found = await repository.get_response(session, objection.response_id)
        used = found[0] if found is not None else None
        if used is not None and used.category != values["category"]:
            raise invalid_state(
                f"it was answered with a library response for {used.category.value} "
                "objections; record a new answer before changing the category",
                "category",
            )
    before = _snapshot(objection)
    for name, value in values.items():
        setattr(objection, name, value)
    if changes(before, _snapshot(objection)):
        await session.flush()
        _event(session, objection, actor, "objection.updated", before)
    return objection


# The response library.


def _library_snapshot(response: ObjectionResponse) -> dict[str, Any]:
    return {
        "category": response.category.value,
        "title": response.title,
        "text": response.text,
        "archived_at": response.archived_at,
    }


def _library_event(
    session: AsyncSession,
    response: ObjectionResponse,
    actor: Actor,
    type_: str,
    before: dict[str, Any],
) -> None:
    record_event(
        session,
        workspace_id=response.workspace_id,
        type=type_,
        subject_type="objection_response",
        subject_id=response.id,
        actor=actor,
        data={
            "category": response.category.value,
            "changes": changes(before, _library_snapshot(response)),
        },
    )


async def _load_response(
    session: AsyncSession, response_id: uuid.UUID, expected_version: int | None
) -> tuple[ObjectionResponse, datetime]:
    found = await repository.get_response(session, response_id, for_update=True)
    if found is None:
        raise not_found("objection response", "id")
    response, now = found
    if expected_version is not None and response.version != expected_version:
        raise conflict("the objection response", expected_version, response.version)
    return response, now


async def create_response(
    session: AsyncSession, *, actor: Actor, category: ObjectionCategory, title: str, text: str
) -> ObjectionResponse:
    """Add a suggested answer to the workspace's library."""
    errors = Collector()
    clean_title = _text(title, "title", MAX_TITLE, errors)
    clean_text = _text(text, "text", MAX_TEXT, errors)
    errors.raise_if_any()
    response = ObjectionResponse(
        id=uuid7(),
        workspace_id=session_workspace_id(session.sync_session),
        category=category,
        title=clean_title,
        text=clean_text,
    )
    session.add(response)
    await session.flush()
    _library_event(session, response, actor, "objection_response.created", {})
    return response


async def update_response(
    session: AsyncSession,
    *,
    actor: Actor,
    response_id: uuid.UUID,
    category: ObjectionCategory | Unset,
    title: str | Unset,
    text: str | Unset,
    expected_version: int | None,
) -> ObjectionResponse:
    """Change a library response; objections that used it keep the text they recorded."""
    errors = Collector()
    values: dict[str, Any] = {}
    if not isinstance(category, Unset):
        values["category"] = category
    if not isinstance(title, Unset):
        values["title"] = _text(title, "title", MAX_TITLE, errors)
    if not isinstance(text, Unset):
        values["text"] = _text(text, "text", MAX_TEXT, errors)
    errors.raise_if_any()
    response, _ = await _load_response(session, response_id, expected_version)
    usage = await repository.usage_by_response(session, [response.id])
    if values.get("category", response.category) != response.category and (
        usage[response.id].times_used
    ):
        raise invalid_state(
            "objections were answered with this response: its category cannot change "
            "(archive it and create another)",
            "category",
        )
    before = _library_snapshot(response)
    for name, value in values.items():
        setattr(response, name, value)
    if changes(before, _library_snapshot(response)):
        await session.flush()
        _library_event(session, response, actor, "objection_response.updated", before)
    return response


async def archive_response(
    session: AsyncSession, *, actor: Actor, response_id: uuid.UUID, expected_version: int | None
) -> ObjectionResponse:
    """Take a response out of the library: it is no longer offered nor newly usable."""
    response, now = await _load_response(session, response_id, expected_version)
    if response.archived_at is not None:
        raise invalid_state("the response is already archived", "id")
    before = _library_snapshot(response)
    response.archived_at = now
    await session.flush()
    _library_event(session, response, actor, "objection_response.archived", before)
    return response
