"""QA round 39: `atri train --resume` with other settings is refused before the base model
loads, and odd datasets and settings on the tiny model (a couple of steps each)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from tests.cli_output import says
from tests.model.training.test_train_eval import REPO, InterruptAt, whole_json, write_config


def test_resume_with_another_setting_is_refused_before_the_model_loads(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """The refusal came only after the base had loaded and the data was tokenized (the run
    folder's name needs the model's config hash): minutes of a 7B model loading before
    "no". Here the base's weights are broken after the interrupted run, so loading them
    would fail: the sentence about the setting comes first."""
    from atri.config import load_settings
    from model.training.runner import train

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    config = write_config(
        tmp_path,
        base,
        max_steps=3,
        eval_steps=1,
        gradient_accumulation=1,
        learning_rate=2e-4,
        target_modules=["q_proj"],
    )
    with pytest.raises(KeyboardInterrupt):
        train(load_settings(config), callbacks=[InterruptAt(2)])
    [run] = (tmp_path / "adapters").glob(".runs/*/")
    [weights] = base.glob("*.safetensors")
    weights.write_bytes(b"not weights")  # whatever loads them now fails

    result = CliRunner().invoke(app, ["--config", str(config), "train", "--resume", "--lr", "1e-4"])
    assert result.exit_code == 1, result.output
    assert says(result.output, f"the interrupted run in {run} (checkpoint at step 1)")
    assert says(result.output, "(learning_rate 0.0002 in the checkpoint, 0.0001 now);")
    assert "config.json" not in result.output  # the config hash is not known yet
    assert "Traceback" not in result.output
    assert (run / "checkpoint-1" / "adapter_model.safetensors").is_file()


def test_resume_on_another_build_of_the_base_is_still_refused_after_it_loads(
    tmp_path: Path, tiny_model_dir: Path, wide_model_dir: Path
) -> None:
    """The early check cannot see the base's config hash: a run that matches in all
    else passes it, and the check after loading names the other build."""
    from atri.config import load_settings
    from model.training.runner import train

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    config = write_config(
        tmp_path,
        base,
        max_steps=3,
        eval_steps=1,
        gradient_accumulation=1,
        target_modules=["q_proj"],
    )
    with pytest.raises(KeyboardInterrupt):
        train(load_settings(config), callbacks=[InterruptAt(2)])
    [run] = (tmp_path / "adapters").glob(".runs/*/")
    shutil.rmtree(base)
    shutil.copytree(wide_model_dir, base)  # same path, another model
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--resume"])
    assert result.exit_code == 1, result.output
    assert says(result.output, "(the base model's config.json (another build of it now));")
    assert (run / "checkpoint-1" / "adapter_model.safetensors").is_file()


def test_early_check_lets_a_run_through_that_differs_only_in_what_loading_tells(
    tmp_path: Path,
) -> None:
    """A run recorded with the same settings and data but another base build, or one that
    records no settings, may be the one to continue: the check after loading decides."""
    import json

    from model.training.run_folder import early_resume_mismatch

    runs = tmp_path / ".runs"
    known = {"base": "b", "dataset": "d" * 64, "eval_dataset": None, "settings": {"lora_r": 8}}
    other = runs / "aaaa"
    (other / "checkpoint-3").mkdir(parents=True)
    recorded = {**known, "base_config_hash": "h1", "settings": {"lora_r": 16}}
    (other / "run.json").write_text(json.dumps({"identity": recorded}), encoding="utf-8")
    refused = early_resume_mismatch(known, runs)
    assert "lora_r 16 in the checkpoint, 8 now" in refused and "config.json" not in refused

    same = runs / "bbbb"
    (same / "checkpoint-2").mkdir(parents=True)
    built = {**known, "base_config_hash": "h2"}
    (same / "run.json").write_text(json.dumps({"identity": built}), encoding="utf-8")
    assert early_resume_mismatch(known, runs) == ""
    shutil.rmtree(same)
    (same / "checkpoint-2").mkdir(parents=True)  # an older ATRI's run: no identity
    assert early_resume_mismatch(known, runs) == ""
    assert early_resume_mismatch(known, tmp_path / "none") == ""


def test_a_base_whose_weights_file_is_cut_off_is_one_sentence(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """A download cut off halfway: safetensors' error came out as a traceback."""
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    [weights] = base.glob("*.safetensors")
    weights.write_bytes(weights.read_bytes()[:3000])
    config = write_config(tmp_path, base, max_steps=1)
    result = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 1, result.output
    assert says(result.output, f"the weights in {base} cannot be read")
    assert says(result.output, "copy or download the model again")
    assert not (tmp_path / "adapters").exists() or not [
        p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")
    ]


