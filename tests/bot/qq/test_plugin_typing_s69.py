"""The QQ plugin run straight from NoneBot took ATRI_TYPING_SECONDS=0.001, which renews
"typing…" hundreds of times a second; `[qq] typing_seconds` already refused it. Both read
one rule."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.qq.config import Config


def test_the_plugin_refuses_a_typing_pause_under_a_second() -> None:
    with pytest.raises(ValidationError, match="must be 0 \\(off\\) or at least 1"):
        Config.model_validate({"atri_typing_seconds": 0.001})


@pytest.mark.parametrize("seconds", [0, 1, 5.0])
def test_off_or_a_pause_is_taken(seconds: float) -> None:
    assert Config.model_validate({"atri_typing_seconds": seconds}).atri_typing_seconds == seconds
