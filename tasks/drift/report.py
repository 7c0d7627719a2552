"""The drift report: report.md/.html, two PNG plots and review_queue.csv in one folder.

- ``projection.png``: both windows on the first two PCA axes of the pooled vectors; the current
  queries that the explanation calls "far" are coloured by cluster.
- ``distributions.png``: reference vs current histograms of top-1 retrieval similarity (when an
  index was available), of the similarity to the nearest reference query, and of query length.
- ``review_queue.csv``: the far current queries grouped by cluster (largest first), each
  cluster's representative examples first, with distance, top-1 score, timestamp and id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.drift.explain import DriftExplanation, project_2d
from tasks.reporting.figures import figure
from tasks.reporting.render import Block, to_html, to_markdown

REVIEW_COLUMNS = ["cluster", "cluster_size", "cluster_share", "is_example", "query", "query_id", "timestamp",
                  "distance_to_reference", "top1_score"]
_COLOURS = ["#c44e52", "#dd8452", "#8172b3", "#937860", "#da8bc3", "#55a868"]


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    markdown: Path
    html: Path
    review: Path
    plots: tuple[Path, ...]
    n_review: int


def plot_projection(reference: np.ndarray, current: np.ndarray, explanation: DriftExplanation | None,
                    path: Path, seed: int = 0) -> Path:
    fig = figure(7.0, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    ref2, cur2 = project_2d(reference, current, seed)
    ax.scatter(ref2[:, 0], ref2[:, 1], s=6, c="#bbbbbb", label=f"reference ({len(ref2)})")
    ax.scatter(cur2[:, 0], cur2[:, 1], s=6, c="#4c72b0", alpha=0.6, label=f"current ({len(cur2)})")
    for i, cluster in enumerate(explanation.clusters if explanation else ()):
        rows = list(cluster.indices)
        ax.scatter(cur2[rows, 0], cur2[rows, 1], s=18, c=_COLOURS[i % len(_COLOURS)], edgecolors="black",
                   linewidths=0.3, label=f"far cluster {i + 1} ({cluster.size})")
    ax.set_xlabel("PCA 1 (pooled)")
    ax.set_ylabel("PCA 2 (pooled)")
    ax.set_title("query embeddings: reference vs current; far current queries by cluster", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_distributions(panels: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """One histogram panel per feature: reference vs current (densities, shared bins)."""
    fig = figure(3.4 * max(1, len(panels)), 3.2)
    for i, (name, (ref, cur)) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), i + 1)
        both = np.concatenate([ref, cur])
        bins = np.histogram_bin_edges(both, bins=30) if len(both) else 10
        ax.hist(ref, bins=bins, density=True, alpha=0.5, color="#888888", label="reference")
        ax.hist(cur, bins=bins, density=True, alpha=0.5, color="#4c72b0", label="current")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    return path


def review_queue(explanation: DriftExplanation | None, current: pd.DataFrame, distance: np.ndarray,
                 top1: np.ndarray | None, max_rows: int) -> pd.DataFrame:
    """Far current queries, cluster by cluster (examples first, then farthest first)."""
    rows = []
    n = len(current)
    for number, cluster in enumerate(explanation.clusters if explanation else (), start=1):
        examples = set(cluster.examples)
        members = sorted(cluster.indices, key=lambda i: (str(current["query"].iat[i]) not in examples, -distance[i]))
        for i in members:
            rows.append({"cluster": number, "cluster_size": cluster.size, "cluster_share": cluster.size / n,
                         "is_example": str(current["query"].iat[i]) in examples, "query": current["query"].iat[i],
                         "query_id": current["query_id"].iat[i] if "query_id" in current else None,
                         "timestamp": str(current["when"].iat[i]) if "when" in current else None,
                         "distance_to_reference": float(distance[i]),
                         "top1_score": float(top1[i]) if top1 is not None else None})
    return pd.DataFrame(rows[:max_rows], columns=REVIEW_COLUMNS)


def _blocks(summary: dict[str, Any], tests: pd.DataFrame, explanation: DriftExplanation | None,
            review: pd.DataFrame, plots: tuple[Path, ...]) -> list[Block]:
    verdict = "DRIFT" if summary["drift"] else ("NOT ENOUGH DATA" if summary["status"] == "not_enough_data"
                                                else "NO DRIFT")
    blocks: list[Block] = [
        ("h1", f"nightshift drift — {verdict}"),
        ("p", summary["reason"]),
        ("p", f"MLflow run {summary['run_id']}. Reference {summary['windows']['reference']['range']} "
              f"({summary['n_reference']} queries), current {summary['windows']['current']['range']} "
              f"({summary['n_current']} queries). Decision rule: {summary['decision_rule']}."),
        ("h2", "Tests"),
        ("table", tests),
        ("list", [f"{k}: skipped — {v}" for k, v in summary["skipped"].items()] or ["no test was skipped"]),
    ]
    blocks += [("img", (p.name, p.stem.replace("_", " "))) for p in plots]
    if explanation is not None:
        blocks += [("h2", "What moved"),
                   ("p", f"{explanation.n_far} current queries ({explanation.far_share:.1%}) are farther from the "
                         f"reference than {1 - explanation.expected_share:.0%} of reference queries are from each "
                         f"other (expected without drift: {explanation.expected_share:.0%})."),
                   ("list", [f"cluster {i}: {c.size} queries ({c.share_of_current:.1%} of current), e.g. "
                             + " | ".join(c.examples) for i, c in enumerate(explanation.clusters, start=1)])]
    blocks += [("h2", f"Review queue ({len(review)} rows in review_queue.csv; first 15)"),
               ("table", review.head(15)[["cluster", "query", "distance_to_reference", "top1_score"]])]
    return blocks


def write_report(folder: Path, summary: dict[str, Any], tests: pd.DataFrame, explanation: DriftExplanation | None,
                 review: pd.DataFrame, vectors: tuple[np.ndarray, np.ndarray] | None,
                 panels: dict[str, tuple[np.ndarray, np.ndarray]], seed: int = 0) -> ReportFiles:
    """Write everything a human looks at into ``folder`` (the caller logs it to MLflow)."""
    folder.mkdir(parents=True, exist_ok=True)
    review.to_csv(folder / "review_queue.csv", index=False)
    plots: list[Path] = []
    if vectors is not None and min(len(vectors[0]), len(vectors[1])) >= 2:
        plots.append(plot_projection(*vectors, explanation, folder / "projection.png", seed))
    if panels:
        plots.append(plot_distributions(panels, folder / "distributions.png"))
    blocks = _blocks(summary, tests, explanation, review, tuple(plots))
    (folder / "report.md").write_text(to_markdown(blocks), encoding="utf-8")
    (folder / "report.html").write_text(to_html(blocks, "nightshift drift", folder), encoding="utf-8")
    return ReportFiles(folder, folder / "report.md", folder / "report.html", folder / "review_queue.csv",
                       tuple(plots), len(review))
