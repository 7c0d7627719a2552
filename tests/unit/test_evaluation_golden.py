"""Golden sets: loading, GX validation against the corpus, the clear-message cases, and DVC versioning."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tasks.datasets import DatasetError
from tasks.goldenset.load import GoldenSetError, check_against_corpus, load_golden
from tasks.goldenset.versions import snapshot_golden
from tasks.publishing import read_dvc_md5
from tasks.scoring import per_query_metrics
from tests.conftest import SCIFACT

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden" / "scifact"


def write_golden(folder: Path, queries: list[dict], qrels: list[tuple[str, str, int]] | None) -> Path:
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    if qrels is not None:
        lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{g}" for q, d, g in qrels)]
        (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return folder


def scifact_doc_ids() -> set[str]:
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        return {json.loads(line)["_id"] for line in fh}


def test_demo_golden_set_is_scifact_test_and_fully_applies_to_the_scifact_corpus():
    golden = load_golden(GOLDEN)
    assert (golden.key, len(golden.queries), len(golden.rows)) == ("scifact:test", 300, 339)
    assert (GOLDEN / "qrels" / "test.tsv").read_bytes() == (SCIFACT / "qrels" / "test.tsv").read_bytes()
    checked = check_against_corpus(golden, scifact_doc_ids())
    summary = checked.summary
    assert len(checked.qrels) == 300 and summary["n_dangling"] == 0 and summary["gx_success"]
    assert summary["messages"] == [] and load_golden(GOLDEN).content_hash == golden.content_hash


def test_deleted_document_is_reported_and_never_scored_as_a_miss(tmp_path):
    folder = write_golden(tmp_path / "g", [{"_id": "q1", "text": "a"}, {"_id": "q2", "text": "b"},
                                           {"_id": "q3", "text": "c"}, {"_id": "q4", "text": "d"}],
                          [("q1", "d1", 1), ("q1", "gone", 2), ("q2", "gone-too", 1), ("q3", "d3", 0)])
    checked = check_against_corpus(load_golden(folder), {"d1", "d2", "d3"})
    assert checked.qrels == {"q1": {"d1": 1}}  # the deleted document's judgment is dropped, not kept as a miss
    assert [(d["query-id"], d["corpus-id"]) for d in checked.dangling] == [("q1", "gone"), ("q2", "gone-too")]
    assert "is not in the corpus" in checked.dangling[0]["reason"]
    assert checked.unjudged == ["q4"]  # a golden query with no judgment at all
    assert checked.no_relevant == [
        {"query_id": "q2", "reason": "every relevant document is missing from the index"},
        {"query_id": "q3", "reason": "judged, but no document has a grade > 0"}]
    messages = " | ".join(checked.summary["messages"])
    assert "2 qrels point at a document" in messages and "1 queries have no judgment" in messages
    assert not checked.summary["gx_success"]
    # q1 ranks its only remaining relevant document first: a perfect score (the deleted one is no miss)
    scores = per_query_metrics({"q1": {"d1": 0.9, "d2": 0.5}}, checked.qrels, ["ndcg@10", "recall@100"])
    assert scores.loc["q1"].tolist() == [1.0, 1.0]


def test_golden_set_with_nothing_scorable_against_the_index_is_an_error(tmp_path):
    folder = write_golden(tmp_path / "g", [{"_id": "q1", "text": "a"}], [("q1", "elsewhere", 1)])
    with pytest.raises(GoldenSetError, match="none of the 1 golden queries .* can be scored .* 1 qrels point at"):
        check_against_corpus(load_golden(folder), {"d1"})


@pytest.mark.parametrize("queries, qrels, message", [
    ([], [("q1", "d1", 1)], "is empty: .*queries.jsonl holds no queries"),
    ([{"_id": "q1", "text": "a"}], [], "has a header but no judgments"),
    ([{"_id": "q1", "text": "a"}], None, "missing qrels file .*test.tsv"),
    ([{"_id": "q1", "text": "a"}, {"_id": "q1", "text": "b"}], [("q1", "d1", 1)], "duplicate id 'q1'"),
    ([{"_id": "q1", "text": "a"}], [("q1", "d1", 1), ("q1", "d1", 2)], "invalid qrels"),
])
def test_broken_golden_sets_give_clear_messages(tmp_path, queries, qrels, message):
    folder = write_golden(tmp_path / "g", queries, qrels)
    with pytest.raises(DatasetError, match=message):
        check_against_corpus(load_golden(folder), {"d1"})


def test_missing_folder_names_the_layout(tmp_path):
    with pytest.raises(GoldenSetError, match="does not exist; a golden set is <dir>/queries.jsonl"):
        load_golden(tmp_path / "nope")


def test_golden_snapshot_is_dvc_tracked_and_content_addressed(workspace, tmp_path):
    folder = write_golden(tmp_path / "mini", [{"_id": "q1", "text": "a"}], [("q1", "d1", 1)])
    first = snapshot_golden(load_golden(folder), workspace)
    copy = workspace.snapshot_dir / "golden" / "mini"
    assert read_dvc_md5(copy.with_name("mini.dvc")) == first and (copy / "qrels" / "test.tsv").is_file()
    assert any(Path(workspace.dvc_remote_url).rglob("*")), "pushed to the DVC remote"
    assert snapshot_golden(load_golden(folder), workspace) == first  # same content, same version
    write_golden(folder, [{"_id": "q1", "text": "a"}], [("q1", "d1", 2)])
    assert snapshot_golden(load_golden(folder), workspace) != first
