"""BM25 over a list of texts with ``bm25s``, configured to reproduce Lucene/Pyserini BM25.

Defaults = Pyserini's BEIR baselines: Lucene BM25 scoring (``method="lucene"``), k1=0.9, b=0.4,
Lucene's EnglishAnalyzer chain approximated with bm25s parts: word tokens including
single characters (``\\w+``; Lucene's StandardTokenizer keeps them, bm25s' default ``\\w\\w+``
drops them), lower-casing, Lucene's 33 English stopwords (bm25s ``"en"`` is exactly that set),
then the original Porter stemmer (PyStemmer ``"porter"``, as Lucene's PorterStemFilter).
Repeated query terms count once per occurrence, as Pyserini's bag-of-words query.

Search scores every document (a sparse sum in bm25s) and selects the top k itself, so ties are
broken deterministically, as trec_eval ranks (score desc, then doc id desc); documents that match
no query term (score 0) are not returned.

Persistence: bm25s' own format (``.npy`` arrays written and read with ``allow_pickle=False``,
JSON vocab/params) plus our ``bm25.json`` (ids and tokenizer settings). No pickle anywhere.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SETTINGS_FILE = "bm25.json"
FORMAT_VERSION = 1
TOKEN_PATTERN = r"(?u)\b\w+\b"


@dataclass(frozen=True)
class Bm25Settings:
    k1: float = 0.9
    b: float = 0.4
    method: str = "lucene"  # bm25s scoring variant: lucene | robertson | atire | bm25l | bm25+
    stemmer: str | None = "porter"  # a PyStemmer algorithm name, or None
    stopwords: str | None = "en"  # bm25s stopword list name ("en" = Lucene's), or None
    lower: bool = True
    token_pattern: str = TOKEN_PATTERN


def _stemmer(name: str | None):
    if name is None:
        return None
    try:
        import Stemmer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("BM25 stemming needs PyStemmer: pip install PyStemmer") from exc
    if name not in Stemmer.algorithms():
        raise ValueError(f"unknown stemmer {name!r}; PyStemmer offers {', '.join(Stemmer.algorithms())}")
    return Stemmer.Stemmer(name)


class Bm25Index:
    """A BM25 index over ``texts`` keyed by ``ids``; build with ``Bm25Index.build``."""

    def __init__(self, ids: list[str], settings: Bm25Settings, retriever) -> None:
        self.ids = ids
        self.settings = settings
        self._retriever = retriever
        self._stem = _stemmer(settings.stemmer)
        order = np.argsort(np.array(ids, dtype=object), kind="stable")
        self._id_rank = np.empty(len(ids), dtype=np.int64)  # rank of each doc id in sorted order
        self._id_rank[order] = np.arange(len(ids))

    @classmethod
    def build(cls, ids: list[str], texts: list[str], k1: float = 0.9, b: float = 0.4,
              stemmer: str | None = "porter", stopwords: str | None = "en",
              method: str = "lucene", token_pattern: str = TOKEN_PATTERN) -> "Bm25Index":
        import logging

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.INFO)  # bm25s sets its own logger to DEBUG on import
        ids = [str(i) for i in ids]
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        if not ids:
            raise ValueError("cannot build a BM25 index over no texts")
        settings = Bm25Settings(k1=k1, b=b, method=method, stemmer=stemmer, stopwords=stopwords,
                                token_pattern=token_pattern)
        tokens = bm25s.tokenize(list(texts), lower=settings.lower, token_pattern=token_pattern,
                                stopwords=stopwords, stemmer=_stemmer(stemmer), show_progress=False)
        retriever = bm25s.BM25(k1=k1, b=b, method=method)
        retriever.index(tokens, show_progress=False)
        return cls(ids, settings, retriever)

    def __len__(self) -> int:
        return len(self.ids)

    def tokenize_queries(self, queries: list[str]) -> list[list[str]]:
        import bm25s

        return bm25s.tokenize(list(queries), lower=self.settings.lower,
                              token_pattern=self.settings.token_pattern, stopwords=self.settings.stopwords, stemmer=self._stem,
                              return_ids=False, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for one query (0 where no term matches)."""
        tokens = self.tokenize_queries([query])[0]
        token_ids = self._retriever.get_tokens_ids(tokens)
        if not token_ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(token_ids))

    def search(self, queries: list[str], k: int = 10) -> list[list[tuple[str, float]]]:
        """Top ``k`` (doc id, score) per query, score desc then id desc; only matching docs."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        return [self._top_k(self.scores(query), k) for query in queries]

    def _top_k(self, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
        matching = np.flatnonzero(scores > 0)
        if matching.size > k:  # keep everything tied with the k-th score, then order exactly
            kth = np.partition(scores[matching], matching.size - k)[matching.size - k]
            matching = matching[scores[matching] >= kth]
        order = np.lexsort((-self._id_rank[matching], -scores[matching]))[:k]
        return [(self.ids[i], float(scores[i])) for i in matching[order]]

    def save(self, folder: Path | str) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder), allow_pickle=False)
        meta = {"format_version": FORMAT_VERSION, "settings": asdict(self.settings), "ids": self.ids}
        (folder / SETTINGS_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "Bm25Index":
        import bm25s

        folder = Path(folder)
        meta_path = folder / SETTINGS_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path} not found: not a saved Bm25Index folder")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{meta_path}: unsupported format_version {meta.get('format_version')!r}")
        retriever = bm25s.BM25.load(str(folder), load_corpus=False, allow_pickle=False)
        ids = [str(i) for i in meta["ids"]]
        if retriever.scores["num_docs"] != len(ids):
            raise ValueError(f"{folder}: index holds {retriever.scores['num_docs']} documents "
                             f"but {SETTINGS_FILE} lists {len(ids)} ids")
        return cls(ids, Bm25Settings(**meta["settings"]), retriever)
