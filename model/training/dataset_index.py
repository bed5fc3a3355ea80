"""What a dataset folder's LLaMA-Factory index (dataset_info.json) says about a training
file: the columns and tags it is registered with (read as LLaMA-Factory reads them), and
the held-out file registered beside it.

`atri prep` writes this index; files made by other tools may come with their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.training.errors import DatasetError

if TYPE_CHECKING:
    from atri.config import Settings

# `atri prep` names a held-out file after its training file: eileen_sharegpt.json →
# eileen_sharegpt_eval.json, and registers both in this LLaMA-Factory index.
EVAL_SUFFIX = "_eval"
DATASET_INFO = "dataset_info.json"


# An entry of LLaMA-Factory's index names its dataset by one of these (its data/README).
_INDEX_SOURCES = ("file_name", "hf_hub_url", "ms_hub_url", "script_url")


def is_index(data: dict[str, Any]) -> bool:
    """Whether an object is a dataset_info.json: entries (objects), one at least naming
    where its dataset is. LLaMA-Factory's own mixes local files with hub datasets."""
    entries = list(data.values())
    return (
        bool(entries)
        and all(isinstance(v, dict) for v in entries)
        and any(k in v for v in entries for k in _INDEX_SOURCES)
    )


# What a dataset_info.json entry's "columns" name, as the keys this reader knows them by.
_COLUMN_KEYS = {
    "messages": "conversations",
    "system": "system",
    "prompt": "instruction",
    "query": "input",
    "response": "output",
    "history": "history",
    "chosen": "chosen",
    "rejected": "rejected",
    "images": "images",
    "videos": "videos",
    "audios": "audios",
}
# Read elsewhere (sharegpt.py): kto_tag picks the rows trained; tools are counted as not
# trained (a conversation without tool turns trains without its tool descriptions).
_COLUMNS_READ_ELSEWHERE = frozenset({"kto_tag", "tools"})
# A "tags" role value, as the sharegpt role this reader knows.
_ROLE_TAGS = {
    "user_tag": "human",
    "assistant_tag": "gpt",
    "system_tag": "system",
    "observation_tag": "observation",
    "function_tag": "function_call",
}


def as_registered(path: Path, data: list[Any], say: Callable[[str], None]) -> list[Any]:
    """The records under the names this reader knows, when the folder's dataset_info.json
    registers the file with its own "columns" (e.g. "system": "system_prompt") and
    "tags" (role and content keys, role values), as LLaMA-Factory reads it. Only what is
    named is renamed, so a file registered without tags keeps its "from" or "role" turns.
    Columns and tags this reader has no meaning for are named in one sentence."""
    entry = _registered_entry(path)
    columns, tags = _object(entry.get("columns")), _object(entry.get("tags"))
    renames = {
        _COLUMN_KEYS[k]: v for k, v in columns.items() if k in _COLUMN_KEYS and isinstance(v, str)
    }
    unknown = [f"columns.{k}" for k in columns if k not in _COLUMN_KEYS]
    unknown = [u for u in unknown if u[len("columns.") :] not in _COLUMNS_READ_ELSEWHERE]
    known_tags = {"role_tag", "content_tag", *_ROLE_TAGS}
    unknown += [f"tags.{k}" for k in tags if k not in known_tags]
    formatting = entry.get("formatting", "alpaca")
    if formatting not in ("alpaca", "sharegpt"):
        unknown.append(f"formatting {json.dumps(formatting)}")
    if unknown:
        say(
            f"{path.parent / DATASET_INFO}: {', '.join(unknown)} in the entry for {path.name} "
            "are not read by training (it reads the columns messages, system, prompt, query, "
            "response, history and kto_tag, and the tags for roles and content)."
        )
    if not renames and not tags:
        return data
    return [_renamed(r, renames, tags) if isinstance(r, dict) else r for r in data]


