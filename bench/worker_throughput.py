"""How many users the worker serves on the offline default model, beside bare generation.

One run, greedy decoding, 64 new tokens, the same messages everywhere:
  - worker: N users (1, 4, 8, 16) each send one message at once to ChatService.chat,
    `--rounds` times (fresh users each round, so every prompt is the same length);
  - sequential: the same messages through `model.generate` one at a time;
  - raw batch: the same N messages in one `model.generate` call (max_batch = 16, so
    the worker may batch all of them too).
Ratios: worker requests/s over sequential (aim ≥ 3× at 8 users) and over raw batch
(aim ≥ 0.9: the worker adds little).
Run: .venv/bin/python bench/worker_throughput.py [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from atri.config import Settings
from model.engine import LocalEngine
from model.prompt import ChatMessages, build_messages
from model.protocol import ChatRequest
from model.service import ChatService

USERS = (1, 4, 8, 16)
NEW_TOKENS = 64
MESSAGES = [
    "Good morning, ATRI! Did you sleep well?",
    "What do you want to do today?",
    "Can you help me repair the boat?",
    "Why do you like the sea so much?",
    "Tell me about the town under the water.",
    "Are robots allowed to eat crab?",
    "What is your favourite thing about summer?",
    "Do you remember what we did yesterday?",
]


def message(i: int) -> str:
    return MESSAGES[i % len(MESSAGES)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def worker_run(
    service: ChatService, users: int, rounds: int
) -> tuple[float, list[float], int]:
    """Returns (wall seconds, latencies, new tokens)."""
    latencies: list[float] = []
    tokens_before = service.engine.stats.generated_tokens
    started = time.perf_counter()
    for r in range(rounds):
        replies = await asyncio.gather(
            *(
                service.chat(ChatRequest(platform="bench", user_id=f"r{r}u{i}", text=message(i)))
                for i in range(users)
            )
        )
        bad = [reply.status for reply in replies if reply.status != "ok"]
        if bad:
            raise RuntimeError(f"{len(bad)} replies were not ok: {bad}")
        latencies += [reply.latency_ms / 1000 for reply in replies]
    wall = time.perf_counter() - started
    return wall, latencies, service.engine.stats.generated_tokens - tokens_before


def prompts(service: ChatService, users: int) -> list[ChatMessages]:
    """Exactly what the worker builds for a new user's first message."""
    name = service.settings.persona.user_name
    system = service.persona.system_prompt(name)
    return [build_messages(system, [], message(i), name) for i in range(users)]


async def raw_generate(
    engine: LocalEngine, batch: list[ChatMessages], gen: object
) -> tuple[float, int]:
    started = time.perf_counter()
    results = await engine.run(engine.generate_sync, batch, gen)
    return time.perf_counter() - started, sum(r.new_tokens for r in results)


async def main(rounds: int) -> None:
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(root=Path(tmp))
        settings.memory.path = str(Path(tmp) / "bench.sqlite3")
        settings.generation.max_new_tokens = NEW_TOKENS
        settings.generation.do_sample = False
        settings.generation.repetition_penalty = 1.0
        settings.worker.max_batch = max(USERS)
        settings.worker.rate_limit_per_minute = 0
        settings.worker.request_timeout_seconds = 3600.0  # measure slowness, never refuse
        with console.status("Loading the offline default model…"):
            service = await ChatService.open(settings)
        async with service:
            engine = service.engine
            assert isinstance(engine, LocalEngine)
            gen = settings.generation
            await raw_generate(engine, prompts(service, 2), gen)  # warm-up

            # Sequential: every message alone, once; N users' cost is the sum of N of them.
            alone: list[float] = []
            console.log(f"sequential: {max(USERS)} messages one at a time")
            for batch in prompts(service, max(USERS)):
                seconds, _ = await raw_generate(engine, [batch], gen)
                alone.append(seconds)

            table = Table(
                title=(
                    f"worker throughput: offline default model, {NEW_TOKENS} new tokens, greedy, "
                    f"{rounds} rounds, max_batch {settings.worker.max_batch}, window "
                    f"{settings.worker.batch_window_ms} ms"
                )
            )
            for column in (
                "users",
                "req/s",
                "tokens/s",
                "p50 s",
                "p99 s",
                "seq req/s",
                "× seq",
                "raw batch req/s",
                "× raw",
            ):
                table.add_column(column, justify="right")
            for users in USERS:
                console.log(f"{users} users: one raw generate call, then the worker")
                raw_seconds, _ = await raw_generate(engine, prompts(service, users), gen)
                wall, latencies, tokens = await worker_run(service, users, rounds)
                rate = users * rounds / wall
                seq_rate = users / sum(alone[:users])
                raw_rate = users / raw_seconds
                table.add_row(
                    str(users),
                    f"{rate:.2f}",
                    f"{tokens / wall:.1f}",
                    f"{statistics.median(latencies):.2f}",
                    f"{percentile(latencies, 0.99):.2f}",
                    f"{seq_rate:.2f}",
                    f"{rate / seq_rate:.2f}",
                    f"{raw_rate:.2f}",
                    f"{rate / raw_rate:.2f}",
                )
            console.print(table)
            console.print(
                "Aims: × seq ≥ 3 at 8 users; × raw ≥ 0.9. The machine's 2 cores are shared "
                "with other work, so absolute numbers move from run to run."
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.rounds))
