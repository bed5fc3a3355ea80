"""The dataset files training reads, as Conversations: a LLaMA-Factory sharegpt file or an
OpenAI messages file (a JSON list or JSON Lines) checked with one sentence for what is wrong.
The folder's dataset_info.json (dataset_index.py) may rename its columns.

Conversations become token ids in dataset.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atri.text_files import BROKEN_CHARACTER, LONE_SURROGATE
from model.training.dataset_index import DATASET_INFO, as_registered, is_index, registered_columns
from model.training.errors import DatasetError

log = logging.getLogger(__name__)

_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "system": "system",
    "developer": "system",  # OpenAI's newer name for the system message
}
# Tool use: LLaMA-Factory's sharegpt tags, and the OpenAI messages roles.
_TOOL_ROLES = frozenset({"function_call", "observation", "tool", "function"})
TOOL_USE_NOTE = "with function_call/observation turns"
# LLaMA-Factory's multimodal columns: the text holds <image>/<video>/<audio> placeholders.
_MEDIA_KEYS = ("images", "videos", "audios")
# OpenAI content parts that hold text (an assistant's refusal too), joined as the worker
# joins them (model/server/openai_api.py); any other part (image_url, input_audio) is media.
_TEXT_PARTS = {"text": "text", "refusal": "refusal"}
MEDIA_NOTE = "with images, videos or audio"
_JSON_KINDS = {
    "str": "string",
    "int": "number",
    "float": "number",
    "bool": "true/false",
    "NoneType": "null",
}


@dataclass(frozen=True)
class Conversation:
    system: str
    turns: tuple[tuple[str, str], ...]  # (role, text), role "user" or "assistant"
    # Indices of replies kept as context without loss: OpenAI fine-tuning's "weight": 0.
    untrained: frozenset[int] = frozenset()
    # Its record's index in the file, for messages that name it (-1: not from a file);
    # where it came from, not what it is: two conversations alike are equal.
    source: int = field(default=-1, compare=False)

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + [{"role": r, "content": t} for r, t in self.turns]

    def replies(self) -> list[str]:
        """Her replies the version learns from (`learns`): the style `atri eval` compares
        with leaves out those a dataset marked "weight": 0, and empty ones."""
        return [t for i, (_, t) in enumerate(self.turns) if self.learns(i)]

    def learns(self, index: int) -> bool:
        """Whether turn `index` carries loss: a reply, not empty (its end token alone
        would teach her to say nothing), not marked "weight": 0."""
        role, text = self.turns[index]
        return role == "assistant" and bool(text.strip()) and index not in self.untrained

    def has_reply_to_learn(self) -> bool:
        return any(self.learns(i) for i in range(len(self.turns)))

    def since(self, first: int) -> Conversation:
        """The conversation from turn `first` on (its oldest exchanges cut)."""
        kept = frozenset(i - first for i in self.untrained if i >= first)
        return Conversation(self.system, self.turns[first:], kept, self.source)


def load_sharegpt(
    path: Path, allow_empty: bool = False, notify: Callable[[str], None] | None = None
) -> list[Conversation]:
    """Read a LLaMA-Factory sharegpt or alpaca file; DatasetError with one sentence if
    it is unusable.

    A JSON list or JSON Lines (one record a line, as `atri prep` writes its messages
    file; a file of one record, on one line or not, is that record); a record's turns are
    under "conversations" (sharegpt) or "messages" (OpenAI), or its alpaca columns, as
    the folder's dataset_info.json names them where it registers the file. An object
    whose only list holds the records is that list: its top-level "system" is the system
    prompt of each record without its own (as if the record held it), and its other keys
    are named in one warning as ignored.
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
    value, lines = _parse_json(path, text)
    records, wrapper = _records(path, value)
    system, ignored = _beside_records(path, value, wrapper) if wrapper else ("", [])
    registered = as_registered(path, records, notify or log.warning)

    def where(index: int) -> str:
        """The record as a message names it: its index in the file, and its line in JSON
        Lines (rows left out before it keep the index a user counts to)."""
        line = f" (line {lines[index]})" if lines else ""
        return f"{path}: record {index}{line}"

    # Each record with its index in the file, so that a message names the right one
    # after rows before it are left out.
    data = [
        (i, _from_alpaca(where(i), r) if isinstance(r, dict) and _is_alpaca(r) else r)
        for i, r in enumerate(registered)
    ]
    if wrapper:
        # The top-level "system" is each record's that has none, as if the record held it.
        given = sum(1 for _, r in data if isinstance(r, dict) and not _has_own_system(r))
        data = [(i, _with_system(r, system)) for i, r in data] if system else data
        read = f'its records are read from its "{wrapper}" list ({len(records)} of them)'
        if system:
            read += (
                f', and its "system" is the system prompt of the {given} without their own'
                if given
                else ', and its "system" is not used: every record has its own'
            )
        (notify or log.info)(f"{path}: one JSON object; {read}.")
    if ignored:
        keys = ", ".join(json.dumps(k, ensure_ascii=False) for k in ignored)
        (notify or log.warning)(
            f"{path}: top-level key{'s' * (len(ignored) != 1)} {keys} beside the "
            f'"{wrapper}" list {"are" if len(ignored) != 1 else "is"} ignored: training reads '
            'only the records and a top-level "system".'
        )
    if data and all(isinstance(r, dict) and _is_preference(r) for _, r in data):
        raise DatasetError(
            f'{path}: a preference (DPO/ORPO) dataset ("chosen" and "rejected" replies); '
            "atri train learns from conversations, so pass a sharegpt file whose records "
            'end in a "gpt" reply.'
        )
    data, undesirable = _desirable_only(path, data, allow_empty)
    if undesirable:
        (notify or log.warning)(
            f"{path}: {undesirable} KTO row{'s' * (undesirable != 1)} labelled undesirable "
            '("label": false) left out: training learns only the replies labelled true.'
        )
    late = sum(1 for _, r in data if _late_system(r))
    data = [(i, r) for i, r in data if not _late_system(r)]
    if late and not data and not allow_empty:
        raise DatasetError(
            f'{path}: every conversation has a "system" turn after its first turn; chat '
            "templates take a system prompt only first (LLaMA-Factory skips such a row), so "
            'move each to the record\'s "system" or into the text around it.'
        )
    if late:
        (notify or log.warning)(
            f'{path}: {late} conversation{"s" * (late != 1)} with a "system" turn after the '
            "first turn left out: chat templates take a system prompt only first, and "
            "LLaMA-Factory skips such a row too."
        )
    media = sum(1 for _, r in data if _uses_media(r))
    tool_use = sum(1 for _, r in data if _uses_tools(r) and not _uses_media(r))
    parsed = [
        _parse_record(where(i), i, record)
        for i, record in data
        if not _uses_tools(record) and not _uses_media(record)
    ]
    # An empty reply, or one marked "weight": 0, is context without loss; a record of
    # those only has nothing to learn.
    conversations = [c for c in parsed if c.has_reply_to_learn()]
    silent = len(parsed) - len(conversations)
    if silent and not conversations and not allow_empty:
        raise DatasetError(
            f'{path}: every "gpt" reply is empty or has "weight": 0, so there is nothing to '
            "learn from."
        )
    if (tool_use or media) and not conversations and not allow_empty:
        kinds = [f"{TOOL_USE_NOTE} (tool use)"] * bool(tool_use) + [MEDIA_NOTE] * bool(media)
        raise DatasetError(
            f"{path}: every conversation is one {' or one '.join(kinds)}; role-play training "
            f"learns replies to people{' in text' * bool(media)} only, so there is nothing to "
            "train on."
        )
    if tool_use:
        (notify or log.warning)(
            f"{path}: {tool_use} conversation{'s' * (tool_use != 1)} {TOOL_USE_NOTE} left "
            "out: role-play training learns replies to people only."
        )
    if media:
        (notify or log.warning)(
            f"{path}: {media} conversation{'s' * (media != 1)} {MEDIA_NOTE} left out: "
            "training reads text only, and would learn their <image>/<video>/<audio> "
            "placeholders as words."
        )
    if silent:
        (notify or log.warning)(
            f'{path}: {silent} conversation{"s" * (silent != 1)} whose "gpt" replies are '
            'all empty or "weight": 0 left out: there is nothing to learn from them.'
        )
    tools = _tools_column(path)
    described = {i for i, r in data if isinstance(r, dict) and _describes_tools(r.get(tools))}
    tooled = sum(1 for c in conversations if c.source in described)
    if tooled:
        # LLaMA-Factory would write them into the system prompt; a version is served
        # under its one prompt, with no tools to call.
        (notify or log.warning)(
            f"{path}: {tooled} conversation{'s' * (tooled != 1)} "
            f'{"carry" if tooled != 1 else "carries"} tool definitions ("{tools}") that are '
            "not trained: the conversation trains without them, as replies to people."
        )
    if not conversations and not allow_empty:
        raise DatasetError(f"{path}: the dataset is empty.")
    return conversations


