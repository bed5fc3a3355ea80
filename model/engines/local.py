"""`LocalEngine`: transformers + peft on this machine.

It runs in one dedicated thread: generation never blocks the event loop, and adapter
loads and switches queue between two batches. Live requests are batched continuously
(`local_steps.StepLoop`): a request starts at the next decoding step, beside the replies
in flight, where the model's cache allows it; else a batch at a time with generate().
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from atri.config import GenerationSettings, Settings
from atri.out_of_memory import is_out_of_memory
from model.character.prompt import THINK_END, THINK_START, ChatMessages, opens_think
from model.engines.base import (
    EngineStats,
    EngineThread,
    FinishReason,
    Generation,
    RowLimits,
    ThreadLoop,
    row_limits,
    start_with_adapter,
    without_reasoning,
)
from model.engines.chat_template import (
    message_defuser,
    render_chat,
    reply_stop,
    turn_opening_tokens,
)
from model.engines.loading import check_window_fits, quiet_peft_wrapping
from model.engines.local_steps import StepLoop, StepRow, fail, settle
from model.engines.prefix_cache import (
    cache_keyword,
    full_attention_by_config,
    last_logits_only,
    pad_after_prefix,
    shared_prefix_length,
)

log = logging.getLogger(__name__)

# Prompt tokens per engine-thread job when a new adapter's prefix states are computed
# beside the live one (about a second on two CPU cores for a 135M model).
WARM_SLICE_TOKENS = 256
# The window of a model whose config does not say how many positions it was built for.
DEFAULT_CONTEXT_WINDOW = 2048


def context_window_of(settings: Settings, model: Any) -> int:
    """`[model] context_window`, else the positions the model was built for. A window
    past those is refused (`check_window_fits`), as the llamacpp engine refuses one past
    its file's: the prompts fitted to it ran past the model's position embeddings."""
    built_for = int(getattr(model.config, "max_position_embeddings", 0) or 0)
    check_window_fits(settings, built_for)
    return settings.model.context_window or built_for or DEFAULT_CONTEXT_WINDOW


class LocalEngine:
    """transformers + peft on this machine. Build with `await LocalEngine.load(settings)`."""

    name = "local"
    # Rows end apart (RowStops): one whose caller left at the next step, and each hands
    # its reply on the step it ends, not at the batch's end (`EndsRowsApart`).
    ends_rows_apart = True

    def __init__(self, loaded: Any, context_window: int, prefix_cache: bool = True) -> None:
        from model.engines.prefix_cache import PrefixCache

        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.base_id: str = loaded.base_id
        self.config_hash: str = loaded.config_hash
        self.context_window = context_window
        self.stats = EngineStats()
        self.active_adapter: str = ""
        # Facts about the bare base model that adapter checks compare against.
        self.module_dims = layer_dims(loaded.model)
        self.embedding_name = _input_embedding_name(loaded.model)
        # The first adapter that put each of peft's embedding wrappers into the model
        # ("trainable tokens", "saved embeddings"): they stay after it is unloaded.
        self.embedding_wrappers: dict[str, str] = {}
        # generate refuses a cache from outside when the model names its own cache class.
        own_cache = getattr(loaded.model.generation_config, "cache_implementation", None)
        if prefix_cache and own_cache:
            log.info(
                "prefix cache off: the model's generation config asks for a %s cache", own_cache
            )
        self.prefix_cache = PrefixCache(loaded.model, enabled=prefix_cache and not own_cache)
        # The tokens that end a reply; generate gets them all, not only its config's.
        self.stop_ids = _stop_ids(loaded.tokenizer, loaded.model)
        # A reply's new tokens as text, reasoning markers kept (reply_decoder).
        self.decode_reply = reply_decoder(loaded.tokenizer)
        # One thread owns the model: batches and adapter changes never interleave.
        self.thread = EngineThread("atri-engine")
        self.last_only = last_logits_only(loaded.model)
        # Without the step loop: rows waiting for the next generate() batch.
        self._pending: list[StepRow] = []
        self._pending_loop = ThreadLoop(self.thread, self._generate_pending, "the local engine")
        # Continuous batching, where the model's cache is plain full attention and its
        # generation config names no cache class of its own (`local_steps`).
        self.steps: StepLoop | None = None
        if not own_cache and full_attention_by_config(loaded.model):
            self.steps = StepLoop(
                self, self.thread, self.stats, cache_keyword(loaded.model), loaded.model.config
            )
        else:
            log.info("continuous batching off: the model's cache is not plain full attention")

    @classmethod
    async def load(cls, settings: Settings) -> LocalEngine:
        from model.engines.loading import load_base_model

        loaded = await asyncio.to_thread(load_base_model, settings)
        engine = cls(loaded, context_window_of(settings, loaded.model), settings.model.prefix_cache)
        if settings.model.adapter:
            await start_with_adapter(settings, engine)
        return engine

    @property
    def adapter_version(self) -> str:
        return self.active_adapter

    @property
    def chat_template(self) -> Any:
        """The template chats are rendered with (`base.chat_template_of`)."""
        return getattr(self.tokenizer, "chat_template", "")

    def count_tokens(self, text: str) -> int:
        """Tokens of a message's text as `render_chat` puts it in a prompt (defused)."""
        safe = message_defuser(self.tokenizer)(text)
        return len(self.tokenizer.encode(safe, add_special_tokens=False))

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        result: list[Generation] = await self.thread.run(self.generate_sync, batch, gen, limits)
        return result

    def generate_sync(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        results = self._generate_batch(batch, gen, limits)
        self._count_call(len(batch))
        return results

    def _count_call(self, rows: int) -> None:
        self.stats.generate_calls += 1
        self.stats.batch_sizes.append(rows)

    def _generate_batch(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        """generate() over the batch (in groups that fit the window): its replies."""
        rows = row_limits(limits, len(batch))
        prompts = self._render(batch)
        encoded = self._tokenize(prompts)
        caps = [self._cap(limit, gen, tokens) for limit, tokens in zip(rows, encoded, strict=True)]
        version = self.active_adapter
        thinks = [opens_think(prompt) for prompt in prompts]
        done: dict[int, Generation] = {}
        prompt_tokens = 0
        with self._adapter_scope():
            for group in window_groups([len(r) for r in encoded], caps, self.context_window):
                if all(rows[i].abandoned() for i in group):
                    # Nobody waits for these (their callers left while others ran): not run.
                    gone = Generation(text="", new_tokens=0, adapter_version=version)
                    done.update((i, gone) for i in group)
                    continue
                got, fed = self._generate_rows(
                    [encoded[i] for i in group],
                    [caps[i] for i in group],
                    [rows[i] for i in group],
                    [thinks[i] for i in group],
                    gen,
                    version,
                )
                done.update(zip(group, got, strict=True))
                prompt_tokens += fed
        results = [done[i] for i in range(len(batch))]
        self.stats.generated_rows += len(batch)
        self.stats.generated_tokens += sum(r.new_tokens for r in results)
        self.stats.prompt_tokens += prompt_tokens
        return results

    def generate_rows(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[asyncio.Future[Generation]]:
        """Replies from the live adapter, one future per row, each done at its row's own
        end: the rows join the decoding in flight at its next step (`StepLoop`), or,
        for a model that cannot, run as one generate() batch after those before them."""
        rows = [
            StepRow(m, gen, limit)
            for m, limit in zip(batch, row_limits(limits, len(batch)), strict=True)
        ]
        if self.steps is not None:
            self.steps.add(rows)
        else:
            self._pending_loop.give(
                lambda: self._pending.extend(rows),
                lambda: setattr(self, "_pending", [r for r in self._pending if r not in rows]),
            )
        self._count_call(len(rows))
        # Cancelling a row's future cancels the wrapped one: the row ends at the next step.
        return [asyncio.wrap_future(row.done) for row in rows]

    def _generate_pending(self) -> None:
        """The rows given since the last batch began, as the next batch (one job)."""
        with self._pending_loop.lock:
            rows, self._pending = self._pending, []
            self._pending_loop.serving = False  # rows given from now start the next batch
        self._generate_step_rows(rows)

    def _generate_step_rows(self, rows: list[StepRow]) -> None:
        """Rows through generate(), a batch at a time (rows of one way of generating
        together), each answered the step it ends."""
        rows = [row for row in rows if not row.done.cancelled()]
        while rows:
            gen = rows[0].gen
            batch = [row for row in rows if row.gen == gen]
            rows = [row for row in rows if row.gen != gen]
            limits = [
                replace(
                    row.limits,
                    given_up=row.gone,
                    deliver=partial(settle, row.done),
                )
                for row in batch
            ]
            try:
                results = self._generate_batch([row.messages for row in batch], gen, limits)
            except Exception as exc:
                log.error("generation failed for a batch of %d", len(batch), exc_info=exc)
                for row in batch:
                    fail(row.done, exc)
                continue
            for row, result in zip(batch, results, strict=True):
                settle(row.done, result)

    # The step loop's host (`local_steps.StepHost`).

    def encode(self, rows: list[StepRow]) -> list[list[int]]:
        prompts = self._render([row.messages for row in rows])
        encoded = self._tokenize(prompts)
        for row, prompt, tokens in zip(rows, prompts, encoded, strict=True):
            row.prompt = tokens
            row.thinks = opens_think(prompt)
            row.cap = self._cap(row.limits, row.gen, tokens)
        return encoded

    def _cap(self, limits: RowLimits, gen: GenerationSettings, prompt: list[int]) -> int:
        """A row's most new tokens, within the window (a prompt the service fitted always
        leaves room)."""
        return max(1, min(limits.cap(gen.max_new_tokens), self.context_window - len(prompt)))

    @property
    def caches_prefixes(self) -> bool:
        return self.prefix_cache.enabled

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    def cached(self, prefix: list[int]) -> int:
        return self.prefix_cache.held(self.active_adapter, prefix)

    def warm(self, prefix: list[int]) -> bool:
        return self.prefix_cache.warm(self.model, self.active_adapter, prefix) is not None

    def prefix_states(self, prompts: list[list[int]], grow: bool = True) -> tuple[int, Any]:
        return self._cached_prefix(prompts, 0, self.active_adapter, grow)

    def scope(self) -> Any:
        return self._adapter_scope()

    @contextmanager
    def decoding(self, versions: list[str]) -> Iterator[dict[str, Any]]:
        if all(version == self.active_adapter for version in versions):
            with self._adapter_scope():
                yield {}
        else:
            # Rows a switch left on the version before it finish with it (peft's mixed
            # adapter batches), beside rows that started under the new one.
            yield {"adapter_names": [version or "__base__" for version in versions]}

    def _mixes(self, name: str) -> bool:
        """Whether rows of the live adapter and of `name` can decode in one batch (peft's
        mixed batches: plain LoRA, no DoRA, no wrapped embeddings or saved modules)."""
        from peft import PeftModel

        if self.embedding_wrappers or not isinstance(self.model, PeftModel):
            return False
        for version in {self.active_adapter, name} - {""}:
            config = self.model.peft_config.get(version)
            if (
                config is None
                or str(getattr(config, "peft_type", "")) not in ("LORA", "PeftType.LORA")
                or getattr(config, "use_dora", False)
                or getattr(config, "modules_to_save", None)
                or getattr(config, "trainable_token_indices", None)
            ):
                return False
        return True

    def stopped(self, row: StepRow) -> bool:
        return row.limits.stop_at(self.decode_reply(row.new[-row.limits.tail_tokens() :])) >= 0

    def answer(self, row: StepRow) -> Generation:
        generation = self._reply(row.new, row.cap, row.limits, row.thinks, row.version)
        self.stats.generated_rows += 1
        self.stats.generated_tokens += generation.new_tokens
        self.stats.prompt_tokens += len(row.prompt)
        return generation

    def fall_back(self, rows: list[StepRow], reason: str) -> None:
        log.warning("continuous batching turned off: %s", reason)
        self.steps = None
        for row in rows:
            row.new, row.ids = [], None
        self._generate_step_rows(rows)

    def _generate_rows(
        self,
        encoded: list[list[int]],
        caps: list[int],
        rows: list[RowLimits],
        thinks: list[bool],
        gen: GenerationSettings,
        version: str,
    ) -> tuple[list[Generation], int]:
        """One generate() over rows that fit the window together: their replies, and the
        prompt tokens fed in. `thinks[i]`: row i's prompt opens `<think>`."""
        kwargs: dict[str, Any] = {
            # The batch runs as long as its longest-allowed row; the others stop on
            # their own (RowStops).
            "max_new_tokens": max(caps),
            "do_sample": gen.do_sample,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.stop_ids,
            "repetition_penalty": gen.repetition_penalty,
        }
        if gen.do_sample:
            kwargs.update(temperature=gen.temperature, top_p=gen.top_p, top_k=gen.top_k)

        # Each row's reply, made once: the step it ends (RowStops hands it on) and again at
        # the batch's end would log a reasoning-only reply's warning twice.
        made: dict[int, tuple[list[int], Generation]] = {}

        def reply(i: int, tokens: list[int]) -> Generation:
            if i not in made or made[i][0] != tokens:
                made[i] = (tokens, self._reply(tokens, caps[i], rows[i], thinks[i], version))
            return made[i][1]

        stops: RowStops | None = None
        if (
            any(cap < kwargs["max_new_tokens"] for cap in caps)
            or any(r.stop for r in rows)
            or any(r.given_up is not None or r.deliver is not None for r in rows)
        ):
            stops = RowStops(caps, rows, self._decode_new, self.stop_ids, reply)
            kwargs["stopping_criteria"] = [stops]
        output, inputs, prompt_tokens = self._generate(encoded, version, kwargs)
        prompt_len = inputs["input_ids"].shape[1]
        results = []
        for i, row in enumerate(output[:, prompt_len:]):
            tokens = row.tolist()
            if stops is not None and stops.ended[i]:
                tokens = tokens[: stops.ended[i]]  # what follows is padding
            results.append(reply(i, tokens))
        return results, prompt_tokens

    def _reply(
        self, tokens: list[int], cap: int, limit: RowLimits, thinks: bool, version: str
    ) -> Generation:
        """A row's reply from its new tokens: up to its cap, its first stop token and its
        first stop string; after a prompt that opens `<think>`, the part after it."""
        tokens = tokens[:cap]
        n = next((j for j, t in enumerate(tokens) if t in self.stop_ids), len(tokens))
        text, cut = limit.cut(self.decode_reply(tokens[:n]))
        finish: FinishReason = "length" if n == cap and not cut else "stop"
        generation = Generation(
            text=text, new_tokens=n, adapter_version=version, finish_reason=finish
        )
        return without_reasoning(generation, "local engine") if thinks else generation

    def _decode_new(self, tokens: Any) -> str:
        return self.decode_reply(tokens.tolist() if hasattr(tokens, "tolist") else tokens)

    def _generate(
        self, rows: list[list[int]], adapter: str, kwargs: dict[str, Any]
    ) -> tuple[Any, dict[str, Any], int]:
        """generate() on token rows, with the prefix cache when it can be used:
        (output, the inputs it was given, prompt tokens)."""
        import torch

        with torch.inference_mode():
            inputs, prompt_tokens = self._inputs(rows, kwargs["max_new_tokens"], adapter)
            try:
                return self.model.generate(**inputs, **kwargs), inputs, prompt_tokens
            except Exception as exc:
                if self.prefix_cache.keyword not in inputs or is_out_of_memory(exc):
                    raise
                # A model whose generate will not take a cache from outside: serve this
                # batch, and every later one, without the prefix cache.
                self.prefix_cache.disable(f"generate refused it ({type(exc).__name__}: {exc})")
                for criterion in kwargs.get("stopping_criteria", []):
                    criterion.reset()  # it counts from this run's first token again
                inputs, prompt_tokens = self._inputs(rows, kwargs["max_new_tokens"], adapter)
                return self.model.generate(**inputs, **kwargs), inputs, prompt_tokens

    def _inputs(
        self, rows: list[list[int]], new_tokens: int, adapter: str
    ) -> tuple[dict[str, Any], int]:
        """generate()'s inputs for token rows run with `adapter`: ids, attention mask and,
        when the rows share a start, its cached KV states; and the prompt token count."""
        import torch

        shared, states = self._cached_prefix(rows, new_tokens, adapter)
        ids, mask = pad_after_prefix(rows, shared, self.tokenizer.pad_token_id)
        device = self.model.device
        inputs: dict[str, Any] = {
            "input_ids": torch.tensor(ids, device=device),
            "attention_mask": torch.tensor(mask, device=device),
        }
        if states is not None:
            inputs[self.prefix_cache.keyword] = states
        return inputs, sum(len(r) for r in rows)

    def _encode(self, batch: list[ChatMessages]) -> list[list[int]]:
        return self._tokenize(self._render(batch))

    def _render(self, batch: list[ChatMessages]) -> list[str]:
        return [render_chat(self.tokenizer, m, add_generation_prompt=True) for m in batch]

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        # The template already holds any BOS token; don't let the tokenizer add another.
        rows: list[list[int]] = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return rows

    def _cached_prefix(
        self, rows: list[list[int]], new_tokens: int, adapter: str, grow: bool = True
    ) -> tuple[int, Any]:
        """(tokens the rows share, their KV states for the batch), or (0, None) to
        generate from scratch (no shared start, or no cache for this model). `grow=False`:
        only what the prefix cache holds already is shared (`PrefixCache.states_for`)."""
        shared = shared_prefix_length(rows)
        if not grow and self.prefix_cache.enabled:
            shared = self.prefix_cache.held(adapter, rows[0][:shared])
        if not self.prefix_cache.enabled or shared == 0:
            return 0, None
        before = self.prefix_cache.reused_tokens
        room = max(len(r) for r in rows) - shared + new_tokens
        states = self.prefix_cache.states_for(
            self.model, adapter, rows[0][:shared], len(rows), room, grow
        )
        if states is None:
            return 0, None
        self.stats.prefix_reused_tokens += (self.prefix_cache.reused_tokens - before) * len(rows)
        return shared, states

    @contextmanager
    def _trying(self, name: str) -> Iterator[None]:
        """Run one engine-thread job with adapter `name` in peft's layers. Only peft's
        active set changes, never `active_adapter`: status and the replies' version tags
        stay on the live adapter meanwhile."""
        if name:
            self.model.set_adapter(name)
        try:
            with self._adapter_scope(name):
                yield
        finally:
            self._set_active(self.active_adapter)

    def _adapter_scope(self, name: str | None = None) -> Any:
        """Generate with adapter `name` (default: the live one). Serving no adapter once
        peft wraps the model means disabling its adapters."""
        from contextlib import nullcontext

        name = self.active_adapter if name is None else name
        if not name and hasattr(self.model, "disable_adapter"):
            return self.model.disable_adapter()
        return nullcontext()

    def load_adapter_sync(self, path: Path, name: str) -> None:
        """Load a peft adapter beside the live one (the live one keeps serving).

        The safetensors header is checked against the base model's layer sizes first,
        so an adapter of another model size never reaches peft; if peft still fails,
        what it half-added is removed again."""
        from peft import PeftConfig, PeftModel

        from model.adapters.validation import ADAPTER_WEIGHTS, check_module_shapes, tensor_shapes
        from model.adapters.versions import AdapterError

        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{path}: not a peft adapter folder (no adapter_config.json).")
        if name in getattr(self.model, "peft_config", {}):
            raise ValueError(f"an adapter named {name!r} is already loaded")
        check_module_shapes(tensor_shapes(path / ADAPTER_WEIGHTS), self.module_dims)
        wrappers = self._embedding_wrappers_of(path)
        self._check_beside_loaded(name, wrappers)
        self.prefix_cache.drop(name)  # states cached under this name came from other weights
        try:
            try:
                if isinstance(self.model, PeftModel):
                    result = self.model.load_adapter(str(path), adapter_name=name)
                else:
                    with quiet_peft_wrapping():
                        config = PeftConfig.from_pretrained(str(path))
                        wrapped = PeftModel(self.model, config, name)
                    try:
                        result = wrapped.load_adapter(str(path), adapter_name=name)
                    except BaseException:
                        wrapped.unload()  # takes the LoRA layers out of the base model again
                        raise
                    self.model = wrapped
            except (RuntimeError, ValueError) as exc:
                # peft's refusals (a page of size mismatches, target modules the base
                # lacks) become one sentence, as every other reason an adapter is refused.
                refusal = peft_refusal(path, name, exc)
                if refusal is None:
                    raise
                raise refusal from exc
            unmatched = [key for key in result.unexpected_keys if ".lora_" in key]
            if unmatched:
                # Tensors peft did not match: the version would load and change nothing.
                raise AdapterError(unmatched_keys_reason(path, unmatched))
        except BaseException:
            if isinstance(self.model, PeftModel) and name in self.model.peft_config:
                self._delete_adapter(name)
            raise
        for wrapper in wrappers:
            self.embedding_wrappers.setdefault(wrapper, name)
        self.model.eval()

    def _embedding_wrappers_of(self, path: Path) -> set[str]:
        """Which of peft's embedding wrappers the adapter in `path` puts into the model:
        "trainable tokens" (trainable_token_indices), "saved embeddings" (the input
        embeddings in modules_to_save)."""
        import json

        config = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
        wrappers = set()
        if config.get("trainable_token_indices"):
            wrappers.add("trainable tokens")
        saved = config.get("modules_to_save") or []
        if self.embedding_name and any(m.split(".")[-1] == self.embedding_name for m in saved):
            wrappers.add("saved embeddings")
        return wrappers

    def _check_beside_loaded(self, name: str, wrappers: set[str]) -> None:
        """peft (0.21) cannot hold these side by side, and the wrappers stay in the model
        once their adapter is unloaded: after trainable tokens, an adapter without them
        fails to load (KeyError on the other's token delta); trainable tokens over saved
        embeddings load, then fail at the first forward pass. Either refused here as the
        conflict it is, naming the adapter that brought the wrapper in."""
        from model.adapters.versions import AdapterConflict

        tokens_by = self.embedding_wrappers.get("trainable tokens")
        saved_by = self.embedding_wrappers.get("saved embeddings")
        if tokens_by and "trainable tokens" not in wrappers:
            raise AdapterConflict(
                f"Version {name} cannot be loaded beside {tokens_by}, loaded before it: {tokens_by} "
                "trains tokens of the embeddings (trainable_token_indices), after which peft "
                f"loads only adapters that do too, so {name} itself is not at fault; restart "
                f"the worker to load {name} on a fresh model."
            )
        if saved_by and "trainable tokens" in wrappers:
            raise AdapterConflict(
                f"Version {name} cannot be loaded beside {saved_by}, loaded before it: {name} trains "
                f"tokens of the embeddings (trainable_token_indices) and {saved_by} saves the "
                "embeddings whole (modules_to_save), which peft cannot run together, so "
                f"{name} itself is not at fault; restart the worker to load {name} on a fresh "
                "model."
            )

    def _set_active(self, name: str) -> None:
        if name:
            self.model.set_adapter(name)
        self.active_adapter = name

    def activate_sync(self, name: str) -> None:
        """Serve `name` from the next batch on ("" = the bare base model)."""
        if name and name not in getattr(self.model, "peft_config", {}):
            raise KeyError(f"adapter {name!r} is not loaded")
        self._set_active(name)

    def unload_adapter_sync(self, name: str) -> None:
        if name and name != self.active_adapter and name in getattr(self.model, "peft_config", {}):
            self.prefix_cache.drop(name)
            self._delete_adapter(name)

    def _delete_adapter(self, name: str) -> None:
        self.model.delete_adapter(name)
        if not self.model.peft_config:
            # peft still names the deleted adapter active and fails to switch it off, so
            # the base model (live when the first version was refused) could not answer.
            self.model = self.model.unload()
            self.embedding_wrappers.clear()  # unload() took peft's wrappers out too
        self._set_active(self.active_adapter)  # peft may move its own active set

    def smoke_sync(self, name: str, messages: ChatMessages, max_new_tokens: int) -> str:
        """One greedy generation with adapter `name`, the live one restored after; as a
        served reply, without the reasoning of a prompt that opens `<think>`."""
        import torch

        from model.adapters.versions import AdapterError

        # Through the prefix cache, so the new version's states for the system prompt
        # are ready before it goes live.
        kwargs = {
            "max_new_tokens": max_new_tokens,
            # The reply must hold real tokens, not an end-of-text at once.
            "min_new_tokens": min(4, max_new_tokens),
            "do_sample": False,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.stop_ids,
            "output_scores": True,
            "return_dict_in_generate": True,
        }
        prompt = self._render([messages])
        with self._trying(name):
            out, inputs, _ = self._generate(self._tokenize(prompt), name, kwargs)
        if any(bool(torch.isnan(step).any()) for step in out.scores):
            raise AdapterError(f"Adapter {name} produces NaN scores (broken weights).")
        new = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
        n = next((j for j, t in enumerate(new) if t in self.stop_ids), len(new))
        reply = Generation(
            text=self.decode_reply(new[:n]),
            new_tokens=n,
            adapter_version=name,
            finish_reason="length" if n == max_new_tokens else "stop",
        )
        if opens_think(prompt[0]):
            reply = without_reasoning(reply, f"local engine, smoke test of {name}")
        return reply.text

    def warm_prefix_sync(self, name: str, prefix: list[int]) -> None:
        with self._trying(name):
            self.prefix_cache.warm(self.model, name, prefix)

    def accepts_config_hash(self, value: str) -> bool:
        return value == self.config_hash

    async def _between_steps(
        self, fn: Callable[..., Any], *args: Any, unused: str | None = None
    ) -> Any:
        """`fn(*args)` on the engine thread between two steps of the replies in flight,
        which go on after it (`StepLoop.between_steps`), for work that leaves them and
        the live adapter alone: loading, warming, smoke-testing and unloading another
        version (`unused`: once no reply in flight decodes with it). A switch, which they
        must not see, waits for them to end instead."""
        if self.steps is None:
            return await self.thread.run(fn, *args)
        return await asyncio.wrap_future(self.steps.between_steps(fn, *args, unused=unused))

    async def load_adapter(self, path: Path, name: str) -> None:
        await self._between_steps(self.load_adapter_sync, path, name)

    async def smoke_test(self, name: str, messages: ChatMessages, max_new_tokens: int) -> str:
        # The new version's states for the prompt are computed a slice at a time, each
        # its own engine-thread job, so live replies step in between: one job for the
        # whole system prompt held replies back for seconds on a CPU.
        if self.prefix_cache.enabled:
            start = (await self._between_steps(self._encode, [messages]))[0][:-1]
            for end in range(WARM_SLICE_TOKENS, len(start) + WARM_SLICE_TOKENS, WARM_SLICE_TOKENS):
                await self._between_steps(
                    self.warm_prefix_sync, name, start[: min(end, len(start))]
                )
        result: str = await self._between_steps(self.smoke_sync, name, messages, max_new_tokens)
        return result

    async def activate(self, name: str) -> None:
        """Serve `name` from now on. Rows in flight finish with the version they began
        with, beside the new version's (`decoding`); where the two cannot share a batch,
        the switch waits for them to end and new rows wait for the switch."""
        if self.steps is not None and self._mixes(name):
            await self._between_steps(self.activate_sync, name)
        else:
            await self.thread.run(self.activate_sync, name)

    async def unload_adapter(self, name: str) -> None:
        # After a switch, once the rows that began with it have ended.
        await self._between_steps(self.unload_adapter_sync, name, unused=name)

    async def close(self) -> None:
        if self.steps is not None:
            self.steps.close()
        await self.thread.close()


class RowStops:
    """A stopping criterion for generate() that ends each row apart: at its own token
    cap, at a stop token, once its reply holds one of its stop strings, or once its
    caller gave up (`RowLimits.given_up`: nobody reads the rest). It answers one flag per
    row, so rows of one batch stop at different lengths while the others go on;
    `ended[i]` is how many new tokens row i had when it stopped (0: not stopped here).
    A row whose limits hold `deliver` gets its reply (`reply(i, its new tokens)`) the
    step it ends, while the batch's longer rows go on."""

    def __init__(
        self,
        caps: list[int],
        limits: list[RowLimits],
        decode: Callable[[Any], str],
        stop_ids: Collection[int] = (),
        reply: Callable[[int, list[int]], Generation] | None = None,
    ) -> None:
        self.caps = caps
        self.limits = limits
        self.decode = decode
        self.stop_ids = frozenset(stop_ids)
        self.reply = reply
        self.reset()

    def reset(self) -> None:
        self.ended = [0] * len(self.caps)
        self.prompt_len: int | None = None

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        if self.prompt_len is None:  # first call: one new token per row so far
            self.prompt_len = input_ids.shape[1] - 1
        new = input_ids.shape[1] - self.prompt_len
        last = input_ids[:, -1].tolist()  # one copy from the device a step, not one a row
        for i, (cap, limit) in enumerate(zip(self.caps, self.limits, strict=True)):
            if self.ended[i]:
                continue
            if (
                new >= cap
                or last[i] in self.stop_ids
                or limit.abandoned()
                or (limit.stop and limit.stop_at(self.decode(self._tail(input_ids, i))) >= 0)
            ):
                self.ended[i] = new
                if limit.deliver is not None and self.reply is not None and not limit.abandoned():
                    limit.deliver(self.reply(i, input_ids[i, self.prompt_len :].tolist()))
        return torch.tensor([bool(e) for e in self.ended], device=input_ids.device)

    def _tail(self, input_ids: Any, i: int) -> Any:
        """Row i's newest tokens, enough to hold any of its stop strings."""
        assert self.prompt_len is not None
        start = max(self.prompt_len, input_ids.shape[1] - self.limits[i].tail_tokens())
        return input_ids[i, start:]


def reply_decoder(tokenizer: Any) -> Callable[[Sequence[int]], str]:
    """decode() for a reply's tokens, dropping special tokens as skip_special_tokens does
    but keeping `<think>` and `</think>` where the tokenizer marks them special: skipped,
    the marker that ends a reply's reasoning vanished before without_reasoning looked for
    it, and every reply after a prompt that opens `<think>` counted as all reasoning."""
    added = getattr(tokenizer, "added_tokens_decoder", {})
    specials = set(tokenizer.all_special_ids)
    specials |= {i for i, token in added.items() if getattr(token, "special", False)}
    markers = {
        i
        for i, token in added.items()
        if getattr(token, "content", token) in (THINK_START, THINK_END)
    }
    if not markers & specials:

        def plain(ids: Sequence[int]) -> str:
            return str(tokenizer.decode(ids, skip_special_tokens=True))

        return plain
    dropped = specials - markers

    def keeping_markers(ids: Sequence[int]) -> str:
        kept = [i for i in ids if i not in dropped]
        return str(tokenizer.decode(kept, skip_special_tokens=False))

    return keeping_markers


def window_groups(lengths: list[int], caps: list[int], window: int) -> list[list[int]]:
    """Row indices in groups that one generate() can run inside the context window: a
    group's longest prompt plus its largest cap fits, since padding makes every row as
    long as the longest and every row runs as many steps as the largest cap (HF keeps
    appending to finished rows, so their positions grow too). Longest prompts are placed
    first, each in the first group it fits; a row too long even alone runs alone. Each
    group keeps the batch's order, so a batch that fits whole is one group as before."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        # Longest first: a group's first row is its longest.
        fits = (g for g in groups if lengths[g[0]] + max(caps[i], *(caps[j] for j in g)) <= window)
        group = next(fits, None)
        if group is None:
            groups.append([i])
        else:
            group.append(i)
    return [sorted(g) for g in groups]


# peft's (torch's) line for one tensor whose shape differs from the model's.
_SIZE_MISMATCH = re.compile(
    r"size mismatch for (?P<key>\S+): copying a param with shape torch\.Size\((?P<saved>\[[^\]]*\])\)"
    r" from checkpoint, the shape in current model is torch\.Size\((?P<model>\[[^\]]*\])\)"
)


def peft_refusal(path: Path, name: str, exc: Exception) -> Exception | None:
    """peft's own refusal of the adapter in `path` as one sentence (an AdapterError);
    None for an exception that is not one of its refusals."""
    from model.adapters.versions import AdapterError

    text = str(exc)
    mismatch = _SIZE_MISMATCH.search(text)
    if mismatch is not None:
        key = _plain_key(mismatch["key"], name)
        return AdapterError(
            f"{path}: peft cannot load it into this base model, since {key} is "
            f"{mismatch['saved']} in the adapter but {mismatch['model']} in the model: it "
            "was trained on a model with another vocabulary or size (an adapter saved with "
            "resized embeddings, from added tokens, needs the base and tokenizer it was "
            "trained with)."
        )
    if isinstance(exc, ValueError):
        # Its first sentence: "Target modules {'wq', 'wv'} not found in the base model".
        first = text.strip().splitlines()[0].split(". ")[0] if text.strip() else type(exc).__name__
        return AdapterError(
            f"{path}: peft cannot load it into this base model ({first.rstrip('.')})."
        )
    return None


def unmatched_keys_reason(path: Path, keys: list[str]) -> str:
    shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    return (
        f"{path}: {len(keys)} of its LoRA tensors match no layer peft made for it "
        f"({shown}), so they would change nothing: their names are not the ones peft "
        "saves (save the adapter with peft's save_pretrained)."
    )


def _plain_key(key: str, name: str) -> str:
    """A state-dict key as the adapter file names it, without peft's wrapping."""
    key = key.removeprefix("base_model.model.")
    return key.replace(f".modules_to_save.{name}", "").replace(".original_module", "")


def layer_dims(model: Any) -> dict[str, tuple[int, int]]:
    """(in, out) sizes of every layer LoRA can attach to: linear layers, GPT-2's Conv1D
    (no in_features; its weight is stored (in, out)) and embeddings."""
    dims: dict[str, tuple[int, int]] = {}
    for name, module in model.named_modules():
        if isinstance(getattr(module, "in_features", None), int):
            dims[name] = (module.in_features, module.out_features)
        elif type(module).__name__ == "Conv1D" and isinstance(getattr(module, "nf", None), int):
            dims[name] = (int(module.weight.shape[0]), module.nf)
        elif isinstance(getattr(module, "num_embeddings", None), int):
            dims[name] = (module.num_embeddings, module.embedding_dim)
    return dims


def _input_embedding_name(model: Any) -> str:
    """The input embedding layer's own name ("embed_tokens", "wte"), as modules_to_save
    names it; "" when the model does not say."""
    try:
        embeddings = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        return ""
    for name, module in model.named_modules():
        if module is embeddings:
            return str(name.split(".")[-1])
    return ""


def _stop_ids(tokenizer: Any, model: Any) -> list[int]:
    """The tokenizer's EOS, the generation config's eos_token_id (one or a list), and the
    token that ends a reply under the chat template (chat_template.reply_stop), which
    training labels: GLM-4's <|user|> or Gemma's <end_of_turn> is missing from the
    generation config of some uploads, and generation then ran on into a made-up turn.
    And the special tokens the template opens a person's turn with
    (chat_template.turn_opening_tokens), which decoding would drop before `clean_reply`
    could cut the made-up turn there."""
    ids: set[int] = {token_id for _, token_id in turn_opening_tokens(tokenizer)}
    stop = reply_stop(tokenizer)
    stop_id = tokenizer.convert_tokens_to_ids(stop.token) if stop else None
    config = getattr(model.generation_config, "eos_token_id", None)
    for value in (tokenizer.eos_token_id, config, stop_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(value)
    return sorted(ids)
