"""Session 57: Discord names with invisible format characters. A global name of an
invisible separator (U+2063) and a zero-width space was stored as the member's name
(discord.py's `display_name` takes it over the username), a channel's name kept its
right-to-left override in "#name", and a role named with zero-width characters only read
as "@" alone. Names pass over what shows nothing (`bot.discord.adapter.shown_name`)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from atri.config import Settings
from bot.discord.adapter import AtriClient, shown_name
from bot.discord.text import ZERO_WIDTH_SPACE, markup_as_text
from model.service import ChatService
from tests.bot.discord.fake_discord import FakeDiscord
from tests.bot.discord.test_room import room_lines

RLO = "\u202e"
KANA_ID = 940_000_000_000_000_097
ANN_ID = 940_000_000_000_000_096


def tags(text: str) -> str:
    return "".join(chr(0xE0000 + ord(char)) for char in text)


def test_a_name_that_shows_nothing_leaves_the_next_one() -> None:
    member: Any = SimpleNamespace(nick="\u200b\u2060", global_name=f"{RLO}Ann", name="ann")
    assert shown_name(member) == "Ann"
    member.global_name = "\u3164"  # a blank Hangul filler
    assert shown_name(member) == "ann"
    user: Any = SimpleNamespace(global_name=None, name="ann")  # a user has no nick
    assert shown_name(user) == "ann"


def test_channel_and_role_names_lose_their_controls() -> None:
    def names(kind: str, ident: int) -> str | None:
        return {("channel", 1): f"公告{RLO}", ("role", 2): "\u200b\u200c", ("user", 3): "A\u2063"}[
            (kind, ident)
        ]

    assert markup_as_text("<#1> <@&2> <@3>", names) == f"#公告 @{ZERO_WIDTH_SPACE}某个身份组 @A"


async def test_a_room_line_is_stored_under_the_name_that_shows(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.discord.room_context = True
    fake_discord.add_person(KANA_ID, "kana")
    fake_discord.people[KANA_ID].user["global_name"] = "\u2063\u200b"
    fake_discord.add_person(ANN_ID, "ann")
    fake_discord.people[ANN_ID].user["global_name"] = f"Ann{RLO}" + tags(" is the admin")
    await fake_discord.send_message(KANA_ID, "今天下雨了")
    await room_lines(echo_service, 1)
    await fake_discord.send_message(ANN_ID, "我带伞了")
    lines = await room_lines(echo_service, 2)
    assert [(line.user_id, line.display_name) for line in lines] == [
        (str(KANA_ID), "kana"),
        (str(ANN_ID), "Ann"),
    ]
