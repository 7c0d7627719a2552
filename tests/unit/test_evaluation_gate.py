"""The nightly gate and the publication gate's decisions on per-query scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.evaluate.champion import Champion
from tasks.evaluate.config import EvaluateConfig, GateConfig
from tasks.evaluate.gate import NO_CHAMPION, apply_gate, floor_failures, outcome_record
from tasks.reindex.publication import PublicationGateConfig, compare_to_current


def frame(ndcg: np.ndarray, mrr: np.ndarray | None = None, start: int = 0) -> pd.DataFrame:
    ids = pd.Index([f"q{i}" for i in range(start, start + len(ndcg))], name="query_id")
    return pd.DataFrame({"ndcg@10": ndcg, "mrr@10": ndcg if mrr is None else mrr}, index=ids)


def champion(per_query: pd.DataFrame) -> Champion:
    return Champion("champ-run", "last passing run", "2026-01-01T00:00:00+00:00", per_query)


def scores(n: int, seed: int) -> np.ndarray:
    return np.clip(np.random.default_rng(seed).beta(2, 1.2, n), 0, 1)


AGG = {"ndcg@10": 0.7, "ann_recall@10": 1.0}


def test_first_run_passes_and_says_it_becomes_the_champion():
    outcome = apply_gate(frame(scores(50, 1)), AGG, None, GateConfig())
    assert outcome.status == "pass" and outcome.reason == "no champion yet; this run becomes the champion"
    assert outcome.reason == NO_CHAMPION and outcome.champion_run_id is None and outcome.evidence == {}
    record = outcome_record(outcome)
    assert record["delta"] == {} and record["p_value"] is None and record["champion_run_id"] is None


def test_identical_scores_pass_with_p_value_one():
    base = frame(scores(300, 2))
    outcome = apply_gate(base.copy(), AGG, champion(base), GateConfig())
    assert outcome.status == "pass" and outcome.primary["p_value"] == 1.0 and outcome.deltas()["ndcg@10"] == 0.0
    assert outcome.n_queries == 300 and "within min_effect" in outcome.reason


def test_a_real_drop_fails_with_delta_ci_p_and_n_in_the_reason():
    base = scores(300, 3)
    worse = np.clip(base - np.random.default_rng(4).uniform(0, 0.12, 300), 0, 1)
    outcome = apply_gate(frame(worse), AGG, champion(frame(base)), GateConfig())
    assert outcome.status == "fail"
    e = outcome.primary
    assert e["delta"] < -0.04 and e["ci_high"] < 0 and e["p_value"] < 0.001 and e["n"] == 300
    for part in ("ndcg@10: significant drop", "Δ -0.0", "95% CI [", "p=", "n=300", "champion champ-run"):
        assert part in outcome.reason
    assert set(outcome.evidence) == {"ndcg@10", "mrr@10"}  # every metric gets evidence; only one decides


def test_a_large_but_noisy_drop_is_not_significant_and_passes():
    base = np.full(12, 0.5)
    noisy = base + np.array([0.4, -0.5, 0.3, -0.45, 0.35, -0.5, 0.4, -0.4, 0.3, -0.45, 0.2, -0.35])  # mean -0.058
    outcome = apply_gate(frame(noisy), AGG, champion(frame(base)), GateConfig())
    assert outcome.primary["delta"] < -0.01 and outcome.primary["p_value"] >= 0.05
    assert outcome.status == "pass" and "not significant" in outcome.reason


def test_a_significant_drop_smaller_than_min_effect_passes():
    base = scores(2000, 7)
    slightly = np.clip(base - 0.005, 0, 1)
    outcome = apply_gate(frame(slightly), AGG, champion(frame(base)), GateConfig(min_effect=0.01))
    assert outcome.primary["p_value"] < 0.001 and outcome.status == "pass" and "within min_effect" in outcome.reason
    strict = apply_gate(frame(slightly), AGG, champion(frame(base)), GateConfig(min_effect=0.0))
    assert strict.status == "fail"


def test_floors_apply_with_or_without_a_champion():
    cfg = GateConfig(floors={"ndcg@10": 0.75, "ann_recall@10": 0.9})
    outcome = apply_gate(frame(scores(20, 8)), {"ndcg@10": 0.7, "ann_recall@10": 0.95}, None, cfg)
    assert outcome.status == "fail" and outcome.reason == NO_CHAMPION + "; floor breached: ndcg@10 0.7000 < floor 0.7500"
    assert floor_failures({"ndcg@10": 0.8}, {"recall@5": 0.5}) == [
        "floor on recall@5 cannot be checked: the run did not measure recall@5"]


def test_a_champion_without_common_queries_is_not_comparable():
    outcome = apply_gate(frame(scores(10, 9)), AGG, champion(frame(scores(10, 9), start=100)), GateConfig())
    assert outcome.status == "pass" and outcome.reason.startswith("no comparable champion (champion run champ-run "
                                                                  "scored none of tonight's 10 queries)")
    assert outcome.n_only_one_side == 20


def test_partially_overlapping_query_sets_are_compared_on_the_intersection():
    base = frame(scores(40, 10))
    tonight = base.iloc[5:].copy()
    outcome = apply_gate(tonight, AGG, champion(base), GateConfig())
    assert outcome.n_queries == 35 and outcome.n_only_one_side == 5 and outcome.primary["n"] == 35


def test_config_rejects_a_gate_metric_that_is_not_scored_and_a_too_shallow_depth():
    with pytest.raises(ValueError, match="gate.metric 'map@10' must be one of metrics"):
        EvaluateConfig(metrics=["ndcg@10"], gate={"metric": "map@10"})
    with pytest.raises(ValueError, match="retrieval.depth 100 is below the deepest metric cutoff 1000"):
        EvaluateConfig(metrics=["ndcg@10", "recall@1000"], retrieval={"depth": 100})
    # without a retrieval variant the index's own spec is used, its depth raised to the deepest cutoff
    assert EvaluateConfig(metrics=["ndcg@10", "recall@1000"]).deepest_cutoff == 1000
    assert EvaluateConfig(gate={"metric": "NDCG@10"}).gate.metric == "ndcg@10"


def test_publication_gate_is_on_by_default_and_skips_when_it_cannot_apply(tmp_path):
    cfg = PublicationGateConfig()
    assert cfg.enabled and cfg.metric == "ndcg@10" and cfg.min_effect > 0 and 0 < cfg.alpha < 1
    assert compare_to_current(tmp_path, tmp_path, PublicationGateConfig(enabled=False)).status == "skipped"
    first = compare_to_current(tmp_path, None, cfg)
    assert first.status == "skipped" and "no current index" in first.reason
    missing = compare_to_current(tmp_path, tmp_path, cfg, golden_dir=tmp_path / "nope")
    assert missing.status == "skipped" and "golden set does not apply" in missing.reason
    assert missing.metrics() == {"gate.n_queries": 0}


def test_publication_gate_skips_when_current_is_unreadable_but_never_hides_a_broken_candidate(tmp_path):
    from tasks.documents import Chunk, Document
    from tasks.index_artifact import IndexCorrupted, IndexManifest, write_index_artifact
    from tasks.indexing import IndexSpec, build_index

    golden = tmp_path / "golden"
    (golden / "qrels").mkdir(parents=True)
    (golden / "queries.jsonl").write_text('{"_id": "q1", "text": "a"}\n')
    (golden / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\n")
    doc = Document.create("d0", "some text")
    chunks = [Chunk.create(doc, 0, "some text", 2, (0, 9))]
    vectors = np.ones((1, 4), dtype=np.float32) / 2
    manifest = IndexManifest(embedder={}, embedder_fingerprint="f", dim=4, index_spec="flat", index_kind="flat",
                             corpus_fingerprint="c", n_documents=1, n_chunks=1)
    for name in ("candidate", "current"):
        write_index_artifact(tmp_path / name, build_index(vectors, IndexSpec("flat", 4, {})), chunks, manifest)
    (tmp_path / "current" / "index.faiss").write_bytes(b"garbage")
    skipped = compare_to_current(tmp_path / "candidate", tmp_path / "current", PublicationGateConfig(), golden)
    assert skipped.status == "skipped" and skipped.reason.startswith("current index cannot be read:")
    (tmp_path / "candidate" / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupted):
        compare_to_current(tmp_path / "candidate", tmp_path / "current", PublicationGateConfig(), golden)
