"""The `atri` command surface: memory management, unbuilt commands, config errors."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import atri.cli_common as cli_common
from atri.cli import app, worker_access_notices
from atri.config import Secrets, Settings
from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    async def fill(memory: Memory) -> None:
        await memory.append_many(
            "discord:user:1",
            [("user", "1", "Ann", "早上好", ""), ("assistant", "", "亚托莉", "早！", "v1")],
        )
        await memory.append_many("qq:user:2", [("user", "2", "Bo", "hi", "")])

    return memory_config(tmp_path, fill)


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


def test_memory_commands_make_no_database_where_there_is_none(config: Path, tmp_path: Path) -> None:
    # Run with the wrong config.toml (or in the wrong folder): told so, not shown an empty
    # memory, and no empty database left behind; only an import makes one.
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    other = folder / "config.toml"
    other.write_text('[memory]\npath = "none.sqlite3"\n', encoding="utf-8")
    database = folder / "none.sqlite3"
    for args in (["list"], ["show", "qq:user:2"], ["export"], ["reset", "qq:user:2"]):
        code, out = atri(other, "memory", *args)
        assert code == 1, args
        # (rich wraps a long path anywhere)
        assert f"Nomemorydatabaseat{database}" in "".join(out.split()), args
        assert list(folder.iterdir()) == [other], args
    export = tmp_path / "qq.json"
    assert atri(config, "memory", "export", "qq:user:2", "--out", str(export))[0] == 0
    code, out = atri(other, "memory", "import", str(export))
    assert code == 0, out
    code, out = atri(other, "memory", "list")
    assert code == 0 and "qq:user:2" in out


def test_memory_export_never_writes_over_the_database(config: Path, tmp_path: Path) -> None:
    database = tmp_path / "mem.sqlite3"
    before = database.read_bytes()
    for target in (database, tmp_path / "mem.sqlite3-wal", tmp_path / "." / "mem.sqlite3"):
        code, out = atri(config, "memory", "export", "--out", str(target))
        assert code == 1
        assert "is the memory database ([memory] path)" in " ".join(out.split())
    assert database.read_bytes() == before
    code, out = atri(config, "memory", "list")
    assert code == 0 and "qq:user:2" in out


def test_no_export_writes_over_the_config_the_database_or_the_card(
    config: Path, tmp_path: Path
) -> None:
    """`atri persona export -o data/atri.sqlite3` replaced every conversation with a card,
    and `-o config.toml` (a memory export's too) the config it had just read."""
    card = tmp_path / "card.json"
    card.write_text('{"name": "Eileen", "description": "A girl."}', encoding="utf-8")
    with config.open("a", encoding="utf-8") as toml:
        toml.write(f'\n[persona]\ncard = "{card}"\n')
    owned = {path: path.read_bytes() for path in (config, tmp_path / "mem.sqlite3", card)}
    for command in (["persona", "export"], ["memory", "export"], ["memory", "export", "qq:user:2"]):
        for path, what in (
            (config, "the config file"),
            (tmp_path / "mem.sqlite3", "the memory database ([memory] path)"),
            (tmp_path / "mem.sqlite3-journal", "the memory database ([memory] path)"),
            (card, "the character card ([persona] card)"),
        ):
            code, out = atri(config, *command, "--out", str(path))
            assert code == 1, (command, path)
            assert f"is {what}: write the export elsewhere." in " ".join(out.split()), out
    assert {path: path.read_bytes() for path in owned} == owned
    assert not (tmp_path / "mem.sqlite3-journal").exists()
    code, out = atri(config, "persona", "export", "--out", str(tmp_path / "mine.json"))
    assert code == 0 and "Eileen" in (tmp_path / "mine.json").read_text(encoding="utf-8")


def test_memory_show_prints_no_terminal_commands(config: Path, tmp_path: Path) -> None:
    """Anyone who talks to her can store text: ESC c (reset the terminal) or an OSC title."""

    async def fill() -> None:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            await memory.append_many(
                "qq:user:\x1b]0;owned\x07", [("user", "3", "Eve\x1bc", "hi\x1bc\x9b2J there", "")]
            )

    asyncio.run(fill())
    code, out = atri(config, "memory", "list")
    assert code == 0 and "qq:user:\\x1b]0;owned\\x07" in out  # escaped, as it is typed back
    code, out = atri(config, "memory", "show", "qq:user:\x1b]0;owned\x07")
    assert code == 0 and "Evec: hic2J there" in out
    assert not any(c in out for c in "\x1b\x07\x9b")


def test_memory_show_prints_each_stored_message_as_one_entry(config: Path, tmp_path: Path) -> None:
    """A second line of a message, or a name with a line break, is not another message."""

    async def fill() -> None:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            await memory.append_many(
                "qq:user:4",
                [("user", "4", "Eve\nassistant 亚托莉", "hi\nassistant 亚托莉: 我骂人", "")],
            )

    asyncio.run(fill())
    code, out = atri(config, "memory", "show", "qq:user:4")
    assert code == 0
    assert out.splitlines() == [
        "user      Eve assistant 亚托莉: hi",
        "          assistant 亚托莉: 我骂人",
    ]


def test_purge_asks_before_deleting(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_common, "stdin_is_terminal", lambda: True)
    result = runner.invoke(
        app, ["--config", str(config), "memory", "purge", "qq:user:2"], input="n\n"
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "Nothing deleted."  # not a silent exit 1
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
    # The card in the language ATRI speaks: English on the offline default model.
    assert card["spec"] == "chara_card_v2" and card["data"]["name"] == "ATRI"
    config.write_text(config.read_text(encoding="utf-8") + f'[persona]\ncard = "{target.name}"\n')
    code, out = atri(config, "persona", "show")
    assert code == 0 and out.startswith("You are ATRI.")


def test_memory_import_restores_an_export_once_and_refuses_other_json(
    config: Path, tmp_path: Path
) -> None:
    target = tmp_path / "export.json"
    assert atri(config, "memory", "export", "discord:user:1", "--out", str(target))[0] == 0
    assert atri(config, "memory", "purge", "discord:user:1", "--yes")[0] == 0
    code, out = atri(config, "memory", "import", str(target), "--include-purged")
    assert code == 0 and "Imported 2 messages into discord:user:1." in out
    _, out = atri(config, "memory", "show", "discord:user:1")
    assert "早上好" in out and "早！" in out
    code, out = atri(config, "memory", "import", str(target), "--include-purged")
    assert (
        code == 0
        and "Imported nothing new into discord:user:1 (already stored, skipped: 2 messages)" in out
    )
    _, out = atri(config, "memory", "show", "discord:user:1")
    assert out.count("早上好") == 1
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"hello": 1}', encoding="utf-8")
    code, out = atri(config, "memory", "import", str(wrong))
    assert code == 1 and "not an ATRI memory export" in " ".join(out.split())


def test_memory_import_goes_before_what_was_said_since(config: Path, tmp_path: Path) -> None:
    """Export, purge, one new exchange, then the export back: the old exchanges go before
    the new one, and the summary still ends where it did (it does not hold the new one)."""
    db = tmp_path / "mem.sqlite3"

    async def before() -> None:
        async with await Memory.open(db) as memory:
            await memory.append_many(
                "qq:user:5",
                [("user", "5", "Sam", "my cat is Mochi", ""), ("assistant", "", "", "nice", "")],
            )
            await memory.append_many(
                "qq:user:5", [("user", "5", "Sam", "filler", ""), ("assistant", "", "", "ok", "")]
            )
            nice = (await memory.all_messages("qq:user:5"))[1]
            assert await memory.add_summary("qq:user:5", "- cat Mochi", nice.id)

    async def chat_once() -> None:
        async with await Memory.open(db) as memory:
            await memory.append_many(
                "qq:user:5",
                [("user", "5", "Sam", "I moved to Osaka", ""), ("assistant", "", "", "cool", "")],
                request_id="qq-9",
            )

    async def after() -> tuple[list[Any], Any, list[Any]]:
        async with await Memory.open(db) as memory:
            read = await memory.conversation("qq:user:5")
            return await memory.all_messages("qq:user:5"), read.summary, read.messages

    asyncio.run(before())
    target = tmp_path / "export.json"
    assert atri(config, "memory", "export", "qq:user:5", "--out", str(target))[0] == 0
    assert atri(config, "memory", "purge", "qq:user:5", "--yes")[0] == 0
    asyncio.run(chat_once())
    code, out = atri(config, "memory", "import", str(target), "--include-purged")
    assert code == 0 and "Imported 4 messages and 1 summary into qq:user:5." in out
    rows, summary, history = asyncio.run(after())
    said = ["my cat is Mochi", "nice", "filler", "ok", "I moved to Osaka", "cool"]
    assert [m.content for m in rows] == said  # in id order
    assert summary is not None and summary.text == "- cat Mochi"
    assert summary.covers_up_to == rows[1].id  # up to "nice", not past the new exchange
    # The prompt holds the summary, then the turns after it, newest last.
    assert [m.content for m in history if m.id > summary.covers_up_to] == said[2:]
    _, out = atri(config, "memory", "show", "qq:user:5")
    turns = out.split("recent turns:")[1]
    assert "Mochi" not in turns and turns.index("filler") < turns.index("Osaka")

    code, out = atri(config, "memory", "import", str(target), "--include-purged")
    assert (
        code == 0
        and "Imported nothing new into qq:user:5 (already stored, skipped: 4 messages"
        " and 1 summary)"
        in (" ".join(out.split()))
    )
    again, summary_again, _ = asyncio.run(after())
    assert again == rows and summary_again == summary


def test_memory_show_follows_the_summary_that_ends_latest(config: Path, tmp_path: Path) -> None:
    """An imported summary of older exchanges is stored after the one already there, but
    the one already there ends later: it stays the one her prompt holds, and `show` too;
    the imported one is archived (`--archived` shows it)."""

    async def chat() -> None:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            await memory.append_many(
                "qq:user:5",
                [("user", "5", "Sam", "I moved to Osaka", ""), ("assistant", "", "", "cool", "")],
            )
            cool = (await memory.all_messages("qq:user:5"))[-1]
            assert await memory.add_summary("qq:user:5", "- moved to Osaka", cool.id)

    asyncio.run(chat())
    old = {"role": "user", "user_id": "5", "content": "my cat is Mochi", "created_at": 1.7e9}
    export = {
        "format": "atri-memory",
        "version": 4,
        "scope": "qq:user:5",
        "messages": [old, {**old, "role": "assistant", "user_id": "", "content": "nice"}],
        "summaries": [{"text": "- cat Mochi", "covers": 1, "created_at": 1.7e9}],
    }
    target = tmp_path / "old.json"
    target.write_text(json.dumps(export), encoding="utf-8")
    assert atri(config, "memory", "import", str(target))[0] == 0
    _, out = atri(config, "memory", "show", "qq:user:5")
    assert "- cat Mochi" not in out and "- moved to Osaka" in out
    assert "Osaka" not in out.split("recent turns:")[1]
    _, out = atri(config, "memory", "show", "qq:user:5", "--archived")
    assert "summary (archived), up to message" in out and "- cat Mochi" in out


GOOD = {"role": "user", "user_id": "9", "content": "first", "created_at": 1.7e9}


def export_of(second: dict[str, object], scope: str = "qq:user:9") -> dict[str, object]:
    """An export whose first message is good and whose second is GOOD changed by `second`."""
    messages = [GOOD, {**GOOD, "content": "second", **second}]
    return {"format": "atri-memory", "version": 1, "scope": scope, "messages": messages}


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ([1, 2], "not an ATRI memory export"),
        (export_of({"role": "system"}), "messages[1].role must be 'user' or 'assistant'"),
        (export_of({"content": None}), "messages[1].content must be a string (it is null)"),
        (export_of({"content": {"a": 1}}), 'messages[1].content must be a string (it is {"a": 1})'),
        (export_of({"created_at": "yesterday"}), "messages[1].created_at must be a number"),
        (export_of({}, scope=""), "scope must not be empty"),
    ],
)
def test_memory_import_checks_every_message_before_writing_any(
    config: Path, tmp_path: Path, data: object, sentence: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    code, out = atri(config, "memory", "import", str(bad))
    flat = " ".join(out.split())
    assert code == 1 and flat.startswith(f"error: {bad}") and sentence in flat, out
    assert "Traceback" not in out
    _, out = atri(config, "memory", "list")
    assert "qq:user:9" not in out  # not even the good first message was written


def test_memory_list_and_show_survive_rows_written_oddly(config: Path, tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "mem.sqlite3")
    con.executemany(
        "INSERT INTO messages (scope, role, user_id, content, created_at) VALUES (?,?,?,?,?)",
        [
            ("odd", "user", 42, b"\xffraw", "yesterday"),
            ("odd", "assistant", "", 3.5, 1e300),
            ("[bold]", "user", "1", "markup?", -1),
        ],
    )
    con.commit()
    con.close()
    code, out = atri(config, "memory", "list")
    assert code == 0, out
    assert "odd" in out and "[bold]" in out and "discord:user:1" in out
    code, out = atri(config, "memory", "show", "odd")
    assert code == 0 and "\ufffdraw" in out and "3.5" in out, out


def test_worker_start_notice_says_what_a_missing_token_closes() -> None:
    settings = Settings()
    (opened,) = worker_access_notices(settings, Secrets())
    assert "OpenAI API, /status" in opened and "/character still answer" in opened
    settings.worker.openai_api_requires_token = True
    (closed,) = worker_access_notices(settings, Secrets())
    assert "OpenAI API (openai_api_requires_token = true, and no ATRI_API_KEYS) will" in closed
    assert "OpenAI API, /status" not in closed
    # With a client's key the API answers; only the admin routes refuse.
    keyed = Secrets.from_env({"ATRI_API_KEYS": "k1, k2"})
    assert worker_access_notices(settings, keyed) == [opened]


def test_worker_start_notice_says_the_api_is_open_to_the_network() -> None:
    settings = Settings()
    token = Secrets.from_env({"ATRI_ADMIN_TOKEN": "t"})
    assert worker_access_notices(settings, token) == []
    settings.worker.host = "0.0.0.0"
    (open_api,) = worker_access_notices(settings, token)
    assert open_api.startswith("The OpenAI API (/v1) answers anyone who reaches 0.0.0.0:8765")
    keys = Secrets.from_env({"ATRI_ADMIN_TOKEN": "t", "ATRI_API_KEYS": "k"})
    assert "no key is asked for" in worker_access_notices(settings, keys)[0]
    # Port 0 is not where it listens (QA s74): the listening line after names that one.
    settings.worker.port = 0
    (any_port,) = worker_access_notices(settings, token)
    assert "0.0.0.0:0" not in any_port and "0.0.0.0 (on the port the next line names)" in any_port


def test_config_goes_before_or_after_the_command(config: Path) -> None:
    after = runner.invoke(app, ["memory", "list", "--config", str(config)])
    assert after.exit_code == 0 and "discord:user:1" in after.output
    short = runner.invoke(app, ["persona", "show", "-c", str(config)])
    assert short.exit_code == 0 and "You are ATRI." in short.output  # offline model: English
    # Between a group and its command, as people also type it.
    between = runner.invoke(app, ["memory", "--config", str(config), "list"])
    assert between.exit_code == 0 and "discord:user:1" in between.output
    between = runner.invoke(app, ["persona", "-c", str(config), "show"])
    assert between.exit_code == 0 and "You are ATRI." in between.output


def every_command(group: Any = None, path: str = "") -> list[tuple[str, Any]]:
    """Each `atri` command as (its name as typed, its click command)."""
    import typer.main

    found: list[tuple[str, Any]] = []
    for name, command in (group or typer.main.get_group(app)).commands.items():
        if hasattr(command, "commands"):  # a group: memory, persona
            found += every_command(command, f"{path}{name} ")
        else:
            found.append((path + name, command))
    return found


def test_every_command_takes_config() -> None:
    every = every_command()
    assert len(every) >= 12
    for name, command in every:
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert {"--config", "-c"} <= options, name


def test_adding_config_keeps_each_commands_own_option_names() -> None:
    """The --config wrapper once rebuilt options from their bare types, losing -o,
    --format and help texts."""
    prep = CliRunner().invoke(app, ["prep", "--help"], env={"COLUMNS": "200"})
    assert "-o" in prep.output and "--format" in prep.output and "-f" in prep.output
    train = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "--packing" in train.output and "--no-packing" in train.output
    assert "--max-steps" in train.output and "--lr" in train.output


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [("--lr", "0", "--lr = 0.0: "), ("--epochs", "0", "--epochs = 0.0: ")],
)
def test_a_train_flag_out_of_range_is_named_as_typed(
    config: Path, flag: str, value: str, said: str
) -> None:
    """--lr 0 was refused as "--learning-rate = 0.0", a flag that does not exist, while
    the help said [x>=0.0]."""
    code, output = atri(config, "train", flag, value)
    assert code == 2 and said in output and "must be a positive number" in output, output
    help_text = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300"}).output
    assert "x>=0.0" not in help_text


