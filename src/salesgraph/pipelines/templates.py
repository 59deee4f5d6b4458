"""The stage templates a pipeline can start from.

Seven stages follow the textbook sales process; five and nine are the common shorter and
longer variants. Win probabilities feed the weighted forecast; target days say when a lead
counts as stalled in a stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from salesgraph.pipelines.models import PipelineTemplate


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: str
    win_probability: Decimal
    target_days: int | None


def _stages(*rows: tuple[str, str, int | None]) -> tuple[StageSpec, ...]:
    return tuple(StageSpec(name, Decimal(probability), days) for name, probability, days in rows)


TEMPLATES: dict[PipelineTemplate, tuple[StageSpec, ...]] = {
    PipelineTemplate.SEVEN_STAGE: _stages(
        ("Prospecting", "0.05", 7),
        ("Preparation & research", "0.10", 5),
        ("Needs assessment", "0.20", 7),
        ("Presentation", "0.40", 10),
        ("Objection handling", "0.60", 10),
        ("Closing", "0.80", 7),
        ("Follow-up", "0.90", 30),
    ),
    PipelineTemplate.FIVE_STAGE: _stages(
        ("Prospecting", "0.10", 7),
        ("Needs assessment", "0.25", 7),
        ("Presentation", "0.50", 10),
        ("Closing", "0.80", 7),
        ("Follow-up", "0.90", 30),
    ),
    PipelineTemplate.NINE_STAGE: _stages(
        ("Prospecting", "0.05", 7),
        ("Qualification", "0.10", 5),
        ("Preparation & research", "0.15", 5),
        ("Needs assessment", "0.25", 7),
        ("Presentation", "0.40", 10),
        ("Proposal", "0.55", 10),
        ("Objection handling", "0.65", 10),
        ("Closing", "0.80", 7),
        ("Follow-up", "0.90", 30),
    ),
}
