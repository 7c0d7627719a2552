"""BEIR loading: real collection (ADI, 82 docs) and synthetic broken folders in tmp_path."""

from __future__ import annotations

import gzip
import json
import logging
import os
from pathlib import Path

import pytest

from tasks.datasets import BeirDataset, DatasetError, as_documents, load_beir

ADI = Path(os.environ.get("NIGHTSHIFT_IR_DATA", "/work/shared/data")) / "adi"
needs_adi = pytest.mark.skipif(not ADI.is_dir(), reason=f"ADI collection not found at {ADI}")

DOCS = [{"_id": "d1", "title": "Cats", "text": "cats purr"},
        {"_id": "d2", "title": "", "text": "dogs bark"},
        {"_id": "d3", "title": "Birds", "text": "birds sing"}]
QUERIES = [{"_id": "q1", "text": "purring"}, {"_id": "q2", "text": "barking"},
           {"_id": "q3", "text": "unjudged"}]
QRELS = [("q1", "d1", "1"), ("q2", "d2", "2"), ("q2", "d3", "0")]


def write_beir(folder: Path, docs=DOCS, queries=QUERIES, qrels=QRELS, split="test",
               gz=False, header="query-id\tcorpus-id\tscore") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    corpus = "".join(json.dumps(d) + "\n" for d in docs).encode()
    if gz:
        (folder / "corpus.jsonl.gz").write_bytes(gzip.compress(corpus, mtime=0))
    else:
        (folder / "corpus.jsonl").write_bytes(corpus)
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    if qrels is not None:
        (folder / "qrels").mkdir(exist_ok=True)
        lines = [header] + ["\t".join(row) for row in qrels]
        (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return folder


@needs_adi
def test_adi_loads_with_its_published_counts():
    ds = load_beir(ADI)
    assert isinstance(ds, BeirDataset)
    assert (ds.name, ds.split) == ("adi", "test")
    assert (len(ds.corpus), len(ds.queries)) == (82, 35)
    assert sum(len(j) for j in ds.qrels.values()) == 170
    assert set(ds.queries) == set(ds.qrels)
    assert ds.stats["dangling_qrels"] == {"count": 0, "examples": []}
    assert len(ds.content_hash) == 64 and ds.content_hash == load_beir(ADI).content_hash
    assert all(v["success"] for v in ds.stats["validation"].values())


def test_only_judged_queries_are_kept_and_grades_are_ints(tmp_path):
    ds = load_beir(write_beir(tmp_path / "toy"))
    assert ds.queries == {"q1": "purring", "q2": "barking"}
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}
    assert all(type(g) is int for j in ds.qrels.values() for g in j.values())
    assert ds.corpus["d2"] == {"title": "", "text": "dogs bark"}
    assert ds.stats["n_queries_total"] == 3 and ds.stats["graded"] is True


def test_dangling_qrels_are_excluded_reported_and_warned(tmp_path, caplog):
    qrels = [*QRELS, ("q1", "ghost-doc", "1"), ("q3", "d9", "1"), ("q-missing", "d1", "1")]
    with caplog.at_level(logging.WARNING, logger="tasks.datasets"):
        ds = load_beir(write_beir(tmp_path / "toy", qrels=qrels))
    dangling = ds.stats["dangling_qrels"]
    assert dangling["count"] == 3
    assert [(e["query-id"], e["corpus-id"]) for e in dangling["examples"]] == [
        ("q1", "ghost-doc"), ("q3", "d9"), ("q-missing", "d1")]
    assert "ghost-doc" in dangling["examples"][0]["reason"]
    assert "q-missing" in dangling["examples"][2]["reason"]
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}  # not scored as misses
    assert "q3" not in ds.queries  # its only qrel dangles
    assert ds.stats["n_qrels"] == 6 and ds.stats["n_qrels_used"] == 3
    assert any("dangling" in r.getMessage() for r in caplog.records)


