"""Report figures (PNG, matplotlib's non-interactive Agg backend): Pareto plot and per-dataset bars."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

MARKERS = {"dense": "o", "bm25": "s", "hybrid": "D"}  # anything reranked: "^"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def pareto_plot(table: pd.DataFrame, metric: str, path: Path, recommended: str | None = None) -> Path:
    """Quality (``metric``) against corpus throughput (docs/s, log scale), one panel per dataset.

    The Pareto front (no candidate is both faster and better) is drawn as a line; the recommended
    candidate is starred.
    """
    plt = _pyplot()
    ok = table[table["status"] == "ok"]
    datasets = list(dict.fromkeys(ok["dataset"])) or ["(no results)"]
    cols = min(3, len(datasets))
    rows = math.ceil(len(datasets) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    candidates = list(dict.fromkeys(ok["candidate"]))
    colours = {c: plt.get_cmap("tab20")(i % 20) for i, c in enumerate(candidates)}
    for ax, dataset in zip(axes.flat, datasets):
        part = ok[ok["dataset"] == dataset]
        for _, row in part.iterrows():
            star = row["candidate"] == recommended
            marker = "*" if star else MARKERS.get(str(row.get("mode", "")), "^")
            ax.scatter(row["docs_per_s"], row[metric], s=220 if star else 60, marker=marker, alpha=0.85,
                       color=colours[row["candidate"]], label=row["candidate"], zorder=3,
                       edgecolors="black" if star else "none")
        front = part[part["pareto"]].sort_values("docs_per_s")
        ax.plot(front["docs_per_s"], front[metric], color="grey", linestyle="--", linewidth=1, zorder=2)
        ax.set_xscale("log")
        ax.set_title(dataset)
        ax.set_xlabel("corpus throughput (docs/s, log)")
        ax.set_ylabel(metric)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(datasets):]:
        ax.axis("off")
    handles = {h.get_label(): h for ax in axes.flat for h in ax.collections}
    fig.suptitle(f"{metric} vs corpus throughput (dashed: Pareto front; star: recommended; "
                 "o dense, s BM25, D hybrid, ^ reranked)", fontsize=10)
    fig.tight_layout()
    fig.legend(list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.0, 0.93),
               fontsize=8, frameon=False)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def dataset_bars(table: pd.DataFrame, metric: str, path: Path) -> Path:
    """Grouped bars: ``metric`` per dataset, one bar per candidate."""
    plt = _pyplot()
    ok = table[table["status"] == "ok"]
    wide = ok.pivot(index="dataset", columns="candidate", values=metric)
    wide = wide.reindex(index=list(dict.fromkeys(ok["dataset"])), columns=list(dict.fromkeys(ok["candidate"])))
    fig, ax = plt.subplots(figsize=(min(18.0, max(6.0, 1.0 + 0.3 * wide.size)), 4.5))
    if wide.size:
        wide.plot.bar(ax=ax, width=0.8, rot=0, colormap="tab20")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1)
    ax.set_title(f"{metric} per dataset")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
