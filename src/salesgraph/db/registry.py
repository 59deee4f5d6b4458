"""Imports every model so that Base.metadata knows all tables (Alembic, tests)."""

from salesgraph import events
from salesgraph.db.base import Base
from salesgraph.leads import models as lead_models
from salesgraph.pipelines import models as pipeline_models
from salesgraph.workspaces import models as workspace_models

__all__ = ["Base", "events", "lead_models", "pipeline_models", "workspace_models"]
