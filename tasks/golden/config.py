"""``GoldenConfig``: how a golden set is bootstrapped from a query log (``configs/golden.yaml`` documents every key)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.goldenset.pool import POOL_MODES
from tasks.querylogs.config import QueryLogConfig


class SampleConfig(BaseModel):
    """Which log queries get judged: de-duplicated, then a stratified sample."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(300, ge=1)  # queries to sample
    max_clusters: int = Field(8, ge=1)  # KMeans topic clusters of the query embeddings (k by silhouette, 2..max)
    min_per_stratum: int = Field(1, ge=0)  # every stratum (cluster x length x script) gets at least this many
    query_length_buckets: list[int] = Field(default_factory=lambda: [5, 10, 20])  # word-count upper bounds
    script: bool = True  # stratify by the query's Unicode script too
    dedup_threshold: float = Field(0.95, gt=0, le=1)  # cosine similarity at or above which queries are near-duplicates
    dedup_neighbors: int = Field(10, ge=1)  # nearest neighbours looked at per query for near-duplicates
    seed: int = 0


class PoolConfig(BaseModel):
    """Candidates to judge: the union of each retriever's top ``depth`` documents (TREC pooling)."""

    model_config = ConfigDict(extra="forbid")

    depth: int = Field(10, ge=1)  # documents taken from EACH retriever per query
    retrievers: list[str] = Field(default_factory=lambda: list(POOL_MODES))
    passage_chars: int = Field(600, ge=50)  # passage shown per candidate (its best chunk, cut)

    @field_validator("retrievers")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from tasks.retrievers import RETRIEVAL_MODES

        if not value:
            raise ValueError("pool.retrievers is empty: name at least one of dense, bm25, hybrid")
        return [RETRIEVAL_MODES.check(v) for v in value]


class GoldenConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""  # the golden set (data/golden/<name>); the CLI's NAME argument
    split: str = "test"
    querylog: QueryLogConfig = Field(default_factory=QueryLogConfig)  # path auto: the service's log, else the demo logs
    sample: SampleConfig = Field(default_factory=SampleConfig)
    pool: PoolConfig = Field(default_factory=PoolConfig)
    threads: int = Field(1, ge=1)  # FAISS search threads
