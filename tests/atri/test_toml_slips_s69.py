"""TOML slips people bring from other formats got the parser's line and column but no
hint: `// comment`, `key: value` (YAML), a `;` at the end, `.5`, `0,5`, `70%`. A secret
written `token: …` must not be shown in the hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.atri.test_config_toml_hints_s51 import _error


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("// warmer replies", "comments start with # in TOML, like # warmer replies"),
        ("; warmer replies", "comments start with # in TOML, like # warmer replies"),
        ("temperature: 0.5", "a key takes = in TOML, not a colon, like temperature = 0.5"),
        ("temperature = 0.5;", "no ; at a line's end in TOML, like temperature = 0.5"),
        ("temperature = .5", "write the number as TOML does, like temperature = 0.5"),
        ("temperature = 0,5", "write the number as TOML does, like temperature = 0.5"),
        ("top_p = 90%", "write the number as TOML does, like top_p = 0.9"),
    ],
)
def test_a_slip_from_another_format_gets_a_hint(tmp_path: Path, line: str, hint: str) -> None:
    said = _error(tmp_path, f"[generation]\n{line}\n")
    assert said.endswith(f": {hint}).") or f": {hint})" in said, said


def test_a_secret_written_with_a_colon_is_not_shown(tmp_path: Path) -> None:
    said = _error(tmp_path, "[discord]\ntoken: MTA5-secret-value\n")
    assert "MTA5" not in said
    assert "ATRI_DISCORD_TOKEN" in said
