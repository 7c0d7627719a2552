"""nDCG@10 of embedder presets on BEIR collections, and their vectors' distance from the fp32 model.

Used by ``embedding_throughput.py`` (its recommendation can pick a fast preset only through these
numbers). Protocol as MTEB embeds a retrieval collection: one vector per document
(``title + " " + text`` cut at the model's token limit), exact inner-product search, top 10.
Vectors go to a content-addressed cache (key: embedder fingerprint + text hash), so a rerun only
embeds what changed; presets with different fingerprints never share an entry.

    python benchmarks/embedding_quality.py [--collections scifact cranfield med] [--presets ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REFERENCE = "all-MiniLM-L6-v2"
DEFAULT_COLLECTIONS = ("scifact", "cranfield", "med")
CACHE = ROOT / "data" / "cache" / "benchmarks" / "embedding_quality.sqlite"


def collection_folder(name: str) -> Path:
    if name == "scifact":
        return ROOT / "data" / "samples" / "scifact"
    return Path(os.environ.get("NIGHTSHIFT_IR_DATA", ROOT.parent / "shared" / "data")) / name


def ndcg_at_10(doc_vectors: np.ndarray, doc_ids: list[str], query_vectors: np.ndarray,
               query_ids: list[str], qrels: dict[str, dict[str, int]]) -> float:
    from tasks.scoring import aggregate, per_query_metrics

    scores = query_vectors @ doc_vectors.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    run = {qid: {doc_ids[j]: float(scores[row, j]) for j in top[row]} for row, qid in enumerate(query_ids)}
    return aggregate(per_query_metrics(run, qrels, ["ndcg@10"]))["ndcg@10"]


def evaluate_collection(name: str, presets: list[str], cache_path: Path = CACHE) -> dict[str, dict]:
    """``{preset: {"ndcg_at_10", "max_abs_diff_vs_fp32", "fingerprint"}}`` for one collection."""
    from tasks.chunking import ChunkingConfig, chunk_documents
    from tasks.datasets import as_documents, load_beir
    from tasks.embedding import load_embedder
    from tasks.vector_cache import VectorCache
    from tasks.vectorize import embed_chunks, embed_queries

    data = load_beir(collection_folder(name), name=name)
    docs = as_documents(data)
    query_ids = sorted(data.queries)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict] = {}
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with VectorCache(cache_path) as cache:
        for preset in [REFERENCE] + [p for p in presets if p != REFERENCE]:
            embedder = load_embedder(preset)
            chunks = chunk_documents(docs, embedder.counter, ChunkingConfig(strategy="whole", truncate=True))
            d, _ = embed_chunks(chunks, embedder, cache, progress=False)
            q, _ = embed_queries([data.queries[i] for i in query_ids], embedder, cache)
            vectors[preset] = (d, q)
            ref_d, ref_q = vectors[REFERENCE]
            out[preset] = {
                "ndcg_at_10": ndcg_at_10(d, [c.doc_id for c in chunks], q, query_ids, data.qrels),
                "max_abs_diff_vs_fp32": float(max(np.abs(d - ref_d).max(), np.abs(q - ref_q).max())),
                "fingerprint": embedder.fingerprint,
            }
    return out


def quality_table(collections: list[str], presets: list[str], cache_path: Path = CACHE) -> dict[str, dict]:
    return {name: evaluate_collection(name, presets, cache_path) for name in collections}


def meets_bound(table: dict[str, dict], preset: str, bound: float = 0.003) -> bool:
    """True when ``preset``'s nDCG@10 is within ``bound`` of the fp32 model's on every collection."""
    return all(abs(rows[preset]["ndcg_at_10"] - rows[REFERENCE]["ndcg_at_10"]) <= bound for rows in table.values())


def main() -> None:
    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", nargs="+", default=list(DEFAULT_COLLECTIONS))
    parser.add_argument("--presets", nargs="+", default=["all-MiniLM-L6-v2-bf16"])
    args = parser.parse_args()
    table = quality_table(args.collections, args.presets)
    for name, rows in table.items():
        for preset, row in rows.items():
            print(f"{name:10s} {preset:28s} nDCG@10 {row['ndcg_at_10']:.4f}  max|diff| {row['max_abs_diff_vs_fp32']:.2e}",
                  file=sys.stderr)
    print(json.dumps(table))


if __name__ == "__main__":
    main()
