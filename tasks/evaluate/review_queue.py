"""The review queue: the queries a human should look at after tonight's run (one CSV).

Two kinds of rows: ``regressed`` — the ``top_n`` queries whose gate metric dropped most against the
champion (Δ < 0 only); ``zero_relevant@k`` — every query with no relevant document in its top k.
Each row carries the query text, its relevant documents and what was retrieved instead.
"""

from __future__ import annotations

import pandas as pd

from tasks.scoring import rank_documents

COLUMNS = ["reason", "query_id", "query", "score", "champion_score", "delta", "n_relevant",
           "first_relevant_rank", "relevant_doc_ids", "top_doc_ids"]


def _row(reason: str, qid: str, queries: dict[str, str], per_query: pd.DataFrame, metric: str,
         champion: pd.Series | None, run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]],
         depth: int) -> dict:
    relevant = sorted(d for d, g in qrels.get(qid, {}).items() if g > 0)
    ranking = rank_documents(run.get(qid, {}), depth)
    first = next((i + 1 for i, d in enumerate(ranking) if d in relevant), None)
    old = float(champion[qid]) if champion is not None and qid in champion.index else None
    now = float(per_query.at[qid, metric])
    return {"reason": reason, "query_id": qid, "query": queries.get(qid, ""), "score": now,
            "champion_score": old, "delta": None if old is None else now - old, "n_relevant": len(relevant),
            "first_relevant_rank": first, "relevant_doc_ids": " ".join(relevant),
            "top_doc_ids": " ".join(ranking[:5])}


def review_queue(per_query: pd.DataFrame, metric: str, run: dict[str, dict[str, float]],
                 qrels: dict[str, dict[str, int]], queries: dict[str, str], champion: pd.Series | None,
                 top_n: int = 25, k: int = 10) -> pd.DataFrame:
    """Most-regressed queries first (most negative Δ), then queries with zero relevant in the top k."""
    rows = []
    if champion is not None:
        common = per_query.index.intersection(champion.index)
        deltas = (per_query.loc[common, metric] - champion.loc[common]).sort_values(kind="stable")
        for qid in deltas[deltas < 0].index[:top_n]:
            rows.append(_row("regressed", qid, queries, per_query, metric, champion, run, qrels, max(k, 100)))
    for qid in per_query.index:
        top = set(rank_documents(run.get(qid, {}), k))
        if not any(qrels.get(qid, {}).get(d, 0) > 0 for d in top):
            rows.append(_row(f"zero_relevant@{k}", qid, queries, per_query, metric, champion, run, qrels,
                             max(k, 100)))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"n_relevant": "Int64", "first_relevant_rank": "Int64"})
