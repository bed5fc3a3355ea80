"""The `atri` command surface: memory management, unbuilt commands, config errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import admin_token_notice, app
from model.memory import Memory

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")

    async def fill() -> None:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            await memory.append_many(
                "discord:user:1",
                [("user", "1", "Ann", "早上好", ""), ("assistant", "", "亚托莉", "早！", "v1")],
            )
            await memory.append_many("qq:user:2", [("user", "2", "Bo", "hi", "")])

    asyncio.run(fill())
    return path


def atri(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_memory_list_show_reset_export_purge(config: Path, tmp_path: Path) -> None:
    code, out = atri(config, "memory", "list")
    assert code == 0 and "discord:user:1" in out and "qq:user:2" in out

    code, out = atri(config, "memory", "show", "discord:user:1")
    assert code == 0 and "早上好" in out and "[v1]" in out

    code, out = atri(config, "memory", "reset", "discord:user:1")
    assert code == 0 and "2 messages archived" in out
    code, out = atri(config, "memory", "show", "discord:user:1")
    assert "早上好" not in out
    code, out = atri(config, "memory", "show", "discord:user:1", "--archived")
    assert "早上好" in out and "(archived)" in out

    target = tmp_path / "export.json"
    code, out = atri(config, "memory", "export", "discord:user:1", "--out", str(target))
    assert code == 0
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert exported["scope"] == "discord:user:1" and len(exported["messages"]) == 2

    code, out = atri(config, "memory", "purge", "discord:user:1", "--yes")
    assert code == 0 and "2 messages deleted" in out
    code, out = atri(config, "memory", "list")
    assert "discord:user:1" not in out and "qq:user:2" in out


def test_purge_asks_before_deleting(config: Path) -> None:
    result = runner.invoke(
        app, ["--config", str(config), "memory", "purge", "qq:user:2"], input="n\n"
    )
    assert result.exit_code == 1
    _, out = atri(config, "memory", "list")
    assert "qq:user:2" in out


def test_bad_config_exits_2_with_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[memory]\nscope = "galaxy"\n', encoding="utf-8")
    code, out = atri(bad, "memory", "list")
    assert code == 2
    assert '[memory] scope = "galaxy": must be one of' in out


def test_persona_export_writes_a_card_v2_that_loads_back(config: Path, tmp_path: Path) -> None:
    target = tmp_path / "card.json"
    code, _ = atri(config, "persona", "export", "--out", str(target))
    assert code == 0
    card = json.loads(target.read_text(encoding="utf-8"))
    assert card["spec"] == "chara_card_v2" and card["data"]["name"] == "亚托莉"
    config.write_text(config.read_text(encoding="utf-8") + f'[persona]\ncard = "{target.name}"\n')
    code, out = atri(config, "persona", "show")
    assert code == 0 and out.startswith("你是亚托莉")


def test_memory_import_restores_an_export_and_refuses_other_json(
    config: Path, tmp_path: Path
) -> None:
    target = tmp_path / "export.json"
    assert atri(config, "memory", "export", "discord:user:1", "--out", str(target))[0] == 0
    assert atri(config, "memory", "purge", "discord:user:1", "--yes")[0] == 0
    code, out = atri(config, "memory", "import", str(target))
    assert code == 0 and "Imported 2 messages into discord:user:1" in out
    _, out = atri(config, "memory", "show", "discord:user:1")
    assert "早上好" in out and "早！" in out
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"hello": 1}', encoding="utf-8")
    code, out = atri(config, "memory", "import", str(wrong))
    assert code == 1 and "not an ATRI memory export" in " ".join(out.split())


def test_worker_start_notice_says_what_a_missing_token_closes() -> None:
    assert "OpenAI API, /status" in admin_token_notice(openai_api_requires_token=False)
    closed = admin_token_notice(openai_api_requires_token=True)
    assert "OpenAI API (openai_api_requires_token = true) will refuse" in closed
    assert "OpenAI API, /status" not in closed


@pytest.mark.parametrize("command", ["chat", "serve", "worker"])
@pytest.mark.parametrize(
    ("lines", "sentence"),
    [
        (
            '[model]\nengine = "echo"\nadapter = "adapters/gone"\n',
            '[model] adapter = "adapters/gone":',
        ),
        ('[model]\nengine = "echo"\n[memory]\npath = "data"\n', "[memory] path"),
    ],
)
def test_a_wrong_path_in_the_config_is_one_sentence_before_anything_loads(
    tmp_path: Path, command: str, lines: str, sentence: str
) -> None:
    # The echo engine loads no model: a missing adapter used to go unnoticed with it.
    (tmp_path / "data").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(lines, encoding="utf-8")
    code, out = atri(config, command)
    flat = " ".join(out.split())
    assert code == 2, out
    assert f"error: {sentence}" in flat and flat.count("error:") == 1
    assert "Traceback" not in out and "point it at" in flat
