"""Chunking: token limits with the real MiniLM tokenizer, nothing dropped, structure per type."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from tasks.chunking import (
    STRATEGIES, TYPE_CHUNKERS, ChunkingConfig, chunk_documents, summarize_chunks)
from tasks.chunking.config import DocType
from tasks.chunking.segments import sentence_spans
from tasks.documents import DOC_TYPES, Document, sha256_text
from tasks.tokens import HFTokenCounter

SCIFACT = Path("/work/shared/data/scifact/corpus.jsonl.gz")
if not SCIFACT.exists():
    SCIFACT = Path(__file__).resolve().parents[2] / "data/samples/scifact/corpus.jsonl.gz"
SAMPLES = Path(__file__).resolve().parents[2] / "data/samples/mixed"


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from tasks.model_files import locate_packaged_model

    return AutoTokenizer.from_pretrained(locate_packaged_model("all-MiniLM-L6-v2"))


@pytest.fixture(scope="module")
def counter(tokenizer) -> HFTokenCounter:
    counter = HFTokenCounter.for_model(tokenizer, 256)
    assert counter.max_tokens == 254
    return counter


@pytest.fixture(scope="module")
def small(tokenizer) -> HFTokenCounter:
    """A 64-token model: small realistic documents must split."""
    return HFTokenCounter(tokenizer, max_tokens=64)


@pytest.fixture(scope="module")
def scifact() -> list[Document]:
    docs = []
    with gzip.open(SCIFACT, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            docs.append(Document.create(row["_id"], row["text"], row["title"], "record"))
            if len(docs) == 500:
                break
    return docs


def sentences(n: int, start: int = 0) -> str:
    return " ".join(f"Sentence number {i} talks about retrieval quality and index health."
                    for i in range(start, start + n))


@pytest.fixture(scope="module")
def synthetic() -> list[Document]:
    words = [f"token{i % 97}" for i in range(10_000)]
    return [
        Document.create("long-text", "\n\n".join(sentences(12, 12 * p) for p in range(30)),
                        "Long text", "text"),
        Document.create("no-boundaries", " ".join(words[:3000]), "", "text"),
        Document.create("one-sentence-10k", "Start " + " ".join(words) + " end", "Huge", "record"),
        Document.create("no-spaces", "x" * 5000 + "y" * 5000, "", "text"),
        Document.create("cjk", "检索增强生成系统需要可靠的索引。" * 400
                        + "Ünïcödé façade naïve café — ok! " * 50, "Unicode", "text"),
        Document.create("md", (SAMPLES / "runbooks/reindex.md").read_text(), "Reindex runbook",
                        "markdown"),
        Document.create("py", (SAMPLES / "health_checks.py").read_text(), "health_checks.py",
                        "code"),
        Document.create("js", (SAMPLES / "tools/warm_cache.js").read_text(), "warm_cache.js",
                        "code"),
        Document.create("txt", (SAMPLES / "oncall-checklist.txt").read_text(), "", "text"),
        Document.create("pdf", "\f".join(sentences(30, 30 * p) for p in range(3)), "Report", "pdf"),
        # pages glued mid-word: BERT drops the form feed, so "summarization" is one word to it
        Document.create("pdf-glued", "text summari\fzation and unhelp\ffulness", "", "pdf"),
        Document.create("html", "\n".join(sentences(3, 3 * k) for k in range(40)), "Page", "html"),
        Document.create("record-long-title", sentences(40), " ".join(["Title"] * 200), "record"),
    ]


# -- invariants -----------------------------------------------------------------------------------

def covered(doc: Document, chunks) -> bytearray:
    cov = bytearray(len(doc.text))
    for c in chunks:
        s, e = c.span
        cov[s:e] = b"\x01" * (e - s)
    return cov


def check_invariants(docs, chunks, counter, truncated_ok: bool = False) -> None:
    real = counter.count_many([c.text for c in chunks])
    assert [c.n_tokens for c in chunks] == real, "n_tokens must be the tokenizer's count of text"
    assert max(real) <= counter.max_tokens
    by_doc: dict[str, list] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    assert list(by_doc) == [d.id for d in docs if d.id in by_doc], "documents stay in input order"
    for doc in docs:
        mine = by_doc.get(doc.id, [])
        assert mine or not doc.text.strip(), f"{doc.id}: no chunk"
        assert [c.ordinal for c in mine] == list(range(len(mine)))
        assert [c.id for c in mine] == [f"{doc.id}#{i}" for i in range(len(mine))]
        for c in mine:
            s, e = c.span
            assert 0 <= s <= e <= len(doc.text)
            assert c.content_hash == sha256_text(c.text)
            if not c.metadata.get("truncated"):
                assert c.text.endswith(doc.text[s:e]), f"{c.id}: span is not the embedded body"
        if truncated_ok and any(c.metadata.get("truncated") for c in mine):
            continue
        cov = covered(doc, mine)
        missing = [i for i, ch in enumerate(doc.text) if not cov[i] and not ch.isspace()]
        assert not missing, f"{doc.id}: characters dropped at {missing[:5]}"


CONFIGS = [
    ChunkingConfig(),
    ChunkingConfig(strategy="whole"),
    ChunkingConfig(strategy="window"),
    ChunkingConfig(window_tokens=64, overlap_tokens=16, min_chunk_tokens=0),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.strategy}-{c.window_tokens}")
def test_no_chunk_over_limit_and_nothing_dropped(counter, scifact, synthetic, config):
    docs = scifact + synthetic
    chunks = chunk_documents(docs, counter, config)
    check_invariants(docs, chunks, counter)
    assert sum(c.doc_id.startswith("one-sentence") for c in chunks) > 40


def test_invariants_hold_with_a_small_model_limit(small, synthetic):
    for strategy in STRATEGIES:
        config = ChunkingConfig(strategy=strategy, window_tokens=48, overlap_tokens=12)
        check_invariants(synthetic, chunk_documents(synthetic, small, config), small)


def test_chunking_is_deterministic(counter, scifact, synthetic):
    docs = scifact[:100] + synthetic
    view = lambda cs: [(c.id, c.content_hash, c.span, c.n_tokens, c.metadata) for c in cs]  # noqa
    first = chunk_documents(docs, counter)
    assert view(first) == view(chunk_documents(docs, counter))
    assert view(first[:3]) == view(chunk_documents(docs[:1], counter)[:3])
    assert view(first) == view(chunk_documents(docs, counter, batch_docs=7))


def test_tokenizer_is_called_in_batches(counter, scifact):
    class Spy:
        additive_at_whitespace = False  # recount every chunk: that must be batched too

        def __init__(self, inner):
            self.inner, self.max_tokens, self.calls = inner, inner.max_tokens, []

        def __getattr__(self, name):  # tokenizer, count, offsets, count_many, ...
            self.calls.append(name)
            return getattr(self.inner, name)

    spy = Spy(counter)
    chunks = chunk_documents(scifact, spy)
    assert spy.calls.count("count") == 0 and spy.calls.count("offsets") == 0
    assert spy.calls.count("tokenizer") + spy.calls.count("count_many") <= 3
    assert spy.calls.count("count_many") == 1
    spy.calls.clear()
    chunk_documents(scifact, spy, batch_docs=100)
    assert spy.calls.count("count_many") == 5 and spy.calls.count("count") == 0
    assert len(chunks) > len(scifact)


# -- config and registries ------------------------------------------------------------------------

def test_config_validation():
    config = ChunkingConfig()
    assert (config.strategy, config.window_tokens, config.overlap_tokens) == ("per_type", 200, 40)
    assert config.include_title and not config.truncate
    with pytest.raises(ValidationError, match="overlap_tokens"):
        ChunkingConfig(window_tokens=40, overlap_tokens=40)
    with pytest.raises(ValidationError, match="overlap_tokens"):
        ChunkingConfig(per_type={"code": {"window_tokens": 30}})
    with pytest.raises(ValidationError, match="truncate"):
        ChunkingConfig(truncate=True)
    with pytest.raises(ValidationError):
        ChunkingConfig(strategy="sentences")
    with pytest.raises(ValidationError):
        ChunkingConfig(windows_tokens=100)  # a typo is an error, not a silently ignored key
    override = ChunkingConfig(per_type={"code": {"window_tokens": 120}})
    assert override.for_type("code").window_tokens == 120
    assert override.for_type("pdf").window_tokens == 200


def test_fingerprint_is_stable_and_covers_every_boundary_setting():
    base = ChunkingConfig()
    assert re.fullmatch(r"[0-9a-f]{64}", base.fingerprint())
    assert base.fingerprint() == ChunkingConfig(window_tokens=200, overlap_tokens=40).fingerprint()
    a = ChunkingConfig(per_type={"pdf": {"overlap_tokens": 0}, "code": {"window_tokens": 99}})
    b = ChunkingConfig(per_type={"code": {"window_tokens": 99}, "pdf": {"overlap_tokens": 0}})
    assert a.fingerprint() == b.fingerprint()
    payload = json.loads(base.model_dump_json())
    assert payload["strategy"] == "per_type"  # the JSON it hashes is the config itself
    variants = [ChunkingConfig(strategy="whole"), ChunkingConfig(strategy="whole", truncate=True),
                ChunkingConfig(window_tokens=201), ChunkingConfig(overlap_tokens=0),
                ChunkingConfig(include_title=False), ChunkingConfig(min_chunk_tokens=0), a]
    prints = {base.fingerprint(), *(v.fingerprint() for v in variants)}
    assert len(prints) == len(variants) + 1


def test_registries():
    assert set(STRATEGIES) == {"per_type", "whole", "window"}
    assert set(TYPE_CHUNKERS) == set(DOC_TYPES)
    assert set(get_args(DocType)) == set(DOC_TYPES)
    with pytest.raises(ValueError, match="no chunker"):
        chunk_documents([Document.create("x", "text", doc_type="spreadsheet")],
                        _WordCounter(50))


def test_sentence_boundaries():
    text = ("See Fig. 2 and e.g. the table (n = 17). J. Smith said so! Really? Yes 3.5 mg.\n"
            "1. A list item. Done\n\nNew paragraph without a stop\n检索系统。中文句子。好的")
    assert [text[s:e] for s, e in sentence_spans(text, 0, len(text))] == [
        "See Fig. 2 and e.g. the table (n = 17).", "J. Smith said so!", "Really?", "Yes 3.5 mg.",
        "1. A list item.", "Done", "New paragraph without a stop\n检索系统。", "中文句子。", "好的"]


# -- per document type ----------------------------------------------------------------------------

MARKDOWN = """# Guide

