"""Imports every model so that Base.metadata knows all tables (Alembic, tests)."""

from salesgraph import events
from salesgraph.activities import models as activity_models
from salesgraph.db.base import Base
from salesgraph.handoffs import models as handoff_models
from salesgraph.http import idempotency_models
from salesgraph.leads import models as lead_models
from salesgraph.metrics import models as metric_models
from salesgraph.objections import models as objection_models
from salesgraph.pipelines import models as pipeline_models
from salesgraph.workspaces import models as workspace_models

__all__ = [
    "Base",
    "activity_models",
    "events",
    "handoff_models",
    "idempotency_models",
    "lead_models",
    "metric_models",
    "objection_models",
    "pipeline_models",
    "workspace_models",
]
