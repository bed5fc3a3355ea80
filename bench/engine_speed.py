"""The llama.cpp engine against the binding's bare call and the local transformers engine.

One run, the offline default (SmolLM2-135M-Instruct Q4_1 GGUF; transformers runs its
fp32 copy), ATRI's own system prompt, greedy decoding unless said:
  - batch-1 decode tokens/s: this engine, llama-cpp-python's bare `Llama` completion
    on the same prompt tokens, and the `local` engine. The bare `Llama` places the
    weights as the engine does (on a CPU with AMX without llama.cpp's AMX kernels, whose
    4-bit results are wrong in this build, but for a Q8_0 file) and opens its context
    with the engine's settings (`llamacpp.context_settings`: flash attention, one KV
    buffer for every sequence, twice the window in cells); a second bare row keeps the
    binding's context defaults (no flash attention, one sequence, 4,096 cells);
  - seconds to read one history of about --history-tokens tokens (default 1,500) and
    answer its first token: this engine (without its prefix slot) against the bare
    `Llama.eval` of the same tokens, the context opened with the engine's settings;
  - aggregate tokens/s with 8 conversations in one batch, against batch 1; and the same
    sampled as shipped ([generation]: top-k, top-p, repetition penalty);
  - time to first token with the system prompt's KV states cached and without;
  - a short reply that arrives while 4 long ones decode: joining their pass at its next
    step against waiting for them to end (how a batch-at-a-time engine serves it);
  - a short reply that arrives while a 4,000-token history is read, against alone;
  - the longest reply while an adapter version is loaded and switched under load
    (8 clients), against the longest in a steady phase of the same length.

The offline GGUF's weights are Q4_1, a type llama.cpp's CPU backend has no batched kernel
for (no repacking, no llamafile sgemm): a step of 8 sequences costs about 8 steps of one,
so 8 users gain less in aggregate than on a type it batches (1.1-1.2x in bare steps on a
2-core VM without AMX; in this engine on a Sapphire Rapids one, 1.89x, while a Q4_0 copy
decodes faster alone and together). `--quant q4_0` (or iq4_nl, q8_0)
requantises that file once into the run's temporary folder and benches the copy, to see
what a GGUF of a type llama.cpp batches gives (Q4_0 and IQ4_NL are repacked to 8x8 blocks
at load on AVX2; Q4_K does not fit this model's 576-wide rows and falls back per tensor). The tied output /
token-embedding tensor stays Q8_0 unless `--output-type` names another type (`q4_0`:
repacked like the other weights, so the output layer batches too).
The title names the CPU features llama.cpp was built with (AVX2, AVX512, REPACK, ...).

`--synthetic 0.5b|1.5b` benches a random-weight model of Qwen2.5-0.5B's or -1.5B's shape
instead (`bench/synthetic_gguf.py`: written as F16 into the run's temporary folder with
the offline GGUF's tokenizer and chat template, about 2.6 GB and 20-35 s for 1.5b, then
requantised to `--quant`, default q4_0, and the F16 file deleted), to see what batching
gives at the sizes users serve. Random weights end a reply at any step, so there every
reply runs its full `--tokens` (end-of-turn masked, as the engine's smoke test does) and
the table prints the tokens decoded; only the engine's rows run (transformers cannot
load the synthetic GGUF, and the bare call and the reload phase would stop at random).
`--threads N` overrides the engine's thread count.
Run: .venv/bin/python bench/engine_speed.py [--tokens 64] [--phase 8] [--quant q4_0]
     [--output-type q4_0] [--synthetic 1.5b] [--threads N] [--history-tokens 1500]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from atri.config import GenerationSettings, Settings
from bench.synthetic_gguf import SHAPES, parameter_count, write_synthetic_gguf
from model.character.persona import configured_persona
from model.engines.base import RowLimits
from model.engines.cpu_repack import weight_placement
from model.engines.gguf_files import gguf_config_hash, gguf_path
from model.engines.llamacpp import LlamaCppEngine
from model.protocol import ChatRequest

QUESTIONS = [
    "Hello ATRI, how are you today?",
    "What shall we do at the sea?",
    "Tell me a story about crabs.",
    "Do robots dream?",
    "What is your favourite food?",
    "Can you help me fix the boat?",
    "Why are you so proud?",
    "Good night, ATRI.",
]
VERSION = "20250101-000001"
# The bare `Llama` with the binding's context defaults: the context size this bench gave
# it before it took the engine's settings.
BARE_DEFAULT_N_CTX = 4096
# The `llama_context_params` fields `Llama` sets from its own arguments, over the defaults
# it starts from: given as arguments too, so that they stay the engine's.
LLAMA_CONTEXT_ARGS = ("n_ctx", "n_batch", "n_ubatch", "n_threads", "n_threads_batch", "flash_attn")
NO_STEADY_REPLY = "no reply finished inside the steady phase; raise --phase"
T = TypeVar("T")


def chats(system: str, n: int) -> list[list[dict[str, str]]]:
    return [
        [{"role": "system", "content": system}, {"role": "user", "content": QUESTIONS[i % 8]}]
        for i in range(n)
    ]


def timed(fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def bench_engine(
    engine: LlamaCppEngine, system: str, tokens: int, full: bool = False
) -> dict[str, float]:
    """`full`: every reply runs its `tokens` (end-of-turn masked, as the engine's smoke
    test does), for random weights that may end a reply at any step."""
    greedy = GenerationSettings(max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)
    min_new = tokens if full else 0
    one = chats(system, 1)
    engine.generate_sync(one, greedy, None, min_new)  # warm: the system prompt's slot
    out, took = timed(engine.generate_sync, one, greedy, None, min_new)
    figures = {"b1_tokens": out[0].new_tokens, "b1_tps": out[0].new_tokens / took}
    eight, took8 = timed(engine.generate_sync, chats(system, 8), greedy, None, min_new)
    figures["b8_tokens"] = sum(g.new_tokens for g in eight)
    figures["b8_tps"] = figures["b8_tokens"] / took8
    # The shipped [generation] (top-k 50, top-p 0.9, repetition penalty): what users
    # get; every reply its full length, so both sides decode as many tokens.
    sampled = GenerationSettings(max_new_tokens=tokens)
    out, took = timed(engine.generate_sync, one, sampled, None, tokens)
    figures["s1_tps"] = out[0].new_tokens / took
    eight, took8 = timed(engine.generate_sync, chats(system, 8), sampled, None, tokens)
    figures["s8_tps"] = sum(g.new_tokens for g in eight) / took8
    first = GenerationSettings(max_new_tokens=1, do_sample=False, repetition_penalty=1.0)
    another = chats(system, 2)[1:]  # same system prompt, a question not seen before
    _, figures["ttft_cached"] = timed(engine.generate_sync, another, first)
    engine.prefix_cache = False
    _, figures["ttft_cold"] = timed(engine.generate_sync, one, first)
    engine.prefix_cache = True
    return figures


async def bench_joining(engine: LlamaCppEngine, system: str, tokens: int) -> dict[str, float]:
    """Seconds to answer a short request (8 tokens) that arrives while 4 long replies
    decode: joining the running pass at its next step, and (`join_running` off) waiting
    for that pass to end, as a batch engine does. Same replies both times (greedy)."""
    greedy = GenerationSettings(max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)
    short = [RowLimits(max_new_tokens=8)]
    figures: dict[str, float] = {}
    for join in (True, False):
        engine.join_running = join
        longs = [asyncio.create_task(engine.generate([c], greedy)) for c in chats(system, 4)]
        await asyncio.sleep(0.5)  # past their prompts: decoding
        started = time.perf_counter()
        await engine.generate(chats(system, 5)[4:], greedy, short)
        figures["join_s" if join else "wait_s"] = time.perf_counter() - started
        replies = await asyncio.gather(*longs)
        figures["long_tokens"] = sum(r[0].new_tokens for r in replies)
    engine.join_running = True
    return figures


def history_of(engine: LlamaCppEngine, system: str, tokens: int) -> list[dict[str, str]]:
    """A conversation of at least `tokens` prompt tokens (an OpenAI client's history)."""
    history: list[dict[str, str]] = [{"role": "system", "content": system}]
    while len(engine.text.encode(history)) < tokens:
        history += [
            {"role": "user", "content": QUESTIONS[len(history) % 8]},
            {"role": "assistant", "content": "The sea was calm today, and the gulls were loud."},
        ]
    history.append({"role": "user", "content": "And what now?"})
    return history


async def bench_history_read(
    engine: LlamaCppEngine, system: str, tokens: int
) -> tuple[dict[str, float], list[int]]:
    """Seconds to read one history of about `tokens` tokens alone and answer its first
    token, without the prefix slot (the bare call has none), and the history's tokens."""
    history = history_of(engine, system, tokens)
    prompt = engine.text.encode(history)
    first = GenerationSettings(max_new_tokens=1, do_sample=False, repetition_penalty=1.0)
    engine.prefix_cache = False
    try:
        started = time.perf_counter()
        await engine.generate([history], first)
        took = time.perf_counter() - started
    finally:
        engine.prefix_cache = True
    return {"read_tokens": float(len(prompt)), "read_s": took}, prompt


async def bench_long_prompt(engine: LlamaCppEngine, system: str) -> dict[str, float]:
    """Seconds to answer a short request (8 tokens) alone, and arriving while a whole
    conversation of about 4,000 tokens (an OpenAI client's history) is read: that prompt
    is read a piece a step, so the short one joins between two pieces."""
    greedy = GenerationSettings(max_new_tokens=8, do_sample=False, repetition_penalty=1.0)
    history = history_of(engine, system, 4000)
    figures = {"history_tokens": float(len(engine.text.encode(history)))}
    short = chats(system, 1)
    await engine.generate(short, greedy)  # warm: the system prompt's slot
    started = time.perf_counter()
    await engine.generate(short, greedy)
    figures["alone_s"] = time.perf_counter() - started
    started = time.perf_counter()
    long = asyncio.create_task(engine.generate([history], greedy))
    await asyncio.sleep(0.3)  # its reading has begun
    asked = time.perf_counter()
    await engine.generate(short, greedy)
    figures["beside_s"] = time.perf_counter() - asked
    await long
    figures["history_s"] = time.perf_counter() - started
    return figures


def load_bare(path: Path, context: dict[str, Any], threads: int = 0) -> Any:
    """llama-cpp-python's `Llama` on `path`, its weights placed as the engine places them;
    its context opened with `context` (the engine's `context_settings`), or with the
    binding's defaults, BARE_DEFAULT_N_CTX cells and `threads` when `context` is empty."""
    import llama_cpp.llama_cpp as binding
    from llama_cpp import Llama

    model_defaults = binding.llama_model_default_params
    context_defaults = binding.llama_context_default_params
    # `Llama` loads with the AMX buffer type on an AMX build, whose 4-bit kernels
    # compute wrong numbers (and fast) in this llama.cpp: the bare call places the
    # weights as the engine does (`cpu_repack.weight_placement`), like for like.
    placement = weight_placement(binding, path)

    def model_like_the_engine() -> Any:
        params = model_defaults()
        placement.apply(params)
        return params

    def context_like_the_engine() -> Any:
        params = context_defaults()
        for name, value in context.items():
            setattr(params, name, value)
        return params

    if context:
        arguments = {name: context[name] for name in LLAMA_CONTEXT_ARGS}
    else:
        arguments = {"n_ctx": BARE_DEFAULT_N_CTX, "n_threads": threads, "n_threads_batch": threads}
    binding.llama_model_default_params = model_like_the_engine
    binding.llama_context_default_params = context_like_the_engine
    # `Llama(verbose=False)` sets the binding's logger to ERROR for the whole process,
    # where the engine keeps it silent: the engine loaded after it printed its log.
    binding_log = logging.getLogger("llama-cpp-python")
    level = binding_log.level
    try:
        llm = Llama(model_path=str(path), verbose=False, **arguments)
    finally:
        binding.llama_model_default_params = model_defaults
        binding.llama_context_default_params = context_defaults
        binding_log.setLevel(level)
    differ = [name for name, value in context.items() if getattr(llm.context_params, name) != value]
    if differ:
        raise SystemExit(f"the bare Llama's context differs from the engine's in {differ}")
    return llm


def bare_decode_tps(llm: Any, prompt: list[int], tokens: int) -> float:
    # Warm: like the engine's prefix slot, the binding keeps the prompt's states.
    llm.create_completion(prompt, max_tokens=tokens, temperature=0.0)
    out, took = timed(lambda: llm.create_completion(prompt, max_tokens=tokens, temperature=0.0))
    return float(out["usage"]["completion_tokens"] / took)


def bare_read_s(llm: Any, tokens: list[int]) -> float:
    """Seconds `Llama.eval` takes to read `tokens` into an emptied context."""
    llm.reset()
    _, took = timed(llm.eval, tokens)
    return took


def bench_bare(
    path: Path, context: dict[str, Any], prompt: list[int], tokens: int, history: list[int]
) -> dict[str, float]:
    """The bare `Llama`'s decode tokens/s and history read with the engine's context
    settings, and its decode tokens/s with the binding's defaults."""
    llm = load_bare(path, context)
    figures = {"bare_tps": bare_decode_tps(llm, prompt, tokens)}
    figures["bare_read_s"] = bare_read_s(llm, history)
    llm.close()
    defaults = load_bare(path, {}, context["n_threads"])
    figures["bare_defaults_tps"] = bare_decode_tps(defaults, prompt, tokens)
    defaults.close()
    return figures


def in_own_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on a thread that ends with it: OpenMP keeps a team of threads for each
    thread that decoded, and a second team in the process halved the engine's speed."""
    out: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn(*args))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


