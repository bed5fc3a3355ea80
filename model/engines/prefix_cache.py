"""Reusing the KV states of the prompt prefix every request shares (ATRI's system prompt).

The persona prompt is over a thousand tokens and a reply is a few dozen, so on a CPU
most of a request's time went into re-reading the same system prompt. `PrefixCache`
keeps, per adapter, the KV states of the token prefix the last batch began with; the
next batch recomputes only what differs. Rows share the cached prefix, then padding, then their
own tokens:

    [shared prefix ... ][pad pad][own tokens]
    [shared prefix ... ][own tokens longer  ]

Positions come from the attention mask, so each row's own tokens continue right after
the prefix exactly as if there were no padding.

The batch's copy of the states is a `ReservedLayer` per layer, with room for every
token the batch will add: transformers' DynamicLayer concatenates, copying the whole
cache at each generated token, which took half of a decoding step on a long prompt.

Only models whose cache is plain full attention take part: a sliding-window or
linear-attention layer cannot be cut back to a shorter prefix. Anything that fails in
here turns the cache off for good and the engine goes on without it.
"""

from __future__ import annotations

import functools
import inspect
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


def common_length(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def shared_prefix_length(rows: list[list[int]]) -> int:
    """Tokens every row begins with, leaving each row at least one token of its own:
    generation needs the logits of a token it feeds in."""
    shared = min(len(r) for r in rows) - 1
    for row in rows[1:]:
        shared = min(shared, common_length(rows[0], row))
    return max(0, shared)


def pad_after_prefix(
    rows: list[list[int]], shared: int, pad_id: int
) -> tuple[list[list[int]], list[list[int]]]:
    """(input ids, attention mask) with padding between the shared prefix and each row's
    own tokens; with `shared` = 0 this is plain left padding."""
    width = max(len(r) for r in rows)
    ids, mask = [], []
    for row in rows:
        gap = width - len(row)
        ids.append(row[:shared] + [pad_id] * gap + row[shared:])
        mask.append([1] * shared + [0] * gap + [1] * (len(row) - shared))
    return ids, mask


def cache_keyword(model: Any) -> str:
    """transformers renamed generate's `past_key_values` to `cache` (5.x)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    params = inspect.signature(type(base).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def last_logits_only(model: Any) -> dict[str, int]:
    """The forward keyword that computes logits for the last position only, where the
    model has one: a warm-up over a long prefix then skips a prefix x vocabulary tensor."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    params = inspect.signature(type(base).forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in params:
            return {name: 1}
    return {}


@dataclass
class _Entry:
    ids: list[int]
    states: Any  # a DynamicCache holding `ids` for one row


class PrefixCache:
    """The KV states of one token prefix per adapter (the live one, and a new version
    while its smoke test runs, so switching to it costs no recomputation). Used only
    from the engine's thread."""

    def __init__(self, model: Any, enabled: bool = True) -> None:
        if enabled and _sliding_layers_by_config(model):
            # Known from the config (Gemma-2, Mistral, Phi-3 with sliding_window): off from
            # the start, with no warm-up over the prompt and no warning at every start.
            log.info("prefix cache off: the model has sliding-window or linear-attention layers")
            enabled = False
        self.enabled = enabled
        self.keyword = cache_keyword(model) if enabled else ""
        self.warm_up_kwargs = last_logits_only(model) if enabled else {}
        self.entries: dict[str, _Entry] = {}
        self.reused_tokens = 0
        self.computed_tokens = 0

    def held(self, adapter: str, prefix: list[int]) -> int:
        """How many of `prefix`'s first tokens `adapter`'s entry holds already."""
        entry = self.entries.get(adapter)
        return common_length(entry.ids, prefix) if entry else 0

    def drop(self, adapter: str) -> None:
        """Forget an adapter's states (it was unloaded, or is loaded anew)."""
        self.entries.pop(adapter, None)

    def disable(self, reason: str) -> None:
        log.warning("prefix cache turned off: %s", reason)
        self.enabled = False
        self.entries.clear()

    def states_for(
        self, model: Any, adapter: str, prefix: list[int], rows: int, room: int, grow: bool = True
    ) -> Any:
        """A cache holding `prefix` for `rows` rows with `room` more tokens reserved,
        ready to hand to generate (which appends to it), or None when this model cannot
        use one. `model` must be running with `adapter`. `grow=False`: `prefix` is at most
        what the entry holds (`held`), and the entry is left as it is, not cut back to it:
        a prompt read beside another's leaves that one's states alone."""
        from transformers import DynamicCache

        entry = self.warm(model, adapter, prefix) if grow else self._holding(adapter, prefix)
        if entry is None:
            return None
        reserved = _reserved_layer_class()
        batch = DynamicCache(config=model.config)
        n = len(prefix)
        batch.layers = [
            reserved(layer.keys[:, :, :n], layer.values[:, :, :n], rows, n + room)
            for layer in entry.states.layers
        ]
        return batch

    def _holding(self, adapter: str, prefix: list[int]) -> _Entry | None:
        entry = self.entries.get(adapter) if self.enabled else None
        if entry is None or self.held(adapter, prefix) < len(prefix):
            return None
        self.reused_tokens += len(prefix)
        return entry

    def warm(self, model: Any, adapter: str, prefix: list[int]) -> _Entry | None:
        """Make `adapter`'s entry hold `prefix`, reusing what it held as far as it
        matches. Any failure turns the cache off (None): serving goes on without it."""
        if not self.enabled:
            return None
        try:
            return self._extend(model, adapter, prefix)
        except Exception as exc:  # an unusual model or cache class
            self.disable(f"{type(exc).__name__}: {exc}")
            return None

    def _extend(self, model: Any, adapter: str, prefix: list[int]) -> _Entry | None:
        import torch
        from transformers import DynamicCache

        entry = self.entries.get(adapter)
        keep = common_length(entry.ids, prefix) if entry else 0
        if entry is None or keep == 0:
            try:
                entry = self.entries[adapter] = _Entry([], DynamicCache(config=model.config))
            except TypeError:  # transformers 4.x: no per-layer cache types to check
                self.disable("this transformers version cannot tell full-attention layers")
                return None
        elif keep < len(entry.ids):
            entry.states.crop(keep - len(entry.ids))
        entry.ids = entry.ids[:keep]
        if keep < len(prefix):
            device = getattr(model, "device", None)
            ids = torch.tensor([prefix[keep:]], device=device)
            with torch.inference_mode():
                model(
                    input_ids=ids,
                    use_cache=True,
                    **{self.keyword: entry.states},
                    **self.warm_up_kwargs,
                )
            if not _full_attention_only(entry.states):
                self.disable("the model has sliding-window or linear-attention layers")
                return None
        entry.ids = list(prefix)
        self.reused_tokens += keep
        self.computed_tokens += len(prefix) - keep
        return entry


@functools.cache
def _reserved_layer_class() -> Any:
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):  # type: ignore[misc]
        """A full-attention cache layer that writes new tokens into room reserved up
        front; `keys`/`values` stay views of the filled part, as DynamicLayer's are."""

        def __init__(self, keys: Any, values: Any, rows: int, capacity: int) -> None:
            super().__init__()
            _, heads, filled, dim = keys.shape
            self._keys = keys.new_empty((rows, heads, capacity, dim))
            self._values = values.new_empty((rows, heads, capacity, dim))
            self._keys[:, :, :filled] = keys  # one prefix, broadcast to every row
            self._values[:, :, :filled] = values
            self.keys = self._keys[:, :, :filled]
            self.values = self._values[:, :, :filled]
            self.device = keys.device
            self.is_initialized = True

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            keys: Any = self.keys
            filled, new = keys.shape[-2], key_states.shape[-2]
            # Out of room, or `keys` was replaced (beam reordering): concatenate as usual.
            if filled + new > self._keys.shape[-2] or keys.data_ptr() != self._keys.data_ptr():
                return super().update(key_states, value_states, *args, **kwargs)
            self._keys[:, :, filled : filled + new] = key_states
            self._values[:, :, filled : filled + new] = value_states
            self.keys = self._keys[:, :, : filled + new]
            self.values = self._values[:, :, : filled + new]
            return self.keys, self.values

    return ReservedLayer


def _config_cache(model: Any) -> Any:
    """The cache transformers builds from the model's config, or None when it cannot
    (transformers 4.x, or a config DynamicCache cannot read)."""
    try:
        from transformers import DynamicCache

        return DynamicCache(config=model.config)
    except Exception:
        return None


def _sliding_layers_by_config(model: Any) -> bool:
    """Whether the cache transformers builds from the model's config has layers other than
    full attention; False when it cannot tell (then the first warm-up finds out)."""
    states = _config_cache(model)
    return bool(getattr(states, "layers", None)) and not _full_attention_only(states)


def full_attention_by_config(model: Any) -> bool:
    """Whether the cache transformers builds from the model's config is known to hold
    full-attention layers only (False when it cannot tell: transformers 4.x)."""
    return _full_attention_only(_config_cache(model))


def _full_attention_only(states: Any) -> bool:
    from transformers.cache_utils import DynamicLayer

    layers: list[Any] = getattr(states, "layers", None) or []
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)
