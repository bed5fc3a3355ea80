"""`ATRI_ERROR_REPLY=` (empty), which releases before the plugin checked its keys took (a
failure was then answered with nothing), stops the project: the sentence says that
silence is gone and what to write instead. Blanks only were a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.qq.config import PluginConfigError, config_from
from tests.bot.qq.test_env_keys_s51 import load_with_env_file

SENTENCE = (
    "ATRI_ERROR_REPLY in NoneBot's .env (or the environment) must not be empty (staying "
    "silent when the worker fails is no longer possible): remove the line for her own "
    "error line, or write ATRI_ERROR_REPLY=出错了，稍后再试."
)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_error_reply_says_what_to_write(value: str) -> None:
    with pytest.raises(PluginConfigError) as caught:
        config_from({"atri_worker_url": "http://127.0.0.1:8765", "atri_error_reply": value})
    assert str(caught.value) == SENTENCE


def test_blanks_only_stop_the_project_with_the_sentence_not_a_traceback(tmp_path: Path) -> None:
    done = load_with_env_file(tmp_path, 'ATRI_ERROR_REPLY="  "')
    said = done.stdout + done.stderr
    assert done.returncode != 0 and "loaded" not in done.stdout, said
    assert SENTENCE in said and "Traceback" not in said, said
