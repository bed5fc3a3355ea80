"""Session 73: config.toml slips that passed the config check. `[memory] path = "data"`
(a folder name, as `adapters_dir = "adapters"` is written) made a database file called
`data`; `[memory] path = ""` was refused naming a folder nobody wrote; a
`[generation] max_new_tokens` that fills the context window let `serve` and `worker`
answer every message with her error line; `top_k = 50 // more` got no `//` hint. Each
is now one sentence as the config loads: exit code 2, nothing written."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from atri.config import ConfigError, load_settings
from model.character.prompt import PROMPT_LEAST_TOKENS
from model.memory import Memory
from tests.atri.test_config_toml_hints_s51 import _error

ROOT = Path(__file__).resolve().parents[2]


def _files(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def atri_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `atri ARGS…` run in `folder`, "hi" typed to it, no ATRI_ variable set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRI_")}
    return subprocess.run(
        [sys.executable, "-m", "atri", *args],
        input="hi\n",
        capture_output=True,
        text=True,
        cwd=folder,
        env={**env, "PYTHONPATH": str(ROOT), "COLUMNS": "1000"},
        timeout=120,
    )


def _atri(tmp_path: Path, toml: str, *command: str) -> subprocess.CompletedProcess[str]:
    """`atri --config config.toml COMMAND…` (`chat` if none) on `toml` in `tmp_path`."""
    config = tmp_path / "config.toml"
    config.write_text(toml, encoding="utf-8")
    return atri_in(tmp_path, "--config", str(config), *(command or ["chat"]))


def refused(tmp_path: Path, toml: str, *command: str, of_the_file: bool = True) -> str:
    """The one sentence `atri COMMAND…` stops with on `toml`, having checked that it exits
    with code 2 and no traceback, and wrote nothing; `of_the_file`: that it names the
    config file (not so for a flag's value)."""
    before = _files(tmp_path)
    run = _atri(tmp_path, toml, *command)
    said = run.stdout + run.stderr
    assert run.returncode == 2, said
    assert "Traceback" not in said
    lines = said.strip().splitlines()
    named = f"error: {tmp_path / 'config.toml'}: " if of_the_file else "error: "
    assert len(lines) == 1 and lines[0].startswith(named), said
    assert _files(tmp_path) - {tmp_path / "config.toml"} == before  # no database, no folder
    return lines[0]


@pytest.mark.parametrize("command", [["chat"], ["serve"], ["prep", "scripts"]])
def test_a_memory_path_written_as_a_folder_isrefused(tmp_path: Path, command: list[str]) -> None:
    said = refused(tmp_path, '[model]\nengine = "echo"\n[memory]\npath = "data"\n', *command)
    assert said.endswith(
        '[memory] path = "data" names no file yet and has no suffix such as .sqlite3, so it '
        "would be made as a database file of that name, not a folder: for a database in "
        'that folder write path = "data/atri.sqlite3"'
    )


def test_only_a_new_name_without_a_suffix_is_taken_for_a_folder(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[memory]\npath = "memories"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r'path = "memories" names no file yet'):
        load_settings(config)

    # Once it exists, a file without a suffix is someone's database, and is read.
    async def write() -> None:
        async with await Memory.open(tmp_path / "memories") as memory:
            await memory.append_many("console:user:1", [("user", "1", "Ann", "earlier", "")])

    asyncio.run(write())
    run = _atri(tmp_path, '[model]\nengine = "echo"\n[memory]\npath = "memories"\n')
    assert run.returncode == 0, run.stdout + run.stderr
    assert "听到了：hi" in run.stdout  # the echo's answer
    assert not (tmp_path / "data").exists()
    # A new one with a suffix names a file.
    config.write_text('[memory]\npath = "data/chats.db"\n', encoding="utf-8")
    assert load_settings(config).memory.path == "data/chats.db"


def test_an_empty_memory_path_is_refused_as_the_empty_folders_are(tmp_path: Path) -> None:
    said = refused(tmp_path, '[model]\nengine = "echo"\n[memory]\npath = ""\n')
    assert said.endswith(
        '[memory] path = "": must name a file, not be empty (the config\'s own folder): '
        "delete the line for the default, data/atri.sqlite3"
    )


@pytest.mark.parametrize("command", ["chat", "serve", "worker"])
def test_a_reply_that_fills_the_context_window_isrefused(tmp_path: Path, command: str) -> None:
    # Refused before the model loads: the offline model is never read.
    too_long = 256 - PROMPT_LEAST_TOKENS + 1
    toml = (
        "[model]\ncontext_window = 256\n[worker]\nport = 0\n"
        f"[generation]\nmax_new_tokens = {too_long}\n"
    )
    said = refused(tmp_path, toml, command)
    assert said.endswith(
        f"[generation] max_new_tokens = {too_long} leaves no room for a "
        "prompt in [model] context_window = 256, as the prompt and the reply share the "
        f"window and a prompt takes at least {PROMPT_LEAST_TOKENS} tokens: lower "
        "max_new_tokens, like 64, or raise context_window where the model takes more"
    )


def test_only_a_reply_past_a_window_the_config_sets_isrefused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    fits = 256 - PROMPT_LEAST_TOKENS
    for engine in ("local", "llamacpp", "openai"):
        toml = f'[model]\nengine = "{engine}"\ncontext_window = 256\n[generation]\n'
        path.write_text(f"{toml}max_new_tokens = {fits + 1}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="leaves no room for a prompt"):
            load_settings(path)
        path.write_text(f"{toml}max_new_tokens = {fits}\n", encoding="utf-8")
        assert load_settings(path).generation.max_new_tokens == fits
    # The model's own window (0) is known only once it loads; the echo engine keeps its
    # own 32,768 tokens, whatever context_window says.
    path.write_text("[generation]\nmax_new_tokens = 1000000\n", encoding="utf-8")
    assert load_settings(path).generation.max_new_tokens == 1_000_000
    path.write_text(
        '[model]\nengine = "echo"\ncontext_window = 100\n[generation]\nmax_new_tokens = 200\n',
        encoding="utf-8",
    )
    assert load_settings(path).generation.max_new_tokens == 200


def test_a_slash_comment_after_a_value_gets_the_hint(tmp_path: Path) -> None:
    said = refused(tmp_path, '[model]\nengine = "echo"\n[generation]\ntop_k = 50 // more\n')
    assert said.endswith(
        "line 4 (`top_k`): comments start with # in TOML, like top_k = 50 # more)."
    )


def test_slashes_inside_a_string_are_left_as_written(tmp_path: Path) -> None:
    said = _error(tmp_path, '[worker]\nurl = "http://a:1" // the worker\n')
    assert said.endswith('like url = "http://a:1" # the worker).')
