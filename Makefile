# The two commands of the README: `make serve` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test lint browser groonga performance

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Sudachi's synonym dictionary (npm package sudachi-synonyms-dictionary), pinned with its hash in
# package-lock.json, which npm ci checks; it is installed, never committed. The target is the file
# itself, so a missing one is installed again; touched, so it is newer than the lock file after.
# The same npm ci installs axe-core (pinned there too), which tests/test_accessibility.py injects.
SYNONYMS := node_modules/sudachi-synonyms-dictionary/sudachi-synonyms-dictionary.json
$(SYNONYMS): package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# chiVe's word vectors, as the PyPI wheel ja-ginza ships them (indexer/vectors.py): downloaded
# without its dependencies (spaCy is not needed), pinned with its hash, never committed; the
# two files the search reads are turned into numpy arrays once.
VECTORS := vendor/chive/vectors.npy
$(VECTORS): requirements-vectors.txt $(VENV)/.installed
	$(BIN)/pip download --quiet --no-deps --require-hashes -r requirements-vectors.txt -d vendor
	$(BIN)/python -m indexer.vectors
	touch $@

serve: $(VENV)/.installed $(SYNONYMS) $(VECTORS)
	$(BIN)/python -m webapp

test: $(VENV)/.installed $(SYNONYMS) $(VECTORS) browser groonga
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

# Debian's Chromium for the browser tests (never a browser download), and a Japanese font so
# that the screenshots show text.
browser:
	@command -v chromium >/dev/null && [ -d /usr/share/fonts/opentype/noto ] || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk; }

# Debian's Groonga, the peer of the relevance and performance benchmarks.
groonga:
	@command -v groonga >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq groonga-bin; }

# The performance benchmark of docs/performance.md: 1×, 10×, 100× and 1000× the seed, beside
# Groonga (about half an hour on 2 cores; SIZES=1,10 for a quick look).
SIZES ?= 1,10,100,1000
performance: $(VENV)/.installed $(SYNONYMS) $(VECTORS) groonga
	$(BIN)/python -m bench.performance --sizes $(SIZES)
