"""The console greets a new conversation with one of the card's greetings (`first_mes`
or an `alternate_greetings` entry), the same one each time that conversation starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from model.protocol import Character

from .test_console import ENV

GREETINGS = ["Morning, {{user}}.", "Evening, {{user}}.", "You came back, {{user}}!", "Oh. Hi."]


def write_card_config(tmp_path: Path) -> Path:
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Yuki",
            "description": "Yuki is a quiet girl who loves snow.",
            "personality": "quiet",
            "scenario": "",
            "first_mes": GREETINGS[0],
            "alternate_greetings": GREETINGS[1:],
            "mes_example": "",
        },
    }
    (tmp_path / "yuki.json").write_text(json.dumps(card), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\nengine = "echo"\n[persona]\ncard = "yuki.json"\nlanguage = "en"\n'
        '[memory]\npath = "chat.sqlite3"\n',
        encoding="utf-8",
    )
    return config


def user_greeted_by_an_alternate() -> tuple[str, str]:
    """A login name whose console conversation draws an alternate greeting, and it."""
    yuki = Character(name="Yuki", user_name="you", greeting=GREETINGS[0], greetings=GREETINGS)
    for n in range(100):
        name = f"fan{n}"
        chosen = yuki.greeting_of(f"console:{name}")
        if chosen != GREETINGS[0]:
            return name, chosen
    raise AssertionError("no login name draws an alternate greeting")


def chat(config: Path, login: str, lines: list[str]) -> str:
    env = {**ENV, "LOGNAME": login, "USER": login, "LNAME": login, "USERNAME": login}
    done = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_console_greets_with_the_conversations_own_greeting(tmp_path: Path) -> None:
    config = write_card_config(tmp_path)
    login, greeting = user_greeted_by_an_alternate()
    shown = greeting.replace("{{user}}", "").split(",")[0].split("!")[0].strip(" .")
    first = chat(config, login, ["/reset", "/quit"])
    assert shown in first, first
    assert "Morning" not in first  # not first_mes: this conversation draws an alternate
    again = chat(config, login, ["/quit"])  # reset before: a new conversation again
    assert shown in again, again