def test_missing_qrels_file_names_path_and_available_splits(tmp_path):
    folder = write_beir(tmp_path / "toy", split="train")
    with pytest.raises(DatasetError) as err:
        load_beir(folder, split="test")
    assert str(folder / "qrels" / "test.tsv") in str(err.value)
    assert "train" in str(err.value) and "expected BEIR layout" in str(err.value)


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl"])
def test_missing_file_names_path_and_layout(tmp_path, missing):
    folder = write_beir(tmp_path / "toy")
    (folder / missing).unlink()
    with pytest.raises(DatasetError, match="expected BEIR layout") as err:
        load_beir(folder)
    assert missing.split(".")[0] in str(err.value) and str(folder) in str(err.value)


def test_split_without_qrels_is_an_error_naming_the_file(tmp_path):
    folder = write_beir(tmp_path / "toy", qrels=[])
    with pytest.raises(DatasetError, match="no qrels") as err:
        load_beir(folder)
    assert "test.tsv" in str(err.value)


def test_split_whose_qrels_all_dangle_is_an_error(tmp_path):
    folder = write_beir(tmp_path / "toy", qrels=[("q1", "nope", "1")])
    with pytest.raises(DatasetError, match="no usable qrels"):
        load_beir(folder)


@pytest.mark.parametrize("docs, queries, needle", [
    ([*DOCS, {"_id": "d1", "title": "", "text": "again"}], QUERIES, "duplicate id 'd1'"),
    ([*DOCS, {"title": "", "text": "no id"}], QUERIES, "id is missing"),
    (DOCS, [*QUERIES, {"_id": "q2", "text": "again"}], "duplicate id 'q2'"),
    ([*DOCS, {"_id": "d4", "title": "", "text": None}], QUERIES, "'text' must be a string"),
])
def test_invalid_ids_or_texts_raise(tmp_path, docs, queries, needle):
    with pytest.raises(DatasetError, match=needle):
        load_beir(write_beir(tmp_path / "toy", docs=docs, queries=queries))


@pytest.mark.parametrize("qrels, needle", [
    ([*QRELS, ("q1", "d2", "1.5")], "'1.5' is not an integer"),
    ([*QRELS, ("q1", "d2", "yes")], "'yes' is not an integer"),
    ([*QRELS, ("q1", "d1", "0")], "duplicate id"),
    ([*QRELS, ("", "d1", "1")], "missing"),
])
def test_malformed_qrels_raise(tmp_path, qrels, needle):
    with pytest.raises(DatasetError, match=needle):
        load_beir(write_beir(tmp_path / "toy", qrels=qrels))


def test_qrels_header_is_required(tmp_path):
    with pytest.raises(DatasetError, match="header"):
        load_beir(write_beir(tmp_path / "toy", header="q1\td1\t1"))


def test_content_hash_pins_content_not_compression(tmp_path):
    plain = load_beir(write_beir(tmp_path / "plain"), name="x")
    packed = load_beir(write_beir(tmp_path / "packed", gz=True), name="x")
    changed = load_beir(write_beir(tmp_path / "changed", qrels=[*QRELS, ("q1", "d3", "1")]))
    edited = load_beir(write_beir(tmp_path / "edited", docs=[*DOCS[:2], {**DOCS[2], "text": "x"}]))
    assert packed.corpus == plain.corpus
    assert packed.content_hash == plain.content_hash
    assert len({plain.content_hash, changed.content_hash, edited.content_hash}) == 3


def test_as_documents_feeds_the_chunkers(tmp_path):
    docs = as_documents(load_beir(write_beir(tmp_path / "toy")))
    assert [d.id for d in docs] == ["d1", "d2", "d3"]
    assert {d.doc_type for d in docs} == {"record"}
    assert (docs[0].title, docs[0].text) == ("Cats", "cats purr")
    assert len({d.content_hash for d in docs}) == 3
