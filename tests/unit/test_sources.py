"""Source listing and safe reading: local folders, fsspec URLs, and every way out of the root."""

from __future__ import annotations

import io
import os
import uuid
from contextlib import nullcontext
from pathlib import Path

import fsspec
import pytest

from tasks import sources
from tasks.sources import (FileTooLarge, RejectedFileError, SourceError, list_source_files,
                           read_bytes)

MIXED = Path(__file__).resolve().parents[2] / "data" / "samples" / "mixed"


def _write(root: Path, rel: str, data: bytes | str = "text\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def memory_root():
    root = f"memory://nightshift-test-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_local_listing_sorted_with_metadata_and_hidden_skipped(tmp_path):
    for rel in ["b.md", "a/z.txt", "a-b.txt", "a/b/c.md", ".hidden.md", ".git/config", "a/.env"]:
        _write(tmp_path, rel, f"content of {rel}\n")
    files = list_source_files(tmp_path)
    assert [f.rel_path for f in files] == ["a-b.txt", "a/b/c.md", "a/z.txt", "b.md"]
    first = files[0]
    assert first.ok and first.size == len("content of a-b.txt\n")
    assert first.mtime == pytest.approx(os.stat(tmp_path / "a-b.txt").st_mtime)
    assert first.url == (tmp_path / "a-b.txt").as_uri()
    assert list_source_files(f"file://{tmp_path}") == files  # URL and path give the same listing


def test_listing_is_deterministic_whatever_the_creation_order(tmp_path):
    names = [f"d{i % 3}/f{i}.txt" for i in range(12)]
    for rel in reversed(names):
        _write(tmp_path / "one", rel)
    for rel in names:
        _write(tmp_path / "two", rel)
    one = [f.rel_path for f in list_source_files(tmp_path / "one")]
    two = [f.rel_path for f in list_source_files(tmp_path / "two")]
    assert one == two == sorted(names)


def test_include_and_exclude_patterns(tmp_path):
    for rel in ["a.md", "docs/b.md", "docs/c.txt", "docs/skip/d.md"]:
        _write(tmp_path, rel)
    assert [f.rel_path for f in list_source_files(tmp_path, include="*.md")] == \
        ["a.md", "docs/b.md", "docs/skip/d.md"]
    assert [f.rel_path for f in list_source_files(tmp_path, include=["docs/*"],
                                                 exclude="docs/skip/*")] == \
        ["docs/b.md", "docs/c.txt"]


def test_symlink_escaping_the_root_is_rejected_and_never_read(tmp_path):
    root = tmp_path / "src"
    _write(root, "inside.md", "# inside\n")
    secret = _write(tmp_path, "secret.txt", "password=hunter2\n")
    outside_dir = tmp_path / "elsewhere"
    _write(outside_dir, "more.md", "# more\n")
    os.symlink(secret, root / "escape.txt")
    os.symlink(outside_dir, root / "escape-dir")
    os.symlink("../secret.txt", root / "relative-escape.txt")
    files = {f.rel_path: f for f in list_source_files(root)}
    assert set(files) == {"inside.md", "escape.txt", "escape-dir", "relative-escape.txt"}
    for rel in ("escape.txt", "escape-dir", "relative-escape.txt"):
        assert files[rel].rejection.startswith("symlink escapes source root"), rel
        with pytest.raises(RejectedFileError):
            read_bytes(files[rel], 1024)
    assert not any(rel.startswith("escape-dir/") for rel in files)  # not descended


def test_symlinks_inside_the_root(tmp_path):
    _write(tmp_path, "real/doc.md", "# doc\n")
    os.symlink(tmp_path / "real" / "doc.md", tmp_path / "alias.md")
    os.symlink(tmp_path / "real", tmp_path / "linked-dir")
    os.symlink(tmp_path / "missing.md", tmp_path / "dangling.md")
    files = {f.rel_path: f for f in list_source_files(tmp_path)}
    assert files["alias.md"].ok and read_bytes(files["alias.md"], 100) == b"# doc\n"
    assert files["alias.md"].path == str((tmp_path / "real" / "doc.md").resolve())
    assert files["linked-dir"].rejection == "symlinked directory (not followed)"
    assert files["dangling.md"].rejection == "broken symlink"
    assert "linked-dir/doc.md" not in files


def test_fifo_and_undecodable_names_are_rejected(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")  # opening it would block forever
    bad_name = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")
    with open(bad_name, "wb") as handle:
        handle.write(b"text\n")
    files = {f.rel_path: f for f in list_source_files(tmp_path)}
    assert files["pipe.txt"].rejection.startswith("not a regular file")
    assert [f.rejection for f in files.values() if f.rel_path.startswith("caf")] == \
        ["file name is not valid UTF-8"]


def test_memory_source_lists_and_reads(memory_root):
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{memory_root}/a.md", b"# A\n")
    fs.pipe(f"{memory_root}/sub/b.txt", b"bee\n")
    fs.pipe(f"{memory_root}/.hidden/c.txt", b"hidden\n")
    fs.pipe(f"{memory_root}-sibling/x.md", b"not ours\n")  # shares the prefix, not the folder
    try:
        files = list_source_files(memory_root)
    finally:
        fs.rm(f"{memory_root}-sibling", recursive=True)
    assert [f.rel_path for f in files] == ["a.md", "sub/b.txt"]
    assert all(f.ok for f in files)
    assert files[0].url.startswith("memory://") and files[0].size == 4
    assert read_bytes(files[1], 100) == b"bee\n"


def test_remote_names_that_escape_the_root_are_rejected(memory_root):
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{memory_root}/ok.md", b"# ok\n")
    fs.pipe(f"{memory_root}/../evil.md", b"# evil\n")  # object stores keep such keys verbatim
    fs.pipe(f"{memory_root}/x/../../evil2.md", b"# evil\n")
    fs.pipe(f"{memory_root}//etc/passwd.txt", b"root\n")
    rejections = {f.rel_path: f.rejection for f in list_source_files(memory_root)}
    assert rejections["ok.md"] == ""
    assert rejections["../evil.md"] == "path escapes source root ('..' component)"
    assert rejections["x/../../evil2.md"] == "path escapes source root ('..' component)"
    assert rejections["/etc/passwd.txt"] == "absolute path name"


def test_read_bytes_refuses_a_large_file_without_opening_it(tmp_path, monkeypatch):
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MiB that cost nothing
    (sf,) = list_source_files(tmp_path)
    opened = []
    monkeypatch.setattr(sources, "open_binary", lambda f: opened.append(f) or io.BytesIO(b""))
    with pytest.raises(FileTooLarge) as info:
        read_bytes(sf, 20 * 1024 * 1024)
    assert (info.value.size, info.value.limit) == (50 * 1024 * 1024, 20 * 1024 * 1024)
    assert opened == []


def test_read_bytes_stops_at_the_limit_when_the_listed_size_is_stale(tmp_path, monkeypatch):
    _write(tmp_path, "grows.txt", "small\n")
    (sf,) = list_source_files(tmp_path)
    reads: list[int] = []

    class Huge:  # an endless file
        def read(self, size=-1):
            assert size >= 0, "read_bytes must never read without a bound"
            reads.append(size)
            return b"x" * size

    monkeypatch.setattr(sources, "open_binary", lambda f: nullcontext(Huge()))
    with pytest.raises(FileTooLarge):
        read_bytes(sf, 1000)
    assert sum(reads) == 1001


def test_single_file_source(tmp_path):
    _write(tmp_path, "dir/corpus.jsonl", '{"_id": "1", "text": "x"}\n')
    (sf,) = list_source_files(tmp_path / "dir" / "corpus.jsonl")
    assert sf.rel_path == "corpus.jsonl" and sf.ok and sf.size == 26


def test_missing_or_unknown_source_raises_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist .*nope.*check the path"):
        list_source_files(tmp_path / "nope")
    with pytest.raises(SourceError, match="cannot be opened"):
        list_source_files("nosuchprotocol://bucket/docs")
    with pytest.raises(SourceError, match="does not exist"):
        list_source_files("memory://nightshift-test-never-created")


def test_shipped_mixed_sample_lists_cleanly():
    files = list_source_files(MIXED)
    assert len(files) == 9 and all(f.ok for f in files)
    assert [f.rel_path for f in files] == sorted(f.rel_path for f in files)


def test_a_file_swapped_for_a_fifo_after_listing_is_not_read(tmp_path):
    _write(tmp_path, "doc.txt", "text\n")
    (sf,) = list_source_files(tmp_path)
    os.unlink(tmp_path / "doc.txt")
    os.mkfifo(tmp_path / "doc.txt")  # a blocking open would hang the run forever
    with pytest.raises(RejectedFileError, match="no longer a regular file"):
        read_bytes(sf, 100)
