import pytest

from tasks.config.loader import ConfigError, load_config
from tasks.reindex.config import ReindexConfig
from tasks.config.settings import Settings


def test_overrides_are_typed_and_nested(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("source: a\nindex:\n  kind: flat\n")
    cfg = load_config(ReindexConfig, path, ["index.kind=hnsw", "embedder.batch_size=8", "include=['*.md']"])
    assert cfg.source == "a" and cfg.index.kind == "hnsw" and cfg.embedder.batch_size == 8
    assert cfg.include == ["*.md"]


@pytest.mark.parametrize("override, message", [
    ("index.kidn=flat", "index.kidn: unknown key (did you mean 'kind'?)"),
    ("index.kind=bogus", "index.kind: Input should be"),
    ("validation.max_quarantine_share=2", "validation.max_quarantine_share: Input should be less than or equal to 1"),
    ("nokey", "expected dotted.key=value"),
])
def test_errors_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(ReindexConfig, None, [override])
    assert message in str(err.value)


def test_bad_yaml_and_missing_file_are_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(ReindexConfig, bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(ReindexConfig, tmp_path / "nope.yaml")


def test_settings_environment_overrides_file(tmp_path, monkeypatch):
    path = tmp_path / "settings.yaml"
    path.write_text(f"workspace: {tmp_path}\ndvc_remote_url: /from/file\n")
    monkeypatch.setenv("NIGHTSHIFT_DVC_REMOTE_URL", "/from/env")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    s = Settings.load(path)
    assert s.dvc_remote_url == "/from/env"
    assert s.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert s.index_dir == tmp_path.resolve() / "data" / "indexes"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert Settings.load(path).tracking_uri == "http://127.0.0.1:5000"
