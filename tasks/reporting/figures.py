"""A matplotlib figure without pyplot's global state (safe in threads and Prefect workers)."""

from __future__ import annotations


def figure(width: float = 7.0, height: float = 3.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig
