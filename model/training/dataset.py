"""Conversations → token ids with labels on ATRI's (assistant) tokens only.

The base model's own chat template renders each conversation, tokenized whole as the
worker tokenizes a prompt; every assistant reply is labelled with the token that ends it
(the template's end-of-turn marker; where it writes none, as GLM-4's, the next role
marker, or an EOS added after the last reply), everything else is -100. A conversation
longer than `max_len` loses its oldest exchanges, never part of a reply.
Optional packing puts several short samples in one row, each with its own positions,
so attention never crosses from one sample into the next. Reading the files into
Conversations is sharegpt.py.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from model.character.prompt import THINK_END, THINK_START, opens_think
from model.engines.chat_template import (
    apply_template,
    chat_rules,
    checked,
    conform,
    message_defuser,
    reply_end,
    special_tokens,
)
from model.engines.special_text import defused
from model.training.sharegpt import Conversation

IGNORE = -100
# A conversation of at most this many exchanges is tried whole first (most fit); a longer
# one is grown from its newest exchange (see fit_conversation).
WHOLE_FIRST_EXCHANGES = 8
# How much a tokenizer's normaliser may shorten text (NFKC joins a letter and its accent,
# a half-width kana and its mark): the token floor allows for four times that.
_FLOOR_SHRINK = 4
# Text shorter than this (a quarter of a second to tokenize) is always tokenized.
_FLOOR_MIN_CHARS = 1 << 18


@dataclass
class Sample:
    input_ids: list[int]
    labels: list[int]
    hidden: int = 0  # replies the chat template hides: in the text, without labels

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class TokenizedSet:
    samples: list[Sample]
    truncated: int = 0  # conversations that lost their oldest exchanges
    unplaced: int = 0  # conversations left out: the template hides every reply
    hidden: int = 0  # replies the template hides in the conversations kept
    skipped: int = 0  # conversations whose last exchange alone is too long
    lengths: list[int] = field(default_factory=list)
    # Of the conversations left out for length: (index in the file, tokens of its last
    # exchange alone) for the longest and the shortest, to say what would fit.
    longest_skipped: tuple[int, int] | None = None
    shortest_skipped: tuple[int, int] | None = None
    # Indices whose count above is only a floor (too long to be worth tokenizing).
    at_least: set[int] = field(default_factory=set)

    def why_left_out(self, max_len: int) -> list[str]:
        """Why conversations are left out, one phrase per cause (eval and training say
        it of the held-out file)."""
        causes = []
        if self.skipped:
            causes.append(
                f"{self.skipped} too long for [train] max_seq_length = {max_len} even with "
                "only their last exchange"
            )
        if self.unplaced:
            causes.append(f"{self.unplaced} whose replies the chat template all hides")
        return causes

    def left_out(self, index: int, tokens: int) -> None:
        """Count conversation `index` as too long: its last exchange takes `tokens`."""
        self.skipped += 1
        if self.longest_skipped is None or tokens > self.longest_skipped[1]:
            self.longest_skipped = (index, tokens)
        if self.shortest_skipped is None or tokens < self.shortest_skipped[1]:
            self.shortest_skipped = (index, tokens)

    def needs(self, skipped: tuple[int, int] | None) -> str:
        """How many tokens a left-out conversation needs, as the report says it."""
        index, tokens = skipped or (0, 0)
        return f"at least {tokens}" if index in self.at_least else str(tokens)

    @property
    def tokens(self) -> int:
        return sum(len(s) for s in self.samples)

    @property
    def label_tokens(self) -> int:
        return sum(sum(1 for x in s.labels if x != IGNORE) for s in self.samples)


def _render(tokenizer: Any, messages: list[dict[str, str]], prompt: bool) -> str:
    return checked(
        lambda: apply_template(tokenizer, messages, prompt), str(tokenizer.chat_template)
    )


def _segments(tokenizer: Any, conv: Conversation) -> tuple[list[tuple[str, bool]], int]:
    """Cut the rendered conversation into (text, is_reply) pieces, in order, and count
    the replies the template hides (left in the text without a label). The
    conversation is first put in the shape the template takes (chat_template.conform),
    as the worker does with every prompt. A reply's piece ends with the token that stops
    it (chat_template.reply_end): the template's end-of-turn token, or where it writes
    none (GLM-4) the next role marker, or the EOS added after the last reply."""
    # Special tokens' text in a message is defused, as the worker defuses it (special_text):
    # the adapter learns the tokens it will be shown.
    safe = defused(_marked_messages(conv), message_defuser(tokenizer))
    messages = conform(safe, chat_rules(tokenizer))
    # The mark comes off before any render; the copies conform made carry it (a run of
    # replies it joins takes its first reply's).
    learns = [bool(m.pop(_LEARNS, False)) for m in messages]
    full = _render(tokenizer, messages, prompt=False)
    specials = special_tokens(tokenizer)
    segments: list[tuple[str, bool]] = []
    done = 0  # characters of `full` already cut into segments
    eos = ""  # added after `full` when the last reply needs it to stop
    hidden = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or not learns[i] or not m["content"].strip():
            # An empty reply, or one marked "weight": 0, stays as context: an empty one's
            # end token alone would teach her to say nothing.
            continue
        before = _render(tokenizer, messages[:i], prompt=True)
        upto = _render(tokenizer, messages[: i + 1], prompt=False)
        if full.startswith(upto) and upto.startswith(before) and len(before) >= done:
            start, end = len(before), len(upto)
        else:
            # Templates that rewrite history (e.g. Qwen3 strips old reasoning) are not
            # prefix consistent: find the reply where the template put it.
            try:
                start, end = _place(tokenizer, messages, i, full, done)
            except ReplyNotFound:
                hidden += 1  # the replies around it are still learnt from
                continue
        end, needs_eos = reply_end(full, start, end, specials)
        if needs_eos:
            eos = getattr(tokenizer, "eos_token", None) or ""
        opened = _think_left_open(before, full[:start])
        segments.append((full[done:start] + opened, False))
        segments.append(((_CLOSE_THINK if opened else "") + full[start:end], True))
        done = end
    segments.append((full[done:], False))
    segments.append((eos, True))
    return [(t, label) for t, label in segments if t], hidden


# What she learns to write first after a prompt left inside an open `<think>`: the
# served path (prompt.reply_after_open_think) keeps what follows it as her reply.
_CLOSE_THINK = f"{THINK_END}\n\n"


def _think_left_open(prompt: str, context: str) -> str:
    """The open `<think>` text (`<think>\\n`) that the generation prompt (`prompt`)
    ends in and the rendered chat (`context`, up to her reply) lacks, or "". A
    DeepSeek-R1 distill's template opens `<think>` in the prompt the worker generates
    from, but writes a past reply (its reasoning removed) right after the role marker:
    trained on that, the adapter would never see the prompt it answers from."""
    if not opens_think(prompt):
        return ""
    tail = context.rstrip()
    if tail.endswith((THINK_START, THINK_END)):
        return ""  # the template writes the block before the reply itself
    return prompt[prompt.rindex(THINK_START) :]


# Marks, on each message _segments renders, whether it carries loss (Conversation.learns).
_LEARNS = "atri_learns"


def _marked_messages(conv: Conversation) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = list(conv.messages())
    head = len(messages) - len(conv.turns)  # the system prompt, if any
    for i in range(len(conv.turns)):
        messages[head + i] = {**messages[head + i], _LEARNS: conv.learns(i)}
    return messages


class ReplyNotFound(Exception):
    """A reply whose place in the rendered chat cannot be found: it goes without a
    label (and is counted); a conversation with no reply found is left out."""


# Stands in for a reply, to see what the template writes before and after it.
_MARK = "ATRI-REPLY-PLACE"


def _place(
    tokenizer: Any, messages: list[dict[str, str]], i: int, full: str, done: int
) -> tuple[int, int]:
    """Where reply `i` lies in `full` (start, end), as the template renders it (reasoning
    stripped, whitespace trimmed): the chat rendered with a mark in its place shows the
    text before and after it. Searching `full` for the reply's text matched a short
    reply ("嗯") inside the user message before it, and missed a trimmed one."""
    marked = [*messages[:i], {**messages[i], "content": _MARK}, *messages[i + 1 :]]
    head, mark, tail = _render(tokenizer, marked, prompt=False).partition(_MARK)
    end = len(full) - len(tail)
    if (
        not mark
        or not done <= len(head) <= end
        or not (full.startswith(head) and full.endswith(tail))
    ):
        raise ReplyNotFound
    return len(head), end


def tokenize_conversation(tokenizer: Any, conv: Conversation) -> Sample:
    segments, hidden = _segments(tokenizer, conv)
    if getattr(tokenizer, "is_fast", False):
        ids, labels = _tokenize_whole(tokenizer, segments)
    else:  # a slow tokenizer gives no character offsets
        ids, labels = _tokenize_pieces(tokenizer, segments)
    return Sample(ids, labels, hidden)


def _tokenize_pieces(
    tokenizer: Any, segments: list[tuple[str, bool]]
) -> tuple[list[int], list[int]]:
    ids: list[int] = []
    labels: list[int] = []
    for text, is_reply in segments:
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if is_reply else [IGNORE] * len(piece)
    return ids, labels


def _tokenize_whole(
    tokenizer: Any, segments: list[tuple[str, bool]]
) -> tuple[list[int], list[int]]:
    """The chat tokenized in one call, as the worker tokenizes a prompt, with labels on the
    tokens whose characters lie inside a reply. Tokenized piece by piece, the ids differed
    from the worker's on SentencePiece tokenizers (Llama, Mistral), which start every
    call with "▁".

    Where a token crosses into or out of a reply (the template's text merged with the
    reply's), the text is cut there and its parts tokenized apart, so that the reply
    starts on a token of its own, as it does after a prompt that ends where it starts."""
    text = "".join(t for t, _ in segments)
    replies = _reply_spans(segments)
    cuts: set[int] = set()
    while True:
        ids, starts, ends = _encode_runs(tokenizer, text, sorted(cuts))
        labels, crossed = _label_replies(ids, starts, ends, replies)
        if crossed <= cuts:  # nothing new to cut (no token can cross a cut)
            return ids, labels
        cuts |= crossed


def _reply_spans(segments: list[tuple[str, bool]]) -> list[tuple[int, int]]:
    """The (start, end) characters of each reply segment in the joined text."""
    spans, at = [], 0
    for text, is_reply in segments:
        if is_reply:
            spans.append((at, at + len(text)))
        at += len(text)
    return spans


def _encode_runs(
    tokenizer: Any, text: str, cuts: list[int]
) -> tuple[list[int], list[int], list[int]]:
    """(ids, where each token's characters start, where they end) of `text`, tokenized
    whole, or as separate runs where it is cut. Characters no token's offsets cover (the
    space byte-level offsets trim off a word) start the token after them."""
    bounds = [0, *cuts, len(text)]
    runs = [text[a:b] for a, b in itertools.pairwise(bounds)]
    encoded = tokenizer(runs, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    for shift, run_ids, offsets in zip(
        bounds[:-1], encoded["input_ids"], encoded["offset_mapping"], strict=True
    ):
        run_ends = [b for _, b in offsets]
        covered = itertools.accumulate(run_ends, max, initial=0)
        ids += run_ids
        starts += [shift + min(a, c) for (a, _), c in zip(offsets, covered, strict=False)]
        ends += [shift + b for b in run_ends] if shift else run_ends
    return ids, starts, ends


def _label_replies(
    ids: list[int], starts: list[int], ends: list[int], replies: list[tuple[int, int]]
) -> tuple[list[int], set[int]]:
    """(each token's id where it lies inside a reply, else IGNORE; the reply edges that
    a token crosses)."""
    labels = [IGNORE] * len(ids)
    crossed: set[int] = set()
    for first, last in replies:
        inside = slice(bisect_left(starts, first), bisect_left(starts, last))
        if inside.start and ends[inside.start - 1] > first:
            crossed.add(first)
        if inside.stop > inside.start and ends[inside.stop - 1] > last:
            crossed.add(last)
        labels[inside] = ids[inside]
    return labels, crossed


def exchange_starts(conv: Conversation) -> list[int]:
    """Where a conversation may be cut without splitting an exchange: turn 0, and the
    turn after each reply but the last (a cut keeps the last reply). Only replies with
    loss count: a cut that kept only an empty one would leave nothing to learn."""
    replies = [i for i in range(len(conv.turns)) if conv.learns(i)]
    return [0] + [i + 1 for i in replies[:-1]]


def fit_conversation(tokenizer: Any, conv: Conversation, max_len: int) -> tuple[Sample, bool]:
    """(sample, cut): the conversation without as few of its oldest exchanges as it takes
    to fit `max_len` tokens; the last exchange alone (too long) when even that does not.

    The number of exchanges kept is searched for (tokens grow with it), so a conversation
    of a thousand exchanges is tokenized a dozen times near `max_len`, never once per
    exchange dropped: that took minutes, and each tokenization renders every turn."""
    starts = exchange_starts(conv)
    total = len(starts)

    def keep(k: int) -> Sample:  # the last k exchanges
        first = starts[total - k]
        return tokenize_conversation(tokenizer, conv.since(first))

    samples: dict[int, Sample] = {}
    fits, too_long = 0, total + 1  # the most exchanges known to fit, the fewest known not to
    k = total if total <= WHOLE_FIRST_EXCHANGES else 1
    while True:
        samples[k] = keep(k)
        if len(samples[k]) <= max_len:
            fits = k
        else:
            too_long = k
        if too_long - fits <= 1:
            break
        # Double from the newest exchange back while it fits (the whole of a long
        # conversation is tokenized only if it fits), then halve the gap.
        k = min(2 * k, total) if too_long > total else (fits + too_long) // 2
    if fits == 0:
        return samples[1], True
    return samples[fits], fits < total


def token_floor(tokenizer: Any) -> Callable[[Conversation], int]:
    """The fewest tokens a conversation's last exchange (with its system prompt) can take,
    found without tokenizing it: its UTF-8 bytes over what the longest vocabulary entry
    could cover, with room for a normaliser that shortens text. A 27 MB reply took 38 s
    to tokenize only to be left out as too long."""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    widest = max((len(str(piece).encode("utf-8")) for piece in vocab), default=0)
    if not widest:
        return lambda conv: 0

    def floor(conv: Conversation) -> int:
        text = conv.system + "".join(t for _, t in conv.turns[exchange_starts(conv)[-1] :])
        if len(text) < _FLOOR_MIN_CHARS:
            return 0  # quick to tokenize: its exact count is worth having
        return len(text.encode("utf-8")) // (_FLOOR_SHRINK * widest)

    return floor


def tokenize_dataset(
    tokenizer: Any, conversations: Sequence[Conversation], max_len: int
) -> TokenizedSet:
    """Tokenize every conversation, truncating from the oldest exchange to fit `max_len`."""
    result = TokenizedSet(samples=[])
    floor = token_floor(tokenizer)
    for position, conv in enumerate(conversations):
        # Named by its record in the file where it came from one: rows left out before it
        # (tool use, empty replies) would make its place in the list another record's.
        index = conv.source if conv.source >= 0 else position
        least = floor(conv)
        if least > max_len:  # too long for sure: not worth tokenizing
            result.at_least.add(index)
            result.left_out(index, least)
            continue
        sample, cut = fit_conversation(tokenizer, conv, max_len)
        if len(sample) > max_len:
            result.left_out(index, len(sample))
            continue
        if not any(x != IGNORE for x in sample.labels):
            if sample.hidden:
                result.unplaced += 1
            else:
                result.skipped += 1
            continue
        result.hidden += sample.hidden
        result.truncated += cut
        result.samples.append(sample)
        result.lengths.append(len(sample))
    return result


@dataclass
class PackedRow:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def pack(samples: Sequence[Sample], max_len: int, seed: int = 0) -> list[PackedRow]:
    """Greedy packing of (shuffled) samples into rows of at most `max_len` tokens.

    Position ids restart at 0 for every sample: transformers turns that into a
    block-diagonal causal mask, so packed samples never see each other.
    """
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    rows: list[PackedRow] = []
    row = PackedRow([], [], [])
    for i in order:
        s = samples[i]
        if row.input_ids and len(row) + len(s) > max_len:
            rows.append(row)
            row = PackedRow([], [], [])
        row.input_ids += s.input_ids
        row.labels += s.labels
        row.position_ids += list(range(len(s)))
    if row.input_ids:
        rows.append(row)
    return rows


class Collator:
    """Right-pads a batch. Plain samples get an attention mask; packed rows get position
    ids instead (no mask), which is how transformers recognises packed sequences."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        packed = "position_ids" in batch[0]
        ids, labels, extra = [], [], []
        for b in batch:
            n = len(b["input_ids"])
            pad = width - n
            ids.append(b["input_ids"] + [self.pad_token_id] * pad)
            labels.append(b["labels"] + [IGNORE] * pad)
            if packed:
                # Padding forms its own "sequence" so no real token attends to it.
                extra.append(b["position_ids"] + list(range(pad)))
            else:
                extra.append([1] * n + [0] * pad)
        out = {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
        }
        key = "position_ids" if packed else "attention_mask"
        out[key] = torch.tensor(extra, dtype=torch.long)
        return out


class RowDataset:
    """A list of samples or packed rows as the dict rows Trainer's dataloader expects."""

    def __init__(self, rows: Sequence[Sample | PackedRow]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        r = self.rows[i]
        item = {"input_ids": r.input_ids, "labels": r.labels}
        if isinstance(r, PackedRow):
            item["position_ids"] = r.position_ids
        return item
