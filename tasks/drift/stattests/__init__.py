"""Statistical core of the drift flow: two-sample tests as small registered callables.

Importing the package registers every test::

    from tasks.drift.stattests import available_tests, get_test, combine
    result = get_test("mmd", alpha=0.01, seed=7)(reference_embeddings, current_embeddings)

Modules: ``base`` (result, validation, registry), one module per test family (``mmd``,
``classifier``, ``pca_ks``, ``psi``, ``categorical``, ``confidence``, ``staleness``),
``combine`` (Holm-Bonferroni decision) and ``explain`` (what moved, for the report).
"""

from tasks.drift.stattests import categorical, classifier, confidence, mmd, pca_ks, proportion, psi, staleness
from tasks.drift.stattests.base import (
    DriftResult,
    DriftTest,
    NotEnoughData,
    available_tests,
    get_test,
    register,
    run_tests,
)
from tasks.drift.stattests.combine import DriftDecision, combine, holm_adjust
from tasks.neighbors import nearest_neighbor_distance

__all__ = [
    "DriftDecision", "DriftResult", "DriftTest", "NotEnoughData", "available_tests", "combine",
    "get_test", "holm_adjust", "nearest_neighbor_distance", "register", "run_tests",
    "categorical", "classifier", "confidence", "mmd", "pca_ks", "proportion", "psi", "staleness",
]
