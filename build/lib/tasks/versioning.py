"""DVC: every snapshot and every index build is tracked, content-addressed and pushed to the remote.

The version of a tracked directory is its DVC md5 (``<md5>.dir`` in the ``.dvc`` file, without the
suffix). ``restore`` brings any version back from the remote on a fresh clone, with no ``.dvc``
file in git: it writes a one-off ``.dvc`` record naming that md5 and pulls it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tasks.publishing import read_dvc_md5


class VersioningError(RuntimeError):
    """A DVC operation failed; the message says which and what to do."""


def ensure_repo(workspace: Path, remote_name: str, remote_url: str):
    """Open (or ``dvc init --no-scm``) the DVC repo at ``workspace`` and make ``remote_url`` its default remote."""
    from dvc.repo import Repo

    if not (workspace / ".dvc").is_dir():
        Repo.init(str(workspace), no_scm=True)
    url = _normalise_url(remote_url, workspace)
    repo = Repo(str(workspace))
    with repo.config.edit("local") as conf:
        conf.setdefault("remote", {})[remote_name] = {"url": url}
        conf.setdefault("core", {})["remote"] = remote_name
    if "://" not in url:
        Path(url).mkdir(parents=True, exist_ok=True)
    return Repo(str(workspace))


def _normalise_url(url: str, workspace: Path) -> str:
    if "://" in url and not url.startswith("file://"):
        return url
    path = Path(url.removeprefix("file://")).expanduser()
    return str(path if path.is_absolute() else (workspace / path).resolve())


def track(repo, path: Path) -> str:
    """``dvc add`` a file or directory; returns its version (md5)."""
    try:
        repo.add(str(path))
    except Exception as exc:  # noqa: BLE001 - DVC raises many types; the message is what matters
        raise VersioningError(f"dvc add {path} failed: {exc}") from exc
    md5 = read_dvc_md5(path.with_name(path.name + ".dvc"))
    if not md5:
        raise VersioningError(f"dvc add {path} wrote no md5")
    return md5


def push(repo, path: Path, remote: str | None = None) -> int:
    """``dvc push`` one tracked path; raises ``VersioningError`` if the remote cannot take it."""
    try:
        return int(repo.push(targets=[str(path.with_name(path.name + ".dvc"))], remote=remote) or 0)
    except Exception as exc:  # noqa: BLE001
        raise VersioningError(
            f"dvc push of {path.name} to the remote failed: {exc}. Check the remote "
            "(settings.dvc_remote_url / `dvc remote list`) and rerun; nothing was published") from exc


def restore(repo, version: str, dest_parent: Path, name: str | None = None, remote: str | None = None) -> Path:
    """Pull the directory with md5 ``version`` from the remote into ``dest_parent/<name>``."""
    version = version.removesuffix(".dir")
    if len(version) != 32:
        raise VersioningError(f"restore needs the full 32-hex md5 version, got {version!r}")
    name = name or version
    dest_parent.mkdir(parents=True, exist_ok=True)
    record = dest_parent / f"{name}.dvc"
    record.write_text(yaml.safe_dump({"outs": [{"md5": f"{version}.dir", "hash": "md5", "path": name}]}))
    try:
        repo.pull(targets=[str(record)], remote=remote)
    except Exception as exc:  # noqa: BLE001
        record.unlink(missing_ok=True)
        shutil.rmtree(dest_parent / name, ignore_errors=True)
        raise VersioningError(f"version {version} is not in the DVC cache or remote ({exc.__class__.__name__}); "
                              "check the version (see the MLflow run's tag nightshift.index_version) and the "
                              "remote (settings.dvc_remote_url)") from None
    return dest_parent / name


def local_version(settings, version: str) -> Path:
    """The local build of index ``version``, restored from the DVC remote (as ``restored-<md5[:12]>``) if it is
    not on disk any more. Used by ``nightshift index restore`` and by backfills."""
    from tasks.publishing import IndexStore

    store = IndexStore(settings.index_dir)
    folder = store.find_version(version)
    if folder is None:
        repo = ensure_repo(settings.workspace, settings.dvc_remote_name, settings.dvc_remote_url)
        folder = restore(repo, version, store.builds, name=f"restored-{version[:12]}")
    return folder