async def bench_local(settings: Settings, system: str, tokens: int) -> float:
    from model.engines.local import LocalEngine

    engine = await LocalEngine.load(settings)
    greedy = GenerationSettings(max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)
    await engine.generate(chats(system, 1), greedy)  # warm: its prefix cache
    started = time.perf_counter()
    (out,) = await engine.generate(chats(system, 1), greedy)
    took = time.perf_counter() - started
    await engine.close()
    return out.new_tokens / took


async def bench_reload(settings: Settings, phase_s: float) -> tuple[float, float, int]:
    """(longest reply steady, longest reply in the reload phase, failed requests)."""
    from model.engines.loading import resolve_base
    from model.service import ChatService
    from tests.model.adapters.make_versions import write_version

    settings.model.engine = "llamacpp"
    write_version(
        settings.path(settings.model.adapters_dir),
        VERSION,
        Path(resolve_base(settings)),
        base_model=settings.model.base,
        config_hash=gguf_config_hash(gguf_path(settings)),
        scale=0.01,
        targets=["q_proj", "k_proj", "v_proj", "o_proj"],
    )
    latencies: list[tuple[float, float, str]] = []
    stop = asyncio.Event()
    async with await ChatService.open(settings) as service:

        async def client(idx: int) -> None:
            n = 0
            while not stop.is_set():
                started = time.perf_counter()
                text = QUESTIONS[(idx + n) % 8]
                reply = await service.chat(
                    ChatRequest(platform="bench", user_id=f"c{idx}-{n}", text=text)
                )
                latencies.append((started, time.perf_counter(), reply.status))
                n += 1

        tasks = [asyncio.create_task(client(i)) for i in range(8)]
        await asyncio.sleep(phase_s / 2)  # warm-up
        steady_start = time.perf_counter()
        await asyncio.sleep(phase_s)
        reload_start = time.perf_counter()
        result = await service.reload(VERSION)
        await asyncio.sleep(max(0.0, phase_s - (time.perf_counter() - reload_start)))
        reload_end = time.perf_counter()
        stop.set()
        await asyncio.gather(*tasks)
    if not result.ok:
        raise SystemExit(f"reload failed: {result.message}")

    # Steady: the replies asked for and answered within the steady phase; in the reload:
    # every reply in flight at some time during it. A reply spanning the two counts only
    # in the reload's (it was counted in both, and the ratio read 1.00x whenever the
    # longest reply was one of those).
    steady, reloading = longest_replies(latencies, steady_start, reload_start, reload_end)
    failed = sum(status != "ok" for _, _, status in latencies)
    return steady, reloading, failed