def _records(path: Path, data: Any) -> tuple[list[Any], str]:
    """The file's records, and the key of the object they were read from ("" if none).

    A file holding one record object is that record: the JSON Lines file of a
    one-conversation dataset is a single line, which reads as one JSON object, not a
    list. An object whose only list holds records (`{"data": [...]}`, as exports wrap
    them) is that list. Any other object is one sentence naming what it holds."""
    if isinstance(data, list):
        return data, ""
    if isinstance(data, dict) and (
        any(k in data for k in ("conversations", "messages")) or _is_alpaca(data)
    ):
        return [data], ""
    lists = [k for k, v in data.items() if isinstance(v, list)] if isinstance(data, dict) else []
    if len(lists) > 1 and "system" in lists:
        lists.remove("system")  # a prompt written as a list of lines: refused as not text
    if len(lists) == 1 and _holds_records(path, data[lists[0]]):
        return data[lists[0]], lists[0]
    if len(lists) > 1 and any(_holds_records(path, data[k]) for k in lists):
        shown = " and ".join(json.dumps(k, ensure_ascii=False) for k in lists[:3])
        raise DatasetError(
            f"{path}: holds one JSON object with {len(lists)} lists ({shown}"
            f"{', …' if len(lists) > 3 else ''}), so which one holds the records to train on "
            "is not clear; write that list alone to a file (a JSON list, or JSON Lines) and "
            "pass it."
        )
    if isinstance(data, dict) and data and Path(path).suffix.lower() in _JSON_LINES_SUFFIXES:
        # A JSON Lines file of one line is one record, whatever its shape: what it lacks
        # is said of it as of any record (_parse_record).
        return [data], ""
    if isinstance(data, dict) and is_index(data):
        named = [v["file_name"] for v in data.values() if isinstance(v.get("file_name"), str)]
        which = (
            f"pass the file it names (e.g. {named[0]})"
            if named
            else "it names no file here, only datasets on a hub: download one and pass it"
        )
        raise DatasetError(f"{path}: a LLaMA-Factory {DATASET_INFO} index, not a dataset; {which}.")
    if isinstance(data, dict):
        keys = ", ".join(json.dumps(k, ensure_ascii=False) for k in list(data)[:3])
        what = f"one JSON object with keys {keys}" if data else "one empty JSON object"
    else:
        what = "a single JSON " + _JSON_KINDS.get(type(data).__name__, "value")
    raise DatasetError(
        f'{path}: holds {what}, not records: expected a JSON list of {{"conversations": [...]}} '
        "records (sharegpt), or JSON Lines with one record a line."
    )


