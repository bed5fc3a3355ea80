"""Continuous batching for the transformers engine: rows join the batch being generated.

`generate()` runs a batch from its first token to its longest row's last, so a request
that came a moment after it started waited for all of those replies before its own first
token: on a GPU with a busy group, seconds of every reply. `StepLoop` decodes one token of
every running row per forward pass, as `generate()` does inside, and between two passes
it takes in the rows that came meanwhile: their prompts are read in one forward pass (the
shared system prompt's states come from the prefix cache), and their KV states are put
beside the running rows'. A row leaves the batch, and is answered, at its own end.

The running rows' cache is one tensor per layer, [rows, heads, columns, head size].
Rows that joined later are shorter: they are padded on the left and masked out, and each
row keeps its own positions, so a row's numbers are those it would have alone (up to
float rounding from the batch's shape). Columns that every row masks are cut off as rows
leave.

The loop is a job of the engine thread (`EngineThread`). When another job waits for the
thread (an adapter load or switch, a smoke test, a background summary), the loop takes no
one new, lets the running rows end, and comes back after that job for the rows that came
meanwhile: the adapter never changes under a running row.

Only models whose cache is plain full attention (`DynamicLayer`s) take part; the others
keep `generate()`, a batch at a time (`LocalEngine.joins_running`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Protocol

from atri.config import GenerationSettings
from model.character.prompt import ChatMessages
from model.engines.base import EngineStats, EngineThread, Generation, RowLimits
from model.engines.prefix_cache import pad_after_prefix, shared_prefix_length

log = logging.getLogger(__name__)

# Prompt tokens read in one step while rows decode: a long prompt (a /v1 client's whole
# conversation) is read over several steps instead of holding every reply for all of it.
READ_STEP_TOKENS = 128
# Columns reserved past the filled part of the running cache, so that most steps write in
# place instead of copying every row's states (transformers' DynamicLayer concatenates).
ROOM_STEP = 64


@dataclass(eq=False)
class StepRow:
    """One request in the step loop: its chat and limits; once admitted, its prompt,
    its token cap and its reply so far. `done` is answered from the engine thread."""

    messages: ChatMessages
    gen: GenerationSettings
    limits: RowLimits
    done: Future[Generation] = field(default_factory=Future)
    prompt: list[int] = field(default_factory=list)
    cap: int = 1
    thinks: bool = False  # the prompt opens `<think>`
    version: str = ""
    new: list[int] = field(default_factory=list)
    ids: Any = None  # prompt + reply on the model's device, for the repetition penalty

    def gone(self) -> bool:
        """Nobody waits for the rest of this reply."""
        return self.done.cancelled() or self.limits.abandoned()


class StepHost(Protocol):
    """What the step loop needs from its engine (LocalEngine)."""

    model: Any
    stop_ids: list[int]
    active_adapter: str
    last_only: dict[str, int]  # forward's keyword for the last position's logits alone

    @property
    def pad_id(self) -> int: ...

    @property
    def caches_prefixes(self) -> bool:
        """Whether the prefix cache is on."""
        ...

    def encode(self, rows: list[StepRow]) -> list[list[int]]:
        """The rows' prompts as tokens; sets each row's prompt, cap and `thinks`."""
        ...

    def warm(self, prefix: list[int]) -> bool:
        """Put `prefix`'s states in the live adapter's prefix cache; False when the
        cache is off (it turns itself off for good on a model it cannot serve)."""
        ...

    def prefix_states(self, prompts: list[list[int]]) -> tuple[int, Any]:
        """(tokens the prompts share, the prefix cache's states of them for every row),
        or (0, None)."""
        ...

    def scope(self) -> Any:
        """A context in which forward passes run with the live adapter (or none)."""
        ...

    def fall_back(self, rows: list[StepRow], reason: str) -> None:
        """Serve these rows, and every later one, with generate(), a batch at a time."""
        ...

    def stopped(self, row: StepRow) -> bool:
        """Whether the row's reply so far holds one of its stop strings."""
        ...

    def answer(self, row: StepRow) -> Generation:
        """The row's reply from its new tokens (counted in the engine's stats)."""
        ...


def fail(done: Future[Any], exc: BaseException) -> None:
    if not done.done():
        with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
            done.set_exception(exc)


def settle(done: Future[Any], value: Any) -> None:
    if not done.done():
        with contextlib.suppress(InvalidStateError):
            done.set_result(value)


class StepLoop:
    """The inbox of rows and the engine thread's decode loop over them."""

    def __init__(
        self, host: StepHost, thread: EngineThread, stats: EngineStats, keyword: str, config: Any
    ) -> None:
        self.host = host
        self.thread = thread
        self.batch = RunningBatch(keyword, config)
        self._lock = threading.Lock()
        self._inbox: list[StepRow] = []
        self._serving = False
        self._closed = False
        self.stats = stats
        self.reading: Reading | None = None  # rows whose prompts are being read
        self.steps = 0

    def add(self, rows: list[StepRow]) -> None:
        """Queue rows; the loop takes them in at its next step, or starts with them."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the local engine is closed")
            self._inbox.extend(rows)
            start, self._serving = not self._serving, True
        if start:
            try:
                self.thread.submit(self.serve)
            except RuntimeError:
                with self._lock:
                    self._inbox = [r for r in self._inbox if r not in rows]
                    self._serving = False
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def serve(self) -> None:
        """The loop: take the inbox in, step the running rows, until nothing is left.
        While another job waits for the thread no one new is taken; once the running
        rows ended the loop gives way, and is queued again behind that job."""
        while True:
            with self._lock:
                for row in self._inbox:
                    if row.gone():  # nobody waits for it: not run
                        settle(row.done, Generation(text="", new_tokens=0, adapter_version=""))
                self._inbox = [r for r in self._inbox if not r.gone()]
                held = self.batch.rows + (self.reading.rows if self.reading else [])
                if self._closed or not (held or self._inbox):
                    closed = RuntimeError("the local engine is closed")
                    for row in self._inbox + held:
                        fail(row.done, closed)
                    self._inbox, self.reading = [], None
                    self.batch.clear()
                    self._serving = False
                    return
                taking: list[StepRow] = []
                if self.reading is None and self._inbox and not self.thread.waiting:
                    taking, self._inbox = self._inbox, []
                elif not held and self.thread.waiting:
                    self.thread.submit(self.serve)  # after the job that waits
                    return
            held += taking
            try:
                with self.host.scope():
                    if taking:
                        self._start_reading(taking)
                    if self.reading is not None:
                        self._read()
                    if self.batch.rows:
                        self._step()
            except Exception as exc:
                self.batch.clear()
                self.reading = None
                self._failed([row for row in held if not row.done.done()], exc)

    def _failed(self, rows: list[StepRow], exc: Exception) -> None:
        """A forward pass failed. Before any step worked, the model takes no part (its
        forward refuses these inputs): these rows and every later one go through
        generate(). After, the rows are told (out of memory, say) and the loop goes on."""
        import torch

        if not self.steps and not isinstance(exc, torch.OutOfMemoryError):
            with self._lock:
                rows += self._inbox
                self._inbox = []
            self.host.fall_back(rows, f"{type(exc).__name__}: {exc}")
            return
        log.error("generation failed for %d rows", len(rows), exc_info=exc)
        for row in rows:
            fail(row.done, exc)

    def _start_reading(self, rows: list[StepRow]) -> None:
        if self.batch.rows:
            self.stats.joined_rows += len(rows)
        version = self.host.active_adapter
        for row in rows:
            row.version = version
        self.reading = Reading(self.host, rows, self.batch)

    def _read(self) -> None:
        """The next piece of the prompts being read: all that is left when no row is
        decoding, else at most READ_STEP_TOKENS, so a long prompt does not hold every
        reply in flight for all of it. Read to the end, its rows join the batch."""
        import torch

        assert self.reading is not None
        reading = self.reading
        budget = READ_STEP_TOKENS if self.batch.rows else None
        with torch.inference_mode():
            logits = reading.read(budget)
            if logits is None:
                return
            self.reading = None
            for row in reading.rows:
                row.ids = torch.tensor(row.prompt, device=logits.device)
            first = self._next(logits, reading.rows)
        self.batch.join(reading.rows, reading.layers(), reading.mask, first)
        self._record(reading.rows, first)

    def _step(self) -> None:
        import torch

        with torch.inference_mode():
            logits = self.batch.step(self.host.model)
            chosen = self._next(logits, self.batch.rows)
        self.steps += 1
        self.batch.last = chosen
        self._record(self.batch.rows, chosen)

    def _next(self, logits: Any, rows: list[StepRow]) -> Any:
        min_new = getattr(self.host.model.generation_config, "min_new_tokens", None) or 0
        return next_tokens(logits, rows, self.host.stop_ids, min_new)

    def _record(self, rows: list[StepRow], tokens: Any) -> None:
        """Append each row's new token; rows that ended are answered and leave."""
        import torch

        values = tokens.tolist()  # one copy from the device a step
        ended: set[StepRow] = set()
        for i, (row, token) in enumerate(zip(rows, values, strict=True)):
            row.new.append(token)
            row.ids = torch.cat([row.ids, tokens[i : i + 1]])
            if row.gone():
                ended.add(row)
                settle(row.done, self.host.answer(row))  # counted as decoded; if read, cut
            elif (
                token in self.host.stop_ids
                or len(row.new) >= row.cap
                or (row.limits.stop and self.host.stopped(row))
            ):
                ended.add(row)
                try:
                    settle(row.done, self.host.answer(row))
                except Exception as exc:
                    fail(row.done, exc)
        if ended:
            self.batch.keep([i for i, row in enumerate(self.batch.rows) if row not in ended])


class Reading:
    """New rows' prompts, read a piece at a time: first the start they share, into the
    prefix cache (which computes only what it does not hold yet), then each row's own
    tokens, padded after that start, into a cache of their own."""

    def __init__(self, host: StepHost, rows: list[StepRow], batch: RunningBatch) -> None:
        self.host = host
        self.rows = rows
        self.batch = batch
        self.prompts = host.encode(rows)
        self.shared = shared_prefix_length(self.prompts)
        self.warmed = 0 if host.caches_prefixes else self.shared  # of the shared start
        self.cache: Any = None  # once the shared start is in the prefix cache
        self.at = 0  # columns read into `cache`

    def read(self, budget: int | None) -> Any:
        """Read about `budget` more prompt tokens (None: all that is left): the last
        position's scores once the prompts are read whole, else None."""
        if self.warmed < self.shared:
            self.warmed = self.shared if budget is None else min(self.shared, self.warmed + budget)
            if not self.host.warm(self.prompts[0][: self.warmed]):
                self.warmed = self.shared  # no prefix cache: the start is read as the rest
            if budget is not None:
                return None
        if self.cache is None:
            self._start()
        width = self.ids.shape[1]
        end = width if budget is None else min(width, self.at + max(1, budget // len(self.rows)))
        out = self.host.model(
            input_ids=self.ids[:, self.at : end],
            attention_mask=self.mask[:, :end],
            position_ids=self.positions[:, self.at : end],
            use_cache=True,
            **{self.batch.keyword: self.cache},
            **self.host.last_only,
        )
        self.at = end
        return out.logits[:, -1, :] if end == width else None

    def _start(self) -> None:
        import torch
        from transformers import DynamicCache

        shared, states = self.host.prefix_states(self.prompts)
        ids, mask = pad_after_prefix(self.prompts, shared, self.host.pad_id)
        device = self.host.model.device
        self.ids = torch.tensor(ids, device=device)
        self.mask = torch.tensor(mask, device=device)
        # Positions as generate() gives them: each row counts only its own tokens.
        self.positions = (self.mask.cumsum(dim=1) - 1).clamp(min=0)
        self.cache = states if states is not None else DynamicCache(config=self.batch.config)
        self.at = shared

    def layers(self) -> list[tuple[Any, Any]]:
        return [(layer.keys, layer.values) for layer in self.cache.layers]


@dataclass
class RunningBatch:
    """The rows being decoded together and their KV states (module docstring)."""

    keyword: str  # forward's name for the cache argument
    config: Any
    rows: list[StepRow] = field(default_factory=list)
    cache: Any = None  # a DynamicCache of GrownLayers
    mask: Any = None  # [rows, columns]: 1 where a row has a state
    positions: Any = None  # [rows]: each row's next position
    last: Any = None  # [rows]: each row's latest token, the next step's input

    def clear(self) -> None:
        self.rows, self.cache = [], None
        self.mask = self.positions = self.last = None

    def join(
        self, rows: list[StepRow], layers: list[tuple[Any, Any]], mask: Any, first: Any
    ) -> None:
        """Put rows whose prompts were just read (their states, attention mask and first
        new token) beside the running ones, the shorter side padded on the left."""
        import torch

        positions = mask.sum(dim=1)
        if not self.rows:
            self.rows, self.mask, self.positions, self.last = list(rows), mask, positions, first
            self._set_layers(layers)
            return
        width = max(self.mask.shape[1], mask.shape[1])
        old = [(layer.keys, layer.values) for layer in self.cache.layers]
        self._set_layers(
            [
                (
                    torch.cat([_left_pad(k, width), _left_pad(nk, width)]),
                    torch.cat([_left_pad(v, width), _left_pad(nv, width)]),
                )
                for (k, v), (nk, nv) in zip(old, layers, strict=True)
            ]
        )
        self.mask = torch.cat([_left_pad_mask(self.mask, width), _left_pad_mask(mask, width)])
        self.positions = torch.cat([self.positions, positions])
        self.last = torch.cat([self.last, first])
        self.rows.extend(rows)

    def step(self, model: Any) -> Any:
        """One forward pass over every row's latest token: the scores of each row's
        next token, [rows, vocabulary]."""
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.rows), 1))], dim=1)
        out = model(
            input_ids=self.last[:, None],
            attention_mask=self.mask,
            position_ids=self.positions[:, None],
            use_cache=True,
            **{self.keyword: self.cache},
        )
        self.positions = self.positions + 1
        return out.logits[:, -1, :]

    def keep(self, keep: list[int]) -> None:
        """Only the rows at these indices go on; leading columns no row needs are cut."""
        import torch

        if len(keep) == len(self.rows):
            return
        if not keep:
            self.clear()
            return
        index = torch.tensor(keep, device=self.mask.device)
        self.rows = [self.rows[i] for i in keep]
        mask = self.mask.index_select(0, index)
        used = mask.any(dim=0).nonzero()
        start = int(used[0]) if len(used) else 0
        self.mask = mask[:, start:]
        self.positions = self.positions.index_select(0, index)
        self.last = self.last.index_select(0, index)
        self._set_layers(
            [
                (
                    layer.keys.index_select(0, index)[:, :, start:],
                    layer.values.index_select(0, index)[:, :, start:],
                )
                for layer in self.cache.layers
            ]
        )

    def _set_layers(self, layers: list[tuple[Any, Any]]) -> None:
        from transformers import DynamicCache

        grown = grown_layer_class()
        cache: Any = DynamicCache(config=self.config)
        cache.layers = [grown(k, v) for k, v in layers]
        self.cache = cache


