"""sharegpt JSON → token ids with labels on ATRI's (assistant) tokens only.

The base model's own chat template renders each conversation; every assistant reply is
labelled with the token that ends it (the template's end-of-turn marker; where it writes
none, as GLM-4's, the next role marker, or an EOS added after the last reply), everything
else is -100. A
conversation longer than `max_len` loses its oldest exchanges, never part of a reply.
Optional packing puts several short samples in one row, each with its own positions,
so attention never crosses from one sample into the next.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atri.errors import UserError
from model.engines.chat_template import (
    apply_template,
    chat_rules,
    checked,
    conform,
    reply_end,
    special_tokens,
)

if TYPE_CHECKING:
    from atri.config import Settings

log = logging.getLogger(__name__)

IGNORE = -100
# `atri prep` names a held-out file after its training file: eileen_sharegpt.json →
# eileen_sharegpt_eval.json, and registers both in this LLaMA-Factory index.
EVAL_SUFFIX = "_eval"
DATASET_INFO = "dataset_info.json"
# A conversation of at most this many exchanges is tried whole first (most fit); a longer
# one is grown from its newest exchange (see fit_conversation).
WHOLE_FIRST_EXCHANGES = 8
# How much a tokenizer's normaliser may shorten text (NFKC joins a letter and its accent,
# a half-width kana and its mark): the token floor allows for four times that.
_FLOOR_SHRINK = 4
# Text shorter than this (a quarter of a second to tokenize) is always tokenized.
_FLOOR_MIN_CHARS = 1 << 18

_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "system": "system",
}
# Tool use: LLaMA-Factory's sharegpt tags, and the OpenAI messages roles.
_TOOL_ROLES = frozenset({"function_call", "observation", "tool", "function"})
TOOL_USE_NOTE = "with function_call/observation turns"


class DatasetError(UserError):
    """A dataset file that cannot be used; str() names the file and the problem."""


@dataclass(frozen=True)
class Conversation:
    system: str
    turns: tuple[tuple[str, str], ...]  # (role, text), role "user" or "assistant"

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + [{"role": r, "content": t} for r, t in self.turns]

    def replies(self) -> list[str]:
        return [t for r, t in self.turns if r == "assistant"]


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


def load_sharegpt(
    path: Path, allow_empty: bool = False, notify: Callable[[str], None] | None = None
) -> list[Conversation]:
    """Read a LLaMA-Factory sharegpt file; DatasetError with one sentence if it is unusable.

    A JSON list or JSON Lines (one record a line, as `atri prep` writes its messages
    file); a record's turns are under "conversations" (sharegpt) or "messages" (OpenAI).
    `allow_empty` for a held-out file: a short script leaves `atri prep` nothing to hold
    out, and training then runs without a held-out loss. Conversations with tool use
    (function_call/observation turns) are left out and counted in one sentence to
    `notify` (default: a logged warning): a mixed LLaMA-Factory dataset still trains."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(
            f"{path}: dataset file not found; run `atri prep` or pass --dataset."
        ) from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a folder; pass the sharegpt file in it.") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save it as UTF-8."
        ) from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    data = _parse_json(path, text)
    if not isinstance(data, list):
        raise DatasetError(
            f'{path}: expected a JSON list of {{"conversations": [...]}} records (sharegpt).'
        )
    if data and all(isinstance(r, dict) and _is_alpaca(r) for r in data):
        raise DatasetError(
            f"{path}: an alpaca file (instruction/output records); training reads the sharegpt "
            "file `atri prep` writes beside it (<name>_sharegpt.json)."
        )
    conversations = [
        _parse_record(path, i, record) for i, record in enumerate(data) if not _uses_tools(record)
    ]
    tool_use = len(data) - len(conversations)
    if tool_use and not conversations and not allow_empty:
        raise DatasetError(
            f"{path}: every conversation is one {TOOL_USE_NOTE} (tool use); role-play "
            "training learns replies to people only, so there is nothing to train on."
        )
    if tool_use:
        (notify or log.warning)(
            f"{path}: {tool_use} conversation{'s' * (tool_use != 1)} {TOOL_USE_NOTE} left "
            "out: role-play training learns replies to people only."
        )
    if not conversations and not allow_empty:
        raise DatasetError(f"{path}: the dataset is empty.")
    return conversations


