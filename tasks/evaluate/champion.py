"""The champion: the evaluation run that the next night is compared against.

Every evaluate run is tagged ``nightshift.golden=<name>:<split>``. A run that passes the gate, and a
run an ML engineer promotes (``nightshift evaluate --promote RUN_ID``), get the tag
``nightshift.champion_since`` = the time (epoch ms, zero-padded) at which it became champion. The
champion for a golden set is the run with the latest such time: the last passing run, unless an
engineer promoted another run after it (e.g. to accept a deliberate trade-off after a failed night).
Its per-query scores are read back from its ``per_query.csv`` artifact.

A backfilled run (tag ``nightshift.as_of=<date>``) is compared with the champion *as of that date*
(``champion_since`` at or before the end of the day) and never becomes champion itself: replaying
the past must not change who tonight's run is compared with.
"""

from __future__ import annotations

import getpass
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.tracking import mlflow_key  # noqa: F401 - re-exported: the key the champion's metrics are read by

FLOW = "evaluate"
GOLDEN_TAG, STATUS_TAG, SINCE_TAG = "nightshift.golden", "nightshift.status", "nightshift.champion_since"
PER_QUERY_ARTIFACT, JUDGMENTS_ARTIFACT = "per_query.csv", "golden_judgments.csv"


class ChampionError(ValueError):
    """A run cannot be read or promoted as a champion; the message says why."""


@dataclass(frozen=True)
class Champion:
    run_id: str
    how: str  # "last passing run" | "promoted"
    since: str  # ISO time it became champion
    per_query: pd.DataFrame  # index query_id, one column per metric
    golden_hash: str = ""  # the golden set content hash it was scored on (tag nightshift.golden_hash)
    golden_label: str = ""  # its golden version as shown to people ("<name>@v<N>", else the hash prefix)
    judgments: pd.Series | None = None  # query_id -> fingerprint of the judgments it was scored with


def champion_stamp(now: float | None = None) -> str:
    """The ``champion_since`` value: epoch milliseconds, zero-padded so tags sort as numbers."""
    return f"{int((time.time() if now is None else now) * 1000):015d}"


def as_of_stamp(as_of: str | None) -> str | None:
    """The ``champion_stamp`` of the end of day ``as_of`` (YYYY-MM-DD, UTC); None for a live run."""
    if not as_of:
        return None
    day = datetime.fromisoformat(as_of).replace(hour=23, minute=59, second=59, tzinfo=timezone.utc)
    return champion_stamp(day.timestamp())


def _iso(stamp: str) -> str:
    return datetime.fromtimestamp(int(stamp) / 1000, timezone.utc).isoformat(timespec="seconds")


def find_champion(tracker: Any, golden_key: str, exclude_run_id: str | None = None,
                  as_of: str | None = None) -> Champion | None:
    """The champion for ``golden_key`` now, or at ``as_of`` (a ``champion_stamp``); None before the first one."""
    experiment = tracker.client.get_experiment_by_name(f"{tracker.settings.experiment_prefix}-{FLOW}")
    if experiment is None:
        return None
    runs = tracker.client.search_runs(  # MLflow filters tags by equality only: the as-of cut-off is applied here
        [experiment.experiment_id],
        filter_string=f"tags.`{GOLDEN_TAG}` = '{golden_key}' and tags.`{SINCE_TAG}` != ''",
        order_by=[f"tags.`{SINCE_TAG}` DESC"], max_results=5 if as_of is None else 1000)
    for run in runs:
        if run.info.run_id != exclude_run_id and (as_of is None or run.data.tags[SINCE_TAG] <= as_of):
            tags = run.data.tags
            how = "promoted" if tags.get("nightshift.promoted_at") else "last passing run"
            golden_hash = tags.get("nightshift.golden_hash", "")
            return Champion(run.info.run_id, how, _iso(tags[SINCE_TAG]), load_per_query(tracker, run.info.run_id),
                            golden_hash, tags.get("nightshift.golden_label_version") or golden_hash[:12],
                            load_judgments(tracker, run.info.run_id))
    return None


def load_per_query(tracker: Any, run_id: str) -> pd.DataFrame:
    """The per-query scores a run logged (``per_query.csv``)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = tracker.client.download_artifacts(run_id, PER_QUERY_ARTIFACT, tmp)
        except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing artifact
            raise ChampionError(f"run {run_id} has no readable {PER_QUERY_ARTIFACT} artifact "
                                f"({type(exc).__name__}); it cannot serve as champion") from None
        frame = pd.read_csv(path, dtype={"query_id": str}).set_index("query_id")
    return frame


def judgment_fingerprints(qrels: dict[str, dict[str, int]]) -> pd.Series:
    """Per query, a sha256 of the judgments it is scored with: equal fingerprints = comparable scores."""
    from tasks.documents import sha256_text

    return pd.Series({q: sha256_text(*(f"{d}={g}" for d, g in sorted(j.items())))[:16] for q, j in qrels.items()},
                     name="judgments", dtype=object)


def load_judgments(tracker: Any, run_id: str) -> pd.Series | None:
    """The ``golden_judgments.csv`` a run logged, or None (a run from before golden versions were compared)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = tracker.client.download_artifacts(run_id, JUDGMENTS_ARTIFACT, tmp)
        except Exception:  # noqa: BLE001 - absent artifact
            return None
        frame = pd.read_csv(path, dtype=str).set_index("query_id")
    return frame["judgments"]


def promote(tracker: Any, run_id: str) -> dict[str, Any]:
    """Make ``run_id`` the champion of its golden set from now on (MLflow tags); returns what was done."""
    try:
        run = tracker.client.get_run(run_id)
    except Exception:  # noqa: BLE001 - MlflowException for an unknown id
        raise ChampionError(f"no MLflow run {run_id!r} in {tracker.settings.tracking_uri}") from None
    tags = run.data.tags
    if tags.get("nightshift.flow") != FLOW or GOLDEN_TAG not in tags:
        raise ChampionError(f"run {run_id} is not a nightshift evaluate run (tag nightshift.flow="
                            f"{tags.get('nightshift.flow')!r}); only evaluate runs can be promoted")
    load_per_query(tracker, run_id)
    stamp = champion_stamp()
    tracker.set_tags(run_id, {SINCE_TAG: stamp, "nightshift.promoted_at": _iso(stamp),
                              "nightshift.promoted_by": _user()})
    return {"promoted": run_id, "golden": tags[GOLDEN_TAG], "status": tags.get(STATUS_TAG, ""),
            "champion_since": _iso(stamp),
            "metrics": {k: v for k, v in run.data.metrics.items() if "." not in k}}


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def per_query_artifact(per_query: pd.DataFrame, folder: Path) -> Path:
    """Write ``per_query.csv`` (query_id + one column per metric) for logging."""
    path = folder / PER_QUERY_ARTIFACT
    per_query.to_csv(path, index_label="query_id")  # full precision: A/A must compare equal
    return path
