"""Calibrate the evaluation gate: false-alarm rate over resampled A/A comparisons, and power at a 0.02 drop.

Inputs are real per-query scores: the ``per_query.csv`` that every ``nightshift evaluate`` run writes
(``data/reports/evaluate/<run_id>/per_query.csv``, also an MLflow artifact). ``--baseline`` is one
system; each ``--other`` is another system scored on the same golden set (e.g. the same corpus
indexed with a weaker model). The pair's per-query differences d = other − baseline carry the real
shape of per-query noise (many exact zeros, heavy tails), which is what the gate has to cope with.

Every replicate calls the gate's own decision, ``tasks.significance.decide`` (one-sided paired
permutation test + bootstrap CI, seeded), with the configured ``min_effect`` and ``alpha``.

A/A nulls (true mean difference exactly 0), ``n`` queries resampled with replacement per replicate:
- ``swap``: per query, a coin flip decides which of the two systems is "tonight" and which is
  "champion" (exchangeable: the permutation test's own null);
- ``centered``: tonight = champion + (d − mean d) resampled: zero mean but as skewed as the real
  differences (a harder null for a sign-flip test, which assumes symmetry).
Power against a true drop of ``--drop`` (0.02) nDCG@10:
- ``shift``: tonight = champion + (d − mean d) − drop;
- ``mixture`` (pairs whose mean d < −drop): each query takes the other system's score with
  probability drop/|mean d| (a regression that hits some queries), else keeps the baseline's.

Rates get exact (Clopper-Pearson) 95% binomial intervals. Run (a few minutes on 2 vCPUs):
    python benchmarks/gate_calibration.py --baseline A/per_query.csv --other B/per_query.csv [--other C/...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from tasks.significance import decide


def load(path: Path, metric: str) -> pd.Series:
    frame = pd.read_csv(path, dtype={"query_id": str}).set_index("query_id")
    return frame[metric].astype(float)


def rate(hits: int, n: int) -> dict[str, float]:
    ci = stats.binomtest(hits, n).proportion_ci(0.95, method="exact")
    return {"rate": hits / n, "ci_low": float(ci.low), "ci_high": float(ci.high), "hits": hits, "n": n}


def replicate(kind: str, x: np.ndarray, y: np.ndarray, n: int, drop: float, rng: np.random.Generator):
    """(candidate, champion) for one replicate of a null or alternative."""
    idx = rng.integers(0, len(x), n)
    a, b = x[idx], y[idx]
    d = (y - x) - (y - x).mean()
    if kind == "swap":
        flip = rng.random(n) < 0.5
        return np.where(flip, a, b), np.where(flip, b, a)
    if kind == "centered":
        return a + d[idx], a
    if kind == "shift":
        return a + d[idx] - drop, a
    if kind == "mixture":
        take = rng.random(n) < drop / -(y - x).mean()
        return np.where(take, b, a), a
    raise ValueError(kind)


def simulate(kind: str, x: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> dict[str, dict]:
    rng = np.random.default_rng(args.seed)
    gate_hits = test_hits = 0
    for rep in range(args.replicates):
        cand, champ = replicate(kind, x, y, args.n, args.drop, rng)
        decision = decide(cand, champ, min_effect=args.min_effect, alpha=args.alpha,
                          n_resamples=args.n_resamples, seed=rep)
        gate_hits += not decision.passed
        test_hits += decision.p_value < args.alpha
    return {"gate": rate(gate_hits, args.replicates), "test_only": rate(test_hits, args.replicates)}


def describe_pair(x: pd.Series, y: pd.Series, args: argparse.Namespace) -> dict[str, float]:
    decision = decide(y, x, min_effect=args.min_effect, alpha=args.alpha, n_resamples=10_000)
    d = (y - x).to_numpy()
    return {"n": len(d), "baseline_mean": float(x.mean()), "other_mean": float(y.mean()), "delta": decision.delta,
            "ci_low": decision.ci_low, "ci_high": decision.ci_high, "p_value": decision.p_value,
            "sd_diff": float(d.std(ddof=1)), "share_zero_diff": float((d == 0).mean()), "gate_passed": decision.passed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--other", type=Path, action="append", required=True)
    parser.add_argument("--metric", default="ndcg@10")
    parser.add_argument("--n", type=int, default=300, help="queries per replicate")
    parser.add_argument("--drop", type=float, default=0.02)
    parser.add_argument("--min-effect", type=float, default=0.01)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--n-resamples", type=int, default=2000, help="permutations/bootstraps per decision")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    started = time.perf_counter()
    baseline = load(args.baseline, args.metric)
    results = {"settings": {k: str(v) for k, v in vars(args).items()}, "pairs": {}}
    for other_path in args.other:
        other = load(other_path, args.metric)
        common = baseline.index.intersection(other.index)
        x, y = baseline.loc[common], other.loc[common]
        pair = {"observed": describe_pair(x, y, args)}
        kinds = ["swap", "centered", "shift"] + (["mixture"] if (y - x).mean() < -args.drop else [])
        for kind in kinds:
            pair[kind] = simulate(kind, x.to_numpy(), y.to_numpy(), args)
            g, t = pair[kind]["gate"], pair[kind]["test_only"]
            print(f"{other_path.parent.name:>34} {kind:>9}: gate {g['rate']:.4f} [{g['ci_low']:.4f}, {g['ci_high']:.4f}]"
                  f"  test-only {t['rate']:.4f} [{t['ci_low']:.4f}, {t['ci_high']:.4f}]", flush=True)
        results["pairs"][str(other_path)] = pair
        print(json.dumps(pair["observed"]), flush=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(f"{args.replicates} replicates x n={args.n}, alpha={args.alpha}, min_effect={args.min_effect}, "
          f"drop={args.drop}: {results['seconds']} s")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
