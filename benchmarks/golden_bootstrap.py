"""Golden set bootstrapped from query logs vs SciFact's official qrels: nDCG@10, gate verdicts, labelling effort.

A team with no golden set, simulated on SciFact with the product's own path:
1. three real indexes of the full SciFact corpus built by the reindex flow (the demo config; whole documents cut at
   64 tokens; paraphrase-MiniLM-L3-v2 ONNX at 128 tokens: the A/A and the two regressions of
   ``benchmarks/gate_calibration.py``), each run over every SciFact query (top 10, the index's own retriever);
2. ``golden init`` (the real flow) on the demo query logs (``data/querylogs/demo``: 1,109 SciFact queries + 60
   NFCorpus ones) with the demo index published: 300 queries sampled (unique, near-duplicates dropped, stratified
   by topic cluster x length x script), candidates pooled from dense, BM25 and hybrid at ``--depth``;
3. the labelling CSV filled from the real qrels (test + train: standing in for the person; a pooled document not
   in the qrels gets 0, the NFCorpus queries get 0 everywhere) and imported with ``golden label``;
4. for pool depths d (each retriever's top d, or dense alone = single-retriever candidates), the bootstrapped qrels
   are the judged rows with rank <= d; the baseline's nDCG@10 on them vs on the official qrels of the same sampled
   queries, and the gate's verdict (``tasks.significance.decide`` via ``gate_calibration.describe_pair``, min_effect
   0.01, alpha 0.05) on each case with either qrels. As in evaluate, a query with no relevant judged document is
   not scored. Judgements per query = judged rows per sampled query at d.

The headline (``--json``: the last stdout line) is the smallest pooled depth that agrees (|delta nDCG@10| <= 0.02
and every verdict equal), else the deepest. ``ndcg_at_10_official_test_set`` is the official 300-query test golden
set, for reference. Vectors go through the workspace's cache: a rerun (same ``--workspace``) embeds nothing.
    python benchmarks/golden_bootstrap.py --json [--workspace DIR] [--seed-cache vectors.sqlite]
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

SCIFACT = ROOT / "data" / "samples" / "scifact"
DEMO_LOGS = ROOT / "data" / "querylogs" / "demo"
L3 = ["embedder.model=paraphrase-MiniLM-L3-v2-onnx", "embedder.backend=onnx", "embedder.tokenizer=all-MiniLM-L6-v2",
      "embedder.max_tokens=128", "embedder.pooling=mean", "embedder.onnx_output='461'"]
SYSTEMS = {"truncated_64": ["chunking.strategy=whole", "chunking.truncate=true", "embedder.max_tokens=64"],
           "l3": L3, "baseline": []}  # baseline last: it is `current` when golden init pools
CASES = {"aa": "baseline", "truncated_64": "truncated_64", "l3": "l3"}  # case -> tonight's system (champion: baseline)
DEPTHS = (1, 2, 3, 5, 10, 20)


def read_qrels(*paths: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                out.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    return out


def workspace(root: Path, seed_cache: Path | None):
    from tasks.config.settings import Settings

    settings = Settings(workspace=root / "ws", dvc_remote_url=str(root / "dvc-remote")).resolved()
    settings.workspace.mkdir(parents=True, exist_ok=True)
    cache = settings.cache_dir / "vectors.sqlite"
    if seed_cache is not None and seed_cache.is_file() and not cache.exists():  # content-addressed: only a shortcut
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(seed_cache) as src, sqlite3.connect(cache) as dst:
            src.backup(dst)
    return settings


def build_and_run(settings, queries: dict[str, str]) -> tuple[dict[str, dict], set[str], dict[str, float]]:
    """Each system indexed by the reindex flow, then its top 10 for every query; the baseline stays current."""
    from flows.reindex import reindex
    from tasks.config.loader import load_config
    from tasks.reindex.config import ReindexConfig
    from tasks.retrieval import open_index
    from tasks.retriever import IndexRetriever

    runs, seconds, doc_ids = {}, {}, set()
    for name, overrides in SYSTEMS.items():
        started = time.perf_counter()
        cfg = load_config(ReindexConfig, None, [f"source={SCIFACT / 'corpus.jsonl.gz'}", "gate.enabled=false",
                                                "force=true", *overrides])
        built = reindex(cfg, settings)
        if built["status"] != "published":
            raise SystemExit(f"{name}: reindex {built['status']}: {built.get('reason')}")
        loaded = open_index(settings.index_dir)
        runs[name] = IndexRetriever.open(loaded).retrieve(queries, 10)
        doc_ids = set(loaded.chunks["doc_id"].astype(str))
        seconds[name] = round(time.perf_counter() - started, 1)
        print(f"{name}: indexed and ran {len(queries)} queries in {seconds[name]} s", file=sys.stderr, flush=True)
    return runs, doc_ids, seconds


def bootstrap_file(settings, depth: int, qrels: dict[str, dict[str, int]]) -> tuple[list[dict], dict]:
    """golden init on the demo logs, the CSV filled from the real qrels, golden label."""
    from flows.golden import golden_init
    from tasks.config.loader import load_config
    from tasks.golden.config import GoldenConfig
    from tasks.golden.label import import_labels

    cfg = load_config(GoldenConfig, None, ["name=bootstrap", f"querylog.path={DEMO_LOGS}", "sample.n=300",
                                           f"pool.depth={depth}"])
    made = golden_init(cfg, settings)
    with open(made["file"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        source, _, oid = row["log_query_id"].partition(":")
        row["relevance"] = str(qrels.get(oid, {}).get(row["doc_id"], 0) if source == "scifact" else 0)
    with open(made["file"], "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    labelled = import_labels(settings, made["file"], by="official-qrels")
    return rows, {"init": {k: made[k] for k in ("file", "pool", "counts")},
                  "label": {k: labelled[k] for k in ("version", "n_qrels", "n_queries", "dvc_md5", "grades")}}


def judged(rows: list[dict], depth: int, modes: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """{sampled query (log id): {doc: grade}} for the rows some retriever of ``modes`` ranked within ``depth``."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        ranks = dict(part.split(":") for part in row["found_by"].split())
        out.setdefault(row["log_query_id"], {})
        if any(int(ranks[m]) <= depth for m in modes if m in ranks):
            out[row["log_query_id"]][row["doc_id"]] = int(row["relevance"])
    return out