def test_a_lora_rank_above_the_layers_width_is_said(tmp_path: Path, tiny_model_dir: Path) -> None:
    """lora_r 1000 on SmolLM2 (k_proj 192 wide) trained ten times slower into an adapter
    bigger than the layers, without a word. The tiny model's q_proj is 32 wide, k_proj
    and v_proj 16 (2 key-value heads of 8)."""
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, target_modules=["q_proj"])
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--lora-r", "40"])
    assert result.exit_code == 0, result.output
    assert says(result.output, "[train] lora_r = 40 is above the width of q_proj (32):")
    assert says(result.output, "lower lora_r (--lora-r) to 32 or less.")

    from transformers import AutoModelForCausalLM

    from model.training.lora import rank_note

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    some = rank_note(model, ["q_proj", "k_proj"], 20)
    assert "above the width of k_proj (16):" in some and "q_proj" not in some
    assert "the other layers use the rank in full" in some
    assert rank_note(model, ["q_proj", "k_proj"], 16) == ""


def llama_factory_records() -> list[dict[str, object]]:
    """LLaMA-Factory sharegpt records with its extra columns: ids, tools, a source, and
    images on the second, whose text holds the <image> placeholder."""
    from tests.model.training.sharegpt import SYSTEM_ZH, conversation

    records: list[dict[str, object]] = []
    for i in range(4):
        record = conversation([("你是谁？", "我是亚托莉！"), ("你累了吗？", "不累哦！")], SYSTEM_ZH)
        records.append({**record, "id": i, "tools": "", "source": "atri", "images": []})
    records[1]["images"] = ["crab.png"]
    records[1]["conversations"][0]["value"] = "<image>这是什么？"  # type: ignore[index]
    return records


def test_a_llama_factory_file_with_images_leaves_those_out_and_trains(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """A multimodal record trained as text: the model learnt "<image>" as words and
    answers about a picture it never saw, without a word said."""
    from tests.model.training.sharegpt import write

    config = write_config(tmp_path, tiny_model_dir, max_steps=1, target_modules=["q_proj"])
    data = write(tmp_path / "data" / "lf_sharegpt.json", llama_factory_records())
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--dataset", str(data), "--batch-size", "1"]
    )
    assert result.exit_code == 0, result.output
    assert says(result.output, "1 conversation with images, videos or audio left out")
    assert "3 / " in result.output  # samples (train / held-out)


def test_a_dataset_of_images_only_or_of_preferences_is_one_sentence(tmp_path: Path) -> None:
    from model.training.sharegpt import DatasetError, load_sharegpt
    from tests.model.training.sharegpt import write

    pictures = [{**r, "images": ["a.png"]} for r in llama_factory_records()]
    path = write(tmp_path / "pictures.json", pictures)
    with pytest.raises(DatasetError) as info:
        load_sharegpt(path)
    assert "every conversation is one with images, videos or audio" in str(info.value)
    notes: list[str] = []
    assert load_sharegpt(path, allow_empty=True, notify=notes.append) == []  # held out
    assert len(notes) == 1 and "4 conversations with images" in notes[0]

    # LLaMA-Factory's DPO sharegpt: the prompt in "conversations", the replies beside it.
    human = {"from": "human", "value": "你是谁？"}
    dpo = [
        {
            "conversations": [human],
            "chosen": {"from": "gpt", "value": "我是亚托莉！"},
            "rejected": {"from": "gpt", "value": "我是人工智能助手。"},
        }
    ] * 3
    with pytest.raises(DatasetError) as info:
        load_sharegpt(write(tmp_path / "dpo.json", dpo))
    message = str(info.value)
    assert 'a preference (DPO/ORPO) dataset ("chosen" and "rejected" replies)' in message
    assert "\n" not in message


