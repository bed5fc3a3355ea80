"""`atri chat` driven through stdin in a subprocess, as a person would use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model.engines.echo import EchoEngine


def write_config(tmp_path: Path, engine: str = "echo", extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[model]\nengine = "{engine}"\n{extra}\n[memory]\npath = "chat.sqlite3"\n',
        encoding="utf-8",
    )
    return path


def run_chat(
    config: Path, lines: list[str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=config.parent,
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


@pytest.mark.slow
def test_chat_on_the_offline_default_model(tmp_path: Path) -> None:
    config = write_config(tmp_path, engine="local", extra="")
    with config.open("a", encoding="utf-8") as f:
        f.write("[generation]\nmax_new_tokens = 24\ndo_sample = false\n")
    result = run_chat(config, ["Hello! What is your name?", "/quit"], timeout=600)
    assert result.returncode == 0, result.stderr
    reply_lines = [line for line in result.stdout.splitlines() if line.startswith("亚托莉:")]
    assert len(reply_lines) >= 2  # greeting + the reply
    assert reply_lines[-1].removeprefix("亚托莉:").strip()
