"""``QueryLogConfig``: where a query log is and how its columns are named (drift, serving and golden sets read it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tasks.querylogs.format import LogColumns


class QueryLogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = "data/querylogs/demo"  # a log file or a folder of .jsonl/.jsonl.gz/.parquet files
    columns: LogColumns = Field(default_factory=LogColumns)
    max_invalid_share: float = Field(0.05, ge=0, le=1)
