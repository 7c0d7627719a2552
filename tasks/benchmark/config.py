"""``BenchmarkConfig``: datasets, the registries the grid draws from, the grid, measurement, prices, budget.

The grid is a product of registry names (``grid.embedders x chunkers x indexes x retrieval x
rerankers``). Registries hold named configs; built-in entries (below) are always there and the YAML
adds or replaces entries. An embedder name that is not in the registry is taken as a preset
(``tasks.embedding.PRESETS``), a local folder or a Hugging Face id already in the local cache.
The defaults are the MTEB protocol: whole documents (``title + " " + text``) truncated to the
model's limit, all-MiniLM-L6-v2, exact (flat) dense search.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationInfo, field_validator

from tasks.chunking import ChunkingConfig
from tasks.embedding import EmbedderConfig
from tasks.indexing import IndexConfig
from tasks.rerank import RerankerConfig
from tasks.retrievers import RetrievalConfig

NONE = "none"  # the reranker name meaning "no rerank stage"


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str  # a BEIR-layout folder
    split: str = "test"
    name: str | None = None  # default: the folder name (with its parents' names if two would clash)


def builtin_chunkers() -> dict[str, ChunkingConfig]:
    return {"whole": ChunkingConfig(strategy="whole", truncate=True),
            "whole-full": ChunkingConfig(strategy="whole"),
            "window-128": ChunkingConfig(strategy="window", window_tokens=128, overlap_tokens=32),
            "per_type": ChunkingConfig(strategy="per_type")}


def builtin_indexes() -> dict[str, IndexConfig]:
    return {kind: IndexConfig(kind=kind) for kind in ("flat", "hnsw", "ivf", "ivfsq8", "ivfpq")}


def builtin_retrieval() -> dict[str, RetrievalConfig]:
    return {"dense": RetrievalConfig(mode="dense"), "bm25": RetrievalConfig(mode="bm25"),
            "hybrid": RetrievalConfig(mode="hybrid")}


class Registry(BaseModel):
    """Named candidates per axis; YAML entries are added to (or replace) the built-in ones."""

    model_config = ConfigDict(extra="forbid")

    embedders: dict[str, EmbedderConfig] = Field(default_factory=dict)
    chunkers: dict[str, ChunkingConfig] = Field(default_factory=builtin_chunkers)
    indexes: dict[str, IndexConfig] = Field(default_factory=builtin_indexes)
    retrieval: dict[str, RetrievalConfig] = Field(default_factory=builtin_retrieval)
    rerankers: dict[str, RerankerConfig] = Field(default_factory=dict)

    @field_validator("embedders", mode="before")
    @classmethod
    def _model_defaults_to_name(cls, value: Any) -> Any:
        """``{my-e5: {batch_size: 8}}`` means model ``my-e5``: the name is the model unless given."""
        if isinstance(value, dict):
            return {name: {"model": name, **(cfg or {})} if isinstance(cfg, dict) or cfg is None else cfg
                    for name, cfg in value.items()}
        return value

    @field_validator("chunkers", "indexes", "retrieval", mode="before")
    @classmethod
    def _merge_builtins(cls, value: Any, info: ValidationInfo) -> Any:
        """A YAML entry named like a built-in one overrides only the keys it gives."""
        if not isinstance(value, dict):
            return value
        builtins = {"chunkers": builtin_chunkers, "indexes": builtin_indexes,
                    "retrieval": builtin_retrieval}[info.field_name]()
        merged: dict[str, Any] = dict(builtins)
        for name, cfg in value.items():
            base = builtins.get(name)
            if base is not None and isinstance(cfg, dict):
                cfg = {**base.model_dump(exclude_defaults=True), **cfg}
            merged[name] = cfg
        return merged


class Grid(BaseModel):
    """Registry names per axis; every combination is a candidate (duplicates are dropped)."""

    model_config = ConfigDict(extra="forbid")

    embedders: list[str] = Field(default_factory=lambda: ["all-MiniLM-L6-v2"], min_length=1)
    chunkers: list[str] = Field(default_factory=lambda: ["whole"], min_length=1)
    indexes: list[str] = Field(default_factory=lambda: ["flat"], min_length=1)
    retrieval: list[str] = Field(default_factory=lambda: ["dense"], min_length=1)
    rerankers: list[str] = Field(default_factory=lambda: [NONE], min_length=1)


class Measure(BaseModel):
    """How the systems metrics are taken."""

    model_config = ConfigDict(extra="forbid")

    metrics: list[str] = Field(default_factory=lambda: ["ndcg@10", "recall@100", "mrr@10", "map@100"])
    throughput_chunks: PositiveInt = 256  # seeded sample re-embedded (cache bypassed) for docs/s
    latency_queries: PositiveInt = 50  # single-query latencies (embedding + search [+ rerank])
    memory_interval_ms: PositiveInt = 5  # RSS sampling period for peak memory
    seed: int = 0


class Prices(BaseModel):
    """The price table: hosting per hour for self-hosted models, per 1M tokens for API models."""

    model_config = ConfigDict(extra="forbid")

    cpu_hour_usd: float = Field(0.085, ge=0)  # the whole machine (2 vCPU), e.g. an AWS c7i.large
    gpu_hour_usd: float = Field(1.006, ge=0)  # e.g. an AWS g5.xlarge (one A10G)
    api_usd_per_1m_tokens: dict[str, float] = Field(default_factory=dict)  # embedder name -> price


class Budget(BaseModel):
    """The recommendation: best mean ``metric`` among candidates within every limit set here."""

    model_config = ConfigDict(extra="forbid")

    metric: str = "ndcg@10"
    max_query_p95_ms: float | None = Field(100.0, gt=0)
    max_usd_per_1k_queries: float | None = Field(None, gt=0)
    max_usd_per_1m_tokens: float | None = Field(None, gt=0)
    max_index_bytes: int | None = Field(None, gt=0)
    min_docs_per_s: float | None = Field(None, gt=0)


class BenchmarkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    datasets: list[DatasetSpec] = Field(default_factory=lambda: [DatasetSpec(path="data/samples/scifact")],
                                        min_length=1)
    registry: Registry = Field(default_factory=Registry)
    grid: Grid = Field(default_factory=Grid)
    measure: Measure = Field(default_factory=Measure)
    prices: Prices = Field(default_factory=Prices)
    budget: Budget = Field(default_factory=Budget)
    force: bool = False  # recompute results even when cached for (dataset hash, candidate fingerprint)

    @field_validator("datasets", mode="before")
    @classmethod
    def _paths_as_specs(cls, value: Any) -> Any:
        if isinstance(value, (str, dict)):
            value = [value]
        return [{"path": str(v)} if not isinstance(v, (dict, DatasetSpec)) else v for v in value or []]

    @field_validator("measure")
    @classmethod
    def _metrics_parse(cls, measure: Measure) -> Measure:
        from tasks.scoring import parse_metrics

        parse_metrics(measure.metrics)
        return measure

    @field_validator("grid")
    @classmethod
    def _known_names(cls, grid: Grid, info: ValidationInfo) -> Grid:
        registry = info.data.get("registry")
        if registry is None:  # the registry itself failed validation (reported separately)
            return grid
        for axis in ("chunkers", "indexes", "retrieval", "rerankers"):
            known = set(getattr(registry, axis)) | ({NONE} if axis == "rerankers" else set())
            unknown = [n for n in getattr(grid, axis) if n not in known]
            if unknown:
                raise ValueError(f"grid.{axis}: unknown name(s) {unknown}; known: {sorted(known)} "
                                 f"(add entries under registry.{axis})")
        return grid

    @field_validator("budget")
    @classmethod
    def _budget_metric_measured(cls, budget: Budget, info: ValidationInfo) -> Budget:
        measure = info.data.get("measure")
        if measure is not None and budget.metric not in measure.metrics:
            raise ValueError(f"budget.metric {budget.metric!r} must be one of measure.metrics {measure.metrics}")
        return budget
