"""Notifications shared by the flows: one JSON summary to a webhook URL or a Prefect notification block.

Channels (the first configured one is used):

- ``block``: the name of a saved Prefect notification block, ``"<block-type-slug>/<name>"``
  (e.g. ``"slack-webhook/nightly"``, ``"custom-webhook/oncall"``); it receives a one-line text body
  and its own template decides the payload.
- ``webhook_url_env``: the name of an environment variable holding a plain webhook URL; it receives
  ``POST`` JSON ``{"text": <one line>, "event": ..., **summary}`` (``text`` makes it a valid Slack
  incoming-webhook message).

The URL is a secret: it is read from the environment at send time, never logged, never returned
and never written to MLflow; error messages are scrubbed of it. A failed delivery is reported in
the returned ``Delivery`` and logged, never raised: an alert must not fail the run it reports on.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

Event = Literal["pass", "fail", "error"]


class NotifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    events: list[Event] = Field(default_factory=lambda: ["fail", "error"])  # events that send a message ("on" is a YAML boolean)
    webhook_url_env: str = "NIGHTSHIFT_WEBHOOK_URL"  # env var holding a plain webhook URL
    block: str | None = None  # a saved Prefect notification block "<type-slug>/<name>"; wins over the URL
    timeout_seconds: float = Field(10.0, gt=0)


@dataclass(frozen=True)
class Delivery:
    """What happened to one notification; safe to log (it never holds the URL)."""

    sent: bool
    channel: str  # "webhook" | "block" | "none"
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summary_line(event: str, summary: dict[str, Any]) -> str:
    """One human line: '[nightshift evaluate] FAIL: <reason> (run <id>)'."""
    flow = summary.get("flow", "nightshift")
    reason = summary.get("reason") or ""
    run = f" (MLflow run {summary['run_id']})" if summary.get("run_id") else ""
    return f"[nightshift {flow}] {event.upper()}: {reason}{run}".strip()


def notify(event: Event, summary: dict[str, Any], cfg: NotifyConfig) -> Delivery:
    """Send ``summary`` for ``event`` through the configured channel (or say why nothing was sent)."""
    if not cfg.enabled or event not in cfg.events:
        return Delivery(False, "none", f"notifications not configured for event {event!r}")
    if cfg.block:
        return _send_block(cfg.block, event, summary)
    url = os.environ.get(cfg.webhook_url_env, "").strip()
    if not url:
        return Delivery(False, "none", f"no channel: set ${cfg.webhook_url_env} or notify.block")
    payload = {"text": summary_line(event, summary), "event": event, **summary}
    return _send_webhook(url, payload, cfg)


def notify_and_tag(tracker: Any, run_id: str, flow: str, event: Event, record: dict[str, Any],
                   keys: tuple[str, ...], cfg: NotifyConfig, **extra: Any) -> Delivery:
    """Send ``flow``'s summary (the ``keys`` present in ``record``, plus ``extra``) for ``event``, and tag what
    happened (never the URL) on the MLflow run as ``nightshift.notification``. Never raises."""
    summary = {"flow": flow, **{k: record[k] for k in keys if k in record}, **extra}
    delivery = notify(event, summary, cfg)
    try:
        tracker.set_tags(run_id, {"nightshift.notification": delivery.detail[:500]})
    except Exception:  # noqa: BLE001 - the run may be closed or the server gone: the message went out
        pass
    return delivery


def _send_webhook(url: str, payload: dict[str, Any], cfg: NotifyConfig) -> Delivery:
    where = f"webhook ${cfg.webhook_url_env}"
    if not url.startswith(("http://", "https://")):
        return _failed("webhook", f"{where} is not an http(s) URL")
    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=cfg.timeout_seconds) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        return _failed("webhook", f"{where} answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return _failed("webhook", f"{where} unreachable: {scrub(_reason(exc), url)}")
    return Delivery(True, "webhook", f"{where} answered HTTP {status}")


def _send_block(name: str, event: str, summary: dict[str, Any]) -> Delivery:
    from prefect.blocks.core import Block

    body = summary_line(event, summary) + "\n" + json.dumps(summary, default=str, sort_keys=True)
    try:
        block = Block.load(name)
        block.notify(body=body, subject=f"nightshift {summary.get('flow', '')}: {event}")
    except Exception as exc:  # noqa: BLE001 - any delivery error is reported, not raised
        return _failed("block", f"Prefect block {name!r}: {type(exc).__name__}")
    return Delivery(True, "block", f"sent through Prefect block {name!r}")


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _failed(channel: str, detail: str) -> Delivery:
    logger.warning("notification not delivered: %s", detail)
    return Delivery(False, channel, detail)


def scrub(text: str, url: str) -> str:
    """``text`` without the URL, its path, its query, its query values or long path segments (tokens)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    secrets = {url, parts.path, parts.query, *(v for _, v in parse_qsl(parts.query)),
               *(segment for segment in parts.path.split("/") if len(segment) >= 8)}
    for secret in sorted((s for s in secrets if len(s) > 1), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text
