"""IR test collections in BEIR layout: load, validate with Great Expectations, pin by content.

Layout (one folder per collection)::

    corpus.jsonl | corpus.jsonl.gz   {"_id": ..., "title": ..., "text": ...} per line
    queries.jsonl                    {"_id": ..., "text": ...} per line
    qrels/<split>.tsv                header "query-id<TAB>corpus-id<TAB>score", integer grades

Policy (decided here, stated in ``stats``):

- Null or duplicate ids (corpus, queries, or (query-id, corpus-id) pairs), a non-integer grade or
  a malformed line raise ``DatasetError``: a benchmark number on an ambiguous collection is not a
  number. The same holds for a missing file and a split without qrels.
- A qrel naming a document or query that does not exist ("dangling") cannot be retrieved; it is
  excluded with a warning and counted in ``stats["dangling_qrels"]`` (count + examples), never
  scored as a miss.
- Only queries with at least one (non-dangling) qrel in the split are kept in ``queries``.
- ``content_hash`` = sha256 over the corpus (decompressed), queries and qrels bytes, so a
  re-compressed corpus keeps its version; log it with every run as the data pin.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.documents import Document
from tasks.validation.suite import Check, clean_id, id_checks, run_checks

logger = logging.getLogger(__name__)

QRELS_HEADER = ("query-id", "corpus-id", "score")
LAYOUT = ("expected BEIR layout: <folder>/corpus.jsonl (or corpus.jsonl.gz), <folder>/queries.jsonl, "
          "<folder>/qrels/<split>.tsv with header 'query-id\\tcorpus-id\\tscore'")
N_EXAMPLES = 5


class DatasetError(ValueError):
    """The folder is not a usable BEIR collection; the message names the file and the problem."""


@dataclass(frozen=True)
class BeirDataset:
    name: str
    split: str
    corpus: dict[str, dict[str, str]]  # doc id -> {"title", "text"}
    queries: dict[str, str]  # judged queries of the split only
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}
    content_hash: str
    stats: dict[str, Any] = field(default_factory=dict)


def _corpus_path(folder: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"no corpus.jsonl or corpus.jsonl.gz in {folder}; {LAYOUT}")


def _qrels_path(folder: Path, split: str) -> Path:
    if not split or Path(split).name != split or split.startswith("."):
        raise DatasetError(f"split must be a plain file stem such as 'test', got {split!r}")
    path = folder / "qrels" / f"{split}.tsv"
    if not path.is_file():
        found = sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        have = f"available splits: {', '.join(found)}" if found else "no qrels/*.tsv found"
        raise DatasetError(f"missing qrels file {path} for split {split!r} ({have}); {LAYOUT}")
    return path


def _read_bytes(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc


def _read_jsonl(path: Path, data: bytes) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(data.decode("utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path} line {number} is not valid JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise DatasetError(f"{path} line {number} is not a JSON object")
        records.append(record)
    return records


def _read_qrels(path: Path, data: bytes) -> list[tuple[str | None, str | None, str]]:
    lines = [(n, line) for n, line in enumerate(data.decode("utf-8-sig").splitlines(), start=1)
             if line.strip()]
    if not lines:
        raise DatasetError(f"qrels file {path} is empty: the split has no relevance judgments")
    header = tuple(part.strip().lower() for part in lines[0][1].split("\t"))
    if header != QRELS_HEADER:
        raise DatasetError(f"{path} line {lines[0][0]} is {lines[0][1]!r}; expected the header "
                           f"{chr(9).join(QRELS_HEADER)!r}")
    rows = []
    for number, line in lines[1:]:
        parts = line.split("\t")
        if len(parts) != 3:
            raise DatasetError(f"{path} line {number} has {len(parts)} tab-separated fields, "
                               f"expected 3: {line!r}")
        rows.append((clean_id(parts[0].strip()), clean_id(parts[1].strip()), parts[2].strip()))
    if not rows:
        raise DatasetError(f"qrels file {path} has a header but no judgments: the split has no qrels")
    return rows


def _fail_on(what: str, path: Path, quarantined: list[Any]) -> None:
    if quarantined:
        examples = "; ".join(f"{q.id!r}: {q.reason} ({q.detail})" for q in quarantined[:N_EXAMPLES])
        raise DatasetError(f"{path}: {len(quarantined)} invalid {what} record(s): {examples}")


def _validate_records(stage: str, path: Path, records: list[dict[str, Any]], what: str) -> dict[str, Any]:
    """GX: ids non-null and unique, ``text`` a string. Raises on any failure."""
    import pandas as pd

    started = time.perf_counter()
    raw_ids = [r.get("_id") for r in records]
    frame = pd.DataFrame({
        "id": pd.Series([clean_id(i) for i in raw_ids], dtype="object"),
        "text_is_str": pd.Series([isinstance(r.get("text"), str) for r in records], dtype="bool"),
    })
    checks = [*id_checks(frame, raw_ids, what),
              Check("ExpectColumnValuesToBeInSet", {"column": "text_is_str", "value_set": [True]},
                    lambda row: f"'text' must be a string, got {records[row].get('text')!r}")]
    _, quarantined, summary = run_checks(stage=stage, suite_name=f"nightshift.beir.{stage}",
                                         frame=frame, checks=checks, ids=list(frame["id"]),
                                         sources=[str(path)] * len(records), started=started)
    _fail_on(what, path, quarantined)
    return summary


def _validate_qrels(path: Path, rows: list[tuple[str | None, str | None, str]],
                    doc_ids: set[str], query_ids: set[str],
                    ) -> tuple[list[int], list[dict[str, Any]], dict[str, Any]]:
    """GX, two suites: well-formed (ids present, pairs unique, integer grades: raise on failure),
    then references (doc and query exist: failing rows are returned as dangling, not raised)."""
    import pandas as pd

    started = time.perf_counter()
    pairs = [f"{q}\t{d}" if q is not None and d is not None else None for q, d, _ in rows]
    frame = pd.DataFrame({"id": pd.Series(pairs, dtype="object"),
                          "score": pd.Series([s for _, _, s in rows], dtype="object")})
    raw = [f"{q!r}\t{d!r}" for q, d, _ in rows]
    checks = [*id_checks(frame, raw, "qrel (query-id, corpus-id)"),
              Check("ExpectColumnValuesToMatchRegex", {"column": "score", "regex": r"^[+-]?[0-9]+$"},
                    lambda row: f"score {rows[row][2]!r} is not an integer grade")]
    _, bad, form = run_checks(stage="beir_qrels", suite_name="nightshift.beir.qrels", frame=frame,
                              checks=checks, ids=pairs, sources=[str(path)] * len(rows),
                              started=started)
    _fail_on("qrels", path, bad)

    started = time.perf_counter()
    refs = pd.DataFrame({
        "id": pd.Series(pairs, dtype="object"),
        "doc_exists": pd.Series([d in doc_ids for _, d, _ in rows], dtype="bool"),
        "query_exists": pd.Series([q in query_ids for q, _, _ in rows], dtype="bool"),
    })
    ref_checks = [
        Check("ExpectColumnValuesToBeInSet", {"column": "doc_exists", "value_set": [True]},
              lambda row: f"corpus-id {rows[row][1]!r} is not in the corpus"),
        Check("ExpectColumnValuesToBeInSet", {"column": "query_exists", "value_set": [True]},
              lambda row: f"query-id {rows[row][0]!r} is not in the queries file"),
    ]
    kept, quarantined, references = run_checks(
        stage="beir_qrels_refs", suite_name="nightshift.beir.qrels_references", frame=refs,
        checks=ref_checks, ids=pairs, sources=[str(path)] * len(rows), started=started)
    failed = sorted(set(range(len(rows))) - set(kept))  # run_checks: one record per row, row order
    dangling = [{"query-id": rows[r][0], "corpus-id": rows[r][1], "reason": q.reason}
                for r, q in zip(failed, quarantined, strict=True)]
    summary = {**form, "seconds": round(form["seconds"] + references["seconds"], 4),
               "success": form["success"] and references["success"]}
    return kept, dangling, summary


def content_hash(*blobs: tuple[str, bytes]) -> str:
    """sha256 over (role, length, bytes) of each file, in order."""
    digest = hashlib.sha256()
    for role, data in blobs:
        digest.update(f"{role}\x00{len(data)}\x00".encode())
        digest.update(data)
    return digest.hexdigest()


def load_beir(folder: Path | str, split: str = "test", name: str | None = None) -> BeirDataset:
    """Load and validate one BEIR collection; see the module docstring for the policy."""
    started = time.perf_counter()
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {folder} does not exist; {LAYOUT}")
    corpus_path, queries_path = _corpus_path(folder), folder / "queries.jsonl"
    if not queries_path.is_file():
        raise DatasetError(f"missing queries file {queries_path}; {LAYOUT}")
    qrels_path = _qrels_path(folder, split)
    corpus_bytes, queries_bytes, qrels_bytes = (_read_bytes(p) for p in (corpus_path, queries_path, qrels_path))

    docs = _read_jsonl(corpus_path, corpus_bytes)
    query_records = _read_jsonl(queries_path, queries_bytes)
    rows = _read_qrels(qrels_path, qrels_bytes)
    validation = {"corpus": _validate_records("beir_corpus", corpus_path, docs, "document"),
                  "queries": _validate_records("beir_queries", queries_path, query_records, "query")}
    corpus = {str(d["_id"]): {"title": d.get("title") or "", "text": d["text"]} for d in docs}
    all_queries = {str(q["_id"]): q["text"] for q in query_records}
    kept, dangling, validation["qrels"] = _validate_qrels(qrels_path, rows, set(corpus), set(all_queries))

    qrels: dict[str, dict[str, int]] = {}
    for r in kept:
        qid, did, score = rows[r]
        qrels.setdefault(qid, {})[did] = int(score)
    if not qrels:
        raise DatasetError(f"{qrels_path}: none of its {len(rows)} qrels point at an existing "
                           f"query and document: the split has no usable qrels")
    if dangling:
        logger.warning("%s: excluded %d dangling qrels (e.g. %s)", qrels_path, len(dangling),
                       dangling[0]["reason"])
    queries = {qid: all_queries[qid] for qid in sorted(qrels)}
    grades = Counter(g for judged in qrels.values() for g in judged.values())
    stats = {
        "split": split, "files": {"corpus": corpus_path.name, "queries": queries_path.name,
                                  "qrels": f"qrels/{qrels_path.name}"},
        "n_docs": len(corpus), "n_queries_total": len(all_queries), "n_queries": len(queries),
        "n_qrels": len(rows), "n_qrels_used": len(kept),
        "dangling_qrels": {"count": len(dangling), "examples": dangling[:N_EXAMPLES]},
        "n_queries_without_relevant": sum(1 for j in qrels.values() if not any(g > 0 for g in j.values())),
        "grades": {str(g): n for g, n in sorted(grades.items())},
        "graded": any(g > 1 for g in grades),
        "validation": {k: {"success": v["success"], "seconds": v["seconds"],
                           "gx_version": v["gx_version"]} for k, v in validation.items()},
        "load_seconds": round(time.perf_counter() - started, 4),
    }
    digest = content_hash(("corpus", corpus_bytes), ("queries", queries_bytes), ("qrels", qrels_bytes))
    return BeirDataset(name or folder.name, split, corpus, queries, qrels, digest, stats)


def as_documents(dataset: BeirDataset) -> list[Document]:
    """The corpus as ``Document``s (doc_type "record") for the reindex chunkers."""
    return [Document.create(id=doc_id, text=doc["text"], title=doc["title"], doc_type="record",
                            metadata={"dataset": dataset.name})
            for doc_id, doc in dataset.corpus.items()]
