"""Reindex cost at scale (issue 11): full build vs a 1%-changed update vs a no-op, and peak memory.

A synthetic corpus of --docs short documents (one chunk each: ``chunking.strategy=whole``), whose
vectors are pre-filled in the vector cache from the SciFact-fitted mixture of ``synthetic_vectors``
(the embedding stage is then cache reads; the 1%-changed run really embeds its changed documents,
with MiniLM, and that stage is reported apart). Each reindex runs in its own process (real Prefect
ephemeral API, MLflow SQLite, DVC local remote), so max RSS is per run; times are the flow's own
``seconds`` and ``seconds_by_stage``. Printed side by side in one run:

- non-embedding seconds of the 1%-changed run ÷ the full run's (target ≤ 0.05), and of a no-op (≤ 0.01);
- how the index was made (``index_build``: full / incremental) and each run's ANN recall@10;
- peak RSS of each run next to 2 × (index bytes + vectors in one batch) + the fixed overhead of the
  no-op process (the issue's bound), with the corpus text bytes for scale.

    python benchmarks/large_reindex.py --docs 100000        # ~10 min on 2 cores
    python benchmarks/large_reindex.py --docs 1000000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from synthetic_vectors import Mixture, real_vectors  # sibling module (run as a script)

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("cell protein gene expression patients risk cancer therapy trial dose receptor mice tumour immune "
         "response signal pathway blood brain heart liver kidney infection virus vaccine antibody insulin "
         "glucose obesity diet exercise sleep stress age women men children cohort study effect increase "
         "decrease level activity model mechanism role association treatment outcome mortality survival").split()

CHILD = """
import json, resource, sys
from nightshift.offline import apply_offline_defaults
apply_offline_defaults()
from flows.reindex import reindex
from tasks.config.loader import load_config
from tasks.reindex.config import ReindexConfig
from tasks.config.settings import Settings
result = reindex(load_config(ReindexConfig, None, json.loads(sys.argv[1])), Settings.load())
result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(result), flush=True)
"""

PREFILL = """
import json, sys
import numpy as np
from nightshift.offline import apply_offline_defaults
apply_offline_defaults()
from tasks.chunking import chunk_documents
from tasks.config.loader import load_config
from tasks.config.settings import Settings
from tasks.embedding import load_embedder
from tasks.loaders import load_source
from tasks.reindex.config import ReindexConfig
from tasks.vector_cache import VectorCache
cfg = load_config(ReindexConfig, None, json.loads(sys.argv[1]))
settings = Settings.load()
embedder = load_embedder(cfg.embedder)
docs = load_source(cfg.source, cfg.limits).documents
chunks = chunk_documents(docs, embedder.counter, cfg.chunking)
vectors = np.load(sys.argv[2], mmap_mode="r")
settings.cache_dir.mkdir(parents=True, exist_ok=True)
with VectorCache(settings.cache_dir / "vectors.sqlite") as cache:
    for i in range(0, len(chunks), 50_000):
        part = chunks[i:i + 50_000]
        cache.put_many(embedder.fingerprint, [c.content_hash for c in part], np.asarray(vectors[i:i + len(part)]))
