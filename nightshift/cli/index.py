"""``nightshift index``: list, show and restore index versions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import JsonOpt, SettingsOpt, emit, json_stdout, load_settings, run_guarded

index_app = typer.Typer(help="Inspect, list and restore published FAISS index versions (DVC).",
                        no_args_is_help=True)


@index_app.command("list")
def list_versions(settings: Optional[Path] = SettingsOpt, as_json: bool = JsonOpt) -> None:
    """List local index builds (version = DVC md5), marking the published one, and the publication history."""
    from nightshift.cli.render import print_versions

    def go() -> dict:
        from tasks.index_artifact import IndexCorrupted, read_manifest
        from tasks.publishing import IndexStore, iter_builds, read_dvc_md5

        store = IndexStore(load_settings(settings).index_dir)
        current = store.current()
        builds = []
        for folder in iter_builds(store):
            try:
                m = read_manifest(folder)
                info = {"n_chunks": m.n_chunks, "index_spec": m.index_spec, "created_at": m.created_at}
            except IndexCorrupted as exc:
                info = {"error": str(exc)}
            builds.append({"build_id": folder.name, "version": read_dvc_md5(folder.with_name(folder.name + ".dvc")) or "",
                           "current": current is not None and folder.resolve() == current, **info})
        return {"builds": builds, "history": store.history()}

    emit(run_guarded(go), as_json, print_versions)


@index_app.command("restore")
def restore(
    version: str = typer.Argument(..., help="The index version: the full DVC md5 (MLflow tag nightshift.index_version)."),
    activate: bool = typer.Option(False, "--activate", help="Also publish it as `current` (atomic switch)."),
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Bring an index version back from the DVC remote (works on a fresh clone), verify it, optionally publish it."""

    def go() -> dict:
        from tasks.index_artifact import load_index_artifact
        from tasks.publishing import IndexStore, ReindexLock
        from tasks.versioning import local_version

        s = load_settings(settings)
        store = IndexStore(s.index_dir)
        folder = local_version(s, version)
        loaded = load_index_artifact(folder)
        if activate:
            with ReindexLock(s.index_dir / ".reindex.lock"):
                store.publish(folder, {"index_version": version, "restored": True})
        return {"version": version, "path": str(folder), "n_chunks": loaded.manifest.n_chunks,
                "index_spec": loaded.manifest.index_spec, "current": activate}

    with json_stdout(as_json):
        record = run_guarded(go)
    emit(record, as_json, lambda r: typer.echo(
        f"restored index {r['version']} to {r['path']} ({r['n_chunks']} chunks, {r['index_spec']})"
        + (" and published it as current" if r["current"] else "; publish it with --activate")))
