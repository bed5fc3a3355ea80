"""`LlamaCppEngine`: a GGUF model through llama.cpp (llama-cpp-python's C API) on a CPU.

One llama.cpp context serves every conversation at once: each is a sequence of the
context, and each decode step feeds one token of every unfinished sequence. The batching
is continuous: `generate_rows` puts its rows in an inbox, and the engine thread's decode
loop takes them into the running pass at its next step (or starts one), so a request
never waits for other people's replies to end, and a row leaves the pass, and is
answered, at its own end. The KV cache is one buffer shared by all sequences, so the
prompt start every request shares (ATRI's system prompt) is decoded once into a *prefix
slot* and copied into each sequence, and the slot stays for the next pass, which
decodes only what differs.

There are two prefix slots: the live adapter's, and one a new adapter version fills
while it is smoke-tested, so the first batch after a switch starts warm.

Adapters are GGUF LoRA files converted from the peft version folders
(`model/adapters/gguf_lora.py`); llama.cpp applies one to the context without touching
the base weights, for a whole decode call. A pass is the rows of one adapter and one
way of sampling; up to MAX_PASSES run at once, a step of each in turn, so a new
version's smoke reply, the old version's last rows after a switch, or a memory summary
decode beside the live replies instead of waiting for them to end. Everything runs on
the engine thread: loading, warming and switching adapters run between two steps; any
other job for the thread (`EngineThread.run`) waits for the passes in flight, which
take no one new once it waits: they end, the job runs, then the requests that came
meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from atri.config import GenerationSettings, Settings
from atri.errors import ConfigError
from model.adapters.versions import AdapterError
from model.character.prompt import ChatMessages, opens_think
from model.engines.base import (
    EngineStats,
    EngineThread,
    Generation,
    RowLimits,
    StepJob,
    ThreadLoop,
    all_rows,
    row_limits,
    start_with_adapter,
    without_reasoning,
)
from model.engines.chat_template import check_configured_template
from model.engines.cpu_repack import RepackOverrides, weight_placement
from model.engines.cpu_threads import ThreadGovernor, default_threads, usable_cpus
from model.engines.gguf_base import base_hashes
from model.engines.gguf_files import (
    gguf_config_hash_or_none,
    gguf_path,
)
from model.engines.gguf_text import GgufText
from model.engines.llamacpp_pass import (
    DECODE_CHUNK,
    Pass,
    Request,
    Row,
    Slot,
    fail_future,
)
from model.engines.offline_gguf import ModelNotFoundError
from model.engines.prefix_cache import common_length
from model.engines.read_pieces import ReadCosts
from model.engines.sampling import candidates, draw, penalise_repeats

log = logging.getLogger(__name__)

# Sequence ids 0 and 1 hold prefix slots; conversations use the ids after them.
PREFIX_SLOTS = 2
# llama.cpp's LLAMA_MAX_SEQ: sequences one context can hold.
MAX_SEQUENCES = 64
# Prompt tokens a new adapter's prefix is decoded in, between two steps of the replies
# in flight, and the engine time the replies get after each slice, in slices' time:
# prompt tokens cost a Q4_1 model on a CPU about half a decode step each (ATRI's prompt
# ~2 s on the offline model, 2 cores), and a reply in flight for all of it would take
# that much longer. Paced (after a slice, the replies get WARM_PACE slices' time), the
# warm-up takes at most a sixth of the engine's time.
WARM_SLICE_TOKENS = 32
WARM_PACE = 5.0
# How often, at most, the log says that a request was given up while its long prompt
# was still being read (one line per case would flood it under a client's retries).
UNREAD_TOLD_EVERY_S = 600.0
# How long that line waits, when nobody else waits for the engine, before it is said,
# and it is not if the engine was closed meanwhile: a service that closes first cancels
# its own requests in flight (the memory summary being written, the batcher's rows), on
# purpose, not for want of time.
UNREAD_TELL_AFTER_S = 2.0
# A smoke reply must hold real tokens, not an end-of-turn at once.
SMOKE_MIN_TOKENS = 4
# Passes decoding at once, a step of each in turn: the live adapter's, a new version's
# smoke reply beside it, the old version's last rows after a switch, a request sampled
# otherwise (a memory summary). Each is its own llama_decode call per step.
MAX_PASSES = 3
# Sequence ids beyond `max_batch` for the rows of passes beside the live one (a smoke
# reply, an overdue summary), which the batcher does not count.
SPARE_SEQUENCES = 2
# How often `unload_adapter` looks again while a pass still decodes with the adapter.
UNLOAD_RETRY_S = 0.05
# Weight types llama.cpp's CPU backend multiplies one row at a time however many
# sequences a step holds (no repacked or llamafile kernel for them in llama-cpp-python
# 0.3.16): a step of 8 sequences costs about 8 steps of one, so several users decode
# barely faster together than one alone. Measured on SmolLM2-135M (the offline GGUF),
# 1 thread, idle machine: Q4_1 8 rows 1.1-1.2x the tokens/s of 1 row; the same file
# requantised to Q4_0 (repacked to q4_0_8x8 at load) 2.0-2.4x, 3.6x at 16 rows, in bare
# decode steps with a short prompt (a 2-core AVX-512 VM without AMX; on a 2-core Sapphire
# Rapids VM, this engine, 64 greedy tokens: Q4_1 72.7 tok/s alone and 137.4 for 8 (1.89x),
# Q4_0 with its output 106.5 and 196.2 (1.84x): alike in ratio, Q4_0 faster at both).
# In this engine, with ATRI's 450-token system prompt,
# 8 users reach only 1.3-1.4x (Q4_0, output Q8_0) or 1.5-1.6x (Q4_0 output too): flash
# attention on the CPU visits every cached cell once per sequence and head, so the
# shared prompt's attention costs each sequence in full (without flash attention 8 users
# reach 2.1x, but a reply then depends on what else is in the batch). Requantising
# costs quality too: perplexity on README text 55 (Q4_1) -> 67 (Q4_0) -> 75 (Q4_0 output).
# Larger models gain a little more, not 2.5x: random-weight models of Qwen2.5's shapes
# (bench/engine_speed.py --synthetic), Q4_0, 8 users in this engine: 0.5B 1.6x, 1.5B
# 1.8x. Even 1.5B's batch-1 step is bound by arithmetic on this AVX-512 CPU (one thread
# reads its weights at ~23 GB/s), and the repacked Q4_0 kernel takes 8 rows in 4-row
# AVX2 tiles (AVX-512 only from 16 rows): 8 rows cost about 3.5 steps of one. Loading
# without repacking (model params use_extra_bufts = False, so Q4_0 goes through
# llamafile's sgemm) is slower both alone and together: 0.5B, 1 thread, 58.2 and 78.7
# tok/s (1.35x) against 73.8 and 117.7 (1.59x) repacked.
UNBATCHED_TYPES = ("Q4_1",)
# llama.cpp refuses any LoRA with a NULL; its log says why, after this.
LORA_REFUSED = "failed to apply lora adapter: "
# Reasons of llama.cpp's that mean the LoRA was made for another model.
OTHER_BASE_REASONS = ("wrong base model", "arch mismatch")
# What llama.cpp logs when a context's buffers (its KV cache, its compute buffers, both
# sized by the KV cells) do not fit in memory.
NO_MEMORY_MARKS = ("failed to allocate", "insufficient memory", "bad_alloc")
# llama.cpp counts a context's KV cells in 32 bits: more would wrap to a smaller cache.
MAX_KV_CELLS = 2**32 - 1


@contextlib.contextmanager
def llama_log(lines: list[str]) -> Iterator[None]:
    """Collect what llama.cpp logs meanwhile into `lines`, still passing it to the
    binding's own logger (silenced unless set otherwise, see `LlamaCppEngine`)."""
    import llama_cpp
    from llama_cpp import _logger

    @llama_cpp.llama_log_callback
    def collect(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        lines.append(text.decode("utf-8", errors="replace"))
        _logger.llama_log_callback(level, text, user_data)

    llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
    try:
        yield
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


def lora_refusal(name: str, gguf_file: Path, log_lines: list[str]) -> str:
    """Why llama.cpp refused a LoRA, from its log: a file it cannot read and one made
    for another model both come back as a NULL, but only the second "does not fit"."""
    lines = "".join(log_lines).splitlines()
    reason = next((line.split(LORA_REFUSED, 1)[1] for line in lines if LORA_REFUSED in line), "")
    if any(mark in reason for mark in OTHER_BASE_REASONS):
        return (
            f"Version {name}: its LoRA {gguf_file} does not fit the base model "
            f"(llama.cpp: {reason.strip()})."
        )
    # The GGUF reader's own line says more than "failed to load lora adapter file".
    details = [line.split(": ", 1)[-1] for line in lines if line.startswith("gguf_")]
    because = "; ".join(details) or reason.strip() or "llama.cpp gave no reason"
    return f"Version {name}: llama.cpp cannot load its LoRA {gguf_file} ({because})."


def capped_threads(threads: int) -> int:
    """`[model] llamacpp_threads`, at most one per CPU this process may use: llama.cpp
    starts every thread it is given (10000 hung the process), and threads beyond the
    CPUs only take turns, while every step waits for the last of them."""
    cpus = len(usable_cpus())
    if threads <= cpus:
        return threads
    log.warning(
        "[model] llamacpp_threads = %d is more than the %d CPUs this process may use; "
        "llama.cpp decodes on %d threads (more would only take turns on them)",
        threads,
        cpus,
        cpus,
    )
    return cpus


def kv_cell_bytes(ll: Any, model: Any, meta: Callable[[str], str]) -> int:
    """Bytes one KV cell takes over all layers: K and V of each KV head, 16 bits a value
    (llama.cpp's default cache type). The head size is the GGUF's key and value length,
    or the embedding over the heads where it names none."""
    arch = meta("general.architecture")
    split = ll.llama_model_n_embd(model) // max(1, ll.llama_model_n_head(model))
    lengths = [meta(f"{arch}.attention.{kind}_length") for kind in ("key", "value")]
    dims = sum(int(n) if n.isdigit() else split for n in lengths)
    return ll.llama_model_n_layer(model) * ll.llama_model_n_head_kv(model) * dims * 2


def context_settings(kv_cells: int, rows: int, threads: int) -> dict[str, Any]:
    """The `llama_context_params` fields the engine opens its context with, by name: one
    place, so that bench/engine_speed.py's bare `Llama` can be loaded the same way."""
    return {
        "n_ctx": kv_cells,
        "n_batch": DECODE_CHUNK,
        "n_ubatch": DECODE_CHUNK,
        # The prefix slots, the rows, and the sequence that parks the cells of rows that left.
        "n_seq_max": PREFIX_SLOTS + rows + 1,
        "kv_unified": True,  # one buffer: a copied prefix shares its cells
        # Flash attention visits a sequence's cells in order and skips the others', so a
        # reply does not depend on what else is in the batch (plain attention sums over
        # every cell, and greedy replies changed with the batch); cell order matters
        # then, which is why rows that leave a running pass keep theirs (`Pass._leave`).
        "flash_attn": True,
        "n_threads": threads,
        "n_threads_batch": threads,
    }


def _smoke_gen(max_new_tokens: int) -> GenerationSettings:
    return GenerationSettings(
        max_new_tokens=max_new_tokens, do_sample=False, repetition_penalty=1.0
    )


class LlamaCppEngine:
    """llama.cpp on this machine. Build with `await LlamaCppEngine.load(settings)`."""

    name = "llamacpp"

    def __init__(
        self,
        path: Path,
        base_id: str,
        config_hash: str,
        context_window: int = 0,
        max_batch: int = 8,
        prefix_cache: bool = True,
        threads: int = 0,
        kv_tokens: int = 0,
        chat_template: str = "",
    ) -> None:
        """`chat_template`: `[model] chat_template` (see `GgufText`)."""
        # Everything llama.cpp does, loading included, happens on this one thread: each
        # thread that runs llama.cpp's parallel code keeps a team of OpenMP threads, and
        # with two teams (more OpenMP threads than cores) libgomp sleeps between steps
        # instead of spinning. A model loaded elsewhere with the AMX buffers (repacked
        # in parallel at load) then decoded a step in 48 ms instead of 7 (2-core VM).
        self.thread = EngineThread("atri-llamacpp")
        try:
            self.thread.call(
                self._open,
                path,
                base_id,
                config_hash,
                context_window,
                max_batch,
                prefix_cache,
                threads,
                kv_tokens,
                chat_template,
            )
        except BaseException:
            self.thread.shut_down()
            raise

    def _open(
        self,
        path: Path,
        base_id: str,
        config_hash: str,
        context_window: int,
        max_batch: int,
        prefix_cache: bool,
        threads: int,
        kv_tokens: int,
        chat_template: str,
    ) -> None:
        import llama_cpp

        self._ll = llama_cpp
        # The binding prints llama.cpp's whole loading log (hundreds of lines between her
        # words in a console chat) while its logger is unset. Its level table is older than
        # this llama.cpp's (warnings arrive as errors, errors as debug), so only silence
        # is a setting that means one thing; a load that fails is our own sentence.
        binding_log = logging.getLogger("llama-cpp-python")
        if binding_log.level == logging.NOTSET:
            binding_log.setLevel(logging.CRITICAL)
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        # On a CPU with AMX: its kernels only for a Q8_0 file, else Q4_0 weights
        # repacked by name (`cpu_repack.weight_placement`).
        placement = weight_placement(llama_cpp, path)
        placement.apply(model_params)
        self.amx = placement.amx
        self.repacked: RepackOverrides | None = placement.repacked
        self._model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params)
        if not self._model:
            raise ModelNotFoundError(f"{path}: llama.cpp cannot load this GGUF file.")
        self.base_id = base_id
        self.config_hash = config_hash
        # Set by `load` (`gguf_base.base_hashes`); None: `config_hash` alone.
        self.accepted_hashes: frozenset[str] | None = None
        self.gguf_path = path
        trained = llama_cpp.llama_model_n_ctx_train(self._model)
        if context_window > trained:
            # Its KV cells are reserved up front (twice the window): a typo such as
            # 1000000 had the process killed for memory without a word.
            llama_cpp.llama_model_free(self._model)
            raise ConfigError(
                f"[model] context_window = {context_window} is longer than {path.name} was "
                f"trained for ({trained} tokens); set at most {trained}, or 0 for that."
            )
        self.context_window = context_window or trained
        self.rows_per_pass = max(
            1, min(max_batch, MAX_SEQUENCES - PREFIX_SLOTS - SPARE_SEQUENCES - 1)
        )
        rows = self.rows_per_pass + SPARE_SEQUENCES
        # The sequence that keeps the cells of rows that left while others decode.
        self.parking_seq = PREFIX_SLOTS + rows
        self.prefix_cache = prefix_cache
        self.weight_type = self._desc().rsplit(" ", 1)[-1]
        if self.weight_type in UNBATCHED_TYPES:
            # With AMX a Q8_0 file is faster still, and keeps its kernels (`cpu_repack`).
            better = "q8_0" if placement.amx_build else "q4_0"
            log.warning(
                "%s: %s weights; llama.cpp on a CPU has no batched kernel for them, so "
                "a %s file of the model decodes faster, alone and for several users "
                "together (bench/engine_speed.py --quant %s measures both here)",
                path.name,
                self.weight_type,
                better.upper(),
                better,
            )
        if self.amx:
            log.info("%s: llama.cpp's AMX kernels multiply its Q8_0 weights", path.name)
        try:
            self.text = GgufText(llama_cpp, self._model, path, chat_template)
        except BaseException:
            llama_cpp.llama_model_free(self._model)
            raise
        self.n_vocab = self.text.n_vocab
        # llama.cpp (as of llama-cpp-python 0.3.16) reuses a decode graph across an
        # adapter change, so the switched adapter would not apply; read at context start.
        os.environ.setdefault("LLAMA_GRAPH_REUSE_DISABLE", "1")
        # `[model] llamacpp_kv_tokens`: the KV cells of the prompt caches and the
        # conversations together; 0 = twice the window, room for two prefix slots and at
        # least one whole conversation beside them. Fewer than one window could not hold
        # a conversation as long as the window allows.
        if 0 < kv_tokens < self.context_window:
            llama_cpp.llama_model_free(self._model)
            raise ConfigError(
                f"[model] llamacpp_kv_tokens = {kv_tokens} is smaller than the context "
                f"window ({self.context_window} tokens); set it to at least that, or 0."
            )
        self.kv_cells = kv_tokens or 2 * self.context_window
        # `[model] llamacpp_threads`; 0 = one per physical core, fewer while other
        # programs keep cores busy (model/engines/cpu_threads.py: llama.cpp's threads
        # wait for each other at every step, and one taken off its core holds them all).
        self._governor: ThreadGovernor | None = None
        if not threads:
            self._governor = ThreadGovernor(*default_threads())
            threads = self._governor.current
        self.threads = capped_threads(threads)
        self.context_settings = context_settings(self.kv_cells, rows, self.threads)
        params = llama_cpp.llama_context_default_params()
        for name, value in self.context_settings.items():
            setattr(params, name, value)
        said: list[str] = []
        if self.kv_cells <= MAX_KV_CELLS:
            with llama_log(said):
                self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if self.kv_cells > MAX_KV_CELLS or not self._ctx:
            refusal = self._context_refusal(path, kv_tokens, said)
            llama_cpp.llama_model_free(self._model)
            raise refusal
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(DECODE_CHUNK, 0, 1)
        self._slots = [Slot(seq) for seq in range(PREFIX_SLOTS)]
        # The rows' sequence ids and KV cells, shared by the passes running at once.
        self._free_seqs = list(range(PREFIX_SLOTS, PREFIX_SLOTS + rows))
        self._reserved = 0  # KV cells the rows may take
        self._parked = 0  # KV cells of rows that left, freed when no row decodes
        # Prefix slots whose first cells parked rows copied: slot sequence -> how many.
        self._parked_from: dict[int, int] = {}
        self._adapters: dict[str, Any] = {}
        self._ctx_adapter = ""  # the adapter applied to the context now
        self.active_adapter = ""
        self.stats = EngineStats()
        self.costs = ReadCosts()
        self._unread_told_at = -UNREAD_TOLD_EVERY_S
        self._closing = False  # set as `close` begins
        # `_tell_unread`'s line while it waits (under the loop's lock).
        self._unread: tuple[float, int, int, float] | None = None
        # End-of-generation tokens (EOS, end of turn, ...), as the GGUF marks them, the
        # token that ends a reply under its chat template, and those that open a turn.
        self.stop_tokens = sorted(
            {*self.text.eog, *self.text.reply_stop(), *self.text.turn_openers()}
        )
        # `generate`'s requests, waiting for the engine thread's loop (`_serve`), which
        # takes them into the pass it runs between steps (`join_running`), or starts one.
        self._loop = ThreadLoop(self.thread, self._serve, "the llama.cpp engine")
        self._inbox: list[Request] = []
        # Jobs that run between two steps of the passes in flight (`_between_steps`).
        self._step_jobs: deque[StepJob] = deque()
        self._passes: list[Pass] = []  # the passes `_serve` runs now, a step each in turn
        self.join_running = True

    def _context_refusal(self, path: Path, kv_tokens: int, said: list[str]) -> Exception:
        """Why llama.cpp made no context: a KV cache too big for memory is a setting's
        sentence (its size, what to set lower); else llama.cpp's own reason."""
        lines = "".join(said).splitlines()
        if self.kv_cells <= MAX_KV_CELLS and not any(
            mark in line for line in lines for mark in NO_MEMORY_MARKS
        ):
            reason = "; ".join(line.split(": ", 1)[-1] for line in lines if "failed" in line)
            because = f" ({reason})" if reason else ""
            return RuntimeError(f"llama.cpp could not create a context for {path}{because}")
        gib = self.kv_cells * kv_cell_bytes(self._ll, self._model, self.text.meta) / 2**30
        size = f"{self.kv_cells:,} tokens (about {gib:,.1f} GiB)"
        if kv_tokens:
            return ConfigError(
                f"[model] llamacpp_kv_tokens = {kv_tokens} asks for a KV cache of {size}, "
                "more than llama.cpp could allocate here; set it lower, at least the context "
                f"window ({self.context_window} tokens, [model] context_window)."
            )
        return ConfigError(
            f"llama.cpp could not allocate the KV cache of {path.name}: {size}, twice its "
            f"context window of {self.context_window} ([model] llamacpp_kv_tokens = 0); set "
            "[model] context_window lower, or [model] llamacpp_kv_tokens to fewer tokens, at "
            "least the window."
        )

    @classmethod
    async def load(cls, settings: Settings) -> LlamaCppEngine:
        check_configured_template(settings.model.chat_template, settings.config_file)
        path = gguf_path(settings)
        base_id = settings.model.base.strip() or "builtin:smollm2-135m"
        hashes = await asyncio.to_thread(base_hashes, settings, path, gguf_config_hash_or_none)
        if not hashes:
            log.warning(
                "No config.json of [model] base = %r on this machine (a local folder or the "
                "Hugging Face cache): adapter versions are checked by their base's name and "
                "by llama.cpp's shape checks, not by their config hash.",
                base_id,
            )
        engine = await asyncio.to_thread(
            cls,
            path,
            base_id,
            hashes[0] if hashes else "",
            settings.model.context_window,
            settings.worker.max_batch,
            settings.model.prefix_cache,
            threads=settings.model.llamacpp_threads,
            kv_tokens=settings.model.llamacpp_kv_tokens,
            chat_template=settings.model.chat_template,
        )
        engine.accepted_hashes = frozenset(hashes)
        if settings.model.adapter:
            await start_with_adapter(settings, engine)
        return engine

    @property
    def adapter_version(self) -> str:
        return self.active_adapter

    @property
    def chat_template(self) -> str:
        """The GGUF's template, or `[model] chat_template` (`GgufText`)."""
        return self.text.chat_template

    def count_tokens(self, text: str) -> int:
        return self.text.count_tokens(text)

    def _desc(self) -> str:
        """llama.cpp's one-line description: architecture, size, weight type."""
        buf = ctypes.create_string_buffer(128)
        self._ll.llama_model_desc(self._model, buf, 128)
        return buf.value.decode("utf-8", errors="replace")

    def fit(self, tokens: list[int], max_new_tokens: int) -> list[int]:
        """A prompt cut to leave room for the reply inside the window: its start (the
        system prompt) and its end (the latest turn) stay, the middle goes. The service
        fits conversations before they come here; this is the last guard."""
        room = self.context_window - min(max_new_tokens, self.context_window // 4)
        if len(tokens) <= room:
            return tokens
        log.warning("prompt of %d tokens cut to %d to fit the window", len(tokens), room)
        head = room // 2
        return tokens[:head] + tokens[len(tokens) - (room - head) :]

    # Decoding.

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> dict[int, Any]:
        """Feed (token, position, sequence, wants logits) entries; return the logits of
        the flagged ones by entry index.

        With a LoRA applied, a call of one token takes other CPU kernels for the
        adapter's products than a call of two or more, which agree to the bit with each
        other (without a LoRA all sizes agree): a greedy reply decoded in one-row steps
        (alone, or the last row of a batch) can differ from the same reply in a batch.
        Measured (llama-cpp-python 0.3.16, the offline Q4_1 GGUF, the same history): a
        step's scores from a call of 1 token and of 2 were equal to the bit, or differed
        by 0.1-1.1 (the activations' 8-bit rounding turns a last-bit difference into a
        whole rounding step), at 6% of steps with the tests' trained LoRA and 40% with a
        random one (B drawn at scale 0.5, on q/v/up). Padding each one-token call with a
        throwaway token of a spare sequence made 8 questions' replies alone and batched
        equal; not done: on the offline Q4_1 file a step of one row then took 21.9 ms
        instead of 15.0."""
        import numpy as np

        out: dict[int, Any] = {}
        batch = self._batch
        if self._governor is not None and self._governor.threads() != self.threads:
            self.threads = self._governor.current
            self._ll.llama_set_n_threads(self._ctx, self.threads, self.threads)
        for start in range(0, len(entries), DECODE_CHUNK):
            chunk = entries[start : start + DECODE_CHUNK]
            for i, (token, pos, seq, logits) in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = logits
            batch.n_tokens = len(chunk)
            started = time.perf_counter()
            rc = self._ll.llama_decode(self._ctx, batch)
            if self._governor is not None:
                self._governor.decoded(time.perf_counter() - started)
            if rc != 0:
                raise RuntimeError(f"llama_decode failed ({rc}) on {len(chunk)} tokens")
            for i, (_, _, _, logits) in enumerate(chunk):
                if logits:
                    ptr = self._ll.llama_get_logits_ith(self._ctx, i)
                    out[start + i] = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()
        return out

    def _use_adapter(self, name: str) -> None:
        if name == self._ctx_adapter:
            return
        ll = self._ll
        if hasattr(ll, "llama_set_adapters_lora"):
            # llama.cpp since late 2025 (llama-cpp-python 0.3.2x): one call sets the whole
            # list, and llama_clear_adapter_lora is gone; an empty list clears it.
            chosen = [self._adapters[name]] if name else []
            adapters = (ll.llama_adapter_lora_p_ctypes * len(chosen))(*chosen)
            scales = (ctypes.c_float * len(chosen))(*([1.0] * len(chosen)))
            failed = ll.llama_set_adapters_lora(self._ctx, adapters, len(chosen), scales)
        else:
            ll.llama_clear_adapter_lora(self._ctx)
            failed = bool(name) and ll.llama_set_adapter_lora(self._ctx, self._adapters[name], 1.0)
        if failed:
            raise RuntimeError(f"llama.cpp refused to apply adapter {name}")
        self._ctx_adapter = name

    # KV cells and prefix slots.

    def _held_slot(self, adapter: str) -> Slot | None:
        """The prefix slot holding `adapter`'s prompt start, if one does."""
        if not self.prefix_cache:
            return None
        return next((s for s in self._slots if s.adapter == adapter and s.tokens), None)

    def _slot_in_use(self, slot: Slot) -> bool:
        """Whether rows decoding share cells with the slot: cutting it would free none
        of those, and a row counts only the cells it did not copy (`Pass.admit`)."""
        return any(row.source == slot.seq for run in self._passes for row in run.rows)

    def _cut_slot(self, slot: Slot, keep: int) -> None:
        """Drop the slot's tokens from `keep` on (all of them: the slot is free). Cells
        that parked rows copied from it stay theirs until unparked: counted as parked."""
        self._ll.llama_memory_seq_rm(self._mem, slot.seq, keep, -1)
        parked = self._parked_from.get(slot.seq, 0)
        if parked > keep:
            self._parked += parked - keep
            self._parked_from[slot.seq] = keep  # its next cells there are no one else's
        slot.tokens = slot.tokens[:keep]
        if not keep:
            slot.adapter = ""

    def _slot_for(self, adapter: str, prefix: list[int]) -> Slot | None:
        """The prefix slot of `adapter`, holding exactly `prefix` (only what differs
        from what it held is decoded). Another adapter's slot may be taken, never the
        live one's; None when that would take cells rows share (`_slot_in_use`)."""
        slot = self._held_slot(adapter)
        if slot is None:
            slot = next((s for s in self._slots if not s.tokens), None) or next(
                (
                    s
                    for s in self._slots
                    if s.adapter != self.active_adapter and not self._slot_in_use(s)
                ),
                None,
            )
            if slot is None:
                return None
            self._cut_slot(slot, 0)
            slot.adapter = adapter
        keep = common_length(slot.tokens, prefix)
        if keep < len(slot.tokens):
            if self._slot_in_use(slot):
                return None
            self._cut_slot(slot, keep)
        if keep < len(prefix):
            self._use_adapter(adapter)
            missing = prefix[keep:]
            self._decode([(t, keep + i, slot.seq, False) for i, t in enumerate(missing)])
            slot.tokens = list(prefix)
        return slot

    def _drop_slot(self, keep_adapter: str) -> bool:
        """Free the cells of a slot not holding `keep_adapter`; False if none could go."""
        for slot in self._slots:
            if slot.tokens and slot.adapter != keep_adapter and not self._slot_in_use(slot):
                self._cut_slot(slot, 0)
                return True
        return False

    def _free_cells(self, adapter: str, shared: int) -> int:
        """KV cells left for conversations once `adapter`'s slot holds `shared` tokens."""
        held = sum(len(s.tokens) for s in self._slots if s.adapter != adapter)
        own = max([len(s.tokens) for s in self._slots if s.adapter == adapter] + [shared])
        return self.kv_cells - held - own - self._reserved

    def _unreserved_cells(self) -> int:
        """KV cells neither in a prefix slot nor reserved for a row (parked ones count
        as free: they can be)."""
        return self.kv_cells - sum(len(s.tokens) for s in self._slots) - self._reserved

    def _unpark(self) -> None:
        """Free the cells of rows that left: safe once no row decodes (see `Pass._leave`)."""
        if self._parked:
            self._ll.llama_memory_seq_rm(self._mem, self.parking_seq, -1, -1)
            self._parked = 0
        self._parked_from.clear()

    def _any_rows(self, run: Pass) -> bool:
        """Whether `run` or a pass beside it holds rows."""
        return any(p.rows for p in [run, *self._passes])

    def _any_replying(self, run: Pass) -> bool:
        """Whether a row of `run` or of a pass beside it is past its prompt."""
        return any(row.new for p in [run, *self._passes] for row in p.rows)

    def _prompt(self, request: Request) -> list[int]:
        """The request's prompt tokens, fitted to the window (encoded once)."""
        if request.tokens is None:
            cap = request.limits.cap(request.gen.max_new_tokens)
            prompt = self.text.render(request.messages)
            request.opens_think = opens_think(prompt)
            request.tokens = self.fit(self.text.tokenize(prompt), cap)
        return request.tokens

    def _encoded(self, request: Request) -> bool:
        """Encode the request's prompt; False (its caller told) when that fails."""
        try:
            self._prompt(request)
        except Exception as exc:
            fail_future(request.done, exc)
            return False
        return True

    # The decode loop.

    def _run_pass(self, first: list[Request]) -> None:
        """Decode `first` to their ends, as a job of the engine thread (`generate_sync`),
        when no pass of the decode loop runs. Each request's `done` gets its row or the
        error; an error is raised again here once every request held has it."""
        if self._passes:
            raise RuntimeError("generate_sync while the decode loop runs")
        for request in first:
            self._prompt(request)
        self._unpark()
        try:
            run = Pass(self, first, alone=True)
        except Exception as exc:
            for request in first:
                fail_future(request.done, exc)
            raise
        try:
            while True:
                run.drop_cancelled()
                if not run.rows:
                    self._unpark()
                run.admit_waiting()
                if not run.rows:
                    break
                run.step()
        except Exception as exc:
            for request in run.held():
                fail_future(request.done, exc)
            raise
        finally:
            run.release()
            self._unpark()

    async def _between_steps(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` on the engine thread without ending the passes in flight: at their
        next step (their rows go on after it), or at once when none runs. Only for work
        that leaves the rows' sequences and KV cells alone: loading an adapter,
        tokenizing, warming a prefix slot, naming the live adapter. Anything else goes
        through `self.thread`, and the passes end first."""
        job = StepJob(fn, args)
        self._loop.give(lambda: self._step_jobs.append(job), lambda: self._step_jobs.remove(job))
        return await asyncio.wrap_future(job.done)

    def _run_step_jobs(self) -> None:
        while True:
            with self._loop.lock:
                if not self._step_jobs:
                    return
                job = self._step_jobs.popleft()
            job.run()

    def _serve(self) -> None:
        """The engine thread's loop for `generate`: requests from the inbox go into
        passes, and the passes step in turn until nothing is left. When another job waits
        for the thread (`self.thread.run`: an adapter unload, a bench's call), no one new
        is taken, the passes end, the job runs, and this loop comes back after it."""
        while True:
            self._run_step_jobs()
            with self._loop.lock:
                self._inbox = [r for r in self._inbox if not r.done.cancelled()]
                if self._loop.closed or not (self._passes or self._inbox or self._step_jobs):
                    self._close_loop()
                    return
                if not self._passes:
                    if self._step_jobs:
                        continue  # given meanwhile
                    if self.thread.waiting:
                        self.thread.submit(self._serve)
                        return
                placing = not self.thread.waiting
            if placing:
                self._place_inbox()
            self._step_passes()

    def _close_loop(self) -> None:
        """`_serve` ends (under the lock): with nothing to do, or with the engine closed,
        when whatever is left is told so."""
        closed = RuntimeError("the llama.cpp engine is closed")
        for request in self._inbox + [r for run in self._passes for r in run.held()]:
            fail_future(request.done, closed)
        for job in self._step_jobs:
            fail_future(job.done, closed)
        self._inbox, self._passes = [], []
        self._step_jobs.clear()
        self._loop.serving = False

    def _joins(self, run: Pass, request: Request) -> bool:
        """Whether `request` may become a row of the running `run`: one adapter, one way
        of sampling, and the live adapter still the pass's (after a switch new requests
        start the next pass)."""
        return (
            self.join_running
            and request.joins(run.head)
            and (run.head.adapter is not None or run.adapter == self.active_adapter)
        )

    def _place_inbox(self) -> None:
        """Requests from the inbox, in arrival order, into a running pass of their kind
        or a new one beside the others (at most MAX_PASSES). One that cannot be placed
        now (no room, no pass) waits, and so do those behind it: under a steady flow the
        later ones would otherwise keep the passes going and take its place for ever."""
        with self._loop.lock:
            inbox = list(self._inbox)
        taken: list[Request] = []
        try:
            at = 0
            while at < len(inbox) and not any(run.waiting for run in self._passes):
                request = inbox[at]
                if request.done.cancelled() or not self._encoded(request):
                    taken.append(request)
                    at += 1
                    continue
                run = next((run for run in self._passes if self._joins(run, request)), None)
                if run is not None:
                    if not run.admit(request):
                        return
                    self.stats.joined_rows += 1
                    self.stats.prefix_reused_tokens += run.rows[-1].fed  # copied, not decoded
                    taken.append(request)
                    at += 1
                    continue
                if len(self._passes) >= MAX_PASSES or (self._passes and not self.join_running):
                    return
                group = list(itertools.takewhile(request.joins, inbox[at:]))
                taken += group
                at += len(group)
                self._start_pass([r for r in group if not r.done.cancelled() and self._encoded(r)])
        finally:
            with self._loop.lock:
                self._inbox = [r for r in self._inbox if r not in taken]

    def _start_pass(self, first: list[Request]) -> None:
        """A pass for `first` (one kind), beside those running; its requests are told
        when it cannot start."""
        if not first:
            return
        alone = not any(run.rows for run in self._passes)
        if alone:
            self._unpark()
        try:
            run = Pass(self, first, alone)
        except Exception as exc:
            log.exception("llama.cpp could not start a pass (%d requests told)", len(first))
            for request in first:
                fail_future(request.done, exc)
            return
        self._passes.append(run)
        try:
            run.admit_waiting()
        except Exception as exc:
            self._end_failed(run, exc)

    def _end_failed(self, run: Pass, exc: Exception) -> None:
        log.error("llama.cpp generation failed (%d requests told)", len(run.held()), exc_info=exc)
        for request in run.held():
            fail_future(request.done, exc)
        run.release()
        run.waiting.clear()
        self._passes.remove(run)

    def _step_passes(self) -> None:
        """One step of each pass in turn; a pass that failed tells its requests why."""
        for run in list(self._passes):
            try:
                run.drop_cancelled()
                run.admit_waiting()
                if run.rows:
                    run.step()
            except Exception as exc:
                self._end_failed(run, exc)
                continue
            if not (run.rows or run.waiting):
                self._passes.remove(run)
        if not any(run.rows for run in self._passes):
            self._unpark()

    def _tell_unread(self, row: Row) -> None:
        """Say (at most every UNREAD_TOLD_EVERY_S) that a request was given up while its
        long prompt was still being read: whoever runs the worker learns why such
        conversations (an OpenAI client sends all its turns) never get an answer here.
        Said at once while other callers wait for the engine; else when one next asks
        (`generate_rows`) or UNREAD_TELL_AFTER_S later, whichever comes first, and not
        once `close` began: a service closing cancels its requests first, and a memory
        summary cancelled at `/quit` was said to be too long for this machine."""
        took = time.monotonic() - row.admitted
        read = row.fed - row.copied
        facts = (took, len(row.prompt), len(row.prompt) - row.fed, read / took if took else 0.0)
        loop = row.request.loop if row.request is not None else None
        if loop is None or not self._keep_unread(facts):
            self._say_unread(facts)
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: so is the service
            loop.call_soon_threadsafe(loop.call_later, UNREAD_TELL_AFTER_S, self._say_waiting)

    def _keep_unread(self, facts: tuple[float, int, int, float]) -> bool:
        """Keep `_tell_unread`'s line for later, unless a caller still waits for a reply
        (the service goes on: False)."""
        with self._loop.lock:
            held = [request for run in self._passes for request in run.held()]
            if any(not request.done.cancelled() for request in self._inbox + held):
                return False
            self._unread = facts
            return True

    def _say_waiting(self) -> None:
        """`_tell_unread`'s line that waited, if it still does."""
        with self._loop.lock:
            facts, self._unread = self._unread, None
        if facts is not None:
            self._say_unread(facts)

    def _say_unread(self, facts: tuple[float, int, int, float]) -> None:
        """`_tell_unread`'s line (took, prompt tokens, tokens short, tokens/s)."""
        now = time.monotonic()
        if self._closing or now - self._unread_told_at < UNREAD_TOLD_EVERY_S:
            return
        self._unread_told_at = now
        log.warning(
            "A request was given up (its deadline passed or its client left) %.0f s into "
            "reading its %d-token prompt, %d tokens short (about %.0f tokens/s here): a "
            "conversation that long is not answered in time on this machine; a smaller "
            "[model] context_window (prompts are fitted to it) or a longer [worker] "
            "request_timeout_seconds would let it be.",
            *facts,
        )

    def _room(self, prompt: list[int], cap: int) -> int:
        """New tokens a row may have: its cap, within the window."""
        return max(1, min(cap, self.context_window - len(prompt)))

    def _sample(self, row: Row, logits: Any, gen: GenerationSettings, rng: Any) -> int:
        """transformers' order: repetition penalty, temperature, top-k, top-p."""
        import numpy as np

        if not np.isfinite(logits).all():
            row.bad_logits = True
            logits = np.nan_to_num(logits, nan=-np.inf)
        penalise_repeats(logits, row.prompt, row.new, gen.repetition_penalty)
        if len(row.new) < row.min_new:
            logits[self.stop_tokens] = -np.inf
        if not gen.do_sample or not np.isfinite(logits.max()):
            return int(np.argmax(logits))  # greedy, or nothing left to weigh
        return draw(*candidates(logits, gen), rng)

    def next_token_logits(self, tokens: list[int], adapter: str = "") -> Any:
        """The scores for the token after `tokens`, with `adapter` (a fingerprint of the
        weights, for checks against other runtimes)."""
        return self.thread.call(self._next_token_logits_here, tokens, adapter)

    def _next_token_logits_here(self, tokens: list[int], adapter: str) -> Any:
        if self._passes:
            raise RuntimeError("next_token_logits while the decode loop runs")
        self._use_adapter(adapter)
        seq = PREFIX_SLOTS
        try:
            entries = [(t, i, seq, i == len(tokens) - 1) for i, t in enumerate(tokens)]
            return self._decode(entries)[len(tokens) - 1]
        finally:
            self._ll.llama_memory_seq_rm(self._mem, seq, -1, -1)

    def generate_sync(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        adapter: str | None = None,
        min_new: int = 0,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        """`batch` alone, blocking until done (benches, evaluation, tests). It runs on the
        engine thread, after the passes in flight there end: llama.cpp's context is not
        for two threads, and a second thread decoding keeps a second OpenMP team that
        halves the speed of both."""
        adapter = self.active_adapter if adapter is None else adapter
        requests = [
            Request(messages, gen, adapter, min_new, limit)
            for messages, limit in zip(batch, row_limits(limits, len(batch)), strict=True)
        ]
        self.thread.call(self._run_pass, requests)
        self._count_call(len(requests))
        return [self._generation(request.done.result()) for request in requests]

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        """Replies from the live adapter, once every row has ended (see `generate_rows`)."""
        return await all_rows(self.generate_rows(batch, gen, limits))

    def generate_rows(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[asyncio.Future[Generation]]:
        """Replies from the live adapter, one future per row, each done at its row's end.
        The rows go to the inbox together; the engine thread's decode loop takes them
        into the pass that is running, at its next step, or starts one with them."""
        loop = asyncio.get_running_loop()
        requests = [
            Request(messages, gen, None, 0, limit, loop=loop)
            for messages, limit in zip(batch, row_limits(limits, len(batch)), strict=True)
        ]
        self._loop.give(
            lambda: self._inbox.extend(requests),
            lambda: setattr(self, "_inbox", [r for r in self._inbox if r not in requests]),
        )
        self._say_waiting()  # the service goes on
        self._count_call(len(requests))
        # Cancelling a row's future cancels the wrapped one, which drops the row at the
        # decode loop's next step.
        return [asyncio.ensure_future(self._answer(request)) for request in requests]

    async def _answer(self, request: Request) -> Generation:
        return self._generation(await asyncio.wrap_future(request.done))

    def _count_call(self, rows: int) -> None:
        self.stats.generate_calls += 1
        self.stats.batch_sizes.append(rows)

    def _generation(self, row: Row) -> Generation:
        """A finished row as its reply (counted in the stats)."""
        if row.bad_logits:
            raise AdapterError(f"Adapter {row.adapter} produces NaN scores (broken weights).")
        text, cut = row.limits.cut(row.text)
        self.stats.generated_rows += 1
        self.stats.generated_tokens += len(row.new)
        self.stats.prompt_tokens += len(row.prompt)
        generation = Generation(
            text=text,
            new_tokens=len(row.new),
            adapter_version=row.adapter,
            finish_reason="stop" if cut else row.finish,
        )
        if row.request is not None and row.request.opens_think:
            return without_reasoning(generation, "llama.cpp engine")
        return generation

    # Adapters (the reload job's `AdapterEngine`).

    def accepts_config_hash(self, value: str) -> bool:
        """The GGUF's own hash or its base's config.json's (`gguf_base`); any, where
        neither is known (llama.cpp still refuses a LoRA of another shape)."""
        if self.accepted_hashes is None:
            return value == self.config_hash
        return not self.accepted_hashes or value in self.accepted_hashes

    def load_adapter_sync(self, gguf_file: Path, name: str) -> None:
        if name in self._adapters:
            raise ValueError(f"an adapter named {name!r} is already loaded")
        said: list[str] = []
        with llama_log(said):
            pointer = self._ll.llama_adapter_lora_init(self._model, str(gguf_file).encode())
        if not pointer:
            raise AdapterError(lora_refusal(name, gguf_file, said))
        self._adapters[name] = pointer

    async def load_adapter(self, path: Path, name: str) -> None:
        """Convert the peft version to GGUF when it has no whole, current one (off the
        engine thread; `ensure_gguf_adapter`), then load it."""
        from model.adapters.gguf_lora import ensure_gguf_adapter

        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{path}: not a peft adapter folder (no adapter_config.json).")
        gguf_file = await asyncio.to_thread(ensure_gguf_adapter, path, self.adapter_facts())
        await self._between_steps(self.load_adapter_sync, gguf_file, name)

    def adapter_facts(self) -> dict[str, Any]:
        """What converting a peft version needs of the base (`gguf_lora.gguf_facts`),
        read from the model llama.cpp holds (no second read of the file)."""
        from model.adapters.gguf_lora import facts_from

        return facts_from(self.text.meta, str(self.gguf_path))

    def warm_sync(self, name: str, prefix: list[int]) -> None:
        """Decode `prefix` into `name`'s prefix slot (only what it lacks), when the KV
        cells the passes in flight may still take leave room for it and no slot their
        rows share must change (else its smoke reply decodes it, and the first pass
        after the switch fills the slot). Between steps its cells can land among those
        of the rows decoding, whose later tokens may then differ from their reply alone
        by float rounding, as after `Pass.admit` frees parked cells."""
        if not (self.prefix_cache and prefix):
            return
        if self._passes:
            held = self._held_slot(name)
            missing = len(prefix) - (common_length(held.tokens, prefix) if held else 0)
            if missing > self._unreserved_cells() - self._parked:
                return
        self._slot_for(name, prefix)

    def smoke_sync(self, name: str, messages: ChatMessages, max_new_tokens: int) -> str:
        """The smoke reply on the calling thread, with no decode loop running."""
        (result,) = self.generate_sync(
            [messages], _smoke_gen(max_new_tokens), name, min(SMOKE_MIN_TOKENS, max_new_tokens)
        )
        return result.text

    async def smoke_test(self, name: str, messages: ChatMessages, max_new_tokens: int) -> str:
        """A greedy reply with adapter `name` (loaded, not live), in its own pass beside
        the live one: the replies in flight go on, a step of each in turn."""
        if name and name not in self._adapters:
            raise KeyError(f"adapter {name!r} is not loaded")
        prompt = await self._between_steps(self.text.encode, messages)
        start = prompt[:-1]

        def warm_slice(end: int) -> float:
            """Seconds the replies in flight are owed for it (0 when there are none)."""
            started = time.perf_counter()
            self.warm_sync(name, start[: min(end, len(start))])
            busy = any(run.rows for run in self._passes)  # read here, on the engine thread
            return (time.perf_counter() - started) * WARM_PACE if busy else 0.0

        for end in range(WARM_SLICE_TOKENS, len(start) + WARM_SLICE_TOKENS, WARM_SLICE_TOKENS):
            await asyncio.sleep(await self._between_steps(warm_slice, end))
        request = Request(
            messages,
            _smoke_gen(max_new_tokens),
            name,
            min(SMOKE_MIN_TOKENS, max_new_tokens),
            loop=asyncio.get_running_loop(),
        )
        self._loop.give(
            lambda: self._inbox.append(request),
            lambda: setattr(self, "_inbox", [r for r in self._inbox if r is not request]),
        )
        self._count_call(1)
        return (await self._answer(request)).text

    def activate_sync(self, name: str) -> None:
        if name and name not in self._adapters:
            raise KeyError(f"adapter {name!r} is not loaded")
        self.active_adapter = name

    async def activate(self, name: str) -> None:
        """Between two steps: the pass in flight finishes its rows with the adapter they
        began with and takes no one new; new requests start a pass with `name` beside it."""
        await self._between_steps(self.activate_sync, name)

    def unload_adapter_sync(self, name: str) -> None:
        if not name or name == self.active_adapter or name not in self._adapters:
            return
        if self._ctx_adapter == name:
            self._use_adapter(self.active_adapter)
        for slot in self._slots:
            if slot.adapter == name:
                self._cut_slot(slot, 0)
        self._ll.llama_adapter_lora_free(self._adapters.pop(name))

    async def unload_adapter(self, name: str) -> None:
        """Between steps, once no pass decodes with it (the old version's last rows after
        a switch end on their own), so the live replies never wait for it."""
        while not await self._between_steps(self._unload_unused, name):
            await asyncio.sleep(UNLOAD_RETRY_S)

    def _unload_unused(self, name: str) -> bool:
        """Unload `name` unless a pass still decodes with it; False then."""
        if any(run.adapter == name for run in self._passes):
            return False
        self.unload_adapter_sync(name)
        return True

    def _free(self) -> None:
        """Free llama.cpp's memory, on the engine thread: a pass there may still be
        ending (its rows answered, its cells not yet released), and freeing the context
        under it corrupted the heap."""
        self.thread.call(self._free_here)

    def _free_here(self) -> None:
        if self._loop.closed:
            return
        self._loop.closed = True
        self._ll.llama_batch_free(self._batch)
        self._ll.llama_free(self._ctx)
        self._ll.llama_model_free(self._model)  # frees its adapters too

    async def close(self) -> None:
        self._closing = True  # the requests it cancelled first were not given up (`_tell_unread`)
        if not self._loop.closed:
            await self.thread.run(self._free)
        await self.thread.close()
