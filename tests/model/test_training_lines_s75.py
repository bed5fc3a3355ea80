"""Session 75: the lines `atri train` writes to a file, from the real trainer on the tiny
model. At 4/4 it said "done in …; checkpoint saved at step 2" before the final eval and
checkpoint, then the 4/4 line again; a run stopped early got a line after its last from
the held-out loss evaluated once training ended; a line at an eval or a checkpoint showed
an earlier step's loss as this step's; and the length note said "1 were too long"."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from transformers import TrainerCallback

import model.progress_bar as progress_bar
from atri.config import load_settings
from model.training.progress import RichProgress
from model.training.runner import TrainResult, train
from tests.model.training.sharegpt import SYSTEM_ZH, ZH_PAIRS, conversation, write
from tests.model.training.test_train_eval import write_config

MAX_SEQ_LENGTH = 160


class StopAt(TrainerCallback):  # type: ignore[misc]
    """Training ends at `step`, as early stopping ends it."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= self.step:
            control.should_training_stop = True


def run(
    tmp_path: Path, model_dir: Path, *callbacks: Any, **overrides: Any
) -> tuple[list[str], list[str], Any]:
    """The lines a run of 4 steps writes to a file (every one: no 30 s between them here),
    its notes and its result: held-out loss and a checkpoint every 2 steps, the train loss
    logged every 5 (at the first and the last step only), early stopping on."""
    settings = {
        "max_steps": 4,
        "eval_steps": 2,
        "logging_steps": 5,
        "batch_size": 2,
        "gradient_accumulation": 1,
        "max_seq_length": MAX_SEQ_LENGTH,
        "early_stopping_patience": 5,
        "target_modules": ["q_proj"],
    }
    config = write_config(tmp_path, model_dir, **(settings | overrides))
    write(tmp_path / "data" / "atri_sharegpt.json", training_set())
    console = Console(file=io.StringIO(), width=300, force_terminal=False)
    notes: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(progress_bar, "PLAIN_LINE_SECONDS", 0.0)
        result = train(
            load_settings(config),
            callbacks=[RichProgress(console), *callbacks],
            notify=notes.append,
        )
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    return lines, notes, result


def training_set() -> list[dict[str, Any]]:
    """Short chats, one that fits only without its oldest exchanges, and one whose last
    exchange alone is too long."""
    short = [conversation([ZH_PAIRS[i % 4], ZH_PAIRS[(i + 1) % 4]], SYSTEM_ZH) for i in range(8)]
    cut = conversation(ZH_PAIRS * 3, SYSTEM_ZH)
    too_long = conversation([("说说你自己吧。", "我是高性能的机器人！" * 30)], SYSTEM_ZH)
    return [*short, cut, too_long]


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Any]:
    yield run(tmp_path_factory.mktemp("whole-run"), tiny_model_dir)


def said(line: str) -> str:
    """A line without its date."""
    return line.split(" ", 2)[2]


def test_the_last_step_is_one_line_after_its_eval_and_checkpoint(whole_run: Any) -> None:
    lines, _, result = whole_run
    assert isinstance(result, TrainResult)
    done = [line for line in lines if "done in" in line]
    assert done == [lines[-1]], lines  # once, and last
    assert [line for line in lines if " 4/4 " in line] == done, lines
    # After the final eval (its loss is the version's) and the step-4 checkpoint.
    eval_loss = result.manifest["eval_loss"]
    assert re.fullmatch(
        rf"training 4/4 loss \d\.\d{{3}} eval {eval_loss:.3f} [\d,]+ tok/s, done in "
        r"0:\d\d:\d\d; checkpoint saved at step 4",
        said(lines[-1]),
    ), lines
    assert not any("checkpoint saved at step 2" in line and " 4/4 " in line for line in lines)


def test_a_line_without_a_new_loss_says_which_step_its_loss_is_of(whole_run: Any) -> None:
    """logging_steps = 5 in a run of 4: only steps 1 and 4 log a train loss."""
    lines, _, _ = whole_run
    step_1 = [said(line) for line in lines if " 1/4 " in line]
    step_2 = [said(line) for line in lines if " 2/4 " in line]
    assert step_1 and step_2, lines
    loss = re.search(r" loss (\d\.\d{3}) ", step_1[0])
    assert loss, step_1
    # Step 2's eval line and checkpoint line: step 1's loss, marked as such.
    for line in step_2:
        assert f" loss {loss[1]} (step 1) eval " in line, lines
    # Step 4 logs its own: unmarked.
    assert re.search(r" loss \d\.\d{3} eval ", said(lines[-1])), lines


def test_the_length_note_counts_one_conversation_as_one(whole_run: Any) -> None:
    _, notes, result = whole_run
    assert (result.truncated, result.skipped) == (1, 1)
    assert (
        f"1 conversation lost its oldest turns to fit max_seq_length = {MAX_SEQ_LENGTH}; "
        "1 was too long even so and is left out."
    ) in notes, notes


def test_a_run_stopped_early_does_not_repeat_its_last_line(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Stopped at its step-2 checkpoint: the train metrics logged as training ends wrote
    that line again, without the note."""
    lines, _, result = run(tmp_path, tiny_model_dir, StopAt(2))
    assert result.steps == 2
    assert said(lines[-1]).startswith("training 2/4 "), lines
    assert lines[-1].endswith("; checkpoint saved at step 2"), lines
    assert len({said(line) for line in lines}) == len(lines), lines


def test_nothing_is_written_after_the_last_line(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Stopped at step 3, between evals: the runner evaluates the adapter once training
    ended, and that eval wrote a line after the run's last."""
    lines, _, result = run(
        tmp_path, tiny_model_dir, StopAt(3), early_stopping_patience=0, learning_rate=0.03
    )
    evals = [entry for entry in result.log_history if "eval_loss" in entry]
    assert evals[-1]["step"] == 3  # evaluated after the end
    assert f"{evals[-1]['eval_loss']:.3f}" != f"{evals[-2]['eval_loss']:.3f}"  # a new line's
    assert said(lines[-1]).startswith("training 3/4 "), lines
    assert " eval " + f"{evals[-2]['eval_loss']:.3f} (step 2) " in lines[-1], lines
