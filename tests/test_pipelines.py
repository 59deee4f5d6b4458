"""The write side of pipelines and stages through the GraphQL endpoint: templates, custom
stage lists, renaming, adding, updating, reordering and archiving stages, and what those do
(and must not do) to leads and their stage history.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.models import Scope
from tests.conftest import Api

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "01a21c19-758a-7126-9b0d-716b47d50b0d"

STAGE_FRAGMENT = """
fragment StageFields on Stage {
  id name position winProbability targetDays archivedAt version pipeline { id }
}
"""
FRAGMENTS = (
    STAGE_FRAGMENT
    + """
fragment PipelineFields on Pipeline {
  id name template version archivedAt
  stages { ...StageFields }
  allStages: stages(includeArchived: true) { ...StageFields }
}
"""
)

LEAD_FIELDS = """
fragment LeadFields on Lead {
  id status version stageEnteredAt
  stage { id name position }
  stageHistory {
    totalCount
    nodes {
      id enteredAt entry entryReason exitedAt exit exitReason stagePosition
      stage { id name position }
    }
  }
}
"""

PAYLOADS = {
    "createPipeline": ("CreatePipelineInput", "pipeline { ...PipelineFields }", FRAGMENTS),
    "renamePipeline": ("RenamePipelineInput", "pipeline { ...PipelineFields }", FRAGMENTS),
    "reorderStages": ("ReorderStagesInput", "pipeline { ...PipelineFields }", FRAGMENTS),
    "addStage": ("AddStageInput", "stage { ...StageFields }", STAGE_FRAGMENT),
    "updateStage": ("UpdateStageInput", "stage { ...StageFields }", STAGE_FRAGMENT),
    "archiveStage": ("ArchiveStageInput", "stage { ...StageFields }", STAGE_FRAGMENT),
}

SEVEN_STAGE = [
    ("Prospecting", 0.05, 7),
    ("Preparation & research", 0.1, 5),
    ("Needs assessment", 0.2, 7),
    ("Presentation", 0.4, 10),
    ("Objection handling", 0.6, 10),
    ("Closing", 0.8, 7),
    ("Follow-up", 0.9, 30),
]
FIVE_STAGE = [
    ("Prospecting", 0.1, 7),
    ("Needs assessment", 0.25, 7),
    ("Presentation", 0.5, 10),
    ("Closing", 0.8, 7),
    ("Follow-up", 0.9, 30),
]
NINE_STAGE = [
    ("Prospecting", 0.05, 7),
    ("Qualification", 0.1, 5),
    ("Preparation & research", 0.15, 5),
    ("Needs assessment", 0.25, 7),
    ("Presentation", 0.4, 10),
    ("Proposal", 0.55, 10),
    ("Objection handling", 0.65, 10),
    ("Closing", 0.8, 7),
    ("Follow-up", 0.9, 30),
]


# --- helpers ---------------------------------------------------------------------------------


async def mutate(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    """The payload of a pipeline or stage mutation."""
    input_type, selection, fragments = PAYLOADS[mutation]
    query = (
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {selection}"
        " errors { field code message } } }" + fragments
    )
    data = await api(query, {"input": input})
    return data[mutation]  # type: ignore[no-any-return]


async def succeed(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    payload = await mutate(api, mutation, input)
    assert payload["errors"] == []
    result = payload["pipeline" if "pipeline" in payload else "stage"]
    assert result is not None
    return result  # type: ignore[no-any-return]


async def fail(api: Api, mutation: str, input: dict[str, Any]) -> list[tuple[list[str], str]]:
    payload = await mutate(api, mutation, input)
    assert payload["pipeline" if "pipeline" in payload else "stage"] is None
    assert payload["errors"], "expected the mutation to be refused"
    return [(error["field"], error["code"]) for error in payload["errors"]]


async def pipelines(api: Api) -> list[dict[str, Any]]:
    data = await api("{ pipelines(includeArchived: true) { ...PipelineFields } }" + FRAGMENTS)
    return data["pipelines"]  # type: ignore[no-any-return]


async def read_pipeline(api: Api, pipeline_id: str) -> dict[str, Any]:
    data = await api(
        "query($id: ID!) { pipeline(id: $id) { ...PipelineFields } }" + FRAGMENTS,
        {"id": pipeline_id},
    )
    assert data["pipeline"] is not None
    return data["pipeline"]  # type: ignore[no-any-return]


async def new_pipeline(api: Api, name: str = "Partners", **input: Any) -> dict[str, Any]:
    return await succeed(api, "createPipeline", {"name": name, **input})


async def custom_pipeline(api: Api, *stage_names: str) -> dict[str, Any]:
    return await new_pipeline(
        api,
        stages=[{"name": name, "winProbability": 0.5} for name in stage_names],
    )


async def lead_mutation(api: Api, mutation: str, input_type: str, input: dict[str, Any]) -> Any:
    data = await api(
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{"
        " lead { ...LeadFields } errors { field code } } }" + LEAD_FIELDS,
        {"input": input},
    )
    assert data[mutation]["errors"] == []
    return data[mutation]["lead"]


async def new_lead(api: Api, pipeline: dict[str, Any], stage_index: int = 0) -> dict[str, Any]:
    return await lead_mutation(  # type: ignore[no-any-return]
        api,
        "createLead",
        "CreateLeadInput",
        {
            "title": "Deal",
            "pipelineId": pipeline["id"],
            "stageId": pipeline["stages"][stage_index]["id"],
        },
    )


async def move(api: Api, lead: dict[str, Any], stage: dict[str, Any]) -> dict[str, Any]:
    return await lead_mutation(  # type: ignore[no-any-return]
        api, "moveLead", "MoveLeadInput", {"id": lead["id"], "stageId": stage["id"]}
    )


async def read_lead(api: Api, lead_id: str) -> dict[str, Any]:
    data = await api(
        "query($id: ID!) { lead(id: $id) { ...LeadFields } }" + LEAD_FIELDS, {"id": lead_id}
    )
    assert data["lead"] is not None
    return data["lead"]  # type: ignore[no-any-return]


def shape(stages: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(stage["name"], stage["position"]) for stage in stages]


def without_history_stage(lead: dict[str, Any]) -> list[dict[str, Any]]:
    """A lead's visits without the (current, mutable) stage they point to."""
    return [
        {key: value for key, value in visit.items() if key != "stage"}
        for visit in lead["stageHistory"]["nodes"]
    ]


