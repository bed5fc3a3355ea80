"""GPU check: on a CUDA machine, bf16 training, the parity check and the prefix cache
with batched, mixed-adapter generation, all on the tiny Qwen2 built here; then decode
step times in Qwen2.5-0.5B's shape (random weights): one row against batches of rows of
one length and of padded rows, raw `generate` beside the local engine (its generate()
and its continuous-batching step loop), a profile of the slowest, and a long prompt
read in pieces against whole (what the pieces cost here, and how soon a request that
comes meanwhile is answered); prints figures.

Without CUDA it says so in one line and exits 0. No model hub is needed.
Run: .venv/bin/python scripts/gpu_check.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TRAIN_STEPS = 20
BATCH_ROWS = 8


def train_bf16(root: Path, model_dir: Path) -> Path:
    from atri.config import Settings
    from model.training.runner import train
    from tests.model.training.sharegpt import write, zh_dataset

    write(root / "train.json", zh_dataset(64))
    s = Settings(root=root)
    s.model.base = str(model_dir)
    s.model.device = "cuda"
    s.model.adapters_dir = str(root / "adapters")
    s.train.dataset = str(root / "train.json")
    s.train.precision = "bf16"
    s.train.quantization = "none"
    s.train.max_steps = TRAIN_STEPS
    s.train.gradient_accumulation = 1
    s.train.learning_rate = 1e-2
    started = time.perf_counter()
    result = train(s)
    print(
        f"bf16 training: {result.steps} steps on {result.hardware.describe()} in "
        f"{time.perf_counter() - started:.1f} s, {result.tokens_per_second:,.0f} tokens/s, "
        f"train loss {result.manifest['train_loss']:.3f}"
    )
    assert result.hardware.precision == "bf16", result.hardware
    return result.version_dir


async def parity(root: Path, model_dir: Path, version: Path) -> None:
    from atri.config import Settings
    from model.engines.loading import load_base_model
    from model.protocol import ChatRequest
    from model.service import ChatService
    from tests.model.training.test_parity import (
        RecordingEngine,
        served_settings,
        training_ids_before_last_reply,
    )

    s = served_settings(Settings(root=root), model_dir)
    s.model.device = "cuda"
    s.model.adapters_dir = str(version.parent)
    s.memory.path = str(root / "memory.sqlite3")
    s.worker.rate_limit_per_minute = 0
    engine = RecordingEngine(load_base_model(s), 4096)
    async with await ChatService.open(s, engine) as service:
        result = await service.reload(version.name)
        assert result.ok, result.message
        prompt = service.system_prompt
        first = await service.chat(ChatRequest(platform="gpu", user_id="1", text="你好"))
        await service.chat(ChatRequest(platform="gpu", user_id="1", text="去海边吧"))
    turns = [("user", "你好"), ("assistant", first.text), ("user", "去海边吧")]
    expected = training_ids_before_last_reply(engine.tokenizer, prompt, turns)
    same = engine.rows[-1] == expected
    print(f"parity: served ids {'==' if same else '!='} training ids ({len(expected)} tokens)")
    assert same


def mixed_adapters(root: Path, model_dir: Path, version: Path) -> None:
    """The prefix cache on a batch, then one batch whose rows use different adapters."""
    import torch

    from atri.config import GenerationSettings, Settings
    from model.engines.loading import load_base_model
    from model.engines.local import LocalEngine
    from tests.model.adapters.make_versions import base_config_hash, write_version

    s = Settings(root=root)
    s.model.base = str(model_dir)
    s.model.device = "cuda"
    s.model.dtype = "bfloat16"
    other = write_version(
        root / "other",
        "other",
        model_dir,
        base_model=str(model_dir),
        config_hash=base_config_hash(model_dir),
        scale=0.5,
    )
    engine = LocalEngine(load_base_model(s), 4096)
    engine.load_adapter_sync(version, "trained")
    engine.load_adapter_sync(other, "other")
    engine.activate_sync("trained")
    gen = GenerationSettings(max_new_tokens=16, do_sample=False, repetition_penalty=1.0)
    system = "你是亚托莉。请以亚托莉的身份和口吻与{{user}}聊天，不要跳出角色。"
    batch = [
        [{"role": "system", "content": system}, {"role": "user", "content": f"第{i}个问题"}]
        for i in range(BATCH_ROWS)
    ]
    for _ in range(2):  # the second batch reuses the first one's prefix states
        started = time.perf_counter()
        engine.generate_sync(batch, gen)
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
    stats = engine.stats
    print(
        f"prefix cache: {BATCH_ROWS} rows in {elapsed * 1000:.0f} ms, "
        f"{stats.prefix_reused_tokens} of {stats.prompt_tokens} prompt tokens reused"
    )
    names = ["trained", "other"] * (BATCH_ROWS // 2)
    rows = engine._encode(batch)
    width = max(len(r) for r in rows)
    ids = torch.tensor([[engine.tokenizer.pad_token_id] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    kwargs = {"max_new_tokens": 8, "do_sample": False, "pad_token_id": ids[0, 0].item()}
    with torch.inference_mode():
        started = time.perf_counter()
        mixed = engine.model.generate(
            input_ids=ids.cuda(), attention_mask=mask.cuda(), adapter_names=names, **kwargs
        )
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        agree = 0
        for name in ("trained", "other"):
            engine.model.set_adapter(name)
            alone = engine.model.generate(
                input_ids=ids.cuda(), attention_mask=mask.cuda(), **kwargs
            )
            agree += sum(
                bool(torch.equal(mixed[i], alone[i])) for i, n in enumerate(names) if n == name
            )
    print(
        f"mixed adapters: {BATCH_ROWS} rows, 2 adapters in one batch in {elapsed * 1000:.0f} ms; "
        f"{agree}/{BATCH_ROWS} rows equal to their adapter's own batch"
    )


STEP_TOKENS = 32


def decode_steps(root: Path) -> None:
    """ms per decode step, raw `generate` and the engine, for one row and for batches
    with and without padding (on an H100, 2026-12-05, a padded batch took about 40 ms a
    step against 10 for one row: this says where), then the padded batch profiled."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from atri.config import GenerationSettings, Settings
    from model.engines.base import RowLimits
    from model.engines.loading import load_base_model
    from model.engines.local import LocalEngine
    from tests.tiny_model import QWEN_05B_SHAPE, build_tiny_qwen2

    texts = ["你好", "今天要去海边吗？", "螃蟹看起来好好吃，我们晚上吃螃蟹吧，好不好？"]
    folder = build_tiny_qwen2(
        root / "qwen-0.5b", shape=QWEN_05B_SHAPE, extra_text=texts, vocab_size=8192
    )
    s = Settings(root=root)
    s.model.base = str(folder)
    s.model.device = "cuda"
    s.model.dtype = "bfloat16"
    engine = LocalEngine(load_base_model(s), 4096)
    tokenizer, model = engine.tokenizer, engine.model
    model.generation_config.min_new_tokens = STEP_TOKENS  # every row runs as many steps
    gen = GenerationSettings(max_new_tokens=STEP_TOKENS, do_sample=False, repetition_penalty=1.0)
    system = "你是亚托莉，一个住在海边小镇的机器人少女。" * 20

    def chats(rows: int, padded: bool) -> list[list[dict[str, str]]]:
        return [
            [
                {"role": "system", "content": system},
                {"role": "user", "content": texts[i % len(texts)] if padded else texts[0]},
            ]
            for i in range(rows)
        ]

    def raw(batch: list[list[dict[str, str]]]) -> None:
        rendered = [
            tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
            for m in batch
        ]
        tokenizer.padding_side = "left"
        inputs = tokenizer(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            model.generate(
                **inputs.to("cuda"),
                max_new_tokens=STEP_TOKENS,
                min_new_tokens=STEP_TOKENS,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )

    def ms_per_step(run: Any, batch: list[list[dict[str, str]]]) -> float:
        run(batch)  # warm: this shape's kernels, the prefix cache
        torch.cuda.synchronize()
        started = time.perf_counter()
        run(batch)
        torch.cuda.synchronize()
        return (time.perf_counter() - started) * 1000 / STEP_TOKENS

    def engine_run(batch: list[list[dict[str, str]]]) -> None:
        # With the per-row hooks the batcher gives it, as served (RowStops every step).
        hooks = RowLimits(given_up=lambda: False, deliver=lambda _: None)
        engine.generate_sync(batch, gen, [hooks] * len(batch))

    async def all_rows(batch: list[list[dict[str, str]]]) -> None:
        await asyncio.gather(*engine.generate_rows(batch, gen))  # type: ignore[arg-type]

    def step_loop_run(batch: list[list[dict[str, str]]]) -> None:
        # Continuous batching, as the worker serves (model/engines/local_steps.py).
        asyncio.run(all_rows(batch))

    print(f"decode steps ({model.dtype}, {model.config._attn_implementation} attention):")
    for rows, padded in ((1, False), (4, False), (4, True), (8, False), (8, True), (16, True)):
        batch = chats(rows, padded)
        print(
            f"  {rows:2d} rows {'padded' if padded else 'one length'}: raw generate "
            f"{ms_per_step(raw, batch):.1f} ms/step, engine generate() "
            f"{ms_per_step(engine_run, batch):.1f}, engine step loop "
            f"{ms_per_step(step_loop_run, batch):.1f}"
        )
    batch = chats(8, True)
    raw(batch)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        raw(batch)
    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=12)
    print(f"raw generate, 8 padded rows, by CPU time:\n{table}")
    asyncio.run(long_prompt_reading(engine, system, texts[1]))


