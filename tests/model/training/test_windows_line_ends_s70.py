"""A training file made on Windows holds "\\r\\n" (or a lone "\\r") inside its texts: she
learnt line ends the worker never shows her (it reads every message with "\\n")."""

from __future__ import annotations

import json
from pathlib import Path

from model.training.sharegpt import load_sharegpt


def test_line_ends_inside_texts_are_read_as_newlines(tmp_path: Path) -> None:
    record = {
        "system": "You are ATRI.\r\nBe kind.",
        "conversations": [
            {"from": "human", "value": "在吗？\r\n夏生来了。"},
            {"from": "gpt", "value": "在的！\r\n我是高性能的亚托莉！\r嗯。"},
        ],
    }
    path = tmp_path / "sharegpt.json"
    path.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    [conv] = load_sharegpt(path)
    assert conv.system == "You are ATRI.\nBe kind."
    assert conv.turns == (
        ("user", "在吗？\n夏生来了。"),
        ("assistant", "在的！\n我是高性能的亚托莉！\n嗯。"),
    )
