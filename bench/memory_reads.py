"""How long other users' prompt reads wait while a big memory write runs in the worker.

A real SQLite memory file (`--users` users with `--per-user` messages and a summary each,
room lines in `--groups` groups, and one heavy user with `--heavy` messages spread over
their own conversation in each of those groups, `[memory] scope = "user_in_channel"`).
`--clients` clients then read prompts of the other users without a break (each read is
what a prompt reads: `Memory.conversation` with its summary, then the room's
`RoomLog.recent`, a few milliseconds apart), through the worker's own `Memory` and
connections (a read waits only for the writes touching what it reads), while, in turn:
  - nothing else runs (the baseline);
  - the heavy user's reset runs (`reset_with_room` of their key, as their DM reset);
  - their purge runs (`purge` of their key, as `/atri purge` of them);
  - ordinary exchanges of other users are stored (`append_many`, `--writers` at once).
Reads count in the phase they started in; a one-off write's phase lasts as long as it
does. "× idle" is a phase's figure over the baseline's in the same run; "max / write" is
the longest read over the write's own duration (1.0: a read waited for all of it).
Each phase runs on a fresh copy of the same file; "alone s" is the reset or purge timed
with no reads beside it, on another copy.
Run: .venv/bin/python bench/memory_reads.py [--heavy 50000] [--users 200] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from model.memory import Memory

HEAVY = "heavy"
HISTORY = 40  # `[memory] max_history_messages`' default
ROOM_LINES = 30  # `[room] max_prompt_lines`' default
DAY = 24 * 3600.0
# Seconds a client waits between two prompt reads, at most (uniformly drawn).
THINK_SECONDS = 0.01
EXCHANGE = "今天的海很安静，我们去码头看看吧。" * 3


@dataclass
class Phase:
    name: str
    reads: list[float]  # seconds each read took
    write_seconds: float  # the write's duration
    alone_seconds: float  # the one-off write's duration with no reads beside it; 0: none
    writes: int = 0  # exchanges stored meanwhile (the ordinary-writes phase)


def user_scope(user: int) -> str:
    return f"qq:user:u{user}"


def room_of(user: int, groups: int) -> str:
    return f"qq:chan:g{user % groups}"


async def create(path: Path) -> None:
    """An empty file at the store's current schema."""
    async with await Memory.open(path):
        pass


def build(path: Path, users: int, per_user: int, heavy: int, groups: int) -> None:
    """The file, written in one transaction with the stdlib driver (the store's schema)."""
    asyncio.run(create(path))
    now = time.time() - DAY / 2
    rows: list[tuple[Any, ...]] = []

    def exchanges(scope: str, user_id: str, count: int) -> None:
        for i in range(0, count, 2):
            rid = f"{scope}#{i}"
            at = now + len(rows) * 1e-3
            rows.append((scope, "user", user_id, "小红", EXCHANGE, at, rid))
            rows.append((scope, "assistant", "", "ATRI", EXCHANGE, at, rid))

    for user in range(users):
        exchanges(user_scope(user), f"u{user}", per_user)
    per_group = heavy // (groups + 1)
    exchanges(f"qq:user:{HEAVY}", HEAVY, heavy - per_group * groups)
    for group in range(groups):
        exchanges(f"qq:chan:g{group}:user:{HEAVY}", HEAVY, per_group)
    lines = [
        (f"qq:chan:g{group}", "qq", who, who, EXCHANGE, now + i, now + i)
        for group in range(groups)
        for i, who in enumerate([HEAVY, *(f"u{u}" for u in range(users) if u % groups == group)])
        for _ in range(5)
    ]
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO messages (scope, role, user_id, display_name, content, created_at,"
            " request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute(
            "INSERT INTO summaries (scope, text, covers_up_to, created_at) SELECT scope,"
            " 'summary of what was said', MIN(id) + 20, ? FROM messages GROUP BY scope",
            (now,),
        )
        db.executemany(
            "INSERT INTO room_lines (room, platform, user_id, display_name, content,"
            " created_at, said_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            lines,
        )
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def prompt_read(memory: Memory, user: int, groups: int) -> float:
    """What a prompt of `user` in their group reads; seconds it took."""
    started = time.perf_counter()
    await memory.conversation(user_scope(user), HISTORY, with_summary=True)
    await memory.room.recent(room_of(user, groups), ROOM_LINES, DAY)
    return time.perf_counter() - started


async def read_while(
    memory: Memory, args: argparse.Namespace, running: Callable[[], bool]
) -> list[float]:
    """Reads of the clients, started while `running()` says so."""
    taken: list[float] = []

    async def client(seed: int) -> None:
        chance = random.Random(seed)
        while running():
            taken.append(await prompt_read(memory, chance.randrange(args.users), args.groups))
            await asyncio.sleep(chance.uniform(0, THINK_SECONDS))

    await asyncio.gather(*(client(seed) for seed in range(args.clients)))
    return taken


async def timed(
    write: Callable[[Memory], Coroutine[Any, Any, Any]], memory: Memory
) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await write(memory)
    return result, time.perf_counter() - started


