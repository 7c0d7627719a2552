"""Great Expectations suites with row-level quarantine (real GX, ephemeral context, small data)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.documents import Chunk, Document, Quarantined
from tasks.validation import (
    DocumentRules,
    QuarantineLimitExceeded,
    enforce_quarantine_limit,
    read_quarantine,
    validate_chunks,
    validate_documents,
    validate_vectors,
    write_quarantine,
)
from tasks.validation.suite import Check, run_checks

GOOD_TEXT = "Aspirin reduces the risk of heart attack.\n\tIt is a\fcommon drug."


def good_docs(n: int = 4) -> list[Document]:
    return [Document.create(f"doc-{i}", f"{GOOD_TEXT} #{i}", title=f"T{i}", doc_type="markdown",
                            metadata={"source": f"data/samples/{i}.md"}) for i in range(n)]


def only_quarantined(bad: Document, rules: DocumentRules | None = None) -> Quarantined:
    """Validate good docs around ``bad``; exactly ``bad`` is quarantined. Returns its record."""
    docs = good_docs(2) + [bad] + good_docs(4)[2:]
    outcome = validate_documents(docs, rules or DocumentRules())
    assert [d.id for d in outcome.valid] == ["doc-0", "doc-1", "doc-2", "doc-3"]
    assert len(outcome.quarantined) == 1
    record = outcome.quarantined[0]
    assert record.stage == "document" and record.detail == "row 2 of 5"
    return record


def test_good_documents_pass_every_expectation():
    docs = good_docs()
    outcome = validate_documents(docs, DocumentRules())
    assert outcome.valid == docs and outcome.quarantined == []
    summary = outcome.summary
    assert summary["success"] is True
    assert (summary["n_rows"], summary["n_valid"], summary["n_quarantined"]) == (4, 4, 0)
    assert len(summary["expectations"]) == 9
    assert all(e["success"] and e["unexpected_count"] == 0 for e in summary["expectations"])


@pytest.mark.parametrize("bad, rules, expected", [
    (Document("empty", "", doc_type="text"), None,
     ["expect_column_values_to_be_between(n_chars_stripped): document text is empty or "
      "whitespace only (0 characters, 0 after strip)",
      "expect_column_values_to_be_between(n_chars): text has 0 characters; allowed 1..2,000,000"]),
    (Document("blank", " \n\t  "), None,
     ["expect_column_values_to_be_between(n_chars_stripped): document text is empty or "
      "whitespace only (5 characters, 0 after strip)"]),
    (Document("none", None), None,
     ["expect_column_values_to_not_be_null(n_chars): document text is missing (got None)"]),
    (Document("long", "x" * 101), DocumentRules(max_chars=100),
     ["expect_column_values_to_be_between(n_chars): text has 101 characters; allowed 1..100"]),
    (Document("short", "tiny"), DocumentRules(min_chars=5),
     ["expect_column_values_to_be_between(n_chars): text has 4 characters; allowed 5..2,000,000"]),
    (Document("xls", "a table", doc_type="spreadsheet"), None,
     ["expect_column_values_to_be_in_set(doc_type): doc_type 'spreadsheet' is not one of "
      "markdown, text, html, pdf, code, record"]),
    (Document("notype", "some text", doc_type=None), None,
     ["expect_column_values_to_not_be_null(doc_type): doc_type is missing (got None)"]),
    (Document("fffd", "caf\ufffd cr\ufffd\ufffdme"), None,
     ["expect_column_values_to_be_between(n_replacement_chars): text has 3 U+FFFD replacement "
      "characters (bytes that did not decode); allowed 0"]),
    (Document("ctrl", "ab\x00\x01cd\x85efghij\x7f"), None,  # C0, C1 and DEL: 4 of 14
     ["expect_column_values_to_be_between(control_char_share): 28.6% of the text is control "
      "characters (4 of 14); allowed 1.0%"]),
    (Document(None, "orphan"), None,
     ["expect_column_values_to_not_be_null(id): document id is missing or empty (got None)"]),
    (Document("  ", "blank id"), None,
     ["expect_column_values_to_not_be_null(id): document id is missing or empty (got '  ')"]),
])
def test_each_kind_of_bad_document_is_quarantined_with_its_reason(bad, rules, expected):
    record = only_quarantined(bad, rules)
    assert record.reason == "; ".join(expected)
    assert record.id == ("" if bad.id is None or not bad.id.strip() else bad.id)


def test_a_few_control_characters_in_a_long_text_stay_under_the_share_limit():
    text = "x" * 990 + "\x00" * 10  # exactly 1.0%, allowed; tabs/newlines/form feeds never count
    outcome = validate_documents([Document("ok", text), Document("over", text + "\x00")])
    assert [d.id for d in outcome.valid] == ["ok"]
    assert [q.id for q in outcome.quarantined] == ["over"]


def test_duplicate_ids_keep_the_first_occurrence_and_quarantine_the_later_ones():
    first = Document.create("dup", "first", metadata={"source": "a.md"})
    second = Document.create("dup", "second", metadata={"source": "b.md"})
    third = Document.create("dup", "third", metadata={"source": "c.md"})
    outcome = validate_documents([first, Document.create("x", "other"), second, third])
    assert [d.text for d in outcome.valid] == ["first", "other"]
    assert [(q.id, q.source, q.detail) for q in outcome.quarantined] == [
        ("dup", "b.md", "row 2 of 4"), ("dup", "c.md", "row 3 of 4")]
    assert outcome.quarantined[0].reason == (
        "expect_column_values_to_be_unique(id): duplicate id 'dup'; the first occurrence (row 0) "
        "is kept")
    unique = next(e for e in outcome.summary["expectations"]
                  if e["expectation"] == "expect_column_values_to_be_unique")
    assert (unique["success"], unique["unexpected_count"], unique["n_quarantined"]) == (False, 3, 2)


def test_a_row_failing_several_expectations_is_one_record_with_every_reason():
    outcome = validate_documents(good_docs(1) + [Document("doc-0", "\ufffd" * 3, doc_type="xls")])
    assert len(outcome.quarantined) == 1 and outcome.summary["n_quarantined"] == 1
    reason = outcome.quarantined[0].reason
    for name in ("expect_column_values_to_be_unique(id)", "expect_column_values_to_be_in_set",
                 "expect_column_values_to_be_between(n_replacement_chars)"):
        assert name in reason


def test_summary_is_json_serialisable_and_counts_agree(tmp_path):
    docs = good_docs(3) + [Document("bad", "")]
    summary = validate_documents(docs, DocumentRules()).summary
    assert json.loads(json.dumps(summary)) == summary
    assert summary["suite"] == "nightshift.documents" and summary["stage"] == "document"
    assert summary["gx_version"] == importlib.metadata.version("great_expectations")
    assert (summary["n_rows"], summary["n_valid"], summary["n_quarantined"]) == (4, 3, 1)
    assert summary["success"] is False and 0 < summary["seconds"] < 60
    between = [e for e in summary["expectations"] if e["column"] == "n_chars"
               and e["expectation"] == "expect_column_values_to_be_between"]
    assert between == [{"expectation": "expect_column_values_to_be_between", "column": "n_chars",
                        "kwargs": {"min_value": 1, "max_value": 2_000_000}, "success": False,
                        "unexpected_count": 1, "n_quarantined": 1}]


def test_validation_draws_no_progress_bars(capfd):
    validate_documents(good_docs(), DocumentRules())
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in out + err


def test_empty_input_validates_to_an_empty_outcome():
    outcome = validate_documents([], DocumentRules())
    assert outcome.valid == [] and outcome.quarantined == []
    assert outcome.summary["n_rows"] == 0 and outcome.summary["success"] is True


def test_document_rules_reject_inverted_bounds():
    with pytest.raises(ValueError, match="min_chars 10 > max_chars 5"):
        DocumentRules(min_chars=10, max_chars=5)


def make_chunks(n_tokens: list) -> list[Chunk]:
    doc = good_docs(1)[0]
    return [Chunk.create(doc, i, f"chunk {i}", n, (0, 7)) for i, n in enumerate(n_tokens)]


def test_chunks_over_the_token_limit_never_pass():
    chunks = make_chunks([1, 256, 257, 10_000, 0, None])
    outcome = validate_chunks(chunks, max_tokens=256)
    assert [c.n_tokens for c in outcome.valid] == [1, 256]
    reasons = {q.id: q.reason for q in outcome.quarantined}
    assert reasons["doc-0#2"] == ("expect_column_values_to_be_between(n_tokens): chunk has 257 "
                                  "tokens; the embedder allows 1..256")
    assert "chunk has 10000 tokens" in reasons["doc-0#3"]
    assert "chunk has 0 tokens" in reasons["doc-0#4"]
    assert reasons["doc-0#5"] == ("expect_column_values_to_not_be_null(n_tokens): n_tokens is "
                                  "missing or not a number (got None)")
    assert {q.stage for q in outcome.quarantined} == {"chunk"}
    assert {q.source for q in outcome.quarantined} == {"data/samples/0.md"}


def test_chunks_without_text_doc_id_or_unique_id_are_quarantined():
    ok, blank, orphan, dup = make_chunks([5, 5, 5, 5])
    blank = Chunk(blank.id, blank.doc_id, 1, "   ", 5, (0, 3))
    orphan = Chunk(orphan.id, "", 2, "text", 5, (0, 4))
    dup = Chunk(ok.id, ok.doc_id, 3, "again", 5, (0, 5))
    outcome = validate_chunks([ok, blank, orphan, dup], max_tokens=8)
    assert outcome.valid == [ok]
    reasons = [q.reason for q in outcome.quarantined]
    assert "chunk text is empty or whitespace only (3 characters, 0 after strip)" in reasons[0]
    assert reasons[1] == ("expect_column_values_to_not_be_null(doc_id): doc_id is missing or "
                          "empty (got '')")
    assert reasons[2].startswith("expect_column_values_to_be_unique(id): duplicate id 'doc-0#0'")
    assert outcome.summary["suite"] == "nightshift.chunks"


def test_chunk_limit_must_be_a_positive_int():
    with pytest.raises(ValueError, match="max_tokens"):
        validate_chunks(make_chunks([1]), max_tokens=0)


def unit_vectors(n: int, dim: int = 8) -> np.ndarray:
    vectors = np.random.default_rng(7).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_normalised_float32_vectors_pass():
    outcome = validate_vectors(["a", "b", "c"], unit_vectors(3), dim=8)
    assert outcome.valid == ["a", "b", "c"] and outcome.mask.tolist() == [True] * 3
    assert outcome.quarantined == [] and outcome.summary["success"] is True
    assert json.loads(json.dumps(outcome.summary)) == outcome.summary


def test_nan_inf_zero_and_unnormalised_vectors_are_rejected():
    vectors = unit_vectors(6)
    vectors[1, 3] = np.nan
    vectors[2, 0] = np.inf
    vectors[3] = 0.0
    vectors[4] *= 1.01
    outcome = validate_vectors(list("abcdef"), vectors, dim=8)
    assert outcome.valid == ["a", "f"] and outcome.mask.tolist() == [1, 0, 0, 0, 0, 1]
    reasons = {q.id: q.reason for q in outcome.quarantined}
    assert reasons["b"] == ("expect_column_values_to_be_between(n_nonfinite): vector has 1 "
                            "NaN/inf components")
    assert reasons["c"].startswith("expect_column_values_to_be_between(n_nonfinite): vector has 1")
    assert reasons["d"].startswith("expect_column_values_to_be_between(norm): zero vector")
    assert reasons["e"] == ("expect_column_values_to_be_between(norm): L2 norm 1.01 is outside "
                            "1±0.001; vectors must be L2-normalised")
    assert {q.stage for q in outcome.quarantined} == {"vector"}
    assert outcome.summary["n_quarantined"] == 4


def test_wrong_dtype_or_dim_quarantines_every_vector():
    as_float64 = validate_vectors(["a", "b"], unit_vectors(2).astype(np.float64), dim=8)
    assert as_float64.valid == [] and len(as_float64.quarantined) == 2
    assert "vector dtype is float64; expected float32" in as_float64.quarantined[0].reason
    wrong_dim = validate_vectors(["a", "b"], unit_vectors(2), dim=384)
    assert wrong_dim.valid == []
    assert "vector has 8 dimensions; the embedder's dim is 384" in wrong_dim.quarantined[1].reason


def test_vectors_that_cannot_be_matched_to_ids_raise():
    with pytest.raises(ValueError, match="do not match 3 ids"):
        validate_vectors(["a", "b", "c"], unit_vectors(2), dim=8)
    with pytest.raises(ValueError, match="2-D"):
        validate_vectors(["a"], np.ones(8, dtype=np.float32), dim=8)


def test_a_crashing_expectation_raises_instead_of_passing_every_row():
    # GX reports a crashed metric as success=False with no failing rows; that must not read as
    # "nothing to quarantine".
    frame = pd.DataFrame({"value": pd.Series(["a", "b"], dtype="object")})
    check = Check("ExpectColumnValuesToBeBetween", {"column": "value", "min_value": 1},
                  lambda row: "unused")
    with pytest.raises(RuntimeError, match="could not evaluate ExpectColumnValuesToBeBetween"):
        run_checks(stage="test", suite_name="test", frame=frame, checks=[check], ids=["1", "2"],
                   sources=["", ""], started=0.0)


def test_quarantine_limit_message_is_exact(tmp_path):
    path = tmp_path / "quarantine.jsonl"
    with pytest.raises(QuarantineLimitExceeded) as raised:
        enforce_quarantine_limit(60, 500, 0.05, path=path)
    assert str(raised.value) == (
        f"12.0% of records quarantined (60/500) exceeds the limit of 5.0% "
        f"(validation.max_quarantine_share); see {path} for reasons")
    assert (raised.value.n_quarantined, raised.value.n_total, raised.value.path) == (60, 500, path)
    with pytest.raises(QuarantineLimitExceeded) as raised:
        enforce_quarantine_limit(60, 500)
    assert str(raised.value) == ("12.0% of records quarantined (60/500) exceeds the limit of "
                                 "5.0% (validation.max_quarantine_share)")


def test_quarantine_limit_boundaries():
    enforce_quarantine_limit(5, 100, 0.05)  # at the limit: allowed
    enforce_quarantine_limit(0, 0, 0.0)  # nothing to validate: nothing exceeded
    with pytest.raises(QuarantineLimitExceeded, match=r"^6\.0% .*limit of 5\.0%"):
        enforce_quarantine_limit(6, 100, 0.05)
    with pytest.raises(QuarantineLimitExceeded, match=r"^5\.01% .*limit of 5\.00%"):
        enforce_quarantine_limit(501, 10_000, 0.05)  # never "5.0% exceeds the limit of 5.0%"
    with pytest.raises(ValueError):
        enforce_quarantine_limit(1, 10, 1.5)
    with pytest.raises(ValueError):
        enforce_quarantine_limit(11, 10)


def test_quarantine_file_round_trips_and_replaces_atomically(tmp_path):
    records = [Quarantined("a", "s/ü.md", "document", "why: é\nnewline", "row 0 of 2"),
               Quarantined("", "", "vector", "zero vector")]
    path = write_quarantine(records, tmp_path / "runs" / "q.jsonl")
    assert path == tmp_path / "runs" / "q.jsonl"
    assert read_quarantine(path) == records
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2

    def failing():
        yield records[0]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_quarantine(failing(), path)
    assert read_quarantine(path) == records  # the old file is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["q.jsonl"]  # no temp file left
    write_quarantine([], path)
    assert read_quarantine(path) == []


def test_quarantine_records_from_validation_survive_the_file(tmp_path):
    outcome = validate_documents(good_docs(1) + [Document("bad", "\x00\x01")])
    path = write_quarantine(outcome.quarantined, Path(tmp_path) / "q.jsonl")
    assert read_quarantine(path) == outcome.quarantined != []


def test_importing_the_package_does_not_import_great_expectations():
    code = ("import sys, tasks.validation; "
            "sys.exit('great_expectations' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
