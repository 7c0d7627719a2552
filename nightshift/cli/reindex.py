"""``nightshift reindex``: rebuild, validate and publish the index."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import (ConfigOpt, JsonOpt, SetOpt, SettingsOpt, default_config, emit, json_stdout,
    load_settings, quiet_tracebacks, run_guarded)


def reindex(
    config: Optional[Path] = ConfigOpt,
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Folder or fsspec URL of the documents."),
    set_: Optional[list[str]] = SetOpt,
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Rebuild the FAISS index from the source: validate, chunk, embed what changed, publish atomically.

    Status: published (a new index is live), unchanged (nothing to do), rejected (the new index failed
    validation or the quality gate; the previous index stays live), failed.
    """
    from nightshift.cli.render import print_reindex

    def go() -> dict:
        from flows.reindex import reindex as reindex_flow
        from tasks.config.loader import load_config
        from tasks.reindex.config import ReindexConfig

        quiet_tracebacks()
        overrides = list(set_ or []) + ([f"source={source}"] if source else [])
        cfg = load_config(ReindexConfig, default_config("reindex", config), overrides)
        with json_stdout(as_json):
            return reindex_flow(cfg, load_settings(settings))

    record = run_guarded(go)
    emit(record, as_json, print_reindex)
    if record.get("status") in ("failed",):
        raise typer.Exit(1)
