"""A say statement never closing its string is counted only when words were lost."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, parse


@pytest.mark.parametrize("line", ['"', 'e "', 'e "   '])
def test_a_lone_quote_mark_gives_no_empty_line(line: str) -> None:
    # Hypothesis found `"`: an utterance with no text, dropped as unclosed_string.
    text = f'define e = Character("Eileen")\n{line}\n'
    said = parse(text, "script.rpy", "renpy", ParseOptions())
    assert [u for u in said if not u.text.strip()] == []
