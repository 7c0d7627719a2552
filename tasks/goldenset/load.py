"""Golden sets: judged queries in BEIR layout without a corpus, validated (GX) against the published corpus.

Layout: ``<dir>/queries.jsonl`` (``{"_id", "text", "metadata"?}`` per line) and
``<dir>/qrels/<split>.tsv`` (header ``query-id<TAB>corpus-id<TAB>score``, integer grades).

Policy (every case is a message, never a crash or a silently wrong score):

- Missing files, an empty queries file, an empty qrels file, duplicate ids/pairs or non-integer
  grades raise ``GoldenSetError`` naming the file.
- A qrel whose document is not in the index ("dangling": the document was deleted) or whose query is
  not in queries.jsonl is reported with its reason and excluded; it is never scored as a miss.
- A query with no judgment at all, or whose judgments hold no relevant (grade > 0) document once
  dangling qrels are removed, is reported and excluded (its metrics would be 0/0).
- No scorable query left: ``GoldenSetError``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tasks.datasets import (
    N_EXAMPLES,
    DatasetError,
    _qrels_path,
    _read_bytes,
    _read_jsonl,
    _read_qrels,
    _validate_qrels,
    _validate_records,
    content_hash,
)

logger = logging.getLogger(__name__)
LAYOUT = "a golden set is <dir>/queries.jsonl + <dir>/qrels/<split>.tsv (BEIR layout; no corpus needed)"


class GoldenSetError(DatasetError):
    """The golden set cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class GoldenSet:
    name: str
    split: str
    folder: Path
    queries: dict[str, str]  # every query of queries.jsonl
    query_metadata: dict[str, dict[str, Any]]
    rows: list[tuple[str | None, str | None, str]]  # qrel lines as read
    qrels_path: Path
    files: tuple[Path, ...]
    content_hash: str  # sha256 over queries.jsonl and the split's qrels: the data pin

    @property
    def key(self) -> str:
        return f"{self.name}:{self.split}"


@dataclass(frozen=True)
class GoldenCheck:
    """The golden set as it applies to one index."""

    queries: dict[str, str]  # scorable queries
    qrels: dict[str, dict[str, int]]  # their usable judgments
    dangling: list[dict[str, Any]]  # qrels naming a missing document/query: reported, not scored
    unjudged: list[str]  # queries without any judgment in the split
    no_relevant: list[dict[str, str]]  # judged queries left without a relevant document, and why
    summary: dict[str, Any] = field(default_factory=dict)


def load_golden(folder: Path | str, split: str = "test") -> GoldenSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise GoldenSetError(f"golden set folder {folder} does not exist; {LAYOUT}")
    queries_path = folder / "queries.jsonl"
    if not queries_path.is_file():
        raise GoldenSetError(f"missing {queries_path}; {LAYOUT}")
    qrels_path = _qrels_path(folder, split)
    queries_bytes, qrels_bytes = _read_bytes(queries_path), _read_bytes(qrels_path)
    records = _read_jsonl(queries_path, queries_bytes)
    if not records:
        raise GoldenSetError(f"golden set {folder} is empty: {queries_path} holds no queries")
    _validate_records("golden_queries", queries_path, records, "query")
    rows = _read_qrels(qrels_path, qrels_bytes)  # raises on an empty or header-only file
    return GoldenSet(
        name=folder.name, split=split, folder=folder,
        queries={str(r["_id"]): r["text"] for r in records},
        query_metadata={str(r["_id"]): dict(r.get("metadata") or {}) for r in records},
        rows=rows, qrels_path=qrels_path, files=(queries_path, qrels_path),
        content_hash=content_hash(("queries", queries_bytes), ("qrels", qrels_bytes)))


def check_against_corpus(golden: GoldenSet, doc_ids: Iterable[str]) -> GoldenCheck:
    """GX-validate the qrels against the index's documents; see the module docstring for the policy."""
    kept, dangling, validation = _validate_qrels(golden.qrels_path, golden.rows, set(map(str, doc_ids)),
                                                 set(golden.queries))
    judged: dict[str, dict[str, int]] = {}
    for row in kept:
        qid, did, grade = golden.rows[row]
        judged.setdefault(str(qid), {})[str(did)] = int(grade)
    lost = {str(d["query-id"]) for d in dangling}
    all_judged = judged.keys() | {q for q in lost if q in golden.queries}
    unjudged = sorted(set(golden.queries) - all_judged)
    no_relevant = []
    for qid in sorted(all_judged):
        if not any(g > 0 for g in judged.get(qid, {}).values()):
            why = ("every relevant document is missing from the index" if qid in lost
                   else "judged, but no document has a grade > 0")
            no_relevant.append({"query_id": qid, "reason": why})
    excluded = {q["query_id"] for q in no_relevant}
    qrels = {q: j for q, j in judged.items() if q not in excluded}
    summary = _summary(golden, qrels, dangling, unjudged, no_relevant, validation)
    if not qrels:
        raise GoldenSetError(
            f"none of the {len(golden.queries)} golden queries of {golden.folder} can be scored against "
            f"this index: {'; '.join(summary['messages']) or 'no relevant judgments'}")
    for message in summary["messages"]:
        logger.warning("golden set %s: %s", golden.key, message)
    return GoldenCheck({q: golden.queries[q] for q in sorted(qrels)}, qrels, dangling, unjudged,
                       no_relevant, summary)


def _summary(golden: GoldenSet, qrels: dict, dangling: list, unjudged: list, no_relevant: list,
             validation: dict[str, Any]) -> dict[str, Any]:
    messages = []
    if dangling:
        examples = ", ".join(f"{d['query-id']}->{d['corpus-id']}" for d in dangling[:N_EXAMPLES])
        messages.append(f"{len(dangling)} qrels point at a document or query that does not exist "
                        f"(deleted from the corpus?); reported, not scored as misses (e.g. {examples})")
    if unjudged:
        messages.append(f"{len(unjudged)} queries have no judgment in {golden.qrels_path.name}; "
                        f"excluded (e.g. {', '.join(unjudged[:N_EXAMPLES])})")
    if no_relevant:
        messages.append(f"{len(no_relevant)} judged queries have no relevant document left; excluded "
                        f"(e.g. {no_relevant[0]['query_id']}: {no_relevant[0]['reason']})")
    return {
        "golden": golden.key, "content_hash": golden.content_hash,
        "n_queries_file": len(golden.queries), "n_qrels": len(golden.rows),
        "n_scorable": len(qrels), "n_dangling": len(dangling), "n_unjudged": len(unjudged),
        "n_no_relevant": len(no_relevant), "dangling_examples": dangling[:N_EXAMPLES],
        "gx_success": bool(validation["success"]), "gx_version": validation.get("gx_version", ""),
        "messages": messages,
    }
