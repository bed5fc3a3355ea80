"""TOML the parser cannot read gets a hint on the line it stopped at: the slips of a
Chinese input method and of Python habits, which "Invalid value" names none of."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import ConfigError, load_settings


def _error(tmp_path: Path, toml: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("toml", "hint"),
    [
        (
            "[persona]\nuser_name = “小明”\n",
            'line 2 (`user_name`): write text in straight quotes, like user_name = "小明"',
        ),
        (
            "[persona]\nuser_name = 小明\n",
            'line 2 (`user_name`): put text in double quotes, like user_name = "小明"',
        ),
        (
            "[generation]\ndo_sample = True\n",
            "line 2 (`do_sample`): true and false are lower case in TOML, like do_sample = true",
        ),
        (
            '[persona]\nuser_name ＝ "小明"\n',
            'line 2 (`user_name`): write ＝ ［ ］ in ASCII (half-width), like user_name = "小明"',
        ),
        ("［persona］\n", "line 1: write ＝ ［ ］ in ASCII (half-width), like [persona]"),
    ],
)
def test_a_slip_on_the_failing_line_gets_its_hint(tmp_path: Path, toml: str, hint: str) -> None:
    message = _error(tmp_path, toml)
    assert "not valid TOML (" in message
    assert message.endswith(f"; {hint}).")


def test_a_section_given_twice_is_named_as_a_section_not_a_tuple(tmp_path: Path) -> None:
    message = _error(tmp_path, "[generation]\ntop_p = 0.5\n[generation]\ntop_k = 3\n")
    assert message.endswith(
        "not valid TOML ([generation] appears twice (again at line 3); merge the two into one)."
    )
    assert "('generation',)" not in message


def test_a_line_with_no_known_slip_keeps_the_parsers_words(tmp_path: Path) -> None:
    message = _error(tmp_path, "[model\nbase = 1\n")
    assert message.endswith(
        "not valid TOML (Expected ']' at the end of a table declaration (at line 1, column 7))."
    )
