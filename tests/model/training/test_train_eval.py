"""End to end on the tiny model: `atri train` → version folder → engine → `atri eval`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from transformers import TrainerCallback
from typer.testing import CliRunner

from atri.cli import app
from atri.config import Settings
from tests.cli_output import says
from tests.model.training.sharegpt import SYSTEM_ZH, conversation, write, zh_dataset

REPO = Path(__file__).resolve().parents[3]
TRAIN_FLAGS = ["--max-steps", "30", "--eval-steps", "10", "--grad-accum", "1", "--lr", "0.01"]


def write_config(tmp_path: Path, model_dir: Path, **train: object) -> Path:
    lines = ["[model]", f'base = "{model_dir}"', "[train]", 'dataset = "data/atri_sharegpt.json"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in train.items()]
    lines += ["[eval]", "max_new_tokens = 8"]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write(tmp_path / "data" / "atri_sharegpt.json", zh_dataset(32))
    write(tmp_path / "data" / "atri_sharegpt_eval.json", zh_dataset(8))
    return path


def test_train_then_eval_makes_a_version_the_engine_loads(
    tmp_path: Path, any_tiny_model_dir: Path, tiny_settings: Settings
) -> None:
    tiny_model_dir = any_tiny_model_dir
    tiny_settings.model.base = str(tiny_model_dir)
    config = write_config(tmp_path, tiny_model_dir)
    result = CliRunner().invoke(app, ["--config", str(config), "train", *TRAIN_FLAGS])
    assert result.exit_code == 0, result.output
    assert "held-out loss" in result.output
    visible = [p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")]
    assert len(visible) == 1
    version = visible[0]
    for name in ("adapter_config.json", "adapter_model.safetensors", "manifest.json", "loss.png"):
        assert (version / name).is_file(), name
    assert not (version / "adapter.gguf").exists()  # a base with no GGUF, engine local
    # Readable as any file made here (not safetensors' 0600): vLLM may run as another user.
    for name in ("adapter_model.safetensors", "manifest.json"):
        assert (version / name).stat().st_mode & 0o777 == 0o666 & ~_umask(), name
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "atri-adapter" and manifest["version"] == version.name
    assert manifest["base_model"] == str(tiny_model_dir)
    assert manifest["settings"]["max_steps"] == 30 and manifest["lora_r"] == 16
    assert manifest["eval_dataset_sha256"] and manifest["eval_loss"] is not None
    held_out = tmp_path / "data" / "atri_sharegpt_eval.json"
    assert manifest["eval_dataset_file"] == str(held_out.resolve())
    # The adapter carries the prompt it learned under and the template that rendered it.
    assert manifest["system_prompt"] == SYSTEM_ZH
    assert manifest["chat_template"] and "<|im_start|>" in manifest["chat_template"]
    # Whom it was trained as: the configured card (ATRI's, in its main language here).
    assert manifest["character"] == "亚托莉"
    assert set(manifest["character_names"]) == {"亚托莉", "ATRI", "アトリ", "Atri"}
    assert set(manifest["target_modules"]) == {
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    }  # fmt: skip

    from model.engines.loading import load_base_model
    from model.engines.local import LocalEngine
    from model.evaluation.perplexity import mean_token_loss
    from model.training.dataset import tokenize_dataset
    from model.training.sharegpt import load_sharegpt

    loaded = load_base_model(tiny_settings)
    assert manifest["base_config_hash"] == loaded.config_hash
    samples = tokenize_dataset(
        loaded.tokenizer, load_sharegpt(tmp_path / "data" / "atri_sharegpt.json"), 1024
    ).samples
    pad = loaded.tokenizer.pad_token_id
    base_loss = mean_token_loss(loaded.model, samples, pad, 8)
    engine = LocalEngine(loaded, 4096)
    prompt = [[{"role": "user", "content": "你是谁？"}]]
    before = engine.generate_sync(prompt, tiny_settings.generation)[0].text
    engine.load_adapter_sync(version, version.name)
    engine.activate_sync(version.name)
    after = engine.generate_sync(prompt, tiny_settings.generation)[0]
    assert after.adapter_version == version.name
    assert after.text != before
    assert mean_token_loss(engine.model, samples, pad, 8) < base_loss

    result = CliRunner().invoke(app, ["--config", str(config), "eval"])
    assert result.exit_code == 0, result.output
    report = json.loads((version / "eval.json").read_text(encoding="utf-8"))
    assert report["adapter_version"] == version.name and report["probes"] >= 20
    for which in ("base", "adapter"):
        assert set(report[which]) == {"perplexity", "ooc_rate", "style_rate"}
        assert 0 <= report[which]["ooc_rate"] <= 1
    assert report["adapter"]["perplexity"] < report["base"]["perplexity"]
    assert "| held-out perplexity |" in (version / "eval.md").read_text(encoding="utf-8")


def test_a_bad_dataset_is_one_sentence(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    (tmp_path / "data" / "atri_sharegpt.json").write_text("[{]", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 1
    assert says(result.output, "atri_sharegpt.json: not valid JSON")
    assert "Traceback" not in result.output
    assert not (tmp_path / "adapters").exists() or not [
        p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")
    ]


def test_an_adapters_dir_that_is_a_file_is_one_sentence_before_loading(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    (tmp_path / "adapters").write_text("notes\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--max-steps", "1"])
    assert result.exit_code == 1, result.output
    assert says(result.output, "adapters is a file, not a folder")
    assert says(result.output, "--output-dir")
    assert "Traceback" not in result.output
    assert (tmp_path / "adapters").read_text(encoding="utf-8") == "notes\n"


def test_an_adapters_dir_that_cannot_be_written_is_one_sentence_before_loading(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing read-only folder (a volume another user owns) passed the mkdir, and the
    run ended in a traceback from its first temporary folder, after loading the model."""
    import errno
    import tempfile

    from model.training import runner

    config = write_config(tmp_path, tiny_model_dir)
    (tmp_path / "adapters").mkdir()

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr(runner, "load_for_training", never)
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--max-steps", "1"])
    assert result.exit_code == 1, result.output
    assert says(result.output, "Cannot write in the adapters folder")
    assert says(result.output, "(Read-only file system); set [model] adapters_dir")
    assert "Traceback" not in result.output


