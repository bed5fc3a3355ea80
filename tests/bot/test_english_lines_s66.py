"""The bots' English as a native speaker reads it: "1 servers", "(1 messages)" and the
full-width colon in `/atri memory` (You：Hello) came from lines written for Chinese."""

from __future__ import annotations

from bot import commands
from bot.commands import Actor
from bot.lines import lines, use_character
from model.protocol import ChatRequest
from model.service import ChatService


def member() -> Actor:
    return Actor("p", "m", is_admin=False, channel_id="c1", guild_id="g")


async def test_one_is_counted_in_the_singular_in_english(echo_service: ChatService) -> None:
    use_character("ATRI", "en")
    said = lines()
    assert said.counted(said.discord_details, latency="3 ms", servers=1) == (
        "Discord: latency 3 ms, 1 server"
    )
    assert said.counted(said.discord_details, latency="3 ms", servers=11).endswith("11 servers")
    await echo_service.chat(ChatRequest(platform="p", user_id="m", text="hi", channel_id="c1"))
    reset = await commands.reset_self(echo_service, member())
    assert "(2 messages)" in reset.text
    assert "(1 message)." in said.counted(said.channel_reset_done, count=1)
    assert "(21 messages)." in said.counted(said.channel_reset_done, count=21)


async def test_the_memory_view_takes_each_languages_colon(echo_service: ChatService) -> None:
    await echo_service.chat(ChatRequest(platform="p", user_id="m", text="hello", channel_id="c1"))
    use_character("ATRI", "en")
    english = (await commands.remembered(echo_service, member())).text
    assert "\nYou: hello\n" in english
    use_character("亚托莉", "zh")
    assert "\n你：hello\n" in (await commands.remembered(echo_service, member())).text
