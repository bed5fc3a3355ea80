"""A pass of `LlamaCppEngine`: the rows of one adapter and one way of sampling decoding
together in one llama.cpp context, a step at a time, with the rows' KV cells and
sequence ids borrowed from the engine (see `Pass`). The engine runs the passes, holds
the prefix slots and the context; what a step feeds and how a row joins and leaves is
here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from atri.config import GenerationSettings
from model.character.prompt import ChatMessages
from model.engines.base import NO_LIMITS, FinishReason, RowLimits
from model.engines.prefix_cache import common_length, shared_prefix_length
from model.engines.read_pieces import LONG_PROMPT_TOKENS

if TYPE_CHECKING:
    from model.engines.llamacpp import LlamaCppEngine

# Tokens per llama_decode call: a longer prompt is fed in pieces of this size.
DECODE_CHUNK = 512
# Prompt tokens one step may decode for rows that joined while others reply: a long
# prompt is read over several steps instead of holding every reply for all of it. A long
# one (`read_pieces.LONG_PROMPT_TOKENS`) reads only a step's worth: 64 prompt tokens cost
# some 30 one-row decode steps here.
PREFILL_STEP_TOKENS = 64
# How far a pass started alone may grow its adapter's prefix slot past what it already
# holds of its prompt when it holds none of it (a cold start: the whole system prompt, in
# one go); otherwise a read piece: a lone user's chat turn fits, so their next turn
# copies the whole conversation, and a longer prompt's rest is read a piece a step.
SLOT_GROWTH_TOKENS = DECODE_CHUNK


@dataclass
class Slot:
    seq: int
    adapter: str = ""
    tokens: list[int] = field(default_factory=list)


@dataclass
class Row:
    seq: int
    prompt: list[int]
    max_new: int
    min_new: int = 0
    limits: RowLimits = NO_LIMITS  # its stop strings (its cap is `max_new`)
    new: list[int] = field(default_factory=list)
    done: bool = False
    finish: FinishReason = "length"
    bad_logits: bool = False
    adapter: str = ""
    fed: int = 0  # prompt tokens in its KV cells so far (copied from the slot or decoded)
    copied: int = 0  # of those, copied from the prefix slot
    source: int = -1  # the sequence of the prefix slot they were copied from
    cells: int = 0  # KV cells held for it: its own prompt tokens and its reply
    request: Request | None = None
    admitted: float = field(default_factory=time.monotonic)
    # Its reply's text, read on the engine thread: read on the event loop once answered,
    # it raced the model being freed at close (a crash when a caller gave up meanwhile).
    text: str = ""


@dataclass(eq=False)
class Request:
    """One conversation asked of the engine: in the inbox, then a row of a pass."""

    messages: ChatMessages
    gen: GenerationSettings
    adapter: str | None  # None: the live adapter when its pass starts
    min_new: int = 0
    limits: RowLimits = NO_LIMITS
    done: Future[Row] = field(default_factory=Future)
    tokens: list[int] | None = None  # encoded and fitted on the engine thread
    # Whether its rendered prompt ended inside an open `<think>` (prompt.opens_think).
    opens_think: bool = False
    # The event loop its caller waits on (None: a blocking call), where a give-up is
    # told (`LlamaCppEngine._tell_unread`).
    loop: asyncio.AbstractEventLoop | None = None

    def joins(self, other: Request) -> bool:
        """Whether the two decode in one pass: one adapter, one way of sampling."""
        return (self.adapter, self.min_new, self.gen) == (other.adapter, other.min_new, other.gen)


def fail_future(done: Future[Any], exc: BaseException) -> None:
    if not done.done():
        with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
            done.set_exception(exc)


class Pass:
    """Rows decoding together under one adapter and one way of sampling.

    Each step feeds every unfinished row its next token, and the prompt of a row that
    joined (copied from the adapter's prefix slot as far as it matches, the rest
    decoded, at most PREFILL_STEP_TOKENS a step while rows decode, so a long prompt does
    not hold their steps, and a piece of about half a second while none does (`read_pieces`), so
    requests that come meanwhile join between two pieces). A row leaves at its own end,
    and its sequence goes to the next request that fits; its KV cells stay taken until no row decodes (see `_leave`),
    or until a request would not fit beside them (see `admit`). Sequence ids and KV
    cells are the engine's, shared with the passes running beside this one.
    """

    def __init__(self, engine: LlamaCppEngine, first: list[Request], alone: bool) -> None:
        """`alone`: no row of any pass decodes, so the prefix slots may change."""
        import numpy as np

        self.engine = engine
        self.head = first[0]
        self.adapter = engine.active_adapter if self.head.adapter is None else self.head.adapter
        self.waiting = deque(first)  # the pass's own requests not admitted yet
        self.rows: list[Row] = []
        self.rng = np.random.default_rng()
        if alone:
            self._prepare_slot([r.tokens or [] for r in first])

    def _prepare_slot(self, prompts: list[list[int]]) -> None:
        """Fill the adapter's prefix slot with what the first requests share (decoded
        once); the other adapter's slot is given up when a row would not fit beside it.
        Only while no row decodes: the slots' cells are shared with rows copied from
        them. A pass started beside others copies what its slot holds."""
        engine = self.engine
        shared = shared_prefix_length(prompts) if engine.prefix_cache else 0
        held = engine._held_slot(self.adapter)
        reused = common_length(held.tokens, prompts[0][:shared]) if held else 0
        growth = engine.costs.read_piece(DECODE_CHUNK) if reused else SLOT_GROWTH_TOKENS
        shared = min(shared, reused + growth)
        needs = [
            len(prompt) - shared + engine._room(prompt, r.limits.cap(r.gen.max_new_tokens))
            for prompt, r in zip(prompts, self.waiting, strict=True)
        ]
        if max(needs) > engine._free_cells(self.adapter, shared):
            engine._drop_slot(self.adapter)
        if not shared:
            return
        if engine._slot_for(self.adapter, prompts[0][:shared]) is not None:
            engine.stats.prefix_reused_tokens += reused * len(prompts)

    def held(self) -> list[Request]:
        """Every request this pass holds and has not answered."""
        return [r.request for r in self.rows if r.request] + list(self.waiting)

    def admit(self, request: Request) -> bool:
        """Make `request` a row, if a sequence and its KV cells are free."""
        engine, ll = self.engine, self.engine._ll
        prompt = request.tokens or []
        cap = engine._room(prompt, request.limits.cap(request.gen.max_new_tokens))
        slot = engine._held_slot(self.adapter)
        copied = min(common_length(slot.tokens, prompt), len(prompt) - 1) if slot else 0
        cells = len(prompt) - copied + cap
        free = engine._unreserved_cells()
        if not engine._free_seqs or cells > free:
            return False
        if cells > free - engine._parked:
            # Under a steady stream of requests, cells parked until no row decodes would
            # fill the cache and hold every newcomer until all rows end. Freed now: the
            # rows decoding may then write into the holes, and their replies may differ
            # from what they would be alone, by float rounding (a greedy tie flips).
            engine._unpark()
            engine.stats.early_unparks += 1
        row = Row(
            seq=engine._free_seqs.pop(0),
            prompt=prompt,
            max_new=cap,
            min_new=request.min_new,
            limits=request.limits,
            adapter=self.adapter,
            fed=copied,
            copied=copied,
            source=slot.seq if slot and copied else -1,
            cells=cells,
            request=request,
        )
        ll.llama_memory_seq_rm(engine._mem, row.seq, -1, -1)
        if copied:
            ll.llama_memory_seq_cp(engine._mem, row.source, row.seq, 0, copied)
        engine._reserved += cells
        self.rows.append(row)
        return True

    def admit_waiting(self) -> None:
        """Its waiting requests, in order, while each fits. When none fits with no row
        decoding anywhere, the other adapter's slot goes; if even that is not enough
        the request can never fit."""
        engine = self.engine
        while self.waiting:
            if self.admit(self.waiting[0]):
                self.waiting.popleft()
                continue
            if engine._any_rows(self):
                break  # room comes as rows end
            engine._unpark()
            if not engine._drop_slot(self.adapter):
                break
        if self.waiting and not engine._any_rows(self):
            raise RuntimeError("a request does not fit the KV cache even alone")

    def drop_cancelled(self) -> None:
        """Rows and requests whose caller gave up (timed out, went away) stop here."""
        self.waiting = deque(r for r in self.waiting if not r.done.cancelled())
        for row in [r for r in self.rows if r.request and r.request.done.cancelled()]:
            if len(row.prompt) - row.fed > LONG_PROMPT_TOKENS:
                self.engine._tell_unread(row)
            self._leave(row)

    def _leave(self, row: Row) -> None:
        """The row's sequence id is free for the next request; its KV cells are not, until
        no row decodes. llama.cpp puts new tokens in the lowest free cells, and flash
        attention sums a sequence's cells in cell order: a row still decoding would
        write into the holes below its earlier tokens, and its scores (its greedy reply)
        would change with who left before it."""
        engine, ll = self.engine, self.engine._ll
        # The slot's cells it copied are parked once, by the first row that leaves with
        # them: llama.cpp adding a sequence to a cell that has it counts it twice in its
        # position table (the parking sequence would then seem to hold cells it lost).
        already = engine._parked_from.get(row.source, 0)
        ll.llama_memory_seq_cp(
            engine._mem, row.seq, engine.parking_seq, min(already, row.copied), -1
        )
        ll.llama_memory_seq_rm(engine._mem, row.seq, -1, -1)
        self.rows.remove(row)
        engine._free_seqs.append(row.seq)
        engine._reserved -= row.cells
        engine._parked += row.fed - row.copied + len(row.new)
        if row.copied:
            engine._parked_from[row.source] = max(row.copied, already)

    def release(self) -> None:
        """Free the cells of rows that did not end (the pass failed)."""
        engine = self.engine
        for row in self.rows:
            engine._ll.llama_memory_seq_rm(engine._mem, row.seq, -1, -1)
            engine._free_seqs.append(row.seq)
            engine._reserved -= row.cells
        self.rows = []

    def step(self) -> None:
        """Each decoding row's last token, then prompt tokens of rows still reading
        theirs; then a sampled token for each row that got scores.

        The two go to llama.cpp in separate calls: a call's size picks the CPU kernels,
        and a decoding row's scores must not depend on another row's prompt beside it
        (greedy replies changed when a joining prompt shared the step)."""
        engine = self.engine
        # Another pass, or a job between steps, may have applied another adapter.
        engine._use_adapter(self.adapter)
        decoding = [row for row in self.rows if row.new]
        replying = engine._any_replying(self)
        budget = PREFILL_STEP_TOKENS if replying else engine.costs.read_piece(DECODE_CHUNK)
        steps = [
            (row.new[-1], len(row.prompt) + len(row.new) - 1, row.seq, True) for row in decoding
        ]
        scored: list[tuple[Row, Any]] = []
        if steps:
            started = time.perf_counter()
            got = engine._decode(steps)
            engine.costs.stepped(time.perf_counter() - started)
            scored += [(row, got[i]) for i, row in enumerate(decoding)]
        reads: list[tuple[int, int, int, bool]] = []
        finishing: list[tuple[Row, int]] = []
        # The shortest rest first: a short question beside a long prompt starts its
        # reply at once, and the long one reads no more than its share while it does.
        for row in sorted(self.rows, key=lambda row: len(row.prompt) - row.fed):
            if row.new:
                continue
            rest = len(row.prompt) - row.fed
            take = min(rest, budget)
            if rest > LONG_PROMPT_TOKENS and (replying or finishing):
                take = min(take, engine.costs.long_share(PREFILL_STEP_TOKENS))
            budget -= take
            if not take:
                continue
            last = len(row.prompt) - 1
            reads += [
                (row.prompt[p], p, row.seq, p == last) for p in range(row.fed, row.fed + take)
            ]
            row.fed += take
            if row.fed == len(row.prompt):
                finishing.append((row, len(reads) - 1))
        if reads:
            started = time.perf_counter()
            got = engine._decode(reads)
            engine.costs.read(len(reads), time.perf_counter() - started)
            scored += [(row, got[at]) for row, at in finishing]
        for row, logits in scored:
            token = engine._sample(row, logits, self.head.gen, self.rng)
            stop = token in engine.stop_tokens
            if not stop:
                row.new.append(token)
                # Only rows with stop strings pay for decoding their text.
                stop = bool(row.limits.stop) and (
                    row.limits.stop_at(engine.text.detokenize(row.new[-row.limits.tail_tokens() :]))
                    >= 0
                )
            if stop:
                row.finish = "stop"
            if stop or len(row.new) >= row.max_new:
                row.done = True
                row.text = engine.text.detokenize(row.new)
                self._leave(row)
                if row.request is not None and not row.request.done.done():
                    with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
                        row.request.done.set_result(row)
