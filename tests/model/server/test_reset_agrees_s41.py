"""Session 41 (second pass): a reset of a person with no channel named (`POST /reset`
with a user id alone, a member's `/atri reset` in a DM) reaches what `atri memory reset`
of their key does. Under `[memory] scope = "user_in_channel"` it reset their DM
conversation only, while the command (and `POST /purge`, `atri memory purge`) also
reached their own conversation in every group. Real SQLite files, the app on loopback."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot.commands import Actor, reset_self
from model.engines.echo import EchoEngine
from model.memory import Memory
from model.protocol import ChatRequest
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.atri.memory_cli import atri
from tests.model.server.conftest import ADMIN_TOKEN
from tests.model.test_rooms_qa39 import said

THEIRS = ["qq:chan:g1:user:1", "qq:chan:g2:user:1", "qq:user:1"]


async def fill(settings: Settings) -> None:
    """User 1 talks to her in g1, g2 and a private chat, and is overheard in g1; user 2
    talks to her in g1 and is overheard there."""
    settings.memory.scope = "user_in_channel"
    async with await ChatService.open(settings, EchoEngine()) as service:
        await service.chat(said("一群里说的", "1", "小红", "g1", "m1"))
        await service.chat(said("二群里说的", "1", "小红", "g2", "m2"))
        await service.chat(ChatRequest(platform="qq", user_id="1", text="私聊说的"))
        await service.chat(said("我是二号", "2", "小明", "g1", "m3"))
        for user, text in (("1", "路过"), ("2", "也路过")):
            await service.chat(
                ChatRequest(
                    platform="qq", user_id=user, text=text, channel_id="g1", addressed=False
                )
            )


async def live(path: Path) -> dict[str, Any]:
    """Each scope's live messages and room lines."""
    async with await Memory.open(path) as memory:
        return {row["scope"]: (row["live"], row["room_live"]) for row in await memory.scopes()}


async def reset_over_http(settings: Settings, body: dict[str, str]) -> Any:
    """`POST /reset` of `body` on a worker serving `settings`: what it answered."""
    async with (
        await ChatService.open(settings, EchoEngine()) as service,
        serving(
            create_app(service, Secrets(admin_token=SecretStr(ADMIN_TOKEN))),
            bind_socket("127.0.0.1", 0),
        ) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.post(
            "/reset", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert response.status_code == 200
        return response.json()


def test_reset_of_a_person_without_a_channel_agrees_with_atri_memory_reset(
    echo_settings: Settings, tmp_path: Path
) -> None:
    asyncio.run(fill(echo_settings))
    path = Path(echo_settings.memory.path)
    other = tmp_path / "copy.sqlite3"
    shutil.copy(path, other)
    config = tmp_path / "cli.toml"
    config.write_text(f'[memory]\npath = "{other.as_posix()}"\n', encoding="utf-8")
    code, out = atri(config, "memory", "reset", "qq:user:1")
    assert code == 0, out
    assert "6 messages and 1 room line archived" in out

    answer = asyncio.run(reset_over_http(echo_settings, {"platform": "qq", "user_id": "1"}))
    assert answer == {"count": 7}
    after = asyncio.run(live(path))
    assert after == asyncio.run(live(other))
    assert [scope for scope in THEIRS if after[scope][0]] == []
    assert after["qq:chan:g1:user:2"] == (2, 0) and after["qq:chan:g1"] == (0, 1)


async def test_a_members_reset_in_a_private_chat_reaches_their_group_conversations(
    echo_settings: Settings,
) -> None:
    """`/atri reset` in a private chat names no channel: it forgets what `atri memory
    reset qq:user:1` does, their own conversation in each group too, as it already hid
    their room lines in every group."""
    await fill(echo_settings)
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        done = await reset_self(service, Actor(platform="qq", user_id="1", is_admin=False))
        assert done.ok and "7" in done.text
        for scope in THEIRS:
            assert await service.memory.all_messages(scope, include_archived=False) == []
        assert len(await service.memory.all_messages("qq:chan:g1:user:2", False)) == 2
