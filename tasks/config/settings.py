"""Where things live (``configs/settings.yaml``), with ``NIGHTSHIFT_*`` environment overrides."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tasks.config.loader import apply_overrides, read_yaml, validate

ENV_PREFIX = "NIGHTSHIFT_"


class Settings(BaseModel):
    """Locations shared by every flow. Relative paths are relative to ``workspace``."""

    model_config = ConfigDict(extra="forbid")

    workspace: Path = Path(".")
    data_dir: Path = Path("data")
    mlflow_tracking_uri: str = ""  # empty: sqlite:////<workspace>/mlflow.db
    mlflow_artifact_root: str = ""  # empty: <workspace>/mlartifacts (only for new experiments)
    experiment_prefix: str = "nightshift"
    dvc_remote_name: str = "nightshift"
    dvc_remote_url: str = "~/.nightshift/dvc-remote"
    dvc_push: bool = True
    run_tags: dict[str, str] = Field(default_factory=dict)  # added to every MLflow run (e.g. backfill as-of)

    @classmethod
    def load(cls, path: Path | None = None, overrides: list[str] | None = None) -> "Settings":
        """File (if any) < environment ``NIGHTSHIFT_<KEY>`` < ``--set`` overrides."""
        data = read_yaml(path) if path is not None else {}
        if os.environ.get("MLFLOW_TRACKING_URI"):
            data["mlflow_tracking_uri"] = os.environ["MLFLOW_TRACKING_URI"]
        for key in cls.model_fields:
            env = os.environ.get(ENV_PREFIX + key.upper())
            if env is not None:
                data[key] = env
        data = apply_overrides(data, overrides or [])
        origin = f"{path or 'defaults'} + environment" + (" + --set" if overrides else "")
        return validate(cls, data, origin).resolved()

    def resolved(self) -> "Settings":
        root = self.workspace.expanduser().resolve()
        return self.model_copy(update={"workspace": root, "data_dir": root / self.data_dir})

    # -- derived locations --------------------------------------------------------------
    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.workspace / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str:
        return self.mlflow_artifact_root or (self.workspace / "mlartifacts").as_uri()

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def resolve(self, path: str | Path) -> Path:
        """A user path: absolute as given, else relative to the workspace."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.workspace / p

