"""``golden label FILE``: import a filled labelling file as the next version of its golden set.

Read (CSV with line numbers) -> GX check against the published index (``tasks.goldenset.labelcheck``)
-> merge over the current version with provenance per qrel -> new version in BEIR layout, swapped in,
``dvc add``-ed and pushed (``tasks.goldenset.store``) -> one MLflow run (experiment ``nightshift-golden``).
A refused file changes nothing: the previous version stays as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.config.settings import Settings


def import_labels(settings: Settings, file: Path | str, name: str | None = None, by: str | None = None,
                  split: str | None = None) -> dict[str, Any]:
    from tasks.goldenset.content import index_documents
    from tasks.goldenset.labelcheck import check_labels
    from tasks.goldenset.labelfile import LabelFileError, read_label_file, read_meta
    from tasks.goldenset.store import write_version
    from tasks.retrieval import open_index
    from tasks.tracking import Tracker

    path = Path(file).expanduser().resolve()
    raw = read_label_file(path)
    meta = read_meta(path)
    name = name or meta.get("golden")
    if not name:
        raise LabelFileError(f"{path}: which golden set? The file has no sidecar {path.name}.json naming it: "
                             "pass --name NAME", [])
    split = split or meta.get("split") or "test"
    loaded = open_index(settings.index_dir)
    docs = index_documents(loaded, settings)
    checked = check_labels(raw, set(docs.hashes))
    tracker = Tracker(settings)
    run_id = tracker.start_run("golden", tags={"nightshift.golden": f"{name}:{split}",
                                               "nightshift.golden_action": "label"})
    try:
        written = write_version(settings, name, split, checked.judgments, path, raw.sha256, docs.hashes, by)
    except BaseException:
        tracker.end_run(run_id, "FAILED")
        raise
    grades = [j.grade for j in checked.judgments]
    record = {"run_id": run_id, "golden": name, "file": str(path), **written, "n_blank": checked.n_blank,
              "grades": {str(g): grades.count(g) for g in (0, 1, 2)}, "hash_source": docs.source,
              "gx_success": checked.summary["success"]}
    tracker.log_metrics(run_id, {"n_judgments": len(grades), "n_blank": checked.n_blank,
                                 "n_qrels": written["n_qrels"], "n_queries": written["n_queries"],
                                 "version": written["version"]})
    tracker.set_tags(run_id, {"nightshift.golden_label_version": f"{name}@v{written['version']}",
                              "nightshift.golden_dvc_md5": written["dvc_md5"]})
    tracker.log_artifact(run_id, path)
    tracker.log_dict(run_id, record, "result.json")
    tracker.end_run(run_id, "FINISHED")
    return record
