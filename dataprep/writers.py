"""Write samples as LLaMA-Factory sharegpt, OpenAI-style messages JSONL and alpaca."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dataprep.records import Role, Sample

OUTPUT_FORMATS = ("sharegpt", "messages", "alpaca")
SHAREGPT_TRAIN = "atri_sharegpt.json"
SHAREGPT_EVAL = "atri_sharegpt_eval.json"
MESSAGES_TRAIN = "atri_messages.jsonl"
MESSAGES_EVAL = "atri_messages_eval.jsonl"
ALPACA_TRAIN = "atri_alpaca.json"
DATASET_INFO = "dataset_info.json"

_SHAREGPT_ROLE = {Role.LEAD: "human", Role.ATRI: "gpt"}
_OPENAI_ROLE = {Role.LEAD: "user", Role.ATRI: "assistant"}
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


def dataset_info(formats: list[str]) -> dict[str, Any]:
    """Entries LLaMA-Factory reads as they are (put the folder in its `dataset_dir`)."""
    info: dict[str, Any] = {}
    if "sharegpt" in formats:
        for name, file in (("atri", SHAREGPT_TRAIN), ("atri_eval", SHAREGPT_EVAL)):
            info[name] = {
                "file_name": file,
                "formatting": "sharegpt",
                "columns": {"messages": "conversations", "system": "system"},
                "tags": dict(_SHAREGPT_TAGS),
            }
    if "messages" in formats:
        for name, file in (
            ("atri_messages", MESSAGES_TRAIN),
            ("atri_messages_eval", MESSAGES_EVAL),
        ):
            info[name] = {
                "file_name": file,
                "formatting": "sharegpt",
                "columns": {"messages": "messages"},
                "tags": dict(_MESSAGES_TAGS),
            }
    if "alpaca" in formats:
        info["atri_alpaca"] = {
            "file_name": ALPACA_TRAIN,
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


def write_json(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file.

    A list is written one element per line: still readable, and it uses the C encoder
    (json's `indent` falls back to the pure-Python one, ten times slower).
    """
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, list):
        body = ",\n".join(json.dumps(row, ensure_ascii=False) for row in data)
        text = f"[\n{body}\n]\n" if data else "[]\n"
    else:
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def write_datasets(
    out: Path, train: list[Sample], evaluation: list[Sample], system_prompt: str, formats: list[str]
) -> list[Path]:
    """Write every requested format and dataset_info.json; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "sharegpt" in formats:
        for name, rows in ((SHAREGPT_TRAIN, train), (SHAREGPT_EVAL, evaluation)):
            write_json(out / name, [to_sharegpt(s, system_prompt) for s in rows])
            written.append(out / name)
    if "messages" in formats:
        for name, rows in ((MESSAGES_TRAIN, train), (MESSAGES_EVAL, evaluation)):
            write_jsonl(out / name, [to_messages(s, system_prompt) for s in rows])
            written.append(out / name)
    if "alpaca" in formats:
        write_json(out / ALPACA_TRAIN, [to_alpaca(s, system_prompt) for s in train])
        written.append(out / ALPACA_TRAIN)
    write_json(out / DATASET_INFO, dataset_info(formats))
    written.append(out / DATASET_INFO)
    return written
