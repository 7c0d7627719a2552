"""Crash points for the reliability suite: ``NIGHTSHIFT_CRASH_AT=<name>`` makes the process ``kill -9`` itself there.

Production runs never set the variable; the check is one dictionary lookup. The reliability tests
use it to prove that a crash at each point leaves ``current`` intact and that a rerun reuses work.
"""

from __future__ import annotations

import os
import signal

ENV = "NIGHTSHIFT_CRASH_AT"
POINTS = ("after_load", "during_embedding", "before_index_write", "after_index_write",
          "after_dvc_push", "before_pointer_switch")


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
