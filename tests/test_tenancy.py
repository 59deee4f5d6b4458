"""Tenancy: a workspace's key reaches nothing of another workspace, through any read or write;
another workspace's ids behave exactly like ids that do not exist."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, update

from salesgraph.db import registry
from salesgraph.db.engine import Database
from salesgraph.db.tenancy import MissingTenantScopeError
from salesgraph.db.unit_of_work import read_session, unit_of_work
from salesgraph.events import Actor
from salesgraph.leads import service as lead_service
from salesgraph.leads.models import Lead, StageVisit
from salesgraph.leads.service import NewLead
from salesgraph.workspaces.models import Member, MemberRole, Team, TeamMembership
from tests.conftest import Api

# Marked here, not only by conftest's collection hook: anyio rebuilds the items that hook marks,
# which drops their parametrization.
pytestmark = pytest.mark.anyio

SYSTEM = Actor()


@dataclass
class Tenant:
    """A workspace's key and the ids of its objects, by name."""

    api: Api
    ids: dict[str, str]


async def populate(api: Api, database: Database, prefix: str) -> Tenant:
    """A member in a team, an open lead with history, a referred lead, a won lead and a deleted
    one."""
    workspace_id = api.workspace_id
    assert workspace_id is not None
    pipelines = await api("{ pipelines { id stages { id } } }")
    pipeline = pipelines["pipelines"][0]
    stages = [uuid.UUID(stage["id"]) for stage in pipeline["stages"]]
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        member = Member(
            workspace_id=workspace_id,
            email=f"{prefix.lower()}@example.com",
            name=f"{prefix} Member",
            role=MemberRole.REP,
        )
        team = Team(workspace_id=workspace_id, name=f"{prefix} Team")
        session.add_all([member, team])
        await session.flush()
        session.add(TeamMembership(workspace_id=workspace_id, team_id=team.id, member_id=member.id))

        async def create(title: str, **fields: Any) -> uuid.UUID:
            new = NewLead(title=f"{prefix} {title}", **fields)
            return (await lead_service.create_lead(session, actor=SYSTEM, new=new)).id

        lead = await create("open", owner_id=member.id, team_id=team.id, company_name=prefix)
        await lead_service.move_lead(
            session,
            actor=SYSTEM,
            lead_id=lead,
            stage_id=stages[1],
            reason=None,
            expected_version=None,
        )
        referred = await create("referred", referred_by_id=lead, owner_id=member.id)
        won = await create("won")
        await lead_service.win_lead(
            session, actor=SYSTEM, lead_id=won, reason=None, expected_version=None
        )
        deleted = await create("deleted")
        await lead_service.delete_lead(
            session, actor=SYSTEM, lead_id=deleted, expected_version=None
        )
    ids = {
        "pipeline": pipeline["id"],
        **{f"stage.{index}": str(stage) for index, stage in enumerate(stages)},
        "member": str(member.id),
        "team": str(team.id),
        "lead": str(lead),
        "referred": str(referred),
        "won": str(won),
        "deleted": str(deleted),
    }
    return Tenant(api, ids)


@pytest.fixture
async def tenants(api: Api, other_api: Api, database: Database) -> tuple[Tenant, Tenant]:
    """(A, B): two populated workspaces."""
    return await populate(api, database, "Alpha"), await populate(other_api, database, "Beta")


async def snapshot(database: Database, workspace_id: uuid.UUID | None) -> dict[str, list[Any]]:
    """Every row of every table that belongs to the workspace (a key's last use aside)."""
    assert workspace_id is not None
    rows: dict[str, list[Any]] = {}
    async with unit_of_work(database, workspace_id=None) as session:
        for table in registry.Base.metadata.sorted_tables:
            if not table.info.get("tenant", True):
                continue  # holds no workspace's rows (idempotency_records)
            owner = table.c.get("workspace_id")
            if owner is None:
                owner = table.c.id  # the workspaces table itself
            columns = [column for column in table.c if column.name != "last_used_at"]
            statement = (
                select(*columns).where(owner == workspace_id).order_by(*table.primary_key.columns)
            )
            rows[table.name] = [tuple(row) for row in (await session.execute(statement)).all()]
    return rows


