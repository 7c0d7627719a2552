"""Loaders: each file type on the shipped samples; each broken case quarantined with its reason."""

from __future__ import annotations

import gzip
import io
import json
import time
import uuid
from pathlib import Path

import fsspec
import pypdf
import pytest
from pydantic import ValidationError

from tasks import sources
from tasks.documents import Document
from tasks.loaders import (LOADERS, Loader, LoadLimits, SourceError, iter_documents, load_source,
                           loader_for, register_loader, supported_suffixes)
from tasks.loaders.html import parse_html
from tasks.loaders.records import BEIR_NOT_CORPUS
from tasks.loaders.registry import suffix_of
from tests.fixtures.broken_source import make_broken_source, minimal_pdf, pdf_bomb

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
MIXED = SAMPLES / "mixed"
SCIFACT = SAMPLES / "scifact" / "corpus.jsonl.gz"


@pytest.fixture(scope="module")
def mixed():
    result = load_source(MIXED)
    return result, {doc.id: doc for doc in result.documents}


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    expected = make_broken_source(tmp_path_factory.mktemp("broken") / "src")
    return expected, load_source(expected["root"])


def _write(root: Path, rel: str, data: bytes | str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _load_one(tmp_path: Path, name: str, data: bytes | str, limits: LoadLimits | None = None):
    _write(tmp_path, name, data)
    return load_source(tmp_path, limits)


def _reason(tmp_path: Path, name: str, data: bytes | str, limits: LoadLimits | None = None) -> str:
    result = _load_one(tmp_path, name, data, limits)
    assert result.documents == []
    (quarantined,) = result.quarantined
    return quarantined.reason


# -- registry ---------------------------------------------------------------------------------

def test_registry_maps_suffixes_to_loaders():
    assert {suffix: loader.name for suffix, loader in LOADERS.items()} == {
        ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html",
        ".htm": "html", ".pdf": "pdf", ".py": "code", ".js": "code", ".mjs": "code",
        ".ts": "code", ".go": "code", ".rs": "code", ".java": "code", ".jsonl": "jsonl",
        ".jsonl.gz": "jsonl"}
    assert suffix_of("beir/corpus.JSONL.GZ") == ".jsonl.gz"
    assert suffix_of("archive.tar.gz") == ".gz"
    assert loader_for("x.gz") is None and loader_for("Makefile") is None
    assert loader_for("README.MD").doc_type == "markdown"


def test_register_loader_extends_and_refuses_silent_overrides(tmp_path, monkeypatch):
    monkeypatch.setattr("tasks.loaders.registry.LOADERS", dict(LOADERS))
    rst = Loader("rst", "text", (".rst",),
                 parse=lambda data, sf, limits: Document.create(sf.rel_path, data.decode()))
    register_loader(rst)
    assert ".rst" in supported_suffixes()
    with pytest.raises(ValueError):
        register_loader(Loader("other", "text", (".md",), parse=rst.parse))
    result = _load_one(tmp_path, "guide.rst", "Title\n=====\n")
    assert [d.id for d in result.documents] == ["guide.rst"]


def test_loader_rejects_unknown_doc_type():
    with pytest.raises(ValueError, match="doc_type"):
        Loader("bad", "spreadsheet", (".xls",), parse=lambda *a: None)


# -- the shipped mixed sample -----------------------------------------------------------------

def test_mixed_sample_loads_every_file_type(mixed):
    result, docs = mixed
    assert result.quarantined == [] and result.n_files == 9
    assert len(result.documents) == 16
    assert {doc.doc_type for doc in result.documents} == {"markdown", "text", "html", "pdf",
                                                         "code", "record"}
    assert [f.status for f in result.files] == ["loaded"] * 9
    assert next(f for f in result.files if f.rel_path == "glossary.jsonl").n_documents == 8


def test_markdown_titles(mixed, tmp_path):
    _, docs = mixed
    assert docs["runbooks/reindex.md"].title == "Reindex runbook"
    assert docs["postmortems/2025-03-embedding-drift.markdown"].title == \
        "Postmortem: silent embedding drift after a tokenizer upgrade"  # setext heading
    assert "résumé" in docs["postmortems/2025-03-embedding-drift.markdown"].text
    result = _load_one(tmp_path, "notes/no-heading.md",
                       "```\n# not a title (code)\n```\n## Level two only\nbody\n")
    assert result.documents[0].title == "no-heading"


def test_text_and_code(mixed):
    _, docs = mixed
    text = docs["oncall-checklist.txt"]
    assert (text.doc_type, text.title) == ("text", "oncall-checklist")
    code = docs["health_checks.py"]
    assert code.doc_type == "code" and code.metadata["language"] == "python"
    assert "def check_recall(" in code.text and "class CanarySet:" in code.text
    assert "    def failures(self, search)" in code.text  # indentation kept
    assert docs["tools/warm_cache.js"].metadata["language"] == "javascript"


def test_html_keeps_blocks_and_drops_chrome(mixed):
    _, docs = mixed
    page = docs["faq.html"]
    assert page.title == "Retrieval platform FAQ" and page.metadata["lang"] == "en"
    lines = page.text.split("\n")
    for dropped in ("tracking", "font-family", "Runbooks", "analytics"):
        assert dropped not in page.text
    assert "The text is not valid UTF-8; re-save it as UTF-8." in lines  # one <li> = one line
    assert "Markdown | .md, .markdown" in lines  # a table row
    assert ("The index is rebuilt every night. A document changed during the day is searchable "
            "after the next reindex run, usually before 03:00 UTC.") in lines  # inline kept inline
    assert 'nightshift search "how do I roll back an index" --k 5' in lines


def test_html_without_text_or_title(tmp_path):
    assert _reason(tmp_path, "empty.html", "<html><head><script>x()</script></head>"
                   "<body><nav>menu</nav></body></html>") == "no text after HTML extraction"
    doc = parse_html(b"<h1>Heading</h1><p>a <b>bold</b> word</p><br>next",
                     sources.SourceFile("frag.htm", "frag.htm", "frag.htm"), LoadLimits())
    assert (doc.title, doc.text) == ("Heading", "Heading\n\na bold word\n\nnext")


def test_pdf_pages_are_split_by_form_feed(mixed):
    _, docs = mixed
    pdf = docs["capacity-planning.pdf"]
    assert pdf.doc_type == "pdf" and pdf.metadata["n_pages"] == 3
    assert pdf.title == "Capacity planning for the retrieval index"
    pages = pdf.text.split("\f")
    assert len(pages) == 3
    assert pages[1].startswith("Index choice") and pages[2].startswith("Embedding cost")


def test_pdf_limits(tmp_path):
    data = (MIXED / "capacity-planning.pdf").read_bytes()
    assert _reason(tmp_path / "a", "c.pdf", data, LoadLimits(max_pdf_pages=2)) == \
        "too many pages: 3 > max_pdf_pages 2"
    assert _reason(tmp_path / "b", "c.pdf", data, LoadLimits(max_chars_per_doc=600)).startswith(
        "text too long: more than 600 chars (max_chars_per_doc) by page 2 of 3")


def test_pdf_bomb_is_stopped_by_the_stream_cap(tmp_path):
    start = time.perf_counter()
    assert _reason(tmp_path / "a", "bomb.pdf", pdf_bomb()) == \
        "PDF decompression limit exceeded (possible decompression bomb)"
    assert time.perf_counter() - start < 5
    # with the cap raised above the bomb it inflates (and has no text): the cap is what stops it
    raised = LoadLimits(max_pdf_stream_bytes=128 * 1024 * 1024)
    assert _reason(tmp_path / "b", "bomb.pdf", pdf_bomb(), raised).startswith("no extractable text")


@pytest.mark.parametrize("data, reason", [
    (minimal_pdf(["one", "two"])[:300], "corrupt PDF: truncated (no %%EOF trailer)"),
    (b"%PDF-1.4\nnot really a pdf\n%%EOF\n", "corrupt PDF: PdfReadError"),
    (b"<html>renamed web page</html>\n", "not a PDF (no %PDF- header)"),
    (minimal_pdf([""]), "no extractable text in PDF (scanned or image-only?)"),
])
def test_broken_pdfs(tmp_path, data, reason):
    assert _reason(tmp_path, "x.pdf", data) == reason


def test_encrypted_pdf(tmp_path):
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(minimal_pdf(["secret"])))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert _reason(tmp_path, "locked.pdf", buffer.getvalue()) == "encrypted PDF (password required)"


