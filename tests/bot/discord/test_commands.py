"""Slash commands through the real discord.py client: permissions, deferral, sync."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from bot import lines as bot_lines
from bot.discord.adapter import AtriClient
from bot.discord.commands import DESCRIPTION_MAX
from bot.lines import lines, use_card
from model.protocol import ChannelRef, ChatRequest, ReloadResult, Reply, ScopeRef, WorkerStatus
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    ADMIN_ROLE_ID,
    APPLICATION_ID,
    BOT_ID,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER_ID,
    MOD_ROLE_ID,
    OWNER_ID,
    Call,
    FakeDiscord,
    is_callback,
    is_command_sync,
    is_followup,
    is_message_to,
)
from tests.bot.test_lines import card_settings


async def chat(fake: FakeDiscord, author: int, text: str) -> None:
    """One exchange with ATRI, so there is memory to reset."""
    before = len(fake.calls_matching(is_message_to(CHANNEL_ID)))
    await fake.send_message(author, f"<@{BOT_ID}> {text}", mentions=(BOT_ID,))
    await fake.wait_for_calls(is_message_to(CHANNEL_ID), count=before + 1)


async def answer_to(fake: FakeDiscord, user: int, group: str, sub: str, **kw: Any) -> Call:
    """Run a command and return the immediate (type 4) ephemeral answer."""
    payload = await fake.run_command(user, group, sub, **kw)
    (call,) = await fake.wait_for_calls(
        lambda c: is_callback(c) and f"/interactions/{payload['id']}/" in c.path
    )
    assert call.body["type"] == 4
    assert call.body["data"]["flags"] & EPHEMERAL
    # Her answers echo stored text (memory): they ping nobody, like her replies.
    assert call.body["data"]["allowed_mentions"] == {"parse": []}
    return call


async def live_messages(service: ChatService, user: int) -> int:
    return len(await service.memory.history(f"discord:user:{user}"))


async def test_member_resets_their_own_conversation(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    await chat(fake_discord, MEMBER_ID, "你好")
    await chat(fake_discord, ADMIN_ID, "你好")
    call = await answer_to(fake_discord, MEMBER_ID, "atri", "reset")
    assert "不会再接着" in call.body["data"]["content"]  # archived: `/atri forget` deletes
    assert await live_messages(echo_service, MEMBER_ID) == 0
    assert await live_messages(echo_service, ADMIN_ID) == 2


async def test_whom_the_lists_shut_out_cannot_run_her_member_commands(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    await chat(fake_discord, MEMBER_ID, "你好")
    cfg = discord_settings.discord
    cfg.blocked_users = [MEMBER_ID]
    refused = await answer_to(fake_discord, MEMBER_ID, "atri", "reset")
    assert refused.body["data"]["content"] == lines().not_listed
    assert await live_messages(echo_service, MEMBER_ID) == 2
    # The same in a DM, and for a channel the lists leave out; other people are not held.
    refused = await answer_to(fake_discord, MEMBER_ID, "atri", "memory", in_guild=False)
    assert refused.body["data"]["content"] == lines().not_listed
    cfg.blocked_users = []
    cfg.allowed_channels = [CHANNEL_ID + 1]
    refused = await answer_to(fake_discord, MEMBER_ID, "atri", "reset")
    assert refused.body["data"]["content"] == lines().not_listed
    cfg.allowed_channels = []
    # A role blocked in her server holds in a DM too (the roles are looked up there).
    cfg.blocked_roles = [ADMIN_ROLE_ID]
    refused = await answer_to(fake_discord, ADMIN_ID, "atri", "status", in_guild=False)
    assert refused.body["data"]["content"] == lines().not_listed
    cfg.blocked_roles = []
    done = await answer_to(fake_discord, MEMBER_ID, "atri", "reset")
    assert "不会再接着" in done.body["data"]["content"]
    assert await live_messages(echo_service, MEMBER_ID) == 0


async def test_resetting_someone_else_is_for_admins_only(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await chat(fake_discord, MEMBER_ID, "你好")
    await chat(fake_discord, ADMIN_ID, "你好")
    with caplog.at_level(logging.WARNING, logger="bot.commands"):
        refused = await answer_to(
            fake_discord, MEMBER_ID, "atri-admin", "reset-user", user_option=ADMIN_ID
        )
    assert refused.body["data"]["content"] == lines().refused
    assert await live_messages(echo_service, ADMIN_ID) == 2
    assert any("refused" in r.message and str(MEMBER_ID) in r.message for r in caplog.records)

    # Manage Server makes an admin of this server only: under `[memory] scope = "user"`
    # the member's conversation is also their DM's and other servers', so it stays.
    kept = await answer_to(
        fake_discord, ADMIN_ID, "atri-admin", "reset-user", user_option=MEMBER_ID
    )
    assert kept.body["data"]["content"] == lines().personal_user_reset
    assert await live_messages(echo_service, MEMBER_ID) == 2
    # The bot's owner (`admin_ids`) resets it everywhere.
    discord_settings.discord.admin_ids = [ADMIN_ID]
    done = await answer_to(
        fake_discord, ADMIN_ID, "atri-admin", "reset-user", user_option=MEMBER_ID
    )
    assert "已重置" in done.body["data"]["content"]
    assert await live_messages(echo_service, MEMBER_ID) == 0
    assert await live_messages(echo_service, ADMIN_ID) == 2


async def test_a_server_admin_resets_a_member_in_that_channel_and_not_their_dm(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.memory.scope = "user_in_channel"
    await chat(fake_discord, MEMBER_ID, "你好")
    await echo_service.chat(ChatRequest(platform="discord", user_id=str(MEMBER_ID), text="私信"))
    done = await answer_to(
        fake_discord, ADMIN_ID, "atri-admin", "reset-user", user_option=MEMBER_ID
    )
    assert done.body["data"]["content"] == lines().user_reset_done.format(count=2)
    here = echo_service.scope_for("discord", str(MEMBER_ID), str(CHANNEL_ID), str(GUILD_ID))
    assert await echo_service.memory.history(here) == []
    assert await live_messages(echo_service, MEMBER_ID) == 2  # their DM


async def test_admin_ids_and_admin_roles_count_as_admins(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    refused = await answer_to(fake_discord, MEMBER_ID, "atri-admin", "reset-channel")
    assert refused.body["data"]["content"] == lines().refused
    discord_settings.discord.admin_ids = [MEMBER_ID]
    allowed = await answer_to(fake_discord, MEMBER_ID, "atri-admin", "reset-channel")
    assert allowed.body["data"]["content"] != lines().refused
    # A role granted /atri-admin under Integrations, with no Manage Server of its own.
    discord_settings.discord.admin_ids = []
    fake_discord.people[MEMBER_ID].roles.append(MOD_ROLE_ID)
    assert (await answer_to(fake_discord, MEMBER_ID, "atri-admin", "reset-channel")).body["data"][
        "content"
    ] == lines().refused
    discord_settings.discord.admin_roles = [MOD_ROLE_ID]
    allowed = await answer_to(fake_discord, MEMBER_ID, "atri-admin", "reset-channel")
    assert allowed.body["data"]["content"] != lines().refused


@pytest.mark.parametrize("command", ["reload", "rollback"])
async def test_only_the_bot_s_owners_switch_the_adapter_every_server_shares(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings, command: str
) -> None:
    """Manage Server in any one server the bot is in let that server's admin roll the
    adapter back (or on) for every other server and every QQ group; QQ's group admins
    could not. The application's owner (developer portal) and `admin_ids` may."""
    refused = await answer_to(fake_discord, ADMIN_ID, "atri-admin", command)
    # Told it is the owners' (a server admin told "only admins" took it for a bug).
    assert refused.body["data"]["content"] == lines().owners_only
    fake_discord.add_person(OWNER_ID, "owner")  # owns the application, no server role
    allowed = await answer_to(fake_discord, OWNER_ID, "atri-admin", command)
    assert allowed.body["data"]["content"] != lines().owners_only
    discord_settings.discord.admin_ids = [ADMIN_ID]
    allowed = await answer_to(fake_discord, ADMIN_ID, "atri-admin", command)
    assert allowed.body["data"]["content"] != lines().owners_only