def grown_layer_class() -> Any:
    """A full-attention cache layer that keeps ROOM_STEP columns to spare past its filled
    part: new tokens are written in place, and the room grows when it runs out."""
    from transformers.cache_utils import DynamicLayer

    class GrownLayer(DynamicLayer):  # type: ignore[misc]
        def __init__(self, keys: Any, values: Any) -> None:
            super().__init__()
            filled = keys.shape[-2]
            self._keys = _with_columns(keys, ROOM_STEP)
            self._values = _with_columns(values, ROOM_STEP)
            self.keys = self._keys[:, :, :filled]
            self.values = self._values[:, :, :filled]
            self.device = keys.device
            self.is_initialized = True

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            keys: Any = self.keys
            filled, new = keys.shape[-2], key_states.shape[-2]
            if filled + new > self._keys.shape[-2]:
                self._keys = _with_columns(keys, max(ROOM_STEP, new))
                self._values = _with_columns(self.values, max(ROOM_STEP, new))
            self._keys[:, :, filled : filled + new] = key_states
            self._values[:, :, filled : filled + new] = value_states
            self.keys = self._keys[:, :, : filled + new]
            self.values = self._values[:, :, : filled + new]
            return self.keys, self.values

    return GrownLayer


def _with_columns(states: Any, n: int) -> Any:
    """`states` followed by `n` more (zero) columns, in a new tensor."""
    import torch

    rows, heads, _, dim = states.shape
    return torch.cat([states, states.new_zeros((rows, heads, n, dim))], dim=-2)


