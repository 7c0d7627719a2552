"""``nightshift search``: query the published index."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import JsonOpt, SettingsOpt, emit, json_stdout, load_settings, run_guarded


def search(
    query: str = typer.Argument(..., help="The query text."),
    k: int = typer.Option(10, "--k", "-k", help="Number of hits."),
    index_version: Optional[str] = typer.Option(None, "--index", help="A local index version (default: current)."),
    per_document: bool = typer.Option(False, "--per-document",
                                      help="One hit per document (its best chunk) instead of the top-k chunks."),
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Search the published index (dense retrieval) and print the top-k chunks (or documents: --per-document)."""
    from nightshift.cli.render import print_hits

    def go() -> list[dict]:
        from tasks.retrieval import dense_search, embedder_for, open_index

        s = load_settings(settings)
        loaded = open_index(s.index_dir, index_version)
        hits = dense_search(loaded, embedder_for(loaded), [query], k, per_document=per_document)[0]
        return [h.as_dict() for h in hits]

    with json_stdout(as_json):
        hits = run_guarded(go)
    emit(hits, as_json, print_hits)
