"""``QueryLogConfig``: where a query log is and how its columns are named (drift, serving and golden sets read it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tasks.querylogs.format import LogColumns
from tasks.querylogs.served import QUERIES, SERVED_DIR

DEMO_LOGS = Path("data") / "querylogs" / "demo"


class QueryLogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = "auto"  # a log file or folder; auto: the service's log (data/querylogs/served/queries) if it has
    # files, else the demo logs (data/querylogs/demo)
    columns: LogColumns = Field(default_factory=LogColumns)
    max_invalid_share: float = Field(0.05, ge=0, le=1)

    def resolved_path(self, settings: Any) -> Path:
        """``path`` in the workspace; ``auto``: the served queries when there are any, else the demo logs."""
        if self.path != "auto":
            return settings.resolve(self.path)
        served = settings.resolve(SERVED_DIR / QUERIES)
        if served.is_dir() and any(served.glob("*.jsonl")):
            return served
        return settings.resolve(DEMO_LOGS)
