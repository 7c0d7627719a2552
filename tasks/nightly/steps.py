"""The nightly chain's summary of its three subflow runs, and the failure raised at the end of a bad night."""

from __future__ import annotations

from typing import Any


class NightFailed(RuntimeError):
    """Raised at the end of the night when a step failed (after every step ran)."""


def step_summary(name: str, state: Any) -> dict[str, Any]:
    """What one subflow run did: its record, or the failure message."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        record = getattr(result, "record", None) if hasattr(result, "record") else None
        if isinstance(record, dict):  # evaluate's GateFailed carries its record
            return {"step": name, "ok": False, **_short(record)}
        return {"step": name, "ok": False, "status": "failed", "reason": f"{type(result).__name__}: {result}"}
    record = result if isinstance(result, dict) else {"status": str(result)}
    return {"step": name, "ok": not state.is_failed(), **_short(record)}


def _short(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "run_id", "index_version", "reason", "drift", "n_embedded", "p_value", "delta")
    return {k: record[k] for k in keys if k in record}


def night_status(steps: list[dict[str, Any]]) -> str:
    return "ok" if all(s["ok"] for s in steps) else "failed"
