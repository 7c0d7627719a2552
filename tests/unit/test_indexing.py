import numpy as np
import pytest

from tasks.indexing import IndexConfig, build_index, choose_index_spec, estimated_mb, search, validate_index


def unit_vectors(n, dim=32, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("n, budget, kind", [(10, None, "flat"), (49_999, None, "flat"), (50_000, None, "ivfsq8"),
                                             (10_000_000, None, "ivfsq8"), (1_000_000, 2000, "ivfsq8"),
                                             (1_000_000, 1500, "ivf")])
def test_auto_rule(n, budget, kind):
    assert choose_index_spec(n, 384, IndexConfig(memory_budget_mb=budget)).kind == kind


def test_size_estimate_matches_the_measured_sizes():
    x = unit_vectors(3000, dim=64)
    for kind in ("flat", "ivf", "ivfsq8"):
        spec = choose_index_spec(len(x), 64, IndexConfig(kind=kind, ivf_nlist=16))
        import faiss

        measured = len(faiss.serialize_index(build_index(x, spec))) / 2**20
        assert estimated_mb(kind, len(x), 64) == pytest.approx(measured, rel=0.1), kind


def test_flat_is_exact_and_validates():
    x = unit_vectors(300)
    index = build_index(x, choose_index_spec(300, 32, IndexConfig()))
    scores, ids = search(index, x[:5], 1)
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]
    check = validate_index(index, x, min_recall=0.99)
    assert check.ok and check.recall_at_10 == 1.0


def test_low_recall_ivf_is_rejected_with_reason():
    x = unit_vectors(2000, dim=64)
    spec = choose_index_spec(2000, 64, IndexConfig(kind="ivf", ivf_nlist=64, ivf_nprobe=1))
    check = validate_index(build_index(x, spec), x, min_recall=0.99, n_queries=100, tune=False)
    assert not check.ok and "index.min_recall_at_10" in check.reason


def test_tuning_raises_nprobe_until_the_recall_target_is_met():
    x = unit_vectors(2000, dim=64)
    spec = choose_index_spec(2000, 64, IndexConfig(kind="ivf", ivf_nlist=64, ivf_nprobe=1))
    index = build_index(x, spec)
    check = validate_index(index, x, min_recall=0.95, n_queries=100)
    assert check.ok and check.recall_at_10 >= 0.96 and check.search_params["nprobe"] > 1
    assert index.nprobe == check.search_params["nprobe"]  # the tuned setting is left on the index


def test_count_mismatch_fails():
    x = unit_vectors(50)
    index = build_index(x[:40], choose_index_spec(40, 32, IndexConfig()))
    check = validate_index(index, x, min_recall=0.9)
    assert not check.ok and "40 vectors but there are 50 chunks" in check.reason
