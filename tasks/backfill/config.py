"""``BackfillRequest``: which flow, which dates, how many at once (the ``nightshift backfill`` options)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class BackfillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow: str
    start: date
    end: date
    every_days: int = Field(1, ge=1)
    concurrency: int = Field(1, ge=1)
    force: bool = False
    timezone: str = "UTC"
    overrides: list[str] = Field(default_factory=list)  # --set style, applied to every date's config
