"""The bots' own lines are one module's state (`bot.lines`): `atri serve`, `use_card` and
a separate worker's character set them. Each test starts from, and leaves, the lines it
found, so one that served her in English does not make the next one's lines English."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import lines


@pytest.fixture(autouse=True)
def keep_bot_lines() -> Iterator[None]:
    before, language, command = lines.lines(), lines.spoken_language(), lines._command
    yield
    lines._current, lines._language, lines._command = before, language, command
