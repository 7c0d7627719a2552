"""Issue 13's acceptance, as a user runs it: from an empty workspace, a folder corpus reindexed, queries
logged, ``golden init``, the CSV filled by a rule, ``golden label``, ``evaluate --golden NAME`` passing and
showing the version; a labelled document edited -> its qrels stale in the next evaluate (excluded, counted,
queued for relabelling, the gate restricted to queries judged identically); bad files refused with lines."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import MIXED
from tests.e2e.test_cli import cli, last_json

pytestmark = pytest.mark.usefixtures("prefect_harness")

QUERIES = ["how do I restart the ingestion service", "what is on the on-call checklist",
           "capacity planning for disk space", "how to check service health", "what does SLO mean",
           "postmortem of the database outage", "how do I roll back a deploy", "faq about index freshness",
           "How do I restart the ingestion service?", "escalation policy when on call"]


def fill_by_rule(path: Path) -> list[dict]:
    """The stand-in for a person: 2 if dense ranked it first, 1 if any retriever ranked it in its top 2, else 0."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        found = dict(part.split(":") for part in row["found_by"].split())
        row["relevance"] = "2" if found.get("dense") == "1" else ("1" if min(map(int, found.values())) <= 2 else "0")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def golden_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_golden_set_from_logs_to_evaluate_then_stale_after_an_edit(workspace, tmp_path):
    source = tmp_path / "corpus"
    shutil.copytree(MIXED, source)
    built = cli(workspace, "reindex", "--source", str(source), "--json")
    assert built.returncode == 0, built.stderr[-3000:]
    log = tmp_path / "queries.jsonl"
    log.write_text("".join(json.dumps({"timestamp": f"2026-12-0{1 + i % 5}T10:00:00Z", "query": q,
                                       "query_id": f"log-{i}"}) + "\n" for i, q in enumerate(QUERIES * 2)))

    init = cli(workspace, "golden", "init", "ops", "--from-logs", str(log), "--n", "6", "--json")
    assert init.returncode == 0, init.stderr[-3000:]
    made = last_json(init.stdout)
    counts = made["counts"]
    assert counts["n_unique"] == 10 and counts["n_near_duplicates"] >= 1  # "How ...?" is a near-duplicate by embedding
    assert counts["n_sampled"] == 6 and made["pool"] == {"depth": 10, "retrievers": ["dense", "bm25", "hybrid"]}
    rows = fill_by_rule(Path(made["file"]))
    assert {r["source"] for r in rows} == {"init"} and all(r["doc_hash"].startswith("doc:") for r in rows)
    assert len({r["query_id"] for r in rows}) == 6

    labelled = cli(workspace, "golden", "label", made["file"], "--by", "rule", "--json")
    assert labelled.returncode == 0, labelled.stderr[-3000:]
    version = last_json(labelled.stdout)
    assert version["version"] == 1 and version["n_qrels"] == len(rows) and len(version["dvc_md5"]) == 32
    folder = workspace.data_dir / "golden" / "ops"
    provenance = [json.loads(line) for line in (folder / "provenance.jsonl").read_text().splitlines()]
    assert len(provenance) == len(rows) and {p["labelled_by"] for p in provenance} == {"rule"}
    assert all(p["review_file"].startswith("data/labelling/ops/") and p["review_line"] >= 2 for p in provenance)

    first = cli(workspace, "evaluate", "--golden", "ops", "--set", "latency.n_queries=2", "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    record = last_json(first.stdout)
    assert record["status"] == "pass" and record["golden"] == "ops:test" and record["golden_label_version"] == "ops@v1"
    assert record["n_stale"] == 0 and record["n_scored"] >= 1
    shown = cli(workspace, "evaluate", "--golden", "ops", "--set", "latency.n_queries=2")
    assert "version ops@v1" in shown.stdout and shown.returncode == 0, shown.stdout[-2000:]

    # bad labelling files are refused with their lines; the golden set stays as it was
    before = golden_files(folder)
    bad = Path(made["file"]).with_name("bad.csv")
    with open(bad, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()  # line 1; passages are one line each, so row i is on line i + 2
        writer.writerows([dict(rows[0], doc_id="no-such-doc.md"), dict(rows[1], relevance="7"), rows[2], rows[2]])
    refused = cli(workspace, "golden", "label", str(bad), "--name", "ops")
    assert refused.returncode == 1
    assert "line 2: unknown doc_id 'no-such-doc.md'" in refused.stderr, refused.stderr
    assert "line 3: relevance '7' is out of range" in refused.stderr and "line 5: duplicate" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert golden_files(folder) == before
    text = Path(made["file"]).read_text(encoding="utf-8")
    renamed = bad.with_name("renamed.csv")  # a spreadsheet user renamed the column to judge
    renamed.write_text(text.replace(",relevance,", ",grade,", 1), encoding="utf-8")
    wrong = cli(workspace, "golden", "label", str(renamed), "--name", "ops")
    assert wrong.returncode == 1 and "line 1: missing required column(s) relevance" in wrong.stderr, wrong.stderr
    lines = text.splitlines(keepends=True)
    cut = bad.with_name("cut.csv")  # a copy that stopped half-way through its last row
    cut.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2], encoding="utf-8")
    truncated = cli(workspace, "golden", "label", str(cut), "--name", "ops")
    assert truncated.returncode == 1 and f"line {len(lines)}: " in truncated.stderr, truncated.stderr
    assert "truncated" in truncated.stderr and "nothing was imported" in truncated.stderr
    assert golden_files(folder) == before

    # edit a document judged relevant: its qrels are stale in the next evaluate
    relevant = next(p for p in provenance if p["score"] > 0 and p["corpus-id"].endswith((".md", ".txt")))
    edited = source / relevant["corpus-id"]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\nUpdated: this procedure moved to the new wiki.\n")
    rebuilt = cli(workspace, "reindex", "--source", str(source), "--set", "gate.enabled=false", "--json")
    assert rebuilt.returncode == 0 and last_json(rebuilt.stdout)["status"] == "published", rebuilt.stderr[-3000:]
    second = cli(workspace, "evaluate", "--golden", "ops", "--set", "latency.n_queries=2", "--json")
    assert second.returncode in (0, 1), second.stderr[-3000:]
    after = last_json(second.stdout)
    n_stale = sum(p["corpus-id"] == relevant["corpus-id"] for p in provenance)
    assert after["n_stale"] == n_stale and any("stale" in m for m in after["golden_messages"])
    queue = Path(after["relabel_queue"])
    with open(queue, newline="", encoding="utf-8") as fh:
        queued = list(csv.DictReader(fh))
    assert {r["doc_id"] for r in queued} == {relevant["corpus-id"]} and len(queued) == n_stale
    assert {r["source"] for r in queued} == {"relabel"} and all(r["relevance"] == "" for r in queued)
    assert after["golden_comparison"] in ("restricted", "refused"), after["reason"]
    assert "stale qrels excluded" in after["reason"]
