"""``nightshift adopt``: the benchmark's recommendation into configs/reindex.yaml (shown as a diff first)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import JsonOpt, SettingsOpt, emit, json_stdout, load_settings, run_guarded


def adopt(
    source: str = typer.Argument(..., help="A benchmark run id (MLflow) or a recommendation.json file."),
    config: Path = typer.Option(Path("configs/reindex.yaml"), "--config", "-c", help="The reindex config to update."),
    retriever_only: bool = typer.Option(False, "--retriever-only",
                                        help="Adopt only the retriever spec (mode, fusion, depths, rerank); keep the "
                                             "reindex's embedder and chunking."),
    with_index: bool = typer.Option(False, "--with-index", help="Also adopt the candidate's FAISS index kind "
                                    "(default: keep the reindex's, e.g. the size rule `auto`)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff, write nothing."),
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write the benchmark's recommended candidate into the reindex config (its `retriever` section, and
    unless --retriever-only its `embedder` and `chunking`). The next `nightshift reindex` builds it (never
    `unchanged`) and its publication gate compares it, as it will be served, with the current index.
    A candidate the reindex cannot build is refused with the reason."""

    def go() -> dict:
        from tasks.reindex.adopt import adopt as adopt_spec, load_recommendation

        s = load_settings(settings)
        recommendation = load_recommendation(source, s.tracking_uri)
        text = config.read_text(encoding="utf-8") if config.is_file() else ""
        adoption = adopt_spec(recommendation, text, retriever_only, with_index)
        changed = adoption.new_text != adoption.old_text
        if changed and not dry_run:
            config.write_text(adoption.new_text, encoding="utf-8")
        return {"candidate": adoption.candidate, "sections": list(adoption.sections), "config": str(config),
                "changed": changed, "written": changed and not dry_run, "diff": adoption.diff(str(config))}

    def human(r: dict) -> None:
        typer.echo(r["diff"] or f"{r['config']} already serves {r['candidate']}: nothing to change")
        if r["written"]:
            typer.echo(f"adopted {r['candidate']} ({', '.join(r['sections'])}) into {r['config']}; "
                       "run `nightshift reindex` to build and gate it")
        elif r["changed"]:
            typer.echo("(--dry-run: nothing written)")

    with json_stdout(as_json):
        record = run_guarded(go)
    emit(record, as_json, human)