def longest_replies(
    latencies: list[tuple[float, float, str]],
    steady_start: float,
    reload_start: float,
    reload_end: float,
) -> tuple[float, float]:
    """(longest reply steady, longest in the reload), 0.0 where none was: a short --phase
    can end before any reply both starts and ends inside the steady phase."""
    steady = max(
        (b - a for a, b, _ in latencies if a >= steady_start and b <= reload_start), default=0.0
    )
    reloading = max(
        (b - a for a, b, _ in latencies if a < reload_end and b > reload_start), default=0.0
    )
    return steady, reloading


def reload_row(steady: float, reloading: float, failed: int, synthetic: bool) -> list[str]:
    """The table's reload row: the longest replies, or why they were not compared."""
    measure = f"longest reply in a reload vs steady (ms, {failed} failed)"
    if synthetic:
        cells = ["skipped: synthetic", "", ""]
    elif not steady:
        cells = [NO_STEADY_REPLY, "", ""]
    else:
        ratio = f"{reloading / steady:.2f}x"
        cells = [f"{reloading * 1000:.0f}", f"{steady * 1000:.0f}", ratio]
    return [measure, *cells, "<= 1.5x"]


def requantize(source: Path, quant: str, folder: Path, output_type: str = "") -> Path:
    """`source` requantised to `quant` (a llama.cpp file type, e.g. q4_0) in `folder`;
    `output_type` (a ggml type, e.g. q4_0) for the output and token-embedding tensors
    (one tensor in a model with tied embeddings), else llama.cpp's choice (Q8_0 here)."""
    import llama_cpp

    target = folder / f"base.{quant}.{output_type or 'auto'}.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant.upper()}")
    params.allow_requantize = True
    if output_type:
        import gguf

        # gguf's enum: llama_cpp's module constants lack newer types such as BF16.
        kind = gguf.GGMLQuantizationType[output_type.upper()].value
        params.output_tensor_type = params.token_embedding_type = kind
    if llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params):
        raise SystemExit(f"llama.cpp could not requantise {source} to {quant}")
    return target