def test_help_shows_the_config_keys_flags_name() -> None:
    """Rich markup read "([train] dataset)" as a style tag: help said "( dataset)"."""
    shown = 0
    for command in ("train", "eval", "worker"):
        text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "300"}).output
        for key in {
            "train": ["[train] dataset", "[train] eval_dataset", "[model] adapters_dir"],
            "eval": ["[eval] probes"],
            "worker": ["[worker] host", "[worker] port"],
        }[command]:
            assert key in text, (command, key)
            shown += 1
        assert "\\[" not in text
    assert shown == 6


@pytest.mark.parametrize("command", ["chat", "serve", "worker"])
@pytest.mark.parametrize(
    ("lines", "sentence"),
    [
        (
            '[model]\nengine = "echo"\nadapter = "adapters/gone"\n',
            # It names the file, as errors found while reading it do.
            '{config}: [model] adapter = "adapters/gone":',
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
    sentence = sentence.format(config=config)
    assert f"error: {sentence}" in flat and flat.count("error:") == 1
    assert "Traceback" not in out and "point it at" in flat


def test_memory_show_prints_the_summary_and_the_turns_after_it(
    config: Path, tmp_path: Path
) -> None:
    async def summarize() -> None:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            await memory.append_many("discord:user:1", [("user", "1", "Ann", "later", "")])
            first_reply = (await memory.all_messages("discord:user:1"))[1]
            await memory.add_summary(
                "discord:user:1", "- Ann says good morning", first_reply.id, "v1"
            )

    asyncio.run(summarize())
    code, out = atri(config, "memory", "show", "discord:user:1")
    assert code == 0 and "- Ann says good morning" in out and "[v1]" in out
    assert "recent turns:" in out and "later" in out and "早上好" not in out
    atri(config, "memory", "reset", "discord:user:1")
    _, out = atri(config, "memory", "show", "discord:user:1", "--archived")
    assert "(archived)" in out and "- Ann says good morning" in out and "早上好" in out


def test_export_with_no_scope_is_a_backup_that_import_restores(
    config: Path, tmp_path: Path
) -> None:
    from tests.model.test_memory import fill_everything

    async def fill() -> None:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            await fill_everything(memory)

    asyncio.run(fill())
    backup = tmp_path / "backup.json"
    code, out = atri(config, "memory", "export", "--out", str(backup))
    assert code == 0 and "Wrote 10 messages, 2 summaries and 2 room lines" in " ".join(out.split())
    other = tmp_path / "other.toml"
    other.write_text('[memory]\npath = "restored.sqlite3"\n', encoding="utf-8")
    code, out = atri(other, "memory", "import", str(backup))
    assert code == 0 and "Imported 10 messages, 2 summaries and 2 room lines into 5 scope(s)" in (
        " ".join(out.split())
    )
    code, out = atri(other, "memory", "import", str(backup))
    assert (
        code == 0
        and "Imported nothing new into 5 scope(s) (already stored, skipped: 10 messages,"
        " 2 summaries and 2 room lines)"
        in (" ".join(out.split()))
    )
    again = tmp_path / "again.json"
    assert atri(other, "memory", "export", "--out", str(again))[0] == 0
    assert json.loads(again.read_text(encoding="utf-8")) == json.loads(
        backup.read_text(encoding="utf-8")
    )
    _, out = atri(other, "memory", "show", "qq:user:1")
    assert "- said hi" in out and "recent turns:" in out


def test_eval_recall_runs_the_recall_probes_in_a_scratch_database(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\nengine = "echo"\n[memory]\npath = "mem.sqlite3"\nmax_history_tokens = 200\n',
        encoding="utf-8",
    )
    code, out = atri(config, "eval", "--recall", "--recall-filler", "12", "--recall-probes", "2")
    text = " ".join(out.split())
    # The echo engine's summaries repeat the transcript, so the facts are carried; its
    # replies only repeat the question, so nothing is recalled.
    assert code == 0 and "2 probes, 12 exchanges between fact and question" in text
    assert "carried into the prompt 100%, recalled 0%" in text
    assert not (tmp_path / "mem.sqlite3").exists()  # the user's memory is not touched


def test_an_export_that_cannot_be_written_is_one_sentence_and_keeps_the_earlier_file(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = tmp_path / "backup.json"
    assert atri(config, "memory", "export", "--out", str(backup))[0] == 0
    earlier = backup.read_bytes()
    code, out = atri(config, "memory", "export", "--out", str(tmp_path / "no" / "x.json"))
    out = " ".join(out.split())  # rich wraps long lines
    assert code == 1 and "x.json cannot be written (No such file or directory)" in out
    assert "nothing was written" in out

    def disk_full(fd: int) -> None:  # where a full disk shows, with delayed allocation
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    for command in (["memory", "export"], ["persona", "export"]):
        code, out = atri(config, *command, "--out", str(backup))
        out = " ".join(out.split())
        assert code == 1 and "(No space left on device)" in out
        assert "the file there is left as it was" in out
        assert backup.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == ["backup.json"]


def test_a_database_another_program_is_writing_is_one_sentence(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("model.memory.database.BUSY_TIMEOUT_SECONDS", 0.1)
    writer = sqlite3.connect(tmp_path / "mem.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # an import or a worker in the middle of a write
    try:
        code, out = atri(config, "memory", "reset", "discord:user:1")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    out = " ".join(out.split())
    assert code == 1 and "is in use: another program has been writing to it" in out
    assert "for over 0.1 seconds" in out  # the patched wait is the one it waited
    assert "point it at" not in out  # the file is fine: nothing to change in the config
    code, out = atri(config, "memory", "reset", "discord:user:1")
    assert code == 0 and "2 messages archived" in out


def test_a_full_disk_under_a_memory_command_is_one_sentence_and_changes_nothing(
    config: Path, tmp_path: Path
) -> None:
    import resource
    import subprocess
    import sys

    with sqlite3.connect(tmp_path / "mem.sqlite3") as con:  # enough to outgrow the limit
        con.executemany(
            "INSERT INTO messages (scope, role, user_id, content, created_at)"
            " VALUES ('qq:user:3', 'user', '3', ?, 0)",
            [(f"line {i} " + "x" * 40,) for i in range(20000)],
        )
    con.close()

    def small_disk() -> None:  # files may not grow past 64 KiB: the WAL fills it
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))

    for command in (["reset", "qq:user:3"], ["purge", "--yes", "qq:user:3"]):
        run = subprocess.run(
            [sys.executable, "-m", "atri", "--config", str(config), "memory", *command],
            preexec_fn=small_disk,
            capture_output=True,
            text=True,
            timeout=60,
        )
        out = " ".join((run.stdout + run.stderr).split())
        assert run.returncode == 1, out
        assert "Traceback" not in out and "could not be written" in out
        assert "free some space on its disk and run it again" in out
    _, out = atri(config, "memory", "list")
    assert "qq:user:3" in out and "20000" in out  # every message still there, live


def test_reading_commands_do_not_wait_for_another_program_writing(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long `atri memory import` in another process holds the write lock: export,
    list and show still read what was last committed (WAL), without waiting."""
    import subprocess
    import sys

    monkeypatch.setattr("model.memory.database.BUSY_TIMEOUT_SECONDS", 0.1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"con = sqlite3.connect({str(tmp_path / 'mem.sqlite3')!r}, isolation_level=None)\n"
            "con.execute('BEGIN IMMEDIATE')\n"
            'con.execute("INSERT INTO messages (scope, role, user_id, content, created_at)'
            " VALUES ('qq:user:9', 'user', '9', 'not yet committed', 0)\")\n"
            "print('holding', flush=True)\n"
            "sys.stdin.readline()\n"
            "con.execute('ROLLBACK')\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        target = tmp_path / "backup.json"
        code, out = atri(config, "memory", "export", "--out", str(target))
        assert code == 0, out
        scopes = [p["scope"] for p in json.loads(target.read_text(encoding="utf-8"))["scopes"]]
        assert scopes == ["discord:user:1", "qq:user:2"]  # the last committed state
        code, out = atri(config, "memory", "export", "discord:user:1")
        assert code == 0 and json.loads(out)["messages"][1]["content"] == "早！"
        code, out = atri(config, "memory", "list")
        assert code == 0 and "qq:user:2" in out and "qq:user:9" not in out
        code, out = atri(config, "memory", "show", "discord:user:1")
        assert code == 0 and "早上好" in out
        code, out = atri(config, "memory", "reset", "discord:user:1")  # a write still waits
        assert code == 1 and "is in use" in " ".join(out.split())
    finally:
        holder.communicate("\n", timeout=10)


def test_the_worker_wakes_the_configured_character(tmp_path: Path) -> None:
    card = {"spec": "chara_card_v2", "data": {"name": "Yuki", "description": "A girl."}}
    (tmp_path / "yuki.json").write_text(json.dumps(card), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\nengine = "echo"\nadapter = "adapters/gone"\n[persona]\ncard = "yuki.json"\n',
        encoding="utf-8",
    )
    code, out = atri(config, "worker")  # stops at the missing adapter, after the line
    assert (
        code == 2
        and "Waking Yuki up (no model to load: echo engine)" in out
        and "ATRI up" not in out
    )


def test_the_worker_wakes_her_by_the_name_of_the_language_she_speaks(tmp_path: Path) -> None:
    """On the offline model she speaks English (ATRI), but the line named the card's main
    name: "Waking 亚托莉 up" above an English chat."""
    config = tmp_path / "config.toml"
    config.write_text('[model]\nengine = "echo"\nadapter = "adapters/gone"\n', encoding="utf-8")
    code, out = atri(config, "worker")  # stops at the missing adapter, after the line
    assert code == 2 and "Waking 亚托莉 up" in out, out
    config.write_text('[model]\nadapter = "adapters/gone"\n', encoding="utf-8")
    code, out = atri(config, "worker")
    assert code == 2 and "Waking ATRI up (loading the model)" in out, out


def test_the_worker_reads_the_card_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI read it for its "Waking … up" line and the service read it again.
    import model.character.persona as persona

    reads: list[Any] = []
    real = persona.load_persona

    def counted(path: Any = None) -> Any:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(persona, "load_persona", counted)
    card = {"spec": "chara_card_v2", "data": {"name": "Yuki", "description": "A girl."}}
    (tmp_path / "yuki.json").write_text(json.dumps(card), encoding="utf-8")
    (tmp_path / "data").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\nengine = "echo"\n[memory]\npath = "data"\n[persona]\ncard = "yuki.json"\n',
        encoding="utf-8",
    )
    code, out = atri(config, "worker")  # stops at the memory folder, after the card is used
    assert code == 2 and "Waking Yuki up" in out and "[memory] path" in " ".join(out.split())
    assert reads == [tmp_path / "yuki.json"]


def test_a_broken_card_stops_the_worker_in_one_sentence_before_it_wakes(tmp_path: Path) -> None:
    (tmp_path / "yuki.json").write_text("{not json", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[model]\nengine = "echo"\n[persona]\ncard = "yuki.json"\n', encoding="utf-8")
    code, out = atri(config, "worker")
    flat = " ".join(out.split())
    assert code == 1, out
    assert flat.count("error:") == 1 and "character card is not valid" in flat
    assert "Waking" not in out and "Traceback" not in out


def test_prep_names_the_config_in_its_train_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`atri --config eileen.toml prep …` said "Train on it with: atri train --dataset …",
    which would train under ./config.toml (another character's) instead."""
    script = Path(__file__).parents[1] / "dataprep" / "fixtures" / "plain_zh.txt"
    other = tmp_path / "second" / "other.toml"
    other.parent.mkdir()
    other.write_text("[dataprep]\neval_ratio = 0\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ATRI_CONFIG", raising=False)
    runner = CliRunner(env={"COLUMNS": "400"})

    def hint(*config: str) -> str:
        result = runner.invoke(app, [*config, "prep", str(script), "-o", "out"])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split()).split("Train on it with: ")[1]

    assert hint("--config", str(other)).startswith(f"atri --config {other} train --dataset ")
    # The config atri finds by itself (./config.toml) needs no --config in the command.
    (tmp_path / "config.toml").write_text(other.read_text(encoding="utf-8"), encoding="utf-8")
    assert hint("--config", "config.toml").startswith("atri train --dataset ")
    assert hint().startswith("atri train --dataset ")


@pytest.mark.parametrize(
    ("engine", "command"),
    [
        ("local", "chat"),
        ("local", "worker"),
        ("local", "train"),
        ("local", "eval --recall"),
        ("llamacpp", "chat"),
        ("openai", "serve"),
    ],
)
def test_a_chat_template_that_does_not_compile_stops_every_command_in_one_sentence(
    tmp_path: Path, engine: str, command: str
) -> None:
    """Before, it passed the config check and every chat failed with a traceback and a
    sentence blaming the base model's template; now nothing loads."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nengine = "{engine}"\nbase = "no-such-model-folder"\n'
        'openai_base_url = "http://127.0.0.1:9/v1"\nchat_template = "{{ messages"\n',
        encoding="utf-8",
    )
    code, out = atri(config, *command.split())
    flat = " ".join(out.split())
    assert code == 2, out
    assert flat.count("error:") == 1 and "Traceback" not in out
    assert "error: [model] chat_template in config.toml is not a Jinja template" in flat
    assert "(unexpected end of template, expected 'end of print statement', line 1" in flat


def test_an_empty_worker_host_flag_is_one_sentence(tmp_path: Path) -> None:
    """`--host ""` listened on every interface, as `[worker] host = ""` did."""
    config = tmp_path / "config.toml"
    config.write_text('[model]\nengine = "echo"\n', encoding="utf-8")
    code, out = atri(config, "worker", "--host", "")
    flat = " ".join(out.split())
    assert code == 2, out
    assert "error: --host = '': must not be empty; write \"0.0.0.0\" to listen on every" in flat
    assert "Traceback" not in out and "listening" not in out


def test_the_command_lists_show_whole_sentences() -> None:
    """Rich help keeps a docstring's line breaks: `atri --help` listed eval as "…style.
    With --recall:" and memory import as "…one scope, or a", cut where the source wrapped.
    The first paragraph (what the lists show) is one line; details follow a blank line."""
    for name, command in every_command():
        summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert "\n" not in summary, name
    wide = {"COLUMNS": "300"}
    listed = CliRunner().invoke(app, ["--help"], env=wide).output
    assert "style. With --recall" not in listed and "rate, style." in listed
    memory = CliRunner().invoke(app, ["memory", "--help"], env=wide).output
    assert "back into memory." in memory and "one scope, or a" not in memory


def test_version_names_atri_and_the_libraries_a_bug_report_needs() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert "\n" not in line
    assert line.startswith(f"atri {version('atri')} (Python ")
    for name in ("torch", "transformers", "peft"):
        assert f"{name} {version(name)}" in line