# --- createPipeline --------------------------------------------------------------------------


def assert_template(pipeline: dict[str, Any], rows: list[tuple[str, float, int]]) -> None:
    assert [
        (stage["name"], stage["position"], stage["winProbability"], stage["targetDays"])
        for stage in pipeline["stages"]
    ] == [(name, position, p, days) for position, (name, p, days) in enumerate(rows, start=1)]
    assert all(stage["archivedAt"] is None for stage in pipeline["stages"])
    assert all(stage["version"] == 1 for stage in pipeline["stages"])
    assert all(stage["pipeline"] == {"id": pipeline["id"]} for stage in pipeline["stages"])
    assert pipeline["allStages"] == pipeline["stages"]


async def test_create_pipeline_defaults_to_seven_stages(api: Api) -> None:
    pipeline = await new_pipeline(api, "  Enterprise  ")

    assert (pipeline["name"], pipeline["template"], pipeline["version"]) == (
        "Enterprise",
        "SEVEN_STAGE",
        1,
    )
    assert pipeline["archivedAt"] is None
    assert_template(pipeline, SEVEN_STAGE)
    assert await read_pipeline(api, pipeline["id"]) == pipeline


async def test_create_pipeline_from_each_template(api: Api) -> None:
    for template, rows in (
        ("SEVEN_STAGE", SEVEN_STAGE),
        ("FIVE_STAGE", FIVE_STAGE),
        ("NINE_STAGE", NINE_STAGE),
    ):
        pipeline = await new_pipeline(api, template.title(), template=template)

        assert pipeline["template"] == template
        assert_template(pipeline, rows)
    assert [pipeline["name"] for pipeline in await pipelines(api)] == [
        "Sales",
        "Seven_Stage",
        "Five_Stage",
        "Nine_Stage",
    ]


async def test_create_custom_pipeline(api: Api) -> None:
    pipeline = await new_pipeline(
        api,
        "Partners",
        stages=[
            {"name": " Intro ", "winProbability": 0.1, "targetDays": 3},
            {"name": "Pilot", "winProbability": 0.4567},
            {"name": "Contract", "winProbability": 1, "targetDays": 3650},
            {"name": "Lost cause", "winProbability": 0},
        ],
    )

    assert pipeline["template"] == "CUSTOM"
    assert [
        (stage["name"], stage["position"], stage["winProbability"], stage["targetDays"])
        for stage in pipeline["stages"]
    ] == [
        ("Intro", 1, 0.1, 3),
        ("Pilot", 2, 0.4567, None),
        ("Contract", 3, 1.0, 3650),
        ("Lost cause", 4, 0.0, None),
    ]
    assert await read_pipeline(api, pipeline["id"]) == pipeline


