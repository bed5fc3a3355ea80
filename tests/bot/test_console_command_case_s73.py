"""Session 73 (review): the console took its command's name in any width and case
(`/ATRI help`, as QQ does), but with `[bot] command_name = "quit"` a `/QUIT` then
showed the help instead of leaving."""

from __future__ import annotations

import pytest

from bot.console import as_console_command


@pytest.mark.parametrize("typed", ["/quit", "/QUIT", "/Quit", "／ＱＵＩＴ"])
def test_the_consoles_own_command_as_the_bots_name_leaves_in_any_case(typed: str) -> None:
    assert as_console_command(typed, "quit") == "/quit"


@pytest.mark.parametrize("typed", ["/atri", "/ATRI", "／ａｔｒｉ"])
def test_the_bots_command_alone_is_help(typed: str) -> None:
    assert as_console_command(typed, "atri") == "/help"
