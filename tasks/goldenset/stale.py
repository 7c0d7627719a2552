"""Stale qrels: judged against a document that has changed (content hash) or vanished since labelling.

A stale qrel is excluded from scoring (the judgment was about another text), counted, and queued for
relabelling: ``relabel_rows`` turns the stale qrels into rows of a labelling file — the changed
document with its current passage, and for a vanished document the query's best unjudged documents
tonight — that ``nightshift golden label`` imports like any other. Sets without provenance (the demo
set, any hand-made BEIR folder) have no hashes to compare: staleness is reported as not tracked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tasks.goldenset.content import IndexDocuments, compare
from tasks.goldenset.load import GoldenCheck, GoldenSet
from tasks.goldenset.store import read_provenance


@dataclass(frozen=True)
class Staleness:
    tracked: bool
    stale: list[dict[str, Any]] = field(default_factory=list)  # query-id, corpus-id, score, why, labelled_at, ...
    n_unverified: int = 0

    def counts(self) -> dict[str, int]:
        return {"n_stale": len(self.stale), "n_stale_changed": sum(s["why"] == "changed" for s in self.stale),
                "n_stale_vanished": sum(s["why"] == "vanished" for s in self.stale),
                "n_unverified": self.n_unverified}


def find_stale(golden: GoldenSet, docs: IndexDocuments) -> Staleness:
    provenance = read_provenance(golden.folder)
    if provenance is None:
        return Staleness(False)
    stale, unverified = [], 0
    for qid, did, grade in golden.rows:
        rec = provenance.get((str(qid), str(did)))
        status = compare((rec or {}).get("doc_hash", ""), docs.hashes.get(str(did)))
        if status in ("changed", "vanished"):
            stale.append({"query-id": str(qid), "corpus-id": str(did), "score": grade, "why": status,
                          "labelled_at": (rec or {}).get("labelled_at", ""),
                          "labelled_by": (rec or {}).get("labelled_by", "")})
        unverified += status == "unverified"
    return Staleness(True, stale, unverified)


def without_stale(golden: GoldenSet, staleness: Staleness) -> GoldenSet:
    """The golden set minus its stale qrels (its version and content hash stay those of the files)."""
    gone = {(s["query-id"], s["corpus-id"]) for s in staleness.stale}
    if not gone:
        return golden
    return replace(golden, rows=[r for r in golden.rows if (str(r[0]), str(r[1])) not in gone])


def annotate(checked: GoldenCheck, staleness: Staleness) -> GoldenCheck:
    """``checked`` with the staleness counts in its summary and a message when some qrels are stale."""
    summary = {**checked.summary, **staleness.counts(), "staleness_tracked": staleness.tracked}
    if staleness.stale:
        c = staleness.counts()
        examples = ", ".join(f"{s['query-id']}->{s['corpus-id']} ({s['why']})" for s in staleness.stale[:3])
        summary["messages"] = [*summary["messages"],
                               f"{c['n_stale']} qrels are stale ({c['n_stale_changed']} documents changed, "
                               f"{c['n_stale_vanished']} vanished since labelling); excluded from scoring and "
                               f"queued for relabelling (e.g. {examples})"]
    return replace(checked, summary=summary)


def relabel_rows(golden: GoldenSet, staleness: Staleness, loaded: Any, docs: IndexDocuments,
                 run: dict[str, dict[str, float]], n_replacements: int = 5,
                 passage_chars: int = 600) -> list[dict[str, Any]]:
    """Labelling-file rows for the stale qrels (see the module docstring)."""
    from tasks.goldenset.labelfile import flat
    from tasks.scoring import rank_documents

    first = loaded.chunks.sort_values(["doc_id", "ordinal"], kind="stable").drop_duplicates("doc_id")
    passage = dict(zip(first["doc_id"].astype(str), first["text"].astype(str)))
    judged: dict[str, set[str]] = {}
    for qid, did, _ in golden.rows:
        judged.setdefault(str(qid), set()).add(str(did))
    rows, seen = [], set()

    def add(qid: str, did: str, note: str) -> None:
        if (qid, did) in seen:
            return
        seen.add((qid, did))
        rows.append({"query_id": qid, "query": golden.queries.get(qid, ""), "doc_id": did, "relevance": "",
                     "title": flat(docs.titles.get(did, ""), 200), "passage": flat(passage.get(did, ""), passage_chars),
                     "source": "relabel", "notes": note, "doc_hash": docs.hashes.get(did, "")})

    for s in staleness.stale:
        qid, did = s["query-id"], s["corpus-id"]
        if s["why"] == "changed":
            add(qid, did, f"was {s['score']} (labelled {s['labelled_at']}); the document changed since")
        else:
            fresh = [d for d in rank_documents(run.get(qid, {}), 100) if d not in judged.get(qid, set())]
            for d in fresh[:n_replacements]:
                add(qid, d, f"candidate: judged document {did} (was {s['score']}) vanished from the corpus")
    return rows
