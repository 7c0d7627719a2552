"""Query logs: reading (JSONL, gzip, Parquet, folders, column mapping), GX validation with quarantine, date windows,
and the edge cases that must give a clear message and never a drift (empty window, 3 queries, non-text queries,
a missing column)."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from tasks.config.loader import ConfigError, load_config, read_yaml
from tasks.drift.config import DriftConfig
from tasks.querylogs.format import LogColumns, QueryLogError, read_query_log
from tasks.drift.logs import read_windows
from tasks.querylogs.validation import parse_timestamps, validate_log
from tasks.querylogs.windows import parse_window, resolve_anchor, select
from tasks.config.settings import Settings

DEMO = Path(__file__).resolve().parents[2] / "data" / "querylogs" / "demo"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return path


def rows(n: int, day: str = "2025-03-03", query=lambda i: f"does vitamin {i} help") -> list[dict]:
    return [{"timestamp": f"{day}T{8 + i % 12:02d}:00:00Z", "query": query(i), "query_id": f"q{i}"} for i in range(n)]


def checked(path: Path, max_invalid_share: float = 0.05):
    raw = read_query_log(path)
    return validate_log(raw.frame, str(path), max_invalid_share)


def test_reads_jsonl_gzip_parquet_and_folders_with_file_and_line(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "log" / "a.jsonl", rows(3))
    write_jsonl(tmp_path / "log" / "b.jsonl.gz", rows(2, "2025-03-04"))
    pd.DataFrame(rows(4, "2025-03-05")).to_parquet(tmp_path / "log" / "c.parquet")
    (tmp_path / "log" / "notes.txt").write_text("ignored")
    raw = read_query_log(tmp_path / "log")
    assert len(raw.frame) == 9 and [p.name for p in raw.files] == ["a.jsonl", "b.jsonl.gz", "c.parquet"]
    assert list(raw.frame["_file"].unique()) == ["a.jsonl", "b.jsonl.gz", "c.parquet"]
    assert raw.frame["_line"].tolist()[:3] == [1, 2, 3] and len(raw.content_hash) == 64
    assert read_query_log(tmp_path / "log").content_hash == raw.content_hash  # pinned by content


def test_missing_column_names_the_column_the_file_and_the_fix(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", [{"timestamp": "2025-03-03", "text": "q"}])
    with pytest.raises(QueryLogError, match=r"log\.jsonl: missing required column 'query' \(query\); it has "
                                            r"columns: timestamp, text\. Map another column with --set "
                                            r"querylog\.columns\.query=NAME"):
        read_query_log(path)
    mapped = read_query_log(path, LogColumns(query="text"))
    assert mapped.frame["query"].tolist() == ["q"]


@pytest.mark.parametrize("content, message", [
    ('{"timestamp": "2025-03-03", "query": "a"}\n{broken\n', r"log\.jsonl line 2 is not valid JSON"),
    ('["a", "b"]\n', r"log\.jsonl line 1 is not a JSON object"),
])
def test_unreadable_lines_are_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "log.jsonl").write_text(content)
    with pytest.raises(QueryLogError, match=message):
        read_query_log(tmp_path / "log.jsonl")


def test_missing_log_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(QueryLogError, match="does not exist"):
        read_query_log(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(QueryLogError, match="holds no .jsonl"):
        read_query_log(tmp_path / "empty")


def test_timestamps_iso_offsets_naive_and_epoch_seconds_become_utc() -> None:
    parsed = parse_timestamps(pd.Series(["2025-03-03T10:00:00Z", "2025-03-03T12:00:00+02:00", "2025-03-03 10:00",
                                         1741010400, "yesterday", None, True], dtype="object"))
    assert parsed.iloc[:4].dt.hour.tolist() == [10, 10, 10, 14] and parsed.iloc[4:].isna().all()


def test_a_few_bad_rows_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    data = rows(40) + [{"timestamp": "2025-03-03T09:00:00Z", "query": 123},
                       {"timestamp": "not a date", "query": "fine text"}]
    out = checked(write_jsonl(tmp_path / "log.jsonl", data), max_invalid_share=0.1)
    assert len(out.frame) == 40 and out.summary["n_quarantined"] == 2
    reasons = {q.source: q.reason for q in out.quarantined}
    assert "query is not text (got a int: 123)" in reasons["log.jsonl:41"]
    assert "timestamp is missing or not a date (got 'not a date')" in reasons["log.jsonl:42"]
    assert str(out.frame["when"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize("bad, reason", [
    (lambda i: i, "query is not text (got a int"),
    (lambda i: {"text": "nested"}, "query is not text (got a dict"),
    (lambda i: "   ", "query is empty or whitespace only"),
])
def test_a_log_of_non_text_queries_is_refused_with_a_clear_message(tmp_path: Path, bad, reason: str) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", rows(30, query=bad))
    with pytest.raises(QueryLogError, match=r"30 of 30 rows \(100\.0%\) failed validation, more than "
                                            r"querylog\.max_invalid_share=5\.0%\. First: log\.jsonl:1: .*"
                                            + reason.replace("(", r"\(")):
        checked(path)

def test_a_share_just_over_the_limit_does_not_read_as_equal_to_it(tmp_path: Path) -> None:
    data = rows(1881) + rows(100, query=lambda i: "  ")  # 100/1981 = 5.048%: "5.0%" would equal the 5.0% limit
    with pytest.raises(QueryLogError, match=r"100 of 1981 rows \(5\.05%\) failed validation, more than "
                                            r"querylog\.max_invalid_share=5\.00%"):
        checked(write_jsonl(tmp_path / "log.jsonl", data))



def test_optional_scores_ids_and_feedback_are_checked(tmp_path: Path) -> None:
    good = [{**r, "retrieved_ids": ["d1", "d2"], "scores": [0.8, 0.5], "feedback": 1} for r in rows(30)]
    bad = [{**rows(1)[0], "retrieved_ids": ["d1"], "scores": ["high"]},
           {**rows(1)[0], "retrieved_ids": ["d1", "d2"], "scores": [0.9]},
           {**rows(1)[0], "feedback": {"thumbs": "up"}}]
    out = checked(write_jsonl(tmp_path / "log.jsonl", good + bad), max_invalid_share=0.2)
    reasons = [q.reason for q in out.quarantined]
    assert len(out.frame) == 30 and len(reasons) == 3
    assert "scores is not a list of numbers" in reasons[0]
    assert "scores and retrieved_ids have different lengths" in reasons[1]
    assert "feedback must be a number or a label" in reasons[2]


def test_windows_absolute_relative_open_and_invalid() -> None:
    anchor = resolve_anchor("2025-03-16", None)
    assert anchor == datetime(2025, 3, 17, tzinfo=timezone.utc)  # the end of the anchor's day
    week = parse_window("2025-03-03..2025-03-09")
    assert (week.start, week.end) == (datetime(2025, 3, 3, tzinfo=timezone.utc), datetime(2025, 3, 10, tzinfo=timezone.utc))
    last = parse_window("-7d..", anchor)
    assert (last.start, last.end) == (datetime(2025, 3, 10, tzinfo=timezone.utc), None)
    assert parse_window("-2w..-1w", anchor).end == datetime(2025, 3, 10, tzinfo=timezone.utc)
    assert parse_window("..2025-03-02").start is None
    assert resolve_anchor("latest", datetime(2025, 3, 16, 22, tzinfo=timezone.utc)) == anchor
    with pytest.raises(QueryLogError, match="expected START..END"):
        parse_window("last week")
    with pytest.raises(QueryLogError, match="'tomorrow' is not a date"):
        parse_window("tomorrow..")
    with pytest.raises(QueryLogError, match="is empty"):
        parse_window("2025-03-09..2025-03-03")
    with pytest.raises(QueryLogError, match="anchor=latest but the query log has no valid timestamp"):
        resolve_anchor("latest", None)


def test_select_is_half_open() -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2025-03-09T23:59:59Z", "2025-03-10T00:00:00Z"], utc=True)})
    assert len(select(frame, parse_window("2025-03-03..2025-03-09"))) == 1
    assert len(select(frame, parse_window("2025-03-10T00:00..2025-03-10T00:00:01"))) == 1


def demo_config(*overrides: str) -> DriftConfig:
    return load_config(DriftConfig, None, [f"querylog.path={DEMO}", "windows.anchor=latest",
                                           "windows.reference=2025-02-03..2025-03-02", *overrides])


def test_demo_windows_by_date_and_by_file(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path).resolved()
    drifted = read_windows(demo_config("windows.current=-7d.."), settings)
    assert (len(drifted.reference), len(drifted.current)) == (809, 300)
    assert drifted.current["query_id"].str.startswith("nfcorpus:").sum() == 60
    normal = read_windows(demo_config(f"windows.current={DEMO / 'normal_week.jsonl'}"), settings)
    assert len(normal.current) == 300 and normal.described["current"]["range"] == "(whole file)"
    assert normal.lacking(20) is None


def test_empty_and_tiny_windows_say_not_enough_data(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path).resolved()
    empty = read_windows(demo_config("windows.current=2025-04-01..2025-04-07"), settings)
    assert empty.lacking(20).startswith("not enough data: the current window 2025-04-01..2025-04-07 "
                                        "[2025-04-01T00:00+00:00, 2025-04-08T00:00+00:00) has 0 valid queries")
    write_jsonl(tmp_path / "three.jsonl", rows(3))
    tiny = read_windows(demo_config(f"windows.current={tmp_path / 'three.jsonl'}"), settings)
    assert "the current window" in tiny.lacking(20) and "has 3 valid queries; at least 20 per window" in tiny.lacking(20)
    with pytest.raises(QueryLogError, match="neither an existing log file nor a window"):
        read_windows(demo_config("windows.current=missing.jsonl"), settings)


def test_the_invalid_share_limit_applies_per_window_not_over_the_whole_history(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path).resolved()
    history = [r for day in range(3, 29) for r in rows(40, f"2025-02-{day:02d}")]  # 1,040 clean reference rows
    junk_day = rows(30, "2025-01-15", query=lambda i: "  ")  # a bad day outside both windows
    week = rows(100, "2025-03-03") + rows(10, "2025-03-04", query=lambda i: i)  # 10 of 110 current rows broken
    undated = [{"timestamp": "not a date", "query": "fine"}]
    write_jsonl(tmp_path / "log" / "log.jsonl", junk_day + history + week + undated)

    def windows(current: str, limit: float):
        return read_windows(load_config(DriftConfig, None, [
            f"querylog.path={tmp_path / 'log'}", "windows.reference=2025-02-01..2025-02-28",
            f"windows.current={current}", f"querylog.max_invalid_share={limit}"]), settings)

    # 41 of 1,181 rows (3.5%) are bad over the whole log, but 9.1% of the current week
    with pytest.raises(QueryLogError, match=r"current window 2025-03-03\.\.2025-03-09 .*: 10 of 110 rows \(9\.1%\)"):
        windows("2025-03-03..2025-03-09", 0.05)
    ok = windows("2025-03-03..2025-03-09", 0.1)  # the January junk day counts against no window
    assert (len(ok.reference), len(ok.current)) == (1040, 100)
    reasons = [q.reason for q in ok.quarantined]
    assert len(reasons) == 11 and sum("timestamp is missing or not a date" in r for r in reasons) == 1
    assert sum("query is not text" in r for r in reasons) == 10


def test_config_merges_over_the_default_family_and_names_bad_keys() -> None:
    cfg = load_config(DriftConfig, None, ["tests.mmd.enabled=false", "tests.novelty.params.quantile=0.1"])
    assert not cfg.tests["mmd"].enabled and cfg.tests["mmd"].params == {"n_permutations": 2000}
    assert cfg.tests["novelty"].params == {"quantile": 0.1} and "mmd" not in cfg.enabled_tests()
    with pytest.raises(ConfigError, match="tests.mmd: test 'mmd' does not apply to input 'language'"):
        load_config(DriftConfig, None, ["tests.mmd.input=language"])
    with pytest.raises(ConfigError, match="unknown test 'nope'"):
        load_config(DriftConfig, None, ["tests.x.test=nope", "tests.x.input=embeddings"])
    with pytest.raises(ConfigError, match=r"actions.reindex.when: \['foo'\] are not test labels"):
        load_config(DriftConfig, None, ["actions.reindex.when=[foo]"])
    shipped = Path(__file__).resolve().parents[2] / "configs" / "drift.yaml"
    assert set(load_config(DriftConfig, shipped).enabled_tests()) == set(DriftConfig().tests)
    assert set(read_yaml(shipped)["tests"]) == set(DriftConfig().tests)  # the file itself lists every default test
