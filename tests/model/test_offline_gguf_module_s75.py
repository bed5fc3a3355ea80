"""The offline default's GGUF cache lives in model/engines/offline_gguf.py, under
loading.py: it imports neither loading.py nor the heavy libraries, and loading the config
stays as light as before the move."""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_loaded_by(module: str) -> set[str]:
    """The modules a fresh interpreter holds once it has imported `module`."""
    run = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return set(run.stdout.split())


@pytest.mark.parametrize(
    ("module", "kept_out"),
    [
        ("atri.config", ("torch", "transformers", "huggingface_hub", "model")),
        (
            "model.engines.offline_gguf",
            ("torch", "transformers", "huggingface_hub", "model.engines.loading"),
        ),
    ],
)
def test_a_module_loads_without_the_heavy_ones(module: str, kept_out: tuple[str, ...]) -> None:
    loaded = modules_loaded_by(module)
    assert module in loaded
    assert not {m for m in loaded for out in kept_out if m == out or m.startswith(f"{out}.")}


def test_loading_raises_the_same_not_found_error_as_the_offline_cache() -> None:
    """One class: `except ModelNotFoundError` catches the offline package missing
    (offline_gguf_dir) and a hub id that cannot load (loading.py) alike."""
    from model.engines import loading, offline_gguf

    assert loading.ModelNotFoundError is offline_gguf.ModelNotFoundError
