"""A worker process for the crash-safety test: the echo engine behind ChatService,
serving chats from stdin (one `<id> <text>` per line, answered concurrently) and
printing `ANSWERED <id>` once each reply is back, as a bot would send it on.

Run: python -m tests.model.crash_worker MEMORY_PATH
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from atri.config import Settings
from model.protocol import ChatRequest
from model.service import ChatService

USERS = 16


async def serve(memory_path: Path) -> None:
    settings = Settings(root=memory_path.parent)
    settings.model.engine = "echo"
    settings.memory.path = str(memory_path)
    settings.worker.rate_limit_per_minute = 0
    async with await ChatService.open(settings) as service:
        print("READY", flush=True)
        pending: set[asyncio.Task[None]] = set()

        async def answer(chat_id: str, text: str) -> None:
            user = f"user{int(chat_id) % USERS}"
            reply = await service.chat(ChatRequest(platform="crash", user_id=user, text=text))
            if reply.status == "ok":
                print(f"ANSWERED {chat_id}", flush=True)

        while line := await asyncio.to_thread(sys.stdin.readline):
            chat_id, _, text = line.rstrip("\n").partition(" ")
            task = asyncio.create_task(answer(chat_id, text))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
