"""PNG plots of the evaluation report (matplotlib's object API: no pyplot global state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tasks.reporting.figures import figure


def plot_deltas(deltas: pd.Series, metric: str, ci: tuple[float, float] | None, path: Path) -> Path:
    """Histogram of per-query Δ (tonight − champion), with the mean and its CI."""
    fig = figure()
    ax = fig.add_subplot(1, 1, 1)
    values = deltas.to_numpy(dtype=float)
    changed = values[values != 0]
    bins = np.linspace(-1, 1, 41)
    ax.hist(changed, bins=bins, color="#4c72b0", edgecolor="white")
    ax.axvline(0, color="black", linewidth=0.8)
    mean = float(values.mean()) if values.size else 0.0
    ax.axvline(mean, color="#c44e52", linewidth=1.5, label=f"mean Δ {mean:+.4f}")
    if ci is not None:
        ax.axvspan(ci[0], ci[1], color="#c44e52", alpha=0.2, label=f"CI [{ci[0]:+.4f}, {ci[1]:+.4f}]")
    ax.set_xlabel(f"per-query Δ {metric} (tonight − champion)")
    ax.set_ylabel("queries")
    ax.set_title(f"{len(values)} queries: {int((values < 0).sum())} worse, {int((values > 0).sum())} better, "
                 f"{int((values == 0).sum())} unchanged (not drawn)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_history(history: pd.DataFrame, metrics: list[str], path: Path) -> Path:
    """Each metric over the last runs (x = run start), failed runs marked with a red x."""
    fig = figure()
    ax = fig.add_subplot(1, 1, 1)
    frame = history.sort_values("start_time")
    x = np.arange(len(frame))
    for metric in metrics:
        if metric in frame:
            ax.plot(x, frame[metric].to_numpy(dtype=float), marker="o", markersize=3, label=metric)
            failed = (frame["status"] == "fail").to_numpy()
            ax.scatter(x[failed], frame[metric].to_numpy(dtype=float)[failed], color="#c44e52", marker="x",
                       s=40, zorder=3)
    labels = [str(t)[:16] for t in frame["start_time"]]
    step = max(1, len(labels) // 8)
    ax.set_xticks(x[::step], labels[::step], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("score")
    ax.set_title(f"last {len(frame)} runs on this golden set (x = gate failed)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path
