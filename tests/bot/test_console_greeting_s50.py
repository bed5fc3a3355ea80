"""The console's greeting fills the card's names as the prompt does: in any case and the
old `<BOT>`/`<USER>` tokens (a hand-written card's `{{Char}}` showed as written)."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from bot import serve
from model.protocol import Character


class Greeter:
    """The little of a worker the console asks before the first message."""

    async def character(self) -> Character:
        return Character(
            name="Yuki", greeting="{{Char}} waves at <USER>. Hi, {{USER}}!", user_name="Kai"
        )

    async def history(self, scope: object) -> list[Any]:
        return []

    async def status(self) -> None:
        return None  # what describe_worker (replaced below) would read


async def test_the_console_greeting_fills_names_in_any_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown: dict[str, Any] = {}

    async def run_console(worker: object, console: Console, **kwargs: Any) -> None:
        shown.update(kwargs)

    monkeypatch.setattr(serve, "run_console", run_console)
    monkeypatch.setattr(serve, "describe_worker", lambda status, character: "")
    await serve.console_chat(Greeter(), Console())  # type: ignore[arg-type]
    assert shown["greeting"] == "Yuki waves at Kai. Hi, Kai!"
