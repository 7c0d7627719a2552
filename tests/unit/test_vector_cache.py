import sqlite3

import numpy as np
import pytest

from tasks.vector_cache import VectorCache


def test_roundtrip_and_missing(tmp_path):
    vecs = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    with VectorCache(tmp_path / "v.sqlite") as cache:
        cache.put_many("fp", ["a", "b", "c"], vecs)
        got = cache.get_many("fp", ["a", "c", "zz"])
        assert set(got) == {"a", "c"}
        np.testing.assert_array_equal(got["c"], vecs[2])
        assert cache.get_many("other-fp", ["a"]) == {}
        assert cache.count("fp") == 3


def test_corrupt_row_is_dropped_not_served(tmp_path):
    path = tmp_path / "v.sqlite"
    with VectorCache(path) as cache:
        cache.put_many("fp", ["a", "b"], np.ones((2, 4), np.float32))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE vectors SET vec=? WHERE hash='a'", (np.zeros(4, np.float32).tobytes(),))
    conn.commit()
    conn.close()
    with VectorCache(path) as cache:
        got = cache.get_many("fp", ["a", "b"])
        assert set(got) == {"b"} and cache.n_corrupt == 1
        assert cache.count("fp") == 1  # the corrupt row was deleted, to be re-embedded


def test_length_mismatch_is_refused(tmp_path):
    with VectorCache(tmp_path / "v.sqlite") as cache, pytest.raises(ValueError, match="2 hashes but 1 vectors"):
        cache.put_many("fp", ["a", "b"], np.ones((1, 4), np.float32))