Short intro to the guide.

## Setup

Prepare the machine.

### Install

Run the installer. Then check the version.

```bash
# not a heading: a comment in a fenced block
make install
```

## Empty

## Usage

{usage}

Troubleshooting
---------------

Read the logs first.
"""


def test_markdown_sections_and_heading_paths(counter):
    text = MARKDOWN.format(usage=sentences(60))
    doc = Document.create("guide.md", text, "Guide", "markdown")
    chunks = chunk_documents([doc], counter, ChunkingConfig(min_chunk_tokens=0))
    check_invariants([doc], chunks, counter)
    paths = [c.metadata["section"] for c in chunks]
    assert paths[:4] == ["Guide", "Guide > Setup", "Guide > Setup > Install", "Guide > Empty"]
    assert "# not a heading" in chunks[2].text and "make install" in chunks[2].text
    assert not any("not a heading" in p for p in paths)
    assert chunks[3].text == "Guide ## Empty"
    # By default a section under min_chunk_tokens (here: a lone heading) joins the next one.
    chunks = chunk_documents([doc], counter)
    check_invariants([doc], chunks, counter)
    paths = [c.metadata["section"] for c in chunks]
    assert "Guide > Empty" not in paths and "Guide > Setup > Install" in paths
    usage = [c for c in chunks if c.metadata["section"] == "Guide > Usage"]
    assert len(usage) >= 3 and usage[0].text.startswith("Guide ## Empty\n\n## Usage")
    for c in usage[1:]:  # a long section falls back to sentence-aligned windows
        assert c.text.startswith("Guide Sentence number ")
        assert c.text.endswith(".")
    assert paths[-1] == "Guide > Troubleshooting"
    assert chunks[-1].text.startswith("Guide Troubleshooting")
    assert not chunks[0].text.startswith("Guide # Guide")  # the h1 already is the title


def test_markdown_sample_with_small_limit(small):
    doc = Document.create("reindex.md", (SAMPLES / "runbooks/reindex.md").read_text(),
                          "Reindex runbook", "markdown")
    chunks = chunk_documents([doc], small, ChunkingConfig(window_tokens=48, overlap_tokens=12))
    check_invariants([doc], chunks, small)
    assert {c.metadata["section"] for c in chunks} == {
        "Reindex runbook", "Reindex runbook > When it runs",
        "Reindex runbook > What a healthy run looks like", "Reindex runbook > When it fails"}


PYTHON = '''"""Module docstring."""

import functools

CONSTANT = 3


# helper comment that belongs to the decorated function
@functools.lru_cache(maxsize=None)
@staticmethod
def cached(x: int) -> int:
    return x * CONSTANT


class Store:
    """A store."""

    def get(self, key):
        return key


async def fetch(url):
    return url


if __name__ == "__main__":
    print(cached(2))
'''


def test_python_top_level_definitions(counter):
    doc = Document.create("mod", PYTHON, "", "code", {"path": "pkg/mod.py"})
    chunks = chunk_documents([doc], counter)
    check_invariants([doc], chunks, counter)
    kinds = [(c.metadata["kind"], c.metadata.get("symbol")) for c in chunks]
    assert kinds == [("preamble", None), ("function", "cached"), ("class", "Store"),
                     ("function", "fetch"), ("module", None)]
    assert all(c.metadata["language"] == "python" for c in chunks)
    cached = chunks[1]
    assert cached.text.startswith("# helper comment") and "@functools.lru_cache" in cached.text
    assert "@staticmethod" in cached.text and "return x * CONSTANT" in cached.text
    assert "CONSTANT = 3" in chunks[0].text and "import functools" in chunks[0].text
    assert chunks[-1].text.startswith('if __name__ == "__main__":')
    lines = PYTHON.split("\n")
    first, last = cached.metadata["lines"]
    assert lines[first - 1].startswith("# helper") and lines[last - 1].endswith("* CONSTANT")


def test_long_python_definitions_become_line_windows_and_methods(small):
    body = "\n".join(f"    value_{i} = compute(value_{i - 1}, {i})" for i in range(1, 60))
    methods = "\n\n".join(f"    def method_{k}(self):\n        return {k}" for k in range(12))
    text = f"def long_function(value_0):\n{body}\n    return value_59\n\n\nclass Big:\n{methods}\n"
    doc = Document.create("big", text, "", "code", {"language": "python"})
    chunks = chunk_documents([doc], small, ChunkingConfig(window_tokens=48, overlap_tokens=12))
    check_invariants([doc], chunks, small)
    long = [c for c in chunks if c.metadata.get("symbol") == "long_function"]
    assert len(long) > 3
    for c in long:  # windows by lines: whole lines only
        s, e = c.span
        assert s == 0 or text[s - 1] == "\n" or text[:s].endswith("    ")
        assert e == len(text) or text[e] == "\n"
    symbols = {c.metadata.get("symbol") for c in chunks}
    assert {"Big.method_0", "Big.method_11"} <= symbols
    assert any(c.metadata["kind"] == "method" for c in chunks)


def test_code_fallbacks(counter):
    broken = Document.create("broken", "def broken(:\n    pass\n\n\nx = 1\n", "", "code",
                             {"path": "broken.py"})
    js = Document.create("js", (SAMPLES / "tools/warm_cache.js").read_text(), "warm_cache.js",
                         "code")
    chunks = chunk_documents([broken, js], counter)
    check_invariants([broken, js], chunks, counter)
    by = {c.doc_id: c for c in chunks}
    assert by["broken"].metadata["kind"] == "block"
    assert by["broken"].metadata["parse_error"].startswith("SyntaxError")
    assert by["js"].metadata["language"] == "javascript" and "parse_error" not in by["js"].metadata


def test_html_groups_blocks_up_to_the_budget(counter):
    blocks = [sentences(2, 2 * k) for k in range(30)] + [sentences(40, 500)]
    doc = Document.create("page", "\n".join(blocks), "", "html")
    config = ChunkingConfig(window_tokens=100, overlap_tokens=20)
    chunks = chunk_documents([doc], counter, config)
    check_invariants([doc], chunks, counter)
    line_starts = {0} | {m.end() for m in re.finditer("\n", doc.text)}
    grouped = [c for c in chunks if c.span[1] <= len(doc.text) - len(blocks[-1])]
    assert len(grouped) >= 5
    for c in grouped:  # whole blocks, several per chunk, within the window
        assert c.span[0] in line_starts and doc.text[c.span[1]] == "\n"
        assert 1 < c.text.count("\n") + 1 and c.n_tokens <= 100
    long = [c for c in chunks if c not in grouped]
    assert len(long) >= 3  # the oversized block was split into sentence windows


def test_pdf_pages(counter):
    pages = [sentences(3), "", sentences(50, 100), "Last page."]
    doc = Document.create("report.pdf", "\f".join(pages), "Report", "pdf")
    chunks = chunk_documents([doc], counter)
    check_invariants([doc], chunks, counter)
    assert sorted({c.metadata["page"] for c in chunks}) == [1, 3, 4]
    assert sum(c.metadata["page"] == 3 for c in chunks) >= 2
    bounds = [m.start() for m in re.finditer("\f", doc.text)]
    for c in chunks:
        assert "\f" not in doc.text[c.span[0]:c.span[1]]
        assert c.span[0] >= (bounds[c.metadata["page"] - 2] if c.metadata["page"] > 1 else 0)
    assert chunks[-1].text == "Report Last page." and chunks[-1].metadata["page"] == 4


def test_text_windows_are_sentence_aligned_with_overlap(counter):
    doc = Document.create("t", sentences(80), "", "text")
    config = ChunkingConfig(window_tokens=120, overlap_tokens=30)
    chunks = chunk_documents([doc], counter, config)
    check_invariants([doc], chunks, counter)
    assert len(chunks) >= 5
    for c in chunks:
        assert c.text.startswith("Sentence number ") and c.text.endswith(".")
        assert c.n_tokens <= 120
    for a, b in zip(chunks, chunks[1:]):
        s, e = b.span[0], a.span[1]
        assert s < e, "consecutive windows overlap"
        shared = counter.count(doc.text[s:e])
        assert 0 < shared <= 30


def test_window_strategy_overlap_in_tokens(counter):
    doc = Document.create("w", " ".join(f"w{i}" for i in range(3000)), "", "text")
    config = ChunkingConfig(strategy="window", window_tokens=100, overlap_tokens=25)
    chunks = chunk_documents([doc], counter, config)
    check_invariants([doc], chunks, counter)
    for a, b in zip(chunks, chunks[1:]):
        shared = counter.count(doc.text[b.span[0]:a.span[1]])
        assert 25 - 3 <= shared <= 25  # word-aligned: within one word of the configured overlap
    assert all(90 <= c.n_tokens <= 100 for c in chunks[:-1])


def test_record_whole_if_it_fits_else_title_prefixed_windows(counter):
    short = Document.create("s", "A short abstract. It fits.", "A title", "record")
    long = Document.create("l", sentences(60), "Long record title", "record")
    chunks = chunk_documents([short, long], counter)
    check_invariants([short, long], chunks, counter)
    assert chunks[0].text == "A title A short abstract. It fits." and chunks[0].span == (0, 26)
    rest = chunks[1:]
    assert len(rest) >= 3 and all(c.text.startswith("Long record title Sentence") for c in rest)
    assert all(c.metadata["title_prefixed"] for c in chunks)
    no_title = chunk_documents([short], counter, ChunkingConfig(include_title=False))
    assert no_title[0].text == short.text and "title_prefixed" in no_title[0].metadata


def test_very_long_title_is_not_prefixed(counter, synthetic):
    doc = next(d for d in synthetic if d.id == "record-long-title")
    chunks = chunk_documents([doc], counter)
    check_invariants([doc], chunks, counter)
    assert all(not c.metadata["title_prefixed"] and c.text.startswith("Sentence") for c in chunks)


def test_whole_splits_instead_of_truncating(counter):
    doc = Document.create("d", sentences(60), "T", "text")
    chunks = chunk_documents([doc], counter, ChunkingConfig(strategy="whole"))
    check_invariants([doc], chunks, counter)
    assert len(chunks) >= 3 and not any("truncated" in c.metadata for c in chunks)
    assert all(c.text.startswith("T Sentence") for c in chunks)
    assert all(a.span[1] < b.span[0] for a, b in zip(chunks, chunks[1:]))  # no overlap


def test_truncate_is_explicit_recorded_and_counted(counter, caplog):
    long = Document.create("long", sentences(60), "Title", "record")
    short = Document.create("short", "Tiny.", "Title", "record")
    config = ChunkingConfig(strategy="whole", truncate=True)
    with caplog.at_level(logging.WARNING, logger="tasks.chunking"):
        chunks = chunk_documents([long, short], counter, config)
    check_invariants([long, short], chunks, counter, truncated_ok=True)
    cut, whole = chunks
    total = counter.count("Title " + long.text)
    assert cut.metadata["truncated"] is True and whole.metadata["truncated"] is False
    assert cut.n_tokens == counter.max_tokens and ("Title " + long.text).startswith(cut.text)
    assert cut.metadata["tokens_dropped"] == total - counter.max_tokens > 0
    assert cut.span == (0, len(cut.text) - len("Title "))
    stats = summarize_chunks(chunks, [long, short])
    assert stats["truncated_chunks"] == 1 and stats["tokens_dropped"] == total - 254
    assert "1 of 2 documents cut" in caplog.text


def test_empty_bodies(counter, caplog):
    titled = Document.create("titled", "", "Only a title", "record")
    empty = Document.create("empty", "   ", "", "text")
    with caplog.at_level(logging.WARNING, logger="tasks.chunking"):
        chunks = chunk_documents([titled, empty], counter)
    assert [(c.id, c.text.strip(), c.span) for c in chunks] == [
        ("titled#0", "Only a title", (0, 0))]
    assert summarize_chunks(chunks, [titled, empty])["empty_doc_ids"] == ["empty"]
    assert "1 documents have no text" in caplog.text


# -- a tokenizer whose counts are not additive: the batch recount catches it and splits ---------

class _WordCounter:
    """Words are tokens, but '¶' costs 7 more tokens in a chunk than in the whole document."""

    def __init__(self, max_tokens: int):
        self.max_tokens = max_tokens

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"\S+", text)]

    def count(self, text: str) -> int:
        return len(text.split()) + 7 * text.count("¶")


def test_counts_are_verified_and_over_limit_chunks_split_again():
    text = " ".join("¶" if i % 5 == 0 else f"w{i}" for i in range(400))
    doc = Document.create("para", text, "", "text")
    wc = _WordCounter(max_tokens=30)
    chunks = chunk_documents([doc], wc, ChunkingConfig(window_tokens=28, overlap_tokens=4))
    assert all(c.n_tokens == wc.count(c.text) <= 30 for c in chunks)
    cov = covered(doc, chunks)
    assert all(cov[i] for i, ch in enumerate(text) if not ch.isspace())
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


@pytest.mark.slow
def test_full_scifact_per_type(counter):
    with gzip.open(SCIFACT, "rt", encoding="utf-8") as fh:
        docs = [Document.create(r["_id"], r["text"], r["title"], "record")
                for r in map(json.loads, fh)]
    chunks = chunk_documents(docs, counter)
    check_invariants(docs, chunks, counter)
    assert hashlib.sha256("".join(c.content_hash for c in chunks).encode()).hexdigest()