LONG_TURNS = 35  # history turns of the long conversation: some 3,000 tokens


async def long_prompt_reading(engine: Any, system: str, question: str) -> None:
    """A long conversation (a /v1 client's) read alone, in pieces (the step loop's
    half-second pieces, `model/engines/read_pieces.py`) against whole, and how soon a short
    request that comes 20 ms into it is answered each way: what the pieces cost on this
    device, and what they buy."""
    from atri.config import GenerationSettings

    loop = engine.steps
    if loop is None:
        print("long prompt reading: this model takes no part in the step loop")
        return
    gen = GenerationSettings(max_new_tokens=1, do_sample=False, repetition_penalty=1.0)
    short = gen.model_copy(update={"max_new_tokens": 8})
    engine.model.generation_config.min_new_tokens = None

    def conversation(first: int) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": system}]
        for i in range(first, first + LONG_TURNS):
            turns += [
                {"role": "user", "content": f"第{i}天：{question}" * 2},
                {"role": "assistant", "content": f"第{i}天，我去了海边。" * 2},
            ]
        return [*turns, {"role": "user", "content": question}]

    async def timed(messages: list[dict[str, str]], settings: Any) -> float:
        started = time.perf_counter()
        await engine.generate_rows([messages], settings)[0]  # its tokens came off the device
        return time.perf_counter() - started

    chat = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    await timed(chat, short)  # warm: the system prompt in the prefix cache
    alone = await timed(chat, short)
    tokens = len(engine._tokenize(engine._render([conversation(0)]))[0])
    figures: dict[bool, tuple[float, float, float]] = {}
    for i, together in enumerate((False, True, False, True)):  # interleaved, the second kept
        loop.reads_together = together
        read_s = await timed(conversation(1000 * i), gen)
        long_one = asyncio.ensure_future(timed(conversation(1000 * i + 100), gen))
        await asyncio.sleep(0.02)
        figures[together] = (read_s, await timed(chat, short), await long_one)
    loop.reads_together = True
    print(f"long prompt reading ({tokens} tokens; an 8-token request alone {alone:.3f} s):")
    for together, label in ((False, "whole"), (True, "in pieces")):
        read_s, short_s, long_s = figures[together]
        print(
            f"  {label}: first token after {read_s:.3f} s alone; a request 20 ms into it "
            f"answered after {short_s:.3f} s, the long one after {long_s:.3f} s"
        )


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("No CUDA GPU here; the GPU check has nothing to run.")
        return 0
    from tests.tiny_model import build_tiny_qwen2

    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = build_tiny_qwen2(root / "qwen2")
        version = train_bf16(root, model_dir)
        asyncio.run(parity(root, model_dir, version))
        mixed_adapters(root, model_dir, version)
        decode_steps(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
