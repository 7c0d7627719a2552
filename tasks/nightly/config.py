"""``NightlyConfig``: the nightly chain reindex -> evaluate -> drift, each part the full config of that flow
(read from ``configs/reindex.yaml``, ``evaluate.yaml`` and ``drift.yaml``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tasks.drift.config import DriftConfig
from tasks.evaluate.config import EvaluateConfig
from tasks.reindex.config import ReindexConfig


class NightlyConfig(BaseModel):
    """reindex -> evaluate -> drift. Each part is the full config of that flow."""

    model_config = ConfigDict(extra="forbid")

    reindex: ReindexConfig = Field(default_factory=ReindexConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    run_reindex: bool = True
    run_drift: bool = True