def test_pdf_leading_empty_pages_are_located(tmp_path):
    result = _load_one(tmp_path, "cover.pdf", minimal_pdf(["", "body one", "", "body two"]))
    (doc,) = result.documents
    assert doc.metadata == {"source_file": "cover.pdf", "n_pages": 4}
    assert doc.text.split("\f") == ["", "body one", "", "body two"]  # page i+1 is split("\f")[i]


# -- text decoding ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, data, reason", [
    ("empty.md", b"", "empty file"),
    ("blank.txt", " \n\t\r\n\u3000".encode(), "whitespace-only file"),
    ("nul.py", b"print('hi')\n\x00\x01", "binary content (NUL bytes)"),
    ("ctrl.txt", b"ab\x01\x02\x03\x04cd" * 10, "binary content (50% control characters)"),
    ("latin.md", "# Caf\u00e9".encode("latin-1"), "invalid UTF-8 at byte 5"),
    ("bom-bad.txt", b"\xef\xbb\xbfok \xff", "invalid UTF-8 at byte 6"),
    ("data.xyz", b"hello", "unsupported file type .xyz; supported: " + ", ".join(sorted(LOADERS))),
    ("Makefile", b"all:\n", "unsupported file type (no suffix); supported: "
                            + ", ".join(sorted(LOADERS))),
])
def test_text_rejections(tmp_path, name, data, reason):
    assert _reason(tmp_path, name, data) == reason


