"""Her commands are installed with her in a server only, and run only where offered.

With "User Install" ticked for the application (the portal's default for a new one),
commands that do not say otherwise can be added to a person's own account and then run
in servers she is not in and in DMs between other people; there the member permissions
Discord sends are those of that other server, and its admin must not count as hers.
"""

from __future__ import annotations

from typing import Any

import discord

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.discord.commands import is_admin
from bot.lines import lines
from model.service import ChatService
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    EPHEMERAL,
    MEMBER_ID,
    FakeDiscord,
    is_callback,
    is_command_sync,
)

GUILD_INSTALL = 0
GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2
# A server she is not in, where someone added her commands to their own account.
FOREIGN_GUILD_ID = 910_000_000_000_000_999


def user_install(user_id: int) -> dict[str, str]:
    """`authorizing_integration_owners` of a command installed on a user's account."""
    return {"1": str(user_id)}


async def answer(fake: FakeDiscord, user: int, group: str, sub: str, **kw: Any) -> str:
    payload = await fake.run_command(user, group, sub, **kw)
    (call,) = await fake.wait_for_calls(
        lambda c: is_callback(c) and f"/interactions/{payload['id']}/" in c.path
    )
    assert call.body["data"]["flags"] & EPHEMERAL
    return str(call.body["data"]["content"])


async def test_every_command_is_installed_with_her_in_a_server_only(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    (sync,) = fake_discord.calls_matching(is_command_sync)
    synced = {command["name"]: command for command in sync.body}
    assert set(synced) == {"atri", "atri-admin"}
    for command in synced.values():
        assert command["integration_types"] == [GUILD_INSTALL]
    # `/atri` works in her DMs as in servers; `/atri-admin` has no server to manage there.
    assert synced["atri"]["contexts"] == [GUILD, BOT_DM]
    assert synced["atri-admin"]["contexts"] == [GUILD]


async def test_a_foreign_servers_admin_gets_no_admin_view_of_status(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """The admin holds Manage Server in the server the command comes from; that server
    did not install her, only the admin's own account did."""
    elsewhere = {"guild_id": FOREIGN_GUILD_ID, "owners": user_install(ADMIN_ID)}
    status = await answer(fake_discord, ADMIN_ID, "atri", "status", **elsewhere)
    assert status == lines().not_listed
    assert "引擎" not in status and "Discord" not in status
    refused = await answer(fake_discord, ADMIN_ID, "atri-admin", "reset-channel", **elsewhere)
    assert refused == lines().not_listed
    # In her own server the same admin still has it.
    assert "引擎：echo" in await answer(fake_discord, ADMIN_ID, "atri", "status")


async def test_an_owner_s_user_install_elsewhere_is_refused_too(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    discord_settings.discord.admin_ids = [ADMIN_ID]
    elsewhere = {"guild_id": FOREIGN_GUILD_ID, "owners": user_install(ADMIN_ID)}
    assert await answer(fake_discord, ADMIN_ID, "atri-admin", "reload", **elsewhere) == (
        lines().not_listed
    )


async def test_no_command_runs_in_a_dm_between_other_people(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    between_others = {
        "in_guild": False,
        "owners": user_install(MEMBER_ID),
        "context": PRIVATE_CHANNEL,
    }
    refused = await answer(fake_discord, MEMBER_ID, "atri", "reset", **between_others)
    assert refused == lines().not_listed
    # Her own DM still takes `/atri`.
    assert await answer(fake_discord, MEMBER_ID, "atri", "status", in_guild=False) != (
        lines().not_listed
    )


async def test_the_admin_check_itself_ignores_a_foreign_servers_permissions(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    """Checked again where the permissions are read, whatever runs before it."""
    payload = await fake_discord.run_command(
        ADMIN_ID,
        "atri",
        "status",
        guild_id=FOREIGN_GUILD_ID,
        owners=user_install(ADMIN_ID),
    )
    foreign = discord.Interaction(data=payload, state=client._connection)  # type: ignore[arg-type]
    assert foreign.permissions.manage_guild  # what Discord says of the other server
    assert not is_admin(foreign, discord_settings.discord)
    payload = await fake_discord.run_command(ADMIN_ID, "atri", "status")
    at_home = discord.Interaction(data=payload, state=client._connection)  # type: ignore[arg-type]
    assert is_admin(at_home, discord_settings.discord)
