"""Benchmark config and grid: MTEB defaults, registries, clear key errors, candidate fingerprints and dedupe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.benchmark.candidates import expand_grid
from tasks.benchmark.config import BenchmarkConfig, RerankerConfig
from tasks.config.loader import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def config(*overrides: str) -> BenchmarkConfig:
    return load_config(BenchmarkConfig, None, list(overrides))


def expand(cfg: BenchmarkConfig, tokenizers: dict[str, str] | None = None):
    """Fingerprints stand in for the model files: one per embedder name, tokenizers as given."""
    tokenizers = tokenizers or {}
    return expand_grid(cfg, lambda name: f"emb-{name}", lambda name: tokenizers.get(name, "minilm-tok"),
                       lambda rr: f"rr-{rr.model}-{rr.top_k}")


def test_shipped_yaml_is_the_mteb_protocol_default():
    shipped = load_config(BenchmarkConfig, ROOT / "configs" / "benchmark.yaml")
    assert shipped == BenchmarkConfig()
    [cand] = expand(shipped)
    assert cand.name == "all-MiniLM-L6-v2/whole/flat/dense"
    assert (cand.chunking.strategy, cand.chunking.truncate, cand.chunking.include_title) == ("whole", True, True)
    assert cand.index.kind == "flat" and cand.retrieval.mode == "dense" and cand.reranker is None
    assert cand.embedder.model == "all-MiniLM-L6-v2" and cand.embedder.backend == "torch"


def test_bm25_is_one_candidate_whatever_the_embedders_and_indexes():
    cfg = config("grid.embedders=[all-MiniLM-L6-v2,all-MiniLM-L6-v2-int8-onnx]", "grid.indexes=[flat,hnsw]",
                 "grid.retrieval=[dense,bm25,hybrid]")
    names = [c.name for c in expand(cfg)]
    assert names.count("whole/bm25") == 1
    assert len(names) == len(set(names)) == 2 * 2 * 2 + 1
    # Different tokenizers size the chunks differently: then BM25 runs once per tokenizer.
    split = expand(cfg, {"all-MiniLM-L6-v2-int8-onnx": "other-tok"})
    assert sorted(c.name for c in split if c.retrieval.mode == "bm25") == [
        "whole/bm25@all-MiniLM-L6-v2", "whole/bm25@all-MiniLM-L6-v2-int8-onnx"]


def test_fingerprint_covers_every_axis_the_candidate_uses():
    base = {c.name: c.fingerprint for c in expand(config("grid.retrieval=[dense,bm25]"))}
    assert base == {c.name: c.fingerprint for c in expand(config("grid.retrieval=[dense,bm25]"))}
    changed = {c.name: c.fingerprint for c in expand(config("grid.retrieval=[dense,bm25]", "registry.chunkers.whole.include_title=false"))}
    assert all(changed[n] != base[n] for n in base)
    hnsw = {c.name: c.fingerprint for c in expand(config("grid.retrieval=[dense,bm25]", "registry.indexes.flat.kind=hnsw"))}
    assert hnsw["all-MiniLM-L6-v2/whole/flat/dense"] != base["all-MiniLM-L6-v2/whole/flat/dense"]
    assert hnsw["whole/bm25"] == base["whole/bm25"]  # BM25 uses no FAISS index
    k1 = {c.name: c.fingerprint for c in expand(config("grid.retrieval=[dense,bm25]", "registry.retrieval.bm25.bm25.k1=1.2"))}
    assert k1["whole/bm25"] != base["whole/bm25"]
    assert k1["all-MiniLM-L6-v2/whole/flat/dense"] == base["all-MiniLM-L6-v2/whole/flat/dense"]


def test_rerankers_multiply_the_grid_and_enter_the_fingerprint():
    cfg = config("registry.rerankers.ce.model=/models/ce", "grid.rerankers=[none,ce]")
    cands = expand(cfg)
    assert [c.name for c in cands] == ["all-MiniLM-L6-v2/whole/flat/dense", "all-MiniLM-L6-v2/whole/flat/dense+ce"]
    assert cands[1].reranker == RerankerConfig(model="/models/ce")
    assert cands[0].fingerprint != cands[1].fingerprint
    assert cands[1].params()["reranker"]["name"] == "ce"


def test_registry_entries_merge_with_builtins_and_name_the_model():
    cfg = config("registry.chunkers.whole.include_title=false", "registry.embedders.my-model.batch_size=8",
                 "registry.embedders.all-MiniLM-L6-v2-int8-onnx.batch_size=4")
    whole = cfg.registry.chunkers["whole"]
    assert (whole.strategy, whole.truncate, whole.include_title) == ("whole", True, False)
    assert set(cfg.registry.indexes) == {"flat", "hnsw", "ivf", "ivfsq8", "ivfpq"}
    assert cfg.registry.embedders["my-model"].model == "my-model"
    from tasks.benchmark.candidates import embedder_config

    onnx = embedder_config(cfg, "all-MiniLM-L6-v2-int8-onnx")  # the preset, with the one key changed
    assert (onnx.backend, onnx.batch_size, onnx.tokenizer) == ("onnx", 4, "all-MiniLM-L6-v2")
    assert embedder_config(cfg, "/some/local/folder").model == "/some/local/folder"


@pytest.mark.parametrize("override, message", [
    ("grid.retrieval=[dense,bm26]", "grid.retrieval: unknown name(s) ['bm26']"),
    ("grid.rerankers=[ce]", "unknown name(s) ['ce']"),
    ("measure.latency_querys=5", "measure.latency_querys: unknown key (did you mean 'latency_queries'?)"),
    ("budget.metric=ndcg@5", "budget.metric 'ndcg@5' must be one of measure.metrics"),
    ("measure.metrics=[ndcg@x]", "unknown metric 'ndcg@x'"),
    ("registry.rerankers.ce.top_k=3", "registry.rerankers.ce.model: Field required"),
    ("datasets=[]", "datasets: List should have at least 1 item"),
])
def test_bad_keys_and_names_are_clear_errors(override, message):
    with pytest.raises(ConfigError) as err:
        config(override)
    assert message in str(err.value)


def test_cli_options_become_overrides():
    from nightshift.cli.benchmark import overrides_for

    cfg = config(*overrides_for(["data/a", "/abs/b"], ["all-MiniLM-L6-v2-int8-onnx"], ["grid.indexes=[hnsw]"], True))
    assert [d.path for d in cfg.datasets] == ["data/a", "/abs/b"] and cfg.datasets[0].split == "test"
    assert cfg.grid.embedders == ["all-MiniLM-L6-v2-int8-onnx"] and cfg.grid.indexes == ["hnsw"]
    assert cfg.force is True