def test_eval_given_a_file_of_a_version_names_its_folder(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """`atri eval adapters/<v>/manifest.json` said "no such adapter version folder" of a
    file that is there."""
    config = write_config(tmp_path, tiny_model_dir)
    version = tmp_path / "adapters" / "20250101-000001"
    version.mkdir(parents=True)
    (version / "manifest.json").write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--config", str(config), "eval", str(version / "manifest.json")]
    )
    assert result.exit_code == 1, result.output
    assert says(result.output, "manifest.json is a file, not an adapter version folder: pass")
    assert says(result.output, f"its folder, {version}.")
    data = tmp_path / "data" / "atri_sharegpt.json"
    result = CliRunner().invoke(app, ["--config", str(config), "eval", str(data)])
    assert says(result.output, "atri_sharegpt.json is a file, not an adapter version folder.")


def test_a_dataset_folder_of_a_prep_run_names_the_file_to_pass(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """The folder `atri prep --out` wrote is what people pass; the sentence said only
    "pass the sharegpt file in it", not which."""
    config = write_config(tmp_path, tiny_model_dir)
    folder = tmp_path / "data"  # atri_sharegpt.json and atri_sharegpt_eval.json
    (folder / "atri_messages.jsonl").write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--dataset", str(folder)])
    assert result.exit_code == 1, result.output
    assert says(
        result.output,
        f"{folder} is a folder; pass the sharegpt file in it, such as "
        f"{folder / 'atri_sharegpt.json'} (--dataset).",
    )


def test_a_resumed_run_shows_the_losses_logged_before_it_was_interrupted(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Resumed after its last logged step, the bar said "loss -" to the end."""
    from rich.console import Console

    from atri.config import load_settings
    from model.training.progress import RichProgress
    from model.training.runner import train

    config = write_config(
        tmp_path,
        tiny_model_dir,
        max_steps=3,
        eval_steps=1,
        logging_steps=2,
        gradient_accumulation=1,
        target_modules=["q_proj"],
    )
    with pytest.raises(KeyboardInterrupt):
        train(load_settings(config), callbacks=[InterruptAt(3)])  # checkpoint at step 2
    console = Console(record=True, width=200, force_terminal=False)
    result = train(load_settings(config), resume=True, callbacks=[RichProgress(console)])
    assert result.resumed_from_step == 2
    [logged] = [e["loss"] for e in result.log_history if e.get("step") == 2 and "loss" in e]
    # The last step is logged too (LastStepLogged): the bar ends on its loss.
    [last] = [e["loss"] for e in result.log_history if e.get("step") == 3 and "loss" in e]
    assert last != logged and f"loss {last:.3f}" in console.export_text()


def test_resume_without_the_dataset_flag_names_the_file_the_run_trained_on(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """`atri train --dataset mine.json`, Ctrl-C, then `atri train --resume`: the default
    dataset is not there, and the sentence did not say which file the run had used."""
    from tests.model.training.sharegpt import write

    config = write_config(tmp_path, tiny_model_dir)
    (tmp_path / "data" / "atri_sharegpt.json").unlink()
    mine = tmp_path / "mine.json"
    run = tmp_path / "adapters" / ".runs" / "0123456789abcdef"
    (run / "checkpoint-4").mkdir(parents=True)
    write(run / "run.json", {"dataset": str(mine), "started": 1.0, "identity": {}})
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--resume"])
    assert result.exit_code == 1, result.output
    assert says(result.output, "atri_sharegpt.json: dataset file not found; run `atri prep`")
    assert says(result.output, f"--dataset (the interrupted run in {run} trained on {mine}).")
    assert (run / "checkpoint-4").is_dir()
    plain = CliRunner().invoke(app, ["--config", str(config), "train"])  # no --resume
    assert "interrupted run" not in plain.output


def test_a_version_folder_given_as_output_dir_is_refused_and_left_as_it_was(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """`--output-dir adapters/<version>` wrote the new version and .runs inside the
    earlier version's folder."""
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, target_modules=["q_proj"])
    first = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert first.exit_code == 0, first.output
    [version] = [p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")]
    before = sorted(p.relative_to(version) for p in version.rglob("*"))
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--output-dir", str(version)]
    )
    assert result.exit_code == 1, result.output
    assert says(result.output, f"{version} is an adapter version, not the folder of versions")
    assert says(result.output, f"the folder it lies in ({version.parent}).")
    assert sorted(p.relative_to(version) for p in version.rglob("*")) == before


def test_a_held_out_file_that_is_the_training_file_is_said(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """`--eval-dataset` naming the training file (or a copy) gave a held-out loss that
    only measures memorisation, without a word; `atri eval` says it of the same file."""
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, target_modules=["q_proj"])
    data = tmp_path / "data" / "atri_sharegpt.json"
    copy = tmp_path / "copy.json"
    shutil.copy(data, copy)
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--eval-dataset", str(copy)]
    )
    assert result.exit_code == 0, result.output
    assert says(result.output, f"The held-out file {copy} is the training file ({data}) again")
    plain = CliRunner().invoke(app, ["--config", str(config), "train"])  # its own _eval file
    assert plain.exit_code == 0, plain.output
    assert "is the training file" not in plain.output


