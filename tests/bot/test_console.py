"""`atri chat` driven through stdin in a subprocess, as a person would use it."""

from __future__ import annotations

import os
import pty
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from atri.config import OFFLINE_DEFAULT_BASE, OOCSettings
from bot.console import describe_worker
from model.character.ooc import OOCDetector, detect_language
from model.engines.echo import EchoEngine
from model.protocol import Character, WorkerStatus


def write_config(tmp_path: Path, engine: str = "echo", extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[model]\nengine = "{engine}"\n{extra}\n[memory]\npath = "chat.sqlite3"\n',
        encoding="utf-8",
    )
    return path


# The checkout under test, first on the path of the `atri` subprocesses (they run in a
# temporary folder, where an installed copy elsewhere would be found first).
REPO = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "COLUMNS": "500",  # rich wraps at 80 columns when stdout is not a terminal
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}


def run_chat(
    config: Path, lines: list[str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        encoding="utf-8",  # whatever the locale: the lines typed may be any language
        timeout=timeout,
        cwd=config.parent,
        env=ENV,
    )


def test_chat_answers_remembers_across_runs_and_resets(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = run_chat(config, ["I found you in the sea", "/quit"])
    assert first.returncode == 0, first.stderr
    assert EchoEngine.prefix + "I found you in the sea" in first.stdout
    assert "早上好" in first.stdout  # a new conversation starts with her greeting

    second = run_chat(config, ["/history", "/reset", "/history", "/quit"])
    assert second.returncode == 0, second.stderr
    before_reset, after_reset = second.stdout.split("Memory of this conversation is reset.")
    assert "I found you in the sea" in before_reset
    assert "早上好" not in second.stdout  # she remembers: no greeting again
    assert "(no messages yet)" in after_reset

    third = run_chat(config, ["/history"])  # end of input quits too
    assert third.returncode == 0
    assert "I found you in the sea" not in third.stdout


def test_bad_config_is_one_sentence(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[memory]\nmax_history_tokens = -5\n", encoding="utf-8")
    result = run_chat(config, ["/quit"])
    assert result.returncode == 2
    assert "[memory] max_history_tokens = -5: must be a positive integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_base_model_names_the_setting(tmp_path: Path) -> None:
    config = write_config(tmp_path, engine="local", extra='base = "no/such-folder/here"')
    result = run_chat(config, ["/quit"])
    assert result.returncode == 1
    assert "[model] base" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_at_the_prompt_ends_the_chat_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    chat = subprocess.Popen(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        stdin=subprocess.PIPE,  # left open, as a terminal is: she waits for a line
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=ENV,
    )
    try:
        assert chat.stdout is not None
        while "/quit leaves" not in chat.stdout.readline():  # the help line: now reading
            assert chat.poll() is None
        chat.send_signal(signal.SIGINT)
        assert chat.wait(timeout=15) == 130  # it waited for Enter before
    finally:
        chat.kill()
        chat.communicate()


@contextmanager
def chat_in_a_terminal(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """`atri chat` on the echo engine with a terminal as its stdin, as a person's is:
    the keyboard's end of it and the process, once the chat reads (its help line shown)."""
    config = write_config(tmp_path)
    keyboard, terminal = pty.openpty()
    chat = subprocess.Popen(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=ENV,
    )
    os.close(terminal)
    try:
        assert chat.stdout is not None
        while "/quit leaves" not in chat.stdout.readline():
            assert chat.poll() is None
        yield keyboard, chat
    finally:
        chat.kill()
        os.close(keyboard)


def test_a_pasted_paragraph_in_a_terminal_is_one_message(tmp_path: Path) -> None:
    with chat_in_a_terminal(tmp_path) as (keyboard, chat):
        os.write(keyboard, b"first line of it\nsecond line of it\n")  # one paste
        time.sleep(2)  # she has answered the paste
        os.write(keyboard, b"/quit\n")
        out, _ = chat.communicate(timeout=30)
    assert out.count(EchoEngine.prefix) == 1, out
    assert EchoEngine.prefix + "first line of it" in out and "second line of it" in out


# A person's first message, and the seeds of the runs that must stay in character.
FIRST_MESSAGE = "Hello, ATRI! Who are you?"
SEEDS = range(5)
# Seeds torch, then runs the real `atri` command (reading stdin as a person types).
SEEDED_ATRI = "import sys, torch; torch.manual_seed(int(sys.argv[1])); from atri.cli import app; app(args=sys.argv[2:], prog_name='atri')"


def run_seeded_chat(config: Path, seed: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SEEDED_ATRI, str(seed), "chat", "--config", str(config)],
        input=FIRST_MESSAGE + "\n/quit\n",
        capture_output=True,
        text=True,
        timeout=600,
        cwd=config.parent,
        env=ENV,
    )


@pytest.mark.slow
def test_first_chat_on_the_offline_model_is_english_and_in_character(tmp_path: Path) -> None:
    """A newcomer's first five minutes: the default config (offline model, language
    "auto"), a greeting, one message; the reply is checked with the guard switched off."""
    verdicts = []
    for seed in SEEDS:
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        config = write_config(folder, engine="local")
        with config.open("a", encoding="utf-8") as f:
            f.write("[generation]\nmax_new_tokens = 20\n[worker]\nooc_max_retries = 0\n")
        result = run_seeded_chat(config, seed)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "base model builtin:smollm2-135m · adapter none · engine local" in out
        assert "language English" in out and "English-only" in out and "README" in out
        assert "For ATRI in her card's own language" in out
        # Each turn starts a line with "ATRI: "; a reply may run over several lines.
        said = [part.split("\nBye!")[0].strip() for part in out.split("ATRI: ")[1:]]
        assert len(said) == 2, out  # the greeting, then the reply
        print(f"seed {seed}: {said[1]!r}")
        greeting, reply = said
        assert greeting == "Good morning, Natsuki! Leave everything to high-performance ATRI today!"
        assert detect_language(reply) == "en", reply
        verdicts.append(OOCDetector(OOCSettings(), language="en").check(reply))
    flagged = [v.reasons for v in verdicts if v.flagged]
    assert len(flagged) <= 1, flagged


def test_the_demo_note_names_the_configured_character() -> None:
    status = WorkerStatus(engine="local", base_model=OFFLINE_DEFAULT_BASE)
    yuki = Character(name="Yuki", greeting="Hi, {{user}}.", user_name="you", language="en")
    said = " ".join(describe_worker(status, yuki))
    assert "Yuki · base model" in said and "For Yuki in her card's own language" in said
    assert "ATRI" not in said


def test_serve_with_an_unreachable_worker_is_one_sentence(tmp_path: Path) -> None:
    """The console chat needs its worker: it stops with a sentence naming the url and what
    to do, not with the bots' warning that chats get the error line until it answers."""
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    config = write_config(tmp_path, extra=f'[worker]\nurl = "{url}"')
    env = {k: v for k, v in ENV.items() if k != "ATRI_DISCORD_TOKEN"}  # no bot: the console
    result = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "serve"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 1
    said = [line for line in result.stderr.splitlines() if line.strip()]
    assert said == [
        f"error: The console chat needs the worker at {url}, which does not answer "
        "(ClientConnectorError): start `atri worker` there first, or leave [worker] url "
        "empty to run the model in this process."
    ], result.stderr
    assert result.stdout == ""
