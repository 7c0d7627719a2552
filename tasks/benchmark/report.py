"""The comparison table (CSV + markdown), the Pareto front, and the recommendation with its reason.

Recommendation rule: among candidates that succeeded on every dataset and stay within every
budget limit on every dataset (worst case), the best mean of ``budget.metric`` over the datasets;
ties go to the higher throughput. Without an eligible candidate there is no recommendation, and the
reason lists what excluded each one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import pandas as pd

from tasks.benchmark.config import Budget

SYSTEMS_COLUMNS = ("docs_per_s", "tokens_per_s", "query_p50_ms", "query_p95_ms", "peak_rss_mb", "peak_delta_mb",
                   "index_bytes", "build_s", "usd_per_1m_tokens", "usd_per_1k_queries")
# (budget field, table column, True when larger values are worse)
LIMITS = (("max_query_p95_ms", "query_p95_ms", True), ("max_usd_per_1k_queries", "usd_per_1k_queries", True),
          ("max_usd_per_1m_tokens", "usd_per_1m_tokens", True), ("max_index_bytes", "index_bytes", True),
          ("min_docs_per_s", "docs_per_s", False))


def comparison_table(records: Sequence[dict[str, Any]], metrics: Sequence[str],
                     pareto_metric: str | None = None) -> pd.DataFrame:
    """One row per (dataset, candidate): quality metrics, systems metrics, cost, status; ``pareto`` marks the
    quality-vs-throughput front on ``pareto_metric`` (the budget's metric; default the first)."""
    rows = []
    for r in records:
        row = {"dataset": r["dataset"], "candidate": r["candidate"], "mode": r.get("mode", ""),
               "status": r["status"]}
        row.update({m: r["metrics"].get(m, math.nan) for m in metrics})
        row.update({c: r["systems"].get(c, math.nan) for c in SYSTEMS_COLUMNS})
        row.update(cached=r.get("cached", False), fingerprint=r["fingerprint"],
                   child_run_id=r.get("child_run_id", ""), error=r.get("error", ""))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["pareto"] = pareto_flags(table, pareto_metric or metrics[0]) if len(table) else []
    return table


def pareto_flags(table: pd.DataFrame, metric: str, speed: str = "docs_per_s") -> list[bool]:
    """True where no other candidate on the same dataset is at least as good on both axes and better on one."""
    flags = []
    for _, row in table.iterrows():
        peers = table[(table["dataset"] == row["dataset"]) & (table["status"] == "ok")]
        dominated = ((peers[metric] >= row[metric]) & (peers[speed] >= row[speed])
                     & ((peers[metric] > row[metric]) | (peers[speed] > row[speed]))).any()
        flags.append(bool(row["status"] == "ok" and not dominated))
    return flags


def to_markdown(table: pd.DataFrame, columns: Sequence[str]) -> str:
    """A GitHub markdown table (numbers rounded for reading; the CSV keeps full precision)."""
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            if abs(value) < 1:
                return f"{value:.4g}"
            return f"{value:,.0f}" if value.is_integer() or abs(value) >= 1e5 else f"{value:,.1f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for _, row in table.iterrows()]
    return "\n".join(lines) + "\n"


def pivot_markdown(table: pd.DataFrame, metric: str) -> str:
    """``metric`` by dataset (rows) and candidate (columns): the per-dataset / per-language view."""
    wide = table[table["status"] == "ok"].pivot(index="dataset", columns="candidate", values=metric)
    wide = wide.reindex(index=list(dict.fromkeys(table["dataset"])), columns=list(dict.fromkeys(table["candidate"])))
    wide.loc["mean"] = wide.mean(numeric_only=True)
    return to_markdown(wide.reset_index(), ["dataset", *wide.columns]).replace("| dataset |", f"| {metric} |", 1)


@dataclass
class Recommendation:
    candidate: str | None
    metric: str
    score: float | None
    reason: str
    excluded: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] | None = None  # the pick as reindex config sections (retriever, embedder, chunking, index)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _violations(rows: pd.DataFrame, budget: Budget) -> list[str]:
    out = [f"{r['status']} on {r['dataset']}" for _, r in rows.iterrows() if r["status"] != "ok"]
    for name, column, larger_is_worse in LIMITS:
        limit = getattr(budget, name)
        if limit is None or out:
            continue
        worst = rows[column].max() if larger_is_worse else rows[column].min()
        if (worst > limit) if larger_is_worse else (worst < limit):
            out.append(f"{column} {worst:.4g} {'>' if larger_is_worse else '<'} {limit:g} ({name})")
    return out


def recommend(table: pd.DataFrame, budget: Budget) -> Recommendation:
    metric, n_datasets = budget.metric, table["dataset"].nunique()
    excluded, eligible = {}, []
    for cand, rows in table.groupby("candidate", sort=False):
        problems = _violations(rows, budget)
        if len(rows) < n_datasets:
            problems.append(f"ran on {len(rows)} of {n_datasets} datasets")
        if problems:
            excluded[cand] = "; ".join(problems)
        else:
            eligible.append((rows[metric].mean(), rows["docs_per_s"].mean(), cand))
    limits = ", ".join(f"{name}={getattr(budget, name):g}" for name, _, _ in LIMITS if getattr(budget, name) is not None)
    if not eligible:
        return Recommendation(None, metric, None, f"no candidate within the budget ({limits or 'no limits'}): "
                              + "; ".join(f"{c}: {why}" for c, why in excluded.items()), excluded)
    score, speed, best = max(eligible)
    runner_up = sorted(eligible, reverse=True)[1:2]
    versus = (f"; next best {runner_up[0][2]} at {runner_up[0][0]:.4f}" if runner_up else "")
    reason = (f"best mean {metric} {score:.4f} over {n_datasets} dataset(s) among {len(eligible)} of "
              f"{len(eligible) + len(excluded)} candidates within the budget ({limits or 'no limits'}){versus}"
              + ("; excluded: " + "; ".join(f"{c} ({why})" for c, why in excluded.items()) if excluded else ""))
    return Recommendation(best, metric, float(score), reason, excluded)
