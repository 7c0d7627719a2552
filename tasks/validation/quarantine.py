"""Quarantine files (JSONL, written atomically) and the limit that stops a run."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tasks.documents import Quarantined


class QuarantineLimitExceeded(RuntimeError):
    """Too large a share of the records failed validation to trust the rest."""

    def __init__(self, message: str, *, n_quarantined: int, n_total: int, max_share: float,
                 path: Path | None = None) -> None:
        super().__init__(message)
        self.n_quarantined, self.n_total = n_quarantined, n_total
        self.max_share, self.path = max_share, path


def percent_pair(share: float, limit: float) -> tuple[str, str]:
    """Both as percentages, with enough decimals that a share over the limit reads as larger."""
    for decimals in range(1, 6):
        shown = f"{share:.{decimals}%}", f"{limit:.{decimals}%}"
        if shown[0] != shown[1]:
            return shown
    return shown


def enforce_quarantine_limit(n_quarantined: int, n_total: int, max_share: float = 0.05,
                             path: Path | str | None = None) -> None:
    """Raise ``QuarantineLimitExceeded`` when ``n_quarantined / n_total > max_share``."""
    if not 0.0 <= max_share <= 1.0:
        raise ValueError(f"max_share must be within [0, 1], got {max_share}")
    if n_quarantined < 0 or n_quarantined > n_total:
        raise ValueError(f"n_quarantined {n_quarantined} must be within [0, n_total={n_total}]")
    if n_total == 0 or n_quarantined / n_total <= max_share:
        return
    share, limit = percent_pair(n_quarantined / n_total, max_share)
    message = (f"{share} of records quarantined ({n_quarantined}/{n_total}) exceeds the limit of "
               f"{limit} (validation.max_quarantine_share)")
    if path is not None:
        message += f"; see {path} for reasons"
    raise QuarantineLimitExceeded(message, n_quarantined=n_quarantined, n_total=n_total,
                                  max_share=max_share, path=None if path is None else Path(path))


def write_quarantine(records: Iterable[Quarantined], path: Path | str) -> Path:
    """Write one JSON object per line; readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # backslashreplace: a lone surrogate (a file name that is not UTF-8, decoded by os.fsdecode) is written as
        # the JSON escape \udcxx instead of failing the whole run
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            for record in records:
                out.write(json.dumps(record.to_record(), ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_quarantine(path: Path | str) -> list[Quarantined]:
    with Path(path).open(encoding="utf-8") as lines:
        return [Quarantined(**json.loads(line)) for line in lines if line.strip()]