def _beside_records(path: Path, data: dict[str, Any], wrapper: str) -> tuple[str, list[str]]:
    """A wrapped file's top-level "system" ("" if none) and its other keys beside the
    records' list, which training does not read."""
    system = data.get("system", "") if wrapper != "system" else ""
    if not isinstance(system, str):
        raise DatasetError(
            f'{path}: its top-level "system" is {json.dumps(system, ensure_ascii=False)[:40]}, '
            f'not text; it is the system prompt of each record in "{wrapper}" without its own, '
            "so write it as a string or remove it."
        )
    return system, [k for k in data if k not in (wrapper, "system")]


def _has_own_system(record: dict[str, Any]) -> bool:
    """Whether a record has a system prompt of its own: a "system" column that is not
    empty (one that is not text stays its own, to be refused as it is), or a leading
    system turn."""
    turns = _turns(record)
    first = turns[0] if turns and isinstance(turns[0], dict) else {}
    speaker = first.get("from", first.get("role"))
    leading = isinstance(speaker, str) and _ROLES.get(speaker) == "system"
    return record.get("system", "") != "" or leading


def _with_system(record: Any, system: str) -> Any:
    if not isinstance(record, dict) or _has_own_system(record):
        return record
    return {**record, "system": system}


def _desirable_only(
    path: Path, data: list[tuple[int, Any]], allow_empty: bool
) -> tuple[list[tuple[int, Any]], int]:
    """A LLaMA-Factory KTO file's records labelled desirable, and how many are not.

    Its rows carry a true/false label (the "label" key, or the column its
    dataset_info.json names as "kto_tag"): false marks a reply the model should NOT give.
    Plain training cannot learn "not this", so those rows are left out (never trained as
    her replies); the true rows are good replies, which is what training learns, so a
    KTO file still trains rather than being refused as a preference file is."""
    column = registered_columns(path).get("kto_tag")
    tag = column if isinstance(column, str) else "label"

    def labelled(record: Any) -> bool:
        if not isinstance(record, dict) or tag not in record:
            return False
        # An unregistered "label" counts only as a true/false one: a string "label" may
        # mean anything.
        return column is not None or isinstance(record[tag], bool)

    kept = [(i, r) for i, r in data if not labelled(r) or r[tag]]
    if data and not kept and not allow_empty:
        raise DatasetError(
            f'{path}: every row of this KTO file is labelled undesirable ("{tag}": false); '
            "training learns the replies she should give, so there is nothing to train on."
        )
    return kept, len(data) - len(kept)


_JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})


def _holds_records(path: Path, rows: list[Any]) -> bool:
    """Whether a list under a key of the file's object is its records: objects, one at
    least in a shape this reader knows (turns, alpaca or preference columns, or the
    columns the folder's dataset_info.json names). A list of turns, or of anything
    else, is not unwrapped: what the object holds is said instead."""
    columns = registered_columns(path)
    keys = {"conversations", "messages", "instruction", "chosen"} | {
        v
        for k, v in columns.items()
        if k in ("messages", "prompt", "chosen") and isinstance(v, str)
    }
    return (
        bool(rows) and all(isinstance(r, dict) for r in rows) and any(keys & r.keys() for r in rows)
    )


def _tools_column(path: Path) -> str:
    """The per-row key of tool descriptions: "tools", or the column the folder's
    dataset_info.json names for them."""
    column = registered_columns(path).get("tools")
    return column if isinstance(column, str) else "tools"


def _describes_tools(value: Any) -> bool:
    """Whether a row's tools field lists any (LLaMA-Factory writes "" or "[]" for none)."""
    if isinstance(value, str):
        return value.strip() not in ("", "[]")
    return bool(value)


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


def _late_system(record: Any) -> bool:
    """Whether a record has a "system" turn past its first (a scene note mid-chat)."""
    turns = _turns(record)
    return any(isinstance(t, dict) and t.get("from", t.get("role")) == "system" for t in turns[1:])


def _turns(record: Any) -> list[Any]:
    if not isinstance(record, dict):
        return []
    turns = record.get("messages", record.get("conversations"))
    return turns if isinstance(turns, list) else []


def _uses_media(record: Any) -> bool:
    """Whether a record comes with images, videos or audio (LLaMA-Factory's multimodal
    sharegpt): its text asks about what the model cannot see."""
    if not isinstance(record, dict):
        return False
    return any(record.get(k) for k in _MEDIA_KEYS) or any(
        isinstance(t, dict) and _media_parts(t.get("value", t.get("content")))
        for t in _turns(record)
    )


def _media_parts(content: Any) -> bool:
    """Whether OpenAI content parts hold more than text (an image_url, input_audio)."""
    return isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") not in _TEXT_PARTS for part in content
    )


def _joined_parts(content: Any) -> Any:
    """OpenAI content parts' text, joined as the worker joins a request's; other values
    as they are."""
    if not isinstance(content, list) or not all(
        isinstance(part, dict)
        and isinstance(part.get(_TEXT_PARTS.get(str(part.get("type")), "")), str)
        for part in content
    ):
        return content
    return "".join(part[_TEXT_PARTS[part["type"]]] for part in content)


def _is_preference(record: dict[str, Any]) -> bool:
    return "chosen" in record and "rejected" in record


def _is_alpaca(record: dict[str, Any]) -> bool:
    return "instruction" in record and "output" in record and "conversations" not in record


