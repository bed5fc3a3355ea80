"""QA round 38: a one-record dataset, resuming a finished run, and --resume with other
settings, on the tiny model (a couple of steps each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.training.sharegpt import Conversation, DatasetError, load_sharegpt
from tests.model.training.sharegpt import SYSTEM_ZH, conversation, write
from tests.model.training.test_train_eval import write_config

RECORD = conversation([("你是谁？", "我是亚托莉！"), ("你累了吗？", "不累哦！")], SYSTEM_ZH)
EXPECTED = [
    Conversation(
        SYSTEM_ZH,
        (
            ("user", "你是谁？"),
            ("assistant", "我是亚托莉！"),
            ("user", "你累了吗？"),
            ("assistant", "不累哦！"),
        ),
    )
]


def messages_record() -> dict[str, object]:
    roles = {"human": "user", "gpt": "assistant"}
    turns = [{"role": roles[t["from"]], "content": t["value"]} for t in RECORD["conversations"]]
    return {"messages": [{"role": "system", "content": SYSTEM_ZH}, *turns]}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(messages_record(), ensure_ascii=False) + "\n",  # atri_messages.jsonl, 1 record
        json.dumps(RECORD, ensure_ascii=False),  # sharegpt JSON Lines, 1 record, no newline
        json.dumps(RECORD, ensure_ascii=False, indent=2),  # one record object, laid out
    ],
)
def test_a_file_of_one_record_reads_as_that_record(tmp_path: Path, text: str) -> None:
    path = tmp_path / "atri_messages.jsonl"
    path.write_text(text, encoding="utf-8")
    assert load_sharegpt(path) == EXPECTED
    assert load_sharegpt(path, allow_empty=True) == EXPECTED  # as a held-out file


def test_a_dataset_info_index_given_as_the_dataset_is_one_sentence(tmp_path: Path) -> None:
    path = write(tmp_path / "dataset_info.json", {"atri": {"file_name": "atri_sharegpt.json"}})
    with pytest.raises(DatasetError) as info:
        load_sharegpt(path)
    message = str(info.value)
    assert "LLaMA-Factory dataset_info.json index" in message
    assert "atri_sharegpt.json" in message and "\n" not in message


def test_atri_train_trains_on_a_one_record_jsonl_file(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, target_modules=["q_proj"])
    jsonl = tmp_path / "data" / "atri_messages.jsonl"
    jsonl.write_text(json.dumps(messages_record(), ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--dataset", str(jsonl), "--batch-size", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "1 / 0" in result.output  # samples (train / held-out)
