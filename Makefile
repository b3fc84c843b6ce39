# octsr developer commands. `make help` lists them.
# Run inside the environment you want octsr in (the README makes a .venv first).
PYTHON ?= python
# A CPU build by default; GPU users: make install TORCH_SPEC="torch==2.13.0 --index-url <CUDA wheel index>"
TORCH_SPEC ?= torch==2.13.0
LOGDIR ?= logs

.DEFAULT_GOAL := help
.PHONY: help install train test test-all bench tensorboard clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

install: ## install pinned torch, then octsr (editable) and its test tools
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install $(TORCH_SPEC)
	$(PYTHON) -m pip install -e '.[dev]'

train: ## train the default model (SRCNN on the synthetic phantom); ARGS="model=cae optim.lr=0.0003"
	$(PYTHON) -m octsr.train $(ARGS)

# pytest exits 5 when nothing was collected (e.g. every test deselected): say so, don't fail.
test: ## run the fast test suite (slow tests excluded)
	$(PYTHON) -m pytest -m "not slow" $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$rc

test-all: ## run every test, slow ones (real Duke training) included
	$(PYTHON) -m pytest $(ARGS); rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

bench: ## speed and memory table (about 5 min; experiments/bench/bench.py --full for the committed one)
	$(PYTHON) experiments/bench/bench.py $(ARGS)

tensorboard: ## open TensorBoard on every run under logs/ (LOGDIR=... for another root)
	$(PYTHON) -m tensorboard.main --logdir $(LOGDIR)

clean: ## remove run outputs and caches (logs/, multirun/, .pytest_cache)
	rm -rf logs multirun outputs .pytest_cache
