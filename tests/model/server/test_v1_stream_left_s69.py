"""A /v1 client that leaves mid-stream: the stream wrote every chunk without giving the
event loop a turn, so uvicorn never heard the connection was lost and asyncio logged
"socket.send() raised exception." for each write after the fifth (2,500 lines for one
long reply, seen with the worker and its client in two processes). Each chunk now
gives the loop a turn, in which the lost connection is noticed."""

from __future__ import annotations

import asyncio

from model.protocol import Reply
from model.server.openai_api import STREAM_CHUNK_CHARS, CompletionRequest, _stream


async def test_each_chunk_of_a_stream_gives_the_event_loop_a_turn() -> None:
    body = CompletionRequest.model_validate(
        {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    )
    reply = Reply(text="y" * (100 * STREAM_CHUNK_CHARS))
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    await asyncio.sleep(0)
    try:
        chunks = [chunk async for chunk in _stream(body, reply)]
    finally:
        counter.cancel()
    assert len(chunks) > 100
    # Another task (uvicorn's connection_lost, a client's next request) ran in between.
    assert turns >= 100, turns
