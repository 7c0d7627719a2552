"""``EvaluateConfig``: the nightly evaluation's settings (``configs/evaluate.yaml`` documents every key)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tasks.notify import NotifyConfig
from tasks.retrievers import RetrieverSpec
from tasks.scoring import parse_metric, parse_metrics
from tasks.segments import SegmentsConfig


class GoldenConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: str = "data/golden/scifact"  # BEIR layout without the corpus: queries.jsonl + qrels/<split>.tsv
    split: str = "test"


class GateConfig(BaseModel):
    """Fail only when the drop is larger than ``min_effect`` AND significant; floors always apply."""

    model_config = ConfigDict(extra="forbid")

    metric: str = "ndcg@10"  # the metric that decides; every metric gets Δ, CI and p in the report
    min_effect: float = Field(0.01, ge=0)  # drops up to this size never fail (absolute metric points)
    alpha: float = Field(0.05, gt=0, lt=1)  # one-sided paired permutation test level
    floors: dict[str, float] = Field(default_factory=lambda: {"ann_recall@10": 0.9})
    n_resamples: int = Field(10_000, ge=100)
    confidence: float = Field(0.95, gt=0, lt=1)  # bootstrap CI on the mean difference
    seed: int = 0

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        return parse_metric(value).label


class LatencyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_queries: int = Field(50, ge=0)  # single-query timings on a seeded sample; 0 disables
    seed: int = 0


class ReportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    history_nights: int = Field(30, ge=1)  # runs shown in the metric-history plot
    review_top_n: int = Field(25, ge=0)  # most-regressed queries in the review queue
    zero_relevant_k: int = Field(10, ge=1)  # queries with no relevant document in the top k go to review


class EvaluateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    golden: GoldenConfig = Field(default_factory=GoldenConfig)
    index_version: str | None = None  # a local index version (DVC md5 prefix); default: current
    retrieval: RetrieverSpec | None = None  # None: the index's own spec (what is served); else evaluate a variant
    metrics: list[str] = Field(default_factory=lambda: ["ndcg@10", "recall@100", "mrr@10"])
    gate: GateConfig = Field(default_factory=GateConfig)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    ann_k: int = Field(10, ge=1)  # ANN health: recall@k of the index vs exact search on golden queries
    report: ReportConfig = Field(default_factory=ReportConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    threads: int = Field(1, ge=1)  # FAISS search threads

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        return [spec.label for spec in parse_metrics(value)]

    @model_validator(mode="after")
    def _gate_metric_is_scored(self) -> "EvaluateConfig":
        if self.gate.metric not in self.metrics:
            raise ValueError(f"gate.metric {self.gate.metric!r} must be one of metrics {self.metrics}")
        if self.retrieval is not None and self.retrieval.depth < self.deepest_cutoff:
            raise ValueError(f"retrieval.depth {self.retrieval.depth} is below the deepest metric cutoff "
                             f"{self.deepest_cutoff}")
        return self

    @property
    def deepest_cutoff(self) -> int:
        return max(parse_metric(m).k for m in self.metrics)

    @property
    def golden_key(self) -> str:
        """What makes two runs comparable: the golden set folder name and split."""
        from pathlib import Path

        return f"{Path(self.golden.dir).name}:{self.golden.split}"
