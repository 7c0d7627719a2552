"""Security: servers bind 127.0.0.1, nothing loads pickle, secrets never leak, sources cannot escape their root.

One module fixture runs ``nightshift reindex`` as a user would (a subprocess with its own ephemeral
Prefect API, MLflow SQLite, DVC local remote), then the evaluate flow (which sends the webhook), with
a canary webhook URL and canary cloud credentials in the environment. The tests read what they left:
output and logs (captured and in the Prefect API), MLflow runs and artifacts, reports, every byte of
the workspace, the Prefect database and the DVC remote.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import write_records
from tests.security.scanners import find_bytes, find_unsafe_loads, pickle_like_files
from tests.server.processes import free_port, listening_addresses, running

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("flows", "tasks", "nightshift", "metrics")
GOLDEN = ROOT / "data" / "golden" / "scifact"


def cli_env(ws, remote, prefect_home, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # each CLI run: its own ephemeral API
    return {**env, "PREFECT_HOME": str(prefect_home), "NIGHTSHIFT_WORKSPACE": str(ws),
            "NIGHTSHIFT_DVC_REMOTE_URL": str(remote), **extra}


def run_watching_listeners(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess, set]:
    """Run ``cmd``; meanwhile record every listening TCP address of its process tree."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set = set()

    def poll() -> None:
        while proc.poll() is None:
            seen.update(listening_addresses(proc.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = proc.communicate(timeout=600)
    watcher.join(timeout=5)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), seen


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + (record.exc_text or ""))


