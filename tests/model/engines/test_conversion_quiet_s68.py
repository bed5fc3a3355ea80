"""Converting the packaged GGUF writes no progress bar: transformers' GGUF tqdm bar, which
`hf_logging.disable_progress_bar()` does not reach, put "Converting and de-quantizing GGUF
tensors... 272/272", carriage returns and all, into the worker's log on a first start."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.engines import offline_gguf


@pytest.mark.slow
def test_converting_the_packaged_model_draws_no_progress_bar(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers import modeling_gguf_pytorch_utils as gguf
    from transformers.utils import logging as hf_logging

    bar = gguf.tqdm
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # as `atri worker` does (cli.py `_quiet_transformers`)
    try:
        offline_gguf.convert_offline(offline_gguf.offline_gguf_dir(), tmp_path / "model")
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
    written = capfd.readouterr()
    assert "GGUF tensors" not in written.err + written.out
    assert "\r" not in written.err
    assert (tmp_path / "model" / "config.json").is_file()
    assert gguf.tqdm is bar  # restored: the conversion leaves transformers as it was
