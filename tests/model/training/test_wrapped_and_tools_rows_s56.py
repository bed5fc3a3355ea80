"""Training files as exports write them: records wrapped in one object (`{"data": [...]}`),
read as that list with the key said; and rows that carry tool definitions without any tool
turn, which train without them, said once instead of silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.training.sharegpt import DatasetError, load_sharegpt
from tests.cli_output import says
from tests.model.training.test_train_eval import write_config

SYSTEM = "You are ATRI, a high-performance robot girl. Stay in character."
TOOLS = [{"type": "function", "function": {"name": "weather", "parameters": {}}}]


def row(said: str, reply: str, **extra: Any) -> dict[str, Any]:
    turns = [{"role": "user", "content": said}, {"role": "assistant", "content": reply}]
    return {"messages": [{"role": "system", "content": SYSTEM}, *turns], **extra}


def write(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


def test_records_wrapped_in_one_object_are_read_from_its_only_list(tmp_path: Path) -> None:
    rows = [row("hi", "Hello!"), row("crab?", "Crab!")]
    path = write(tmp_path / "export.json", {"version": "1.0", "count": 2, "data": rows})
    notes: list[str] = []
    loaded = load_sharegpt(path, notify=notes.append)
    assert [c.replies() for c in loaded] == [["Hello!"], ["Crab!"]]
    assert [c.source for c in loaded] == [0, 1]  # "record N" counts in that list
    assert notes == [
        f'{path}: one JSON object; its records are read from its "data" list (2 of them).',
        # Said since s57 (test_wrapped_system_and_keys_s57.py).
        f'{path}: top-level keys "version", "count" beside the "data" list are ignored: '
        'training reads only the records and a top-level "system".',
    ]


def test_a_wrapped_file_names_a_bad_record_by_its_place_in_the_list(tmp_path: Path) -> None:
    bad = {"messages": [{"role": "narrator", "content": "..."}]}
    path = write(tmp_path / "export.json", {"rows": [row("hi", "Hello!"), bad]})
    with pytest.raises(DatasetError, match=r"record 1: a turn has role = 'narrator'"):
        load_sharegpt(path, notify=lambda _: None)


def test_a_wrapped_json_lines_line_is_read_as_its_records(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps({"items": [row("hi", "Hello!")]}) + "\n", encoding="utf-8")
    [conv] = load_sharegpt(path, notify=lambda _: None)
    assert conv.replies() == ["Hello!"]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        # Two lists: which one is the training set is not this reader's guess.
        (
            {"train": [row("hi", "Hello!")], "test": [row("yo", "Yo!")]},
            'one JSON object with 2 lists ("train" and "test"), so which one holds the records',
        ),
        # An empty list holds no records to tell it by: refused as before.
        ({"data": []}, 'holds one JSON object with keys "data", not records'),
        # A record of another shape (PIPPA's): its one list is turns, not records.
        (
            {"bot_id": "x", "conversation": [{"message": "hi", "is_human": True}]},
            'holds one JSON object with keys "bot_id", "conversation", not records',
        ),
    ],
)
def test_an_object_whose_records_are_not_clear_is_still_refused(
    tmp_path: Path, value: dict[str, Any], said: str
) -> None:
    path = write(tmp_path / "export.json", value)
    with pytest.raises(DatasetError) as caught:
        load_sharegpt(path)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_rows_carrying_tools_without_tool_turns_are_said_once(tmp_path: Path) -> None:
    tool_turns = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
            {"role": "tool", "content": "clear"},
            {"role": "assistant", "content": "Clear."},
        ],
        "tools": TOOLS,
    }
    rows = [
        row("hi", "Hello!", tools=TOOLS),
        row("crab?", "Crab!", tools=json.dumps(TOOLS)),  # LLaMA-Factory's: a JSON string
        row("sea?", "Sea!", tools="[]"),  # none: LLaMA-Factory's empty column
        row("boat?", "Boat!", tools=""),
        row("sleep?", "No!"),
        tool_turns,  # left out for its tool turns, and said so: not counted twice
    ]
    path = write(tmp_path / "tools.json", rows)
    notes: list[str] = []
    loaded = load_sharegpt(path, notify=notes.append)
    assert len(loaded) == 5
    assert notes == [
        f"{path}: 1 conversation with function_call/observation turns left out: role-play "
        "training learns replies to people only.",
        f'{path}: 2 conversations carry tool definitions ("tools") that are not trained: '
        "the conversation trains without them, as replies to people.",
    ]
    # Rows without tools: no note.
    quiet = write(tmp_path / "plain.json", [row("hi", "Hello!"), row("yo", "Yo!")])
    notes.clear()
    load_sharegpt(quiet, notify=notes.append)
    assert notes == []


def test_the_tools_column_a_dataset_info_names_is_the_one_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "lf.json", [row("hi", "Hello!", functions=TOOLS)])
    info = {"lf": {"file_name": "lf.json", "formatting": "sharegpt", "columns": {"messages": "messages", "tools": "functions"}}}  # fmt: skip
    write(tmp_path / "data" / "dataset_info.json", info)
    notes: list[str] = []
    load_sharegpt(path, notify=notes.append)
    assert notes == [
        f'{path}: 1 conversation carries tool definitions ("functions") that are not trained: '
        "the conversation trains without them, as replies to people."
    ]


def test_atri_train_reads_a_wrapped_file_and_says_so(tmp_path: Path, tiny_model_dir: Path) -> None:
    """One step on the tiny model: both notes reach the training's output."""
    config = write_config(tmp_path, tiny_model_dir)
    rows = [row("hi", "Hello!", tools=TOOLS), row("crab?", "Crab!"), row("sea?", "Sea!")]
    data = write(tmp_path / "data" / "export.json", {"data": rows})
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--dataset", str(data), "--max-steps", "1"]
    )
    assert result.exit_code == 0, result.output
    assert says(result.output, 'its records are read from its "data" list (3 of them)')
    assert says(result.output, '1 conversation carries tool definitions ("tools")')
