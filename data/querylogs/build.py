"""Build the demo query logs deterministically (run from the repo root: ``python data/querylogs/build.py``).

- ``demo/reference_weeks.jsonl``: the 809 SciFact train queries, 2025-02-03 .. 2025-03-02 (4 weeks);
- ``demo/normal_week.jsonl``: the 300 SciFact test queries, 2025-03-03 .. 2025-03-09;
- ``demo/drifted_week.jsonl``: 2025-03-10 .. 2025-03-16, 300 queries: 240 SciFact test queries and
  60 NFCorpus test queries (20%), mixed at random times.

``mixing.json`` records which query went where. Timestamps: a seeded uniform day in the window and a
seeded time between 07:00 and 23:00 UTC; rows are sorted by time. Same inputs -> same bytes.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEED = 20250303
NF_SHARE = 0.2
WEEK = 300


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def qids(path: Path) -> set[str]:
    return {line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()}


def stamps(n: int, first: str, days: int, rng: np.random.Generator) -> list[str]:
    start = datetime.fromisoformat(first).replace(tzinfo=timezone.utc)
    day = rng.integers(0, days, n)
    second = rng.integers(7 * 3600, 23 * 3600, n)
    return sorted((start + timedelta(days=int(d), seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ")
                  for d, s in zip(day, second))


def write(path: Path, rows: list[tuple[str, str]], times: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for (qid, text), when in zip(rows, times):
            out.write(json.dumps({"timestamp": when, "query_id": qid, "query": text}, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scifact", type=Path, default=ROOT / "data/samples/scifact")
    parser.add_argument("--nfcorpus", type=Path, default=ROOT.parent / "shared/data/nfcorpus-preprocessed")
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    queries = {q["_id"]: q["text"] for q in read(args.scifact / "queries.jsonl")}
    train = [(f"scifact:{q}", queries[q]) for q in sorted(qids(args.scifact / "qrels/train.tsv"), key=int)]
    test = [(f"scifact:{q}", queries[q]) for q in sorted(qids(args.scifact / "qrels/test.tsv"), key=int)]
    nf = [(f"nfcorpus:{q['_id']}", q["text"]) for q in read(args.nfcorpus / "queries.jsonl")]
    n_new = int(round(NF_SHARE * WEEK))
    kept = [test[i] for i in sorted(rng.choice(len(test), WEEK - n_new, replace=False))]
    new = [nf[i] for i in sorted(rng.choice(len(nf), n_new, replace=False))]
    weeks = {
        "reference_weeks": (train, "2025-02-03", 28),
        "normal_week": (test, "2025-03-03", 7),
        "drifted_week": (kept + new, "2025-03-10", 7),
    }
    mixing = {"seed": SEED, "files": {}}
    for name, (rows, first, days) in weeks.items():
        order = rng.permutation(len(rows))  # which query gets which (sorted) timestamp
        rows = [rows[i] for i in order]
        write(HERE / "demo" / f"{name}.jsonl", rows, stamps(len(rows), first, days, rng))
        sources: dict[str, list[str]] = {}
        for qid, _ in rows:
            sources.setdefault(qid.split(":")[0], []).append(qid)
        mixing["files"][f"demo/{name}.jsonl"] = {
            "first_day": first, "days": days, "n_queries": len(rows),
            "by_source": {k: {"n": len(v), "share": round(len(v) / len(rows), 4), "query_ids": sorted(v)}
                          for k, v in sorted(sources.items())}}
    (HERE / "mixing.json").write_text(json.dumps(mixing, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: {s: v["n"] for s, v in f["by_source"].items()} for k, f in mixing["files"].items()}))


if __name__ == "__main__":
    main()
