"""Session 54: `/atri status` says why she is silent, in the bots' language: where it is
asked, to anyone; the other places the platform knows of, to admins, a few named and
the rest counted. Against the real in-process worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import commands, lines
from bot.commands import CANNOT_POST_NAMED, CannotPost
from bot.lines import lines_for
from model.service import ChatService
from tests.bot.test_commands import admin, member


@pytest.fixture
def english() -> Iterator[None]:
    before = lines.lines()
    lines._current = lines_for("Yuki", "en")
    yield
    lines._current = before


PLACES = [CannotPost(f"<#{n}>", "no_send") for n in range(CANNOT_POST_NAMED + 2)]


@pytest.mark.usefixtures("english")
async def test_the_place_asked_in_is_said_to_anyone_the_others_to_admins(
    echo_service: ChatService,
) -> None:
    here = CannotPost("", "muted_whole")
    plain = (await commands.status(echo_service, member(), here, PLACES)).text.splitlines()
    full = (await commands.status(echo_service, admin(), here, PLACES)).text.splitlines()
    told = "Yuki cannot post here now (the whole group is muted): messages for Yuki here are not answered."
    assert plain[3:] == [told]
    assert full[3:9] == [
        told,
        "Where Yuki cannot post now:",
        "<#0> — no Send Messages permission",
        "<#1> — no Send Messages permission",
        "<#2> — no Send Messages permission",
        "…and 2 more",
    ]
    assert full[9].startswith("Engine: echo")


@pytest.mark.usefixtures("english")
async def test_a_ban_says_what_is_left_and_a_timeout_until_when(
    echo_service: ChatService,
) -> None:
    said = lines.lines()
    places = [
        CannotPost("group 300", "banned", said.time_left(90 * 60 + 1)),
        CannotPost("<#7>", "timed_out", "<t:1800000000:f>"),
        CannotPost("group 301", "refused"),
    ]
    shown = (await commands.status(echo_service, admin(), None, places)).text.splitlines()
    assert shown[3:7] == [
        "Where Yuki cannot post now:",
        "group 300 — the account is muted, 1 h 31 min left",
        "<#7> — timed out until <t:1800000000:f>",
        "group 301 — QQ refused the last sends",
    ]


def test_the_time_left_is_in_whole_minutes_rounded_up() -> None:
    for language, seconds, left in [
        ("en", 5, "1 min"),
        ("en", 59 * 60, "59 min"),
        ("en", 3600, "1 h 0 min"),
        ("zh", 30 * 3600 + 1, "30 小时 1 分钟"),
        ("ja", 120, "2 分"),
    ]:
        assert lines_for("Yuki", language).time_left(seconds) == left


async def test_nothing_is_added_where_she_can_post(echo_service: ChatService) -> None:
    plain = await commands.status(echo_service, member())
    assert len(plain.text.splitlines()) == 3