def _renamed(record: dict[str, Any], renames: dict[str, str], tags: dict[str, Any]) -> Any:
    out = {k: v for k, v in record.items() if k not in renames and k not in renames.values()}
    out.update({known: record[key] for known, key in renames.items() if key in record})
    turns = out.get("conversations")
    if tags and isinstance(turns, list):
        out["conversations"] = [_turn_renamed(t, tags) for t in turns]
    return out


def _turn_renamed(turn: Any, tags: dict[str, Any]) -> Any:
    role_key, content_key = tags.get("role_tag", "from"), tags.get("content_tag", "value")
    if not isinstance(turn, dict) or role_key not in turn:
        return turn
    roles = {tags[k]: known for k, known in _ROLE_TAGS.items() if isinstance(tags.get(k), str)}
    role = turn[role_key]
    rest = {k: v for k, v in turn.items() if k not in (role_key, content_key)}
    renamed = roles.get(role, role) if isinstance(role, str) else role
    return {**rest, "from": renamed, "value": turn.get(content_key)}


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


def split_of(file: Path) -> tuple[Path, str] | None:
    """The training file that `file` is the held-out split of, and how that is known:
    registered as `<name>_eval` beside the entry `<name>` in its folder's dataset_info.json,
    or named `<stem>_eval<suffix>` beside `<stem><suffix>`, as `atri prep` writes them.
    None when it is neither (or that training file is not there)."""
    file = Path(file)
    info = _dataset_info(file.parent)
    for name, entry in info.items():
        if not (name.endswith(EVAL_SUFFIX) and _names_file(entry, file.name)):
            continue
        trained = info.get(name.removesuffix(EVAL_SUFFIX))
        if isinstance(trained, dict) and isinstance(trained.get("file_name"), str):
            train_file = file.parent / trained["file_name"]
            if train_file.is_file() and train_file.name != file.name:
                return train_file, f"registered as {name} in its folder's {DATASET_INFO}"
    if file.stem.endswith(EVAL_SUFFIX):
        train_file = file.with_name(f"{file.stem.removesuffix(EVAL_SUFFIX)}{file.suffix}")
        if train_file.is_file():
            return train_file, f"named after it with {EVAL_SUFFIX}"
    return None


def _names_file(entry: Any, file_name: str) -> bool:
    return isinstance(entry, dict) and entry.get("file_name") == file_name


def _dataset_info(folder: Path) -> dict[str, Any]:
    """The folder's LLaMA-Factory index; {} when there is none or it is not an object."""
    try:
        info = json.loads((folder / DATASET_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _registered_entry(train_file: Path) -> dict[str, Any]:
    """The entry the folder's dataset_info.json has for this file ({} if none)."""
    for entry in _dataset_info(Path(train_file).parent).values():
        if isinstance(entry, dict) and entry.get("file_name") == Path(train_file).name:
            return entry
    return {}


def registered_files(folder: Path) -> list[str]:
    """The training files the folder's dataset_info.json registers that are there: its
    local entries, held-out ones (`<name>_eval`) left out."""
    info = _dataset_info(folder)
    return [
        entry["file_name"]
        for name, entry in info.items()
        if isinstance(entry, dict)
        and isinstance(entry.get("file_name"), str)
        and not name.endswith(EVAL_SUFFIX)
        and (folder / entry["file_name"]).is_file()
    ]


def registered_columns(train_file: Path) -> dict[str, Any]:
    return _object(_registered_entry(train_file).get("columns"))


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _registered_eval_file(train_file: Path) -> list[Path]:
    info = _dataset_info(train_file.parent)
    for name, entry in info.items():
        if isinstance(entry, dict) and entry.get("file_name") == train_file.name:
            held_out = info.get(f"{name}{EVAL_SUFFIX}")
            if isinstance(held_out, dict) and isinstance(held_out.get("file_name"), str):
                return [train_file.parent / held_out["file_name"]]
    return []
