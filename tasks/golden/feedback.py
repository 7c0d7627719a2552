"""``golden add-feedback``: users' thumbs-up/down become *candidate* rows of a labelling file, never qrels.

Sources: the service's folder (``data/querylogs/served``: ``feedback/*.jsonl`` joined to
``queries/*.jsonl`` by ``query_id``, ``tasks.querylogs.served``), or any query log in the documented
format with a ``feedback`` column. Feedback on one document proposes that (query, document) pair;
feedback on the whole answer (no ``doc_id``) proposes the answer's top ``top`` documents. Pairs already
judged in the golden set, documents no longer in the index and queries logged without their text
(``hash_queries``) are skipped and counted. The ``relevance`` column stays blank: a person decides,
``feedback`` shows what the user said.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.config.settings import Settings


def _is_value(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, float) and value != value:
        return False
    return isinstance(value, (int, float, str)) and str(value).strip() != ""


def feedback_events(path: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``[{query, log_query_id, doc_ids, feedback}]`` from a served folder or a query log with feedback."""
    from tasks.querylogs.format import read_query_log
    from tasks.querylogs.served import FEEDBACK, QUERIES, feedback_by_query, feedback_value, read_feedback, \
        read_jsonl_tolerant

    counts = {"n_feedback_rows": 0, "n_torn": 0, "n_no_query": 0}
    events = []
    if (path / FEEDBACK).is_dir():
        fb = read_feedback(path)
        served = read_jsonl_tolerant(sorted((path / QUERIES).glob("*.jsonl")))
        counts.update(n_feedback_rows=len(fb.records), n_torn=len(fb.torn) + len(served.torn))
        by_id = {r["query_id"]: r for r in served.records if isinstance(r.get("query_id"), str)}
        for qid, rows in feedback_by_query(fb.records).items():
            logged = by_id.get(qid)
            if logged is None or not isinstance(logged.get("query"), str):
                counts["n_no_query"] += 1
                continue
            per_doc: dict[Any, list[dict]] = {}
            for row in rows:
                per_doc.setdefault(row.get("doc_id") or None, []).append(row)
            for doc, doc_rows in per_doc.items():
                value = feedback_value(doc_rows)
                if _is_value(value):
                    events.append({"query": logged["query"], "log_query_id": qid, "feedback": value,
                                   "doc_ids": [doc] if doc else list(logged.get("retrieved_ids") or [])})
        return events, counts
    frame = read_query_log(path).frame
    if "feedback" not in frame:
        from tasks.querylogs.format import QueryLogError

        raise QueryLogError(f"{path}: neither a served folder (with {FEEDBACK}/) nor a query log with a "
                            "feedback column: no feedback to read")
    for row in frame.to_dict("records"):
        if _is_value(row.get("feedback")):
            counts["n_feedback_rows"] += 1
            if not isinstance(row.get("query"), str):
                counts["n_no_query"] += 1
                continue
            events.append({"query": row["query"], "log_query_id": row.get("query_id") or "",
                           "feedback": row["feedback"], "doc_ids": list(row.get("retrieved_ids") or [])})
    return events, counts


def feedback_candidates(settings: Settings, name: str, path: Path | str | None = None, top: int = 5,
                        split: str = "test", passage_chars: int = 600) -> dict[str, Any]:
    from tasks.golden.sample import query_id
    from tasks.golden.steps import stamp
    from tasks.goldenset.labelfile import labelling_dir
    from tasks.goldenset.content import index_documents
    from tasks.goldenset.labelfile import flat, write_label_file
    from tasks.goldenset.store import read_current, golden_dir
    from tasks.querylogs.served import served_dir
    from tasks.retrieval import open_index

    source = settings.resolve(path) if path not in (None, "default") else served_dir(settings.workspace)
    events, counts = feedback_events(Path(source))
    loaded = open_index(settings.index_dir)
    docs = index_documents(loaded, settings)
    first = loaded.chunks.sort_values(["doc_id", "ordinal"], kind="stable").drop_duplicates("doc_id")
    passage = dict(zip(first["doc_id"].astype(str), first["text"].astype(str)))
    _, judged = read_current(golden_dir(settings, name), split)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    skipped = {"n_already_judged": 0, "n_not_in_index": 0}
    for event in events:
        qid = query_id(event["query"])
        for doc in [str(d) for d in event["doc_ids"][:top] if d]:
            if (qid, doc) in judged:
                skipped["n_already_judged"] += 1
            elif doc not in docs.hashes:
                skipped["n_not_in_index"] += 1
            elif (qid, doc) not in rows:
                rows[(qid, doc)] = {"query_id": qid, "query": event["query"], "doc_id": doc, "relevance": "",
                                    "title": flat(docs.titles.get(doc, ""), 200),
                                    "passage": flat(passage.get(doc, ""), passage_chars), "source": "feedback",
                                    "feedback": event["feedback"], "log_query_id": event["log_query_id"],
                                    "doc_hash": docs.hashes[doc]}
    out = labelling_dir(settings, name) / f"feedback-{stamp()}.csv"
    counts = {**counts, **skipped, "n_events": len(events), "n_rows": len(rows)}
    meta = {"golden": name, "split": split, "kind": "feedback", "source": str(source), "top": top, **counts}
    if rows:
        write_label_file(out, list(rows.values()), meta)
    return {"file": str(out) if rows else "", **meta,
            "n_positive": sum(1 for r in rows.values() if _positive(r["feedback"])),
            "n_negative": sum(1 for r in rows.values() if _negative(r["feedback"]))}


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and value > 0


def _negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and value < 0
