"""Bad input at scale: a source of 1,300+ files, ~4% broken in every way we know, through the real reindex flow.

Counts are reconciled: every injected fault is quarantined with its reason, nothing else is, and no
good record is lost (every good document id is in the published index). Most good files share 40
texts, so embedding is quick: identical chunk texts embed once (the content-addressed cache).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.broken_source import MiB, minimal_pdf, pdf_bomb

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_harness")]

N_MD, N_TEXTS, N_TXT = 1200, 40, 20
WORDS = "index cache shard vector query chunk embed publish rollback canary recall latency drift".split()


def text_for(k: int) -> str:
    rng = random.Random(k)
    return f"# Runbook entry {k}\n\n" + " ".join(rng.choice(WORDS) for _ in range(30)) + ".\n"


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf(["# Locked\nSecret page."]))))
    writer.encrypt("pw")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_scale_source(root: Path) -> dict:
    """Good files (ids in ``good``) and faults (``faults``: id -> (kind, reason prefix))."""
    good, faults = set(), {}

    def fault(rel: str, kind: str, reason: str, data: bytes | None = None) -> None:
        if data is not None:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        faults[rel] = (kind, reason)

    for i in range(N_MD):
        path = root / f"topic-{i % 12}" / f"note-{i:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text_for(i % N_TEXTS), encoding="utf-8")
        good.add(path.relative_to(root).as_posix())
    for i in range(N_TXT):
        (root / f"plain-{i}.txt").write_text(f"Plain text note {i}: restore the index from DVC.\n", encoding="utf-8")
        good.add(f"plain-{i}.txt")
    for i in range(2):
        (root / f"guide-{i}.pdf").write_bytes(minimal_pdf([f"# Guide {i}\nRebuild shard {i} nightly."]))
        good.add(f"guide-{i}.pdf")
    lines = [json.dumps({"_id": f"rec-{i}", "title": f"Record {i}", "text": f"Record {i} about recall."}) for i in range(20)]
    bad_lines = {  # line -> (text, quarantine id, reason prefix)
        3: ('{"_id": "x", "text": ', "records.jsonl:3", "line 3: invalid JSON"),
        7: ('{"text": "no id"}', "records.jsonl:7", "line 7: missing id"),
        9: ('{"_id": "r-int", "text": 7}', "r-int", "line 9: text is not a string (got int)"),
        11: ("[1, 2", "records.jsonl:11", "line 11: invalid JSON"),
        13: ('{"_id": "rec-0", "text": "dup"}', "rec-0", "duplicate id (first seen in records.jsonl)"),
        15: ('{"title": "t", "text": "x"}', "records.jsonl:15", "line 15: missing id"),
        17: ('{"_id": "r-none", "text": null}', "r-none", "line 17: missing text"),
        19: ("{]", "records.jsonl:19", "line 19: invalid JSON"),
        21: ('{"_id": "rec-1", "text": "dup"}', "rec-1", "duplicate id (first seen in records.jsonl)")}
    for line_no in sorted(bad_lines):
        lines.insert(line_no - 1, bad_lines[line_no][0])
    (root / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    good |= {f"rec-{i}" for i in range(20)}
    faults.update({qid: ("bad JSONL line", reason) for _, qid, reason in bad_lines.values()})
    gz = [json.dumps({"_id": f"gz-{i}", "text": f"Compressed record {i}."}) for i in range(4)]
    gz.insert(2, json.dumps({"_id": "gz-bomb", "text": " " * (13 * MiB)}))  # > max_record_line_bytes once inflated
    (root / "stream.jsonl.gz").write_bytes(gzip.compress(("\n".join(gz) + "\n").encode(), 9))
    good |= {f"gz-{i}" for i in range(4)}
    fault("stream.jsonl.gz:3", "gzip bomb record", "line 3: record longer than")

    noise = random.Random(1).randbytes(3000)
    for i in range(6):
        fault(f"bin/blob-{i}.txt", "binary (NUL)", "binary content (NUL bytes)", noise[:1500] + b"\0" + noise[1500:])
        fault(f"empty/empty-{i}.md", "empty", "empty file", b"")
        fault(f"latin/latin-{i}.txt", "invalid UTF-8", "invalid UTF-8 at byte", f"caf\u00e9 {i}".encode("cp1252"))
    for i in range(2):
        fault(f"bin/ctrl-{i}.md", "binary (control chars)", "binary content (",
              bytes(b for b in noise if b not in (0, 0x80)))
        fault(f"misc/notes-{i}.{['xyz', 'exe'][i]}", "unsupported type", "unsupported file type", b"data\n")
        fault(f"pdf/bomb-{i}.pdf", "PDF zip bomb", "PDF decompression limit exceeded", pdf_bomb())
    for i in range(3):
        fault(f"empty/blank-{i}.md", "whitespace only", "whitespace-only file", b" \n\t \n")
        pdf = minimal_pdf([f"# Cut {i}\nThis PDF is cut short."])
        fault(f"pdf/cut-{i}.pdf", "corrupt PDF", "corrupt PDF", pdf[: len(pdf) // 2])
        with open(root / f"huge-{i}.txt", "wb") as fh:  # sparse: no disk, no write time
            fh.write(b"huge\n")
            fh.truncate(25 * MiB)
        fault(f"huge-{i}.txt", "huge file", "file too large")
    fault("pdf/locked.pdf", "encrypted PDF", "encrypted PDF", encrypted_pdf())
    fault("pdf/scan.pdf", "PDF without text", "no extractable text", minimal_pdf([""]))
    fault("long.md", "text too long", "text too long", b"# Long\n\n" + b"word " * 420_000)
    fault("ctrl-share.md", "control characters (GX)", "expect_column_values_to_be_between(control_char_share)",
          ("# Ctrl\n\n" + "abc\x01" * 10 + "x" * 300).encode())
    fault("replacement.md", "U+FFFD (GX)", "expect_column_values_to_be_between(n_replacement_chars)",
          "# Repl\n\nbad \ufffd char\n".encode())

    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Outside\n\nThe outside secret 91c2.\n", encoding="utf-8")
    os.symlink(outside / "secret.md", root / "escape-abs.md")
    os.symlink("../outside/secret.md", root / "escape-rel.md")
    os.symlink(outside, root / "escape-dir")
    os.symlink(root / "missing.md", root / "dangling.md")
    for name in ("escape-abs.md", "escape-rel.md", "escape-dir"):
        fault(name, "symlink out of root", "symlink escapes source root")
    fault("dangling.md", "broken symlink", "broken symlink")
    os.mkfifo(root / "pipe.md")
    fault("pipe.md", "FIFO", "not a regular file")
    (root / ".hidden.md").write_text("# Hidden\n\nSkipped silently.\n", encoding="utf-8")
    return {"good": good, "faults": faults}


def mirror_into_memory(local: Path, mem_root: str, escapes: list[str]) -> None:
    """Every regular file under 1 MiB (same relative names), plus entries whose names climb out with '..'."""
    import fsspec

    memory = fsspec.filesystem("memory")
    for path in local.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < MiB:
            memory.pipe(f"{mem_root}/{path.relative_to(local).as_posix()}", path.read_bytes())
    for name in escapes:
        memory.pipe(f"{mem_root}/{name}", b"# Escape\n\nThe outside secret 91c2.\n")


def test_thousand_file_source_with_every_fault_quarantined_and_no_record_lost(workspace, tmp_path):
    import fsspec
    from mlflow.tracking import MlflowClient

    from flows.reindex import reindex
    from tasks.config.loader import load_config
    from tasks.reindex.config import ReindexConfig
    from tasks.retrieval import open_index

    src = make_scale_source(tmp_path / "src")
    good, faults = src["good"], src["faults"]
    n_files = sum(1 for p in (tmp_path / "src").rglob("*") if p.is_symlink() or not p.is_dir())
    assert n_files >= 1000 and 0.02 <= len(faults) / (len(good) + len(faults)) <= 0.05

    result = reindex(load_config(ReindexConfig, None, [f"source={tmp_path / 'src'}"]), workspace)
    assert result["status"] == "published", result
    quarantine = [json.loads(line) for line in
                  (workspace.quarantine_dir / f"{result['build_id']}.jsonl").read_text().splitlines()]
    reasons = {q["id"]: q["reason"] for q in quarantine}
    wrong = {qid: (kind, why, reasons.get(qid)) for qid, (kind, why) in faults.items()
             if not reasons.get(qid, "").startswith(why)}
    assert wrong == {}, wrong
    assert len(quarantine) == len(faults) == result["n_quarantined"], set(reasons) ^ set(faults)

    chunks = open_index(workspace.index_dir).chunks
    lost = good - set(chunks["doc_id"])
    assert lost == set() and set(chunks["doc_id"]) == good and result["n_documents"] == len(good)
    assert not chunks["text"].str.contains("outside secret").any()
    # content-addressed cache: 1,200 Markdown files with 40 distinct texts were embedded 40 times
    others = chunks[~chunks["doc_id"].str.endswith(".md")]
    assert result["n_embedded"] == N_TEXTS + others["text"].nunique() < len(chunks) // 10, result
    metrics = MlflowClient(workspace.tracking_uri).get_run(result["run_id"]).data.metrics
    assert metrics["n_unique"] == result["n_embedded"] and metrics["n_quarantined"] == len(faults)

    mem_root, escapes = "/nsscale-" + result["run_id"][:8], ["../outside.md", "sub/../../outside-2.md", "a/.."]
    mirror_into_memory(tmp_path / "src", mem_root, escapes)
    try:
        again = reindex(load_config(ReindexConfig, None, [f"source=memory://{mem_root}"]), workspace)
    finally:
        fsspec.filesystem("memory").rm(mem_root, recursive=True)
    assert again["status"] == "unchanged" and again["n_documents"] == len(good), again  # no escape got in
    mem_reasons = {json.loads(line)["id"]: json.loads(line)["reason"] for line in
                   next(p for p in workspace.quarantine_dir.glob("*.jsonl") if again["run_id"][:8] in p.name)
                   .read_text().splitlines()}
    assert all(mem_reasons[name] == "path escapes source root ('..' component)" for name in escapes), mem_reasons
    print(json.dumps({"files": n_files, "records": len(good) + len(faults), "faults_injected": len(faults),
                      "quarantined_with_expected_reason": len(faults) - len(wrong), "good_records": len(good),
                      "records_lost": len(lost), "embedded": result["n_embedded"], "chunks": len(chunks),
                      "by_kind": Counter(kind for kind, _ in faults.values())}))


def test_file_name_that_is_not_utf8_is_quarantined_not_fatal(workspace, tmp_path):
    from flows.reindex import reindex
    from tasks.config.loader import load_config
    from tasks.reindex.config import ReindexConfig

    root = tmp_path / "src"
    root.mkdir()
    for i in range(30):
        (root / f"note-{i}.md").write_text(text_for(i), encoding="utf-8")
    os.close(os.open(os.path.join(os.fsencode(root), b"bad-\xff.md"), os.O_CREAT | os.O_WRONLY))
    result = reindex(load_config(ReindexConfig, None, [f"source={root}"]), workspace)
    assert result["status"] == "published" and result["n_quarantined"] == 1, result
