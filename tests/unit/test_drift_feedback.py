"""The feedback test (one-sided Fisher exact on the negative-feedback rate): calibrated under H0, powerful
against a real rise; and how the service's feedback rows reach drift (joined by query_id, thumbs-down wins)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from tasks.drift.stattests import get_test
from tasks.querylogs.features import negative_feedback
from tasks.querylogs.served import append_line, daily_file, join_feedback


def _rates(rate_ref: float, rate_cur: float, n: int, trials: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    test = get_test("proportion", alpha=0.05)
    hits = 0
    for _ in range(trials):
        ref = (rng.random(n) < rate_ref).astype(float)
        cur = (rng.random(n) < rate_cur).astype(float)
        hits += test(ref, cur).drift
    return hits / trials


def test_false_alarm_rate_is_at_most_alpha_and_a_doubling_is_detected() -> None:
    trials = 1000
    for n, rate in ((100, 0.1), (300, 0.05)):
        alarms = _rates(rate, rate, n, trials, seed=n)
        assert alarms * trials <= binom.ppf(0.999, trials, 0.05), (n, alarms)  # exact test: at most alpha
    assert _rates(0.05, 0.15, 300, 300, seed=1) > 0.9  # 5% -> 15% thumbs-down at 300 queries per window
    assert _rates(0.15, 0.05, 300, 200, seed=2) == 0.0  # a falling rate is never drift


def test_negative_feedback_numbers_and_labels() -> None:
    got = negative_feedback([-1, 0, 1, "down", "Bad", "up", None, True, 2.5, -0.5])
    assert got.tolist() == [1, 0, 0, 1, 1, 0, 0, 0, 0, 1]


def test_feedback_rows_are_joined_to_their_query_and_a_thumbs_down_wins(tmp_path) -> None:
    served = tmp_path / "served"
    for row in ({"query_id": "a", "doc_id": "d1", "feedback": 1}, {"query_id": "a", "doc_id": "d2", "feedback": -1},
                {"query_id": "b", "doc_id": None, "feedback": "up"}, {"query_id": "zzz", "feedback": -1}):
        append_line(daily_file(served, "feedback"), row)
    (served / "queries").mkdir()
    frame = pd.DataFrame({"query_id": ["a", "b", "c"], "query": ["x", "y", "z"]})
    joined = join_feedback(frame, served / "queries")
    assert joined["feedback"].tolist() == [-1, "up", None]
    assert "feedback" not in frame  # the input is not modified
    assert join_feedback(frame, tmp_path / "elsewhere") is frame  # not the service's log: nothing to join
