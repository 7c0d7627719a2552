"""One reindex at a time: a Prefect global concurrency slot (across workers) plus a file lock (this machine)."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from tasks.publishing import ReindexBusy, ReindexLock

REINDEX_LIMIT = "nightshift-reindex"


def limit_exists(name: str = REINDEX_LIMIT) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return True
        except ObjectNotFound:
            return False


def ensure_reindex_limit() -> bool:
    """Create the ``nightshift-reindex`` global concurrency limit (1 slot) if missing; True if created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    if limit_exists():
        return False
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=REINDEX_LIMIT, limit=1))
    return True


@contextmanager
def reindex_slot(lock_file: Path, timeout: float) -> Iterator[None]:
    """Hold the ``nightshift-reindex`` Prefect slot, when that limit exists (``nightshift serve`` creates it;
    or ``prefect gcl create nightshift-reindex --limit 1``), and the workspace file lock, for the whole run.

    ``timeout`` 0 refuses at once when another reindex runs; otherwise waits up to ``timeout`` seconds.
    """
    from prefect.concurrency.sync import concurrency

    with ExitStack() as stack:
        if limit_exists():
            wait = max(timeout, 1.0)
            try:
                stack.enter_context(concurrency(REINDEX_LIMIT, occupy=1, timeout_seconds=wait))
            except TimeoutError:
                raise ReindexBusy(f"another reindex holds the Prefect concurrency limit {REINDEX_LIMIT!r} "
                                  f"(waited {wait:.0f}s); retry later, or queue behind it with "
                                  "--set lock_timeout_seconds=600") from None
        stack.enter_context(ReindexLock(lock_file, timeout=timeout))
        yield
