"""Content-addressed vector cache: key = (embedder fingerprint, chunk content hash).

SQLite in WAL mode: every batch is one transaction, so a ``kill -9`` loses at most the batch in
flight, and concurrent readers never see half-written rows. Each row carries a CRC32 of its bytes;
a row whose bytes do not match is treated as missing (and re-embedded), never served.
No pickle: vectors are raw little-endian float32 bytes.
"""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    fingerprint TEXT NOT NULL,
    hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    crc INTEGER NOT NULL,
    vec BLOB NOT NULL,
    PRIMARY KEY (fingerprint, hash)
) WITHOUT ROWID
"""
_BATCH = 500


class VectorCache:
    """``get_many``/``put_many`` over one SQLite file; safe to share between processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.n_corrupt = 0
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "VectorCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, fingerprint: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors found for these hashes; corrupt rows are dropped and counted in ``n_corrupt``."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}
        corrupt: list[str] = []
        for start in range(0, len(wanted), _BATCH):
            part = wanted[start:start + _BATCH]
            marks = ",".join("?" * len(part))
            rows = self._conn.execute(
                f"SELECT hash, dim, crc, vec FROM vectors WHERE fingerprint=? AND hash IN ({marks})",
                [fingerprint, *part])
            for digest, dim, crc, blob in rows:
                if zlib.crc32(blob) != crc or len(blob) != 4 * dim:
                    corrupt.append(digest)
                    continue
                found[digest] = np.frombuffer(blob, dtype="<f4")
        if corrupt:
            self.n_corrupt += len(corrupt)
            self._delete(fingerprint, corrupt)
        return found

    def put_many(self, fingerprint: str, hashes: list[str], vectors: np.ndarray) -> None:
        if len(hashes) != len(vectors):
            raise ValueError(f"{len(hashes)} hashes but {len(vectors)} vectors")
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        rows = []
        for digest, vec in zip(hashes, vectors):
            blob = vec.tobytes()
            rows.append((fingerprint, digest, vec.shape[0], zlib.crc32(blob), blob))
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?,?,?)", rows)

    def count(self, fingerprint: str | None = None) -> int:
        if fingerprint is None:
            return self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM vectors WHERE fingerprint=?", [fingerprint]).fetchone()[0]

    def _delete(self, fingerprint: str, hashes: list[str]) -> None:
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM vectors WHERE fingerprint=? AND hash=?",
                                   [(fingerprint, h) for h in hashes])