def evaluate_in_process(ws: Path, remote: Path) -> tuple[dict, str, str]:
    """The evaluate flow under the session's Prefect API: (record, its captured logs, its Prefect flow-run logs)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.evaluate import evaluate
    from tasks.config.loader import load_config
    from tasks.evaluate.config import EvaluateConfig
    from tasks.config.settings import Settings

    handler = Captured()
    loggers = [logging.getLogger(name) for name in ("", "prefect", "tasks", "flows", "mlflow", "dvc")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        cfg = load_config(EvaluateConfig, None, [f"golden.dir={GOLDEN}", "latency.n_queries=3",
                                                 "notify.events=[pass,fail,error]"])
        state = evaluate(cfg, Settings(workspace=ws, dvc_remote_url=str(remote)).resolved(), return_state=True)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs reach the API in batches, from a background worker
    deadline, logs = time.monotonic() + 60, []
    with get_client(sync_client=True) as client:
        while not logs and time.monotonic() < deadline:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])))
            time.sleep(0 if logs else 1)
    assert logs, "the flow run logged nothing to the Prefect API"
    return state.result(), "\n".join(handler.lines), "\n".join(log.message for log in logs)


@pytest.fixture(scope="module")
def canary_runs(tmp_path_factory, prefect_harness):
    """``nightshift reindex`` (a subprocess with its own ephemeral Prefect API), then the evaluate flow
    (in process, so it can be run right after without a second API start), both with canary secrets."""
    from tests.flows.conftest import slice_records
    from tests.webhooks import Recorder

    root = tmp_path_factory.mktemp("security")
    canary = "nscanary" + secrets.token_hex(12)
    records = slice_records(n_queries=5, n_docs=12) + [{"_id": "blank-1", "title": "", "text": "  "}]
    source = write_records(root / "src", records)
    ws, remote = root / "ws", root / "dvc-remote"
    ws.mkdir()
    hook = Recorder()
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    secrets_env = {"NIGHTSHIFT_WEBHOOK_URL": f"http://127.0.0.1:{hook.server_address[1]}/hook-{canary}",
                   "AWS_ACCESS_KEY_ID": "AKIA" + canary.upper()[:16], "AWS_SECRET_ACCESS_KEY": canary + "-aws"}
    try:
        reindexed, listeners = run_watching_listeners(
            [sys.executable, "-m", "nightshift", "reindex", "--source", str(source), "--json", "--set",
             "validation.max_quarantine_share=0.1"], cli_env(ws, remote, root / "prefect-home", **secrets_env), ws)
        with pytest.MonkeyPatch.context() as mp:
            for key, value in secrets_env.items():
                mp.setenv(key, value)
            evaluated, evaluate_logs, prefect_logs = evaluate_in_process(ws, remote)
    finally:
        hook.shutdown()
        hook.server_close()
    return SimpleNamespace(root=root, ws=ws, remote=remote, canary=canary, reindexed=reindexed, evaluated=evaluated,
                           evaluate_logs=evaluate_logs, prefect_logs=prefect_logs, listeners=listeners,
                           hook=hook.received)


# -- (a) servers bind 127.0.0.1 -------------------------------------------------------------------

def test_nightshift_ui_binds_loopback_by_default(tmp_path):
    help_text = subprocess.run([sys.executable, "-m", "nightshift", "ui", "--help"], capture_output=True,
                               text=True, timeout=120, env={**os.environ, "COLUMNS": "200"}).stdout
    assert "[default: 127.0.0.1]" in help_text, help_text
    port = free_port()
    (tmp_path / "ws").mkdir()
    env = cli_env(tmp_path / "ws", tmp_path / "remote", tmp_path / "prefect-home")
    with running([sys.executable, "-m", "nightshift", "ui", "--port", str(port)], env, tmp_path / "ui.log",
                 f"http://127.0.0.1:{port}/health", cwd=tmp_path / "ws") as proc:
        addresses = listening_addresses(proc.pid)
    assert (("127.0.0.1", port) in addresses), addresses
    assert {ip for ip, _ in addresses} == {"127.0.0.1"}, addresses


def test_the_cli_ephemeral_prefect_api_binds_loopback(canary_runs):
    assert canary_runs.reindexed.returncode == 0, canary_runs.reindexed.stderr[-3000:]
    assert canary_runs.listeners, "the reindex started no server: the check saw nothing"
    assert {ip for ip, _ in canary_runs.listeners} == {"127.0.0.1"}, canary_runs.listeners


def test_the_local_dask_cluster_binds_loopback():
    from tasks.reindex.config import RunnerConfig
    from tasks.reindex.fanout import dask_encoder

    before = listening_addresses(os.getpid())
    with dask_encoder(None, {}, RunnerConfig(kind="dask", n_workers=1)):
        during = listening_addresses(os.getpid()) - before
    assert len(during) >= 2, during  # the scheduler and at least one worker
    assert {ip for ip, _ in during} == {"127.0.0.1"}, during


def test_nightshift_serve_local_prefect_server_binds_loopback(tmp_path):
    import psutil

    from tests.server.processes import start, stop

    (tmp_path / "ws").mkdir()
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text("deployments:\n  reindex-yearly:\n    flow: reindex\n    cron: \"0 3 1 1 *\"\n")
    log = tmp_path / "serve.log"
    proc = start([sys.executable, "-m", "nightshift", "serve", "--schedules", str(schedules)],
                 cli_env(tmp_path / "ws", tmp_path / "remote", tmp_path / "prefect-home"), log, cwd=tmp_path / "ws")
    try:
        deadline = time.monotonic() + 240
        while "serving reindex-yearly" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
        assert "started a local Prefect server" in log.read_text(), log.read_text()[-3000:]
        addresses = listening_addresses(proc.pid)
        children = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)  # serve gets no chance to clean up: its server must still go
        proc.wait(timeout=30)
    finally:
        stop(proc)
    assert addresses and {ip for ip, _ in addresses} == {"127.0.0.1"}, addresses
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"`nightshift serve` left processes behind after kill -9: {[p.cmdline() for p in alive]}"


# -- (b) no pickle ----------------------------------------------------------------------------------

def test_no_code_executing_deserialisation_in_the_sources(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("import pickle\nimport numpy as np, torch, yaml, joblib\n'pickle in a docstring is fine'\n"
                       "pickle.loads(b'')\nnp.load('x', allow_pickle=True)\ntorch.load('m')\n"
                       "torch.load('m', weights_only=True)\nyaml.load(s)\nyaml.safe_load(s)\njoblib.load('j')\n"
                       "eval('1')\nexec('1')\nmodel.eval()\nimport ast; ast.literal_eval('1')\n")
    assert len(find_unsafe_loads([planted])) == 9, find_unsafe_loads([planted])  # the detector sees each one
    sources = [p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py")]
    assert len(sources) > 50
    assert find_unsafe_loads(sources) == []


def test_artifacts_caches_and_remote_hold_no_pickle(canary_runs, tmp_path):
    from tasks.lexical import Bm25Index

    assert canary_runs.reindexed.returncode == 0, canary_runs.reindexed.stderr[-3000:]
    bm25 = Bm25Index.build(["a", "b"], ["warm the vector cache", "shard the corpus"]).save(tmp_path / "bm25")
    data = canary_runs.ws / "data"
    checked = {p.name for folder in (data, canary_runs.ws / ".dvc" / "cache", canary_runs.remote, bm25)
               for p in folder.rglob("*") if p.is_file()}
    assert {"index.faiss", "chunks.parquet", "manifest.json", "vectors.sqlite", "documents.parquet"} <= checked
    assert any(name.endswith(".npy") for name in checked)
    assert pickle_like_files([data, canary_runs.ws / ".dvc" / "cache", canary_runs.remote, bm25]) == []
    planted = tmp_path / "planted"
    planted.mkdir()
    import pickle  # noqa: S403 - only to plant a file the scanner must flag

    (planted / "vectors.bin").write_bytes(pickle.dumps({"a": 1}))
    assert pickle_like_files([planted]) == [planted / "vectors.bin"]


# -- (c) canary secrets -----------------------------------------------------------------------------

def test_canary_secrets_never_reach_logs_mlflow_or_reports(canary_runs, tmp_path):
    from mlflow.tracking import MlflowClient

    runs = canary_runs
    assert runs.reindexed.returncode == 0, runs.reindexed.stderr[-3000:]
    assert runs.evaluated["status"] == "pass" and runs.evaluated["report"], runs.evaluated
    assert [r["path"] for r in runs.hook] == [f"/hook-{runs.canary}"], "the webhook secret was not used"
    assert "Finished in state" in runs.reindexed.stderr and "evaluate" in runs.prefect_logs.lower()
    client = MlflowClient(f"sqlite:///{runs.ws / 'mlflow.db'}")
    texts = {"reindex stdout+stderr": runs.reindexed.stdout + runs.reindexed.stderr,
             "evaluate logs (captured)": runs.evaluate_logs, "evaluate logs (Prefect API)": runs.prefect_logs,
             "evaluate record": json.dumps(runs.evaluated), "webhook payload": json.dumps([r["body"] for r in runs.hook])}
    n_runs = 0
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id]):
            n_runs += 1
            texts[f"run {run.info.run_id} params/tags/metrics"] = json.dumps(
                [run.data.params, run.data.tags, sorted(run.data.metrics)])
            client.download_artifacts(run.info.run_id, "", str(tmp_path / run.info.run_id))
    assert n_runs >= 2
    assert any(p.name.startswith("report") for p in tmp_path.rglob("*")), "no report was downloaded"
    leaks = [name for name, text in texts.items() if runs.canary in text]
    leaks += find_bytes([tmp_path, runs.ws, runs.root / "prefect-home", runs.remote], runs.canary.encode())
    assert leaks == [], leaks
    assert find_bytes([runs.root / "src"], b"blank-1"), "the byte scanner must find what is there"


# -- (d) source paths cannot escape the root ------------------------------------------------------

@pytest.mark.usefixtures("prefect_harness")
def test_reindex_never_indexes_files_outside_the_source_root(workspace, tmp_path):
    import fsspec

    from flows.reindex import reindex
    from tasks.config.loader import load_config
    from tasks.reindex.config import ReindexConfig
    from tasks.retrieval import open_index
    from tests.fixtures.broken_source import make_broken_source

    local = make_broken_source(tmp_path / "src", n_good=10, big_file_mb=0)
    secret = "The outside secret is 7f3a9."
    local["outside"].write_text(f"# Secret\n\n{secret}\n", encoding="utf-8")
    (tmp_path / "outside-dir").mkdir()
    (tmp_path / "outside-dir" / "more.md").write_text(f"# More\n\n{secret}\n", encoding="utf-8")
    os.symlink(tmp_path / "outside-dir", local["root"] / "linked-dir")
    os.symlink("../src-outside-secret.md", local["root"] / "relative-escape.md")
    mem_root = f"/nsmem-{secrets.token_hex(4)}"
    memory = fsspec.filesystem("memory")
    for i in range(10):
        memory.pipe(f"{mem_root}/good-{i}.md", f"# Memory {i}\n\nGood in-memory document {i}.\n".encode())
    for name in ("../outside.md", "sub/../../outside-2.md", "a/.."):
        memory.pipe(f"{mem_root}/{name}", f"# Escape\n\n{secret}\n".encode())
    try:
        for source, escapes in ((local["root"], {"escape.md": "symlink escapes source root",
                                                 "relative-escape.md": "symlink escapes source root",
                                                 "linked-dir": "symlink escapes source root"}),
                                (f"memory://{mem_root}", dict.fromkeys(["../outside.md", "sub/../../outside-2.md", "a/.."],
                                                                       "path escapes source root ('..' component)"))):
            cfg = load_config(ReindexConfig, None, [f"source={source}", "validation.max_quarantine_share=0.6", "force=true"])
            result = reindex(cfg, workspace)
            assert result["status"] == "published", result
            quarantine = [json.loads(line) for line in
                          (workspace.quarantine_dir / f"{result['build_id']}.jsonl").read_text().splitlines()]
            reasons = {q["id"]: q["reason"] for q in quarantine}
            for name, reason in escapes.items():
                assert reasons.get(name, "").startswith(reason), (name, reasons.get(name))
            chunks = open_index(workspace.index_dir).chunks
            assert len(chunks) >= 10 and not chunks["text"].str.contains("outside secret").any()
            assert find_bytes([workspace.data_dir], secret.encode()) == []
    finally:
        memory.rm(mem_root, recursive=True)
