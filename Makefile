# The two commands of the README. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.loosen-installed

.PHONY: demo test lint bench clean

demo: $(STAMP)
	$(BIN)/loosen demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests

# torch and torchvision first, from the exact pins (they lie on this machine's disk),
# so that nothing else can pull in another build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[dev,yolo,cluster,explain]'
	touch $@

clean:
	rm -rf $(VENV) runs build src/*.egg-info
