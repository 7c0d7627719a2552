"""Document sources: list the files under a local folder or an fsspec URL, and read them safely.

A source is a directory (or a single file) named by a local path or any fsspec URL (``file://``,
``memory://``, ``s3://`` ...). Listing never follows anything out of the source root: symlinks that
escape it, ``..`` path components, absolute names, non-regular files and undecodable names come back
as *rejected* entries (``SourceFile.rejection``) so the caller can quarantine them with that reason.
Hidden entries (any path component starting with ``.``) are skipped.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem


class SourceError(Exception):
    """The source root itself is unusable (missing, unreachable, unknown protocol)."""


class FileTooLarge(Exception):
    """A file is larger than the byte limit; raised before (or instead of) reading it whole."""

    def __init__(self, rel_path: str, size: int, limit: int):
        super().__init__(f"{rel_path}: {size} bytes > limit {limit}")
        self.rel_path, self.size, self.limit = rel_path, size, limit


class RejectedFileError(Exception):
    """Attempt to open a file that listing rejected (e.g. a symlink escaping the root)."""


@dataclass(frozen=True)
class SourceFile:
    """One file of a source. Non-empty ``rejection``: never read it, quarantine it with why."""

    rel_path: str  # posix, relative to the source root; the document id for single-document files
    url: str  # protocol-qualified, for messages and provenance
    path: str  # filesystem-native path used to open the file
    size: int | None = None
    mtime: float | None = None
    checksum: str | None = None  # ETag / md5 when the store reports it for free
    rejection: str = ""
    fs: AbstractFileSystem | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.rejection


def resolve_source(url: str | os.PathLike[str]) -> tuple[AbstractFileSystem, str, bool]:
    """``(fs, root_path, is_single_file)``; raise ``SourceError`` with what to do when unusable."""
    url = os.fspath(url)
    if "://" not in url:
        url = os.path.expanduser(url)
    try:
        fs, root = url_to_fs(url)
    except ImportError as exc:  # e.g. s3fs / gcsfs not installed
        raise SourceError(f"source {url!r}: {exc} (pip install the fsspec backend)") from exc
    except Exception as exc:  # noqa: BLE001 - unknown protocol, bad URL, credentials
        raise SourceError(f"source {url!r} cannot be opened: {type(exc).__name__}: {exc}") from exc
    if isinstance(fs, LocalFileSystem):
        root = os.path.realpath(root)
    try:
        is_dir = fs.isdir(root)
        is_file = not is_dir and fs.isfile(root)
    except Exception as exc:  # noqa: BLE001 - network/permission errors reaching the root
        raise SourceError(f"source {url!r} is unreachable: {type(exc).__name__}: {exc}") from exc
    if not (is_dir or is_file):
        raise SourceError(
            f"source {url!r} does not exist (looked for {fs.unstrip_protocol(root)}); "
            "check the path/URL in the reindex config, or create/mount the folder"
        )
    return fs, root, is_file


def list_source_files(url: str | os.PathLike[str], include: str | Sequence[str] | None = None,
                      exclude: str | Sequence[str] | None = None) -> list[SourceFile]:
    """All files of the source sorted by ``rel_path``; unsafe entries come back rejected.

    ``include``/``exclude`` are glob patterns matched against the relative path (``*`` also
    crosses ``/``); a pattern without ``/`` also matches the bare file name.
    """
    fs, root, is_file = resolve_source(url)
    if is_file:
        entries: Iterator[SourceFile] = iter([_single_file(fs, root)])
    elif isinstance(fs, LocalFileSystem):
        entries = _walk_local(fs, root)
    else:
        entries = _walk_fsspec(fs, root)
    includes, excludes = _patterns(include), _patterns(exclude)
    files = [sf for sf in entries if (not includes or _matches(sf.rel_path, includes))
             and not _matches(sf.rel_path, excludes)]
    return sorted(files, key=lambda sf: sf.rel_path)


def read_bytes(source_file: SourceFile, max_bytes: int) -> bytes:
    """The whole file, or ``FileTooLarge`` without reading more than ``max_bytes + 1`` bytes."""
    if source_file.size is not None and source_file.size > max_bytes:
        raise FileTooLarge(source_file.rel_path, source_file.size, max_bytes)
    with open_binary(source_file) as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew after listing, or the store did not report a size
        raise FileTooLarge(source_file.rel_path, max(source_file.size or 0, len(data)), max_bytes)
    return data


@contextmanager
def open_binary(source_file: SourceFile) -> Iterator[IO[bytes]]:
    """A binary stream for loaders; local files open with O_NOFOLLOW (no swapped-in links)."""
    if source_file.rejection:
        raise RejectedFileError(f"{source_file.rel_path}: {source_file.rejection}")
    fs = source_file.fs
    if fs is None or isinstance(fs, LocalFileSystem):
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(source_file.path, flags)  # O_NONBLOCK: a FIFO swapped in cannot hang us
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RejectedFileError(f"{source_file.rel_path}: no longer a regular file")
        with os.fdopen(fd, "rb") as stream:
            yield stream
    else:
        with fs.open(source_file.path, "rb") as stream:
            yield stream


# -- listing -----------------------------------------------------------------------------------

def _walk_local(fs: AbstractFileSystem, root: str) -> Iterator[SourceFile]:
    """Depth-first walk that never follows a symlink out of ``root`` (which is already realpath)."""
    pending = [(root, "")]
    while pending:
        directory, rel_dir = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            if not rel_dir:
                raise SourceError(f"source {root!r} cannot be listed: {exc}") from exc
            yield _rejected(fs, directory, rel_dir, f"unreadable directory: {exc.strerror or exc}")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if not _utf8(entry.name):
                yield _rejected(fs, entry.path, rel.encode("utf-8", "replace").decode(),
                                "file name is not valid UTF-8")
            elif entry.is_symlink():
                yield from _local_symlink(fs, root, entry, rel)
            elif entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, rel))
            elif entry.is_file(follow_symlinks=False):
                yield _local_file(fs, entry.path, rel, entry.stat(follow_symlinks=False))
            else:
                yield _rejected(fs, entry.path, rel, "not a regular file (device, FIFO or socket)")


def _local_symlink(fs: AbstractFileSystem, root: str, entry: os.DirEntry[str],
                   rel: str) -> Iterator[SourceFile]:
    target = os.path.realpath(entry.path)
    if os.path.commonpath([root, target]) != root:
        yield _rejected(fs, entry.path, rel,
                        f"symlink escapes source root (-> {os.readlink(entry.path)})")
        return
    try:
        st = os.stat(target)
    except OSError:
        yield _rejected(fs, entry.path, rel, "broken symlink")
        return
    if stat.S_ISDIR(st.st_mode):
        yield _rejected(fs, entry.path, rel, "symlinked directory (not followed)")
    elif stat.S_ISREG(st.st_mode):
        yield _local_file(fs, target, rel, st)  # read the resolved in-root target, not the link
    else:
        yield _rejected(fs, entry.path, rel, "not a regular file (device, FIFO or socket)")


def _local_file(fs: AbstractFileSystem, path: str, rel: str, st: os.stat_result) -> SourceFile:
    return SourceFile(rel_path=rel, url=fs.unstrip_protocol(path), path=path, size=st.st_size,
                      mtime=st.st_mtime, fs=fs)


def _walk_fsspec(fs: AbstractFileSystem, root: str) -> Iterator[SourceFile]:
    """Object stores and other fsspec backends: one ``find``; names are checked, never trusted."""
    prefix = root if root.endswith("/") else root + "/"
    try:
        listing: dict[str, dict[str, Any]] = fs.find(root, detail=True)
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"source {fs.unstrip_protocol(root)!r} cannot be listed: {exc}") from exc
    for name, info in listing.items():
        rel = name[len(prefix):] if name.startswith(prefix) else name
        parts = rel.replace("\\", "/").split("/")
        if any(part.startswith(".") and part not in (".", "..") for part in parts):
            continue  # hidden
        reason = _unsafe_name(name, prefix, rel, parts)
        if not reason and info.get("islink"):
            reason = "symlink (not followed on remote filesystems)"
        if not reason and info.get("type", "file") != "file":
            reason = f"not a regular file (type {info.get('type')})"
        yield SourceFile(rel_path=rel, url=fs.unstrip_protocol(name), path=name,
                         size=info.get("size"), mtime=_mtime(info), checksum=_checksum(info),
                         rejection=reason, fs=fs)


_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def _unsafe_name(name: str, prefix: str, rel: str, parts: list[str]) -> str:
    if not name.startswith(prefix):
        return "path escapes source root (outside the root prefix)"
    if rel.startswith("/") or _DRIVE.match(rel):
        return "absolute path name"
    if ".." in parts:
        return "path escapes source root ('..' component)"
    if "" in parts or "." in parts:
        return "non-canonical path name ('.' or empty component)"
    if "\x00" in rel:
        return "NUL character in path name"
    return ""


def _single_file(fs: AbstractFileSystem, path: str) -> SourceFile:
    info = fs.info(path)
    return SourceFile(rel_path=path.rstrip("/").rsplit("/", 1)[-1], url=fs.unstrip_protocol(path),
                      path=path, size=info.get("size"), mtime=_mtime(info),
                      checksum=_checksum(info), fs=fs)


def _rejected(fs: AbstractFileSystem, path: str, rel: str, reason: str) -> SourceFile:
    return SourceFile(rel_path=rel, url=fs.unstrip_protocol(path), path=path, rejection=reason,
                      fs=fs)


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes surface as lone surrogates
        return False
    return True


def _mtime(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def _checksum(info: dict[str, Any]) -> str | None:
    for key in ("ETag", "etag", "md5Hash", "content_md5", "md5"):
        if info.get(key):
            return str(info[key]).strip('"')
    return None


def _patterns(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _matches(rel_path: str, patterns: tuple[str, ...]) -> bool:
    name = rel_path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel_path, p) or ("/" not in p and fnmatch.fnmatchcase(name, p))
               for p in patterns)