async def test_create_pipeline_validation(api: Api) -> None:
    stage = {"name": "A", "winProbability": 0.5}
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"name": "  "}, [(["input", "name"], "VALIDATION")]),
        ({"name": "x" * 201}, [(["input", "name"], "VALIDATION")]),
        ({"stages": []}, [(["input", "stages"], "VALIDATION")]),
        (
            {"stages": [stage] * 31},
            [(["input", "stages"], "VALIDATION")]
            + [(["input", "stages", str(i), "name"], "VALIDATION") for i in range(1, 31)],
        ),
        (
            {
                "stages": [
                    {"name": "Demo", "winProbability": 0.1},
                    {"name": " DEMO ", "winProbability": 0.2},
                ]
            },
            [(["input", "stages", "1", "name"], "VALIDATION")],
        ),
        (
            {"stages": [{"name": " ", "winProbability": 0.1}]},
            [(["input", "stages", "0", "name"], "VALIDATION")],
        ),
        (
            {"stages": [{"name": "x" * 201, "winProbability": 0.1}]},
            [(["input", "stages", "0", "name"], "VALIDATION")],
        ),
        (
            {"stages": [stage, {"name": "B", "winProbability": 1.01}]},
            [(["input", "stages", "1", "winProbability"], "VALIDATION")],
        ),
        (
            {"stages": [{"name": "A", "winProbability": -0.01}]},
            [(["input", "stages", "0", "winProbability"], "VALIDATION")],
        ),
        (
            {"stages": [{"name": "A", "winProbability": 0.12345}]},
            [(["input", "stages", "0", "winProbability"], "VALIDATION")],
        ),
        (
            {"stages": [{"name": "A", "winProbability": 0.5, "targetDays": 0}]},
            [(["input", "stages", "0", "targetDays"], "VALIDATION")],
        ),
        (
            {"stages": [{"name": "A", "winProbability": 0.5, "targetDays": 3651}]},
            [(["input", "stages", "0", "targetDays"], "VALIDATION")],
        ),
        ({"template": "FIVE_STAGE", "stages": [stage]}, [(["input", "stages"], "VALIDATION")]),
        ({"template": "CUSTOM"}, [(["input", "stages"], "VALIDATION")]),
    ]
    before = await pipelines(api)
    for input, expected in cases:
        errors = await fail(api, "createPipeline", {"name": "Partners", **input})
        assert errors == expected, input
    assert await pipelines(api) == before


async def test_create_pipeline_reports_all_errors_at_once(api: Api) -> None:
    payload = await mutate(
        api,
        "createPipeline",
        {
            "name": "",
            "stages": [
                {"name": "A", "winProbability": 2, "targetDays": 0},
                {"name": "a", "winProbability": 0.5},
            ],
        },
    )

    assert payload == {
        "pipeline": None,
        "errors": [
            {"field": ["input", "name"], "code": "VALIDATION", "message": "must not be blank"},
            {
                "field": ["input", "stages", "0", "winProbability"],
                "code": "VALIDATION",
                "message": "must be between 0 and 1",
            },
            {
                "field": ["input", "stages", "0", "targetDays"],
                "code": "VALIDATION",
                "message": "must be between 1 and 3650 days",
            },
            {
                "field": ["input", "stages", "1", "name"],
                "code": "VALIDATION",
                "message": "stage name 'a' is used twice",
            },
        ],
    }
    assert len(await pipelines(api)) == 1


# --- renamePipeline --------------------------------------------------------------------------


async def test_rename_pipeline(api: Api) -> None:
    pipeline = await new_pipeline(api, "Old")

    renamed = await succeed(
        api, "renamePipeline", {"id": pipeline["id"], "name": " New ", "expectedVersion": 1}
    )

    assert renamed == {**pipeline, "name": "New", "version": 2}
    assert await read_pipeline(api, pipeline["id"]) == renamed


async def test_rename_pipeline_refusals(api: Api) -> None:
    pipeline = await new_pipeline(api, "Old")

    assert await fail(api, "renamePipeline", {"id": pipeline["id"], "name": "  "}) == [
        (["input", "name"], "VALIDATION")
    ]
    assert await fail(
        api, "renamePipeline", {"id": pipeline["id"], "name": "New", "expectedVersion": 2}
    ) == [(["input", "expectedVersion"], "CONFLICT")]
    assert await fail(api, "renamePipeline", {"id": UNKNOWN_ID, "name": "New"}) == [
        (["input", "id"], "NOT_FOUND")
    ]
    assert await fail(api, "renamePipeline", {"id": "nope", "name": "New"}) == [
        (["input", "id"], "VALIDATION")
    ]
    assert await read_pipeline(api, pipeline["id"]) == pipeline


# --- addStage --------------------------------------------------------------------------------