def scores(run: dict[str, dict], qrels: dict[str, dict[str, int]]):
    from tasks.scoring import per_query_metrics

    return per_query_metrics(run, qrels, ["ndcg@10"])["ndcg@10"]


def verdicts(runs: dict[str, dict], qrels: dict[str, dict[str, int]], gate_args) -> dict[str, str]:
    from gate_calibration import describe_pair

    champion = scores(runs["baseline"], qrels)
    out = {}
    for case, system in CASES.items():
        tonight = scores(runs[system], qrels)
        common = champion.index.intersection(tonight.index)
        out[case] = "pass" if describe_pair(champion.loc[common], tonight.loc[common], gate_args)["gate_passed"] else "fail"
    return out


def compare(runs, rows, official, depth, modes, gate_args) -> dict:
    sampled = judged(rows, depth, modes)
    ids = {lid: lid.partition(":")[2] for lid in sampled if lid.startswith("scifact:")}
    rename = {oid: {d: g for d, g in sampled[lid].items()} for lid, oid in ids.items()}
    boot_runs = {name: {oid: run.get(oid, {}) for oid in rename} for name, run in runs.items()}
    off = {oid: official[oid] for oid in rename if oid in official}
    boot_scores, off_scores = scores(boot_runs["baseline"], rename), scores(boot_runs["baseline"], off)
    return {"depth": depth, "candidates": "+".join(modes),
            "judgements_per_query": sum(len(j) for j in sampled.values()) / len(sampled),
            "n_sampled": len(sampled), "n_scored_official": len(off_scores), "n_scored_bootstrap": len(boot_scores),
            "ndcg_at_10_official": float(off_scores.mean()), "ndcg_at_10_bootstrap": float(boot_scores.mean()),
            "verdicts": {c: {"official": o, "bootstrap": b} for (c, o), b in
                         zip(verdicts(boot_runs, off, gate_args).items(), verdicts(boot_runs, rename, gate_args).values())}}


