"""The publication gate: before reindex switches ``current``, compare the candidate build with it.

Each index answers the golden queries with its own retriever spec (the one in its manifest: a candidate
built with an adopted hybrid spec is compared, as served, with a dense ``current``); the per-query gate metric is
compared with ``tasks.significance.decide`` (the nightly gate's test). Judgments are restricted to
documents present in BOTH indexes (a document the new corpus deleted is neither a miss for the
candidate nor a hit for current), and only queries with a relevant document left are compared.

With ``review.enabled``, a drop larger than ``min_effect`` that is not significant at ``alpha`` but has
``p < review.p_value_below`` is *inconclusive*: reindex pauses for a human answer (``tasks.reindex.review``).

The gate is skipped, with the reason, when it cannot say anything: disabled, no current index, the
golden set is missing or unreadable, or fewer than ``min_queries`` golden queries have a judged
document in the corpus (e.g. a corpus the golden set was not written for).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.retrievers import RetrievalConfig
from tasks.scoring import parse_metric

logger = logging.getLogger(__name__)


class ReviewConfig(BaseModel):
    """Human review of an inconclusive gate: pause the reindex flow run for an answer in the Prefect UI."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    p_value_below: float = Field(0.2, gt=0, le=1)  # a drop > min_effect with alpha <= p < this is "inconclusive"
    timeout_seconds: int = Field(3600, ge=1)  # no answer by then: keep current
    poll_seconds: int = Field(10, ge=1)


class PublicationGateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    golden_dir: str = "data/golden/scifact"  # relative to the workspace
    split: str = "test"
    metric: str = "ndcg@10"
    min_effect: float = Field(0.01, ge=0)  # drops up to this size are accepted
    alpha: float = Field(0.05, gt=0, lt=1)
    confidence: float = Field(0.95, gt=0, lt=1)
    n_resamples: int = Field(10_000, ge=100)
    seed: int = 0
    min_queries: int = Field(20, ge=1)  # fewer comparable golden queries: the gate is skipped
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)  # only for an index built before retriever specs
    threads: int = Field(1, ge=1)
    review: ReviewConfig = Field(default_factory=ReviewConfig)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        return parse_metric(value).label


@dataclass(frozen=True)
class PublicationDecision:
    status: Literal["passed", "rejected", "skipped", "inconclusive"]
    reason: str
    n_queries: int = 0
    evidence: dict[str, float] | None = None  # delta, ci_low, ci_high, p_value, n, candidate/champion means

    def metrics(self) -> dict[str, float]:
        return {f"gate.{k}": v for k, v in (self.evidence or {}).items()} | {"gate.n_queries": self.n_queries}

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "n_queries": self.n_queries,
                "evidence": self.evidence}


class _Skip(Exception):
    """The gate cannot say anything; the message is the logged reason."""


def _load(index: Any, what: str):
    from tasks.index_artifact import IndexCorrupted, LoadedIndex, load_index_artifact

    if isinstance(index, LoadedIndex):
        return index
    try:  # the candidate was written and checksummed by this run a moment ago: no second sha256 pass
        return load_index_artifact(Path(index), verify=what != "candidate")
    except IndexCorrupted as exc:
        if what == "candidate":  # reindex validated it a moment ago: this is a real error
            raise
        raise _Skip(f"{what} index cannot be read: {exc}") from None


def _scores(loaded: Any, checked: Any, cfg: PublicationGateConfig, what: str) -> Any:
    """Per-query gate metric of one index, queried through its own ``IndexRetriever`` (its manifest's spec)."""
    from tasks.measure import score_index
    from tasks.model_files import ModelNotFound
    from tasks.retrieval import FingerprintMismatch, embedder_for
    from tasks.retriever import IndexRetriever
    from tasks.retrievers import spec_of

    try:
        embedder = embedder_for(loaded)
    except (FingerprintMismatch, ModelNotFound) as exc:
        raise _Skip(f"{what} index {loaded.folder.name} cannot be queried: {exc}") from None
    retriever = IndexRetriever(loaded, embedder, spec_of(loaded.manifest, cfg.retrieval), threads=cfg.threads)
    return score_index(retriever, checked.queries, checked.qrels, [cfg.metric]).per_query[cfg.metric]


def _golden(folder: Path, cfg: PublicationGateConfig) -> Any:
    from tasks.goldenset.load import GoldenSetError, load_golden

    try:
        return load_golden(folder, cfg.split)
    except GoldenSetError as exc:
        raise _Skip(f"golden set does not apply: {exc}") from None


def _applicable(golden: Any, new: Any, old: Any, cfg: PublicationGateConfig) -> Any:
    """The golden judgments restricted to documents present in both indexes (enough of them, or skip)."""
    from tasks.goldenset.load import GoldenSetError, check_against_corpus

    try:
        shared = set(new.chunks["doc_id"].astype(str)) & set(old.chunks["doc_id"].astype(str))
        checked = check_against_corpus(golden, shared)
    except GoldenSetError as exc:
        raise _Skip(f"golden set does not apply: {exc}") from None
    if len(checked.qrels) < cfg.min_queries:
        raise _Skip(f"golden set {golden.key} does not apply to this corpus: only {len(checked.qrels)} of "
                    f"{len(golden.queries)} queries have a judged document in it (gate.min_queries={cfg.min_queries})")
    return checked


def compare_to_current(candidate: Any, current: Any, cfg: PublicationGateConfig,
                       golden_dir: Path | None = None) -> PublicationDecision:
    """Gate ``candidate`` against ``current`` (each a ``LoadedIndex`` or a build folder)."""
    from tasks.significance import decide, describe, evidence

    if not cfg.enabled:
        return PublicationDecision("skipped", "publication gate disabled (gate.enabled=false)")
    if current is None:
        return PublicationDecision("skipped", "no current index to compare with (first publication)")
    try:  # a current index we cannot read or query must not block publishing its replacement
        golden = _golden(golden_dir or Path(cfg.golden_dir), cfg)
        new, old = _load(candidate, "candidate"), _load(current, "current")
        checked = _applicable(golden, new, old, cfg)
        candidate_scores, current_scores = _scores(new, checked, cfg, "candidate"), _scores(old, checked, cfg, "current")
    except _Skip as skip:
        logger.warning("publication gate skipped: %s", skip)
        return PublicationDecision("skipped", str(skip))
    decision = decide(candidate_scores, current_scores, min_effect=cfg.min_effect, alpha=cfg.alpha,
                      n_resamples=cfg.n_resamples, confidence=cfg.confidence, seed=cfg.seed)
    text = describe(cfg.metric, decision, cfg.confidence, f"current index {old.folder.name}")
    status: Literal["passed", "rejected", "inconclusive"] = "passed" if decision.passed else "rejected"
    if status == "passed" and cfg.review.enabled and decision.delta < -cfg.min_effect \
            and decision.p_value < cfg.review.p_value_below:
        status = "inconclusive"
        text += (f" -- inconclusive: a drop larger than {cfg.min_effect} with p < {cfg.review.p_value_below} "
                 "(gate.review.p_value_below) needs a human answer")
    return PublicationDecision(status, text, len(checked.qrels), evidence(decision))