def _uses_tools(record: Any) -> bool:
    """Whether a record holds a tool call or a tool's answer (LLaMA-Factory's
    function_call/observation turns, OpenAI's tool_calls and tool messages)."""
    if not isinstance(record, dict):
        return False
    turns = record.get("messages", record.get("conversations"))
    if not isinstance(turns, list):
        return False
    for turn in turns:
        if not isinstance(turn, dict):
            continue
        speaker = turn.get("from", turn.get("role"))
        if (isinstance(speaker, str) and speaker in _TOOL_ROLES) or "tool_calls" in turn:
            return True
    return False


def _is_alpaca(record: dict[str, Any]) -> bool:
    return "instruction" in record and "output" in record and "conversations" not in record


def _parse_json(path: Path, text: str) -> Any:
    """The file's JSON value; JSON Lines become a list. One sentence for what is wrong."""
    if not text.strip():
        raise DatasetError(
            f"{path}: the file is empty (no JSON in it); write it again, e.g. rerun `atri prep`."
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise DatasetError(f"{path}: nested too deeply to be a sharegpt file.") from None
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return _parse_json_lines(path, text)
        if exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip()):
            raise DatasetError(
                f"{path}: ends in the middle of its JSON (line {exc.lineno}), as a file cut off "
                "while being written (a full disk?) does; write it again, e.g. rerun `atri prep`."
            ) from None
        raise DatasetError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "expected the sharegpt file `atri prep` writes."
        ) from None


def _parse_json_lines(path: Path, text: str) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except RecursionError:
            raise DatasetError(f"{path}: nested too deeply to be a sharegpt file.") from None
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{path}: line {number} is not a JSON record ({exc.msg}); a JSON Lines file "
                "holds one record a line."
            ) from None
    return records


def _parse_record(path: Path, index: int, record: Any) -> Conversation:
    where = f"{path}: record {index}"
    turns_key = "messages" if isinstance(record, dict) and "messages" in record else "conversations"
    if not isinstance(record, dict) or not isinstance(record.get(turns_key), list):
        raise DatasetError(f'{where} has no "conversations" list (sharegpt format expected).')
    system = record.get("system", "")
    if not isinstance(system, str):
        raise DatasetError(f'{where}: "system" must be a string.')
    turns: list[tuple[str, str]] = []
    for turn in record[turns_key]:
        if not isinstance(turn, dict):
            raise DatasetError(f'{where}: each turn must be {{"from": ..., "value": ...}}.')
        speaker = turn.get("from", turn.get("role"))
        role = _ROLES.get(speaker) if isinstance(speaker, str) else None
        text = turn.get("value", turn.get("content"))
        if role is None:
            raise DatasetError(
                f'{where}: a turn has from = {speaker!r}; expected "human" or "gpt" '
                'with a string "value".'
            )
        if not isinstance(text, str):
            raise DatasetError(
                f'{where}: a "{speaker}" turn\'s "value" is {json.dumps(text)[:40]}, not text.'
            )
        if role == "system":
            system = system or text
        else:
            turns.append((role, text))
    if not any(r == "assistant" and t.strip() for r, t in turns):
        raise DatasetError(f'{where} has no "gpt" reply to learn from.')
    if not system and turns and turns[0][0] == "assistant":
        # Most chat templates refuse a conversation that opens with the assistant.
        raise DatasetError(
            f'{where} opens with a "gpt" turn and has no system prompt; chat templates need '
            'a "human" turn (or a "system" prompt) first, so add one or remove the record.'
        )
    return Conversation(system=system, turns=tuple(turns))


def common_system_prompt(conversations: Sequence[Conversation], fallback: str = "") -> str:
    """The system prompt a dataset trains with: its most common one."""
    counts = Counter(c.system for c in conversations if c.system)
    return counts.most_common(1)[0][0] if counts else fallback


