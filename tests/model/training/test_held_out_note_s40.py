"""Held-out conversations training cannot score are said, not dropped in silence."""

from __future__ import annotations

from pathlib import Path

from atri.config import load_settings
from model.training.runner import train
from tests.model.training.sharegpt import SYSTEM_ZH, conversation, write, zh_dataset
from tests.model.training.test_train_eval import write_config

LONG_REPLY = "我是亚托莉！高性能的机器人哦。" * 40


def test_a_held_out_file_too_long_for_max_seq_length_is_said(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """README: the held-out file "is scored every eval_steps". One whose conversations
    were all too long for max_seq_length left the run without a held-out loss, and
    nothing said so; some too long were left out of it unsaid."""
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, max_seq_length=96)
    held_out = tmp_path / "data" / "atri_sharegpt_eval.json"
    write(held_out, [conversation([("你是谁？", LONG_REPLY)], SYSTEM_ZH)] * 2)
    said: list[str] = []
    result = train(load_settings(config), notify=said.append)
    assert result.manifest["eval_loss"] is None
    [note] = [m for m in said if "held-out" in m]
    assert str(held_out) in note and "2 too long for [train] max_seq_length = 96" in note
    assert "no held-out loss" in note

    # One of three too long: the loss is over the other two, and the run says so.
    write(held_out, [conversation([("你是谁？", LONG_REPLY)], SYSTEM_ZH), *zh_dataset(2)])
    said.clear()
    result = train(load_settings(config), notify=said.append)
    assert result.manifest["eval_loss"] is not None
    assert any("left out of the held-out loss: 1 too long" in m for m in said), said
