"""Validate a filled labelling file with Great Expectations before anything is imported.

One suite over the file's rows (``tasks.validation.suite``): ids present, the document known to the
published index, ``relevance`` blank or one of 0/1/2, each (query, document) pair once, one text per
query id, a well-formed ``doc_hash``. Every failing row is reported with its line; a file with any
failure is refused as a whole (a half-imported judgment file is worse than none).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tasks.goldenset.labelfile import GRADES, LabelFileError, RawLabels, headline, refusal
from tasks.validation.suite import Check, run_checks

HASH = re.compile(r"^(doc|chunks):[0-9a-f]{64}$")
EXPECTATION = re.compile(r"(?:^|(?<=; ))expect_[a-z_]+\([a-z_]+\): ")  # run_checks' prefix of each reason


@dataclass(frozen=True)
class Judgment:
    query_id: str
    query: str
    doc_id: str
    grade: int
    line: int
    labeller: str
    doc_hash: str
    source: str
    log_query_id: str
    stratum: str


@dataclass(frozen=True)
class CheckedLabels:
    judgments: list[Judgment]
    n_blank: int  # rows left without a relevance: not judged, not imported
    summary: dict[str, Any]


def _grade(text: str) -> str | None:
    """"2", "2.0", " 2 " -> "2"; blank -> None; anything else as written (fails the check)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else text


def _blank(value: str) -> str | None:
    return value if value and value.strip() else None


def check_labels(raw: RawLabels, doc_ids: set[str]) -> CheckedLabels:
    """The judged rows of ``raw``, or ``LabelFileError`` naming every problem with its line."""
    started = time.perf_counter()
    rows = raw.rows
    lines = [r["_line"] for r in rows]
    pairs = [f"{r['query_id']}\t{r['doc_id']}" for r in rows]
    first_line: dict[str, int] = {}
    for pair, line in zip(pairs, lines):
        first_line.setdefault(pair, line)
    texts: dict[str, str] = {}
    for r in rows:
        texts.setdefault(r["query_id"], r["query"])
    frame = pd.DataFrame({
        "query_id": [_blank(r["query_id"]) for r in rows],
        "query": [_blank(r["query"]) for r in rows],
        "doc_id": [_blank(r["doc_id"]) for r in rows],
        "relevance": [_grade(r["relevance"]) for r in rows],
        "pair": pairs,
        "same_text": [texts[r["query_id"]] == r["query"] for r in rows],
        "hash_ok": [not r.get("doc_hash") or bool(HASH.match(r["doc_hash"])) for r in rows],
    })
    value = {c: frame[c].tolist() for c in ("doc_id", "relevance")}
    checks = [
        Check("ExpectColumnValuesToNotBeNull", {"column": "query_id"}, lambda i: "query_id is empty"),
        Check("ExpectColumnValuesToNotBeNull", {"column": "query"}, lambda i: "query is empty"),
        Check("ExpectColumnValuesToNotBeNull", {"column": "doc_id"}, lambda i: "doc_id is empty"),
        Check("ExpectColumnValuesToBeInSet", {"column": "doc_id", "value_set": sorted(doc_ids)},
              lambda i: f"unknown doc_id {value['doc_id'][i]!r}: not a document of the published index"),
        Check("ExpectColumnValuesToBeInSet", {"column": "relevance", "value_set": [str(g) for g in GRADES]},
              lambda i: f"relevance {value['relevance'][i]!r} is out of range: use 0, 1 or 2 (blank = not judged)"),
        Check("ExpectColumnValuesToBeUnique", {"column": "pair"},
              lambda i: f"duplicate (query_id, doc_id) {pairs[i].replace(chr(9), ', ')}"
                        + (f": also on line {first_line[pairs[i]]}" if first_line[pairs[i]] != lines[i] else
                           " (first occurrence)")),
        Check("ExpectColumnValuesToBeInSet", {"column": "same_text", "value_set": [True]},
              lambda i: f"query_id {rows[i]['query_id']!r} has another query text on an earlier line"),
        Check("ExpectColumnValuesToBeInSet", {"column": "hash_ok", "value_set": [True]},
              lambda i: f"doc_hash {rows[i]['doc_hash']!r} is not doc:/chunks: + 64 hex digits"),
    ]
    valid, failed, summary = run_checks(stage="labels", suite_name="nightshift.golden_labels", frame=frame,
                                        checks=checks, ids=pairs, sources=[f"line {n}" for n in lines],
                                        started=started)
    if failed:
        problems = [f"{q.source}: {EXPECTATION.sub('', q.reason)}" for q in failed]
        raise LabelFileError(refusal(raw.path, problems), problems, headline(raw.path, problems))
    judged = [i for i in valid if frame["relevance"].iat[i] is not None]
    if not judged:
        raise LabelFileError(f"{raw.path}: no row has a relevance (0, 1 or 2): nothing to import; "
                             "fill the relevance column", [])
    judgments = [Judgment(rows[i]["query_id"], rows[i]["query"], rows[i]["doc_id"], int(frame["relevance"].iat[i]),
                          lines[i], rows[i].get("labeller", ""), rows[i].get("doc_hash", ""),
                          rows[i].get("source", "") or "file", rows[i].get("log_query_id", ""),
                          rows[i].get("stratum", "")) for i in judged]
    return CheckedLabels(judgments, len(valid) - len(judged), summary)
