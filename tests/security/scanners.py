"""Scanners for the security tests: unsafe deserialisation in code, pickle-like files, leaked bytes."""

from __future__ import annotations

import ast
import zipfile
from collections.abc import Iterable
from pathlib import Path

PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
UNSAFE_CALLS = {"pickle.load", "pickle.loads", "pickle.Unpickler", "joblib.load", "shelve.open", "marshal.load",
                "marshal.loads", "yaml.load", "yaml.unsafe_load", "yaml.full_load", "pd.read_pickle",
                "pandas.read_pickle", "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword_is(call: ast.Call, name: str, value: object) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value == value for k in call.keywords)


def _unsafe_call(call: ast.Call) -> str:
    name = _dotted(call.func)
    if name in UNSAFE_CALLS:
        return name
    if name.endswith("torch.load") and not _keyword_is(call, "weights_only", True):
        return "torch.load without weights_only=True"
    if name.split(".")[-1] == "load" and name.split(".")[0] in ("np", "numpy") and _keyword_is(call, "allow_pickle", True):
        return "np.load(allow_pickle=True)"
    if isinstance(call.func, ast.Name) and call.func.id in ("eval", "exec"):
        return call.func.id
    return ""


def find_unsafe_loads(paths: Iterable[Path]) -> list[str]:
    """``file:line: what`` for every import of a pickle-family module or code-executing load/eval call."""
    found = []
    for path in paths:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            what = ""
            if isinstance(node, ast.Import):
                what = ",".join(a.name for a in node.names if a.name.split(".")[0] in PICKLE_MODULES)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES:
                what = f"from {node.module} import"
            elif isinstance(node, ast.Call):
                what = _unsafe_call(node)
            if what:
                found.append(f"{path}:{node.lineno}: {what}")
    return found


def _pickle_like(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(256)
    if head[:1] == b"\x80":  # the PROTO opcode every pickle since protocol 2 starts with
        return True
    if head.startswith(b"\x93NUMPY"):  # .npy: object arrays are stored as a pickle; refused unread
        import numpy as np

        try:
            np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError:
            return True
        return False
    if head.startswith(b"PK\x03\x04"):  # zip (torch.save format): no pickled members
        with zipfile.ZipFile(path) as zf:
            return any(name.endswith((".pkl", ".pickle")) for name in zf.namelist())
    return False


def pickle_like_files(folders: Iterable[Path]) -> list[Path]:
    return [p for folder in folders for p in sorted(Path(folder).rglob("*")) if p.is_file() and _pickle_like(p)]


def find_bytes(folders: Iterable[Path], needle: bytes) -> list[str]:
    """Every file under ``folders`` whose raw bytes contain ``needle`` (SQLite stores, parquet, logs ...)."""
    hits = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")) if Path(folder).exists() else []:
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                hits.append(str(path))
    return hits