print("RESULT " + json.dumps({"n_chunks": len(chunks), "n_docs": len(docs)}), flush=True)
"""


def synthetic_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"_id": f"doc{i}", "title": f"Study {i}",
             "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 90))) + f" Record {i}."}
            for i in range(n)]


def write_corpus(path: Path, records: list[dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    return path.stat().st_size


def run(script: str, env: dict, cwd: Path, *args: str) -> tuple[dict, float, float]:
    """(result, wall seconds, the child's own max RSS in MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not results:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return results[0], wall, float(results[0].get("maxrss_mb", "nan"))


def non_embedding_s(result: dict) -> float:
    return result["seconds"] - result["seconds_by_stage"].get("embed", 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000, help="documents (= chunks) in the synthetic corpus")
    parser.add_argument("--changed", type=float, default=0.01, help="share of documents edited for the update run")
    parser.add_argument("--kind", default="ivf", help="index.kind for every run (auto: the rule's choice)")
    parser.add_argument("--batch-size", type=int, default=32, help="embedder.batch_size")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--json", action="store_true", help="last stdout line: the results as one JSON object")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="nightshift-large-reindex-"))
    ws, source = tmp / "ws", tmp / "src" / "corpus.jsonl"
    ws.mkdir()
    env = {**os.environ, "NIGHTSHIFT_WORKSPACE": str(ws), "NIGHTSHIFT_DVC_REMOTE_URL": str(tmp / "remote"),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    overrides = [f"source={source}", "chunking.strategy=whole", "chunking.truncate=true", f"index.kind={args.kind}",
                 f"embedder.batch_size={args.batch_size}"]
    records = synthetic_records(args.docs)
    text_bytes = write_corpus(source, records)
    print(f"corpus: {args.docs:,} documents, {text_bytes / 2**20:.0f} MB of JSONL in {tmp}", flush=True)

    real, _, _ = real_vectors(2000, 10, Path("/tmp/nightshift-scale/vectors.sqlite"))
    vectors = Mixture.fit(real).sample(args.docs, seed=1)
    np.save(tmp / "vectors.npy", vectors)
    prefill, prefill_s, _ = run(PREFILL, env, ws, json.dumps(overrides), str(tmp / "vectors.npy"))
    print(f"vector cache pre-filled with {prefill['n_chunks']:,} vectors in {prefill_s:.0f} s", flush=True)

    rows = {}
    full, wall, rss = run(CHILD, env, ws, json.dumps(overrides))
    rows["full"] = (full, wall, rss)
    print(f"full: {full['status']} in {full['seconds']:.1f} s ({full['index_build']})", flush=True)
    rng = random.Random(2)
    for i in rng.sample(range(len(records)), max(1, int(len(records) * args.changed))):
        records[i] = {**records[i], "text": records[i]["text"] + " A revised sentence."}
    write_corpus(source, records)
    rows["changed"] = run(CHILD, env, ws, json.dumps(overrides))
    print(f"{args.changed:.0%} changed: {rows['changed'][0]['status']} in {rows['changed'][0]['seconds']:.1f} s "
          f"({rows['changed'][0]['index_build']})", flush=True)
    rows["no-op"] = run(CHILD, env, ws, json.dumps(overrides))

    index_bytes = full.get("index_bytes") or sum(p.stat().st_size for p in (ws / "data" / "indexes" / "current").iterdir())
    batch_bytes = args.batch_size * vectors.shape[1] * 4
    fixed_mb = rows["no-op"][2]
    bound_mb = 2 * (index_bytes + batch_bytes) / 2**20 + fixed_mb
    base = non_embedding_s(full)
    report = {"docs": args.docs, "kind": args.kind, "changed_share": args.changed, "text_mb": round(text_bytes / 2**20, 1),
              "index_mb": round(index_bytes / 2**20, 1), "fixed_overhead_mb": round(fixed_mb), "rss_bound_mb": round(bound_mb),
              "load_average": os.getloadavg(), "runs": {}}
    print(f"\n{'run':<10} {'status':<10} {'index build':<12} {'seconds':>8} {'non-embed s':>12} {'÷ full':>7} "
          f"{'embedded':>9} {'recall@10':>9} {'max RSS MB':>11}")
    for name, (res, wall, rss) in rows.items():
        ratio = non_embedding_s(res) / base if base else float("nan")
        report["runs"][name] = {"status": res["status"], "index_build": res.get("index_build", ""),
                                "seconds": res["seconds"], "non_embedding_s": round(non_embedding_s(res), 2),
                                "ratio_vs_full": round(ratio, 4), "n_embedded": res["n_embedded"],
                                "ann_recall_at_10": res.get("ann_recall_at_10"), "maxrss_mb": round(rss),
                                "process_s": round(wall, 1), "seconds_by_stage": res["seconds_by_stage"]}
        recall = res.get("ann_recall_at_10")
        print(f"{name:<10} {res['status']:<10} {res.get('index_build') or '-':<12} {res['seconds']:>8.1f} "
              f"{non_embedding_s(res):>12.1f} {ratio:>7.3f} {res['n_embedded']:>9,} "
              f"{recall if recall is not None else '-':>9} {rss:>11,.0f}")
    peak = max(r[2] for r in rows.values())
    print(f"\npeak RSS {peak:,.0f} MB vs bound 2 x (index {index_bytes / 2**20:,.0f} MB + one batch "
          f"{batch_bytes / 2**20:.2f} MB) + fixed {fixed_mb:,.0f} MB (the no-op process) = {bound_mb:,.0f} MB: "
          f"{'within' if peak <= bound_mb else 'OVER'}; corpus text {text_bytes / 2**20:,.0f} MB")
    print(f"1%-changed ÷ full (non-embedding): {report['runs']['changed']['ratio_vs_full']:.3f} (target <= 0.05); "
          f"no-op ÷ full: {report['runs']['no-op']['ratio_vs_full']:.3f} (target <= 0.01)")
    report["peak_rss_mb"] = round(peak)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
