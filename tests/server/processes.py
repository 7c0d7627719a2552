"""Start a real server process for a test, wait until it answers, see where it listens, stop it.

Shared by ``tests/server`` (MLflow and Prefect servers as deployment targets) and
``tests/security`` (every server nightshift starts binds 127.0.0.1).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(cmd: Sequence[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """``cmd`` in its own process group (so stopping it stops its workers), output to ``log``."""
    with open(log, "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> float:
    """Poll ``url`` until HTTP 200; seconds waited. Fails with the server's log if it dies or times out."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not healthy after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``grace`` seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace)
        except ProcessLookupError:
            pass


@contextmanager
def running(cmd: Sequence[str], env: dict[str, str], log: Path, health_url: str,
            timeout: float = 90.0, cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    proc = start(cmd, env, log, cwd)
    try:
        wait_healthy(health_url, proc, log, timeout)
        yield proc
    finally:
        stop(proc)


def listening_addresses(root_pid: int) -> set[tuple[str, int]]:
    """(ip, port) of every TCP socket in LISTEN state owned by ``root_pid`` or its descendants."""
    import psutil

    try:
        root = psutil.Process(root_pid)
        pids = {root.pid, *(p.pid for p in root.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()
    out = set()
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            out.add((conn.laddr.ip, conn.laddr.port))
    return out
