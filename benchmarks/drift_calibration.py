"""Calibrate the drift decision on real queries: false-alarm rate (A/A) and power vs contamination.

Data: the 1,109 SciFact queries (data/samples/scifact/queries.jsonl) are "one query distribution";
NFCorpus queries (/work/shared/data/nfcorpus-preprocessed/queries.jsonl, or --nfcorpus) are the
contamination. Every trial draws, with its own seed, a reference of ``--reference-size`` (809, the
demo's reference weeks) SciFact queries and a disjoint current window of n queries (100 or 300) of
which a share s (0, 5, 10, 20, 50%) are NFCorpus queries. s = 0 is an A/A split.

Each trial runs exactly what the flow runs (``tasks.drift.plan.run_family`` with the tests of
``configs/drift.yaml``): the same features (query vectors, word counts, OOV rate against the indexed
corpus, Unicode script, top-1 similarity against the published index, novelty), the same tests with
the same parameters, Holm at the family-wise alpha. corpus_drift is skipped (no new documents).

Reported: each test's false-alarm rate at the nominal alpha (raw p <= alpha) and the combined
decision's, with exact (Clopper-Pearson) 95% intervals; the detection rate per (n, share).
Query vectors and features are cached under --cache (default /tmp/nightshift-drift-bench), so a
rerun costs only the tests; the splits and vectors are also written as .npy/.json for
benchmarks/drift_evidently.py. Run (about 10-20 minutes on 2 busy vCPUs):

    python benchmarks/drift_calibration.py --index-dir data/indexes [--trials 100 --aa-trials 200 --workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARES = (0.0, 0.05, 0.1, 0.2, 0.5)
SIZES = (100, 300)
_STATE: dict = {}


def read_queries(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def prepare(args: argparse.Namespace) -> dict:
    """Features of every query (cached in ``args.cache``), the golden vectors and the config."""
    from nightshift.offline import apply_offline_defaults
    from tasks.config.loader import load_config
    from tasks.drift.steps import golden_texts
    from tasks.querylogs import features as f
    from tasks.drift.config import DriftConfig
    from tasks.retrieval import NoPublishedIndex, embedder_for, open_index
    from tasks.vector_cache import VectorCache
    from tasks.vectorize import embed_queries

    apply_offline_defaults()
    config = load_config(DriftConfig, args.config)
    texts = read_queries(ROOT / "data/samples/scifact/queries.jsonl") + read_queries(args.nfcorpus)
    source = np.array(["scifact"] * (len(texts) - len(read_queries(args.nfcorpus))) + ["nfcorpus"]
                      * len(read_queries(args.nfcorpus)))
    try:
        loaded = open_index(args.index_dir)
    except NoPublishedIndex as exc:
        loaded, missing = None, str(exc)
    if loaded is not None:
        embedder = embedder_for(loaded)
    else:
        from tasks.embedding import load_embedder

        embedder = load_embedder(config.embedder)
    args.cache.mkdir(parents=True, exist_ok=True)
    with VectorCache(args.cache / "vectors.sqlite") as cache:
        vectors, stats_ = embed_queries(texts, embedder, cache)
        golden, _ = embed_queries(golden_texts(ROOT / config.golden.dir, config.golden.split), embedder, cache)
    print(f"query vectors: {stats_}", file=sys.stderr)
    scalars = {"query_length": f.word_counts(texts)}
    unavailable = {"corpus": "benchmark: no new documents"}
    if loaded is not None:
        from tasks.retriever import IndexRetriever
        from tasks.retrievers import spec_of

        scalars["top1_score"] = f.top1_scores(IndexRetriever(loaded, embedder, spec_of(loaded.manifest)), vectors)
        scalars["oov_rate"] = f.oov_rates(texts, f.vocabulary(loaded.chunks["text"]))
    else:
        unavailable.update(top1_score=missing, oov_rate=missing)
    np.save(args.cache / "vectors.npy", vectors)
    np.save(args.cache / "source.npy", source)
    return {"config": config, "vectors": vectors, "scalars": scalars, "language": f.scripts(texts),
            "texts": texts, "source": source, "golden": golden, "unavailable": unavailable,
            "index": str(loaded.folder) if loaded is not None else None, "fingerprint": embedder.fingerprint}


def split(source: np.ndarray, n: int, share: float, n_ref: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sci = rng.permutation(np.flatnonzero(source == "scifact"))
    k = int(round(share * n))
    new = rng.choice(np.flatnonzero(source == "nfcorpus"), k, replace=False)
    return sci[:n_ref], np.r_[sci[n_ref:n_ref + n - k], new]


def window(state: dict, rows: np.ndarray):
    from tasks.drift.plan import WindowFeatures

    return WindowFeatures([state["texts"][i] for i in rows], state["vectors"][rows],
                          {k: v[rows] for k, v in state["scalars"].items()}, state["language"][rows])


def trial(job: tuple[int, float, int, list[int], list[int]]) -> dict:
    from threadpoolctl import threadpool_limits

    from tasks.drift.plan import SharedInputs, run_family

    n, share, seed, ref, cur = job
    state = _STATE
    shared = SharedInputs(golden=state["golden"], unavailable=dict(state["unavailable"]))
    with threadpool_limits(1):
        out = run_family(state["config"], window(state, np.array(ref)), window(state, np.array(cur)), shared)
    return {"n": n, "share": share, "seed": seed, "drift": out.decision.drift,
            "p": {k: r.p_value for k, r in out.results.items()},
            "holm": out.decision.adjusted_p_values, "skipped": sorted(out.skipped)}


def rate(hits: int, n: int) -> tuple[float, float, float]:
    ci = stats.binomtest(hits, n).proportion_ci(0.95, method="exact")
    return hits / n, float(ci.low), float(ci.high)


def fmt(hits: int, n: int) -> str:
    r, lo, hi = rate(hits, n)
    return f"{r:.3f} [{lo:.3f}, {hi:.3f}]"


def report(rows: list[dict], alpha: float) -> str:
    lines = [f"### False-alarm rate (A/A, share 0), nominal alpha = {alpha}", "",
             "| test | n=" + " | n=".join(map(str, SIZES)) + " |", "|---|" + "---|" * len(SIZES)]
    aa = {n: [r for r in rows if r["n"] == n and r["share"] == 0.0] for n in SIZES}
    labels = sorted({k for r in rows for k in r["p"]})
    for label in labels:
        cells = [fmt(sum(r["p"][label] <= alpha for r in aa[n] if label in r["p"]),
                     sum(label in r["p"] for r in aa[n])) for n in SIZES]
        lines.append(f"| {label} (raw p <= alpha) | " + " | ".join(cells) + " |")
    lines.append("| **combined (Holm)** | " + " | ".join(fmt(sum(r["drift"] for r in aa[n]), len(aa[n]))
                                                  for n in SIZES) + " |")
    lines += ["", "### Detection rate of the combined decision vs NFCorpus share of the current window", "",
              "| current queries | " + " | ".join(f"{s:.0%}" for s in SHARES) + " |", "|---|" + "---|" * len(SHARES)]
    for n in SIZES:
        cells = []
        for s in SHARES:
            cell = [r for r in rows if r["n"] == n and r["share"] == s]
            cells.append(fmt(sum(r["drift"] for r in cell), len(cell)) if cell else "-")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "### Per-test detection rate at 10% contamination (Holm-adjusted p <= alpha)", "",
              "| test | n=" + " | n=".join(map(str, SIZES)) + " |", "|---|" + "---|" * len(SIZES)]
    for label in labels:
        cells = []
        for n in SIZES:
            cell = [r for r in rows if r["n"] == n and r["share"] == 0.1 and label in r["holm"]]
            cells.append(f"{np.mean([r['holm'][label] <= alpha for r in cell]):.3f}" if cell else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_power(rows: list[dict], path: Path) -> None:
    """Detection rate of the combined decision vs contamination share, one line per window size, 95% CIs."""
    from tasks.reporting.figures import figure

    fig = figure(6.0, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    for n, colour in zip(SIZES, ("#dd8452", "#4c72b0")):
        cells = [[r["drift"] for r in rows if r["n"] == n and r["share"] == s] for s in SHARES]
        stats_ = [rate(sum(c), len(c)) for c in cells]
        x = [100 * s for s in SHARES]
        ax.plot(x, [v[0] for v in stats_], marker="o", color=colour, label=f"{n} current queries")
        ax.fill_between(x, [v[1] for v in stats_], [v[2] for v in stats_], color=colour, alpha=0.2)
    ax.axhline(0.05, color="black", linewidth=0.8, linestyle="--", label="alpha = 0.05")
    ax.axhline(0.8, color="grey", linewidth=0.8, linestyle=":", label="80% power")
    ax.set_xlabel("NFCorpus share of the current window (%)")
    ax.set_ylabel("drift detected (share of trials)")
    ax.set_title("combined decision (Holm), reference = 809 SciFact queries", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs/drift.yaml")
    parser.add_argument("--index-dir", type=Path, default=ROOT / "data/indexes")
    parser.add_argument("--nfcorpus", type=Path, default=ROOT.parent / "shared/data/nfcorpus-preprocessed/queries.jsonl")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/nightshift-drift-bench"))
    parser.add_argument("--trials", type=int, default=100, help="trials per (n, share > 0) cell")
    parser.add_argument("--aa-trials", type=int, default=200, help="A/A trials per n")
    parser.add_argument("--reference-size", type=int, default=809)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default: <cache>/calibration.json)")
    parser.add_argument("--plot", type=Path, default=None, help="also draw the power curve into this PNG")
    parser.add_argument("--report-only", action="store_true", help="re-print the tables (and --plot) from --out")
    args = parser.parse_args()
    out = args.out or args.cache / "calibration.json"
    if args.report_only:
        saved = json.loads(out.read_text())
        print(report(saved["rows"], saved["meta"]["alpha"]) + f"\n\n{saved['meta']}")
        if args.plot:
            plot_power(saved["rows"], args.plot)
        return
    started = time.perf_counter()
    _STATE.update(prepare(args))
    jobs, splits = [], []
    for n in SIZES:
        for share in SHARES:
            for t in range(args.aa_trials if share == 0 else args.trials):
                seed = 10_000 * SIZES.index(n) + 1_000 * SHARES.index(share) + t
                ref, cur = split(_STATE["source"], n, share, args.reference_size, seed)
                jobs.append((n, share, seed, ref.tolist(), cur.tolist()))
                splits.append({"n": n, "share": share, "seed": seed, "reference": ref.tolist(), "current": cur.tolist()})
    (args.cache / "splits.json").write_text(json.dumps(splits))
    print(f"{len(jobs)} trials, {args.workers} worker(s) ...", file=sys.stderr)
    if args.workers > 1:
        import multiprocessing

        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("fork")) as pool:
            rows = list(pool.map(trial, jobs, chunksize=4))
    else:
        rows = [trial(job) for job in jobs]
    alpha = _STATE["config"].alpha
    text = report(rows, alpha)
    meta = {"index": _STATE["index"], "fingerprint": _STATE["fingerprint"], "reference_size": args.reference_size,
            "alpha": alpha, "tests": sorted(_STATE["config"].enabled_tests()), "seconds": round(time.perf_counter() - started, 1)}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, default=float))
    if args.plot:
        plot_power(rows, args.plot)
    print(text)
    print(f"\n{meta}")


if __name__ == "__main__":
    main()