def held_out_file(settings: Settings) -> Path | None:
    """The held-out file training scores and `atri eval` reads: `[train] eval_dataset`,
    else the one beside the training file (sibling_eval_file)."""
    t = settings.train
    if t.eval_dataset:
        return settings.path(t.eval_dataset)
    return sibling_eval_file(settings.path(t.dataset))


def sibling_eval_file(train_file: Path) -> Path | None:
    """The held-out file written beside `train_file`, whatever character it is for:
    `<stem>_eval<suffix>` (what `atri prep` writes), else the file that the folder's
    dataset_info.json registers as the training entry's `<name>_eval`; None if neither."""
    train_file = Path(train_file)
    registered = _registered_eval_file(train_file)
    candidates = [train_file.with_name(f"{train_file.stem}{EVAL_SUFFIX}{train_file.suffix}")]
    for candidate in candidates + registered:
        if candidate.is_file() and candidate.resolve() != train_file.resolve():
            return candidate
    if registered and not registered[0].exists():
        # Registered but gone: training on without it would drop the held-out loss (and
        # the version's eval) without a word.
        raise DatasetError(
            f"{train_file.parent / DATASET_INFO} registers {registered[0].name} as the "
            f"held-out set of {train_file.name}, but that file is missing: restore it, "
            "remove its entry, or pass --eval-dataset."
        )
    return None


def _registered_eval_file(train_file: Path) -> list[Path]:
    try:
        info = json.loads((train_file.parent / DATASET_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(info, dict):
        return []
    for name, entry in info.items():
        if isinstance(entry, dict) and entry.get("file_name") == train_file.name:
            held_out = info.get(f"{name}{EVAL_SUFFIX}")
            if isinstance(held_out, dict) and isinstance(held_out.get("file_name"), str):
                return [train_file.parent / held_out["file_name"]]
    return []


def _render(tokenizer: Any, messages: list[dict[str, str]], prompt: bool) -> str:
    return checked(lambda: apply_template(tokenizer, messages, prompt))


def _segments(tokenizer: Any, conv: Conversation) -> tuple[list[tuple[str, bool]], int]:
    """Cut the rendered conversation into (text, is_reply) pieces, in order, and count
    the replies the template hides (left in the text without a label). The
    conversation is first put in the shape the template takes (chat_template.conform),
    as the worker does with every prompt. A reply's piece ends with the token that stops
    it (chat_template.reply_end): the template's end-of-turn token, or where it writes
    none (GLM-4) the next role marker, or the EOS added after the last reply."""
    messages = conform(conv.messages(), chat_rules(tokenizer))
    full = _render(tokenizer, messages, prompt=False)
    specials = special_tokens(tokenizer)
    segments: list[tuple[str, bool]] = []
    done = 0  # characters of `full` already cut into segments
    eos = ""  # added after `full` when the last reply needs it to stop
    hidden = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], prompt=True)
        upto = _render(tokenizer, messages[: i + 1], prompt=False)
        if full.startswith(upto) and upto.startswith(before) and len(before) >= done:
            start, end = len(before), len(upto)
        elif not m["content"].strip():
            continue  # an empty reply: nothing to learn, wherever the template put it
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
        segments.append((full[done:start], False))
        segments.append((full[start:end], True))
        done = end
    segments.append((full[done:], False))
    segments.append((eos, True))
    return [(t, label) for t, label in segments if t], hidden


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
    ids: list[int] = []
    labels: list[int] = []
    segments, hidden = _segments(tokenizer, conv)
    for text, is_reply in segments:
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if is_reply else [IGNORE] * len(piece)
    return Sample(ids, labels, hidden)


def exchange_starts(conv: Conversation) -> list[int]:
    """Where a conversation may be cut without splitting an exchange: turn 0, and the
    turn after each reply but the last (a cut keeps the last reply)."""
    replies = [i for i, (r, _) in enumerate(conv.turns) if r == "assistant"]
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
        return tokenize_conversation(tokenizer, Conversation(conv.system, conv.turns[first:]))

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
    for index, conv in enumerate(conversations):
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
