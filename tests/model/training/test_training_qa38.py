"""QA round 38: a one-record dataset, resuming a finished run, and --resume with other
settings, on the tiny model (a couple of steps each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.training.sharegpt import Conversation, DatasetError, load_sharegpt
from tests.cli_output import says
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


def adapter_tensors(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def stopped_before_publishing(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Train as `config` says, stopped by Ctrl-C once its last checkpoint is saved, as
    its version was being published."""
    import model.training.runner as runner
    from atri.config import load_settings

    def stopped(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(runner, "publish_version", stopped)
        with pytest.raises(KeyboardInterrupt):
            runner.train(load_settings(config))


def test_resuming_a_run_that_had_finished_trains_no_further_step(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped after its last checkpoint, before its version was published (Ctrl-C while
    the adapter was being written): --resume publishes that checkpoint as it is."""
    import torch

    import model.training.runner as runner
    from atri.config import load_settings

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=2, eval_steps=1, gradient_accumulation=1
    )

    stopped_before_publishing(config, monkeypatch)
    adapters = tmp_path / "adapters"
    [last] = adapters.glob(".runs/*/checkpoint-2")
    trained = adapter_tensors(last)

    said: list[str] = []
    result = runner.train(load_settings(config), resume=True, notify=said.append)
    assert result.steps == 2 and result.resumed_from_step == 2
    assert any("already finished training (all its 2 steps)" in m for m in said), said
    assert not any("Resuming from step" in m for m in said), said
    published = adapter_tensors(result.version_dir)
    assert published.keys() == trained.keys()
    assert all(torch.equal(published[k], trained[k]) for k in trained)  # no step since
    assert result.manifest["eval_loss"] is not None
    assert not list(adapters.glob(".runs/*/"))  # the finished run's checkpoints are gone


def test_finished_state_knows_a_run_stopped_early(tmp_path: Path) -> None:
    from model.training.run_folder import finished_state

    def state(step: int, stop: bool) -> Path:
        folder = tmp_path / f"checkpoint-{step}-{stop}"
        folder.mkdir()
        control = {"TrainerControl": {"args": {"should_training_stop": stop}}}
        body = {"global_step": step, "max_steps": 10, "stateful_callbacks": control}
        write(folder / "trainer_state.json", body)
        return folder

    assert finished_state(state(4, stop=True)) is not None  # early stopping at step 4
    assert finished_state(state(10, stop=False)) is not None  # all its steps
    assert finished_state(state(4, stop=False)) is None  # interrupted halfway
    assert finished_state(tmp_path / "none") is None


def test_resume_with_another_setting_names_it_and_keeps_the_checkpoints(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from atri.config import load_settings
    from model.training.runner import train
    from tests.model.training.test_train_eval import InterruptAt

    config = write_config(
        tmp_path,
        tiny_model_dir,
        max_steps=3,
        eval_steps=1,
        gradient_accumulation=1,
        learning_rate=2e-4,
        target_modules=["q_proj"],
    )
    with pytest.raises(KeyboardInterrupt):
        train(load_settings(config), callbacks=[InterruptAt(2)])
    adapters = tmp_path / "adapters"
    [run] = adapters.glob(".runs/*/")

    def kept() -> dict[str, bytes]:
        return {str(f.relative_to(run)): f.read_bytes() for f in run.rglob("*") if f.is_file()}

    before = kept()
    assert "checkpoint-1/adapter_model.safetensors" in before
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--resume", "--lr", "1e-4"])
    assert result.exit_code == 1, result.output
    assert says(result.output, f"the interrupted run in {run} (checkpoint at step 1)")
    assert says(result.output, "(learning_rate 0.0002 in the checkpoint, 0.0001 now);")
    assert "max_steps" not in result.output  # only what differs
    assert "Traceback" not in result.output and not isinstance(result.exception, KeyError)
    assert kept() == before
    assert [p.name for p in adapters.glob(".runs/*/")] == [run.name]
    assert not [p for p in adapters.iterdir() if not p.name.startswith(".")]  # no version


def test_an_older_run_without_recorded_settings_is_said(tmp_path: Path) -> None:
    from model.training.run_folder import identity_differences, resume_mismatch

    old = tmp_path / ".runs" / "0123456789abcdef"
    (old / "checkpoint-7").mkdir(parents=True)
    write(old / "checkpoint-7" / "trainer_state.json", {"global_step": 7})
    # s67: one whose saving was cut off (no trainer_state.json) is not the one named.
    (old / "checkpoint-9").mkdir()
    write(old / "run.json", {"dataset": "d.json", "started": 1.0})
    sentence = resume_mismatch({"settings": {}}, [(old, 10)])
    assert f"{old} (checkpoint at step 7)" in sentence
    assert "does not record its settings" in sentence and "\n" not in sentence
    saved = {"dataset": "a" * 64, "eval_dataset": None, "settings": {"lora_r": 16}}
    now = {"dataset": "b" * 64, "eval_dataset": "c" * 64, "settings": {"lora_r": 8}}
    assert identity_differences(saved, now) == [
        f"the training file's contents (sha256 {'a' * 12} in the checkpoint, {'b' * 12} now)",
        "the held-out file: none in the checkpoint, one now",
        "lora_r 16 in the checkpoint, 8 now",
    ]