def agrees(row: dict, tolerance: float) -> bool:
    return (abs(row["ndcg_at_10_official"] - row["ndcg_at_10_bootstrap"]) <= tolerance
            and all(v["official"] == v["bootstrap"] for v in row["verdicts"].values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/nightshift-golden-bootstrap"))
    parser.add_argument("--seed-cache", type=Path, help="copy this vector cache into a new workspace first")
    parser.add_argument("--depth", type=int, default=max(DEPTHS), help="pool depth of golden init (the deepest)")
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    args = parser.parse_args()
    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    started = time.perf_counter()
    settings = workspace(args.workspace, args.seed_cache)
    qrels = read_qrels(SCIFACT / "qrels" / "test.tsv", SCIFACT / "qrels" / "train.tsv")
    texts = {json.loads(line)["_id"]: json.loads(line)["text"]
             for line in (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()}
    runs, doc_ids, build_seconds = build_and_run(settings, {q: texts[q] for q in sorted(qrels)})
    official = {q: {d: g for d, g in j.items() if d in doc_ids} for q, j in qrels.items()}  # dangling qrels dropped
    rows, made = bootstrap_file(settings, args.depth, qrels)
    gate_args = argparse.Namespace(min_effect=0.01, alpha=0.05)
    sweep = [compare(runs, rows, official, d, modes, gate_args)
             for modes in (("dense", "bm25", "hybrid"), ("dense",)) for d in DEPTHS if d <= args.depth]
    for row in sweep:
        row["agrees"] = agrees(row, args.tolerance)
        print(f"{row['candidates']:>18} depth {row['depth']:>2}: {row['judgements_per_query']:5.1f} judgements/query, "
              f"nDCG@10 official {row['ndcg_at_10_official']:.4f} bootstrap {row['ndcg_at_10_bootstrap']:.4f} "
              f"(scored {row['n_scored_official']}/{row['n_scored_bootstrap']}), verdicts "
              + ", ".join(f"{c} {v['official']}/{v['bootstrap']}" for c, v in row["verdicts"].items())
              + (" AGREES" if row["agrees"] else ""), flush=True)

    def first_agreeing(candidates: str) -> dict | None:
        return next((r for r in sweep if r["candidates"] == candidates and r["agrees"]), None)

    pooled, single = first_agreeing("dense+bm25+hybrid"), first_agreeing("dense")
    head = pooled or [r for r in sweep if r["candidates"] == "dense+bm25+hybrid"][-1]
    test_set = scores(runs["baseline"], {q: official[q] for q in read_qrels(SCIFACT / "qrels" / "test.tsv")})
    result = {"ndcg_at_10_official": head["ndcg_at_10_official"], "ndcg_at_10_bootstrap": head["ndcg_at_10_bootstrap"],
              "verdicts": head["verdicts"], "judgements_per_query": head["judgements_per_query"],
              "depth": head["depth"], "agrees": head["agrees"], "tolerance": args.tolerance,
              "judgements_per_query_to_agree": {"pooled": pooled and pooled["judgements_per_query"],
                                                "single_dense": single and single["judgements_per_query"]},
              "ndcg_at_10_official_test_set": float(test_set.mean()), "n_test_set_scored": len(test_set),
              "golden": made, "sweep": sweep, "build_seconds": build_seconds,
              "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
