"""Segment breakdowns: which kinds of queries got better or worse.

Each scored query gets one label per segment dimension:

- ``doc_type`` and any ``metadata_keys``: the query's own metadata (queries.jsonl ``metadata``) if it
  has the key, else the value shared by its relevant documents in the index (``mixed`` when they
  disagree, ``unknown`` when none has it);
- ``language``: metadata ``language``/``lang`` as above, else the Unicode script of the query text
  (``latin``, ``cyrillic``, ``cjk`` ...): a script, not a language, and labelled ``script:<name>``;
- ``query_length``: the word count bucketed by ``query_length_buckets`` (upper bounds), e.g. ``1-5``.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field


class SegmentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_type: bool = True  # by the document type of the query's relevant documents
    language: bool = True  # metadata "language"/"lang" if present, else the query's Unicode script
    query_length_buckets: list[int] = Field(default_factory=lambda: [5, 10, 20])  # word-count upper bounds
    metadata_keys: list[str] = Field(default_factory=list)  # query or relevant-document metadata keys


_SCRIPTS = {"LATIN": "latin", "CYRILLIC": "cyrillic", "GREEK": "greek", "ARABIC": "arabic", "HEBREW": "hebrew",
            "DEVANAGARI": "devanagari", "THAI": "thai", "HANGUL": "cjk", "CJK": "cjk", "HIRAGANA": "cjk",
            "KATAKANA": "cjk"}


def doc_metadata(chunks: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Metadata of each document in the index (from its first chunk)."""
    first = chunks.drop_duplicates("doc_id")
    return {str(d): json.loads(m) if isinstance(m, str) else dict(m or {})
            for d, m in zip(first["doc_id"], first["metadata"])}


def script_of(text: str) -> str:
    """The dominant Unicode script of the letters in ``text``."""
    counts: Counter[str] = Counter()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            counts[next((v for k, v in _SCRIPTS.items() if name.startswith(k)), "other")] += 1
    return f"script:{counts.most_common(1)[0][0]}" if counts else "script:none"


def length_bucket(text: str, bounds: list[int]) -> str:
    words, low = len(text.split()), 1
    for bound in sorted(bounds):
        if words <= bound:
            return f"{low}-{bound}"
        low = bound + 1
    return f"{low}+"


def _shared(values: list[Any]) -> str:
    present = {str(v) for v in values if v not in (None, "")}
    if not present:
        return "unknown"
    return present.pop() if len(present) == 1 else "mixed"


def _label(key: str, alias: tuple[str, ...], query_meta: dict, relevant: list[dict]) -> str | None:
    for name in (key, *alias):
        if query_meta.get(name) not in (None, ""):
            return str(query_meta[name])
    for name in (key, *alias):
        label = _shared([meta.get(name) for meta in relevant])
        if label != "unknown":
            return label
    return None


def query_segments(queries: dict[str, str], qrels: dict[str, dict[str, int]], docs: dict[str, dict],
                   query_metadata: dict[str, dict], cfg: SegmentsConfig) -> pd.DataFrame:
    """One row per query (index ``query_id``), one column per segment dimension."""
    rows = {}
    for qid, text in queries.items():
        meta = query_metadata.get(qid, {})
        relevant = [docs.get(d, {}) for d, grade in qrels.get(qid, {}).items() if grade > 0]
        row: dict[str, str] = {}
        if cfg.doc_type:
            row["doc_type"] = _label("doc_type", (), meta, relevant) or "unknown"
        if cfg.language:
            row["language"] = _label("language", ("lang",), meta, relevant) or script_of(text)
        if cfg.query_length_buckets:
            row["query_length"] = length_bucket(text, cfg.query_length_buckets)
        for key in cfg.metadata_keys:
            row[f"meta.{key}"] = _label(key, (), meta, relevant) or "unknown"
        rows[qid] = row
    frame = pd.DataFrame.from_dict(rows, orient="index", dtype=object)
    frame.index.name = "query_id"
    return frame


def _natural(value: object) -> tuple[int, str]:
    """Buckets in numeric order ("6-10" before "11-20"), other labels alphabetically."""
    head = str(value).split("-")[0].rstrip("+")
    return (int(head), str(value)) if head.isdigit() else (10**9, str(value))


def segment_table(per_query: pd.DataFrame, labels: pd.DataFrame,
                  deltas: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean of each metric (and of each Δ vs the champion, if given) per segment value, with counts."""
    rows = []
    for dimension in labels.columns:
        groups = labels[dimension].reindex(per_query.index)
        for value, ids in sorted(per_query.groupby(groups).groups.items(), key=lambda kv: _natural(kv[0])):
            row = {"segment": dimension, "value": str(value), "n_queries": len(ids),
                   **per_query.loc[ids].mean().to_dict()}
            if deltas is not None:
                common = deltas.index.intersection(ids)
                row.update({f"delta {m}": float(deltas.loc[common, m].mean()) if len(common) else float("nan")
                            for m in deltas.columns})
            rows.append(row)
    return pd.DataFrame(rows)
