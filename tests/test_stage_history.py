"""The stage-history invariant, as a property of any sequence of lead operations, and the
database trigger that keeps history append-only.

Hypothesis draws sequences of moves, wins, losses, reopenings and updates; each runs through
the GraphQL endpoint against a simple model of the lead, and after every step the lead's
history must satisfy the invariant:

- an OPEN lead has exactly one open visit, at its current stage; a WON or LOST lead has none;
- visits are contiguous: a visit left FORWARD or BACKWARD ends exactly when the next begins
  (and the next was entered the same way); a visit left WON or LOST is followed, if at all,
  by a REOPENED visit that begins no earlier;
- history only grows: earlier visits never change, except that the open one gets closed.

Hypothesis runs synchronously in a worker thread; each example calls back into the event loop
that serves the app, so the test keeps the real HTTP stack and its async fixtures.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from salesgraph.db.engine import Database
from tests.conftest import Api

pytestmark = pytest.mark.anyio

VISIT_FIELDS = "id enteredAt entry entryReason exitedAt exit exitReason stagePosition stage { id }"
LEAD_QUERY = f"""query($id: ID!) {{ lead(id: $id) {{
  id status version closedAt lostReason stageEnteredAt score stage {{ id }}
  stageHistory(first: 100) {{ totalCount nodes {{ {VISIT_FIELDS} }} }}
}} }}"""
INPUT_TYPES = {
    "createLead": "CreateLeadInput",
    "moveLead": "MoveLeadInput",
    "winLead": "WinLeadInput",
    "loseLead": "LoseLeadInput",
    "reopenLead": "ReopenLeadInput",
    "updateLead": "UpdateLeadInput",
}
STAGE_NAMES = ["A", "B", "C", "D", "E"]
ARCHIVED = len(STAGE_NAMES)  # index of the archived stage among the drawn stage indexes


# --- helpers ---------------------------------------------------------------------------------


async def mutate(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await api(
        f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{"
        " lead { id version } errors { field code } } }",
        {"input": input},
    )
    return data[mutation]  # type: ignore[no-any-return]


async def read_lead(api: Api, lead_id: str) -> dict[str, Any]:
    data = await api(LEAD_QUERY, {"id": lead_id})
    assert data["lead"] is not None
    return data["lead"]  # type: ignore[no-any-return]


async def pipeline_with_an_archived_stage(api: Api) -> list[dict[str, Any]]:
    """Stages A..E (positions 1..5), then an archived one."""
    data = await api(
        """mutation($input: CreatePipelineInput!) { createPipeline(input: $input) {
            pipeline { id stages { id position } } errors { field code } } }""",
        {
            "input": {
                "name": "History",
                "stages": [{"name": name, "winProbability": 0.5} for name in [*STAGE_NAMES, "Old"]],
            }
        },
    )
    pipeline = data["createPipeline"]["pipeline"]
    stages: list[dict[str, Any]] = pipeline["stages"]
    archived = await api(
        """mutation($input: ArchiveStageInput!) { archiveStage(input: $input) {
            stage { id position archivedAt } errors { field code } } }""",
        {"input": {"id": stages[-1]["id"]}},
    )
    assert archived["archiveStage"]["errors"] == []
    return [{**stage, "pipelineId": pipeline["id"]} for stage in stages]


def assert_invariant(lead: dict[str, Any], previous: list[dict[str, Any]]) -> None:
    """The history invariant of one lead, and that its history only grew since `previous`."""
    visits = lead["stageHistory"]["nodes"]
    assert lead["stageHistory"]["totalCount"] == len(visits)
    assert visits, "every lead has at least its CREATED visit"
    assert visits[0]["entry"] == "CREATED"
    assert all(visit["entry"] != "CREATED" for visit in visits[1:])

    open_visits = [visit for visit in visits if visit["exitedAt"] is None]
    if lead["status"] == "OPEN":
        assert open_visits == [visits[-1]]
        assert visits[-1]["stage"]["id"] == lead["stage"]["id"]
        assert visits[-1]["enteredAt"] == lead["stageEnteredAt"]
        assert lead["closedAt"] is None
    else:
        assert open_visits == []
        assert visits[-1]["exit"] == lead["status"]
        assert visits[-1]["exitedAt"] == lead["closedAt"]
        assert visits[-1]["stage"]["id"] == lead["stage"]["id"]
    assert (lead["lostReason"] is not None) == (lead["status"] == "LOST")

    for visit in visits:
        assert (visit["exitedAt"] is None) == (visit["exit"] is None)
        if visit["exitedAt"] is not None:
            assert visit["exitedAt"] >= visit["enteredAt"]
    for current, following in itertools.pairwise(visits):
        if current["exit"] in ("FORWARD", "BACKWARD"):
            assert following["entry"] == current["exit"]
            assert following["enteredAt"] == current["exitedAt"]
            went_up = following["stagePosition"] > current["stagePosition"]
            assert went_up == (current["exit"] == "FORWARD")
        else:
            assert current["exit"] in ("WON", "LOST")
            assert following["entry"] == "REOPENED"
            assert following["enteredAt"] >= current["exitedAt"]

    # history only grows: every earlier visit is unchanged, but the open one may be closed now
    assert len(visits) >= len(previous)
    for before, after in zip(previous, visits, strict=False):
        if before["exitedAt"] is None:
            entry_fields = ("id", "enteredAt", "entry", "entryReason", "stagePosition", "stage")
            assert {key: after[key] for key in entry_fields} == {
                key: before[key] for key in entry_fields
            }
        else:
            assert after == before


# --- the model -------------------------------------------------------------------------------


@dataclass
class Model:
    """What the lead should look like: its status, stage, version and number of visits."""

    status: str = "OPEN"
    stage: int = 0
    version: int = 1
    visits: int = 1
    score: int | None = None


Step = tuple[str, Any]

steps_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.integers(0, ARCHIVED)),
        st.tuples(st.just("win"), st.none()),
        st.tuples(st.just("lose"), st.sampled_from(["price", "  timing  ", ""])),
        st.tuples(st.just("reopen"), st.one_of(st.none(), st.integers(0, ARCHIVED))),
        st.tuples(st.just("update"), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=10,
)


def request_for(
    step: Step, lead_id: str, stages: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    kind, argument = step
    if kind == "move":
        return "moveLead", {"id": lead_id, "stageId": stages[argument]["id"]}
    if kind == "win":
        return "winLead", {"id": lead_id}
    if kind == "lose":
        return "loseLead", {"id": lead_id, "reason": argument}
    if kind == "reopen":
        input = {"id": lead_id}
        if argument is not None:
            input["stageId"] = stages[argument]["id"]
        return "reopenLead", input
    return "updateLead", {"id": lead_id, "score": argument}


def expected_outcome(model: Model, step: Step) -> list[tuple[list[str], str]]:
    """The errors the step must get; applies it to the model when it must succeed."""
    kind, argument = step
    if kind == "move":
        if model.status != "OPEN":
            return [(["input", "id"], "INVALID_STATE")]
        if argument == model.stage:
            return [(["input", "stageId"], "INVALID_STATE")]
        if argument == ARCHIVED:
            return [(["input", "stageId"], "INVALID_STATE")]
        model.stage, model.visits = argument, model.visits + 1
    elif kind in ("win", "lose"):
        if kind == "lose" and not argument.strip():
            return [(["input", "reason"], "VALIDATION")]
        if model.status != "OPEN":
            return [(["input", "id"], "INVALID_STATE")]
        model.status = "WON" if kind == "win" else "LOST"
    elif kind == "reopen":
        if model.status == "OPEN":
            return [(["input", "id"], "INVALID_STATE")]
        if argument == ARCHIVED:
            return [(["input", "stageId"], "INVALID_STATE")]
        model.status, model.visits = "OPEN", model.visits + 1
        model.stage = model.stage if argument is None else argument
    else:
        if argument == model.score:
            return []  # nothing changes, so the version stays
        model.score = argument
    model.version += 1
    return []


async def run_scenario(api: Api, stages: list[dict[str, Any]], steps: list[Step]) -> None:
    created = await mutate(
        api,
        "createLead",
        {"title": "Deal", "pipelineId": stages[0]["pipelineId"], "stageId": stages[0]["id"]},
    )
    lead_id = created["lead"]["id"]
    model = Model()
    lead = await read_lead(api, lead_id)
    assert_invariant(lead, [])
    for step in steps:
        previous = lead["stageHistory"]["nodes"]
        mutation, input = request_for(step, lead_id, stages)
        expected_errors = expected_outcome(model, step)

        payload = await mutate(api, mutation, input)

        errors = [(error["field"], error["code"]) for error in payload["errors"]]
        assert errors == expected_errors, step
        lead = await read_lead(api, lead_id)
        assert (lead["status"], lead["stage"]["id"], lead["version"]) == (
            model.status,
            stages[model.stage]["id"],
            model.version,
        ), step
        assert lead["stageHistory"]["totalCount"] == model.visits, step
        if expected_errors:
            assert lead["stageHistory"]["nodes"] == previous, step
        assert_invariant(lead, previous)


# --- the property ----------------------------------------------------------------------------


async def test_any_sequence_of_operations_keeps_the_history_invariant(api: Api) -> None:
    stages = await pipeline_with_an_archived_stage(api)

    @settings(
        max_examples=50,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(steps=steps_strategy)
    def property_holds(steps: list[Step]) -> None:
        anyio.from_thread.run(run_scenario, api, stages, steps)

    await anyio.to_thread.run_sync(property_holds)


async def test_a_known_long_sequence_keeps_the_history_invariant(api: Api) -> None:
    # a fixed path through every kind of transition, including the refused ones
    stages = await pipeline_with_an_archived_stage(api)
    steps: list[Step] = [
        ("move", 3),
        ("move", 1),
        ("move", 1),
        ("move", ARCHIVED),
        ("update", 2),
        ("update", 2),
        ("win", None),
        ("move", 0),
        ("win", None),
        ("reopen", None),
        ("reopen", None),
        ("move", 4),
        ("lose", "   "),
        ("lose", "price"),
        ("reopen", ARCHIVED),
        ("reopen", 0),
        ("move", 4),
    ]
    await run_scenario(api, stages, steps)


# --- the trigger -----------------------------------------------------------------------------


async def _closed_and_open_visit(api: Api) -> tuple[str, str, str]:
    """A lead whose first visit is closed and second is open: (lead id, closed, open)."""
    stages = await pipeline_with_an_archived_stage(api)
    created = await mutate(
        api,
        "createLead",
        {"title": "Deal", "pipelineId": stages[0]["pipelineId"], "stageId": stages[0]["id"]},
    )
    lead_id = created["lead"]["id"]
    moved = await mutate(api, "moveLead", {"id": lead_id, "stageId": stages[1]["id"]})
    assert moved["errors"] == []
    closed, open_ = (await read_lead(api, lead_id))["stageHistory"]["nodes"]
    return lead_id, closed["id"], open_["id"]


async def _history_rows(database: Database, lead_id: str) -> list[Any]:
    async with database.engine.connect() as connection:
        result = await connection.execute(
            text("SELECT * FROM stage_visits WHERE lead_id = :lead ORDER BY entered_at, id"),
            {"lead": lead_id},
        )
        return list(result.all())


async def _refused(database: Database, statement: str, **parameters: Any) -> str:
    """Run a statement that the database must refuse; returns the error's text."""
    async with database.engine.connect() as connection:
        with pytest.raises(DBAPIError) as refused:
            await connection.execute(text(statement), parameters)
        await connection.rollback()
    return str(refused.value.orig)


