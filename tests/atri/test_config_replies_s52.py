"""An empty `[worker] busy_reply` or `error_reply` was refused with "must not be empty"
only: the reader was left to guess whether empty meant silence, and what to write. The
sentence now names the key, says she always answers with a line, and gives one to copy."""

from __future__ import annotations

import tomllib

import pytest

from atri.config import ConfigError, settings_from_dict


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("busy_reply", "", "she always answers with a line when she is busy"),
        ("error_reply", " ", "she always answers a failure with a line"),
    ],
)
def test_an_empty_reply_says_why_and_gives_a_line_to_copy(key: str, value: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({"worker": {key: value}})
    sentence = str(caught.value)
    assert sentence.startswith(f'config.toml: [worker] {key} = "{value}": must not be empty ')
    assert why in sentence and "never with silence" in sentence
    # The line to copy is the sentence's last part, and valid TOML the config takes.
    line = sentence.split("or write ", 1)[1]
    copied = tomllib.loads(f"[worker]\n{line}")
    assert copied["worker"][key].strip()
    assert getattr(settings_from_dict(copied).worker, key) == copied["worker"][key]


def test_a_line_of_her_own_is_taken_as_written() -> None:
    worker = settings_from_dict({"worker": {"busy_reply": "稍等", "error_reply": "哎呀"}}).worker
    assert (worker.busy_reply, worker.error_reply) == ("稍等", "哎呀")
