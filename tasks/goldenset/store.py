"""Golden set versions: each import of judgments writes a new version in BEIR layout, DVC-tracked.

``<data>/golden/<name>/`` is the current version (what evaluate and the publication gate read)::

    queries.jsonl         {"_id", "text", "metadata": {"log_query_id", "stratum", ...}}
    qrels/<split>.tsv     query-id, corpus-id, score (0/1/2)
    provenance.jsonl      one line per qrel: who judged it, when, from which labelling file (path, sha256,
                          line), the document's content hash at labelling time, the version that wrote it
    golden.json           name, version number, split, counts, created_at, the labelling file of this version

A new version is written beside the current one, then swapped in by renames (a crash leaves the
previous version or the new one, never a mix); the previous version is kept under
``<data>/golden/.history/<name>/v<N>/``. The folder is ``dvc add``-ed (``<name>.dvc``) and pushed; the
DVC md5 of every version is appended to ``.history/<name>/versions.jsonl``.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PROVENANCE, INFO, HISTORY = "provenance.jsonl", "golden.json", ".history"


def golden_root(settings: Any) -> Path:
    return settings.data_dir / "golden"


def golden_dir(settings: Any, name: str) -> Path:
    """``<data>/golden/<name>``, put back first if a crash interrupted the swap of a new version."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"golden set name {name!r}: use letters, digits, '-' or '_' (no '/')")
    folder = golden_root(settings) / name
    old = folder.with_name(f".{name}.old")
    if not folder.exists() and old.is_dir():
        old.rename(folder)
    return folder


def resolve_golden(settings: Any, value: str) -> Path:
    """A golden set folder given as a path (absolute, or relative to the workspace) or as a NAME."""
    path = settings.resolve(value)
    if path.is_dir() or "/" in str(value):
        return path
    return golden_dir(settings, str(value))


def read_info(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_provenance(folder: Path) -> dict[tuple[str, str], dict[str, Any]] | None:
    """``{(query-id, corpus-id): provenance}``; None when the set has no provenance (not built by ``golden label``)."""
    path = folder / PROVENANCE
    if not path.is_file():
        return None
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out[(str(rec["query-id"]), str(rec["corpus-id"]))] = rec
    return out


def read_current(folder: Path, split: str) -> tuple[dict[str, dict], dict[tuple[str, str], int]]:
    queries: dict[str, dict] = {}
    qrels: dict[tuple[str, str], int] = {}
    if (folder / "queries.jsonl").is_file():
        for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                queries[str(rec["_id"])] = rec
    path = folder / "qrels" / f"{split}.tsv"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            if line.strip():
                qid, did, score = line.split("\t")[:3]
                qrels[(qid, did)] = int(score)
    return queries, qrels


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def write_version(settings: Any, name: str, split: str, judgments: list[Any], review_file: Path, review_sha: str,
                  hashes_now: dict[str, str], by: str | None = None) -> dict[str, Any]:
    """Merge ``judgments`` (``labelcheck.Judgment``) over the current version and write the next one."""
    folder = golden_dir(settings, name)
    info = read_info(folder)
    version = int(info.get("version", 0)) + 1
    queries, qrels = read_current(folder, split)
    provenance = read_provenance(folder) or {}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        shown = str(Path(review_file).resolve().relative_to(settings.workspace))
    except ValueError:
        shown = str(review_file)
    n_new_queries = n_changed = 0
    for j in judgments:
        if j.query_id not in queries:
            n_new_queries += 1
            meta = {k: v for k, v in (("log_query_id", j.log_query_id), ("stratum", j.stratum)) if v}
            queries[j.query_id] = {"_id": j.query_id, "text": j.query, **({"metadata": meta} if meta else {})}
        key = (j.query_id, j.doc_id)
        n_changed += key in qrels and qrels[key] != j.grade
        qrels[key] = j.grade
        provenance[key] = {"query-id": j.query_id, "corpus-id": j.doc_id, "score": j.grade,
                           "labelled_by": j.labeller or by or _user(), "labelled_at": now, "review_file": shown,
                           "review_sha256": review_sha, "review_line": j.line, "source": j.source,
                           "doc_hash": j.doc_hash or hashes_now.get(j.doc_id, ""), "version": version}
    judged = {q for q, _ in qrels}
    new_info = {"name": name, "version": version, "split": split, "created_at": now, "review_file": shown,
                "review_sha256": review_sha, "n_queries": len(judged), "n_qrels": len(qrels),
                "n_relevant": sum(g > 0 for g in qrels.values()), "parent": info.get("version")}
    tmp = folder.with_name(f".{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "qrels").mkdir(parents=True)
    with open(tmp / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid in sorted(judged):
            fh.write(json.dumps(queries[qid], ensure_ascii=False) + "\n")
    with open(tmp / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for (qid, did), grade in sorted(qrels.items()):
            fh.write(f"{qid}\t{did}\t{grade}\n")
    with open(tmp / PROVENANCE, "w", encoding="utf-8") as fh:
        for key in sorted(qrels):
            fh.write(json.dumps(provenance.get(key, {"query-id": key[0], "corpus-id": key[1], "score": qrels[key]}),
                                ensure_ascii=False) + "\n")
    (tmp / INFO).write_text(json.dumps(new_info, indent=2), encoding="utf-8")
    _swap(folder, tmp, settings, name, info)
    dvc_md5 = _track(settings, folder)
    _append_history(settings, name, {**{k: new_info[k] for k in ("version", "created_at", "review_file",
                                                                 "n_queries", "n_qrels")}, "dvc_md5": dvc_md5})
    return {**new_info, "folder": str(folder), "dvc_md5": dvc_md5, "n_judgments": len(judgments),
            "n_new_queries": n_new_queries, "n_changed": n_changed}


def _swap(folder: Path, tmp: Path, settings: Any, name: str, info: dict[str, Any]) -> None:
    if folder.is_dir():
        keep = golden_root(settings) / HISTORY / name / f"v{int(info.get('version', 0)):04d}"
        if not keep.exists():
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(folder, keep)
        old = folder.with_name(f".{name}.old")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old)
    else:
        tmp.rename(folder)


def _track(settings: Any, folder: Path) -> str:
    from tasks import versioning

    repo = versioning.ensure_repo(settings.workspace, settings.dvc_remote_name, settings.dvc_remote_url)
    md5 = versioning.track(repo, folder)
    if settings.dvc_push:
        versioning.push(repo, folder)
    return md5


def _append_history(settings: Any, name: str, record: dict[str, Any]) -> None:
    path = golden_root(settings) / HISTORY / name / "versions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def versions(settings: Any, name: str) -> list[dict[str, Any]]:
    path = golden_root(settings) / HISTORY / name / "versions.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
