"""Dynamic batching, overload and timeouts on the real tiny model."""

from __future__ import annotations

import asyncio
import time

from atri.config import Settings
from model.protocol import ChatRequest
from model.service import ChatService

# Different lengths, so a batch really needs left padding.
PROMPTS = [
    "hi",
    "hello ATRI, how are you today?",
    "what is your favourite food",
    "tell me about the sea",
    "ok",
    "do you remember the town under the water and the summer we met there?",
    "good night",
    "can robots dream?",
]


def req(text: str, user: str) -> ChatRequest:
    return ChatRequest(platform="test", user_id=user, text=text, display_name=user)


async def test_eight_concurrent_chats_are_batched_and_match_alone(
    tiny_settings: Settings,
) -> None:
    tiny_settings.worker.batch_window_ms = 200
    tiny_settings.generation.max_new_tokens = 12
    alone_settings = tiny_settings.model_copy(deep=True)
    alone_settings.memory.path = str(tiny_settings.path("alone.sqlite3"))
    async with await ChatService.open(alone_settings) as service:
        alone = [(await service.chat(req(p, f"u{i}"))).text for i, p in enumerate(PROMPTS)]
        assert service.engine.stats.generate_calls == len(PROMPTS)

    async with await ChatService.open(tiny_settings) as service:
        together = await asyncio.gather(
            *(service.chat(req(p, f"u{i}")) for i, p in enumerate(PROMPTS))
        )
        assert [r.status for r in together] == ["ok"] * len(PROMPTS)
        assert service.engine.stats.generate_calls < len(PROMPTS)
        assert max(service.engine.stats.batch_sizes) > 1
        assert [r.text for r in together] == alone
        metrics = service.metrics.render().decode()
        assert "atri_batch_size_count" in metrics
        assert 'atri_requests_total{api="chat",status="ok"} 8.0' in metrics


async def test_overload_and_timeout_answer_busy_and_queue_stays_bounded(
    tiny_settings: Settings,
) -> None:
    tiny_settings.worker.max_batch = 1
    tiny_settings.worker.queue_size = 2
    busy = tiny_settings.worker.busy_reply
    async with await ChatService.open(tiny_settings) as service:
        engine = service.engine
        assert (await service.chat(req("warm up", "warm"))).status == "ok"
        service.settings.worker.request_timeout_seconds = 0.3
        # The engine thread is stuck (as during a slow adapter load) for longer than
        # any request may wait.
        stall = asyncio.ensure_future(engine.thread.run(time.sleep, 1.0))  # type: ignore[attr-defined]
        chats = [
            asyncio.ensure_future(service.chat(req(p, f"u{i}"))) for i, p in enumerate(PROMPTS)
        ]
        depths = []
        while not all(c.done() for c in chats):
            depths.append(service.batcher.depth)
            await asyncio.sleep(0.01)
        replies = [c.result() for c in chats]
        assert {r.status for r in replies} == {"busy"}
        assert {r.text for r in replies} == {busy}
        assert max(depths) <= 2
        # The first six either waited in the bounded queue or were refused at once.
        assert sum(r.latency_ms < 100 for r in replies) >= len(PROMPTS) - 3
        for reply in replies:
            assert await service.memory.history(reply.scope) == []
        await stall
        service.settings.worker.request_timeout_seconds = 30
        after = await service.chat(req("are you back?", "late"))
        assert after.status == "ok"
        metrics = service.metrics.render().decode()
        assert 'atri_requests_total{api="chat",status="busy"} 8.0' in metrics
        assert 'atri_requests_total{api="chat",status="ok"} 2.0' in metrics
