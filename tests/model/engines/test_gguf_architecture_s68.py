"""A GGUF of another architecture than `[model] base` (a llama GGUF for a Qwen2 base of the
same widths) is refused at start: only sizes were compared, so it loaded and babbled.
Only clear mismatches are refused: Mistral's GGUFs are written as llama, and an
architecture the table does not know is not judged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from model.engines.gguf_base import base_hashes
from model.engines.llamacpp import LlamaCppEngine
from model.engines.offline_gguf import ModelNotFoundError
from tests.model.engines.test_llamacpp_qa39 import (  # noqa: F401 (fixtures)
    QWEN_CONFIG,
    llamacpp_settings,
    tokenizer_fields,
    write_gguf,
)


def base_folder(root: Path, name: str, **config: object) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**QWEN_CONFIG, **config}))
    return folder


async def test_a_llama_gguf_for_a_qwen2_base_of_the_same_widths_is_refused(
    tmp_path: Path,
    write_gguf: Callable[..., Path],  # noqa: F811
) -> None:
    path = write_gguf(tmp_path / "tiny-llama.gguf", arch="llama")
    base = base_folder(tmp_path, "Qwen2.5-0.5B-Instruct")
    with pytest.raises(
        ModelNotFoundError,
        match=r'is not a GGUF of \[model\] base = ".*Qwen2.5-0.5B-Instruct": architecture llama '
        r"\(the base: qwen2\);",
    ):
        await LlamaCppEngine.load(llamacpp_settings(tmp_path, path.name, str(base)))


@pytest.mark.parametrize(
    ("arch", "model_type"),
    [
        ("qwen2", "qwen2"),
        ("llama", "mistral"),  # llama.cpp's converter writes Mistral as llama
        ("llama", "some_new_model"),  # a model_type the table does not know
    ],
)
def test_the_gguf_architecture_of_the_base_or_an_unknown_one_is_accepted(
    tmp_path: Path,
    write_gguf: Callable[..., Path],  # noqa: F811
    arch: str,
    model_type: str,
) -> None:
    path = write_gguf(tmp_path / f"tiny-{arch}.gguf", arch=arch)
    base = base_folder(tmp_path, "base", model_type=model_type)
    settings = llamacpp_settings(tmp_path, path.name, str(base))
    base_hashes(settings, path, lambda _: None)  # no ModelNotFoundError