def test_a_base_folder_without_tokenizer_files_is_one_sentence(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Weights and config.json copied alone: transformers' lines about tokenizer backends,
    then a traceback."""
    base = tmp_path / "base"
    base.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, base / name)
    config = write_config(tmp_path, base, max_steps=1)
    result = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 1, result.output
    assert says(result.output, f"no tokenizer could be loaded from {base}; copy in the tokenizer")
    assert "Traceback" not in result.output


def test_a_base_of_a_model_type_transformers_does_not_know_is_one_sentence(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """A model newer than the installed transformers: its ValueError came out as a
    traceback."""
    import json

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    config_json = json.loads((base / "config.json").read_text(encoding="utf-8"))
    config_json["model_type"] = "llama9000"
    (base / "config.json").write_text(json.dumps(config_json), encoding="utf-8")
    config = write_config(tmp_path, base, max_steps=1)
    result = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 1, result.output
    assert says(result.output, f'[model] base = "{base}" is a model of type "llama9000"')
    assert says(result.output, "needs a newer transformers")


def test_resume_on_another_training_file_names_the_one_the_run_used(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """`--dataset mine.json`, Ctrl-C, `atri train --resume`: the refusal gave two sha256
    prefixes and not the file the run had trained on."""
    from atri.config import load_settings
    from model.training.runner import train
    from tests.model.training.sharegpt import write, zh_dataset

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=3, eval_steps=1, gradient_accumulation=1
    )
    mine = write(tmp_path / "mine.json", zh_dataset(12))
    settings = load_settings(config)
    settings.train.dataset = str(mine)
    with pytest.raises(KeyboardInterrupt):
        train(settings, callbacks=[InterruptAt(2)])
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--resume"])
    assert result.exit_code == 1, result.output
    assert says(result.output, "(the training file's contents (sha256 ")
    assert says(result.output, f" of {mine} in the checkpoint, ")


def _interrupt(
    tmp_path: Path, config: Path, ready: str, signum: int = signal.SIGINT
) -> subprocess.CompletedProcess[str]:
    """`atri train` in a real process, sent `signum` (SIGINT: Ctrl-C) once a file matching
    `ready` (a glob under adapters/) is there; its exit."""
    command = [sys.executable, "-m", "atri", "--config", str(config), "train"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not any(whole_json(p) for p in (tmp_path / "adapters").glob(ready)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "training did not get there"
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def test_ctrl_c_says_whether_there_is_a_checkpoint_to_resume(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Ctrl-C said "`atri train --resume` continues" also before the first checkpoint
    (saved every eval_steps, 50 by default): --resume then started afresh."""
    config = write_config(
        tmp_path, tiny_model_dir, max_steps=400, eval_steps=300, gradient_accumulation=1
    )
    early = _interrupt(tmp_path, config, ".runs/*/run.json")
    assert early.returncode == 130, early.stderr
    assert says(early.stderr, "Interrupted before the first checkpoint (saved every [train]")
    assert says(early.stderr, "eval_steps = 300 steps); no version was written and there is")
    assert not list((tmp_path / "adapters").glob(".runs/*/"))

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=400, eval_steps=2, gradient_accumulation=1
    )
    later = _interrupt(tmp_path, config, ".runs/*/checkpoint-*/trainer_state.json")
    assert later.returncode == 130, later.stderr
    assert later.stderr.strip().splitlines()[-1] == "Stopped (Ctrl-C).", later.stderr
    steps = sorted(
        int(p.parent.name.split("-")[1])
        for p in (tmp_path / "adapters").glob(".runs/*/checkpoint-*/trainer_state.json")
    )
    assert steps and says(later.stderr, f"`atri train --resume` continues from step {steps[-1]}.")