def _from_alpaca(where: str, record: dict[str, Any]) -> dict[str, Any]:
    """An alpaca record as the sharegpt record LLaMA-Factory makes of it: each `history`
    pair [prompt, reply] an earlier exchange whose reply is trained too (its data/README:
    "the responses in the history will also be learned"), then `instruction` and `input`
    (joined by a newline) as the last prompt, `output` its reply, `system` the prompt."""
    history = record.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
        for pair in history
    ):
        raise DatasetError(
            f'{where}: "history" must be a list of [prompt, reply] string pairs (alpaca).'
        )
    for key in ("instruction", "input", "output"):
        if not isinstance(record.get(key, ""), str):
            raise DatasetError(f'{where}: "{key}" must be a string (alpaca).')
    prompt = "\n".join(t for t in (record["instruction"], record.get("input", "")) if t)
    turns = [t for q, a in history for t in (("human", q), ("gpt", a))]
    turns += [("human", prompt), ("gpt", record["output"])]
    rest = {k: v for k, v in record.items() if k not in _ALPACA_KEYS}
    return {**rest, "conversations": [{"from": f, "value": v} for f, v in turns]}


_ALPACA_KEYS = frozenset({"instruction", "input", "output", "history"})


def _parse_json(path: Path, text: str) -> tuple[Any, list[int] | None]:
    """The file's JSON value, and for JSON Lines (a list then) each record's line number.
    One sentence for what is wrong."""
    if not text.strip():
        raise DatasetError(
            f"{path}: the file is empty (no JSON in it); write it again, e.g. rerun `atri prep`."
        )
    try:
        return json.loads(text), None
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
        trailing = (
            " (a comma before a closing bracket, which JSON does not allow)"
            if text[: exc.pos].rstrip().endswith(",") and text[exc.pos : exc.pos + 1] in "]}"
            else ""
        )
        raise DatasetError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            f"{trailing}; expected the sharegpt file `atri prep` writes."
        ) from None


def _parse_json_lines(path: Path, text: str) -> tuple[list[Any], list[int]]:
    records, numbers = [], []
    # Split at newlines only: str.splitlines() also splits at U+2028 and U+0085, which
    # JSON written with ensure_ascii=False leaves raw inside its strings.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except RecursionError:
            raise DatasetError(f"{path}: nested too deeply to be a sharegpt file.") from None
        except json.JSONDecodeError as exc:
            comma = (
                " (it ends in a comma: JSON Lines puts no comma between records)"
                if line.rstrip().endswith(",")
                else ""
            )
            raise DatasetError(
                f"{path}: line {number} is not a JSON record ({exc.msg}){comma}; a JSON Lines "
                "file holds one record a line."
            ) from None
        numbers.append(number)
    return records, numbers


# What to do about a text of a record that cannot be trained on as it is.
_MEND = "mend it (a JSON escape from \\ud800 to \\udfff with no partner) or remove the record."


