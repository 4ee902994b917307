# Two commands do everything:  make demo   (install + grade the example)   and   make test.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: install demo test lint browser messages serve

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/grader validate banks/
	HF_HUB_OFFLINE=1 $(BIN)/grader grade banks/transformer-triad.yaml banks/examples/submissions.csv --out reports/example

# Headless Chromium for the report tests (Debian's package; skipped where apt is not usable).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium fonts-nanum fonts-ipafont-gothic >/dev/null) || echo "chromium not installed: browser tests will skip"; }

# Learners' self-check in the browser on the shipped bank: http://127.0.0.1:8000/ (Ctrl-C stops it).
serve: install
	HF_HUB_OFFLINE=1 $(BIN)/grader serve banks/transformer-triad.yaml --data reports/serve-data

lint: install
	$(BIN)/ruff check grader tests benchmarks
	$(BIN)/ruff format --check grader tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# Interface labels: extract them from the code and templates, update every grader.po, compile the
# grader.mo files that run (commit all three; tests fail when a .mo is stale or a label untranslated).
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k ngettext:1,2 --no-location --sort-output --omit-header -o grader/locale/grader.pot .
	$(BIN)/pybabel update -i grader/locale/grader.pot -d grader/locale -D grader --no-fuzzy-matching --ignore-obsolete --width 100
	$(BIN)/pybabel compile -d grader/locale -D grader --statistics
