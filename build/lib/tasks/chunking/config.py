"""``ChunkingConfig``: the settings that decide chunk boundaries (part of the index fingerprint)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

# Bump when the algorithm moves boundaries for an unchanged config: the fingerprint changes too.
CHUNKING_VERSION = 1

DocType = Literal["markdown", "text", "html", "pdf", "code", "record"]
StrategyName = Literal["per_type", "whole", "window"]


class TypeOverrides(BaseModel):
    """Per-document-type overrides of the global settings (unset fields inherit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_tokens: PositiveInt | None = None
    overlap_tokens: NonNegativeInt | None = None
    include_title: bool | None = None
    min_chunk_tokens: NonNegativeInt | None = None


@dataclass(frozen=True)
class TypeSettings:
    """The settings in force for one document type after overrides."""

    window_tokens: int
    overlap_tokens: int
    include_title: bool
    min_chunk_tokens: int


class ChunkingConfig(BaseModel):
    """How documents become chunks.

    ``window_tokens`` counts the document-body tokens of a window; a title prefix comes on top, but
    a chunk never exceeds the embedder's ``max_tokens``. ``truncate`` (``whole`` only) reproduces
    the MTEB protocol: one chunk per document cut at ``max_tokens``, recorded as ``truncated``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: StrategyName = "per_type"
    window_tokens: PositiveInt = 200
    overlap_tokens: NonNegativeInt = 40
    include_title: bool = True
    min_chunk_tokens: NonNegativeInt = 16
    truncate: bool = False
    per_type: dict[DocType, TypeOverrides] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "ChunkingConfig":
        if self.truncate and self.strategy != "whole":
            raise ValueError("truncate=True is the MTEB protocol and needs strategy='whole'")
        for name, settings in [("", self.for_type(None))] + [
            (f"per_type.{t}.", self.for_type(t)) for t in sorted(self.per_type)
        ]:
            if settings.overlap_tokens >= settings.window_tokens:
                raise ValueError(f"{name}overlap_tokens must be smaller than {name}window_tokens")
        return self

    def for_type(self, doc_type: str | None) -> TypeSettings:
        """The settings for one document type: its overrides over the global values."""
        over = self.per_type.get(doc_type) if doc_type else None  # type: ignore[call-overload]
        values = {name: getattr(self, name) for name in TypeOverrides.model_fields}
        if over is not None:
            values.update(over.model_dump(exclude_none=True))
        return TypeSettings(**values)

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the config and the algorithm version."""
        payload = {"chunking_version": CHUNKING_VERSION, **self.model_dump(mode="json")}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()
