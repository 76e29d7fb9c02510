# One entry point for newcomers and CI: every target installs what it needs into .venv
# from this repository's own files (pyproject.toml), so a fresh clone needs only python3.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install check test thorough demo bench vectors clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

check: install
	$(BIN)/mypy
	$(BIN)/ruff check sbrml tests tools
	$(BIN)/ruff format --check sbrml tests tools
	$(BIN)/python tools/speccheck.py

test: check
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest -q

thorough: install
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest -q -m "slow or not slow"

demo: install
	$(BIN)/sbrml demo
	$(BIN)/sbrml simulate --out out/demo

bench: install
	$(BIN)/python -m sbrml.bench

vectors: install
	$(BIN)/python -m sbrml.vectors tests/vectors

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .hypothesis
