"""README's "Upgrading an existing install" says what an install made by an older ATRI
meets, in the words the code uses: every renamed config key, the memory upgrade's line,
and the QQ plugin's refusal of an empty ATRI_ERROR_REPLY."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest

from atri.config import RENAMED_KEYS
from bot.qq.config import PluginConfigError, config_from
from model.memory import MIGRATIONS, Memory

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.MULTILINE | re.DOTALL)
    assert found, f"README has no section {title!r}"
    return " ".join(found.group(1).split())


def test_the_section_comes_after_installing_and_before_the_pipeline() -> None:
    headings = re.findall(r"^## (.+)$", README, re.MULTILINE)
    at = headings.index("Upgrading an existing install")
    assert headings[at - 1 : at + 2] == [
        "Installing as a package",
        "Upgrading an existing install",
        "data → train → serve",
    ]


def test_it_says_how_to_upgrade_and_names_every_renamed_key() -> None:
    text = section("Upgrading an existing install")
    # The code block, squeezed: a pull over an edited config.toml, then the set-up.
    assert "git stash # only if you edited the tracked config.toml" in text
    assert "git stash pop # your edits back" in text and "bash scripts/setup.sh" in text
    for (old_section, old_key), (new_section, new_key) in RENAMED_KEYS.items():
        assert f"[{old_section}] {old_key}" in text
        assert f"[{new_section}] {new_key}" in text


async def test_the_memory_line_is_the_one_the_store_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "atri.sqlite3"
    con = sqlite3.connect(path)
    for step in MIGRATIONS[:2]:
        con.executescript(step)
    con.execute("PRAGMA user_version = 2")
    con.close()
    with caplog.at_level(logging.INFO, logger="model.memory.store"):
        async with await Memory.open(path):
            pass
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "model.memory.store"]
    kept = str(tmp_path / "atri.sqlite3.schema2.bak")
    described = logged.replace("schema 2 ", "schema N ").replace(kept, "…")
    assert f"`{described}`" in section("Upgrading an existing install")


def test_the_qq_refusal_it_describes_is_the_plugins() -> None:
    text = section("Upgrading an existing install")
    assert "`ATRI_ERROR_REPLY=` with an empty value" in text
    with pytest.raises(PluginConfigError, match="remove the line for her own error line"):
        config_from({"atri_error_reply": ""})
    assert "remove the line for her own error line" in text