# Reading


async def test_another_workspaces_objects_by_id_are_null(
    tenants: tuple[Tenant, Tenant],
) -> None:
    a, b = tenants
    query = """query($lead: ID!, $pipeline: ID!, $stage: ID!) {
        lead(id: $lead) { id } pipeline(id: $pipeline) { id } stage(id: $stage) { id }
    }"""
    # Given A's ids, when A reads them, then they exist
    variables = {"lead": a.ids["lead"], "pipeline": a.ids["pipeline"], "stage": a.ids["stage.0"]}
    own = await a.api(query, variables)
    assert own == {
        "lead": {"id": a.ids["lead"]},
        "pipeline": {"id": a.ids["pipeline"]},
        "stage": {"id": a.ids["stage.0"]},
    }

    # When B reads them, then B finds nothing, exactly as for unknown ids
    assert await b.api(query, variables) == {"lead": None, "pipeline": None, "stage": None}
    unknown = {name: str(uuid.uuid4()) for name in variables}
    assert await b.api(query, unknown) == {"lead": None, "pipeline": None, "stage": None}


async def test_filters_on_another_workspaces_ids_find_nothing(
    tenants: tuple[Tenant, Tenant],
) -> None:
    a, b = tenants
    query = """query($filter: LeadFilter) {
        leads(filter: $filter, first: 100) { totalCount edges { node { id } } }
    }"""
    for lead_filter in (
        {"id": {"eq": a.ids["lead"]}},
        {"id": {"in": [a.ids["lead"], a.ids["won"], a.ids["referred"]]}},
        {"pipelineId": {"eq": a.ids["pipeline"]}},
        {"stageId": {"eq": a.ids["stage.1"]}},
        {"ownerId": {"eq": a.ids["member"]}},
        {"teamId": {"eq": a.ids["team"]}},
        {"ownerInTeam": a.ids["team"]},
        {"referredById": {"eq": a.ids["lead"]}},
        {"or": [{"id": {"eq": a.ids["lead"]}}, {"pipelineId": {"eq": a.ids["pipeline"]}}]},
    ):
        # When B filters on A's ids, then it finds nothing
        assert await b.api(query, {"filter": lead_filter}) == {
            "leads": {"totalCount": 0, "edges": []}
        }
        # while the same filter on B's own ids finds B's leads
        own_filter = _swap_ids(lead_filter, a.ids, b.ids)
        assert (await b.api(query, {"filter": own_filter}))["leads"]["totalCount"] >= 1


def _swap_ids(value: Any, source: dict[str, str], target: dict[str, str]) -> Any:
    by_id = {identifier: target[name] for name, identifier in source.items()}
    if isinstance(value, dict):
        return {key: _swap_ids(item, source, target) for key, item in value.items()}
    if isinstance(value, list):
        return [_swap_ids(item, source, target) for item in value]
    return by_id.get(value, value)


