"""How many users the worker serves on the offline default model, beside bare generation.

One run, greedy decoding, exactly 64 new tokens per reply, the same messages everywhere:
  - worker: N users (1, 4, 8, 16) each send one message at once to ChatService.chat,
    `--rounds` times (fresh users each round, so every prompt is the same length);
  - sequential, raw: the same messages through `model.generate` one at a time — what
    a bot without a worker does;
  - sequential, engine: the same messages through the worker's engine one at a time
    (prefix cache and all), so "× seq engine" is what batching alone adds;
  - raw batch: the same N messages in one `model.generate` call (max_batch = 16, so
    the worker may batch all of them too).
Ratios: worker requests/s over sequential (aim ≥ 3× at 8 users) and over raw batch
(aim ≥ 0.9: the worker adds little). The OOC guard is off (no regenerations) so that
every path does the same work. Then a long reply under way when three short requests
come: when they are answered, joining its batch (the step loop) against after it. Then
a long conversation being read when a short request comes: read beside it against
after it; and given with three short requests: read apart from them against padded
together. Then
users writing out of step (replies of different lengths): the step loop's slots against
its cache laid out afresh at every join and leave.
`--model qwen-0.5b` builds random weights in Qwen2.5-0.5B's shape instead (for a GPU, where
the offline default is too small to show batching; `tiny` is a quick check of the bench).
Run: .venv/bin/python bench/worker_throughput.py [--rounds 1] [--model offline|tiny|qwen-0.5b]
     [--only throughput|late|reading|staggered]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from rich.console import Console
from rich.table import Table

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages, Window, fit_prompt
from model.engines.base import RowLimits
from model.engines.local import LocalEngine
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
    service: ChatService, users: int, rounds: int, tag: str = ""
) -> tuple[float, list[float], int]:
    """Returns (wall seconds, latencies, new tokens). `tag` keeps runs' users apart."""
    latencies: list[float] = []
    tokens_before = service.engine.stats.generated_tokens
    started = time.perf_counter()
    for r in range(rounds):
        replies = await asyncio.gather(
            *(
                service.chat(
                    ChatRequest(platform="bench", user_id=f"{tag}r{r}u{i}", text=message(i))
                )
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
    engine = service.engine
    window = Window(engine.context_window, service.settings.generation.max_new_tokens)
    system = service.system_prompt
    return [
        fit_prompt(system, [], message(i), engine.count_tokens, window).messages
        for i in range(users)
    ]


async def engine_generate(
    engine: LocalEngine, batch: list[ChatMessages], gen: GenerationSettings
) -> float:
    started = time.perf_counter()
    await engine.thread.run(engine.generate_sync, batch, gen)
    return time.perf_counter() - started


def library_generate_sync(engine: LocalEngine, batch: list[ChatMessages]) -> None:
    """The plain library call: chat template, left padding, `model.generate`."""
    tokenizer = engine.tokenizer
    texts = [
        tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in batch
    ]
    inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        engine.model.generate(
            **inputs.to(engine.model.device),
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )


async def library_generate(engine: LocalEngine, batch: list[ChatMessages]) -> float:
    started = time.perf_counter()
    await engine.thread.run(library_generate_sync, engine, batch)
    return time.perf_counter() - started


SHORT_TOKENS = 8
# How long after the long reply the short requests come: it is well under way by then.
LATE_SECONDS = 0.3


async def late_arrivals(service: ChatService, console: Console) -> None:
    """One long reply (NEW_TOKENS) is being decoded when three short requests
    (SHORT_TOKENS) come: how soon they are answered, counted from when they came, with
    rows joining the running batch (the step loop) against a batch at a time (generate(),
    what the engine did before; `engine.steps` off)."""
    engine = service.engine
    assert isinstance(engine, LocalEngine)
    if engine.steps is None:
        console.print("late arrivals: this model's cache takes no part in the step loop")
        return
    batch = prompts(service, 4)
    loop = engine.steps

    async def answered(messages: ChatMessages, limits: RowLimits) -> float:
        started = time.perf_counter()
        await service.batcher.submit(messages, limits)
        return time.perf_counter() - started

    seconds: dict[bool, tuple[list[float], float]] = {}
    for joining in (False, True, False, True):  # interleaved, the second of each kept
        engine.steps = loop if joining else None
        long_one = asyncio.create_task(answered(batch[0], RowLimits()))
        await asyncio.sleep(LATE_SECONDS)
        short = RowLimits(max_new_tokens=SHORT_TOKENS)
        with warnings.catch_warnings():
            # generate() warns that the bench's min_new_tokens exceeds the short cap.
            warnings.simplefilter("ignore", UserWarning)
            shorts = await asyncio.gather(*(answered(m, short) for m in batch[1:]))
            seconds[joining] = (shorts, await long_one)
    engine.steps = loop
    title = (
        f"one {NEW_TOKENS}-token reply under way when three requests of {SHORT_TOKENS}"
        f" tokens come ({LATE_SECONDS} s later; the median of the three)"
    )
    labels = {False: "wait for the batch (generate)", True: "join it (step loop)"}
    results = [(labels[j], statistics.median(seconds[j][0]), seconds[j][1]) for j in labels]
    print_late_table(console, title, "late requests", results)


def print_late_table(
    console: Console, title: str, what: str, results: list[tuple[str, float, float]]
) -> None:
    """How soon a short request that came late was answered, and the long one, by
    (label, short s, long s), the first row being the baseline."""
    table = Table(title=title)
    for column in (what, "short answered after s", "long reply s", "× sooner"):
        table.add_column(column, justify="right")
    waited = results[0][1]
    for label, short_s, long_s in results:
        table.add_row(label, f"{short_s:.2f}", f"{long_s:.2f}", f"{waited / short_s:.2f}")
    console.print(table)


# A whole conversation sent at once (a /v1 client's), about this many tokens.
LONG_PROMPT_TOKENS = 1500
# How long after its prompt began to be read the short request comes.
READING_SECONDS = 0.2


def long_conversation(service: ChatService, first: int) -> ChatMessages:
    """A system prompt and history of about LONG_PROMPT_TOKENS tokens, its first turn
    numbered `first`, so that no two share more than the system prompt (the prefix cache
    would hold an earlier one whole)."""
    engine = service.engine
    assert isinstance(engine, LocalEngine)
    chat = prompts(service, 1)[0]
    messages: ChatMessages = [chat[0]]
    tokens, turn = 0, first
    while tokens < LONG_PROMPT_TOKENS:
        said = f"({turn}) {message(turn)} {message(turn + 1)}"
        answer = f"({turn}) {message(turn + 2)} I think so."
        messages += [{"role": "user", "content": said}, {"role": "assistant", "content": answer}]
        tokens += engine.count_tokens(said) + engine.count_tokens(answer) + 10
        turn += 1
    return [*messages, chat[-1]]


async def reading_beside(service: ChatService, console: Console) -> None:
    """A long conversation is being read, nothing else in flight, when a short request
    comes: how soon that one is answered, counted from when it came, with its prompt read
    beside the long one a piece a step against one prompt at a time, a lone one whole
    (as before: it waited for all of the long prompt)."""
    engine = service.engine
    assert isinstance(engine, LocalEngine)
    if engine.steps is None:
        return
    loop = engine.steps
    short_chat = prompts(service, 2)[1]
    short = RowLimits(max_new_tokens=SHORT_TOKENS)

    async def answered(messages: ChatMessages) -> float:
        started = time.perf_counter()
        await service.batcher.submit(messages, short)
        return time.perf_counter() - started

    await answered(short_chat)  # the system prompt into the prefix cache
    alone = await answered(short_chat)
    seconds: dict[bool, tuple[float, float]] = {}
    for i, together in enumerate((False, True, False, True)):  # interleaved, the second kept
        loop.reads_together = together
        long_one = asyncio.create_task(answered(long_conversation(service, 100 * i)))
        while not loop.readings:
            await asyncio.sleep(0.001)
        await asyncio.sleep(READING_SECONDS)
        seconds[together] = (await answered(short_chat), await long_one)
    loop.reads_together = True
    long_tokens = sum(engine.count_tokens(m["content"]) for m in long_conversation(service, 0))
    title = (
        f"a {long_tokens}-token conversation being read when a request of"
        f" {SHORT_TOKENS} tokens comes ({READING_SECONDS} s into it; alone {alone:.2f} s)"
    )
    labels = {False: "one at a time, a lone one whole", True: "side by side"}
    results = [(labels[t], *seconds[t]) for t in labels]
    print_late_table(console, title, "prompts read", results)

    # The same conversation given with three chat turns (one batch window): read as one
    # padded reading before, the long one read apart now.
    chats = prompts(service, 4)[1:]
    given: dict[bool, tuple[float, float]] = {}
    for i, apart in enumerate((False, True, False, True)):  # interleaved, the second kept
        loop.reads_together = apart
        long_chat = long_conversation(service, 1000 + 100 * i)
        times = await asyncio.gather(answered(long_chat), *(answered(c) for c in chats))
        given[apart] = (statistics.median(times[1:]), times[0])
    loop.reads_together = True
    title = (
        f"the same conversation given with three requests of {SHORT_TOKENS} tokens"
        " (one batch; the median of the three)"
    )
    labels = {False: "one reading, padded to the longest", True: "the long one read apart"}
    print_late_table(console, title, "prompts read", [(labels[a], *given[a]) for a in labels])


STAGGERED_USERS = 8
STAGGERED_SECONDS = 12.0
STAGGERED_CAPS = (8, 48)  # each reply's new tokens, drawn between these


async def staggered_users(service: ChatService, console: Console) -> None:
    """Users who do not write in step (each reply of its own length, each user writing
    again once answered): rows join and leave the running batch at most steps. Slots
    (a joining row written into a free slot, a leaving one's slot taken by the last row)
    against the cache laid out afresh at every join and leave (every row's states
    copied, as before slots); the same seeded workload for both, interleaved."""
    engine = service.engine
    assert isinstance(engine, LocalEngine)
    if engine.steps is None:
        return
    batch = engine.steps.batch
    chats = prompts(service, STAGGERED_USERS)

    async def user(i: int, until: float, done: list[tuple[float, int]]) -> None:
        rng = random.Random(i)
        await asyncio.sleep(rng.random())  # users start apart
        while time.perf_counter() < until:
            cap = rng.randint(*STAGGERED_CAPS)
            started = time.perf_counter()
            await service.batcher.submit(chats[i], RowLimits(max_new_tokens=cap))
            done.append((time.perf_counter() - started, cap))

    results: dict[bool, tuple[list[tuple[float, int]], float, int]] = {}
    for reuse in (False, True, False, True):  # interleaved, the second of each kept
        batch.reuse_slots = reuse
        done: list[tuple[float, int]] = []
        laid_out = batch.laid_out
        started = time.perf_counter()
        until = started + STAGGERED_SECONDS
        await asyncio.gather(*(user(i, until, done) for i in range(STAGGERED_USERS)))
        results[reuse] = (done, time.perf_counter() - started, batch.laid_out - laid_out)
    batch.reuse_slots = True
    table = Table(
        title=(
            f"{STAGGERED_USERS} users writing out of step for {STAGGERED_SECONDS:.0f} s,"
            f" replies of {STAGGERED_CAPS[0]}-{STAGGERED_CAPS[1]} tokens"
        )
    )
    for column in (
        "running cache",
        "replies",
        "tokens/s",
        "p50 s",
        "s per token (median)",
        "laid out afresh",
        "× tokens/s",
    ):
        table.add_column(column, justify="right")
    base_rate = sum(cap for _, cap in results[False][0]) / results[False][1]
    for reuse, label in ((False, "laid out afresh at each join/leave"), (True, "slots")):
        done, wall, laid_out = results[reuse]
        rate = sum(cap for _, cap in done) / wall
        table.add_row(
            label,
            str(len(done)),
            f"{rate:.1f}",
            f"{statistics.median(s for s, _ in done):.2f}",
            f"{statistics.median(s / cap for s, cap in done):.3f}",
            str(laid_out),
            f"{rate / base_rate:.2f}",
        )
    console.print(table)


def build_model(model: str, root: Path) -> Path | None:
    """The model folder for `--model`, or None for the offline default."""
    from tests.tiny_model import QWEN_05B_SHAPE, build_tiny_qwen2

    shapes = {"tiny": {"hidden_size": 256, "intermediate_size": 768}, "qwen-0.5b": QWEN_05B_SHAPE}
    if model not in shapes:
        return None
    return build_tiny_qwen2(root / model, shape=shapes[model], extra_text=MESSAGES, vocab_size=8192)


async def throughput(
    service: ChatService, settings: Settings, rounds: int, model: str, console: Console
) -> None:
    """The first table: N users at once through the worker, against the other paths."""
    engine = service.engine
    assert isinstance(engine, LocalEngine)
    gen = settings.generation
    # Warm-up: on a GPU the first call of each batch size is slower (seen on an
    # H100: 2.6 s where the next took 0.7), so each size is warmed before timing.
    for size in (1, 2):
        await library_generate(engine, prompts(service, size))

    # Sequential: every message alone, once; N users' cost is the sum of N of them.
    console.log(f"sequential: {max(USERS)} messages one at a time, raw and engine")
    alone_raw = [await library_generate(engine, [p]) for p in prompts(service, max(USERS))]
    alone_engine = [await engine_generate(engine, [p], gen) for p in prompts(service, max(USERS))]

    table = Table(
        title=(
            f"worker throughput: {model} model on {engine.model.device}, "
            f"{NEW_TOKENS} new tokens, greedy, "
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
        "seq raw req/s",
        "× seq raw",
        "seq engine req/s",
        "× seq engine",
        "raw batch req/s",
        "× raw batch",
        "generate batches req/s",
        "× generate batches",
    ):
        table.add_column(column, justify="right")
    for users in USERS:
        console.log(f"{users} users: one raw generate call, then the worker")
        await library_generate(engine, prompts(service, users))  # warm-up
        raw_seconds = await library_generate(engine, prompts(service, users))
        # The same worker with generate(), a batch at a time (the step loop off).
        loop, engine.steps = engine.steps, None
        batches_wall, _, _ = await worker_run(service, users, rounds, tag="g")
        engine.steps = loop
        # Its batch's stats are counted once generate() returns, after the replies.
        await engine.thread.run(lambda: None)
        wall, latencies, tokens = await worker_run(service, users, rounds)
        rate = users * rounds / wall
        seq_raw = users / sum(alone_raw[:users])
        seq_engine = users / sum(alone_engine[:users])
        raw_rate = users / raw_seconds
        table.add_row(
            str(users),
            f"{rate:.2f}",
            f"{tokens / wall:.1f}",
            f"{statistics.median(latencies):.2f}",
            f"{percentile(latencies, 0.99):.2f}",
            f"{seq_raw:.2f}",
            f"{rate / seq_raw:.2f}",
            f"{seq_engine:.2f}",
            f"{rate / seq_engine:.2f}",
            f"{raw_rate:.2f}",
            f"{rate / raw_rate:.2f}",
            f"{users * rounds / batches_wall:.2f}",
            f"{rate / (users * rounds / batches_wall):.2f}",
        )
    reused = engine.stats.prefix_reused_tokens / max(1, engine.stats.prompt_tokens)
    console.print(table)
    console.print(
        f"Prompt tokens served from the prefix cache: {reused:.0%}. "
        "Aims: × seq ≥ 3 at 8 users; × raw batch ≥ 0.9. The machine's 2 cores are shared "
        "with other work, so absolute numbers move from run to run."
    )


async def main(rounds: int, model: str, only: str | None) -> None:
    console = Console(width=150)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(root=Path(tmp))
        folder = build_model(model, Path(tmp))
        if folder is not None:
            settings.model.base = str(folder)
        settings.memory.path = str(Path(tmp) / "bench.sqlite3")
        settings.generation.max_new_tokens = NEW_TOKENS
        settings.generation.do_sample = False
        settings.generation.repetition_penalty = 1.0
        settings.worker.ooc_max_retries = 0
        settings.worker.max_batch = max(USERS)
        settings.worker.rate_limit_per_minute = 0
        settings.worker.request_timeout_seconds = 3600.0  # measure slowness, never refuse
        with console.status(f"Loading the {model} model…"):
            service = await ChatService.open(settings)
        async with service:
            engine = service.engine
            assert isinstance(engine, LocalEngine)
            # Every path generates exactly NEW_TOKENS, whatever the model's EOS does.
            engine.model.generation_config.min_new_tokens = NEW_TOKENS
            tables = {
                "throughput": lambda: throughput(service, settings, rounds, model, console),
                "late": lambda: late_arrivals(service, console),
                "reading": lambda: reading_beside(service, console),
                "staggered": lambda: staggered_users(service, console),
            }
            for name, table in tables.items():
                if only in (None, name):
                    await table()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model", choices=["offline", "tiny", "qwen-0.5b"], default="offline")
    parser.add_argument(
        "--only", choices=["throughput", "late", "reading", "staggered"], help="one table only"
    )
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.model, args.only))
