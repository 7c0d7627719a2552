"""``nightshift adopt``: a benchmark candidate as reindex config sections, refused when the reindex cannot build
it, written into configs/reindex.yaml without touching the other sections or their comments."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tasks.benchmark.candidates import expand_grid
from tasks.benchmark.config import BenchmarkConfig
from tasks.config.loader import load_config
from tasks.reindex.adopt import AdoptRefused, adopt, replace_section
from tasks.reindex.config import ReindexConfig

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "configs" / "reindex.yaml").read_text()


def recommendation(*sets: str) -> dict:
    cfg = load_config(BenchmarkConfig, None, list(sets))
    cand = expand_grid(cfg, lambda n: f"emb-{n}", lambda n: "tok", lambda r: "rr")[0]
    return {"candidate": cand.name, "reason": "best", "spec": cand.reindex_spec()}


def test_a_hybrid_per_type_pick_is_adopted_with_a_diff_and_the_rest_kept():
    rec = recommendation("grid.retrieval=[hybrid]", "grid.chunkers=[per_type]")
    result = adopt(rec, TEXT)
    new = yaml.safe_load(result.new_text)
    assert new["retriever"]["mode"] == "hybrid" and new["chunking"]["strategy"] == "per_type"
    assert result.sections == ("retriever", "embedder", "chunking")
    cfg = load_config(ReindexConfig, None, [])  # defaults still load; the adopted file validates too
    assert ReindexConfig.model_validate(new).retriever.mode == "hybrid" != cfg.retriever.mode
    assert "+  mode: hybrid" in result.diff() and "-  mode: dense" in result.diff()
    kept = [line for line in TEXT.splitlines() if line.startswith(("gate:", "notify:", "# nightshift reindex"))]
    assert all(line in result.new_text for line in kept)  # other sections, with their comments
    assert new["index"] == yaml.safe_load(TEXT)["index"]  # the size rule stays unless --with-index


def test_a_truncating_chunker_is_refused_unless_only_the_retriever_is_adopted():
    rec = recommendation("grid.retrieval=[hybrid]")  # the default chunker "whole" truncates at the model limit
    with pytest.raises(AdoptRefused, match="truncates documents.*--retriever-only"):
        adopt(rec, TEXT)
    result = adopt(rec, TEXT, retriever_only=True)
    assert yaml.safe_load(result.new_text)["chunking"] == yaml.safe_load(TEXT)["chunking"]
    assert yaml.safe_load(result.new_text)["retriever"]["mode"] == "hybrid"


def test_unloadable_embedder_and_empty_recommendations_are_refused():
    rec = recommendation("grid.retrieval=[hybrid]", "grid.chunkers=[per_type]")
    rec["spec"]["embedder"] = {"model": "/nonexistent/model"}
    with pytest.raises(AdoptRefused, match="embedder '/nonexistent/model' does not load here"):
        adopt(rec, TEXT)
    with pytest.raises(AdoptRefused, match="no adoptable candidate"):
        adopt({"candidate": None, "reason": "every candidate is over budget", "spec": None}, TEXT)


def test_replace_section_appends_a_missing_section_and_replaces_a_present_one():
    text = "a: 1\nb:\n  x: 2   # note\n\n  y: 3\nc: 4\n"
    assert replace_section(text, "b", {"z": 9}) == "a: 1\nb:\n  z: 9\nc: 4\n"
    assert replace_section("a: 1", "d", [1]) == "a: 1\nd:\n- 1\n"
