# One entry point for newcomers and CI: every target installs what it needs into .venv
# from this repository's own files (pyproject.toml), so a fresh clone needs only python3.
# The venv holds the dev tools and every extra (all: dp, sim, net, testing, flower); a user's `pip install
# sbrml` needs only the protocols' packages (docs/install.md), which make wheel-smoke checks.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BYZFL_STAMP := $(VENV)/.byzfl

.PHONY: install check test suite coverage mutation wheel-smoke thorough demo bench vectors crosscheck crosscheck-install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,all]'
	touch $(STAMP)

check: install
	$(BIN)/mypy
	$(BIN)/ruff check sbrml tests tools
	$(BIN)/ruff format --check sbrml tests tools
	$(BIN)/python tools/speccheck.py

# The suite runs after the wheel smoke test, so that the closing lines are pytest's summary.
# Branch coverage (make coverage, below) doubles the suite's time on two cores (4,103 tests:
# 320 s plain, 636 s under coverage), which took make test past its 10-minute budget (14 min
# 43 s from a fresh clone on 2026-12-01): it runs by its own target (docs/assurance.md).
test: check wheel-smoke suite

suite: install
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest -q --durations=10

# The built wheel in fresh venvs on the oldest and newest supported Python (pyproject's
# classifiers), without and with its extras, used from outside the tree; one to two
# minutes with pip's cache warm. A Python missing here is skipped with a printed line.
wheel-smoke: install
	$(BIN)/python tools/wheel_smoke.py

# Branch coverage (docs/assurance.md): the test suite under pytest-cov, then one report per
# layer, each failing below its floor; all four print before the status is decided. The
# reports list only the files below 100 %, lowest first; build/coverage/html has the lines.
COVERAGE_LIBRARY_FLOOR := 95
COVERAGE_APP_FLOOR := 90
COVERAGE_LIBRARY := reference optimized core
COVERAGE_APP_OMIT := sbrml/reference/*,sbrml/optimized/*,sbrml/core/*

coverage: install
	rm -rf build/coverage
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest -q --cov --cov-report=
	$(BIN)/coverage html --quiet
	@status=0; \
	for layer in $(COVERAGE_LIBRARY); do \
		echo "== sbrml/$$layer/ (floor $(COVERAGE_LIBRARY_FLOOR) %)"; \
		$(BIN)/coverage report --include="sbrml/$$layer/*" \
			--fail-under=$(COVERAGE_LIBRARY_FLOOR) || status=1; \
	done; \
	echo "== the app layer: sbrml/ less those three (floor $(COVERAGE_APP_FLOOR) %)"; \
	$(BIN)/coverage report --omit="$(COVERAGE_APP_OMIT)" \
		--fail-under=$(COVERAGE_APP_FLOOR) || status=1; \
	exit $$status

# Mutation testing (docs/assurance.md) with mutmut, by its own target only: never part of
# make test. MODULES picks some of the protocol modules (tools/mutation.py lists them), e.g.
# make mutation MODULES="reference/ring optimized/ring"; empty means all. Each module is run
# against its own tests only; the run, in build/mutation/, prints the score per module and
# every surviving mutant, and fails if a module scores below MUTATION_FLOOR.
MODULES ?=
MUTATION_FLOOR := 90

mutation: install
	$(BIN)/python tools/mutation.py --floor $(MUTATION_FLOOR) $(MODULES)

thorough: install
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest -q -m "not byzfl" --durations=25

# ByzFL (the independent baseline of the rule library) as a dev extra: PyTorch 2.13.0, CPU
# build, and ByzFL without its declared torchvision dependency (sbrml.byzfl_baseline loads
# only byzfl.aggregators, which does not use it).
crosscheck-install: $(BYZFL_STAMP)

$(BYZFL_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,all,byzfl]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'byzfl==0.0.11'
	touch $(BYZFL_STAMP)

crosscheck: crosscheck-install
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest -q -m byzfl

demo: install
	$(BIN)/sbrml demo
	$(BIN)/sbrml simulate --out out/demo

bench: crosscheck-install
	$(BIN)/python -m sbrml.bench --out docs/benchmarks.md

vectors: install
	$(BIN)/python -m sbrml.vectors sbrml/testing/vectors

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .hypothesis
