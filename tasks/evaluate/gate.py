"""The regression gate of the nightly evaluation: candidate (tonight) vs champion, per query, paired.

Per metric, on the queries both runs scored: Δ = mean(candidate − champion), a seeded paired
bootstrap CI on Δ and a one-sided paired permutation p-value (``tasks.significance.decide``). The
run FAILS only when the gate metric's drop is larger than ``gate.min_effect`` AND significant at
``gate.alpha``, or when an aggregate metric is below its absolute floor (``gate.floors``).
The other metrics' evidence is reported, not gated (one test decides: no multiple-comparison games).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from tasks.evaluate.champion import Champion
from tasks.evaluate.config import GateConfig
from tasks.significance import GateDecision, decide, describe, evidence

NO_CHAMPION = "no champion yet; this run becomes the champion"


@dataclass(frozen=True)
class GateOutcome:
    status: Literal["pass", "fail"]
    reason: str
    metric: str
    champion_run_id: str | None = None
    evidence: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> delta, ci, p, n, means
    floor_failures: list[str] = field(default_factory=list)
    n_queries: int = 0  # queries compared with the champion
    n_only_one_side: int = 0  # queries scored by only one of the two runs (golden set or corpus changed)
    golden_comparison: str = "same"  # same | restricted (common judgments only) | refused (golden versions differ)

    @property
    def primary(self) -> dict[str, float]:
        return self.evidence.get(self.metric, {})

    def deltas(self) -> dict[str, float]:
        return {m: e["delta"] for m, e in self.evidence.items()}


def floor_failures(aggregates: dict[str, float], floors: dict[str, float]) -> list[str]:
    """One message per floor breached; a floor on a metric that was not measured is a failure too."""
    out = []
    for name, floor in sorted(floors.items()):
        value = aggregates.get(name)
        if value is None or math.isnan(value):
            out.append(f"floor on {name} cannot be checked: the run did not measure {name}")
        elif value < floor:
            out.append(f"{name} {value:.4f} < floor {floor:.4f}")
    return out


def paired_decisions(candidate: pd.DataFrame, champion: pd.DataFrame, cfg: GateConfig) -> dict[str, GateDecision]:
    """``decide`` per metric both frames hold, on the queries both scored."""
    common = candidate.index.intersection(champion.index)
    metrics = [m for m in candidate.columns if m in champion.columns]
    return {m: decide(candidate.loc[common, m], champion.loc[common, m], min_effect=cfg.min_effect,
                      alpha=cfg.alpha, n_resamples=cfg.n_resamples, confidence=cfg.confidence, seed=cfg.seed)
            for m in metrics}


@dataclass(frozen=True)
class GoldenVersion:
    """Tonight's golden set version: its content hash, label and per-query judgment fingerprints."""

    content_hash: str
    label: str
    judgments: pd.Series  # query_id -> fingerprint (tasks.evaluate.champion.judgment_fingerprints)


def across_versions(candidate: pd.DataFrame, champion: Champion, golden: GoldenVersion | None
                    ) -> tuple[pd.DataFrame | None, str]:
    """Only queries judged identically tonight and by the champion are comparable: across two golden
    versions, or when stale qrels were excluded tonight. Returns (tonight's rows to compare, the reason);
    rows None = comparison refused."""
    if golden is None:
        return candidate, ""
    versions_differ = bool(champion.golden_hash) and champion.golden_hash != golden.content_hash
    change = (f"golden set changed since champion {champion.run_id} ({champion.golden_label} -> {golden.label})"
              if versions_differ else f"some queries are scored with other judgments than champion {champion.run_id} "
                                      "(stale qrels excluded)")
    if champion.judgments is None:
        if versions_differ:
            return None, f"{change} and the champion recorded no per-query judgments to restrict to"
        return candidate, ""
    mine = golden.judgments.reindex(candidate.index)
    theirs = champion.judgments.reindex(candidate.index)
    scored_by_both = candidate.index.isin(champion.per_query.index) & theirs.notna().to_numpy()
    equal = (mine == theirs).to_numpy()
    if not versions_differ and bool(equal[scored_by_both].all()):
        return candidate, ""
    same = candidate.index[equal & scored_by_both]
    if same.empty:
        return None, f"{change} and no query kept its judgments"
    n_changed = int(scored_by_both.sum()) - len(same)
    n_new = len(candidate) - len(same) - n_changed
    return candidate.loc[same], (f"{change}: compared on the {len(same)} queries judged identically in both "
                                 f"({n_changed} re-judged, {n_new} new or not scored by the champion); ")


def apply_gate(candidate: pd.DataFrame, aggregates: dict[str, float], champion: Champion | None,
               cfg: GateConfig, golden: GoldenVersion | None = None) -> GateOutcome:
    """The decision for tonight's per-query scores; see the module docstring. Across golden versions the
    comparison is restricted to the queries judged identically, or refused (``across_versions``)."""
    floors = floor_failures(aggregates, cfg.floors)
    floor_text = "; floor breached: " + "; ".join(floors) if floors else ""
    status: Literal["pass", "fail"] = "fail" if floors else "pass"
    if champion is None:
        return GateOutcome(status, NO_CHAMPION + floor_text, cfg.metric, floor_failures=floors)
    base = dict(metric=cfg.metric, champion_run_id=champion.run_id, floor_failures=floors)
    comparable, restriction = across_versions(candidate, champion, golden)
    if comparable is None:
        return GateOutcome(status, f"not compared: {restriction}; this run becomes the champion of the new version"
                           + floor_text, golden_comparison="refused",
                           n_only_one_side=len(candidate.index.symmetric_difference(champion.per_query.index)), **base)
    candidate = comparable
    common = candidate.index.intersection(champion.per_query.index)
    only_one = len(candidate.index.symmetric_difference(champion.per_query.index))
    if cfg.metric not in champion.per_query.columns or common.empty:
        why = (f"champion run {champion.run_id} did not record {cfg.metric}"
               if cfg.metric not in champion.per_query.columns else
               f"champion run {champion.run_id} scored none of tonight's {len(candidate)} queries")
        return GateOutcome(status, f"no comparable champion ({why}); this run becomes the champion{floor_text}",
                           n_only_one_side=only_one, **base)
    decisions = paired_decisions(candidate, champion.per_query, cfg)
    primary = decisions[cfg.metric]
    text = describe(cfg.metric, primary, cfg.confidence, f"champion {champion.run_id} ({champion.how})")
    if not primary.passed:
        status = "fail"
    return GateOutcome(status, restriction + text + floor_text, evidence={m: evidence(d) for m, d in decisions.items()},
                       n_queries=len(common), n_only_one_side=only_one,
                       golden_comparison="restricted" if restriction else "same", **base)


def outcome_record(outcome: GateOutcome) -> dict[str, Any]:
    """The CLI/notification fields: champion_run_id, delta (per metric), ci_low, ci_high, p_value, n_queries."""
    primary = outcome.primary
    return {"status": outcome.status, "reason": outcome.reason, "gate_metric": outcome.metric,
            "champion_run_id": outcome.champion_run_id, "delta": outcome.deltas(),
            "ci_low": primary.get("ci_low"), "ci_high": primary.get("ci_high"),
            "p_value": primary.get("p_value"), "n_compared": outcome.n_queries,
            "floor_failures": outcome.floor_failures, "golden_comparison": outcome.golden_comparison}