def weight_type(path: Path) -> str:
    """The type most of the file's tensors are stored in, and the output tensor's."""
    from collections import Counter

    import gguf

    reader = gguf.GGUFReader(str(path))
    kinds = {t.name: t.tensor_type.name for t in reader.tensors}
    main = Counter(kinds.values()).most_common(1)[0][0]
    output = kinds.get("output.weight", kinds.get("token_embd.weight", main))
    return main if output == main else f"{main}, output {output}"


def cpu_features() -> str:
    """The CPU features this llama.cpp build uses (those set to 1 in its system info)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()  # "CPU : SSE3 = 1 | AVX = 1 | ..."
    parts = info.split(":", 1)[-1].split("|")
    return " ".join(part.split("=")[0].strip() for part in parts if part.strip().endswith("= 1"))


async def main(
    tokens: int,
    phase_s: float,
    quant: str,
    output_type: str,
    synthetic: str,
    threads: int,
    history_tokens: int,
) -> None:
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(root=root)
        settings.memory.path = str(root / "memory.sqlite3")
        settings.model.adapters_dir = str(root / "adapters")
        settings.reload.enabled = False
        settings.worker.rate_limit_per_minute = 0
        settings.worker.ooc_max_retries = 0
        settings.generation.do_sample = False
        settings.generation.max_new_tokens = 32
        system = configured_persona(settings).system_prompt()
        path = gguf_path(settings)
        model = "SmolLM2-135M"
        if synthetic:
            shape = SHAPES[synthetic]
            model = f"synthetic {synthetic} ({parameter_count(shape) / 1e9:.2f}B params, random)"
            started = time.perf_counter()
            f16 = write_synthetic_gguf(shape, path, root / "synthetic.f16.gguf")
            wrote = time.perf_counter() - started
            path = requantize(f16, quant or "q4_0", root, output_type)
            f16.unlink()
            console.print(
                f"{model}: written in {wrote:.0f} s, quantised in "
                f"{time.perf_counter() - started - wrote:.0f} s"
            )
        elif quant:
            path = requantize(path, quant, root, output_type)
            settings.model.gguf = str(path)
        kind = weight_type(path)
        engine = LlamaCppEngine(path, settings.model.base, "", max_batch=8, threads=threads)
        # Every decode on the engine thread, as in the worker, and the engine closed
        # (its thread ended) before the bare call: OpenMP throttles its threads' waiting
        # while another thread's team of them exists in the process, and each decoded
        # about half as fast then (bare binding at 2 threads: 41 tokens/s against 92).
        ours = await engine.thread.run(bench_engine, engine, system, tokens, bool(synthetic))
        ours.update(await bench_joining(engine, system, tokens))
        ours.update(await bench_long_prompt(engine, system))
        history: list[int] = []
        if not synthetic:
            read, history = await bench_history_read(engine, system, history_tokens)
            ours.update(read)
        console.print(f"llamacpp engine: {ours}")
        prompt = engine.text.encode(chats(system, 1)[0])
        threads_used = f"{engine.threads} thread(s)" + ("" if threads else " (auto)")
        context = engine.context_settings
        await engine.close()
        bare: dict[str, float] = {}
        local = 0.0
        steady = reloading = 0.0
        failed = 0
        if not synthetic:
            bare = in_own_thread(bench_bare, path, context, prompt, tokens, history)
            # Before the local engine: transformers' model and torch's threads stay in
            # the process after it, which a worker serving llama.cpp never has.
            steady, reloading, failed = await bench_reload(settings, phase_s)
            local = await bench_local(settings, system, tokens)
            console.print(f"bare binding {bare}, local engine {local:.1f} tok/s")

    table = Table(
        title=f"llamacpp engine, {model} {kind}, {len(prompt)}-token prompt, "
        f"{threads_used}, CPU: {cpu_features()}"
    )
    for col in ("measure", "value", "against", "ratio", "aim"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    # Random weights: transformers cannot load the synthetic GGUF (no local row), and
    # the bare call and the reload phase would stop at whatever end-of-turn the noise
    # picks; only the engine's own rows, every reply its full length, are measured.
    skipped = ("skipped: synthetic", "", "", "")
    b1 = f"{ours['b1_tps']:.1f}"
    for key, context_kind in (
        ("bare_tps", "the engine's context settings"),
        ("bare_defaults_tps", f"the binding's defaults, n_ctx {BARE_DEFAULT_N_CTX}"),
    ):
        figure = bare.get(key, 0.0)
        table.add_row(
            f"batch-1 decode tok/s vs bare binding ({context_kind})",
            *(
                (b1, f"{figure:.1f}", f"{ours['b1_tps'] / figure:.2f}x", ">= 0.9x")
                if figure
                else skipped
            ),
        )
    table.add_row(
        "batch-1 decode tok/s vs local (transformers)",
        *((b1, f"{local:.1f}", f"{ours['b1_tps'] / local:.1f}x", ">= 5x") if local else skipped),
    )
    table.add_row(
        f"aggregate tok/s, 8 users vs 1 ({ours['b8_tokens']:.0f} vs "
        f"{ours['b1_tokens']:.0f} tokens decoded)",
        f"{ours['b8_tps']:.1f}",
        b1,
        f"{ours['b8_tps'] / ours['b1_tps']:.2f}x",
        ">= 2.5x",
    )
    table.add_row(
        "sampled as shipped (\\[generation]): aggregate tok/s, 8 users vs 1",
        f"{ours['s8_tps']:.1f}",
        f"{ours['s1_tps']:.1f}",
        f"{ours['s8_tps'] / ours['s1_tps']:.2f}x",
        "",
    )
    table.add_row(
        "time to first token, cached prompt vs not (ms)",
        f"{ours['ttft_cached'] * 1000:.0f}",
        f"{ours['ttft_cold'] * 1000:.0f}",
        f"{ours['ttft_cold'] / ours['ttft_cached']:.1f}x faster",
        "",
    )
    table.add_row(
        f"a short reply arriving while 4 long ones decode ({ours['long_tokens']:.0f} "
        "tokens), joining vs waiting for them (ms)",
        f"{ours['join_s'] * 1000:.0f}",
        f"{ours['wait_s'] * 1000:.0f}",
        f"{ours['wait_s'] / ours['join_s']:.1f}x faster",
        "",
    )
    table.add_row(
        f"a short reply while a {ours['history_tokens']:.0f}-token history is read "
        f"({ours['history_s']:.1f} s) vs alone (ms)",
        f"{ours['beside_s'] * 1000:.0f}",
        f"{ours['alone_s'] * 1000:.0f}",
        f"{ours['beside_s'] / ours['alone_s']:.1f}x slower",
        "",
    )
    if bare:
        table.add_row(
            f"reading a {ours['read_tokens']:.0f}-token history, engine vs bare Llama.eval "
            "(s, the engine's context settings)",
            f"{ours['read_s']:.1f}",
            f"{bare['bare_read_s']:.1f}",
            f"{ours['read_s'] / bare['bare_read_s']:.2f}x",
            "",
        )
    else:
        table.add_row("reading a history, engine vs bare Llama.eval (s)", *skipped)
    table.add_row(*reload_row(steady, reloading, failed, bool(synthetic)))
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per reply")
    parser.add_argument("--phase", type=float, default=8.0, help="seconds per load phase")
    parser.add_argument(
        "--quant",
        default="",
        help="requantise the offline GGUF to this type first (q4_0, ...); with "
        "--synthetic, the synthetic model's type (default q4_0)",
    )
    parser.add_argument(
        "--output-type",
        default="",
        help="with --quant: the output / token-embedding tensor's type (q4_0, q8_0, f16)",
    )
    parser.add_argument(
        "--synthetic",
        default="",
        choices=[name for name in SHAPES if name != "tiny"],
        help="bench a random-weight model of this Qwen2.5 shape instead (engine rows only)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="llama.cpp threads (0: the engine's default)"
    )
    parser.add_argument(
        "--history-tokens",
        type=int,
        default=1500,
        help="prompt tokens of the history the engine and the bare Llama.eval each read",
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.tokens,
            args.phase,
            args.quant,
            args.output_type,
            args.synthetic,
            args.threads,
            args.history_tokens,
        )
    )
