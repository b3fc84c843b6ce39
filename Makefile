# octsr developer commands. `make help` lists them.
# By default every target runs in ./.venv, which `make train`, `make test` (and the others)
# create and install into when it is missing or pyproject.toml has changed.
# Your own environment instead: make install PYTHON=python, then make test PYTHON=python.
VENV ?= .venv
ifeq ($(origin PYTHON), undefined)
PYTHON := $(VENV)/bin/python
ENVIRONMENT := $(VENV)/.installed
endif
# A CPU build by default; GPU users: make install TORCH_SPEC="torch==2.13.0 --index-url <CUDA wheel index>"
TORCH_SPEC ?= torch==2.13.0
LOGDIR ?= logs
# OCT-Converter reads Topcon .fda/.fds and Zeiss .img files (the scanners extra). Installed
# without its declared requirements: they would add opencv-python beside the opencv-python-headless
# that octsr's other packages use (each overwrites the other's cv2, and the full one needs
# libGL); what its readers import (h5py, natsort) is in the scanners extra. The same pin as
# octsr.utils.extras.INSTALLED_WITHOUT_REQUIREMENTS.
OCT_CONVERTER ?= oct-converter==0.7.0
# Test files run this many at a time (pytest-xdist; each file stays on one worker, so its
# shared fixtures are built once). 0 runs them in this process, one after another.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install system-packages train test test-all bench tensorboard clean
# Debian packages the tests use: Chromium renders TensorBoard's page; dicom3tools (dciodvfy)
# and DCMTK (dcmdump) check the DICOM that enhance writes; napari draws with OpenGL, which Qt's
# offscreen platform lacks, so its tests run on Xvfb (started by pytest-xvfb) with Mesa's GL
# and the X libraries Qt's xcb platform loads.
NAPARI_PACKAGES := xvfb libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
	libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libdbus-1-3 \
	libfontconfig1
SYSTEM_PACKAGES := chromium dicom3tools dcmtk $(NAPARI_PACKAGES)

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

system-packages: ## install the Debian packages the tests use (as root, with apt-get; elsewhere it says what to install)
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq $$missing >/dev/null) \
	        || echo "make: could not install $$missing; the tests that need them will be skipped"; \
	else echo "make: install $$missing (Debian packages) for the tests that need them"; fi

install: system-packages ## install pinned torch, then octsr (editable) and its test tools (into .venv unless PYTHON= is given)
	$(if $(ENVIRONMENT),test -x $(PYTHON) || python3 -m venv $(VENV))
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install $(TORCH_SPEC)
	$(PYTHON) -m pip install -e '.[all,dev]'
	$(PYTHON) -m pip install --no-deps $(OCT_CONVERTER)
	$(if $(ENVIRONMENT),touch $(ENVIRONMENT))

# The .venv, made and installed once (again when pyproject.toml changes).
$(VENV)/.installed: pyproject.toml
	$(MAKE) install

train: $(ENVIRONMENT) ## train the default model (SRCNN on the synthetic phantom); ARGS="model=cae optim.lr=0.0003"
	$(PYTHON) -m octsr.train $(ARGS)

# pytest exits 5 when nothing was collected (e.g. every test deselected): say so, don't fail.
test: $(ENVIRONMENT) ## run the fast test suite (slow tests excluded)
	$(PYTHON) -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$rc

test-all: $(ENVIRONMENT) ## run every test, slow ones (real Duke training) included
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS); rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

bench: $(ENVIRONMENT) ## speed and memory table, quick mode (about 5 min; ARGS="--out experiments/speed" rewrites the committed one)
	$(PYTHON) experiments/speed/bench.py $(ARGS)

tensorboard: $(ENVIRONMENT) ## open TensorBoard on every run under logs/ (LOGDIR=... for another root)
	$(PYTHON) -m tensorboard.main --logdir $(LOGDIR)

clean: ## remove run outputs and caches (logs/, multirun/, .pytest_cache)
	rm -rf logs multirun outputs .pytest_cache
