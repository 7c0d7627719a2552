"""Evidently 0.7.23's embedding-drift methods on the SAME splits as benchmarks/drift_calibration.py.

Evidently does not import with pandas 3 (the main environment's), so this script runs in a benchmark-only
venv: started with any Python, it creates ``.venv-evidently`` (``python3.11 -m venv`` + ``pip install -r
benchmarks/requirements-evidently.txt``) if missing and re-executes itself there. It reads what the main
venv wrote under --cache (default /tmp/nightshift-drift-bench): ``vectors.npy`` (MiniLM query vectors),
``splits.json`` (every trial's reference/current rows) and ``calibration.json`` (our decisions per trial).

Methods (``evidently.legacy.metrics.data_drift.embedding_drift_methods``, called exactly as
``EmbeddingsDriftMetric.calculate`` calls them; the metric's t-SNE picture is skipped, it does not affect
the decision):

- ``default``: what ``EmbeddingsDrift``/``EmbeddingsDriftMetric`` uses without a ``drift_method``:
  ``model(bootstrap=len(reference) < 1000)`` - a classifier's held-out ROC AUC against the 95th
  percentile of 100 random-score AUCs (bootstrap) or against 0.55 (no bootstrap);
- ``mmd_bootstrap``: ``mmd(bootstrap=True)`` (drift when MMD² exceeds the 5th percentile of bootstrap
  MMD² values drawn from the reference);
- ``distance_bootstrap``: ``distance(bootstrap=True)`` (euclidean distance of the means vs the 95th
  percentile of bootstrap distances within the reference).

Run (after drift_calibration.py, ~10-20 minutes): python benchmarks/drift_evidently.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("NIGHTSHIFT_EVIDENTLY_VENV", ROOT / ".venv-evidently"))
REQUIREMENTS = ROOT / "benchmarks" / "requirements-evidently.txt"


def ensure_venv() -> None:
    """Re-execute in the Evidently venv (created on first use) unless already there."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        print(f"creating {VENV} (evidently, pandas<3) ...", file=sys.stderr)
        subprocess.run(["python3.11", "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def methods(n_reference: int) -> dict:
    from evidently.legacy.metrics.data_drift.embedding_drift_methods import distance, mmd, model

    return {"default": model(bootstrap=n_reference < 1000), "mmd_bootstrap": mmd(bootstrap=True),
            "distance_bootstrap": distance(bootstrap=True)}


def rate(hits: int, n: int) -> str:
    from scipy import stats

    ci = stats.binomtest(hits, n).proportion_ci(0.95, method="exact")
    return f"{hits / n:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def table(rows: list[dict], ours: dict, names: list[str]) -> str:
    sizes = sorted({r["n"] for r in rows})
    shares = sorted({r["share"] for r in rows})
    lines = ["| method | current queries | " + " | ".join(f"{s:.0%}" for s in shares) + " |",
             "|---|---|" + "---|" * len(shares)]
    for name in ["nightshift (Holm)", *names]:
        for n in sizes:
            cells = []
            for s in shares:
                cell = [r for r in rows if r["n"] == n and r["share"] == s]
                hits = [ours[r["seed"]] for r in cell] if name.startswith("nightshift") else [r[name] for r in cell]
                cells.append(rate(sum(hits), len(hits)) if hits else "-")
            lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/nightshift-drift-bench"))
    parser.add_argument("--max-trials", type=int, default=None, help="at most this many trials per (n, share) cell")
    args = parser.parse_args()
    ensure_venv()
    import evidently
    import numpy as np
    import pandas as pd

    vectors = np.load(args.cache / "vectors.npy")
    splits = json.loads((args.cache / "splits.json").read_text())
    ours = {r["seed"]: bool(r["drift"]) for r in json.loads((args.cache / "calibration.json").read_text())["rows"]}
    if args.max_trials:
        kept: dict = {}
        splits = [s for s in splits if kept.setdefault((s["n"], s["share"]), []).append(s) or
                  len(kept[(s["n"], s["share"])]) <= args.max_trials]
    started, rows = time.perf_counter(), []
    for i, split in enumerate(splits):
        ref = pd.DataFrame(vectors[split["reference"]])
        cur = pd.DataFrame(vectors[split["current"]])
        row = {k: split[k] for k in ("n", "share", "seed")}
        for name, method in methods(len(ref)).items():
            _, detected, _ = method(cur.copy(), ref.copy())  # ModelDriftMethod adds a column to its inputs
            row[name] = bool(detected)
        rows.append(row)
        if i % 100 == 0:
            print(f"{i}/{len(splits)} trials, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    names = list(methods(10))
    (args.cache / "evidently.json").write_text(json.dumps({"evidently": evidently.__version__, "rows": rows}))
    print(f"### Drift detection rate on the same splits (Evidently {evidently.__version__}, pandas {pd.__version__})")
    print("Share 0% is the false-alarm rate (nominal 5% for every method); exact 95% binomial intervals.\n")
    print(table(rows, ours, names))
    print(f"\n{len(rows)} trials in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