async def fresh_copy(source: Path, name: str, args: argparse.Namespace) -> Memory:
    """The worker's memory on a copy of `source`, its pages read once, as a running
    worker has them cached."""
    copy = source.with_name(f"{name}.sqlite3")
    shutil.copy(source, copy)
    memory = await Memory.open(copy)
    for user in range(args.users):
        await prompt_read(memory, user, args.groups)
    return memory


async def phase(
    name: str,
    source: Path,
    args: argparse.Namespace,
    write: Callable[[Memory], Coroutine[Any, Any, Any]],
    one_off: bool,
) -> Phase:
    """Reads on a fresh copy of `source` for as long as `write` runs; a `one_off` write
    is also timed alone, on another copy."""
    alone = 0.0
    if one_off:
        async with await fresh_copy(source, f"{name}-alone", args) as memory:
            alone = (await timed(write, memory))[1]
    async with await fresh_copy(source, name, args) as memory:
        writing = asyncio.create_task(timed(write, memory))
        await asyncio.sleep(0)  # the write's first statement goes first
        reads = await read_while(memory, args, lambda: not writing.done())
        result, seconds = await writing
    return Phase(name, reads, seconds, alone, result if name == "exchanges" else 0)


async def idle(memory: Memory, seconds: float) -> int:
    await asyncio.sleep(seconds)
    return 0


async def exchanges(memory: Memory, args: argparse.Namespace) -> int:
    """Ordinary exchanges of other users, `--writers` at once, for `--seconds`."""
    until = time.perf_counter() + args.seconds
    stored = 0

    async def writer(seed: int) -> None:
        nonlocal stored
        chance = random.Random(1000 + seed)
        while time.perf_counter() < until:
            user = chance.randrange(args.users)
            rows = [("user", f"u{user}", "小红", EXCHANGE, ""), ("assistant", "", "ATRI", "好", "")]
            await memory.append_many(user_scope(user), rows, f"w{seed}-{stored}")
            stored += 1

    await asyncio.gather(*(writer(seed) for seed in range(args.writers)))
    return stored


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(phases: list[Phase], args: argparse.Namespace, console: Console) -> None:
    table = Table(
        title=(
            f"Prompt reads of other users during memory writes: {args.users} users x "
            f"{args.per_user} messages, heavy user {args.heavy} messages in {args.groups} "
            f"groups, {args.clients} clients"
        )
    )
    for col in (
        "phase",
        "write s",
        "alone s",
        "reads",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p50 × idle",
        "p99 × idle",
        "max / write",
    ):
        table.add_column(col, justify="left" if col == "phase" else "right")
    base = phases[0]
    base_p50, base_p99 = statistics.median(base.reads), percentile(base.reads, 0.99)
    for p in phases:
        p50, p99, most = statistics.median(p.reads), percentile(p.reads, 0.99), max(p.reads)
        label = p.name + (f" ({p.writes} stored)" if p.writes else "")
        table.add_row(
            label,
            f"{p.write_seconds:.2f}",
            f"{p.alone_seconds:.2f}" if p.alone_seconds else "",
            str(len(p.reads)),
            f"{p50 * 1000:.1f}",
            f"{p99 * 1000:.1f}",
            f"{most * 1000:.1f}",
            f"{p50 / base_p50:.1f}",
            f"{p99 / base_p99:.1f}",
            f"{most / p.write_seconds:.2f}" if p.name in ("reset", "purge") else "",
        )
    console.print(table)
    console.print(
        'A read that waits for a whole write shows max / write near 1.0; "alone s": the same '
        "write on another copy with no reads beside it. The machine's cores are shared with "
        "other work, so absolute numbers move from run to run."
    )


async def run(args: argparse.Namespace, source: Path, console: Console) -> None:
    heavy_key = f"qq:user:{HEAVY}"
    steps: list[tuple[str, Callable[[Memory], Coroutine[Any, Any, Any]]]] = [
        ("idle", lambda memory: idle(memory, args.seconds)),
        ("reset", lambda memory: memory.reset_with_room(heavy_key)),
        ("purge", lambda memory: memory.purge(heavy_key)),
        ("exchanges", lambda memory: exchanges(memory, args)),
    ]
    phases = []
    for name, write in steps:
        console.log(f"phase: {name}")
        phases.append(await phase(name, source, args, write, name in ("reset", "purge")))
    report(phases, args, console)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--per-user", type=int, default=100, help="messages of each user")
    parser.add_argument("--heavy", type=int, default=50_000, help="messages of the heavy user")
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0, help="idle and exchanges phases")
    args = parser.parse_args()
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="atri-memory-bench-") as tmp:
        source = Path(tmp) / "memory.sqlite3"
        with console.status("Building the memory file…"):
            started = time.perf_counter()
            build(source, args.users, args.per_user, args.heavy, args.groups)
        size = source.stat().st_size / 2**20
        console.log(f"built {size:.0f} MiB in {time.perf_counter() - started:.1f} s")
        asyncio.run(run(args, source, console))


if __name__ == "__main__":
    main()
