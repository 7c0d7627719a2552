"""The tracking spool: a run that is still spooling while `nightshift tracking sync` drains it loses nothing."""

from __future__ import annotations

import threading
import time

from tasks.tracking_spool import Spool, pending, sync


class AppendsDuringReplay:
    """A real MlflowClient; its first write lets the still-running flow spool one more metric (the injected race)."""

    def __init__(self, client, spool: Spool) -> None:
        self.client, self.spool, self.writer = client, spool, None

    def log_batch(self, run_id, **kwargs):
        if self.writer is None:
            now = int(time.time() * 1000)
            self.writer = threading.Thread(
                target=self.spool.append, args=("batch", {"metrics": [["late", 2.0, now, 0]]}))
            self.writer.start()
            time.sleep(0.5)  # without the lock the append lands now, before the sync deletes the folder
        return self.client.log_batch(run_id, **kwargs)


def test_a_write_spooled_during_sync_is_kept_for_the_next_sync(tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("spool")).info.run_id
    root = tmp_path / "spool"
    spool = Spool(root, run_id)
    spool.append("batch", {"metrics": [["early", 1.0, int(time.time() * 1000), 0]]})

    racing = AppendsDuringReplay(client, spool)
    assert sync(root, racing) == {run_id: 1}
    racing.writer.join(timeout=30)
    assert [p.name for p in pending(root)] == [run_id]  # the late write waited for the lock, then spooled anew
    assert sync(root, client) == {run_id: 1} and pending(root) == []
    assert client.get_run(run_id).data.metrics == {"early": 1.0, "late": 2.0}
