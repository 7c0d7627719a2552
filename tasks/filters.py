"""Metadata filters for retrieval: which chunks a query may return.

A filter is a mapping ``key -> condition``; every key must hold (AND)::

    {"doc_type": "pdf"}                         equality
    {"doc_type": ["pdf", "html"]}               membership (same as {"in": [...]})
    {"source": {"prefix": "papers/2024/"}}      source path prefix (the document's ``source_file``)
    {"lang": {"in": ["en", "de"]}, "year": 2024}   any metadata key of the chunks

Keys are ``doc_type``, ``source`` and the metadata keys the index's chunks carry (documents'
metadata, e.g. ``source_file``, ``lang``, fields of JSONL records). An unknown key, an empty
``in`` list or an unknown operator is a ``FilterError`` naming the key, never a silent "no match".
The result is a boolean mask over the index's rows, applied *inside* the search (FAISS
``IDSelector``, BM25 score masking) so a filtered query still returns k hits when k match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

ALIASES = {"source": "source_file"}
OPERATORS = ("eq", "in", "prefix")


class FilterError(ValueError):
    """A filter that cannot be applied; ``key`` names the offending filter key."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


def _condition(key: str, value: Any) -> tuple[str, Any]:
    if isinstance(value, Mapping):
        if len(value) != 1 or next(iter(value)) not in OPERATORS:
            raise FilterError(f"filter {key!r}: use one of {{'eq': v}}, {{'in': [...]}}, {{'prefix': 's'}}, "
                              f"got {dict(value)!r}", key)
        op, arg = next(iter(value.items()))
    elif isinstance(value, (list, tuple)):
        op, arg = "in", list(value)
    else:
        op, arg = "eq", value
    if op == "in" and (not isinstance(arg, (list, tuple)) or not arg):
        raise FilterError(f"filter {key!r}: 'in' needs a non-empty list", key)
    if op == "prefix" and not isinstance(arg, str):
        raise FilterError(f"filter {key!r}: 'prefix' needs a string", key)
    if op != "in" and isinstance(arg, (dict, list)):
        raise FilterError(f"filter {key!r}: value must be a string, number or boolean", key)
    return op, arg


class MetadataTable:
    """The chunks' metadata as columns (parsed once, lazily): evaluates filters to row masks."""

    def __init__(self, metadata: Sequence[Any]) -> None:
        self._raw = metadata
        self._columns: dict[str, list[Any]] | None = None

    def __len__(self) -> int:
        return len(self._raw)

    @property
    def columns(self) -> dict[str, list[Any]]:
        if self._columns is None:
            rows = [json.loads(m) if isinstance(m, str) else dict(m or {}) for m in self._raw]
            keys = sorted({k for row in rows for k in row})
            self._columns = {k: [row.get(k) for row in rows] for k in keys}
        return self._columns

    def keys(self) -> list[str]:
        return sorted({*self.columns, *ALIASES})

    def mask(self, filters: Mapping[str, Any] | None) -> np.ndarray | None:
        """Rows passing every condition; None for no filter."""
        if not filters:
            return None
        if not isinstance(filters, Mapping):
            raise FilterError(f"filters must be an object of key -> condition, got {type(filters).__name__}")
        mask = np.ones(len(self), dtype=bool)
        for key, value in filters.items():
            column = self.columns.get(ALIASES.get(str(key), str(key)))
            if column is None:
                raise FilterError(f"unknown filter key {key!r}; this index's chunks have: "
                                  f"{', '.join(self.keys())}", str(key))
            mask &= _match(column, *_condition(str(key), value))
        return mask


def _match(column: list[Any], op: str, arg: Any) -> np.ndarray:
    if op == "eq":
        return np.fromiter((v == arg for v in column), dtype=bool, count=len(column))
    if op == "in":
        allowed = set(map(_hashable, arg))
        return np.fromiter((_hashable(v) in allowed for v in column), dtype=bool, count=len(column))
    return np.fromiter((isinstance(v, str) and v.startswith(arg) for v in column), dtype=bool, count=len(column))


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
