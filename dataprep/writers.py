"""Write samples as LLaMA-Factory sharegpt, OpenAI-style messages JSONL and alpaca."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring  # ensure_ascii=False, in C
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from atri.files import write_text_atomic
from dataprep.errors import DataprepError
from dataprep.records import Role, Sample

OUTPUT_FORMATS = ("sharegpt", "messages", "alpaca")
DATASET_INFO = "dataset_info.json"
# The stem when no alias of the character makes a file name.
NEUTRAL_STEM = "character"
_NOT_IN_STEM = re.compile(r"[^a-z0-9]+")
# Rows are encoded a batch at a time and written with one call.
_BATCH = 512

_SHAREGPT_ROLE = {Role.LEAD: "human", Role.CHARACTER: "gpt"}
_OPENAI_ROLE = {Role.LEAD: "user", Role.CHARACTER: "assistant"}
# A turn's JSON up to its text, for rows built from pieces (see _RowEncoder).
_SHAREGPT_OPEN = {r: f'{{"from": "{name}", "value": ' for r, name in _SHAREGPT_ROLE.items()}
_OPENAI_OPEN = {r: f'{{"role": "{name}", "content": ' for r, name in _OPENAI_ROLE.items()}
_SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
}
_MESSAGES_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
}


def to_sharegpt(sample: Sample, system_prompt: str) -> dict[str, Any]:
    return {
        "conversations": [{"from": _SHAREGPT_ROLE[r], "value": t} for r, t in sample.turns],
        "system": system_prompt,
    }


def to_messages(sample: Sample, system_prompt: str) -> dict[str, Any]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [{"role": _OPENAI_ROLE[r], "content": t} for r, t in sample.turns]
    return {"messages": messages}


def to_alpaca(sample: Sample, system_prompt: str) -> dict[str, Any]:
    earlier = sample.turns[:-2]
    history = [[earlier[i][1], earlier[i + 1][1]] for i in range(0, len(earlier) - 1, 2)]
    return {
        "instruction": sample.prompt,
        "input": "",
        "output": sample.reply,
        "system": system_prompt,
        "history": history,
    }


def dataset_stem(character_aliases: Iterable[str]) -> str:
    """File names start with the character's name: "ATRI" → atri_sharegpt.json.

    The first alias that makes a name of ASCII letters and digits is used; with none
    (a name in Chinese or Japanese only) the neutral "character".
    """
    for alias in character_aliases:
        stem = _NOT_IN_STEM.sub("_", alias.strip().lower()).strip("_")
        if stem:
            return stem
    return NEUTRAL_STEM


@dataclass(frozen=True)
class OutputNames:
    """The file names and dataset_info.json entries of one character's dataset."""

    stem: str

    def file(self, fmt: str, split: str) -> str:
        suffix = "" if split == "train" else f"_{split}"
        extension = "jsonl" if fmt == "messages" else "json"
        return f"{self.stem}_{fmt}{suffix}.{extension}"

    def stats(self, extension: str) -> str:
        """`atri_stats.json`, `atri_stats.png`: a folder may hold several characters'."""
        return f"{self.stem}_stats.{extension}"

    def entry(self, fmt: str, split: str) -> str:
        name = self.stem if fmt == "sharegpt" else f"{self.stem}_{fmt}"
        return name if split == "train" else f"{name}_{split}"


def output_names(stem: str) -> list[str]:
    """Every file name a run for this character can write, dataset_info.json included."""
    names = OutputNames(stem)
    return [names.file(f, split) for f in OUTPUT_FORMATS for split in ("train", "eval")] + [
        names.stats("json"),
        names.stats("png"),
        DATASET_INFO,
    ]


