"""Which log queries a person judges: unique, not near-duplicates, a stratified sample so rare topics are in.

1. ``unique_queries``: exact duplicates (same text after case/space folding) collapse into one, with a count.
2. ``near_duplicates``: by embedding (cosine >= ``dedup_threshold`` among each query's nearest
   ``dedup_neighbors``), greedily, most frequent first: the kept query stands for its near-duplicates.
3. ``strata``: the drift flow's way of finding topics (KMeans over the query embeddings, k by
   silhouette on cosine; ``tasks.drift.explain``) crossed with the evaluation's query segments
   (length bucket, Unicode script; ``tasks.segments``).
4. ``allocate``: every stratum gets ``min_per_stratum`` first (a rare topic is never sampled away), the
   rest proportionally to the stratum's size (largest remainders); each stratum is sampled uniformly.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from tasks.documents import sha256_text


def fold(text: str) -> str:
    return " ".join(str(text).lower().split())


def query_id(text: str) -> str:
    """Stable golden query id: the same query text always gets the same id."""
    return "q" + sha256_text(fold(text))[:12]


def unique_queries(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per folded text: ``query_id``, ``query`` (first spelling), ``count``, ``log_query_id`` (first)."""
    texts = [str(t) for t in frame["query"]]
    log_ids = frame["query_id"].tolist() if "query_id" in frame else [None] * len(texts)
    rows: dict[str, dict[str, Any]] = {}
    for text, log_id in zip(texts, log_ids):
        key = fold(text)
        if not key:
            continue
        row = rows.setdefault(key, {"query_id": query_id(text), "query": text.strip(), "count": 0,
                                    "log_query_id": log_id if isinstance(log_id, str) else ""})
        row["count"] += 1
    return pd.DataFrame(list(rows.values()), columns=["query_id", "query", "count", "log_query_id"])


def near_duplicates(vectors: np.ndarray, counts: np.ndarray, threshold: float, neighbors: int = 10) -> np.ndarray:
    """Mask of the queries kept: a query is dropped when a kept, more frequent one is within ``threshold``."""
    import faiss

    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=bool)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    sims, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(neighbors + 1, n))
    order = np.lexsort((np.arange(n), -counts))  # most frequent first, then log order
    kept = np.zeros(n, dtype=bool)
    for i in order:
        close = ids[i][(sims[i] >= threshold) & (ids[i] != i) & (ids[i] >= 0)]
        if not kept[close].any():
            kept[i] = True
    return kept


def topic_clusters(vectors: np.ndarray, max_clusters: int, seed: int, sample: int = 2000) -> np.ndarray:
    """KMeans labels, k in 2..max_clusters with the best cosine silhouette (on at most ``sample`` points)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    if n < 4 or max_clusters < 2:
        return np.zeros(n, dtype=np.int64)
    best, best_score = np.zeros(n, dtype=np.int64), None
    for k in range(2, min(max_clusters, n - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(vectors)
        score = float(silhouette_score(vectors, labels, metric="cosine", sample_size=min(sample, n),
                                       random_state=seed))
        if best_score is None or score > best_score:
            best, best_score = labels, score
    return best


def strata(texts: list[str], clusters: np.ndarray, buckets: list[int], script: bool) -> list[str]:
    from tasks.segments import length_bucket, script_of

    out = []
    for text, cluster in zip(texts, clusters):
        parts = [f"topic{int(cluster)}"]
        if buckets:
            parts.append(f"len{length_bucket(text, buckets)}")
        if script:
            parts.append(script_of(text).removeprefix("script:"))
        out.append("/".join(parts))
    return out


def allocate(sizes: dict[str, int], n: int, minimum: int) -> dict[str, int]:
    """Queries per stratum: ``minimum`` each (smallest strata first if ``n`` cannot cover them all), then
    the rest proportionally to size by largest remainders, never more than a stratum holds."""
    total = sum(sizes.values())
    n = min(n, total)
    take = {s: 0 for s in sizes}
    for s in sorted(sizes, key=lambda s: (sizes[s], s)):
        give = min(minimum, sizes[s], n - sum(take.values()))
        take[s] = max(give, 0)
    while sum(take.values()) < n:
        left = n - sum(take.values())
        room = {s: sizes[s] - take[s] for s in sizes if sizes[s] > take[s]}
        weight = sum(room.values())
        quota = {s: left * room[s] / weight for s in room}
        base = {s: min(int(q), room[s]) for s, q in quota.items()}
        if sum(base.values()) == 0:  # fewer left than strata with room: the largest remainders get one each
            for s in sorted(room, key=lambda s: (-(quota[s] - int(quota[s])), s))[:left]:
                take[s] += 1
            break
        for s, b in base.items():
            take[s] += b
    return take


def stratified_sample(labels: list[str], n: int, minimum: int, seed: int) -> np.ndarray:
    """Positions sampled per ``allocate``; sorted."""
    rng = np.random.default_rng(seed)
    members: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    take = allocate({s: len(m) for s, m in members.items()}, n, minimum)
    chosen = [int(i) for s in sorted(members) for i in rng.choice(members[s], take[s], replace=False)]
    return np.array(sorted(chosen), dtype=np.int64)


def describe(labels: list[str], chosen: np.ndarray) -> dict[str, dict[str, int]]:
    """Per stratum: unique queries in the log, sampled."""
    sizes, picked = Counter(labels), Counter(labels[i] for i in chosen)
    return {s: {"n_log": sizes[s], "n_sampled": picked.get(s, 0)} for s in sorted(sizes)}
