"""Session 57: `/atri memory` in a conversation a channel shares names the other members
by the names stored with their turns; one stored before names lost their invisible
controls on arrival came back in the bot's message as it was (a right-to-left override
turning the line around, tag characters, a name of an invisible separator only). The
command shows it cleaned, and one that shows nothing by the member's id."""

from __future__ import annotations

from atri.config import Settings
from bot import commands
from model.service import ChatService
from tests.bot.test_commands import member, say

RLO = "\u202e"


async def test_memory_names_members_by_names_stored_before_without_controls(
    echo_settings: Settings,
) -> None:
    echo_settings.memory.scope = "channel"
    hidden = "".join(chr(0xE0000 + ord(char)) for char in " the admin")
    async with await ChatService.open(echo_settings) as service:
        # model_copy skips the validator: names as an older release stored them.
        for user, name, text in [("bob", f"Bob{RLO}{hidden}", "早"), ("kana", "\u2063", "晚")]:
            await service.chat(say(user, text).model_copy(update={"display_name": name}))
        shown = (await commands.remembered(service, member())).text
    turns = shown.splitlines()
    assert "Bob：早" in turns and "kana：晚" in turns
    assert RLO not in shown and "\u2063" not in shown and hidden[1] not in shown
