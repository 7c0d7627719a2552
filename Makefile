# The commands the README names (CI runs `make test`).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-slow test-all benchmarks ui clean

# torch==2.13.0 first: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Install, then one night on the shipped demo data: reindex SciFact, search it, reindex again (unchanged),
## evaluate it on the golden set, check the demo query logs for drift; say where to look in MLflow.
demo: install
	$(BIN)/nightshift reindex
	$(BIN)/nightshift search "vitamin D deficiency and bone fractures" --k 5
	$(BIN)/nightshift search "how do statins affect cholesterol" --k 5
	$(BIN)/nightshift reindex
	$(BIN)/nightshift evaluate
	$(BIN)/nightshift drift
	@echo
	@echo "Runs are tracked in MLflow: run '$(BIN)/nightshift ui' and open http://127.0.0.1:5000"
	@echo "(experiment nightshift-reindex: compare the two runs, the second reports 'unchanged';"
	@echo " nightshift-evaluate: the report and review queue; nightshift-drift: which tests flagged the drifted week)."

## Install, then run the default test suite (fast tiers; slow ones: make test-slow).
test: install
	$(BIN)/pytest -q

test-slow: install
	$(BIN)/pytest -q -m "slow"

test-all: install
	$(BIN)/pytest -q -m "slow or not slow"

benchmarks: install
	$(BIN)/python benchmarks/reindex_throughput.py

ui: install
	$(BIN)/nightshift ui

clean:
	rm -rf data/indexes data/snapshots data/cache data/quarantine data/reports mlflow.db mlartifacts
