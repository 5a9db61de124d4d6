# The README's two commands: `make reproduce` (the main job) and `make test`. The rest is plumbing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel; for CUDA: make setup TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH ?= torch==2.13.0
PRESET ?= lite
export EGL_PLATFORM := surfaceless
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=900 --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: setup reproduce test benchmark clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@bash scripts/system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

reproduce: setup
	$(BIN)/igan-lite dataset build --category all --preset $(PRESET)
	@mkdir -p runs/notebooks
	for nb in notebooks/0*.ipynb; do IGAN_PRESET=$(PRESET) $(BIN)/papermill --cwd notebooks $$nb runs/$$nb || exit 1; done
	@echo "figures written to figures/; executed notebooks in runs/notebooks/"

test: setup
	IGAN_PRESET=smoke $(BIN)/pytest $(NBVAL) tests notebooks

benchmark: setup
	$(BIN)/python benchmarks/render_throughput.py

clean:
	rm -rf $(VENV) data runs
