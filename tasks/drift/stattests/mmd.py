"""Kernel two-sample test: unbiased MMD² with a Gaussian kernel and a permutation null."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tasks.drift.stattests.base import DriftResult, check_params, decide, register, subsample, validate_pair


def squared_distances(x: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances of the rows of ``x`` (float64, clipped at 0)."""
    x = np.asarray(x, dtype=np.float64)
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.fill_diagonal(d2, 0.0)
    return np.maximum(d2, 0.0)


def median_bandwidth(d2: np.ndarray) -> float:
    """Median heuristic: the median pairwise distance (off-diagonal) of the pooled sample."""
    off = d2[np.triu_indices_from(d2, k=1)]
    med = float(np.sqrt(np.median(off)))
    return med if med > 0 else 1.0


def mmd2_permutations(kernel: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unbiased MMD² for each column of ``labels`` (bool [N, B], True = first sample).

    Vectorised with the pooled kernel ``K`` (diagonal zeroed, ``K0``) and indicator vectors
    ``s`` (first sample) and ``t = 1 - s``: ``xx = sᵀK0s``, ``xy = sᵀK0t = sᵀr - xx`` with
    ``r = K0·1``, ``yy = 1ᵀK0·1 - 2 sᵀr + xx``. One matrix product per batch of permutations.
    """
    k0 = kernel.copy()
    np.fill_diagonal(k0, 0.0)
    r = k0.sum(axis=1)
    total = r.sum()
    s = labels.astype(np.float64)
    n = s.sum(axis=0)
    m = len(s) - n
    xx = np.einsum("ib,ib->b", s, k0 @ s)
    sr = s.T @ r
    xy = sr - xx
    yy = total - 2.0 * sr + xx
    return xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2.0 * xy / (n * m)


@register("mmd")
@dataclass(frozen=True)
class MMDTest:
    """Maximum mean discrepancy test for embeddings (Gretton et al., 2012).

    H0: reference and current rows are drawn from the same distribution.
    Drift: the unbiased MMD² under a Gaussian kernel exceeds what random relabellings of the
    pooled sample produce; p = (1 + #{MMD²_perm >= MMD²_obs}) / (1 + n_permutations).

    The bandwidth (median pairwise distance) is computed on the pooled sample, so it is
    invariant to relabelling and the permutation test stays exact. Each side is first
    subsampled to ``max_samples`` rows (the kernel matrix is ``(n+m)²`` float64).
    ``effect_size`` is ``sqrt(max(MMD², 0))``, in [0, sqrt 2).
    """

    name: ClassVar[str]
    alpha: float = 0.05
    n_permutations: int = 500
    seed: int = 0
    min_samples: int = 20
    max_samples: int | None = 1000
    bandwidth: float | None = None
    threshold: float | None = None
    batch_size: int = 256

    def __post_init__(self) -> None:
        check_params(self.alpha, self.min_samples)
        if self.n_permutations < 1:
            raise ValueError("n_permutations must be >= 1")

    def __call__(self, reference: np.ndarray, current: np.ndarray) -> DriftResult:
        ref, cur = validate_pair(self.name, reference, current, ndim=2,
                                 min_samples=self.min_samples)
        rng = np.random.default_rng(self.seed)
        ref, cur = subsample(ref, self.max_samples, rng), subsample(cur, self.max_samples, rng)
        pooled = np.concatenate([ref, cur]).astype(np.float64)
        d2 = squared_distances(pooled)
        sigma = self.bandwidth or median_bandwidth(d2)
        kernel = np.exp(-d2 / (2.0 * sigma**2))
        labels = np.zeros(len(pooled), dtype=bool)
        labels[: len(ref)] = True
        observed = float(mmd2_permutations(kernel, labels[:, None])[0])
        null = []
        for start in range(0, self.n_permutations, self.batch_size):
            b = min(self.batch_size, self.n_permutations - start)
            perm = rng.permuted(np.tile(labels, (b, 1)), axis=1).T
            null.append(mmd2_permutations(kernel, perm))
        null_arr = np.concatenate(null)
        p = float((1 + np.sum(null_arr >= observed)) / (1 + self.n_permutations))
        effect = float(np.sqrt(max(observed, 0.0)))
        return DriftResult(
            name=self.name, statistic=observed, p_value=p,
            drift=decide(p, self.alpha, effect, self.threshold), effect_size=effect,
            alpha=self.alpha, threshold=self.threshold,
            details={"bandwidth": float(sigma), "n_reference": len(ref), "n_current": len(cur),
                     "null_mean": float(null_arr.mean()),
                     "null_q95": float(np.quantile(null_arr, 0.95)),
                     "n_permutations": self.n_permutations},
        )
