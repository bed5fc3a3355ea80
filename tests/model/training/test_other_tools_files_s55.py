"""Dataset files as other tools write them (OpenAI fine-tuning JSONL with content parts,
LLaMA-Factory folders, pandas, hand-edited JSON Lines): what trains, and the one sentence
naming the right row when one cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.adapters.versions import read_manifest
from model.server.openai_api import InMessage
from model.training.data_files import tokenize_files
from model.training.errors import TrainError
from model.training.sharegpt import DatasetError, load_sharegpt
from tests.cli_output import says
from tests.model.training.test_train_eval import write_config
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tokenizer

SYSTEM = "You are ATRI, a high-performance robot girl. Stay in character."


def msg(role: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **extra}


def sg(*turns: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    return {"conversations": [{"from": f, "value": v} for f, v in turns], **extra}


def jsonl(path: Path, records: list[Any], newline: str = "\n", bom: bool = False) -> Path:
    text = newline.join(json.dumps(r, ensure_ascii=False) for r in records) + newline
    path.write_bytes(("\ufeff" * bom + text).encode("utf-8"))
    return path


def refusal(path: Path) -> str:
    with pytest.raises(DatasetError) as caught:
        load_sharegpt(path)
    return str(caught.value)


def test_openai_content_parts_are_joined_as_the_worker_joins_them(tmp_path: Path) -> None:
    parts = [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "ATRI."}]
    reply = [{"type": "refusal", "refusal": "No crabs today."}]
    path = jsonl(
        tmp_path / "chat.jsonl", [{"messages": [msg("user", parts), msg("assistant", reply)]}]
    )
    [conv] = load_sharegpt(path)
    served = InMessage.model_validate(msg("user", parts)).text()
    assert conv.turns == (("user", served), ("assistant", "No crabs today."))
    assert served == "Hello, ATRI."


def test_a_conversation_with_an_image_part_is_left_out_and_counted(tmp_path: Path) -> None:
    image = [{"type": "text", "text": "Look!"}, {"type": "image_url", "image_url": {"url": "x"}}]
    path = jsonl(
        tmp_path / "chat.jsonl",
        [
            {"messages": [msg("user", image), msg("assistant", "A crab!")]},
            {"messages": [msg("user", "hi"), msg("assistant", "Hello!")]},
        ],
    )
    notes: list[str] = []
    [conv] = load_sharegpt(path, notify=notes.append)
    assert conv.turns == (("user", "hi"), ("assistant", "Hello!"))
    assert notes and "1 conversation with images, videos or audio left out" in notes[0]


def test_the_developer_role_is_the_system_prompt(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "chat.jsonl",
        [{"messages": [msg("developer", SYSTEM), msg("user", "hi"), msg("assistant", "Hello!")]}],
    )
    [conv] = load_sharegpt(path)
    assert conv.system == SYSTEM and conv.turns[0] == ("user", "hi")


def test_an_unknown_role_is_named_with_the_roles_openai_files_use(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "chat.jsonl", [{"messages": [msg("narrator", "x"), msg("assistant", "y")]}]
    )
    message = refusal(path)
    assert 'a turn has role = \'narrator\'; expected "user" or "assistant"' in message
    assert 'string "content"' in message


def test_a_bad_row_is_named_by_its_place_in_the_file_after_rows_left_out(tmp_path: Path) -> None:
    """Rows left out before it (a late system turn, tool use) made the message name the
    record after them as another one: record 1 for the third row."""
    path = tmp_path / "data.json"
    rows = [sg(("human", "a"), ("system", "note"), ("gpt", "b"))]
    rows += [sg(("human", "a"), ("function_call", "{}"), ("observation", "ok"), ("gpt", "b"))]
    rows += [sg(("human", "x"), ("gpt", None))]
    path.write_text(json.dumps(rows), encoding="utf-8")
    assert refusal(path) == f'{path}: record 2: a "gpt" turn\'s "value" is null, not text.'


def test_a_bad_json_lines_row_is_named_by_its_line_too(tmp_path: Path) -> None:
    good = json.dumps(sg(("human", "a"), ("gpt", "b")))
    path = tmp_path / "data.jsonl"
    path.write_text(f"{good}\n\n{good}\n" + json.dumps({"conversation": []}) + "\n", "utf-8")
    assert f'{path}: record 2 (line 4) has no "conversations" list' in refusal(path)


def test_json_lines_split_at_newlines_only(tmp_path: Path) -> None:
    """U+2028 and U+0085 stay raw in JSON written with ensure_ascii=False; splitlines()
    cut the record there."""
    path = jsonl(
        tmp_path / "data.jsonl",
        [sg(("human", "a\u2028b"), ("gpt", "c\x85d")), sg(("human", "e"), ("gpt", "f"))],
        newline="\r\n",
        bom=True,
    )
    first, second = load_sharegpt(path)
    assert first.turns == (("user", "a\u2028b"), ("assistant", "c\x85d"))
    assert second.turns == (("user", "e"), ("assistant", "f"))


def test_commas_between_json_lines_records_are_named(tmp_path: Path) -> None:
    record = json.dumps(sg(("human", "a"), ("gpt", "b")))
    path = tmp_path / "data.jsonl"
    path.write_text(f"{record},\n{record}\n", encoding="utf-8")
    assert "line 1 is not a JSON record (Extra data) (it ends in a comma" in refusal(path)
    path.write_text(f"{record}\n,\n{record}\n", encoding="utf-8")
    assert "line 2 is not a JSON record (Expecting value) (it ends in a comma" in refusal(path)


def test_a_trailing_comma_in_a_json_list_is_named(tmp_path: Path) -> None:
    record = json.dumps(sg(("human", "a"), ("gpt", "b")))
    path = tmp_path / "data.json"
    path.write_text(f"[\n{record},\n]\n", encoding="utf-8")
    assert "(a comma before a closing bracket, which JSON does not allow)" in refusal(path)


def test_a_pandas_table_says_how_to_write_records(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    turns = [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]
    path.write_text(json.dumps({"conversations": {"0": turns}}), encoding="utf-8")
    assert refusal(path) == (
        f'{path}: record 0: its "conversations" is an object, not a list of turns, as pandas '
        'writes a table unless told to_json(orient="records").'
    )


def test_a_record_too_long_is_named_by_its_place_in_the_file(tmp_path: Path) -> None:
    tokenizer = build_tokenizer(TRAINING_TEXT, 400, CHATML_TEMPLATE)
    path = tmp_path / "data.json"
    rows = [sg(("human", "hi"), ("gpt", ""))]  # nothing to learn: left out
    rows += [sg(("human", "Who are you?"), ("gpt", "I am ATRI. " * 40))]
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(TrainError, match=r"the longest \(record 1 of .*data\.json\) needs"):
        tokenize_files(tokenizer, load_sharegpt(path, notify=print), None, 16, path)


def test_a_llama_factory_folder_is_told_to_pass_its_registered_file(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    folder = tmp_path / "lf_data"
    jsonl(folder.mkdir() or folder / "mine.jsonl", [{"messages": [msg("user", "a")]}])
    entry = {
        "file_name": "mine.jsonl",
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user"},
    }
    index = {"mine": entry, "hub": {"hf_hub_url": "x/y"}}
    (folder / "dataset_info.json").write_text(json.dumps(index), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--dataset", str(folder), "--max-steps", "1"]
    )
    assert result.exit_code == 1, result.output
    assert says(
        result.output,
        f"{folder} is a folder whose dataset_info.json registers mine.jsonl; atri train reads "
        f"one file, not the folder's index: pass that file (--dataset {folder / 'mine.jsonl'})",
    )
    assert "Traceback" not in result.output


def test_an_openai_file_of_another_tool_trains(tmp_path: Path, tiny_model_dir: Path) -> None:
    """One step on the tiny model: content parts, names, a developer prompt, a tool
    conversation and an empty reply, CRLF with a BOM; the prompt it trained under is
    the version's."""
    config = write_config(tmp_path, tiny_model_dir)
    parts = [{"type": "text", "text": "Who are "}, {"type": "text", "text": "you?"}]
    developer = msg("developer", SYSTEM, name="setup")
    rows = [
        [msg("user", parts, name="Natsuki"), msg("assistant", "ATRI!")],
        [msg("user", "hi"), msg("assistant", ""), msg("user", "hm?"), msg("assistant", "Mm!")],
        [msg("user", "time?"), msg("tool", "noon", tool_call_id="1"), msg("assistant", "Noon!")],
    ]
    rows = [{"messages": [developer, *turns]} for turns in rows]
    data = jsonl(tmp_path / "data" / "other.jsonl", rows, newline="\r\n", bom=True)
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--dataset", str(data), "--max-steps", "1"]
    )
    assert result.exit_code == 0, result.output
    assert says(result.output, "1 conversation with function_call/observation turns left out")
    [version] = [p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")]
    assert read_manifest(version)["system_prompt"] == SYSTEM
