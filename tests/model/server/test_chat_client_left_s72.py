"""A bot that hangs up on `/chat` (QQ dropping its chats as `atri serve` stops, over
`[worker] url`) stops the reply's generation and stores nothing of it, counted in
/metrics as "cancelled"; before, the worker wrote the reply to its end and stored it,
so her next prompt held a reply nobody was shown. A bot that waits, however slow the
reply, gets it and it is stored."""

from __future__ import annotations

import asyncio

from atri.config import Secrets, Settings
from bot.qq.runner import DroppedAtStop
from bot.relay import HttpWorker
from model.protocol import ChatRequest
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.held_echo import HeldEcho


def _count(metrics: str, status: str) -> float:
    """`atri_requests_total`'s value for bots' chats of `status` (0 when not listed)."""
    line = f'atri_requests_total{{api="chat",status="{status}"}} '
    found = [float(row.removeprefix(line)) for row in metrics.splitlines() if row.startswith(line)]
    return found[0] if found else 0.0


def _message(user_id: str, text: str) -> ChatRequest:
    return ChatRequest(platform="qq", user_id=user_id, text=text, request_id=f"m-{user_id}")


async def test_a_dropped_chat_is_cancelled_and_a_waiting_one_stored(
    echo_settings: Settings, secrets: Secrets
) -> None:
    engine = HeldEcho()
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        settings = echo_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(settings, secrets) as remote:
            # A slow reply to a bot still connected: made, given and stored.
            waiting = asyncio.ensure_future(remote.chat(_message("patient", "take your time")))
            await asyncio.wait_for(engine.started.wait(), 10)
            await asyncio.sleep(0.3)
            assert not waiting.done()
            engine.gate.set()
            answered = await asyncio.wait_for(waiting, 10)
            assert answered.status == "ok" and answered.text

            # The next batch is held again; QQ stops while it is being written.
            engine.gate, engine.started = asyncio.Event(), asyncio.Event()
            chats = DroppedAtStop(remote)
            dropped = asyncio.ensure_future(chats.chat(_message("gone", "a long story")))
            await asyncio.wait_for(engine.started.wait(), 10)
            chats.drop_all()
            assert (await dropped).status == "recalled"
            # The worker learns of it once the connection's close reaches it.
            for _ in range(500):
                metrics = service.metrics.render().decode()
                if _count(metrics, "cancelled"):
                    break
                await asyncio.sleep(0.01)
            engine.gate.set()  # a generation still running would now end and be stored
            # One more exchange through the same worker: the dropped one, had it gone on,
            # would have been stored by the time this one is.
            again = await remote.chat(_message("patient", "still here"))
            assert again.status == "ok"

        metrics = service.metrics.render().decode()
        assert _count(metrics, "cancelled") == 1
        assert _count(metrics, "ok") == 2
        assert await service.memory.all_messages(service.scope_for("qq", "gone")) == []
        assert len(await service.memory.history(service.scope_for("qq", "patient"))) == 4