def test_a_dataset_flag_naming_a_folder_says_so(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    for flag in ("--dataset", "--eval-dataset"):
        result = CliRunner().invoke(app, ["--config", str(config), "train", flag, str(tmp_path)])
        assert result.exit_code == 1, result.output
        assert says(result.output, "is a folder; pass the"), result.output
        assert says(result.output, flag), result.output


def whole_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def test_killed_run_leaves_no_version_and_resume_continues(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(
        tmp_path, tiny_model_dir, max_steps=150, eval_steps=30, gradient_accumulation=1
    )
    command = [sys.executable, "-m", "atri", "--config", str(config), "train"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    adapters = tmp_path / "adapters"
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        # Whole: a trainer_state.json being written is there before its end, and a run
        # killed then has no checkpoint to resume (that one is removed as cut off).
        while not any(
            whole_json(p) for p in adapters.glob(".runs/*/checkpoint-*/trainer_state.json")
        ):
            assert proc.poll() is None, "training ended before it could be interrupted"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert [p.name for p in adapters.iterdir() if not p.name.startswith(".")] == []

    done = subprocess.run(
        [*command, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Resuming from step" in done.stdout
    versions = [p for p in adapters.iterdir() if not p.name.startswith(".")]
    assert len(versions) == 1 and (versions[0] / "manifest.json").is_file()
    assert not list(adapters.glob(".tmp-*"))


@pytest.mark.slow
def test_offline_default_model_learns_the_english_fixture(
    tmp_path: Path, settings: Settings
) -> None:
    """SmolLM2-135M, a short run: the held-out loss drops measurably from the base's."""
    from model.training.runner import train
    from tests.model.training.sharegpt import en_dataset

    write(tmp_path / "en.json", en_dataset(24, seed=1, max_exchanges=1))
    write(tmp_path / "en_eval.json", en_dataset(4, seed=2, max_exchanges=1))
    settings.train.dataset = str(tmp_path / "en.json")
    settings.train.eval_dataset = str(tmp_path / "en_eval.json")
    settings.train.max_steps = 6
    settings.train.batch_size = 4
    settings.train.gradient_accumulation = 1
    settings.train.eval_steps = 6
    settings.train.max_seq_length = 256
    settings.train.learning_rate = 2e-3
    settings.train.target_modules = ["q_proj", "v_proj"]
    result = train(settings)
    manifest = result.manifest
    # The first held-out loss is measured before any update: the base model's.
    assert manifest["eval_loss"] < manifest["base_eval_loss"] - 0.3, manifest
    assert manifest["base_model"] == "builtin:smollm2-135m"
    assert (result.version_dir / "adapter_model.safetensors").is_file()
    # The offline default is served on a CPU: the llama.cpp LoRA comes with the version.
    assert (result.version_dir / "adapter.gguf").is_file()


def versions_of(adapters: Path) -> dict[str, dict[str, bytes]]:
    """Every visible version folder with its files' bytes."""
    return {
        v.name: {f.name: f.read_bytes() for f in v.iterdir()}
        for v in sorted(adapters.iterdir())
        if not v.name.startswith(".")
    }


def test_a_full_disk_while_saving_is_one_sentence_and_keeps_the_earlier_versions(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from peft import PeftModel

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=1, target_modules=["q_proj", "v_porj"]
    )
    first = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert first.exit_code == 0, first.output
    # A misspelt module is said, not silently left out.
    assert "['v_porj'] match no layer of this model; training ['q_proj'] only" in " ".join(
        first.output.split()
    )
    adapters = tmp_path / "adapters"
    before = versions_of(adapters)

    def full_disk(self: object, folder: str, **kwargs: object) -> None:
        (Path(folder) / "adapter_model.safetensors").write_bytes(b"half an adap")
        raise OSError(errno.ENOSPC, "No space left on device", folder)

    monkeypatch.setattr(PeftModel, "save_pretrained", full_disk)
    result = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "No space left on device" in flat and "no version was written" in flat
    assert not isinstance(result.exception, OSError)  # not a traceback
    assert versions_of(adapters) == before
    assert not list(adapters.glob(".tmp-*"))

    # `atri eval` on a full disk: one sentence, no half report, no hidden temporary left.
    monkeypatch.undo()

    def eval_full_disk(fd: int) -> None:  # the report's text written, not stored
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", eval_full_disk)
    result = CliRunner().invoke(app, ["--config", str(config), "eval", "--max-new-tokens", "2"])
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "Could not write the evaluation" in flat and "No space left on device" in flat
    assert not isinstance(result.exception, OSError)
    assert versions_of(adapters) == before
    assert not [p for p in adapters.rglob(".eval*")]


class InterruptAt(TrainerCallback):
    """Ctrl-C at the end of a step, after the checkpoints before it were saved."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            raise KeyboardInterrupt


def interrupted_run(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A 3-step run stopped by Ctrl-C after step 2 (checkpoints at 1 and 2); its config."""
    from atri.config import load_settings
    from model.training.runner import train

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=3, eval_steps=1, gradient_accumulation=1
    )
    with pytest.raises(KeyboardInterrupt):
        train(load_settings(config), callbacks=[InterruptAt(2)])
    return config


def test_resume_skips_a_checkpoint_cut_off_while_saving_and_a_second_run_waits(
    tmp_path: Path, tiny_model_dir: Path
) -> None:

    config = interrupted_run(tmp_path, tiny_model_dir)
    adapters = tmp_path / "adapters"
    [run] = adapters.glob(".runs/*/")
    assert (run / "checkpoint-1" / "trainer_state.json").is_file()
    # Ctrl-C while checkpoint-2 was being saved: its weights half written, no state yet.
    cut = shutil.copytree(run / "checkpoint-1", run / "checkpoint-2")
    (cut / "trainer_state.json").unlink()
    weights = cut / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])

    # Another `atri train` training into the run's folder: it holds the run's lock.
    hold = (
        "import sys, time; from pathlib import Path; from atri.locks import exclusive;"
        "held = exclusive(Path(sys.argv[1]), wait=False); held.__enter__();"
        "print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(run.parent / f"{run.name}.lock")],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        busy = CliRunner().invoke(app, ["--config", str(config), "train", "--resume"])
        assert busy.exit_code == 1
        assert f"Another `atri train` (process {holder.pid})" in " ".join(busy.output.split())
        assert (run / "checkpoint-1" / "trainer_state.json").is_file()  # its run untouched
    finally:
        holder.kill()
        holder.wait()

    # An earlier run with other settings, interrupted: its checkpoints are said, not
    # silently kept for ever.
    other = run.parent / "0123456789abcdef" / "checkpoint-5"
    other.mkdir(parents=True)
    (other / "adapter_model.safetensors").write_bytes(bytes(3 << 20))
    # The holder died without removing its lock: the lock does not outlive it.
    done = CliRunner().invoke(app, ["--config", str(config), "train", "--resume"])
    assert done.exit_code == 0, done.output
    assert "Removed checkpoint-2" in done.output and "Resuming from step 1" in done.output
    assert "1 unfinished training run(s) with other settings or data keep 3 MiB" in " ".join(
        done.output.split()
    )
    assert len(versions_of(adapters)) == 1
    assert [p.name for p in adapters.glob(".runs/*/")] == ["0123456789abcdef"]  # not deleted


def test_a_run_without_resume_says_it_discards_the_interrupted_one(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from atri.config import load_settings
    from model.training.runner import train

    config = interrupted_run(tmp_path, tiny_model_dir)
    said: list[str] = []
    train(load_settings(config), notify=said.append)
    assert any("interrupted run" in m and "step 1" in m and "discarded" in m for m in said), said


def test_unfinished_runs_leave_out_the_current_one_and_one_being_trained(
    tmp_path: Path,
) -> None:
    from atri.locks import exclusive
    from model.training.run_folder import unfinished_runs

    runs = tmp_path / ".runs"
    for name in ("current", "interrupted", "training"):
        (runs / name / "checkpoint-1").mkdir(parents=True)
        (runs / name / "checkpoint-1" / "w.bin").write_bytes(b"12345")
    with exclusive(runs / "training.lock", wait=False):  # as `atri train` holds it
        assert unfinished_runs(runs / "current") == [(runs / "interrupted", 5)]
    assert unfinished_runs(tmp_path / "none" / "current") == []


def test_eval_says_which_held_out_conversations_its_perplexity_leaves_out(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """A held-out conversation too long for max_seq_length is not in the perplexity:
    `atri eval` says so, instead of measuring fewer than the file holds in silence."""
    config = write_config(
        tmp_path, tiny_model_dir, max_steps=1, max_seq_length=128, target_modules=["q_proj"]
    )
    assert CliRunner().invoke(app, ["--config", str(config), "train"]).exit_code == 0
    too_long = conversation([("你是谁？", "我是亚托莉！" * 200)], SYSTEM_ZH)
    write(tmp_path / "data" / "atri_sharegpt_eval.json", [*zh_dataset(3), too_long])
    result = CliRunner().invoke(app, ["--config", str(config), "eval", "--max-new-tokens", "2"])
    assert result.exit_code == 0, result.output
    assert (
        "1 of the 4 held-out conversations are left out of the perplexity: 1 too long for "
        "[train] max_seq_length = 128 even with only their last exchange."
    ) in " ".join(result.output.split())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
