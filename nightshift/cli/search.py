"""``nightshift search``: query the published index through its retriever spec (what the service answers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from nightshift.cli.app import JsonOpt, SettingsOpt, emit, json_stdout, load_settings, run_guarded


def parse_filters(items: list[str]) -> dict[str, Any] | None:
    """``--filter doc_type=pdf --filter 'lang=["en","de"]' --filter 'source={"prefix": "papers/"}'``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--filter {item!r}: expected key=value (e.g. --filter doc_type=pdf)")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out or None


def search(
    query: str = typer.Argument(..., help="The query text."),
    k: int = typer.Option(10, "--k", "-k", help="Number of hits."),
    index_version: Optional[str] = typer.Option(None, "--index", help="A local index version (default: current)."),
    filters: Optional[list[str]] = typer.Option(None, "--filter", help="key=value on doc_type, source (a path "
                                                "prefix: source='{\"prefix\": \"a/\"}') or any metadata key; a JSON "
                                                "list means any of (repeatable)."),
    per_document: Optional[bool] = typer.Option(None, "--per-document/--chunks",
                                                help="One hit per document (its best chunk), or the top chunks "
                                                     "(default: the index's retriever spec)."),
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Search the published index with the retriever it serves (dense, BM25 or hybrid, as its manifest says)."""
    from nightshift.cli.render import print_search

    def go() -> dict:
        from tasks.retrieval import open_index
        from tasks.retriever import IndexRetriever
        from tasks.retrievers import spec_of
        from tasks.serving.live import _version_of

        s = load_settings(settings)
        loaded = open_index(s.index_dir, index_version)
        spec = spec_of(loaded.manifest)
        if per_document is not None:
            spec = spec.model_copy(update={"per_document": per_document})
        retriever = IndexRetriever.open(loaded, spec, version=_version_of(loaded.folder))
        hits = retriever.search([query], k, parse_filters(filters or []))[0]
        return {"query": query, "index_version": retriever.version, "retriever": retriever.name,
                "hits": [h.as_dict() for h in hits]}

    with json_stdout(as_json):
        record = run_guarded(go)
    emit(record, as_json, print_search)
