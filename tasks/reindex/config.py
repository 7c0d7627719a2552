"""Flow configurations (one pydantic model per flow, loaded from ``configs/<flow>.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tasks.chunking import ChunkingConfig
from tasks.embedding import EmbedderConfig
from tasks.reindex.publication import PublicationGateConfig
from tasks.indexing import IndexConfig
from tasks.loaders import LoadLimits
from tasks.notify import NotifyConfig
from tasks.retrievers import RetrieverSpec
from tasks.validation import DocumentRules


class ValidationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_quarantine_share: float = Field(0.05, ge=0, le=1)
    documents: DocumentRules = Field(default_factory=DocumentRules)


class PublishConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_builds: int = Field(3, ge=1)  # local builds kept besides current (older ones stay in the DVC remote)


class RunnerConfig(BaseModel):
    """How fan-out work runs: in-process, or sharded over a Dask cluster (prefect-dask)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "dask"] = "local"
    address: str | None = None  # a running Dask scheduler; None with kind=dask: a LocalCluster
    n_workers: int = 2
    shards: int = 4


class ReindexConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = "data/samples/scifact/corpus.jsonl.gz"  # a folder or any fsspec URL
    include: list[str] = Field(default_factory=list)  # glob patterns on relative paths
    exclude: list[str] = Field(default_factory=list)
    limits: LoadLimits = Field(default_factory=LoadLimits)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    retriever: RetrieverSpec = Field(default_factory=RetrieverSpec)  # what the index serves (manifest)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    gate: PublicationGateConfig = Field(default_factory=PublicationGateConfig)  # candidate vs current on the golden set
    notify: NotifyConfig = Field(default_factory=NotifyConfig)  # "fail": rejected index, "error": the run crashed
    lock_timeout_seconds: float = Field(0.0, ge=0)  # 0: refuse at once if another reindex runs
    force: bool = False  # rebuild even when the corpus is unchanged
