"""Schedules -> Prefect deployments, and the configs a deployment run without parameters reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tasks.config.loader import ConfigError, load_config
from tasks.config.flows import FLOWS, configured
from tasks.scheduling import SchedulesConfig, build_deployments
from tasks.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_schedule_builds_a_deployment_with_its_cron_timezone_and_parameters(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # configs/<flow>.yaml are read from the working directory, as `nightshift serve` does
    plan = load_config(SchedulesConfig, ROOT / "configs" / "schedules.yaml", [])
    for entry in plan.deployments.values():
        entry.enabled = True
    settings = Settings(workspace=tmp_path).resolved()
    deployments = {d.name: d for d in build_deployments(plan, settings)}
    assert set(deployments) == set(plan.deployments)
    nightly = deployments["nightly"]
    [schedule] = nightly.schedules
    assert schedule.schedule.cron == "0 2 * * *" and schedule.schedule.timezone == "UTC"
    assert nightly.concurrency_limit == 1 and "nightshift" in nightly.tags
    assert set(nightly.parameters) == {"config", "settings"}
    assert set(nightly.parameters["config"]) >= {"reindex", "evaluate", "drift"}  # the three configs composed
    assert nightly.parameters["settings"]["workspace"] == str(tmp_path.resolve())


def test_a_password_in_a_settings_url_is_refused_not_stored_in_the_deployment(tmp_path):
    plan = load_config(SchedulesConfig, None, ["deployments.r.flow=reindex", "deployments.r.interval_seconds=60"])
    settings = Settings(workspace=tmp_path, mlflow_tracking_uri="https://ml:s3cret@mlflow.internal").resolved()
    with pytest.raises(ConfigError, match=r"settings\.mlflow_tracking_uri contains a password.*MLFLOW_TRACKING_PASSWORD") as err:
        build_deployments(plan, settings)
    assert "s3cret" not in str(err.value)
    token_free = Settings(workspace=tmp_path, mlflow_tracking_uri="https://mlflow.internal").resolved()
    [deployment] = build_deployments(plan, token_free)
    assert deployment.parameters["settings"]["mlflow_tracking_uri"] == "https://mlflow.internal"


def test_a_bad_schedule_names_the_key():
    with pytest.raises(ConfigError, match="deployments.x.flow"):
        load_config(SchedulesConfig, None, ["deployments.x.flow=reindexx"])
    with pytest.raises(ConfigError, match="deployments.x.crn"):
        load_config(SchedulesConfig, None, ["deployments.x.flow=reindex", "deployments.x.crn=* * * * *"])


def test_a_deployment_run_without_parameters_reads_the_checkout_configs(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "reindex.yaml").write_text("source: somewhere/else\n")
    (tmp_path / "configs" / "settings.yaml").write_text("workspace: ws\ndata_dir: d\n")
    monkeypatch.chdir(tmp_path)
    config, settings = configured("reindex", None, None)
    assert config.source == "somewhere/else"
    assert settings.workspace == (tmp_path / "ws").resolve() and settings.data_dir == (tmp_path / "ws" / "d").resolve()
    given = Settings(workspace=Path("rel"))  # parameters from a deployment: relative paths become the workspace's
    _, resolved = configured("reindex", config, given)
    assert resolved.data_dir == (tmp_path / "rel" / "data").resolve()
    assert set(FLOWS) == {"reindex", "evaluate", "drift", "benchmark", "nightly"}


def test_serve_finds_the_api_url_of_the_active_prefect_profile(tmp_path, monkeypatch):
    from nightshift.cli.serve import profile_api_url

    for key in [k for k in os.environ if k.startswith("PREFECT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    assert profile_api_url() == ""  # no profile setting: serve starts its own local server
    (tmp_path / "profiles.toml").write_text(  # what `prefect config set PREFECT_API_URL=...` writes
        'active = "prod"\n\n[profiles.prod]\nPREFECT_API_URL = "http://127.0.0.1:4999/api"\n')
    assert profile_api_url() == "http://127.0.0.1:4999/api"