def _parse_record(where: str, index: int, record: Any) -> Conversation:
    turns_key = "messages" if isinstance(record, dict) and "messages" in record else "conversations"
    if isinstance(record, dict) and turns_key in record and not isinstance(record[turns_key], list):
        # A pandas table written without orient="records" holds {"conversations": {"0": …}}.
        kind = "an object" if isinstance(record[turns_key], dict) else "not a list"
        raise DatasetError(
            f'{where}: its "{turns_key}" is {kind}, not a list of turns, as pandas writes a '
            'table unless told to_json(orient="records").'
        )
    if not isinstance(record, dict) or not isinstance(record.get(turns_key), list):
        raise DatasetError(
            f'{where} has no "conversations" list (sharegpt format expected){_keys_of(record)}.'
        )
    system = record.get("system", "")
    if not isinstance(system, str):
        raise DatasetError(f'{where}: "system" must be a string.')
    if LONE_SURROGATE.search(system):
        raise DatasetError(f'{where}: its "system" holds {BROKEN_CHARACTER}; {_MEND}')
    turns: list[tuple[str, str]] = []
    untrained: set[int] = set()
    for turn in record[turns_key]:
        if not isinstance(turn, dict):
            raise DatasetError(f'{where}: each turn must be {{"from": ..., "value": ...}}.')
        speaker = turn.get("from", turn.get("role"))
        role = _ROLES.get(speaker) if isinstance(speaker, str) else None
        text_key = "value" if "value" in turn or "content" not in turn else "content"
        text = _joined_parts(turn.get(text_key))
        if role is None:
            expected = '"human" or "gpt"' if "from" in turn else '"user" or "assistant"'
            raise DatasetError(
                f"{where}: a turn has {'from' if 'from' in turn else 'role'} = {speaker!r}; "
                f'expected {expected} with a string "{text_key}".'
            )
        if not isinstance(text, str):
            raise DatasetError(
                f'{where}: a "{speaker}" turn\'s "{text_key}" is {json.dumps(text)[:40]}, not text.'
            )
        if LONE_SURROGATE.search(text):
            # The tokenizer refuses one, after the model has loaded: told here, before.
            raise DatasetError(
                f'{where}: a "{speaker}" turn\'s "{text_key}" holds {BROKEN_CHARACTER}; {_MEND}'
            )
        # A file made on Windows holds "\r\n" inside its texts: the worker reads every
        # message with "\n" (protocol.clean_str), so she learns the line ends she is shown.
        text = _unix_line_ends(text)
        if role == "system":
            # A leading system turn overrides the "system" column, as in LLaMA-Factory
            # (load_sharegpt leaves out a record with one later).
            system = text
            continue
        if role == "assistant" and not _trains(where, turn.get("weight")):
            untrained.add(len(turns))
        turns.append((role, text))
    if not any(r == "assistant" for r, _ in turns):
        raise DatasetError(f'{where} has no "gpt" reply to learn from.')
    if not system and turns and turns[0][0] == "assistant":
        # Most chat templates refuse a conversation that opens with the assistant.
        raise DatasetError(
            f'{where} opens with a "gpt" turn and has no system prompt; chat templates need '
            'a "human" turn (or a "system" prompt) first, so add one or remove the record.'
        )
    return Conversation(_unix_line_ends(system), tuple(turns), frozenset(untrained), index)


def _unix_line_ends(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _trains(where: str, weight: Any) -> bool:
    """OpenAI fine-tuning's per-message "weight": 0 keeps a reply as context without
    loss; 1 (or none) trains it."""
    if weight is None or (weight in (0, 1) and not isinstance(weight, bool)):
        return weight != 0
    raise DatasetError(
        f'{where}: an assistant message has "weight": {json.dumps(weight)[:20]}; OpenAI '
        "fine-tuning's weight is 0 (kept as context, not trained) or 1 (trained)."
    )


def _keys_of(record: Any) -> str:
    """ "; its keys are …" for a record of another shape (PIPPA's "conversation", say)."""
    if not isinstance(record, dict) or not record:
        return ""
    keys = ", ".join(json.dumps(k, ensure_ascii=False) for k in list(record)[:5])
    return f"; its keys are {keys}{', …' if len(record) > 5 else ''}"


def training_prompt(conversations: Sequence[Conversation], path: Path) -> str:
    """The one system prompt a dataset's records carry ("" when no record has one).

    Two prompts, one rule: a version is served under the prompt it learned (its
    manifest's). Records with prompts and records without would learn under two (those
    without get `[persona] training_prompt`, `under_prompt`), so a dataset whose records
    differ has no prompt to serve it with: DatasetError, naming the prompts and how many
    use each."""
    counts = Counter(c.system for c in conversations)
    if len(counts) <= 1:
        return next(iter(counts), "")
    shown = ", ".join(
        f"{n} with {json.dumps(_clipped(prompt), ensure_ascii=False) if prompt else 'none'}"
        for prompt, n in counts.most_common(3)
    )
    more = f" and {len(counts) - 3} more" if len(counts) > 3 else ""
    raise DatasetError(
        f"{path}: its records have {len(counts)} different system prompts ({shown}{more}), "
        "but a version is served under the one prompt it was trained with: give every "
        'record the same "system" (or none), e.g. rerun `atri prep`.'
    )


def under_prompt(conversations: Sequence[Conversation], prompt: str) -> list[Conversation]:
    """The conversations, each without a system prompt given `prompt`: left without one,
    the chat template puts in its own default ("You are Qwen…"), which the version would
    learn and then never be served with."""
    return [c if c.system else dataclasses.replace(c, system=prompt) for c in conversations]


def _clipped(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