def _sent_here(fake: FakeDiscord) -> list[str]:
    return [c.body["content"] for c in fake.calls_matching(is_message_to(CHANNEL_ID))]


async def test_admins_turn_her_off_on_or_to_every_message_and_it_is_stored(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    def mode(value: str) -> dict[str, str]:
        return {"mode": value}

    refused = await answer_to(
        fake_discord, MEMBER_ID, "atri-admin", "channel", string_options=mode("off")
    )
    assert refused.body["data"]["content"] == lines().refused
    off = await answer_to(
        fake_discord, ADMIN_ID, "atri-admin", "channel", string_options=mode("off")
    )
    assert "不说话" in off.body["data"]["content"]
    await fake_discord.send_message(MEMBER_ID, f"<@{BOT_ID}> 在吗", mentions=(BOT_ID,))
    await asyncio.sleep(0.2)
    assert _sent_here(fake_discord) == []

    await answer_to(fake_discord, ADMIN_ID, "atri-admin", "channel", string_options=mode("all"))
    await fake_discord.send_message(MEMBER_ID, "大家好")  # no mention: she speaks up
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == "亚托莉听到了：大家好"

    # Stored by the worker: another service on the same database (a restart) reads it.
    async with await ChatService.open(discord_settings) as restarted:
        assert await restarted.channel_modes("discord") == {str(CHANNEL_ID): "all"}
    await answer_to(fake_discord, ADMIN_ID, "atri-admin", "channel", string_options=mode("mention"))
    assert await echo_service.channel_modes("discord") == {str(CHANNEL_ID): "mention"}


async def test_atri_admin_is_not_offered_in_dms(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    (sync,) = fake_discord.calls_matching(is_command_sync)
    admin = next(c for c in sync.body if c["name"] == "atri-admin")
    member = next(c for c in sync.body if c["name"] == "atri")
    assert admin["contexts"] == [0] or admin.get("dm_permission") is False
    assert member.get("dm_permission") is not False


async def test_channel_reset_needs_an_admin(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.memory.scope = "channel"
    await chat(fake_discord, MEMBER_ID, "大家好")
    scope = f"discord:chan:{GUILD_ID}/{CHANNEL_ID}"
    assert len(await echo_service.memory.history(scope)) == 2
    shared = await answer_to(fake_discord, MEMBER_ID, "atri", "reset")
    assert "共享" in shared.body["data"]["content"]
    refused = await answer_to(fake_discord, MEMBER_ID, "atri-admin", "reset-channel")
    assert refused.body["data"]["content"] == lines().refused
    assert len(await echo_service.memory.history(scope)) == 2
    await answer_to(fake_discord, ADMIN_ID, "atri-admin", "reset-channel")
    assert await echo_service.memory.history(scope) == []


async def test_status_shows_admins_more(fake_discord: FakeDiscord, client: AtriClient) -> None:
    member = (await answer_to(fake_discord, MEMBER_ID, "atri", "status")).body["data"]["content"]
    admin = (await answer_to(fake_discord, ADMIN_ID, "atri", "status")).body["data"]["content"]
    assert "排队中：0" in member and "已运行" in member
    assert "引擎" not in member and "Discord" not in member
    assert "引擎：echo" in admin and "Discord：延迟" in admin


class SlowWorker:
    """The real service, with commands that take longer than Discord's first deadline."""

    def __init__(self, service: ChatService, delay: float) -> None:
        self.service = service
        self.delay = delay

    async def chat(self, request: ChatRequest) -> Reply:
        return await self.service.chat(request)

    async def reset(self, scope: ScopeRef) -> int:
        await asyncio.sleep(self.delay)
        return await self.service.reset(scope)

    async def purge(self, scope: ScopeRef) -> int:
        return await self.service.purge(scope)

    async def status(self) -> WorkerStatus:
        return await self.service.status()

    async def reload(self, version: str = "") -> ReloadResult:
        await asyncio.sleep(self.delay)
        return await self.service.reload(version)

    async def forget_channel(self, ref: ChannelRef) -> int:
        return await self.service.forget_channel(ref)

    async def rollback(self) -> ReloadResult:
        return await self.service.rollback()


async def test_a_slow_command_defers_first_then_follows_up(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    worker = SlowWorker(echo_service, delay=0.3)
    async with running_client(fake_discord, worker, discord_settings, defer_after=0.05):
        payload = await fake_discord.run_command(MEMBER_ID, "atri", "reset")
        (followup,) = await fake_discord.wait_for_calls(is_followup)
    (callback,) = fake_discord.calls_matching(is_callback)
    assert f"/interactions/{payload['id']}/{payload['token']}/callback" == callback.path
    assert callback.body["type"] == 5  # deferred: "ATRI is thinking…"
    assert callback.body["data"]["flags"] & EPHEMERAL
    assert fake_discord.calls.index(callback) < fake_discord.calls.index(followup)
    assert followup.path == f"/webhooks/{APPLICATION_ID}/{payload['token']}"
    assert followup.body["flags"] & EPHEMERAL
    assert followup.body["allowed_mentions"] == {"parse": []}
    assert "不会再接着" in followup.body["content"]


async def test_commands_sync_globally_once_then_only_when_changed(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    async with running_client(fake_discord, echo_service, discord_settings):
        pass
    (first,) = fake_discord.calls_matching(is_command_sync)
    assert first.path == f"/applications/{APPLICATION_ID}/commands"
    by_name = {c["name"]: c for c in first.body}
    assert set(by_name) == {"atri", "atri-admin"}
    assert int(by_name["atri-admin"]["default_member_permissions"]) == MANAGE_GUILD
    assert by_name["atri"]["default_member_permissions"] is None
    admin_subcommands = {o["name"] for o in by_name["atri-admin"]["options"]}
    assert admin_subcommands == {"reset-user", "reset-channel", "reload", "rollback", "channel"}
    state = discord_settings.path(discord_settings.discord.commands_state)
    assert state.is_file()

    async with running_client(fake_discord, echo_service, discord_settings):
        pass
    assert len(fake_discord.calls_matching(is_command_sync)) == 1  # unchanged: no sync

    # Guild-scoped for testing: synced to the guild, and the global copy is cleared.
    discord_settings.discord.guild_ids = [GUILD_ID]
    async with running_client(fake_discord, echo_service, discord_settings):
        await answer_to(fake_discord, MEMBER_ID, "atri", "status")  # guild commands resolve
    guild_sync, cleared = fake_discord.calls_matching(is_command_sync)[1:]
    assert guild_sync.path == f"/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"
    assert {c["name"] for c in guild_sync.body} == {"atri", "atri-admin"}
    assert cleared.path == f"/applications/{APPLICATION_ID}/commands"
    assert cleared.body == []


async def test_memory_is_shown_to_the_asker_only(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    await chat(fake_discord, MEMBER_ID, "my cat is Mochi")
    await chat(fake_discord, ADMIN_ID, "a secret")
    content = (await answer_to(fake_discord, MEMBER_ID, "atri", "memory")).body["data"]["content"]
    assert "最近的对话" in content and "my cat is Mochi" in content
    assert "secret" not in content


def menu_texts(synced: list[dict[str, Any]]) -> Iterator[str]:
    """Every description and choice name in a synced command payload."""
    for item in synced:
        if item.get("description"):
            yield item["description"]
        for choice in item.get("choices", []):
            yield choice["name"]
        yield from menu_texts(item.get("options", []))


def described(synced: list[dict[str, Any]]) -> dict[str, str]:
    """`group sub [option]` -> its description, from a synced command payload."""
    found = {}
    for group in synced:
        found[group["name"]] = group["description"]
        for sub in group["options"]:
            found[f"{group['name']} {sub['name']}"] = sub["description"]
            for option in sub.get("options", []):
                key = f"{group['name']} {sub['name']} {option['name']}"
                found[key] = option["description"]
                for choice in option.get("choices", []):
                    found[f"{key} {choice['value']}"] = choice["name"]
    return found


# What ATRI's own card shows in the menu.
ATRI_MENU = {
    "atri": "和亚托莉有关的命令",
    "atri reset": "让亚托莉忘掉和你的对话",
    "atri forget": "永久删除亚托莉保存的关于你的一切",
    "atri forget confirm": "确认删除（无法恢复）",
    "atri memory": "亚托莉记得关于你的事：摘要和最近的对话",
    "atri status": "亚托莉现在的状态：模型版本、排队、运行时间",
    "atri-admin": "管理亚托莉的记忆和模型（管理员）",
    "atri-admin channel": "在这个频道打开或关闭亚托莉，或让亚托莉每条都回答",
    "atri-admin channel mode": "亚托莉在这个频道怎么说话",
    "atri-admin channel mode off": "关闭：在这里不说话",
    "atri-admin channel mode mention": "被叫到才回答（默认）",
    "atri-admin channel mode all": "每条消息都回答",
    "atri-admin channel channel": "要设置的频道（论坛、媒体频道也可以）；不填则是这个频道",
    "atri-admin reset-user": "重置某位成员和亚托莉的对话",
    "atri-admin reset-user user": "要重置对话的成员",
    "atri-admin reset-channel": "重置这个频道里的对话",
    "atri-admin reload": "立即检查并加载新的模型版本",
    "atri-admin reload version": "要换上的版本名（状态里显示的那样）；不填则换上最新的",
    "atri-admin rollback": "退回上一个模型版本",
}


async def synced_menu(
    fake: FakeDiscord, service: ChatService, settings: Settings
) -> list[dict[str, Any]]:
    async with running_client(fake, service, settings):
        pass
    return list(fake.calls_matching(is_command_sync)[-1].body)


async def test_the_menu_names_the_configured_character_in_her_cards_language(
    fake_discord: FakeDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot_lines, "_current", lines())  # put back after the test
    assert described(await synced_menu(fake_discord, echo_service, discord_settings)) == ATRI_MENU

    use_card(card_settings(tmp_path, "Yuki", "A girl who lives in the snow."))
    menu = described(await synced_menu(fake_discord, echo_service, discord_settings))
    assert menu.keys() == ATRI_MENU.keys()
    assert menu["atri reset"] == "Make Yuki forget your conversation"
    assert menu["atri-admin"] == "Manage Yuki's memory and model (admins)"
    assert menu["atri-admin channel mode all"] == "Every message"
    assert all("亚托莉" not in text and "ATRI" not in text for text in menu.values())
    # A new menu is a changed menu: it is synced, not skipped as already registered.
    assert len(fake_discord.calls_matching(is_command_sync)) == 2


async def test_every_menu_text_fits_discords_limit_whatever_her_name(
    fake_discord: FakeDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot_lines, "_current", lines())
    for language, name, description in [
        ("en", "Yuki Snowfield of the Northern Pass", "A girl who lives in the snow."),
        ("zh", "雪之原北境山口的雪", "住在雪山里的女孩。"),
    ]:
        use_card(card_settings(tmp_path, name, description))
        assert lines().slash_atri.startswith("Commands" if language == "en" else "和")
        texts = list(menu_texts(await synced_menu(fake_discord, echo_service, discord_settings)))
        # A name of ordinary length: every text whole, within the limit.
        assert all(0 < len(text) <= DESCRIPTION_MAX and "…" not in text for text in texts)
        assert any(name in text for text in texts)

    # A name too long for the menu: cut to fit, since Discord refuses the whole set else.
    use_card(card_settings(tmp_path, "Yuki" * 30, "A girl who lives in the snow."))
    texts = list(menu_texts(await synced_menu(fake_discord, echo_service, discord_settings)))
    assert all(len(text) <= DESCRIPTION_MAX for text in texts)
    assert any(text.endswith("…") for text in texts)


async def test_a_command_with_a_missing_or_odd_option_gets_one_clear_line(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    # What a stale menu (an older sync) or a hand-made request sends: the option is
    # missing, is none of the choices, or the subcommand is gone.
    for sub, options in [
        ("reset-user", {}),
        ("channel", {}),
        ("channel", {"string_options": {"mode": "everything"}}),
        ("no-such-command", {}),
    ]:
        answer = await answer_to(fake_discord, ADMIN_ID, "atri-admin", sub, **options)
        assert answer.body["data"]["content"] == lines().command_not_understood
    assert await echo_service.channel_modes("discord") == {}
    member = await answer_to(fake_discord, MEMBER_ID, "atri", "status")  # still answering
    assert "模型版本" in member.body["data"]["content"]