async def test_lists_and_nested_fields_show_only_the_callers_workspace(
    tenants: tuple[Tenant, Tenant],
) -> None:
    _, b = tenants
    # When B lists everything it can see, nested fields included
    data = await b.api(
        """{
          viewer { workspace { name } member { id } }
          pipelines(includeArchived: true) { id stages(includeArchived: true) { id
            leads(includeClosed: true) { totalCount edges { node { id } } } } }
          members { id name }
          teams { id name members { id } }
          leads(first: 100) { totalCount edges { node {
            id title pipeline { id } stage { id } owner { id } team { id }
            referredBy { id title }
            stageHistory { totalCount edges { node { stage { id } enteredBy { member { id } } } } }
          } } }
        }"""
    )

    # Then it sees its own workspace's objects only
    assert data["viewer"]["workspace"]["name"] == "Other Co"
    assert [pipeline["id"] for pipeline in data["pipelines"]] == [b.ids["pipeline"]]
    stages = data["pipelines"][0]["stages"]
    assert [stage["id"] for stage in stages] == [b.ids[f"stage.{i}"] for i in range(7)]
    column_leads = {edge["node"]["id"] for stage in stages for edge in stage["leads"]["edges"]}
    assert column_leads == {b.ids["lead"], b.ids["referred"], b.ids["won"]}
    assert sum(stage["leads"]["totalCount"] for stage in stages) == 3
    admin = data["viewer"]["member"]["id"]
    assert {member["id"] for member in data["members"]} == {admin, b.ids["member"]}
    assert data["teams"] == [
        {"id": b.ids["team"], "name": "Beta Team", "members": [{"id": b.ids["member"]}]}
    ]
    leads = {edge["node"]["id"]: edge["node"] for edge in data["leads"]["edges"]}
    assert data["leads"]["totalCount"] == 3
    assert set(leads) == {b.ids["lead"], b.ids["referred"], b.ids["won"]}
    own_ids = set(b.ids.values())
    for lead in leads.values():
        assert lead["title"].startswith("Beta ")
        assert lead["pipeline"]["id"] == b.ids["pipeline"]
        assert lead["stage"]["id"] in own_ids
        assert lead["owner"] is None or lead["owner"]["id"] == b.ids["member"]
        assert lead["team"] is None or lead["team"]["id"] == b.ids["team"]
        for edge in lead["stageHistory"]["edges"]:
            assert edge["node"]["stage"]["id"] in own_ids
    assert leads[b.ids["referred"]]["referredBy"] == {"id": b.ids["lead"], "title": "Beta open"}
    assert leads[b.ids["lead"]]["stageHistory"]["totalCount"] == 2


# Writing: every mutation, given another workspace's ids, fails as for unknown ids