def test_a_dataset_of_samples_all_too_long_names_one_length_once(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Every record as long (or a one-record file): "needs 80, the shortest 80"."""
    from tests.model.training.sharegpt import SYSTEM_ZH, conversation, write

    config = write_config(tmp_path, tiny_model_dir)
    record = conversation([("你是谁？", "我是亚托莉！高性能的机器人哦。" * 4)], SYSTEM_ZH)
    data = write(tmp_path / "long.json", [record] * 5)
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--dataset", str(data), "--max-seq-length", "8"]
    )
    assert result.exit_code == 1, result.output
    assert says(result.output, "No training conversation fits max_seq_length = 8 tokens")
    assert says(result.output, f"the longest (record 0 of {data}) needs ")
    assert "the shortest" not in result.output and "Traceback" not in result.output


def test_ctrl_c_once_the_version_is_in_place_leaves_nothing_to_publish_twice(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after the version was renamed into place, while the checkpoints were being
    removed: "no version was written", and --resume published the run a second time."""
    import model.training.run_folder as run_folder
    import model.training.runner as runner
    from atri.config import load_settings
    from model.training.errors import TrainingInterrupted

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=2, eval_steps=1, gradient_accumulation=1
    )
    real = runner.publish_version
    done: list[Path] = []

    def publish(*args: object, **kwargs: object) -> Path:
        done.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return done[-1]

    class CtrlCWhileRemoving:
        """shutil, where removing the checkpoints after publishing meets Ctrl-C."""

        def __getattr__(self, name: str) -> object:
            return getattr(shutil, name)

        @staticmethod
        def rmtree(path: Path, **kwargs: object) -> None:
            if done:
                raise KeyboardInterrupt
            shutil.rmtree(path, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(runner, "publish_version", publish)
        m.setattr(run_folder, "shutil", CtrlCWhileRemoving())  # deletes the run's trash
        with pytest.raises(TrainingInterrupted) as stopped:
            runner.train(load_settings(config))
    adapters = tmp_path / "adapters"
    [version] = [p for p in adapters.iterdir() if not p.name.startswith(".")]
    assert not list(adapters.glob(".runs/*/checkpoint-*"))
    assert stopped.value.version == version and stopped.value.step is None

    said: list[str] = []
    again = runner.train(load_settings(config), resume=True, notify=said.append)
    assert again.resumed_from_step is None  # a new run, not the same one published again
    assert any("No interrupted run" in m for m in said), said


def test_sigterm_stops_training_as_ctrl_c_does_said_as_itself_with_status_143(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """`systemctl stop` during `atri train`: the run says how to resume, its last line
    names SIGTERM (it said only "Interrupted"), and the status is 143, so `atri train &&`
    goes no further (0 would say the version was written)."""
    config = write_config(
        tmp_path, tiny_model_dir, max_steps=400, eval_steps=2, gradient_accumulation=1
    )
    stopped = _interrupt(
        tmp_path, config, ".runs/*/checkpoint-*/trainer_state.json", signal.SIGTERM
    )
    assert stopped.returncode == 143, stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == "Stopped (SIGTERM).", stopped.stderr
    assert says(stopped.stderr, "`atri train --resume` continues from step ")
    assert "Traceback" not in stopped.stderr
