"""Session 64: a careless user's review of the CLI and config.toml, each case as it was
reproduced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from tests.cli_output import says

REPO = Path(__file__).resolve().parents[2]
ECHO = '[model]\nengine = "echo"\n[memory]\npath = "memory.sqlite3"\n'
runner = CliRunner(env={"COLUMNS": "400"})


def atri_process(
    tmp_path: Path, command: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`atri` run by a shell in `tmp_path` (pipes and redirections as a user types them)."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path), "COLUMNS": "400"},
        timeout=180,
    )


ATRI = f"{sys.executable} -m atri"


def test_export_out_dev_stdout_writes_into_a_pipe(tmp_path: Path) -> None:
    """The README's `--out /dev/stdout` failed whenever stdout was a pipe: the link
    names "pipe:[N]", and the resolved path was written as a file, which cannot be."""
    (tmp_path / "config.toml").write_text(ECHO, encoding="utf-8")
    card = atri_process(tmp_path, f"{ATRI} persona export --out /dev/stdout | cat")
    assert card.returncode == 0, card.stderr
    assert json.loads(card.stdout)["data"]["name"]
    dashed = atri_process(tmp_path, f"{ATRI} persona export --out - | cat")
    assert dashed.returncode == 0, dashed.stderr
    assert dashed.stdout == card.stdout
    assert not (tmp_path / "-").exists()
    assert "to -." not in dashed.stderr  # standard output is not a file named "-"
    assert atri_process(tmp_path, f"{ATRI} chat", stdin="我的猫叫年糕\n").returncode == 0
    piped = atri_process(tmp_path, f"{ATRI} memory export --out /dev/stdout | cat")
    assert piped.returncode == 0, piped.stderr
    assert "我的猫叫年糕" in json.dumps(json.loads(piped.stdout), ensure_ascii=False)


@pytest.mark.parametrize(
    "args",
    [
        ["prep", "a" * 300],
        ["prep", "x.txt", "--out", "b" * 300],
        ["train", "--dataset", "c" * 300],
        ["-c", "d" * 300, "persona", "show"],
    ],
)
def test_a_name_past_255_bytes_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.txt").write_text("夏生：你好\n亚托莉：你好！\n", encoding="utf-8")
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert says(result.output, "a name in this path is too long for the file system")
    assert not isinstance(result.exception, OSError)


@pytest.mark.parametrize(
    ("config", "args", "said"),
    [
        ("[train]\nepochs = inf\n", ["train"], "[train] epochs = inf: must be a finite number"),
        ("", ["train", "--epochs", "inf"], "--epochs = inf: must be a finite number"),
        ("", ["train", "--lr", "inf"], "--lr = inf: must be a finite number"),
        ("[generation]\ntemperature = inf\n", ["persona", "show"], "temperature = inf"),
        ('[ooc]\npatterns = ["a*"]\n', ["persona", "show"], "'a*' matches an empty text"),
        ('[ooc]\npatterns = ["x|"]\n', ["persona", "show"], "'x|' matches an empty text"),
        ('[ooc]\nprofanity = [" "]\n', ["persona", "show"], "' ' is only blanks"),
    ],
)
def test_settings_that_break_every_run_later_are_refused_at_once(
    tmp_path: Path, config: str, args: list[str], said: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")
    result = runner.invoke(app, ["--config", str(path), *args])
    assert result.exit_code == 2, result.output
    assert says(result.output, said)


def test_an_empty_or_odd_config_path_is_refused(tmp_path: Path) -> None:
    """`-c "$CFG"` with the variable unset read ./config.toml: another character's."""
    empty = runner.invoke(app, ["-c", "", "persona", "show"])
    assert empty.exit_code == 2, empty.output
    assert "--config is empty: give the config file to read." in empty.output
    device = runner.invoke(app, ["-c", "/dev/null", "persona", "show"])
    assert device.exit_code == 2, device.output
    assert "/dev/null: is not a regular file (given by --config)" in device.output


def test_the_console_with_stdin_closed_ends_as_at_the_end_of_input(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(ECHO, encoding="utf-8")
    done = atri_process(tmp_path, f"{ATRI} chat <&-")
    assert done.returncode == 0, done.stderr
    assert "Bye!" in done.stdout
    assert "Traceback" not in done.stderr


def test_the_console_says_why_a_message_was_not_answered(tmp_path: Path) -> None:
    limited = ECHO + "[worker]\nrate_limit_per_minute = 2\n"
    (tmp_path / "config.toml").write_text(limited, encoding="utf-8")
    done = atri_process(tmp_path, f"{ATRI} chat", stdin="一\n二\n三\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("(Not answered: more messages this minute than [worker]") == 1


def test_memory_show_help_keeps_its_section_name() -> None:
    result = runner.invoke(app, ["memory", "show", "--help"])
    assert says(result.output, '([memory] scope = "user_in_channel")')


def test_the_console_chat_does_not_start_when_no_reply_could_come(tmp_path: Path) -> None:
    """A reply longer than the context window: every message got her error line, after
    a log line at start; a chat in the terminal has no reload to wait for."""
    config = tmp_path / "config.toml"
    config.write_text(ECHO + "[generation]\nmax_new_tokens = 100000000000\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(config), "chat"], input="你好\n")
    assert result.exit_code == 1, result.output
    assert says(result.output, "leaves no room for a message and a 100000000000-token reply")
    assert result.output.count("leaves no room") == 1


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["--recall", "--probes", "x.toml"],
            "--probes would be ignored; run them without --recall",
        ),
        (["v1", "--recall"], "a version folder would be ignored"),
        (["--recall-filler", "3"], "--recall-filler applies to --recall only; add --recall."),
    ],
)
def test_eval_flags_that_do_not_go_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    """`atri eval --recall --probes x.toml` started a recall run of minutes, its --probes
    (and a version folder, --dataset, --eval-dataset) dropped without a word."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["eval", *args])
    assert result.exit_code == 1, result.output
    assert says(result.output, said)


def test_an_id_that_is_no_id_says_numbers_do_too(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[room]\noff_channels = [1.5]\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(path), "persona", "show"])
    assert result.exit_code == 2, result.output
    assert says(result.output, "off_channels.0 = 1.5: must be an id: a whole number, or text")
