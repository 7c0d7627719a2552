"""Measuring an index: the local ``evaluate`` modules agree with tasks.scoring on a real run; ANN health's
exact vectors; configs/evaluate.yaml documents every key with its default."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.config.loader import load_config, read_yaml
from tasks.evaluate.config import EvaluateConfig
from tasks.goldenset.load import check_against_corpus, load_golden
from tasks.measure import stored_vectors
from tasks.index_artifact import IndexManifest, LoadedIndex
from tasks.indexing import IndexConfig, build_index, choose_index_spec
from tasks.retrievers import RetrievalConfig, build_retriever
from tasks.scoring import per_query_metrics
from tests.conftest import scifact_records

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "data" / "golden" / "scifact"


def test_evaluate_modules_give_the_same_per_query_numbers_on_a_real_run():
    """BM25 over the first 1,000 SciFact documents, scored against the golden set both ways."""
    from metrics import load_metric

    docs = scifact_records(1000)
    checked = check_against_corpus(load_golden(GOLDEN), [d["_id"] for d in docs])
    ids = [d["_id"] for d in docs]
    retriever = build_retriever(RetrievalConfig(mode="bm25"), chunk_ids=ids, doc_ids=ids,
                                texts=[f"{d['title']} {d['text']}" for d in docs])
    run = retriever.retrieve(checked.queries, 100)
    ours = per_query_metrics(run, checked.qrels, ["ndcg@10", "recall@100", "mrr@10"])
    qids = list(checked.queries)
    for module, k, column in (("ndcg_at_k", 10, "ndcg@10"), ("recall_at_k", 100, "recall@100"),
                              ("mrr_at_k", 10, "mrr@10")):
        out = load_metric(module).compute(predictions=[run[q] for q in qids],
                                          references=[checked.qrels[q] for q in qids], k=k, query_ids=qids)
        theirs = pd.Series(out["per_query"], index=out["query_ids"])
        assert theirs.reindex(ours.index).tolist() == ours[column].tolist()  # exactly equal, per query
        assert out["score"] == pytest.approx(ours[column].mean(), abs=1e-12)
    assert len(ours) == len(checked.qrels) > 20 and 0.3 < ours["ndcg@10"].mean() < 1.0


def loaded_index(kind: str, vectors: np.ndarray, refine: bool = True) -> LoadedIndex:
    spec = choose_index_spec(len(vectors), vectors.shape[1], IndexConfig(kind=kind, ivf_nlist=8, pq_m=8, refine=refine))
    manifest = IndexManifest(embedder={}, embedder_fingerprint="f", dim=vectors.shape[1], index_spec=spec.describe(),
                             index_kind=spec.kind, corpus_fingerprint="c", n_documents=len(vectors),
                             n_chunks=len(vectors))
    chunks = pd.DataFrame({"id": [f"c{i}" for i in range(len(vectors))], "content_hash": [f"h{i}" for i in range(len(vectors))]})
    return LoadedIndex(Path("."), build_index(vectors, spec), chunks, manifest)


@pytest.mark.parametrize("kind, refine, exact", [("hnsw", True, True), ("ivf", True, True), ("ivfpq", False, False),
                                                 ("ivfpq", True, True), ("ivfsq8", False, False)])
def test_ann_health_uses_exact_vectors_when_the_index_can_give_them(kind, refine, exact, tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    loaded = loaded_index(kind, vectors, refine)
    got, source = stored_vectors(loaded)
    assert np.array_equal(got, vectors) == exact and ("approximate" in source) != exact
    from tasks.vector_cache import VectorCache

    with VectorCache(tmp_path / "v.sqlite") as cache:  # the vector cache, when complete, is exact for any kind
        cache.put_many("f", loaded.chunks["content_hash"].tolist(), vectors)
    got, source = stored_vectors(loaded_index(kind, vectors, refine), tmp_path / "v.sqlite")
    assert source == "vector cache" and np.array_equal(got, vectors)


def test_configs_evaluate_yaml_holds_every_key_with_its_default_and_a_comment():
    path = ROOT / "configs" / "evaluate.yaml"
    assert load_config(EvaluateConfig, path) == EvaluateConfig()

    def keys(data: dict, prefix: str = "") -> set[str]:
        out = set()
        for key, value in data.items():
            out.add(prefix + key)
            if isinstance(value, dict) and key != "floors":
                out |= keys(value, f"{prefix}{key}.")
        return out

    model = EvaluateConfig().model_dump()
    assert keys(read_yaml(path)) >= keys({k: v for k, v in model.items()}) - {"gate.floors.ann_recall@10"}
    undocumented = [line for line in path.read_text().splitlines()
                    if re.match(r"^\s*[\w@.]+:", line) and "#" not in line]
    assert undocumented == []