def test_bom_and_crlf_are_normalised(tmp_path):
    (doc,) = _load_one(tmp_path, "win.md", b"\xef\xbb\xbf# Title\r\nline  \r\n").documents
    assert (doc.title, doc.text) == ("Title", "# Title\nline")


def test_text_over_char_limit_is_quarantined_not_truncated(tmp_path):
    assert _reason(tmp_path, "long.txt", "word " * 100, LoadLimits(max_chars_per_doc=50)) == \
        "text too long: 500 chars > max_chars_per_doc 50"


# -- records ----------------------------------------------------------------------------------

def test_scifact_corpus_loads_5183_documents():
    start = time.perf_counter()
    result = load_source(SCIFACT)
    elapsed = time.perf_counter() - start
    assert len(result.documents) == 5183 and result.quarantined == []
    first = result.documents[0]
    assert first.id == "4983" and first.doc_type == "record"
    assert first.title.startswith("Microstructural development of human newborn cerebral white")
    assert first.metadata == {"source_file": "corpus.jsonl.gz"}
    assert len({doc.id for doc in result.documents}) == 5183
    assert elapsed < 10, elapsed


def test_bad_lines_are_quarantined_one_by_one(tmp_path):
    lines = [
        '{"_id": "a", "title": "A", "text": "alpha", "metadata": {"k": 1}, "lang": "en"}',
        '',
        '[1, 2]',
        '{"_id": true, "text": "bool id"}',
        '{"_id": 7, "text": "int ids become strings"}',
        '{"_id": "e", "text": "   "}',
        '{"_id": "t", "title": 5, "text": "bad title"}',
        '{"_id": "m", "text": "bad metadata", "metadata": [1]}',
        '{"_id": "n", "title": "no text"}',
    ]
    data = ("\n".join(lines) + "\n").encode() + b'{"_id": "u", "text": "\xff"}\n'
    result = _load_one(tmp_path, "records.jsonl", data)
    assert [(d.id, d.title, d.metadata) for d in result.documents] == [
        ("a", "A", {"lang": "en", "k": 1, "source_file": "records.jsonl"}),
        ("7", "", {"source_file": "records.jsonl"})]
    assert [(q.id, q.reason) for q in result.quarantined] == [
        ("records.jsonl:3", "line 3: not a JSON object (got list)"),
        ("records.jsonl:4", "line 4: id is not a string (got bool)"),
        ("e", "line 6: empty text"),
        ("t", "line 7: title is not a string (got int)"),
        ("m", "line 8: metadata is not an object (got list)"),
        ("n", "line 9: missing text"),
        ("records.jsonl:10", "line 10: invalid UTF-8 at byte 22 of the line"),
    ]
    assert result.files[0].status == "partial"


