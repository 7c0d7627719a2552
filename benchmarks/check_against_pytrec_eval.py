"""Independent check of a benchmark run: re-score every cached TREC run file with pytrec_eval (trec_eval's C
code) and compare with the per-query nDCG@10 nightshift computed and logged for the same run.

    python benchmarks/check_against_pytrec_eval.py data/benchmarks --dataset data/samples/scifact \\
        --dataset /path/to/cranfield

Results are cached by the benchmark flow under ``<data_dir>/benchmarks/<dataset hash>/<candidate>-<measure>/``
(``result.json``, ``per_query.csv``, ``run.trec.gz``); a dataset is matched by its folder name. Prints one line
per result and the largest per-query difference (0 up to float rounding when the metrics agree).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import pandas as pd
import pytrec_eval


def qrels_of(folder: Path, split: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
        query, doc, score = line.split("\t")
        qrels.setdefault(query, {})[doc] = int(score)
    return qrels


def trec_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            query, _, doc, _, score, _ = line.split()
            run.setdefault(query, {})[doc] = float(score)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, help="the benchmark result cache (<data_dir>/benchmarks)")
    parser.add_argument("--dataset", type=Path, action="append", required=True, help="a BEIR folder (repeatable)")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    datasets = {p.name: p for p in args.dataset}
    worst, n = 0.0, 0
    for folder in sorted(args.cache.glob("*/*")):
        result = json.loads((folder / "result.json").read_text())
        if result["dataset"] not in datasets or not (folder / "run.trec.gz").is_file():
            continue
        scores = pytrec_eval.RelevanceEvaluator(qrels_of(datasets[result["dataset"]], args.split),
                                                {"ndcg_cut.10"}).evaluate(trec_run(folder / "run.trec.gz"))
        theirs = pd.Series({q: v["ndcg_cut_10"] for q, v in scores.items()})
        ours = pd.read_csv(folder / "per_query.csv", dtype={"query_id": str}).set_index("query_id")["ndcg@10"]
        common = ours.index.intersection(theirs.index)
        diff = float((ours[common] - theirs[common]).abs().max())
        worst, n = max(worst, diff), n + 1
        print(f"{result['dataset']:10s} {result['candidate']:50s} n={len(common)} nightshift={ours[common].mean():.4f} "
              f"pytrec_eval={theirs[common].mean():.4f} max|diff|={diff:.1e}")
    print(f"{n} results checked; largest per-query |difference| = {worst:.1e}")


if __name__ == "__main__":
    main()
