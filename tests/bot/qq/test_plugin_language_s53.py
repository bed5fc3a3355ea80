"""A standalone plugin's NoneBot description (and the rest of the bots' lines until its
worker answers) is in `ATRI_LANGUAGE` when the project's .env sets it: NoneBot reads the
description when it loads the plugin, before any worker answers, and it was always
Chinese. Left out, Chinese as before; a language without lines is one sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.lines import lines_for
from tests.bot.qq.test_env_keys_s51 import LOAD_ONLY, load_with_env_file
from tests.bot.qq.test_runner import REPO

SHOW_META = (
    LOAD_ONLY
    + """
import sys
plugin = sys.modules["bot.qq.atri"]
print("description:", plugin.__plugin_meta__.description)
print("usage:", plugin.__plugin_meta__.usage.splitlines()[0])
"""
)


def plugin_meta(tmp_path: Path, dotenv: str) -> list[str]:
    (tmp_path / ".env").write_text(
        f"ATRI_WORKER_URL=http://127.0.0.1:8765\n{dotenv}\n", encoding="utf-8"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ATRI_")}
    done = subprocess.run(
        [sys.executable, "-c", SHOW_META],
        cwd=tmp_path,
        env=environment | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith(("description", "usage"))]


@pytest.mark.parametrize(
    ("dotenv", "language", "name"),
    [
        ("ATRI_LANGUAGE=en", "en", "ATRI"),
        ("ATRI_LANGUAGE=ja", "ja", "アトリ"),
        ("", "zh", "亚托莉"),
    ],
)
def test_the_description_is_in_the_env_files_language(
    tmp_path: Path, dotenv: str, language: str, name: str
) -> None:
    said = lines_for(name, language)
    assert plugin_meta(tmp_path, dotenv) == [
        f"description: {said.qq_plugin}",
        f"usage: {said.qq_usage.splitlines()[0]}",
    ]


def test_a_language_without_lines_is_one_sentence(tmp_path: Path) -> None:
    done = load_with_env_file(tmp_path, "ATRI_LANGUAGE=fr")
    said = done.stdout + done.stderr
    assert done.returncode != 0 and "loaded" not in done.stdout, said
    assert (
        "ATRI_LANGUAGE in NoneBot's .env (or the environment) must be zh, en or ja: "
        "write ATRI_LANGUAGE=en." in said
    )
    assert "Traceback" not in said
