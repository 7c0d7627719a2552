"""``ApiConfig``: the retrieval service's settings (``configs/api.yaml`` documents every key)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RateLimitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    requests_per_second: float = Field(50.0, gt=0)  # per client (its token, else its address), sustained
    burst: int = Field(100, ge=1)  # requests a client may send at once before it is slowed down


class QueryLogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    dir: str = "data/querylogs/served"  # relative to the workspace: queries/ and feedback/ daily JSONL files
    hash_queries: bool = False  # store sha256 of the query instead of its text
    retention_days: int | None = Field(90, ge=1)  # older daily files are deleted; null: keep everything


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"  # this machine only; 0.0.0.0 behind a reverse proxy
    port: int = Field(8765, ge=1, le=65535)
    workers: int = Field(1, ge=1)  # uvicorn worker processes (each loads the index)
    default_k: int = Field(10, ge=1)
    max_k: int = Field(1000, ge=1)
    max_body_bytes: int = Field(65_536, ge=256)
    max_query_chars: int = Field(4_096, ge=1)
    cache_size: int = Field(4096, ge=0)  # query embeddings kept (LRU)
    refresh_seconds: float = Field(1.0, gt=0)  # how often a request checks for a newly published index
    threads: int | None = Field(1, ge=1)  # CPU threads per worker for query embedding AND FAISS (one OpenMP
    # count for both: alternating counts costs ~20x); null: cores // workers. 1 + workers = cores is fastest
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    querylog: QueryLogSettings = Field(default_factory=QueryLogSettings)

    def threads_per_worker(self) -> int:
        import os

        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)
