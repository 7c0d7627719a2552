"""What drifted: current queries far from the reference, clustered, with example texts.

Descriptive, not a test: even without drift about ``1 - quantile`` (5%) of current queries
are "far" by construction, so compare ``far_share`` with ``expected_share`` before reading
the clusters, and use the tests in this package for the yes/no decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from tasks.drift.stattests.base import validate_pair
from tasks.neighbors import nearest_neighbor_distance


@dataclass(frozen=True)
class DriftCluster:
    """A group of far-from-reference current queries; ``examples`` are closest to its centroid."""

    size: int
    share_of_current: float
    mean_distance: float
    examples: tuple[str, ...]
    indices: tuple[int, ...]


@dataclass(frozen=True)
class DriftExplanation:
    """Far-query summary: ``threshold`` is the reference's LOO NN-distance quantile."""

    threshold: float
    n_far: int
    far_share: float
    expected_share: float
    silhouette: float | None
    clusters: tuple[DriftCluster, ...]
    # per current query: cosine distance to the nearest reference query; per reference query: to its nearest other
    distance: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    reference_distance: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)


def choose_k(points: np.ndarray, max_clusters: int, min_silhouette: float,
             seed: int) -> tuple[np.ndarray, float | None]:
    """KMeans labels for the k in 2..max_clusters with the best silhouette (cosine).

    One cluster (labels all 0, silhouette None) when there are too few points or no split
    reaches ``min_silhouette``: a single new topic should not be cut in two.
    """
    best_labels, best_score = np.zeros(len(points), dtype=np.int64), None
    for k in range(2, min(max_clusters, len(points) - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(points)
        score = float(silhouette_score(points, labels, metric="cosine"))
        if score >= min_silhouette and (best_score is None or score > best_score):
            best_labels, best_score = labels, score
    return best_labels, best_score


def explain_drift(reference: np.ndarray, current: np.ndarray, texts: Sequence[str], *,
                  quantile: float = 0.95, max_clusters: int = 5, n_examples: int = 3,
                  min_silhouette: float = 0.15, min_points: int = 6, seed: int = 0,
                  ) -> DriftExplanation:
    """Cluster the current queries that are farther from the reference than usual.

    "Far": the cosine distance to the nearest reference query exceeds the ``quantile`` of the
    reference's own leave-one-out nearest-neighbour distances. Far points are clustered with
    KMeans (fixed ``seed``; k by silhouette, see ``choose_k``); clusters come largest first,
    each with the ``n_examples`` texts closest to its centroid.
    """
    ref, cur = validate_pair("explain_drift", reference, current, ndim=2, min_samples=2)
    if len(texts) != len(cur):
        raise ValueError(f"texts has {len(texts)} items but current has {len(cur)} rows")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    ref_dist = nearest_neighbor_distance(ref, ref, exclude_self=True)
    threshold = float(np.quantile(ref_dist, quantile))
    dist = nearest_neighbor_distance(cur, ref)
    far = np.flatnonzero(dist > threshold)
    clusters: list[DriftCluster] = []
    silhouette = None
    if len(far):
        points = cur[far].astype(np.float64)
        points = points / np.linalg.norm(points, axis=1, keepdims=True)
        if len(far) >= min_points:
            labels, silhouette = choose_k(points, max_clusters, min_silhouette, seed)
        else:
            labels = np.zeros(len(far), dtype=np.int64)
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            centroid = points[members].mean(axis=0)
            closeness = points[members] @ (centroid / np.linalg.norm(centroid))
            top = members[np.argsort(-closeness, kind="stable")[:n_examples]]
            clusters.append(DriftCluster(
                size=len(members), share_of_current=len(members) / len(cur),
                mean_distance=float(dist[far[members]].mean()),
                examples=tuple(str(texts[far[i]]) for i in top),
                indices=tuple(int(far[i]) for i in members)))
    clusters.sort(key=lambda c: (-c.size, c.indices[0]))
    return DriftExplanation(threshold=threshold, n_far=len(far), far_share=len(far) / len(cur),
                            expected_share=1.0 - quantile, silhouette=silhouette,
                            clusters=tuple(clusters), distance=dist, reference_distance=ref_dist)


def project_2d(reference: np.ndarray, current: np.ndarray, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """2-D PCA coordinates of both windows for a scatter plot.

    Axes are fitted on the pooled sample, so a region present only in current can show up
    (axes fitted on the reference alone can project a new topic onto the reference's bulk).
    """
    ref, cur = validate_pair("project_2d", reference, current, ndim=2, min_samples=2)
    pca = PCA(n_components=2, random_state=seed).fit(np.concatenate([ref, cur]).astype(np.float64))
    return pca.transform(ref.astype(np.float64)), pca.transform(cur.astype(np.float64))
