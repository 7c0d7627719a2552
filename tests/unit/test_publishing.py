import os

import pytest

from tasks.index_artifact import MANIFEST_FILE
from tasks.publishing import IndexStore, ReindexBusy, ReindexLock


def fake_build(store: IndexStore, name: str) -> "os.PathLike":
    folder = store.builds / name
    folder.mkdir(parents=True)
    (folder / MANIFEST_FILE).write_text('{"embedder": {}, "embedder_fingerprint": "x", "dim": 4, '
                                        '"index_spec": "flat", "index_kind": "flat", "corpus_fingerprint": "c", '
                                        '"n_documents": 1, "n_chunks": 1}')
    return folder


def test_publish_switches_current_and_records_history(tmp_path):
    store = IndexStore(tmp_path)
    assert store.current() is None
    a, b = fake_build(store, "20260101-a"), fake_build(store, "20260102-b")
    store.publish(a, {"index_version": "va"})
    assert store.current() == a.resolve()
    store.publish(b, {"index_version": "vb"})
    assert store.current() == b.resolve()
    assert [h["index_version"] for h in store.history()] == ["va", "vb"]
    assert os.readlink(store.current_link) == os.path.join("builds", "20260102-b")  # relative: the tree can move


def test_publish_refuses_a_build_without_manifest(tmp_path):
    store = IndexStore(tmp_path)
    empty = store.builds / "broken"
    empty.mkdir(parents=True)
    with pytest.raises(Exception, match="no manifest.json"):
        store.publish(empty, {})
    assert store.current() is None


def test_clean_keeps_current_and_newest_and_removes_staging(tmp_path):
    store = IndexStore(tmp_path)
    builds = [fake_build(store, f"2026010{i}") for i in range(1, 6)]
    store.publish(builds[0], {})
    (store.builds / ".staging-crashed").mkdir()
    removed = store.clean(keep=2)
    remaining = sorted(p.name for p in store.builds.iterdir())
    assert remaining == ["20260101", "20260104", "20260105"]
    assert ".staging-crashed" in removed


def test_lock_refuses_a_second_holder_with_a_clear_message(tmp_path):
    path = tmp_path / ".reindex.lock"
    with ReindexLock(path):
        with pytest.raises(ReindexBusy, match=r"another reindex is running \(pid \d+"):
            with ReindexLock(path, timeout=0.6):
                pass
    with ReindexLock(path):  # released on exit
        pass