async def test_the_trigger_refuses_changing_a_closed_visit(api: Api, database: Database) -> None:
    lead_id, closed, _ = await _closed_and_open_visit(api)
    before = await _history_rows(database, lead_id)

    for statement in (
        "UPDATE stage_visits SET exited_at = exited_at + interval '1 second' WHERE id = :id",
        "UPDATE stage_visits SET exit_reason = 'rewritten' WHERE id = :id",
        "UPDATE stage_visits SET exit = 'BACKWARD' WHERE id = :id",
        "UPDATE stage_visits SET stage_position = 9 WHERE id = :id",
        "UPDATE stage_visits SET exited_at = NULL, exit = NULL WHERE id = :id",
    ):
        message = await _refused(database, statement, id=closed)
        assert "stage history is append-only: a visit can only be closed, once" in message

    assert await _history_rows(database, lead_id) == before


async def test_the_trigger_refuses_changing_how_an_open_visit_began(
    api: Api, database: Database
) -> None:
    lead_id, _, open_ = await _closed_and_open_visit(api)
    before = await _history_rows(database, lead_id)

    for statement in (
        "UPDATE stage_visits SET entered_at = now() - interval '1 day' WHERE id = :id",
        "UPDATE stage_visits SET stage_position = 9 WHERE id = :id",
    ):
        message = await _refused(database, statement, id=open_)
        assert "stage history is append-only: a visit can only be closed, once" in message

    assert await _history_rows(database, lead_id) == before


async def test_the_trigger_refuses_deleting_any_visit(api: Api, database: Database) -> None:
    lead_id, closed, open_ = await _closed_and_open_visit(api)
    before = await _history_rows(database, lead_id)

    for visit_id in (closed, open_):
        message = await _refused(database, "DELETE FROM stage_visits WHERE id = :id", id=visit_id)
        assert "stage history is append-only: visits cannot be deleted" in message

    assert await _history_rows(database, lead_id) == before


async def test_a_second_open_visit_is_refused(api: Api, database: Database) -> None:
    lead_id, _, open_ = await _closed_and_open_visit(api)
    before = await _history_rows(database, lead_id)

    async with database.engine.connect() as connection:
        with pytest.raises(IntegrityError, match="uq_stage_visits_open_visit"):
            await connection.execute(
                text(
                    "INSERT INTO stage_visits (workspace_id, id, lead_id, pipeline_id, stage_id,"
                    " stage_position, entered_at, entry)"
                    " SELECT workspace_id, gen_random_uuid(), lead_id, pipeline_id, stage_id,"
                    " stage_position, entered_at, entry FROM stage_visits WHERE id = :id"
                ),
                {"id": open_},
            )
        await connection.rollback()

    assert await _history_rows(database, lead_id) == before
