"""``DriftConfig``: the drift check's settings (``configs/drift.yaml`` documents every key)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tasks.embedding import EmbedderConfig
from tasks.notify import NotifyConfig
from tasks.querylogs.config import QueryLogConfig

Input = Literal["embeddings", "golden", "corpus", "query_length", "oov_rate", "language", "top1_score",
                "novelty", "feedback"]
EMBEDDING_INPUTS = ("embeddings", "golden", "corpus")  # 2-D vectors
CATEGORICAL_INPUTS = ("language",)
INDEX_INPUTS = ("oov_rate", "top1_score", "corpus")  # need a published index
TESTS_FOR = {"embeddings": {"mmd", "classifier", "pca_ks"}, "golden": {"golden_staleness"},
             "corpus": {"golden_staleness"}, "language": {"chi2"}, "feedback": {"proportion"}}
SCALAR_TESTS = {"psi", "confidence", "coverage_gap"}


class TestSpec(BaseModel):
    """One entry of the family: a registered test applied to one input, with its parameters."""

    model_config = ConfigDict(extra="forbid")

    test: str  # a name in tasks.drift.available_tests()
    input: Input
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)  # alpha and seed default to the top-level ones


def _default_tests() -> dict[str, TestSpec]:
    psi = {"n_bins": 10, "threshold": 0.25}  # PSI >= 0.25: the conventional "major shift" (README, "drift")
    rows = [("mmd", "mmd", "embeddings", {"n_permutations": 2000}), ("classifier", "classifier", "embeddings", {}),
            ("pca_ks", "pca_ks", "embeddings", {"n_components": 10}), ("query_length", "psi", "query_length", psi),
            ("oov_rate", "psi", "oov_rate", psi), ("language", "chi2", "language", {}),
            ("confidence", "confidence", "top1_score", {}),
            ("coverage_gap", "coverage_gap", "top1_score", {"quantile": 0.05}),
            ("novelty", "coverage_gap", "novelty", {"quantile": 0.05}),
            ("golden_staleness", "golden_staleness", "golden", {}), ("corpus_drift", "golden_staleness", "corpus", {}),
            ("feedback", "proportion", "feedback", {})]
    return {label: TestSpec(test=test, input=kind, params=params) for label, test, kind, params in rows}


class WindowsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = "-35d..-7d"  # a window START..END, or a log file read whole
    current: str = "-7d.."
    anchor: str = "now"  # now | latest | a date
    min_queries: int = Field(20, ge=2)  # fewer in either window: "not enough data", no test runs


class IndexSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str | None = None  # a local index version (DVC md5 prefix); default: current
    required: bool = False  # true: fail when no index is published; false: skip the index tests
    top1_source: Literal["index", "log"] = "index"  # log: max of the log's `scores` per query
    threads: int = Field(1, ge=1)


class GoldenSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: str = "data/golden/scifact"
    fallback: str | None = "data/samples/scifact"  # used when `dir` does not exist
    split: str = "test"  # golden queries = the queries judged in qrels/<split>.tsv


class CorpusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = "index"  # index: the published index's source; a path; null: off
    holdout: int = Field(500, ge=20)  # indexed chunks held out as the reference sample
    max_new_chunks: int = Field(5000, ge=1)  # a seeded sample above this


class ExplainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantile: float = Field(0.95, gt=0, lt=1)
    max_clusters: int = Field(5, ge=1)
    n_examples: int = Field(3, ge=1)
    min_silhouette: float = 0.15
    max_review_rows: int = Field(200, ge=0)


class NotifyAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    when: list[str] = Field(default_factory=lambda: ["any"])  # test labels, or "any"
    channel: NotifyConfig = Field(default_factory=NotifyConfig)


class ReindexAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    when: list[str] = Field(default_factory=lambda: ["corpus_drift"])
    deployment: str | None = None  # "reindex/<deployment>": create a flow run of it instead of a subflow
    config: str = "configs/reindex.yaml"
    overrides: list[str] = Field(default_factory=list)


class GoldenRefreshAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    when: list[str] = Field(default_factory=lambda: ["golden_staleness", "novelty"])
    flag_file: str = "data/flags/golden_refresh.json"
    labelling_file: bool = True  # also write a labelling file for the uncovered clusters (data/labelling/<golden>/)
    golden: str | None = None  # the golden set it is for; null: the name of the golden folder drift compared with
    n: int = Field(50, ge=1)  # uncovered queries sampled into it (stratified by cluster)
    pool_depth: int = Field(10, ge=1)  # candidates taken from each of dense, BM25, hybrid per query


class ActionsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notify: NotifyAction = Field(default_factory=NotifyAction)
    reindex: ReindexAction = Field(default_factory=ReindexAction)
    golden_refresh: GoldenRefreshAction = Field(default_factory=GoldenRefreshAction)


class DriftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    querylog: QueryLogConfig = Field(default_factory=QueryLogConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    alpha: float = Field(0.05, gt=0, lt=1)  # family-wise false-alarm rate (Holm)
    seed: int = 0
    tests: dict[str, TestSpec] = Field(default_factory=_default_tests)
    novelty_holdout_share: float = Field(1 / 3, gt=0, lt=1)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)  # only when no index is published
    index: IndexSource = Field(default_factory=IndexSource)
    golden: GoldenSource = Field(default_factory=GoldenSource)
    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    explain: ExplainConfig = Field(default_factory=ExplainConfig)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    blas_threads: int = Field(1, ge=1)

    @field_validator("tests", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        """Entries are merged over the default family (same label and test), so ``--set tests.mmd.enabled=false``
        works without a config file; an entry that names another test replaces the default one."""
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {k: v.model_dump() for k, v in _default_tests().items()}
        for label, given in value.items():
            default = merged.get(label)
            if isinstance(given, dict) and default and given.get("test", default["test"]) == default["test"]:
                merged[label] = {**default, **given, "params": {**default["params"], **(given.get("params") or {})}}
            else:
                merged[label] = given
        return merged

    @model_validator(mode="after")
    def _tests_fit_inputs(self) -> "DriftConfig":
        from tasks.drift.stattests import available_tests

        for label, spec in self.tests.items():
            if spec.test not in available_tests():
                raise ValueError(f"tests.{label}.test: unknown test {spec.test!r}; available: {available_tests()}")
            allowed = TESTS_FOR.get(spec.input, SCALAR_TESTS)
            if spec.test not in allowed:
                raise ValueError(f"tests.{label}: test {spec.test!r} does not apply to input {spec.input!r} "
                                 f"(use one of {sorted(allowed)})")
        for action in ("notify", "reindex", "golden_refresh"):
            unknown = [x for x in getattr(self.actions, action).when if x != "any" and x not in self.tests]
            if unknown:
                raise ValueError(f"actions.{action}.when: {unknown} are not test labels (known: {sorted(self.tests)})")
        return self

    def enabled_tests(self) -> dict[str, TestSpec]:
        return {label: spec for label, spec in self.tests.items() if spec.enabled}
