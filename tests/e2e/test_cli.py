"""The ``nightshift`` command as a user runs it: JSON contract, errors, search, restore, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import scifact_records, write_records

pytestmark = pytest.mark.usefixtures("prefect_harness")


def cli(workspace, *args, timeout=600, wait=True):
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "NIGHTSHIFT_WORKSPACE": str(workspace.workspace), "NIGHTSHIFT_DVC_REMOTE_URL": workspace.dvc_remote_url}
    cmd = [sys.executable, "-m", "nightshift", *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=workspace.workspace)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=workspace.workspace)


def last_json(stdout: str):
    return json.loads(stdout.strip().splitlines()[-1])


def test_reindex_search_list_restore_contract(workspace, tmp_path):
    source = write_records(tmp_path / "src", scifact_records(60))
    proc = cli(workspace, "reindex", "--source", str(source), "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = last_json(proc.stdout)
    for key in ("run_id", "status", "index_version", "n_documents", "n_chunks", "n_embedded", "n_reused",
                "n_quarantined", "seconds"):
        assert key in result
    assert result["status"] == "published" and result["n_documents"] == 60

    title = scifact_records(60)[10]["title"]
    proc = cli(workspace, "search", title, "--k", "3", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = last_json(proc.stdout)
    hits = record["hits"]
    assert record["index_version"] == result["index_version"] and record["retriever"] == "dense"
    assert len(hits) == 3 and hits[0]["doc_id"] == scifact_records(60)[10]["_id"]
    assert set(hits[0]) >= {"doc_id", "chunk_id", "score", "text", "metadata"}

    listed = last_json(cli(workspace, "index", "list", "--json").stdout)
    assert [b["version"] for b in listed["builds"] if b["current"]] == [result["index_version"]]

    proc = cli(workspace, "index", "restore", result["index_version"], "--json")
    assert proc.returncode == 0 and last_json(proc.stdout)["n_chunks"] == result["n_chunks"]


def test_errors_are_one_line_and_name_the_cause(workspace, tmp_path):
    proc = cli(workspace, "reindex", "--set", "index.kidn=flat")
    assert proc.returncode == 1
    assert "index.kidn: unknown key (did you mean 'kind'?)" in proc.stderr
    assert "Traceback" not in proc.stderr

    proc = cli(workspace, "reindex", "--source", str(tmp_path / "missing"), "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert str(tmp_path / "missing") in proc.stderr.strip().splitlines()[-1]

    proc = cli(workspace, "search", "anything")
    assert proc.returncode == 1 and "nightshift reindex" in proc.stderr


def test_two_reindexes_at_once_one_refuses_clearly(workspace, tmp_path):
    source = write_records(tmp_path / "src", scifact_records(150))
    first = cli(workspace, "reindex", "--source", str(source), "--json", wait=False)
    second = cli(workspace, "reindex", "--source", str(source), "--json", wait=False)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 1], (err1[-1500:], err2[-1500:])
    loser_err = err1 if first.returncode else err2
    assert "another reindex is running" in loser_err
    winner = last_json(out1 if first.returncode == 0 else out2)
    assert winner["status"] == "published"
    again = cli(workspace, "reindex", "--source", str(source), "--json")
    assert last_json(again.stdout)["status"] == "unchanged"


def test_dvc_yaml_exposes_the_benchmark_grid_as_foreach_stages(tmp_path):
    import shutil

    from tests.conftest import ROOT

    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    stages = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only", "--fail"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert stages.returncode == 0, stages.stderr
    assert stages.stdout.split() == ["reindex", "benchmark@minilm-dense", "benchmark@minilm-hybrid", "benchmark@bm25",
                                     "benchmark@minilm-int8-dense", "benchmark@l3-dense"]


def test_dvc_repro_runs_the_reindex_stage(workspace, tmp_path):
    """dvc.yaml's stage calls the same CLI; nested DVC operations (snapshot/index tracking) work under repro."""
    import shutil

    import yaml

    from tests.conftest import ROOT

    project = workspace.workspace
    source = write_records(project / "data" / "samples" / "scifact", scifact_records(30))
    (project / "configs").mkdir()
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    cfg = yaml.safe_load((ROOT / "configs" / "reindex.yaml").read_text())
    cfg["source"] = str(source / "corpus.jsonl")
    (project / "configs" / "reindex.yaml").write_text(yaml.safe_dump(cfg))
    stage = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["reindex"]
    stage["deps"] = ["configs/reindex.yaml", "data/samples/scifact/corpus.jsonl"]
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"reindex": stage}}))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=project, check=True)
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "NIGHTSHIFT_WORKSPACE": str(project),
           "NIGHTSHIFT_DVC_REMOTE_URL": workspace.dvc_remote_url,
           "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "reindex"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    report = json.loads((project / "data" / "reports" / "reindex.json").read_text().strip().splitlines()[-1])
    assert report["status"] == "published" and report["n_documents"] == 30
    assert (project / "dvc.lock").is_file()
    again = subprocess.run([sys.executable, "-m", "dvc", "repro", "reindex"], cwd=project, env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0 and "didn't change" in (again.stdout + again.stderr).lower()
