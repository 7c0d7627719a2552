"""Task arguments Prefect should not walk: large collections passed between a flow's tasks."""

from __future__ import annotations

from typing import Any


def unwalked(prefect_task: Any) -> Any:
    """Call ``prefect_task`` with its arguments ``quote``d: Prefect then does not walk them looking for
    upstream futures. It walks every element of a list of dataclasses, and the documents and chunks of
    a run are one each: 6.7 s per call for 100k chunks measured here, about 55% of a 100k-document
    reindex before this (benchmarks/large_reindex.py: 149.5 -> 67.6 s). The task still receives the plain values."""
    from prefect.utilities.annotations import quote

    def call(*args: Any, **kwargs: Any) -> Any:
        return prefect_task(*map(quote, args), **{k: quote(v) for k, v in kwargs.items()})

    call.fn = prefect_task.fn
    return call
