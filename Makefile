VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install lint typecheck test bench up

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install:  ## create the virtualenv with the test extras
	python3 -m venv $(VENV) && $(BIN)/pip install -e '.[test]'

lint:  ## ruff lint and format check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck:  ## mypy on the packages
	$(BIN)/mypy

test:  ## the test suite (unit, integration, e2e)
	$(BIN)/pytest

bench:  ## print the codec figures (the path benchmark needs a running instance: headwater bench --help)
	$(BIN)/python tests/bench/bench_payload.py

up:  ## run the embedded platform
	$(BIN)/headwater up