async def test_add_stage_at_the_end(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B", "C")

    stage = await succeed(
        api,
        "addStage",
        {"pipelineId": pipeline["id"], "name": " D ", "winProbability": 0.75, "targetDays": 4},
    )

    assert {key: stage[key] for key in ("name", "position", "winProbability", "targetDays")} == {
        "name": "D",
        "position": 4,
        "winProbability": 0.75,
        "targetDays": 4,
    }
    assert (stage["version"], stage["archivedAt"], stage["pipeline"]) == (
        1,
        None,
        {"id": pipeline["id"]},
    )
    after = await read_pipeline(api, pipeline["id"])
    assert after["stages"] == [*pipeline["stages"], stage]
    assert after["version"] == 2


async def test_add_stage_at_a_position_shifts_the_others(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B", "C")

    stage = await succeed(
        api,
        "addStage",
        {
            "pipelineId": pipeline["id"],
            "name": "Between",
            "winProbability": 0.3,
            "position": 2,
            "expectedVersion": 1,
        },
    )

    assert stage["position"] == 2
    after = await read_pipeline(api, pipeline["id"])
    assert shape(after["stages"]) == [("A", 1), ("Between", 2), ("B", 3), ("C", 4)]
    assert [s["id"] for s in after["stages"]] == [
        pipeline["stages"][0]["id"],
        stage["id"],
        pipeline["stages"][1]["id"],
        pipeline["stages"][2]["id"],
    ]
    # only the shifted stages changed
    assert [s["version"] for s in after["stages"]] == [1, 1, 2, 2]
    assert after["version"] == 2


async def test_add_stage_first_and_last_positions(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B")

    await succeed(
        api,
        "addStage",
        {"pipelineId": pipeline["id"], "name": "First", "winProbability": 0, "position": 1},
    )
    await succeed(
        api,
        "addStage",
        {"pipelineId": pipeline["id"], "name": "Last", "winProbability": 1, "position": 4},
    )

    after = await read_pipeline(api, pipeline["id"])
    assert shape(after["stages"]) == [("First", 1), ("A", 2), ("B", 3), ("Last", 4)]


async def test_add_stage_refusals(api: Api) -> None:
    pipeline = await custom_pipeline(api, "Intro", "Pilot")
    base = {"pipelineId": pipeline["id"], "name": "New", "winProbability": 0.5}
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"name": " "}, [(["input", "name"], "VALIDATION")]),
        ({"name": "PILOT"}, [(["input", "name"], "DUPLICATE")]),
        ({"winProbability": 1.5}, [(["input", "winProbability"], "VALIDATION")]),
        ({"targetDays": 0}, [(["input", "targetDays"], "VALIDATION")]),
        ({"position": 0}, [(["input", "position"], "VALIDATION")]),
        ({"position": 4}, [(["input", "position"], "VALIDATION")]),
        ({"expectedVersion": 2}, [(["input", "expectedVersion"], "CONFLICT")]),
        ({"pipelineId": UNKNOWN_ID}, [(["input", "pipelineId"], "NOT_FOUND")]),
        ({"pipelineId": "nope"}, [(["input", "pipelineId"], "VALIDATION")]),
    ]
    for change, expected in cases:
        assert await fail(api, "addStage", {**base, **change}) == expected, change
    assert await read_pipeline(api, pipeline["id"]) == pipeline


async def test_a_pipeline_has_at_most_thirty_active_stages(api: Api) -> None:
    pipeline = await custom_pipeline(api, *(f"S{index}" for index in range(30)))

    errors = await fail(
        api, "addStage", {"pipelineId": pipeline["id"], "name": "One more", "winProbability": 1}
    )

    assert errors == [(["input", "pipelineId"], "LIMIT_EXCEEDED")]
    assert await read_pipeline(api, pipeline["id"]) == pipeline


async def test_add_stage_may_reuse_the_name_of_an_archived_stage(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B")
    await succeed(api, "archiveStage", {"id": pipeline["stages"][1]["id"]})

    stage = await succeed(
        api, "addStage", {"pipelineId": pipeline["id"], "name": "b", "winProbability": 0.5}
    )

    after = await read_pipeline(api, pipeline["id"])
    assert shape(after["stages"]) == [("A", 1), ("b", 2)]
    assert shape(after["allStages"]) == [("A", 1), ("b", 2), ("B", 3)]
    assert after["stages"][1]["id"] == stage["id"]


# --- updateStage -----------------------------------------------------------------------------


async def test_update_stage(api: Api) -> None:
    pipeline = await new_pipeline(api)
    stage = pipeline["stages"][2]

    renamed = await succeed(
        api,
        "updateStage",
        {"id": stage["id"], "name": " Discovery ", "winProbability": 0.33, "expectedVersion": 1},
    )
    untargeted = await succeed(api, "updateStage", {"id": stage["id"], "targetDays": None})

    assert renamed == {**stage, "name": "Discovery", "winProbability": 0.33, "version": 2}
    assert untargeted == {**renamed, "targetDays": None, "version": 3}
    after = await read_pipeline(api, pipeline["id"])
    assert after["stages"][2] == untargeted
    assert after["stages"][:2] == pipeline["stages"][:2]
    assert after["stages"][3:] == pipeline["stages"][3:]


async def test_update_stage_may_change_the_case_of_its_own_name(api: Api) -> None:
    pipeline = await new_pipeline(api)

    stage = await succeed(
        api, "updateStage", {"id": pipeline["stages"][0]["id"], "name": "PROSPECTING"}
    )

    assert stage["name"] == "PROSPECTING"


async def test_update_stage_refusals(api: Api) -> None:
    pipeline = await new_pipeline(api)
    stage_id = pipeline["stages"][0]["id"]
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"name": None}, [(["input", "name"], "VALIDATION")]),
        ({"name": ""}, [(["input", "name"], "VALIDATION")]),
        ({"name": "closing"}, [(["input", "name"], "DUPLICATE")]),
        ({"winProbability": None}, [(["input", "winProbability"], "VALIDATION")]),
        ({"winProbability": -1}, [(["input", "winProbability"], "VALIDATION")]),
        ({"targetDays": 0}, [(["input", "targetDays"], "VALIDATION")]),
        ({"name": "X", "expectedVersion": 5}, [(["input", "expectedVersion"], "CONFLICT")]),
        ({"id": UNKNOWN_ID, "name": "X"}, [(["input", "id"], "NOT_FOUND")]),
    ]
    for change, expected in cases:
        assert await fail(api, "updateStage", {"id": stage_id, **change}) == expected, change
    assert await read_pipeline(api, pipeline["id"]) == pipeline