Build = Callable[[Callable[[str], str], dict[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    mutation: str
    input_type: str
    payload: str
    build: Build  # (other workspace's id by name, own ids) -> the mutation's input
    code: str
    field: list[str] | None
    message: str


def not_found(
    mutation: str, input_type: str, payload: str, field: str, what: str, build: Build
) -> Case:
    """A case failing with NOT_FOUND at `field`, as the services word it."""
    message = f"{what} does not exist"
    return Case(mutation, input_type, payload, build, "NOT_FOUND", ["input", field], message)


ACTIVE_STAGES = "list every active stage of the pipeline exactly once, and no other"
MOVE_TARGET = "move open leads to another active stage of the same pipeline"
CASES = {
    "updateLead": not_found(
        "updateLead", "UpdateLeadInput", "lead", "id", "lead",
        lambda other, own: {"id": other("lead"), "title": "Taken"},
    ),
    "updateLead-referrer": not_found(
        "updateLead", "UpdateLeadInput", "lead", "referredById", "referring lead",
        lambda other, own: {"id": own["lead"], "referredById": other("lead")},
    ),
    "moveLead": not_found(
        "moveLead", "MoveLeadInput", "lead", "id", "lead",
        lambda other, own: {"id": other("lead"), "stageId": other("stage.2")},
    ),
    "moveLead-own-lead-foreign-stage": not_found(
        "moveLead", "MoveLeadInput", "lead", "stageId", "stage",
        lambda other, own: {"id": own["lead"], "stageId": other("stage.2")},
    ),
    "winLead": not_found(
        "winLead", "WinLeadInput", "lead", "id", "lead", lambda other, own: {"id": other("lead")}
    ),
    "loseLead": not_found(
        "loseLead", "LoseLeadInput", "lead", "id", "lead",
        lambda other, own: {"id": other("lead"), "reason": "taken"},
    ),
    "reopenLead": not_found(
        "reopenLead", "ReopenLeadInput", "lead", "id", "lead",
        lambda other, own: {"id": other("won")},
    ),
    "reopenLead-own-lead-foreign-stage": not_found(
        "reopenLead", "ReopenLeadInput", "lead", "stageId", "stage",
        lambda other, own: {"id": own["won"], "stageId": other("stage.0")},
    ),
    "reassignLead": not_found(
        "reassignLead", "ReassignLeadInput", "lead", "id", "lead",
        lambda other, own: {"id": other("lead"), "ownerId": None},
    ),
    "reassignLead-foreign-owner": not_found(
        "reassignLead", "ReassignLeadInput", "lead", "ownerId", "member",
        lambda other, own: {"id": own["lead"], "ownerId": other("member")},
    ),
    "reassignLead-foreign-team": not_found(
        "reassignLead", "ReassignLeadInput", "lead", "teamId", "team",
        lambda other, own: {"id": own["lead"], "teamId": other("team")},
    ),
    "deleteLead": not_found(
        "deleteLead", "LeadVersionInput", "lead", "id", "lead",
        lambda other, own: {"id": other("lead")},
    ),
    "restoreLead": not_found(
        "restoreLead", "LeadVersionInput", "lead", "id", "lead",
        lambda other, own: {"id": other("deleted")},
    ),
    "createLead-foreign-pipeline": not_found(
        "createLead", "CreateLeadInput", "lead", "pipelineId", "pipeline",
        lambda other, own: {"title": "Taken", "pipelineId": other("pipeline")},
    ),
    "createLead-foreign-stage": not_found(
        "createLead", "CreateLeadInput", "lead", "stageId", "stage",
        lambda other, own: {"title": "Taken", "stageId": other("stage.0")},
    ),
    "createLead-foreign-owner": not_found(
        "createLead", "CreateLeadInput", "lead", "ownerId", "member",
        lambda other, own: {"title": "Taken", "ownerId": other("member")},
    ),
    "createLead-foreign-team": not_found(
        "createLead", "CreateLeadInput", "lead", "teamId", "team",
        lambda other, own: {"title": "Taken", "teamId": other("team")},
    ),
    "createLead-foreign-referrer": not_found(
        "createLead", "CreateLeadInput", "lead", "referredById", "referring lead",
        lambda other, own: {"title": "Taken", "referredById": other("lead")},
    ),
    "renamePipeline": not_found(
        "renamePipeline", "RenamePipelineInput", "pipeline", "id", "pipeline",
        lambda other, own: {"id": other("pipeline"), "name": "Taken"},
    ),
    "addStage": not_found(
        "addStage", "AddStageInput", "stage", "pipelineId", "pipeline",
        lambda other, own: {"pipelineId": other("pipeline"), "name": "New", "winProbability": 0},
    ),
    "updateStage": not_found(
        "updateStage", "UpdateStageInput", "stage", "id", "stage",
        lambda other, own: {"id": other("stage.0"), "name": "Taken"},
    ),
    "reorderStages": not_found(
        "reorderStages", "ReorderStagesInput", "pipeline", "pipelineId", "pipeline",
        lambda other, own: {
            "pipelineId": other("pipeline"),
            "stageIds": [other(f"stage.{i}") for i in reversed(range(7))],
        },
    ),
    "reorderStages-own-pipeline-foreign-stage": Case(
        "reorderStages", "ReorderStagesInput", "pipeline",
        lambda other, own: {
            "pipelineId": own["pipeline"],
            "stageIds": [*(own[f"stage.{i}"] for i in range(6)), other("stage.6")],
        },
        "VALIDATION", ["input", "stageIds"], ACTIVE_STAGES,
    ),
    "archiveStage": not_found(
        "archiveStage", "ArchiveStageInput", "stage", "id", "stage",
        lambda other, own: {"id": other("stage.0")},
    ),
    "archiveStage-foreign-target": Case(
        "archiveStage", "ArchiveStageInput", "stage",
        lambda other, own: {"id": own["stage.1"], "moveOpenLeadsTo": other("stage.2")},
        "VALIDATION", ["input", "moveOpenLeadsTo"], MOVE_TARGET,
    ),
}  # fmt: skip


async def run_case(api: Api, case: Case, variables: dict[str, Any]) -> dict[str, Any]:
    result = await api(
        f"""mutation($input: {case.input_type}!) {{ {case.mutation}(input: $input) {{
            {case.payload} {{ id }} errors {{ field code message }} }} }}""",
        {"input": variables},
    )
    return result[case.mutation]  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_a_mutation_on_another_workspaces_ids_fails_as_for_unknown_ids(
    tenants: tuple[Tenant, Tenant], database: Database, case: Case
) -> None:
    # Given two workspaces and a snapshot of both
    a, b = tenants
    before = (
        await snapshot(database, a.api.workspace_id),
        await snapshot(database, b.api.workspace_id),
    )
    unknown: dict[str, str] = {}

    def random_id(name: str) -> str:
        return unknown.setdefault(name, str(uuid.uuid4()))

    # When B runs the mutation with A's ids, and with unknown ids in their place
    with_foreign_ids = await run_case(b.api, case, case.build(a.ids.__getitem__, b.ids))
    with_unknown_ids = await run_case(b.api, case, case.build(random_id, b.ids))

    # Then it fails the same way both times, naming the input at fault
    assert with_foreign_ids == with_unknown_ids
    assert with_foreign_ids == {
        case.payload: None,
        "errors": [{"field": case.field, "code": case.code, "message": case.message}],
    }
    # and nothing changed in either workspace
    after = (
        await snapshot(database, a.api.workspace_id),
        await snapshot(database, b.api.workspace_id),
    )
    assert after == before


async def test_snapshot_sees_a_change(tenants: tuple[Tenant, Tenant], database: Database) -> None:
    # The snapshot the tests above compare does notice a change of one lead
    a, _ = tenants
    before = await snapshot(database, a.api.workspace_id)
    await a.api(
        'mutation($id: ID!) { updateLead(input: {id: $id, source: "web"}) { errors { code } } }',
        {"id": a.ids["lead"]},
    )
    assert await snapshot(database, a.api.workspace_id) != before


# The tenancy module itself


async def test_a_session_without_a_scope_refuses_tenant_tables(
    tenants: tuple[Tenant, Tenant], database: Database
) -> None:
    # Given a session that was neither scoped nor marked unscoped
    for statement in (
        select(Lead),
        select(Lead.title),
        select(func.count(Lead.id)),
        select(StageVisit).where(StageVisit.exited_at.is_(None)),
        select(Member),
        update(Lead).values(title="Taken"),
    ):
        async with database.sessionmaker() as session:
            # When it runs an ORM statement on a tenant table, then it raises
            with pytest.raises(MissingTenantScopeError):
                await session.execute(statement)
    async with database.sessionmaker() as session:
        with pytest.raises(MissingTenantScopeError):
            await session.get(
                Lead, (tenants[0].api.workspace_id, uuid.UUID(tenants[0].ids["lead"]))
            )


async def test_a_session_without_a_scope_refuses_a_count_over_a_tenant_table(
    tenants: tuple[Tenant, Tenant], database: Database
) -> None:
    async with database.sessionmaker() as session:
        with pytest.raises(MissingTenantScopeError):
            await session.execute(select(func.count()).select_from(Lead))


async def test_a_scoped_session_sees_only_its_workspace_without_a_where_clause(
    tenants: tuple[Tenant, Tenant], database: Database
) -> None:
    a, b = tenants
    b_id = b.api.workspace_id
    own = {uuid.UUID(b.ids[name]) for name in ("lead", "referred", "won", "deleted")}
    before = await snapshot(database, a.api.workspace_id)

    # Given a session scoped to B, when it selects, counts and updates without any condition
    async with read_session(database, workspace_id=b_id) as session:
        leads = (await session.execute(select(Lead))).scalars().all()
        ids = (await session.execute(select(Lead.id))).scalars().all()
        count = await session.scalar(select(func.count()).select_from(Lead))
        visits = (await session.execute(select(StageVisit))).scalars().all()
        members = (await session.execute(select(Member))).scalars().all()
        updated = await session.execute(
            update(Lead).values(source="taken").execution_options(synchronize_session=False)
        )

        # Then it reaches B's rows only
        assert {lead.id for lead in leads} == own
        assert set(ids) == own
        assert count == 4
        assert {visit.lead_id for visit in visits} == own
        assert {member.workspace_id for member in members} == {b_id}
        assert updated.rowcount == 4  # type: ignore[attr-defined]
        await session.rollback()
    # and A is untouched
    assert await snapshot(database, a.api.workspace_id) == before
