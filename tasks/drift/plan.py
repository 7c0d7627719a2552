"""From features to one decision: the configured tests, their inputs, Holm across them.

``build_plan`` pairs every enabled test with its two samples (or a reason to skip it);
``run_family`` runs them and applies Holm at the family-wise ``alpha``. The flow and
``benchmarks/drift_calibration.py`` both call these two, so the benchmark measures the
decision the flow makes.

When a test is skipped (no index, no golden set, too few queries, a feature constant in both
windows) it does not count in Holm's m. Skipping depends only on the pooled data, never on which
rows are "current", so the family-wise guarantee holds for the tests that ran.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasks.drift.stattests import DriftDecision, DriftResult, DriftTest, combine, get_test, run_tests
from tasks.drift.config import CATEGORICAL_INPUTS, DriftConfig, TestSpec
from tasks.querylogs.features import novelty_scores


@dataclass
class WindowFeatures:
    """One window's queries and what the tests look at (rows aligned with ``texts``)."""

    texts: list[str]
    vectors: np.ndarray
    scalars: dict[str, np.ndarray] = field(default_factory=dict)  # query_length, oov_rate, top1_score
    language: np.ndarray | None = None


@dataclass
class SharedInputs:
    """Inputs that do not belong to a window; ``unavailable`` maps an input to why it is missing."""

    golden: np.ndarray | None = None
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # holdout, new, base chunk vectors
    unavailable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FamilyOutcome:
    results: dict[str, DriftResult]
    skipped: dict[str, str]
    decision: DriftDecision
    specs: dict[str, TestSpec]


class Skip(Exception):
    pass


def make_test(spec: TestSpec, config: DriftConfig, **extra: Any) -> DriftTest:
    """The registered test with ``alpha`` and ``seed`` from the config unless the spec sets them."""
    test = get_test(spec.test, **{"alpha": config.alpha, **spec.params, **extra})
    if hasattr(test, "seed") and "seed" not in spec.params:
        test = dataclasses.replace(test, seed=config.seed)
    return test


def _samples(spec: TestSpec, ref: WindowFeatures, cur: WindowFeatures, shared: SharedInputs,
             config: DriftConfig) -> tuple[Any, Any, dict[str, Any]]:
    kind = spec.input
    if kind in shared.unavailable:
        raise Skip(shared.unavailable[kind])
    if kind == "embeddings":
        return ref.vectors, cur.vectors, {}
    if kind == "golden":
        if shared.golden is None:
            raise Skip("no golden set")
        return ref.vectors, cur.vectors, {"golden": shared.golden}
    if kind == "corpus":
        if shared.corpus is None:
            raise Skip("no new documents to compare with the index")
        holdout, new, base = shared.corpus
        return holdout, new, {"golden": base}
    if kind == "novelty":
        hold, now = novelty_scores(ref.vectors, cur.vectors, config.novelty_holdout_share, config.seed)
        return hold, now, {}
    if kind in CATEGORICAL_INPUTS:
        a, b = ref.language, cur.language
    else:
        a, b = ref.scalars.get(kind), cur.scalars.get(kind)
    if a is None or b is None:
        raise Skip("no feedback in the query log" if kind == "feedback" else f"input {kind} was not computed")
    values = np.unique(np.concatenate([np.asarray(a, dtype=object), np.asarray(b, dtype=object)]))
    if len(values) < 2:
        raise Skip(f"{kind} is {values[0] if len(values) else 'empty'} for every query of both windows: "
                   "nothing can differ")
    return a, b, {}


def build_plan(config: DriftConfig, ref: WindowFeatures, cur: WindowFeatures, shared: SharedInputs
               ) -> tuple[list[tuple[str, DriftTest, Any, Any]], dict[str, str]]:
    plan, skipped = [], {}
    for label, spec in config.enabled_tests().items():
        try:
            a, b, extra = _samples(spec, ref, cur, shared, config)
        except Skip as reason:
            skipped[label] = str(reason)
            continue
        plan.append((label, make_test(spec, config, **extra), a, b))
    return plan, skipped


def run_family(config: DriftConfig, ref: WindowFeatures, cur: WindowFeatures, shared: SharedInputs
               ) -> FamilyOutcome:
    """Run the enabled tests and decide with Holm at ``config.alpha``."""
    plan, skipped = build_plan(config, ref, cur, shared)
    results, lacking = run_tests(plan)
    skipped.update(lacking)
    decision = combine(results, alpha=config.alpha, skipped=skipped)
    return FamilyOutcome(results, skipped, decision, config.enabled_tests())


def decision_rule(outcome: FamilyOutcome) -> str:
    m = len(outcome.results)
    return (f"Holm step-down over the {m} tests that ran, family-wise alpha={outcome.decision.alpha}: drift when "
            f"any Holm-adjusted p-value <= alpha (and its effect size reaches its threshold, if set)")


def result_rows(outcome: FamilyOutcome) -> list[dict[str, Any]]:
    """One row per test that ran: what the CLI prints and MLflow records."""
    adjusted, drifted = outcome.decision.adjusted_p_values, set(outcome.decision.drifted)
    return [{"name": label, "test": outcome.specs[label].test, "input": outcome.specs[label].input,
             "statistic": r.statistic, "p_value": r.p_value, "p_holm": adjusted[label], "effect_size": r.effect_size,
             "threshold": r.threshold, "drift": label in drifted} for label, r in outcome.results.items()]


def explain_decision(outcome: FamilyOutcome, explanation: Any) -> str:
    decision, m = outcome.decision, len(outcome.results)
    if not outcome.results:
        return "no test could run: " + "; ".join(f"{k}: {v}" for k, v in outcome.skipped.items())
    if decision.drift:
        text = (f"drift: {', '.join(decision.drifted)} rejected by Holm over {m} tests at family-wise "
                f"alpha={decision.alpha}")
        if explanation is not None and explanation.clusters:
            top = explanation.clusters[0]
            text += f"; largest far cluster: {top.size} queries ({top.share_of_current:.0%}), e.g. {top.examples[0]!r}"
        return text
    label = min(decision.adjusted_p_values, key=decision.adjusted_p_values.get)
    text = (f"no drift: smallest Holm-adjusted p-value {decision.adjusted_p_values[label]:.3g} ({label}) over {m} "
            f"tests, family-wise alpha={decision.alpha}")
    small = [f"{k} (effect {outcome.results[k].effect_size:.3g} < threshold {outcome.results[k].threshold})"
             for k in decision.rejected]
    return text + ("; significant but below the effect threshold: " + ", ".join(small) if small else "")