def test_overlong_record_line_is_skipped_and_the_next_line_kept(tmp_path):
    limits = LoadLimits(max_chars_per_doc=10)  # max_record_line_bytes = 60 + 64 KiB
    long_line = json.dumps({"_id": "big", "text": "x" * 2_500_000})  # spans 3 read chunks
    data = f'{long_line}\n{{"_id": "ok", "text": "short"}}\n{long_line[:70_000]}\n'
    result = _load_one(tmp_path, "r.jsonl", data, limits)
    assert [d.id for d in result.documents] == ["ok"]
    too_long = f"record longer than {limits.max_record_line_bytes} bytes (max_chars_per_doc)"
    assert [q.reason for q in result.quarantined] == [f"line 1: {too_long}", f"line 3: {too_long}"]


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path):
    records = "".join(json.dumps({"_id": str(i), "text": f"record {i} " * 50}) + "\n"
                      for i in range(400))
    packed = gzip.compress(records.encode(), mtime=0)
    result = _load_one(tmp_path, "c.jsonl.gz", packed[: len(packed) // 2])
    assert 0 < len(result.documents) < 400
    (damage,) = result.quarantined
    assert damage.id == "c.jsonl.gz"
    assert damage.reason == f"corrupt or truncated gzip after line {len(result.documents)}"


def test_gzip_that_is_not_gzip(tmp_path):
    assert _reason(tmp_path, "c.jsonl.gz", b"plain text, not gzip\n").startswith(
        "corrupt or truncated gzip at the start")


def test_blank_or_binary_jsonl(tmp_path):
    assert _reason(tmp_path / "a", "r.jsonl", "\n  \n\n") == "whitespace-only file"
    assert _reason(tmp_path / "b", "r.jsonl", b"\x00\x01binary") == "binary content (NUL bytes)"


def test_duplicate_ids_across_files_keep_the_first(tmp_path):
    _write(tmp_path, "a.md", "# A\n\nthe file\n")
    _write(tmp_path, "b.jsonl", '{"_id": "a.md", "text": "record reusing a file id"}\n'
                                '{"_id": "x", "text": "first x"}\n'
                                '{"_id": "x", "text": "second x"}\n')
    result = load_source(tmp_path)
    assert [d.text for d in result.documents] == ["# A\n\nthe file", "first x"]
    assert [(q.id, q.reason, q.detail) for q in result.quarantined] == [
        ("a.md", "duplicate id (first seen in a.md)", "kept a.md, dropped b.jsonl:1"),
        ("x", "duplicate id (first seen in b.jsonl)", "kept b.jsonl:2, dropped b.jsonl:3")]


# -- the broken source fixture ----------------------------------------------------------------

def test_broken_source_good_files_load(broken):
    expected, result = broken
    assert sorted(doc.id for doc in result.documents) == expected["good"]


def test_broken_source_every_case_quarantined_with_its_reason(broken):
    expected, result = broken
    got = {q.id: q.reason for q in result.quarantined}
    assert set(got) == set(expected["quarantined"])
    for doc_id, reason in expected["quarantined"].items():
        assert got[doc_id].startswith(reason), (doc_id, got[doc_id])
    assert all(q.stage == "load" and q.source for q in result.quarantined)


def test_broken_source_hidden_and_outside_never_surface(broken):
    expected, result = broken
    ids = {d.id for d in result.documents} | {q.id for q in result.quarantined}
    assert not ids & set(expected["hidden"])
    secret = expected["outside"].read_text()
    assert all("outside the source root" not in d.text for d in result.documents)
    assert "outside the source root" in secret


def test_big_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    expected = make_broken_source(tmp_path / "src", n_good=1)
    opened: list[str] = []
    real_open = sources.open_binary
    monkeypatch.setattr(sources, "open_binary", lambda f: opened.append(f.rel_path) or real_open(f))
    result = load_source(expected["root"])
    big = next(q for q in result.quarantined if q.id == "big.txt")
    assert big.reason == "file too large: 52428800 bytes > max_file_bytes 20971520"
    assert "big.txt" not in opened and "good-0.md" in opened


def test_ids_and_hashes_are_deterministic(broken, mixed):
    expected, first = broken
    again = load_source(expected["root"])
    assert [(d.id, d.content_hash) for d in again.documents] == \
        [(d.id, d.content_hash) for d in first.documents]
    assert [q.to_record() for q in again.quarantined] == [q.to_record() for q in first.quarantined]
    result, _ = mixed
    assert [d.content_hash for d in load_source(MIXED).documents] == \
        [d.content_hash for d in result.documents]


# -- driving a source -------------------------------------------------------------------------

def test_memory_source_loads_including_gzip_records():
    root = f"memory://nightshift-test-{uuid.uuid4().hex}"
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{root}/guide.md", b"# Guide\n\nFrom memory.\n")
    fs.pipe(f"{root}/corpus.jsonl.gz",
            gzip.compress(b'{"_id": "d1", "title": "T", "text": "gz record"}\n', mtime=0))
    fs.pipe(f"{root}/../outside.md", b"# Outside\n")
    try:
        result = load_source(root)
    finally:
        fs.rm(root, recursive=True)  # prefix-based: takes "<root>/../outside.md" too
    assert [(d.id, d.doc_type) for d in result.documents] == [("d1", "record"),
                                                             ("guide.md", "markdown")]
    assert [(q.id, q.reason) for q in result.quarantined] == [
        ("../outside.md", "path escapes source root ('..' component)")]


def test_iter_documents_streams(tmp_path):
    for i in range(3):
        _write(tmp_path, f"d{i}.md", f"# Doc {i}\n")
    stats: list = []
    stream = iter_documents(tmp_path, stats=stats)
    first = next(stream)
    assert isinstance(first, Document) and first.id == "d0.md" and stats == []
    rest = list(stream)
    assert [d.id for d in rest] == ["d1.md", "d2.md"] and len(stats) == 3


def test_a_crashing_loader_is_quarantined_not_raised(tmp_path, monkeypatch):
    def explode(data, sf, limits):
        raise RuntimeError("boom")
    monkeypatch.setitem(LOADERS, ".txt", Loader("text", "text", (".txt",), parse=explode))
    _write(tmp_path, "ok.md", "# fine\n")
    _write(tmp_path, "bad.txt", "anything\n")
    result = load_source(tmp_path)
    assert [d.id for d in result.documents] == ["ok.md"]
    assert [(q.id, q.reason, q.detail) for q in result.quarantined] == [
        ("bad.txt", "loader error: RuntimeError", "boom")]


def test_missing_source_raises_source_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        load_source(tmp_path / "missing")


def test_limits_are_validated():
    assert LoadLimits().max_file_bytes == 20 * 1024 * 1024
    assert (LoadLimits().max_pdf_pages, LoadLimits().max_chars_per_doc) == (2000, 2_000_000)
    with pytest.raises(ValidationError):
        LoadLimits(max_file_bytes=0)
    with pytest.raises(ValidationError):
        LoadLimits(max_bytes=1)


def test_beir_folder_indexes_the_corpus_only(tmp_path):
    _write(tmp_path, "beir/corpus.jsonl", '{"_id": "d1", "title": "T", "text": "a document"}\n')
    _write(tmp_path, "beir/queries.jsonl", '{"_id": "q1", "text": "a question"}\n')
    _write(tmp_path, "beir/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    _write(tmp_path, "beir/NOTES.md", "# About this dataset\n")
    _write(tmp_path, "other/queries.jsonl", '{"_id": "r1", "text": "just records"}\n')
    _write(tmp_path, "plain/corpus.jsonl", '{"_id": "p1", "text": "no queries, no qrels"}\n')
    _write(tmp_path, "plain/guide.md", "# Guide\n")
    _write(tmp_path, "noqrels/corpus.jsonl.gz",
           gzip.compress(b'{"_id": "n1", "text": "gzipped corpus"}\n', mtime=0))
    _write(tmp_path, "noqrels/queries.jsonl", '{"_id": "q2", "text": "another question"}\n')
    result = load_source(tmp_path)
    assert [d.id for d in result.documents] == ["d1", "n1", "r1", "p1", "plain/guide.md"]
    assert {q.id: q.reason for q in result.quarantined} == {
        "beir/NOTES.md": BEIR_NOT_CORPUS, "beir/qrels/test.tsv": BEIR_NOT_CORPUS,
        "beir/queries.jsonl": BEIR_NOT_CORPUS, "noqrels/queries.jsonl": BEIR_NOT_CORPUS}


def test_shipped_scifact_folder_as_a_source_gives_the_corpus():
    result = load_source(SCIFACT.parent)
    assert len(result.documents) == 5183
    assert sorted(q.id for q in result.quarantined) == [
        "SOURCE.md", "qrels/test.tsv", "qrels/train.tsv", "queries.jsonl"]
