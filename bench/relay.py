"""How fast messages relay through the worker into memory and back, beside raw aiosqlite.

The echo engine answers instantly, so this measures everything around the model: the
rate limiter, scope locks, the batcher, prompt building and the SQLite memory. In one
run, on fresh SQLite files:
  - raw: the memory work of one message done directly with aiosqlite, one message
    after another (read the live history, insert the user and assistant rows, commit);
  - worker, fixed rate: 200 users, messages due on a fixed schedule that offers --rate
    messages/s in all (user i sends every users/rate seconds). Latency counts from the
    moment a message was due, so a late send shows up as latency too (no coordinated
    omission): this is the row for the p99 aim;
  - worker, flat out: the same users, each sending again as soon as its reply is back
    (the most it can take; its latency is mostly waiting in the queue);
  - HTTP, fixed rate: HttpWorker → `atri worker`'s routes at --http-rate (client and
    server share this process and its event loop).
  - with --room SHARE, the fixed-rate row again as group chat in 10 channels, SHARE of
    the messages not addressed to her (kept as room lines, answered "heard") and the
    rest reading the room into their prompts.
Run: .venv/bin/python bench/relay.py [--users 200] [--messages 10] [--rate 1000] [--room 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosqlite
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from atri.config import Secrets, Settings
from bot.relay import HttpWorker
from model.memory import Memory
from model.protocol import ChatRequest, Reply
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService

TOKEN = "bench-token"


def settings_in(folder: Path, name: str) -> Settings:
    s = Settings(root=folder)
    s.model.engine = "echo"
    s.memory.path = str(folder / f"{name}.sqlite3")
    s.worker.rate_limit_per_minute = 0
    s.worker.queue_size = 1024  # one in flight per user: the bench measures, not refuses
    # The echo engine gains nothing from waiting for company; a model does (see
    # bench/worker_throughput.py), so this is the relay path alone.
    s.worker.batch_window_ms = 0
    # Her echo of an English message is flagged as drifting from the card's Chinese
    # ([ooc]) and made again twice: three generations a message, which no model in
    # character asks for.
    s.worker.ooc_max_retries = 0
    return s


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def times_raw(rate: float, raw_rate: float, offered: float) -> str:
    """The "× raw msg/s" cell: blank for a fixed-rate row, which reaches only the rate it
    was offered, so its ratio would be that rate over raw, not what the path can take."""
    return "" if offered else f"{rate / raw_rate:.2f}"


# With --room, users are spread over this many group channels.
ROOM_CHANNELS = 10
# A fixed-rate run's first message is due this long after the users start, so that every
# user is waiting for it; a flat-out run starts at once (its users send on starting).
FIXED_RATE_LEAD_S = 0.05


def direct_message(i: int, m: int, users: int) -> ChatRequest:
    text = f"message {m} from user {i}: the sea is calm today"
    return ChatRequest(platform="bench", user_id=f"u{i}", text=text)


def room_message(share: float) -> Callable[[int, int, int], ChatRequest]:
    """Group messages; `share` of them not addressed to her (kept as room lines), so
    every addressed one reads the room into its prompt."""

    def request(i: int, m: int, users: int) -> ChatRequest:
        overheard = (m * users + i) % 100 < share * 100
        return direct_message(i, m, users).model_copy(
            update={"channel_id": f"c{i % ROOM_CHANNELS}", "addressed": not overheard}
        )

    return request


async def drive(
    chat: Callable[[ChatRequest], Awaitable[Reply]],
    users: int,
    messages: int,
    rate: float,
    request_for: Callable[[int, int, int], ChatRequest] = direct_message,
) -> tuple[float, list[float]]:
    """Every user sends `messages` messages; returns (wall, latencies). With `rate` > 0
    message j of the run (user j % users) is due at j / rate seconds; with 0 each user
    sends again as soon as its reply is back."""
    latencies: list[float] = []
    failures: list[str] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + (FIXED_RATE_LEAD_S if rate else 0.0)

    async def user(i: int) -> None:
        for m in range(messages):
            due = start + (m * users + i) / rate if rate else loop.time()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            reply = await chat(request_for(i, m, users))
            latencies.append(loop.time() - due)
            if reply.status not in {"ok", "heard"}:
                failures.append(reply.status)

    await asyncio.gather(*(user(i) for i in range(users)))
    if failures:
        raise RuntimeError(f"{len(failures)} replies were not ok: {sorted(set(failures))}")
    return loop.time() - start, latencies


async def raw_sqlite(folder: Path, users: int, messages: int) -> tuple[float, list[float]]:
    """The same memory work with aiosqlite directly: the floor under the worker."""
    async with await Memory.open(folder / "raw.sqlite3"):
        pass  # create the same schema and pragmas
    latencies: list[float] = []
    async with aiosqlite.connect(folder / "raw.sqlite3") as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        started = time.perf_counter()
        for m in range(messages):
            for i in range(users):
                text = f"message {m} from user {i}: the sea is calm today"
                t0 = time.perf_counter()
                scope = f"bench:user:u{i}"
                async with db.execute(
                    "SELECT * FROM messages WHERE scope = ? AND archived = 0 "
                    "ORDER BY id DESC LIMIT 40",
                    (scope,),
                ) as cur:
                    await cur.fetchall()
                now = time.time()
                for role, content in (("user", text), ("assistant", "亚托莉听到了：" + text)):
                    await db.execute(
                        "INSERT INTO messages (scope, role, user_id, display_name, content,"
                        " created_at, adapter_version) VALUES (?, ?, ?, '', ?, ?, '')",
                        (scope, role, f"u{i}", content, now),
                    )
                await db.commit()
                latencies.append(time.perf_counter() - t0)
        return time.perf_counter() - started, latencies


async def main(users: int, messages: int, rate: float, http_rate: float, room: float) -> None:
    console = Console(width=120)
    # (path, offered msg/s or 0 for one sent as soon as the last is answered, wall, latencies)
    rows: list[tuple[str, float, float, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wall, lat = await raw_sqlite(folder, users, messages)
        rows.append(("raw aiosqlite, one after another", 0.0, wall, lat))

        async with await ChatService.open(settings_in(folder, "paced")) as service:
            wall, lat = await drive(service.chat, users, messages, rate)
        rows.append((f"worker in-process, {rate:,.0f} msg/s offered", rate, wall, lat))

        if room:
            async with await ChatService.open(settings_in(folder, "room")) as service:
                wall, lat = await drive(service.chat, users, messages, rate, room_message(room))
            rows.append(
                (
                    f"  same, room context on ({room:.0%} overheard, {ROOM_CHANNELS} groups)",
                    rate,
                    wall,
                    lat,
                )
            )

        async with await ChatService.open(settings_in(folder, "flat")) as service:
            wall, lat = await drive(service.chat, users, messages, 0.0)
        rows.append(("worker in-process, flat out", 0.0, wall, lat))

        http = settings_in(folder, "http")
        secrets = Secrets(admin_token=SecretStr(TOKEN))
        async with await ChatService.open(http) as service:
            app = create_app(service, secrets)
            async with serving(app, bind_socket("127.0.0.1", 0)) as url:
                http.worker.url = url
                async with HttpWorker(http.worker, secrets) as remote:
                    wall, lat = await drive(remote.chat, users, messages, http_rate)
        rows.append((f"worker over HTTP, {http_rate:,.0f} msg/s offered", http_rate, wall, lat))

    raw_rate = len(rows[0][3]) / rows[0][2]
    table = Table(
        title=f"relay: echo engine, {users} users × {messages} messages, batch window 0 ms",
    )
    for column in ("path", "messages/s", "p50 ms", "p99 ms", "× raw msg/s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, offered, wall, lat in rows:
        rate = len(lat) / wall
        table.add_row(
            name,
            f"{rate:,.0f}",
            f"{statistics.median(lat) * 1000:.1f}",
            f"{percentile(lat, 0.99) * 1000:.1f}",
            times_raw(rate, raw_rate, offered),
        )
    console.print(table)
    console.print(
        "Aim: ≥ 1000 messages/s and p99 < 20 ms for the in-process worker. Fixed-rate rows "
        "can reach only the offered rate (so they have no × raw), and their latency counts "
        "from when each message was due; the flat-out row's latency is mostly queueing. The HTTP row's client "
        "(aiohttp) shares this process and its event loop with the server."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1000.0, help="offered msg/s in-process")
    parser.add_argument("--http-rate", type=float, default=200.0, help="offered msg/s over HTTP")
    parser.add_argument(
        "--room",
        type=float,
        default=0.0,
        help="also run the fixed-rate row as group chat with room context, this share "
        "of messages unaddressed (e.g. 0.5); 0: skip",
    )
    args = parser.parse_args()
    asyncio.run(main(args.users, args.messages, args.rate, args.http_rate, args.room))
