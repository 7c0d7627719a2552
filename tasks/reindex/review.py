"""Human review of an inconclusive publication gate: pause the reindex flow run for a typed answer.

The flow run goes to ``Paused`` in the Prefect UI with a form (approve: yes/no, note); the answer
publishes or discards the candidate. No answer within ``gate.review.timeout_seconds`` keeps
``current``. With Prefect's ephemeral API (no ``PREFECT_API_URL``) nobody could answer, so the
review is not asked and ``current`` is kept, with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect.input import RunInput


class ReviewAnswer(RunInput):
    approve: bool = False  # publish the candidate index
    note: str = ""  # why (kept on the MLflow run)


@dataclass(frozen=True)
class Review:
    outcome: str  # "approved" | "declined" | "timed_out" | "not_asked"
    note: str

    @property
    def approved(self) -> bool:
        return self.outcome == "approved"


def ask(summary: str, timeout_seconds: int, poll_seconds: int) -> Review:
    """Pause the current flow run until a reviewer answers (or the timeout keeps ``current``)."""
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return Review("not_asked", "no Prefect server to answer on (ephemeral API; set PREFECT_API_URL or use "
                                   "`nightshift serve`): kept current")
    form = ReviewAnswer.with_initial_data(
        description=f"**nightshift reindex: publish this index?**\n\n{summary}\n\n"
                    f"No answer within {timeout_seconds} s keeps the current index.", approve=False)
    try:
        answer = pause_flow_run(wait_for_input=form, timeout=timeout_seconds, poll_interval=poll_seconds)
    except FlowPauseTimeout:
        return Review("timed_out", f"no answer within {timeout_seconds} s: kept current")
    return Review("approved" if answer.approve else "declined", answer.note)
