"""Serving what is evaluated: a hybrid index published by reindex, scored by evaluate, answered by the real
``nightshift api`` (uvicorn on 127.0.0.1) — the same documents and scores query by query; the HTTP
contract under bad input, auth and rate limits; the query log drift then reads."""

from __future__ import annotations

import json
import os
import random
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tasks.trec import read_trec
from tests.flows.conftest import BASE, GATE_ON, GOLDEN, ecfg, new_workspace, rcfg
from tests.server.processes import free_port, running

pytestmark = [pytest.mark.server, pytest.mark.usefixtures("prefect_harness")]
ROOT = Path(__file__).resolve().parents[2]


def call(url: str, body: bytes | dict | None = None, headers: dict | None = None, method: str | None = None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                     headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            raw = response.read()
            return response.status, json.loads(raw) if raw and response.headers.get_content_type() == "application/json" \
                else raw, dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw
        return exc.code, payload, dict(exc.headers)


def api_env(ws, **extra: str) -> dict[str, str]:
    return {**os.environ, "NIGHTSHIFT_WORKSPACE": str(ws.workspace), "NIGHTSHIFT_DVC_REMOTE_URL": str(ws.dvc_remote_url),
            **extra}


def api_cmd(port: int, *sets: str) -> list[str]:
    return [sys.executable, "-m", "nightshift", "api", "--port", str(port), *[a for s in sets for a in ("--set", s)]]


@pytest.fixture(scope="module")
def served(seed, tmp_path_factory):
    """A workspace whose published index serves hybrid retrieval, and its evaluate record."""
    from flows.evaluate import evaluate
    from flows.reindex import reindex

    ws = new_workspace(tmp_path_factory.mktemp("served"), seed.cache)
    record = reindex(rcfg(seed.source, *BASE, *GATE_ON, "retriever.mode=hybrid"), ws)
    assert record["status"] == "published", record
    evaluation = evaluate(ecfg("latency.n_queries=0"), ws)
    return ws, record, evaluation


def test_service_answers_what_evaluate_scored(served, tmp_path):
    from tasks.goldenset.load import check_against_corpus, load_golden
    from tasks.querylogs.served import read_jsonl_tolerant
    from tasks.retrieval import open_index
    from tasks.scoring import per_query_metrics

    ws, record, evaluation = served
    assert evaluation["retriever"] == "hybrid-rrf-1:1"
    run = read_trec(Path(evaluation["run_file"]))
    loaded = open_index(ws.index_dir)
    checked = check_against_corpus(load_golden(GOLDEN), loaded.chunks["doc_id"].astype(str))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(api_cmd(port), api_env(ws), tmp_path / "api.log", f"{base}/health", timeout=180):
        status, health, _ = call(f"{base}/health")
        assert status == 200 and health["status"] == "ok" and health["index_version"] == record["index_version"]
        served_run, answers = {}, {}
        for qid, text in checked.queries.items():
            status, body, _ = call(f"{base}/search", {"query": text, "k": 10})
            assert status == 200, body
            assert body["index_version"] == record["index_version"] and body["latency_ms"] > 0
            assert set(body["hits"][0]) == {"doc_id", "chunk_id", "score", "text", "metadata"}
            served_run[qid] = {h["doc_id"]: h["score"] for h in body["hits"]}
            answers[qid] = body
            top = list(run[qid].items())[:10]  # the run file is in rank order
            assert [d for d, _ in top] == [h["doc_id"] for h in body["hits"]], qid  # same documents, same order
            assert [h["score"] for h in body["hits"]] == pytest.approx([s for _, s in top], abs=1e-12)
        # the same nDCG@10, query by query, from the service's answers as evaluate computed
        ours = per_query_metrics(served_run, checked.qrels, ["ndcg@10"])["ndcg@10"]
        import pandas as pd

        theirs = pd.read_csv(Path(evaluation["report"]).parent / "per_query.csv", index_col=0, dtype={0: str})
        theirs.index = theirs.index.astype(str)
        assert ours.sort_index().tolist() == pytest.approx(theirs["ndcg@10"].reindex(ours.sort_index().index).tolist(),
                                                           abs=1e-12)
        assert ours.mean() == pytest.approx(evaluation["metrics"]["ndcg@10"], abs=1e-12)

        first = answers[next(iter(answers))]
        status, _, _ = call(f"{base}/feedback", {"query_id": first["query_id"], "doc_id": first["hits"][0]["doc_id"],
                                                 "value": -1})
        assert status == 204
        status, metrics, _ = call(f"{base}/metrics", method="GET")
        text = metrics.decode()
        assert status == 200 and 'nightshift_requests_total{endpoint="/search",status="200"}' in text
        assert f'index_version="{record["index_version"]}"' in text and "nightshift_query_cache_total" in text
    logged = read_jsonl_tolerant(sorted((ws.data_dir / "querylogs" / "served" / "queries").glob("*.jsonl")))
    assert len(logged.records) == len(checked.queries) and not logged.torn  # one line per answered query
    assert {r["query_id"] for r in logged.records} == {a["query_id"] for a in answers.values()}
    feedback = read_jsonl_tolerant(sorted((ws.data_dir / "querylogs" / "served" / "feedback").glob("*.jsonl")))
    assert [r["feedback"] for r in feedback.records] == [-1]


def test_search_cli_gives_the_service_answer(served):
    import subprocess

    ws, record, evaluation = served
    run = read_trec(Path(evaluation["run_file"]))
    qid = sorted(run)[0]
    from tasks.goldenset.load import load_golden

    text = load_golden(GOLDEN).queries[qid]
    proc = subprocess.run([sys.executable, "-m", "nightshift", "search", text, "--k", "5", "--json"],
                          env=api_env(ws), capture_output=True, text=True, timeout=300, cwd=ws.workspace)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["index_version"] == record["index_version"] and out["retriever"] == "hybrid-rrf-1:1"
    assert [h["doc_id"] for h in out["hits"]] == list(run[qid])[:5]


def _bad_requests(rng: random.Random, n: int) -> list[tuple[str, bytes, dict]]:
    """Malformed bodies, wrong types, out-of-range k, unknown fields and filter keys, huge bodies, odd headers."""
    good = {"query": "vitamin D", "k": 3}
    bodies = [b"", b"not json", b"[1, 2]", b"null", b'"text"', b"{", b'{"query": }', b"\xff\xfe\x00",
              json.dumps({"k": 3}).encode(), json.dumps({"query": ""}).encode(), json.dumps({"query": "   "}).encode(),
              json.dumps({"query": 42}).encode(), json.dumps({"query": ["a"]}).encode(),
              json.dumps({**good, "k": 0}).encode(), json.dumps({**good, "k": 1001}).encode(),
              json.dumps({**good, "k": "3"}).encode(), json.dumps({**good, "k": True}).encode(),
              json.dumps({**good, "k": 2.5}).encode(), json.dumps({**good, "extra": 1}).encode(),
              json.dumps({**good, "filters": "doc_type"}).encode(),
              json.dumps({**good, "filters": {"no_such_key": "x"}}).encode(),
              json.dumps({**good, "filters": {"doc_type": {"regex": ".*"}}}).encode(),
              json.dumps({**good, "filters": {"doc_type": {"in": []}}}).encode(),
              json.dumps({"query": "x" * 5000}).encode(), b'{"query": "a", "k": 1e999}',
              json.dumps({"query": "a" * 70_000}).encode(), b"[" * 5000 + b"]" * 5000]
    feedback = [json.dumps({"value": 1}).encode(), json.dumps({"query_id": "q", "value": None}).encode(),
                json.dumps({"query_id": "q", "value": "x" * 100}).encode(), json.dumps({"query_id": 5, "value": 1}).encode(),
                json.dumps({"query_id": "q", "value": True}).encode(), b'{"query_id": "q", "value": NaN}',
                json.dumps({"query_id": "q", "doc_id": 7, "value": 1}).encode()]
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.6:
            body = rng.choice(bodies)
            if rng.random() < 0.3:  # a valid body with 1-4 of its JSON punctuation bytes replaced: never valid
                raw = bytearray(json.dumps(good).encode())
                structural = [i for i, b in enumerate(raw) if chr(b) in '{}":,']
                for i in rng.sample(structural, rng.randint(1, 4)):
                    raw[i] = rng.choice(b"a#\x00\xff;=")
                body = bytes(raw)
            out.append(("/search", body, {}))
        elif kind < 0.85:
            out.append(("/feedback", rng.choice(feedback), {}))
        else:
            out.append((rng.choice(["/search", "/feedback"]), rng.choice(bodies[:8]),
                        {"content-type": rng.choice(["text/plain", "application/x-www-form-urlencoded", ""])}))
    return out


def test_two_hundred_bad_requests_never_a_server_error(served, tmp_path):
    ws, record, _ = served
    queries_dir = ws.data_dir / "querylogs" / "served" / "queries"
    before = sum(len(p.read_bytes().splitlines()) for p in queries_dir.glob("*.jsonl"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(7)
    statuses = []
    with running(api_cmd(port, "rate_limit.enabled=false"), api_env(ws), tmp_path / "api.log", f"{base}/health",
                 timeout=180) as proc:
        for path, body, headers in _bad_requests(rng, 200):
            status, payload, _ = call(base + path, body, headers)
            statuses.append(status)
            assert 400 <= status < 500, (path, body[:80], status, payload)
            assert isinstance(payload, dict) and payload.get("error"), payload
        status, body, _ = call(f"{base}/search", {"query": "no such", "k": 2, "filters": {"doc_type": "pdf"}})
        assert status == 200 and body["hits"] == []  # a filter that matches nothing is an empty answer, not an error
        status, body, _ = call(f"{base}/search", {"query": "x", "filters": {"nope": 1}})
        assert status == 422 and body["field"] == "filters.nope"
        assert call(f"{base}/health")[0] == 200 and proc.poll() is None  # still up
    after = sum(len(p.read_bytes().splitlines()) for p in queries_dir.glob("*.jsonl"))
    assert after == before + 1  # only the accepted (filtered) search was logged
    assert {413, 422, 400} <= set(statuses)


def test_token_and_rate_limit(served, tmp_path):
    ws, _, _ = served
    token = "s3cr3t-canary-token-9c1f"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "api.log"
    with running(api_cmd(port, "rate_limit.requests_per_second=1", "rate_limit.burst=3"),
                 api_env(ws, NIGHTSHIFT_API_TOKEN=token), log, f"{base}/health", timeout=180):
        query = {"query": "vitamin D", "k": 1}
        assert call(f"{base}/search", query)[0] == 401
        assert call(f"{base}/search", query, {"authorization": "Bearer wrong"})[0] == 401
        assert call(f"{base}/metrics", method="GET")[0] == 401
        auth = {"authorization": f"Bearer {token}"}
        codes = [call(f"{base}/search", query, auth) for _ in range(6)]
        assert [c[0] for c in codes[:3]] == [200, 200, 200]  # the burst (401s are refused before the limiter)
        limited = [c for c in codes if c[0] == 429]
        assert limited and int(limited[0][2]["retry-after"]) >= 1
        assert call(f"{base}/health")[0] == 200  # /health needs no token and is not limited
    assert token not in log.read_text()


def test_drift_runs_on_the_logs_the_service_wrote(served):
    """Queries answered through the Python API with its query log, then the drift flow's default log (auto)."""
    from flows.drift import drift
    from tasks.config.loader import load_config
    from tasks.drift.config import DriftConfig
    from tasks.goldenset.load import load_golden
    from tasks.querylogs.served import served_dir
    from tasks.serving.live import Retriever
    from tasks.serving.querylog import QueryLogWriter

    ws, record, _ = served
    retriever = Retriever(ws.workspace, querylog=QueryLogWriter(served_dir(ws.workspace)))
    texts = list(load_golden(GOLDEN).queries.values())[:40]
    answers = retriever.search(texts, k=5)
    assert {a.index_version for a in answers} == {record["index_version"]}
    retriever.feedback(answers[0].query_id, "down", answers[0].hits[0].doc_id)
    logged = sum(len(p.read_text().splitlines()) for p in (served_dir(ws.workspace) / "queries").glob("*.jsonl"))
    cfg = load_config(DriftConfig, None, [f"windows.reference={ROOT / 'data/querylogs/demo/reference_weeks.jsonl'}",
                                          "windows.current=-1d..", "tests.mmd.params.n_permutations=200"])
    out = drift(cfg, ws)
    assert out["n_current"] == logged >= 40  # every line the service wrote today, read by drift's default (auto)
    assert out["windows"]["current"]["source"].endswith("querylogs/served/queries")
    assert out["skipped"]["feedback"].startswith("no feedback in both windows")  # the demo reference has none
    assert {t["name"] for t in out["tests"]} >= {"mmd", "confidence", "novelty"}


def test_hot_swap_under_load(seed, tmp_path):
    """Threads query the Python API while a reindex publishes a new version: no failure, every answer names the
    old or the new version, and once the new one is served only it."""
    import threading

    from flows.reindex import reindex
    from tasks.serving.live import Retriever

    ws = new_workspace(tmp_path, seed.cache)
    old = reindex(rcfg(seed.source, *BASE), ws)["index_version"]
    retriever = Retriever(ws.workspace, refresh_seconds=0.05)
    seen, errors, stop = [], [], threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                seen.append(retriever.search("vitamin D and bone density", k=5).index_version)
            except Exception as exc:  # noqa: BLE001 - the test counts them
                errors.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    published = reindex(rcfg(seed.source, *BASE, "retriever.mode=hybrid", "gate.enabled=false"), ws)
    assert published["status"] == "published"  # a new retriever spec is a new index, never "unchanged"
    new = published["index_version"]
    retriever.refresh(wait=True)
    after = len(seen)
    while len(seen) < after + 20 and not errors:
        threading.Event().wait(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert errors == [] and old != new
    assert set(seen) <= {old, new} and old in seen
    assert set(seen[after + 4:]) == {new}  # in-flight queries of the 4 clients may finish on the old version