# --- reorderStages ---------------------------------------------------------------------------


async def test_reorder_stages(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B", "C", "D")
    a, b, c, d = pipeline["stages"]

    reordered = await succeed(
        api,
        "reorderStages",
        {
            "pipelineId": pipeline["id"],
            "stageIds": [c["id"], a["id"], d["id"], b["id"]],
            "expectedVersion": 1,
        },
    )

    assert shape(reordered["stages"]) == [("C", 1), ("A", 2), ("D", 3), ("B", 4)]
    assert reordered["version"] == 2
    assert await read_pipeline(api, pipeline["id"]) == reordered


async def test_reorder_stages_must_list_every_active_stage_once(api: Api) -> None:
    # given a pipeline with an archived stage, and another pipeline
    pipeline = await custom_pipeline(api, "A", "B", "C", "Old")
    await succeed(api, "archiveStage", {"id": pipeline["stages"][3]["id"]})
    pipeline = await read_pipeline(api, pipeline["id"])
    a, b, c = (stage["id"] for stage in pipeline["stages"])
    archived = pipeline["allStages"][3]["id"]
    foreign = (await custom_pipeline(api, "X"))["stages"][0]["id"]

    for stage_ids in (
        [a, b],  # one missing
        [a, b, c, c],  # one twice
        [a, a, b],  # one twice instead of another
        [a, b, c, foreign],  # one of another pipeline
        [a, b, foreign],  # another pipeline's instead of one
        [a, b, c, archived],  # an archived one
        [a, b, c, UNKNOWN_ID],  # an unknown one
        [],
    ):
        # when the list is not exactly the active stages
        errors = await fail(
            api, "reorderStages", {"pipelineId": pipeline["id"], "stageIds": stage_ids}
        )
        # then it is refused and nothing moves
        assert errors == [(["input", "stageIds"], "VALIDATION")], stage_ids
    assert await read_pipeline(api, pipeline["id"]) == pipeline


async def test_reorder_stages_other_refusals(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B")
    ids = [stage["id"] for stage in reversed(pipeline["stages"])]

    assert await fail(
        api, "reorderStages", {"pipelineId": pipeline["id"], "stageIds": ids, "expectedVersion": 9}
    ) == [(["input", "expectedVersion"], "CONFLICT")]
    assert await fail(api, "reorderStages", {"pipelineId": UNKNOWN_ID, "stageIds": ids}) == [
        (["input", "pipelineId"], "NOT_FOUND")
    ]
    assert await read_pipeline(api, pipeline["id"]) == pipeline


async def test_reorder_stages_names_a_malformed_id_by_its_index(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B")

    errors = await fail(
        api,
        "reorderStages",
        {"pipelineId": pipeline["id"], "stageIds": [pipeline["stages"][0]["id"], "x"]},
    )

    assert errors == [(["input", "stageIds", "1"], "VALIDATION")]


# --- archiveStage ----------------------------------------------------------------------------


async def test_archive_an_empty_stage(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B", "C")
    b = pipeline["stages"][1]

    archived = await succeed(api, "archiveStage", {"id": b["id"], "expectedVersion": 1})

    assert archived["archivedAt"] is not None
    assert (archived["id"], archived["name"], archived["position"]) == (b["id"], "B", 3)
    after = await read_pipeline(api, pipeline["id"])
    # it leaves the board, the others close the gap, and it is listed last when asked for
    assert shape(after["stages"]) == [("A", 1), ("C", 2)]
    assert shape(after["allStages"]) == [("A", 1), ("C", 2), ("B", 3)]
    assert after["allStages"][2] == archived
    assert after["version"] == 2
    # and it can still be read by id
    data = await api("query($id: ID!) { stage(id: $id) { id archivedAt } }", {"id": b["id"]})
    assert data["stage"] == {"id": b["id"], "archivedAt": archived["archivedAt"]}


async def test_archive_a_stage_with_open_leads_needs_a_destination(api: Api) -> None:
    # given a stage holding an open lead
    pipeline = await custom_pipeline(api, "A", "B", "C")
    lead = await new_lead(api, pipeline, 1)

    # when it is archived without saying where its leads go
    payload = await mutate(api, "archiveStage", {"id": pipeline["stages"][1]["id"]})

    # then it is refused, and the pipeline, the stage and the lead are unchanged
    assert payload == {
        "stage": None,
        "errors": [
            {
                "field": ["input", "moveOpenLeadsTo"],
                "code": "INVALID_STATE",
                "message": "the stage holds 1 open lead(s): say where they go with moveOpenLeadsTo",
            }
        ],
    }
    assert await read_pipeline(api, pipeline["id"]) == pipeline
    assert await read_lead(api, lead["id"]) == lead


async def test_archive_moves_open_leads_with_history(api: Api) -> None:
    # given two open leads and a won lead at stage B, and an open lead at stage A
    pipeline = await custom_pipeline(api, "A", "B", "C", "D")
    a, b, c, d = pipeline["stages"]
    first = await new_lead(api, pipeline, 1)
    second = await new_lead(api, pipeline, 1)
    won = await new_lead(api, pipeline, 1)
    won = await lead_mutation(api, "winLead", "WinLeadInput", {"id": won["id"]})
    elsewhere = await new_lead(api, pipeline, 0)

    # when B is archived, its open leads going to D
    archived = await succeed(api, "archiveStage", {"id": b["id"], "moveOpenLeadsTo": d["id"]})

    # then each open lead moved forward to D, recorded in its history, one version later
    assert archived["archivedAt"] is not None
    for before in (first, second):
        after = await read_lead(api, before["id"])
        assert after["stage"] == {"id": d["id"], "name": "D", "position": 3}
        assert after["version"] == before["version"] + 1
        old, new = after["stageHistory"]["nodes"]
        assert (old["stage"]["id"], old["entry"], old["exit"]) == (b["id"], "CREATED", "FORWARD")
        assert old["exitReason"] == "stage 'B' archived"
        assert (new["stage"]["id"], new["entry"], new["exit"]) == (d["id"], "FORWARD", None)
        assert new["entryReason"] == "stage 'B' archived"
        assert new["stagePosition"] == 4  # D's position when the lead entered it
        assert old["exitedAt"] == new["enteredAt"] == after["stageEnteredAt"]
        assert old["stagePosition"] == 2
    # and closed leads and leads elsewhere are untouched
    won_after = await read_lead(api, won["id"])
    assert without_history_stage(won_after) == without_history_stage(won)
    assert won_after["stage"]["id"] == b["id"]
    assert await read_lead(api, elsewhere["id"]) == elsewhere
    after = await read_pipeline(api, pipeline["id"])
    assert shape(after["stages"]) == [("A", 1), ("C", 2), ("D", 3)]
    assert [stage["id"] for stage in after["stages"]] == [a["id"], c["id"], d["id"]]


async def test_archive_moving_leads_backward(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B", "C")
    lead = await new_lead(api, pipeline, 2)

    await succeed(
        api,
        "archiveStage",
        {"id": pipeline["stages"][2]["id"], "moveOpenLeadsTo": pipeline["stages"][0]["id"]},
    )

    after = await read_lead(api, lead["id"])
    old, new = after["stageHistory"]["nodes"]
    assert (old["exit"], new["entry"], new["stage"]["id"]) == (
        "BACKWARD",
        "BACKWARD",
        pipeline["stages"][0]["id"],
    )


async def test_archive_destination_must_be_another_active_stage_of_the_pipeline(
    api: Api,
) -> None:
    pipeline = await custom_pipeline(api, "A", "B", "C", "Old")
    await succeed(api, "archiveStage", {"id": pipeline["stages"][3]["id"]})
    pipeline = await read_pipeline(api, pipeline["id"])
    lead = await new_lead(api, pipeline, 1)
    b = pipeline["stages"][1]["id"]
    foreign = (await custom_pipeline(api, "X"))["stages"][0]["id"]

    for destination in (b, foreign, pipeline["allStages"][3]["id"], UNKNOWN_ID):
        errors = await fail(api, "archiveStage", {"id": b, "moveOpenLeadsTo": destination})
        assert errors == [(["input", "moveOpenLeadsTo"], "VALIDATION")], destination
    assert await fail(api, "archiveStage", {"id": b, "moveOpenLeadsTo": "nope"}) == [
        (["input", "moveOpenLeadsTo"], "VALIDATION")
    ]
    assert await read_pipeline(api, pipeline["id"]) == pipeline
    assert await read_lead(api, lead["id"]) == lead


async def test_the_last_active_stage_cannot_be_archived(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B")
    await succeed(api, "archiveStage", {"id": pipeline["stages"][0]["id"]})
    pipeline = await read_pipeline(api, pipeline["id"])

    errors = await fail(api, "archiveStage", {"id": pipeline["stages"][0]["id"]})

    assert errors == [(["input", "id"], "INVALID_STATE")]
    assert await read_pipeline(api, pipeline["id"]) == pipeline


async def test_archive_refusals(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B", "C")
    await succeed(api, "archiveStage", {"id": pipeline["stages"][2]["id"]})
    pipeline = await read_pipeline(api, pipeline["id"])

    assert await fail(api, "archiveStage", {"id": pipeline["allStages"][2]["id"]}) == [
        (["input", "id"], "INVALID_STATE")
    ]
    assert await fail(
        api, "archiveStage", {"id": pipeline["stages"][0]["id"], "expectedVersion": 3}
    ) == [(["input", "expectedVersion"], "CONFLICT")]
    assert await fail(api, "archiveStage", {"id": UNKNOWN_ID}) == [(["input", "id"], "NOT_FOUND")]
    assert await read_pipeline(api, pipeline["id"]) == pipeline


async def test_a_lead_cannot_be_created_at_an_archived_stage(api: Api) -> None:
    pipeline = await custom_pipeline(api, "A", "B")
    archived = await succeed(api, "archiveStage", {"id": pipeline["stages"][1]["id"]})

    data = await api(
        """mutation($input: CreateLeadInput!) { createLead(input: $input) {
            lead { id } errors { field code } } }""",
        {"input": {"title": "Deal", "pipelineId": pipeline["id"], "stageId": archived["id"]}},
    )

    assert data["createLead"] == {
        "lead": None,
        "errors": [{"field": ["input", "stageId"], "code": "INVALID_STATE"}],
    }


# --- history survives configuration changes --------------------------------------------------


async def test_renaming_and_reordering_stages_do_not_rewrite_history(api: Api) -> None:
    # given a lead that went A -> C -> B
    pipeline = await custom_pipeline(api, "A", "B", "C", "D")
    a, b, c, d = pipeline["stages"]
    lead = await new_lead(api, pipeline, 0)
    await move(api, lead, c)
    before = await move(api, lead, b)

    # when the stages are renamed and reordered (D, C, B, A), and one is archived
    await succeed(api, "updateStage", {"id": c["id"], "name": "Renamed C"})
    await succeed(
        api,
        "reorderStages",
        {"pipelineId": pipeline["id"], "stageIds": [d["id"], c["id"], b["id"], a["id"]]},
    )
    await succeed(api, "archiveStage", {"id": a["id"]})

    # then the history keeps its visits, directions and positions as they were
    after = await read_lead(api, lead["id"])
    assert without_history_stage(after) == without_history_stage(before)
    nodes = after["stageHistory"]["nodes"]
    assert [visit["stagePosition"] for visit in nodes] == [1, 3, 2]
    assert [(visit["entry"], visit["exit"]) for visit in nodes] == [
        ("CREATED", "FORWARD"),
        ("FORWARD", "BACKWARD"),
        ("BACKWARD", None),
    ]
    # and the visits point at the same stages, which show their current names and positions
    assert [visit["stage"] for visit in nodes] == [
        {"id": a["id"], "name": "A", "position": 4},
        {"id": c["id"], "name": "Renamed C", "position": 2},
        {"id": b["id"], "name": "B", "position": 3},
    ]
    assert after["stage"] == {"id": b["id"], "name": "B", "position": 3}
    assert after["version"] == before["version"]


async def test_moves_after_a_reorder_use_the_new_positions(api: Api) -> None:
    # given a lead at A, and the stages reordered to C, B, A
    pipeline = await custom_pipeline(api, "A", "B", "C")
    a, b, c = pipeline["stages"]
    lead = await new_lead(api, pipeline, 0)
    await succeed(
        api,
        "reorderStages",
        {"pipelineId": pipeline["id"], "stageIds": [c["id"], b["id"], a["id"]]},
    )

    # when it moves to B (position 2, below A's new 3)
    moved = await move(api, lead, b)

    # then the move is BACKWARD and the new visit records position 2
    first, second = moved["stageHistory"]["nodes"]
    assert (first["exit"], first["stagePosition"]) == ("BACKWARD", 1)
    assert (second["entry"], second["stagePosition"]) == ("BACKWARD", 2)


# --- permissions -----------------------------------------------------------------------------


async def _key(database: Database, workspace_id: uuid.UUID | None, scopes: list[Scope]) -> str:
    assert workspace_id is not None
    async with unit_of_work(database, workspace_id=None) as session:
        created = await workspace_service.create_api_key(
            session, workspace_id=workspace_id, name="integration", scopes=scopes
        )
    return created.token


async def test_a_write_key_cannot_configure_pipelines(api: Api, database: Database) -> None:
    # given a pipeline, and a key that may read and write but not administer
    pipeline = await custom_pipeline(api, "A", "B")
    writer = api.as_key(await _key(database, api.workspace_id, [Scope.READ, Scope.WRITE]))
    before = await pipelines(api)
    a, b = pipeline["stages"]

    for mutation, input in (
        ("createPipeline", {"name": "Nope"}),
        ("renamePipeline", {"id": pipeline["id"], "name": "Nope"}),
        ("addStage", {"pipelineId": pipeline["id"], "name": "Nope", "winProbability": 0.5}),
        ("updateStage", {"id": a["id"], "name": "Nope"}),
        ("reorderStages", {"pipelineId": pipeline["id"], "stageIds": [b["id"], a["id"]]}),
        ("archiveStage", {"id": a["id"]}),
    ):
        # when the writer tries to change the configuration
        input_type, selection, fragments = PAYLOADS[mutation]
        response = await writer.post(
            f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {selection} }} }}"
            + fragments,
            {"input": input},
        )

        # then it gets FORBIDDEN
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None, mutation
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
        assert body["errors"][0]["message"] == "This API key lacks the 'admin' scope."
    # and nothing was written, though the writer may read
    assert await pipelines(api) == before
    assert await pipelines(writer) == before


async def test_a_read_key_cannot_create_a_pipeline(api: Api, database: Database) -> None:
    reader = api.as_key(await _key(database, api.workspace_id, [Scope.READ]))
    before = await pipelines(api)

    response = await reader.post(
        'mutation { createPipeline(input: {name: "Nope"}) { pipeline { id } } }'
    )

    body = response.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert await pipelines(api) == before


# --- concurrency -----------------------------------------------------------------------------


async def test_leads_moved_into_a_stage_while_it_is_archived_are_not_stranded(api: Api) -> None:
    for round_ in range(4):
        # given three leads at B, and a stage C being archived (its leads going to D)
        pipeline = await custom_pipeline(api, "A", "B", "C", "D")
        _, b, c, d = pipeline["stages"]
        leads = [await new_lead(api, pipeline, 1) for _ in range(3)]

        # when the leads move into C while C is archived
        responses = await asyncio.gather(
            *(
                api.post(
                    "mutation($input: MoveLeadInput!) { moveLead(input: $input) {"
                    " errors { field code } } }",
                    {"input": {"id": lead["id"], "stageId": c["id"]}},
                )
                for lead in leads
            ),
            api.post(
                "mutation($input: ArchiveStageInput!) { archiveStage(input: $input) {"
                " errors { field code } } }",
                {"input": {"id": c["id"], "moveOpenLeadsTo": d["id"]}},
            ),
        )

        # then every request either succeeded or was refused because C is archived
        for response in responses:
            body = response.json()
            assert "errors" not in body, body
            [payload] = body["data"].values()
            assert payload["errors"] in (
                [],
                [{"field": ["input", "stageId"], "code": "INVALID_STATE"}],
            )
        # and no open lead is left at the archived stage: each is at B (refused) or D (moved)
        for lead in leads:
            after = await read_lead(api, lead["id"])
            assert after["stage"]["id"] in {b["id"], d["id"]}, round_
            [open_visit] = [v for v in after["stageHistory"]["nodes"] if v["exitedAt"] is None]
            assert open_visit["stage"]["id"] == after["stage"]["id"]


async def test_concurrent_changes_of_one_pipelines_stages_do_not_deadlock(api: Api) -> None:
    for _ in range(4):
        # given a pipeline of five stages
        pipeline = await custom_pipeline(api, "A", "B", "C", "D", "E")
        stages = pipeline["stages"]

        # when two stages are archived, the stages reordered and one added, all at once
        responses = await asyncio.gather(
            api.post(
                "mutation($input: ArchiveStageInput!) { archiveStage(input: $input) {"
                " errors { field code } } }",
                {"input": {"id": stages[1]["id"]}},
            ),
            api.post(
                "mutation($input: ArchiveStageInput!) { archiveStage(input: $input) {"
                " errors { field code } } }",
                {"input": {"id": stages[3]["id"]}},
            ),
            api.post(
                "mutation($input: ReorderStagesInput!) { reorderStages(input: $input) {"
                " errors { field code } } }",
                {
                    "input": {
                        "pipelineId": pipeline["id"],
                        "stageIds": [stage["id"] for stage in reversed(stages)],
                    }
                },
            ),
            api.post(
                "mutation($input: AddStageInput!) { addStage(input: $input) {"
                " errors { field code } } }",
                {"input": {"pipelineId": pipeline["id"], "name": "F", "winProbability": 0.5}},
            ),
        )

        # then they run one after another: the archives and the addition succeed, and the
        # reorder succeeds only if it ran before anything else changed the stages
        bodies = [response.json() for response in responses]
        for body in bodies:
            assert "errors" not in body, body
        archive_1, archive_2, reorder, add = (next(iter(b["data"].values())) for b in bodies)
        assert (archive_1["errors"], archive_2["errors"], add["errors"]) == ([], [], [])
        assert reorder["errors"] in (
            [],
            [{"field": ["input", "stageIds"], "code": "VALIDATION"}],
        )
        # and the positions are 1..n, active stages first
        after = await read_pipeline(api, pipeline["id"])
        assert [stage["position"] for stage in after["allStages"]] == list(range(1, 7))
        assert len(after["stages"]) == 4
        assert {stage["name"] for stage in after["allStages"][4:]} == {"B", "D"}
