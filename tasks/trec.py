"""Runs as TREC run files (``qid Q0 docid rank score tag``, gzip): what trec_eval and pytrec_eval read."""

from __future__ import annotations

import gzip
from pathlib import Path


def write_trec(run: dict[str, dict[str, float]], path: Path, tag: str = "nightshift") -> None:
    """``qid Q0 docid rank score tag`` lines in trec_eval order (score desc, docid desc)."""
    from tasks.scoring import rank_documents

    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for qid in sorted(run):
            for rank, doc in enumerate(rank_documents(run[qid]), start=1):
                fh.write(f"{qid} Q0 {doc} {rank} {run[qid][doc]!r} {tag}\n")


def read_trec(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            qid, _, doc, _, score, _ = line.split()
            run.setdefault(qid, {})[doc] = float(score)
    return run