def dataset_info(formats: list[str], stem: str = "atri", with_eval: bool = True) -> dict[str, Any]:
    """Entries LLaMA-Factory reads as they are (put the folder in its `dataset_dir`).

    An eval entry is only there when the eval file is: `datasets` cannot load a file with
    no rows, and LLaMA-Factory would fail on it.
    """
    names = OutputNames(stem)
    splits = ("train", "eval") if with_eval else ("train",)
    info: dict[str, Any] = {}
    if "sharegpt" in formats:
        for split in splits:
            info[names.entry("sharegpt", split)] = {
                "file_name": names.file("sharegpt", split),
                "formatting": "sharegpt",
                "columns": {"messages": "conversations", "system": "system"},
                "tags": dict(_SHAREGPT_TAGS),
            }
    if "messages" in formats:
        for split in splits:
            info[names.entry("messages", split)] = {
                "file_name": names.file("messages", split),
                "formatting": "sharegpt",
                "columns": {"messages": "messages"},
                "tags": dict(_MESSAGES_TAGS),
            }
    if "alpaca" in formats:
        for split in splits:
            info[names.entry("alpaca", split)] = {
                "file_name": names.file("alpaca", split),
                "formatting": "alpaca",
                "columns": {
                    "prompt": "instruction",
                    "query": "input",
                    "response": "output",
                    "system": "system",
                    "history": "history",
                },
            }
    return info


def read_dataset_info(path: Path) -> dict[str, Any]:
    """The entries of the dataset_info.json already at `path` ({} when there is none), so
    that a run adds its character's entries to those of other characters and datasets.

    DataprepError, naming the file, when it cannot be read as one: it is never replaced
    then, since the entries it holds would be lost. A byte-order mark (a file saved by
    Notepad) is passed over: the file is written again without it.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise DataprepError(_unusable_info(path, why)) from None
    try:
        info = json.loads(text)
    except ValueError as exc:
        line = f" on line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise DataprepError(_unusable_info(path, f"not valid JSON{line}")) from None
    if not isinstance(info, dict):
        raise DataprepError(_unusable_info(path, "not a JSON object of dataset entries"))
    for name, entry in info.items():
        if not isinstance(entry, dict):
            raise DataprepError(_unusable_info(path, f'its entry "{name}" is not an object'))
    return info


def _unusable_info(path: Path, why: str) -> str:
    return (
        f"{path}: cannot be updated ({why}); it may register other datasets, so fix it or"
        " move it away, then run again."
    )


def merged_dataset_info(earlier: dict[str, Any], ours: dict[str, Any], stem: str) -> dict[str, Any]:
    """`ours` after the entries of `earlier` that are not this character's: those whose
    file no run for this character writes (its old eval or alpaca entry goes with the
    file, which the new run removes) and whose name the new run does not use."""
    files = set(output_names(stem))
    kept = {
        name: entry
        for name, entry in earlier.items()
        if name not in ours and entry.get("file_name") not in files
    }
    return {**kept, **ours}


def write_json(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file.

    A list is written one element per line: still readable, and it uses the C encoder
    (json's `indent` falls back to the pure-Python one, ten times slower).
    """
    if isinstance(data, list):
        body = ",\n".join(json.dumps(row, ensure_ascii=False) for row in data)
        text = f"[\n{body}\n]\n" if data else "[]\n"
    else:
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    write_text_atomic(path, text)


# A turn's JSON in each format, from what `_RowEncoder.encode` gives for it.
_SHAREGPT_TURN = itemgetter(1)
_MESSAGES_TURN = itemgetter(2)


