"""Version the golden set with DVC: a snapshot copy under ``<snapshot_dir>/golden/<name>``, tracked and pushed.

The demo golden files stay in git (a fresh clone has an empty DVC remote); every evaluation run also
records the DVC md5 of this copy, so the exact judgments behind a number can be restored later with
``dvc`` from the remote, like any snapshot.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tasks.goldenset.load import GoldenSet
from tasks.config.settings import Settings


def snapshot_folder(settings: Settings, golden: GoldenSet) -> Path:
    return settings.snapshot_dir / "golden" / golden.name


def copy_golden(golden: GoldenSet, dest: Path) -> Path:
    """Mirror queries.jsonl and every qrels/*.tsv of the golden set into ``dest`` (replacing it)."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "qrels").mkdir(parents=True)
    shutil.copyfile(golden.folder / "queries.jsonl", dest / "queries.jsonl")
    for path in sorted((golden.folder / "qrels").glob("*.tsv")):
        shutil.copyfile(path, dest / "qrels" / path.name)
    return dest


def snapshot_golden(golden: GoldenSet, settings: Settings) -> str:
    """Copy, ``dvc add`` and (if ``settings.dvc_push``) push the golden set; returns its DVC version."""
    from tasks import versioning

    dest = copy_golden(golden, snapshot_folder(settings, golden))
    repo = versioning.ensure_repo(settings.workspace, settings.dvc_remote_name, settings.dvc_remote_url)
    version = versioning.track(repo, dest)
    if settings.dvc_push:
        versioning.push(repo, dest)
    return version
