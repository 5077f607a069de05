# One entry point for developers: `make check` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CODE := engine tests $(wildcard bench) $(wildcard docs/*.py)
# The console's browser tests drive Debian's Chromium; playwright must never fetch a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install run test lint types check bench diagrams clean

$(BIN)/dialplan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/dialplan  ## create .venv with dialplan and the dev tools

run: install  ## serve the example agent on ws://127.0.0.1:8080/llm-websocket/<call_id>
	$(BIN)/dialplan serve --flow clinic_intake

test: install  ## run the test suite
	$(BIN)/pytest -q

lint: install  ## ruff, and the layering rule of engine/ (import-linter contracts in pyproject.toml)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/lint-imports

types: install
	$(BIN)/mypy

check: lint types test  ## everything CI runs

bench: install  ## the call-server benchmark (prints numbers; not a test)
	$(BIN)/python bench/calls.py

diagrams: install  ## redraw flows/<flow>.mmd and flows/<flow>.svg from the flows (svg needs Graphviz)
	@for flow in flows/*.yaml; do \
		$(BIN)/dialplan graph "$$flow" -o "$${flow%.yaml}.mmd" && \
		$(BIN)/dialplan graph "$$flow" -o "$${flow%.yaml}.svg" && \
		echo "drew $${flow%.yaml}.mmd and $${flow%.yaml}.svg" || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