class _RowEncoder:
    """JSON rows built from pre-encoded pieces: each text is encoded once (in C) for all
    formats and for every sample of its exchange that repeats it as history, and a row is
    one join. The result is byte for byte what `json.dumps(row, ensure_ascii=False)`
    writes, several times faster than building and dumping dicts."""

    def __init__(self, system_prompt: str) -> None:
        self.system = encode_basestring(system_prompt)
        self.has_system = bool(system_prompt)
        self._sharegpt_end = f'], "system": {self.system}}}'
        self._messages_head = (
            f'{{"messages": [{{"role": "system", "content": {self.system}}}, '
            if self.has_system
            else '{"messages": ['
        )
        self._alpaca_system = f', "system": {self.system}, "history": ['
        # (role, text) → (its JSON string, its sharegpt turn, its messages turn), one
        # dict per role: samples of one exchange share their history's turns.
        self._pieces: dict[Role, dict[str, tuple[str, str, str]]] = {r: {} for r in _SHAREGPT_ROLE}

    def forget(self) -> None:
        """Drop the texts encoded so far (called between batches: memory stays small)."""
        for pieces in self._pieces.values():
            pieces.clear()

    def encode(self, sample: Sample) -> list[tuple[str, str, str]]:
        """Each turn as (its text as a JSON string, its sharegpt turn, its messages turn)."""
        out = []
        for role, text in sample.turns:
            pieces = self._pieces[role]
            piece = pieces.get(text)
            if piece is None:
                encoded = encode_basestring(text)
                piece = pieces[text] = (
                    encoded,
                    f"{_SHAREGPT_OPEN[role]}{encoded}}}",
                    f"{_OPENAI_OPEN[role]}{encoded}}}",
                )
            out.append(piece)
        return out

    # `map` with an itemgetter, not a list comprehension: that is a function call per row.
    def sharegpt(self, sample: Sample, turns: list[tuple[str, str, str]]) -> str:
        joined = ", ".join(map(_SHAREGPT_TURN, turns))
        return f'{{"conversations": [{joined}{self._sharegpt_end}'

    def messages(self, sample: Sample, turns: list[tuple[str, str, str]]) -> str:
        joined = ", ".join(map(_MESSAGES_TURN, turns))
        return f"{self._messages_head}{joined}]}}"

    def alpaca(self, sample: Sample, turns: list[tuple[str, str, str]]) -> str:
        earlier = turns[:-2]
        # Pairs of earlier turns, as `to_alpaca` makes them (a last one left alone is dropped).
        pairs = zip(earlier[::2], earlier[1::2], strict=False)
        history = ", ".join([f"[{a[0]}, {b[0]}]" for a, b in pairs])
        prompt = turns[-2][0] if len(turns) >= 2 else '""'
        return (
            f'{{"instruction": {prompt}, "input": "", "output": {turns[-1][0]}'
            f"{self._alpaca_system}{history}]}}"
        )


class _Writer:
    """One output file: a JSON array with a row per line, or JSON Lines."""

    def __init__(self, path: Path, lines: bool) -> None:
        self.file: IO[str] = path.open("w", encoding="utf-8", newline="\n")
        self.lines = lines
        self.rows = 0
        if not lines:
            self.file.write("[")

    def write(self, rows: list[str]) -> None:
        if not rows:
            return
        if self.lines:
            self.file.write("\n".join(rows) + "\n")
        else:
            self.file.write(("\n" if self.rows == 0 else ",\n") + ",\n".join(rows))
        self.rows += len(rows)

    def close(self) -> None:
        if not self.lines:
            self.file.write("\n]\n" if self.rows else "]\n")
        # On the disk before the file is moved into the output folder, where it replaces
        # the earlier dataset: after a power cut there, the new file, not an empty one.
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()


def write_datasets(
    out: Path,
    train: list[Sample],
    evaluation: list[Sample],
    system_prompt: str,
    formats: list[str],
    stem: str = "atri",
) -> list[Path]:
    """Write every requested format and dataset_info.json in one pass over the samples;
    return the paths written. No eval file is written (nor registered) when `evaluation`
    is empty. dataset_info.json holds this character's entries only: the output folder's
    other entries join them when the files are moved in (output_folder.replace_outputs)."""
    out.mkdir(parents=True, exist_ok=True)
    names = OutputNames(stem)
    encoder = _RowEncoder(system_prompt)
    encoders = {
        "sharegpt": encoder.sharegpt,
        "messages": encoder.messages,
        "alpaca": encoder.alpaca,
    }
    written: list[Path] = []
    for split, samples in (("train", train), ("eval", evaluation)):
        if not samples:
            continue
        # Every format has its held-out file: with alpaca alone, the held-out scenes
        # were in no file at all.
        chosen = [f for f in OUTPUT_FORMATS if f in formats]
        paths = [out / names.file(f, split) for f in chosen]
        writers = [_Writer(p, lines=f == "messages") for f, p in zip(chosen, paths, strict=True)]
        try:
            for start in range(0, len(samples), _BATCH):
                batch = samples[start : start + _BATCH]
                texts = [encoder.encode(s) for s in batch]
                encoder.forget()
                for fmt, writer in zip(chosen, writers, strict=True):
                    encode = encoders[fmt]
                    writer.write([encode(s, t) for s, t in zip(batch, texts, strict=True)])
        finally:
            for writer in writers:
                writer.close()
        written += paths
    write_json(out / DATASET_INFO, dataset_info(formats, stem, with_eval=bool(evaluation)))
    written.append(out / DATASET_INFO)
    return written
