"""Follow-ups of QA 38 on the worker's memory: a bot command on a damaged database is
the worker's one log sentence and a short line, not a traceback; a purge tells
messages and room lines apart."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from atri.config import Settings
from bot import commands
from bot.commands import Actor
from bot.lines import lines
from model.protocol import ChatRequest, MemoryUnavailable, ScopeRef
from model.service import ChatService
from tests.model.test_dberrors_qa38 import (
    assert_sentences,
    damage,
    failures,
    fill_the_disk,
    filled,
)


def said(text: str, user: str, channel: str = "g1", addressed: bool = True) -> ChatRequest:
    return ChatRequest(
        platform="qq", user_id=user, text=text, channel_id=channel, addressed=addressed
    )


async def test_a_purge_over_http_says_how_many_were_room_lines(echo_settings: Settings) -> None:
    """`POST /purge` keeps `count` (messages and room lines together) and adds
    `room_lines`; `Memory.purge` gives both counts."""
    import httpx
    from pydantic import SecretStr

    from atri.config import Secrets
    from model.server.app import bind_socket, create_app, serving

    secrets = Secrets(admin_token=SecretStr("t"))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer t"}) as client,
    ):
        assert (await service.chat(said("hello there", "1"))).status == "ok"  # 2 messages
        for channel in ("g1", "g2", "g3"):
            await service.chat(said("only heard", "1", channel, addressed=False))
        answer = await client.post("/purge", json={"platform": "qq", "user_id": "1"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"count": 5, "room_lines": 3, "not_deleted_from": ""}
        await service.chat(said("hello again", "2"))
        await service.chat(said("heard", "2", "g2", addressed=False))
        key = service.scope_for("qq", "2", "g1")
        assert await service.memory.purge(key) == (2, 1)


async def test_bot_commands_on_a_damaged_database_say_memory_is_unavailable(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """`atri serve` with the worker in-process: /atri reset, /atri memory, an admin's
    reset of a member or of the channel on a damaged file raised the database error out
    of the command; the platform logged a traceback and said "couldn't do that"."""
    damage(await filled(echo_settings))
    member = Actor(platform="p", user_id="u1", is_admin=False, channel_id="c1")
    admin = Actor(platform="p", user_id="a1", is_admin=True, channel_id="c1", is_owner=True)
    async with await ChatService.open(echo_settings) as service:
        with caplog.at_level(logging.INFO):
            answers = [
                await commands.reset_self(service, member),
                await commands.remembered(service, member),
                await commands.reset_user(service, admin, "u2"),
                await commands.reset_channel(service, admin),
            ]
            # The console's /reset and the rest of the Worker interface: one sentence.
            with pytest.raises(MemoryUnavailable, match="the file is damaged"):
                await service.history(ScopeRef(platform="p", user_id="u1"))
            # A failed reset left its transaction open, holding the write lock: a channel
            # mode (another connection) and `atri memory` waited, then failed as "in use".
            writer = sqlite3.connect(echo_settings.memory.path, timeout=0.2)
            writer.execute("BEGIN IMMEDIATE")
            writer.rollback()
            writer.close()
            assert (await commands.set_channel_mode(service, admin, "off")).ok
        records = failures(caplog)
    assert [a.text for a in answers] == [lines().memory_unavailable] * 4
    assert not any(a.ok for a in answers)
    assert_sentences(records)
    assert len(records) == 1, [r.getMessage() for r in records]  # once every few minutes
    said = records[0].getMessage()
    assert said.startswith(f"[memory] path {echo_settings.memory.path} could not be used (")
    assert "the file is damaged" in said and "A reset was refused." in said


async def test_a_separate_worker_on_a_damaged_database_is_said_the_same(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Behind `atri worker`, the bots' HttpWorker reads the 503 as the same
    `MemoryUnavailable`, so the command answers the same line."""
    from pydantic import SecretStr

    from atri.config import Secrets
    from bot.relay import HttpWorker
    from model.server.app import bind_socket, create_app, serving

    damage(await filled(echo_settings))
    secrets = Secrets(admin_token=SecretStr("t"))
    member = Actor(platform="p", user_id="u1", is_admin=False, channel_id="c1")
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        settings = echo_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(settings, secrets) as remote:
            with caplog.at_level(logging.INFO):
                answers = [
                    await commands.reset_self(remote, member),
                    await commands.remembered(remote, member),
                ]
                with pytest.raises(MemoryUnavailable, match="the file is damaged"):
                    await remote.purge(ScopeRef(platform="p", user_id="u1"))
    assert [a.text for a in answers] == [lines().memory_unavailable] * 2
    records = failures(caplog)
    assert_sentences(records)
    assert len(records) == 1, [r.getMessage() for r in records]


async def test_a_reply_made_when_the_disk_fills_is_given_not_thrown_away(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The disk filled at the write after generation: the user got her error line and
    the reply, made in time, was thrown away. It is given now, and the log says once
    that it was not remembered."""
    from model.engines.echo import EchoEngine
    from tests.model.test_dberrors_qa38 import hello

    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(hello())).status == "ok"
        scope = service.scope_for("p", "u1", "c1")
        stored = len(await service.memory.all_messages(scope))
        await fill_the_disk(service)
        with caplog.at_level(logging.INFO):
            replies = []
            for i in range(40):  # past the free room left in the last pages
                text = f"message {i} " * 40
                replies.append((text, await service.chat(hello(text=text))))
        records = failures(caplog)
        kept = [m.content for m in await service.memory.all_messages(scope)]
    assert all(r.status == "ok" for _, r in replies), [r.status for _, r in replies]
    assert all(r.text == EchoEngine.prefix + " ".join(t.split()) for t, r in replies)
    lost = [t for t, _ in replies if " ".join(t.split()) not in kept]
    assert lost and len(kept) == stored + 2 * (len(replies) - len(lost))  # the disk did fill
    assert_sentences(records)
    assert len(records) == 1, [r.getMessage() for r in records]
    said = records[0].getMessage()
    assert "could not be written (database or disk is full)" in said
    assert "Replies are given but not remembered meanwhile." in said


async def test_purging_a_member_of_a_shared_channel_conversation_keeps_the_others(
    echo_settings: Settings,
) -> None:
    """Under `[memory] scope = "channel"` a member's purge (someone asking for their data
    to go) deleted the channel's whole conversation, everyone's exchanges with it; now
    their exchanges (their messages and her replies) and any summary that holds them go,
    and the others' stay."""
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings) as service:
        key = service.scope_for("qq", "1", "g1")
        for i, user in enumerate(["1", "2", "1", "2"]):
            request = said(f"message {i} from {user}", user).model_copy(
                update={"request_id": f"m{i}"}
            )
            assert (await service.chat(request)).status == "ok"
        await service.memory.add_summary(key, "1 and 2 talked", 2, "", 0)
        assert await service.purge(ScopeRef(platform="qq", user_id="1", channel_id="g1")) == 4
        kept = await service.memory.all_messages(key)
        assert [m.content for m in kept if m.role == "user"] == [
            "message 1 from 2",
            "message 3 from 2",
        ]
        assert len(kept) == 4 and not any("from 1" in m.content for m in kept)
        assert await service.memory.all_summaries(key) == []  # it folded one of theirs
