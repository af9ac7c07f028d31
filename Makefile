# The two commands of the README. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.loosen-installed
# timm's own model tests, from the release pyproject.toml pins, run against loosen's models
TIMM_VERSION := $(shell sed -n 's/.*"timm==\([0-9.]*\)".*/\1/p' pyproject.toml)
TIMM_TESTS := tests/timm_contract/test_timm_models.py

.PHONY: demo test test-timm-all lint bench gpu-check gpu-wheels gpu-check-sim clean

demo: $(STAMP)
	$(BIN)/loosen demo --out runs/demo

# on every core (pytest-xdist), the slow files first (tests/conftest.py)
TEST_WORKERS ?= auto
test: $(STAMP) $(TIMM_TESTS)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# timm's contract over every loosen model (make test runs the default set of
# tests/timm_contract/conftest.py); 1596 tests, most of an hour on 2 shared cores
test-timm-all: $(STAMP) $(TIMM_TESTS)
	LOOSEN_TIMM_MODELS='*' $(BIN)/python -m pytest tests/timm_contract -p no:cacheprovider -n auto

# the one GPU check (loosen bench gpu): at most 8 minutes on one GPU, report.md and
# results.json in GPU_OUT; on a CPU machine: make gpu-check GPU_FLAGS='--device cpu --tiny'
GPU_OUT ?= runs/gpu-check
GPU_FLAGS ?=
gpu-check: $(STAMP)
	$(BIN)/loosen bench gpu --out $(GPU_OUT) $(GPU_FLAGS)

# what the lent GPU machine (Python 3.12 with its own CUDA torch, no network) lacks, as
# wheels in .whl/ for its one call (README "The GPU check"; scripts/gpu-check.sh installs
# them there): downloaded for cp312 manylinux x86_64 (the two on the index as source only
# built here, pure Python), installed into build/gpu-site with a Python 3.12 and checked
# there: every Requires-Dist met by them or the machine's packages (loosen/bench/gpu_wheels.py)
PY312 ?= python3.12
WHEELS := .whl
WHEEL_TAGS := --python-version 3.12 --implementation cp $(foreach p,manylinux_2_28 \
	manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1,--platform $(p)_x86_64)
PINS := PYTHONPATH=src $(PYTHON) -m loosen.bench.gpu_wheels pins
gpu-wheels:
	rm -rf $(WHEELS).part build/gpu-site && mkdir -p $(WHEELS).part
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: $(WHEEL_TAGS) \
		-d $(WHEELS).part $$($(PINS) --binary)
	$(PYTHON) -m pip wheel --quiet --no-deps -w $(WHEELS).part $$($(PINS) --sdist)
	$(PY312) -m pip install --quiet --no-index --no-deps --no-compile --target build/gpu-site \
		$(WHEELS).part/*.whl
	PYTHONPATH=src $(PY312) -m loosen.bench.gpu_wheels check build/gpu-site
	rm -rf $(WHEELS) && mv $(WHEELS).part $(WHEELS) && du -sh $(WHEELS)

# the CPU check as that machine runs it: no start-up hook, and every package it lacks hidden
gpu-check-sim: $(STAMP)
	PYTHONPATH=src $(BIN)/python -m loosen.bench.gpu_wheels hide build/gpu-hide
	LOOSEN_HOOK=0 PYTHONPATH=build/gpu-hide:src $(BIN)/loosen bench gpu --out runs/gpu-sim \
		--device cpu --tiny

lint: $(STAMP)
	$(BIN)/ruff check src tests

# torch and torchvision first, from the exact pins (they lie on this machine's disk),
# so that nothing else can pull in another build. pip byte-compiles on one core; compileall
# does it on all of them afterwards (a process's imports then read .pyc files, also where
# PYTHONDONTWRITEBYTECODE keeps Python from writing them). The one file left out is
# torch's Python 3.12 syntax test, which pip's compile skips too.
SITE_PACKAGES = $(VENV)/lib/python*/site-packages
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-compile torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet --no-compile -e '.[dev,yolo,cluster,explain]'
	$(BIN)/python -m compileall -qq -j 0 -x 'torch/testing/_internal/py312_intrinsics\.py' \
		$(SITE_PACKAGES)
	touch $@

# fetched at install time like any dependency (never at run time): the sdist on the index
$(TIMM_TESTS): pyproject.toml | $(STAMP)
	rm -rf build/timm-sdist && mkdir -p build/timm-sdist
	$(BIN)/pip download --quiet --no-binary :all: --no-deps \
		timm==$(TIMM_VERSION) -d build/timm-sdist
	tar -xzOf build/timm-sdist/timm-$(TIMM_VERSION).tar.gz \
		timm-$(TIMM_VERSION)/tests/test_models.py > $@.part && mv $@.part $@

clean:
	rm -rf $(VENV) runs build src/*.egg-info $(TIMM_TESTS) $(WHEELS)
