"""Notifications against a real local HTTP server on 127.0.0.1 that records what it receives."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from tasks.notify import NotifyConfig, notify, scrub, summary_line
from tests.webhooks import SECRET, Recorder

SUMMARY = {"flow": "evaluate", "run_id": "abc123", "status": "fail", "reason": "ndcg@10 dropped 0.05",
           "delta": {"ndcg@10": -0.05}, "p_value": 0.001, "n_queries": 300}


@pytest.fixture
def server(request):
    srv = Recorder(getattr(request, "param", 200))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_webhook_from_env_receives_the_summary_and_the_url_is_never_logged(server, monkeypatch, caplog):
    monkeypatch.setenv("NIGHTSHIFT_WEBHOOK_URL", server.url)
    caplog.set_level(logging.DEBUG)
    delivery = notify("fail", SUMMARY, NotifyConfig())
    assert delivery.sent and delivery.channel == "webhook"
    [got] = server.received
    assert got["path"].startswith("/hooks/") and got["headers"]["Content-Type"] == "application/json"
    body = got["body"]
    assert body["event"] == "fail" and body["run_id"] == "abc123" and body["delta"] == {"ndcg@10": -0.05}
    assert body["text"] == "[nightshift evaluate] FAIL: ndcg@10 dropped 0.05 (MLflow run abc123)"
    assert SECRET not in json.dumps(delivery.as_dict()) and SECRET not in caplog.text


@pytest.mark.parametrize("server", [500], indirect=True)
def test_a_failing_webhook_is_reported_not_raised_and_not_leaked(server, monkeypatch, caplog):
    monkeypatch.setenv("NIGHTSHIFT_WEBHOOK_URL", server.url)
    delivery = notify("fail", SUMMARY, NotifyConfig())
    assert not delivery.sent and "HTTP 500" in delivery.detail and len(server.received) == 1
    assert SECRET not in delivery.detail and SECRET not in caplog.text


def test_unreachable_webhook_is_scrubbed(monkeypatch, caplog):
    url = f"http://127.0.0.1:9/hooks/{SECRET}"  # port 9 (discard): connection refused
    monkeypatch.setenv("NIGHTSHIFT_WEBHOOK_URL", url)
    delivery = notify("error", SUMMARY, NotifyConfig(timeout_seconds=2))
    assert not delivery.sent and "unreachable" in delivery.detail
    assert SECRET not in delivery.detail and SECRET not in caplog.text
    scrubbed = scrub(f"POST {url} failed; token {SECRET}", f"https://hooks.example/services/{SECRET}?t={SECRET}")
    assert SECRET not in scrubbed and scrubbed.startswith("POST http://127.0.0.1:9/hooks/<redacted>")


def test_events_and_missing_channel_are_explicit(server, monkeypatch):
    monkeypatch.delenv("NIGHTSHIFT_WEBHOOK_URL", raising=False)
    assert "no channel" in notify("fail", SUMMARY, NotifyConfig()).detail
    monkeypatch.setenv("NIGHTSHIFT_WEBHOOK_URL", server.url)
    skipped = notify("pass", SUMMARY, NotifyConfig())  # default events: fail, error
    assert not skipped.sent and "not configured for event 'pass'" in skipped.detail
    assert not notify("fail", SUMMARY, NotifyConfig(enabled=False)).sent
    assert notify("pass", SUMMARY, NotifyConfig(events=["pass"])).sent
    assert len(server.received) == 1
    assert summary_line("pass", {"flow": "drift", "reason": "no drift"}) == "[nightshift drift] PASS: no drift"


@pytest.mark.usefixtures("prefect_harness")
def test_prefect_notification_block_by_name(server):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    CustomWebhookNotificationBlock(name="oncall", url=server.url, allow_private_urls=True,
                                   json_data={"text": "{{subject}}: {{body}}"}).save("nightshift-test", overwrite=True)
    delivery = notify("fail", SUMMARY, NotifyConfig(block="custom-webhook/nightshift-test"))
    assert delivery.sent and delivery.channel == "block", delivery
    [got] = server.received
    assert got["body"]["text"].startswith("nightshift evaluate: fail: [nightshift evaluate] FAIL: ndcg@10 dropped")
    assert '"p_value": 0.001' in got["body"]["text"]
    missing = notify("fail", SUMMARY, NotifyConfig(block="custom-webhook/does-not-exist"))
    assert not missing.sent and "does-not-exist" in missing.detail
