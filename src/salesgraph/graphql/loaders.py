"""DataLoaders of one request, named by their key. Built per request: never shared across
requests or workspaces. Each batch reads through its own short session (sibling fields load
concurrently, and an AsyncSession serves one task at a time)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from salesgraph.activities import loaders as activity_loaders
from salesgraph.activities.loaders import ActivityQuery, LeadActivitiesKey
from salesgraph.activities.models import Activity
from salesgraph.db.engine import Database
from salesgraph.db.keyset import Page, PageRequest
from salesgraph.db.unit_of_work import read_session
from salesgraph.events import DomainEvent
from salesgraph.handoffs import loaders as handoff_loaders
from salesgraph.handoffs.models import Handoff
from salesgraph.leads import loaders as lead_loaders
from salesgraph.leads.loaders import StageLeadsKey
from salesgraph.leads.models import Lead, StageVisit
from salesgraph.leads.repository import LeadQuery
from salesgraph.objections import loaders as objection_loaders
from salesgraph.objections.loaders import LeadObjectionsKey
from salesgraph.objections.models import Objection, ObjectionResponse
from salesgraph.objections.repository import ObjectionListQuery, ResponseUsage
from salesgraph.pipelines import loaders as pipeline_loaders
from salesgraph.pipelines.models import Pipeline, Stage
from salesgraph.timeline import loaders as timeline_loaders
from salesgraph.workspaces import loaders as workspace_loaders
from salesgraph.workspaces.models import Member, Team

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Loaders:
    def __init__(self, database: Database, workspace_id: uuid.UUID):
        self._database = database
        self._workspace_id = workspace_id
        self.stage_by_id: DataLoader[uuid.UUID, Stage | None] = self._loader(
            pipeline_loaders.stage_by_id
        )
        self.pipeline_by_id: DataLoader[uuid.UUID, Pipeline | None] = self._loader(
            pipeline_loaders.pipeline_by_id
        )
        self.stages_by_pipeline_id: DataLoader[tuple[uuid.UUID, bool], list[Stage]] = self._loader(
            pipeline_loaders.stages_by_pipeline_id
        )
        self.member_by_id: DataLoader[uuid.UUID, Member | None] = self._loader(
            workspace_loaders.member_by_id
        )
        self.team_by_id: DataLoader[uuid.UUID, Team | None] = self._loader(
            workspace_loaders.team_by_id
        )
        self.member_ids_by_team_id: DataLoader[uuid.UUID, list[uuid.UUID]] = self._loader(
            workspace_loaders.member_ids_by_team_id
        )
        self.lead_by_id: DataLoader[uuid.UUID, Lead | None] = self._loader(lead_loaders.lead_by_id)
        self.visits_by_lead_id: DataLoader[tuple[uuid.UUID, PageRequest], Page[StageVisit]] = (
            self._loader(lead_loaders.visits_by_lead_id)
        )
        self.visit_count_by_lead_id: DataLoader[uuid.UUID, int] = self._loader(
            lead_loaders.visit_count_by_lead_id
        )
        self.leads_by_stage_id: DataLoader[StageLeadsKey, Page[Lead]] = self._loader(
            lead_loaders.leads_by_stage_id
        )
        self.lead_count_by_stage_id: DataLoader[tuple[uuid.UUID, LeadQuery], int] = self._loader(
            lead_loaders.lead_count_by_stage_id
        )
        # Activities.
        self.activity_by_id: DataLoader[uuid.UUID, Activity | None] = self._loader(
            activity_loaders.activity_by_id
        )
        self.activities_by_lead_id: DataLoader[LeadActivitiesKey, Page[Activity]] = self._loader(
            activity_loaders.activities_by_lead_id
        )
        self.activity_count_by_lead_id: DataLoader[tuple[uuid.UUID, ActivityQuery], int] = (
            self._loader(activity_loaders.activity_count_by_lead_id)
        )
        # Objections.
        self.objection_by_id: DataLoader[uuid.UUID, Objection | None] = self._loader(
            objection_loaders.objection_by_id
        )
        self.objections_by_lead_id: DataLoader[LeadObjectionsKey, Page[Objection]] = self._loader(
            objection_loaders.objections_by_lead_id
        )
        self.objection_count_by_lead_id: DataLoader[tuple[uuid.UUID, ObjectionListQuery], int] = (
            self._loader(objection_loaders.objection_count_by_lead_id)
        )
        self.open_objections_by_lead_id: DataLoader[uuid.UUID, list[Objection]] = self._loader(
            objection_loaders.open_objections_by_lead_id
        )
        self.objection_response_by_id: DataLoader[uuid.UUID, ObjectionResponse | None] = (
            self._loader(objection_loaders.objection_response_by_id)
        )
        self.response_usage_by_id: DataLoader[uuid.UUID, ResponseUsage] = self._loader(
            objection_loaders.response_usage_by_id
        )
        # Handoffs.
        self.handoff_by_id: DataLoader[uuid.UUID, Handoff | None] = self._loader(
            handoff_loaders.handoff_by_id
        )
        self.handoffs_by_lead_id: DataLoader[tuple[uuid.UUID, PageRequest], Page[Handoff]] = (
            self._loader(handoff_loaders.handoffs_by_lead_id)
        )
        self.handoff_count_by_lead_id: DataLoader[uuid.UUID, int] = self._loader(
            handoff_loaders.handoff_count_by_lead_id
        )
        # Timeline.
        self.events_by_lead_id: DataLoader[tuple[uuid.UUID, PageRequest], Page[DomainEvent]] = (
            self._loader(timeline_loaders.events_by_lead_id)
        )
        self.event_count_by_lead_id: DataLoader[uuid.UUID, int] = self._loader(
            timeline_loaders.event_count_by_lead_id
        )

    def _loader(
        self, batch: Callable[[AsyncSession, Sequence[K]], Awaitable[Sequence[V]]]
    ) -> DataLoader[K, V]:
        async def load(keys: list[K]) -> Sequence[V]:
            async with read_session(self._database, workspace_id=self._workspace_id) as session:
                return await batch(session, keys)

        return DataLoader(load_fn=load)