def _left_pad(states: Any, width: int) -> Any:
    import torch

    rows, heads, filled, dim = states.shape
    if filled == width:
        return states
    return torch.cat([states.new_zeros((rows, heads, width - filled, dim)), states], dim=-2)


def _left_pad_mask(mask: Any, width: int) -> Any:
    import torch

    missing = width - mask.shape[1]
    if missing == 0:
        return mask
    return torch.cat([mask.new_zeros((mask.shape[0], missing)), mask], dim=1)


def next_tokens(logits: Any, rows: list[StepRow], stop_ids: list[int], min_new: int) -> Any:
    """Each row's next token from its scores, by generate()'s rules and order: no stop
    token before `min_new` new tokens (the model's generation config), repetition
    penalty over the prompt and reply, then, when sampling, temperature, top-k and top-p
    and a draw; else the best score."""
    import torch
    from transformers import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    scores = logits.float()
    early = [i for i, row in enumerate(rows) if len(row.new) < min_new]
    stops = [t for t in stop_ids if 0 <= t < scores.shape[-1]]
    if early and stops:
        at = torch.tensor(early, device=scores.device)[:, None]
        scores[at, torch.tensor(stops, device=scores.device)] = -float("inf")
    if all(not row.gen.do_sample and row.gen.repetition_penalty == 1.0 for row in rows):
        return scores.argmax(dim=-1)  # greedy: one call for the batch
    chosen = []
    for i, row in enumerate(rows):
        row_scores = scores[i : i + 1]
        gen = row.gen
        ids = row.ids[None, :]
        if gen.repetition_penalty != 1.0:
            row_scores = RepetitionPenaltyLogitsProcessor(gen.repetition_penalty)(ids, row_scores)
        if gen.do_sample:
            row_scores = TemperatureLogitsWarper(gen.temperature)(ids, row_scores)
            if gen.top_k > 0:
                row_scores = TopKLogitsWarper(gen.top_k)(ids, row_scores)
            if gen.top_p < 1.0:
                row_scores = TopPLogitsWarper(gen.top_p)(ids, row_scores)
            probs = torch.softmax(row_scores, dim=-1)
            chosen.append(torch.multinomial(probs, 1).reshape(1))
        else:
            chosen.append(row_scores.argmax(dim=-1).reshape(1))
    return torch.cat(chosen)
