"""Text drawn piece by piece or on a terminal shows what was written: a /v1 stream cuts
its deltas between grapheme clusters only (an emoji of seven code points, an accented
letter, a flag arrive whole), and the console drops the bidi controls that would turn
the rest of a line around, keeping every script and the joiners emoji are drawn with."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import regex
from pydantic import SecretStr
from rich.console import Console

from atri.config import Secrets, Settings
from atri.terminal import printable
from bot.console import said
from model.engines.echo import EchoEngine
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # seven code points, one character as read
ACCENTED = "e\u0301\u0302"  # é with a circumflex over it
FLAGS = "🇯🇵🇫🇷🇩🇪"  # three flags of two letters each
STACKED = "a" + "\u0301" * 10  # one character longer than a delta
CLUSTERS = [FAMILY, ACCENTED, "🇯🇵", "🇫🇷", "🇩🇪", "👍🏽", "กำ", "\u1100\u1161\u11a8", STACKED]
CONTENT = f"ab{FAMILY * 3} {ACCENTED * 4} {FLAGS} 👍🏽👍🏽 กำกำ \u1100\u1161\u11a8 {STACKED} end"


@pytest.fixture
async def echo_worker(echo_settings: Settings) -> AsyncIterator[str]:
    """The base URL of an echo worker's HTTP app, as `atri worker` serves it."""
    secrets = Secrets(admin_token=SecretStr("test-admin-token"))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        yield url


def _deltas(stream: str) -> list[str]:
    events = stream.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks: list[dict[str, Any]] = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    return [c["choices"][0]["delta"].get("content", "") for c in chunks][1:]  # after the role


async def test_a_stream_never_cuts_a_character_across_deltas(echo_worker: str) -> None:
    body = {"messages": [{"role": "user", "content": CONTENT}]}
    async with httpx.AsyncClient(base_url=echo_worker, timeout=10) as http:
        plain = await http.post("/v1/chat/completions", json=body)
        streamed = await http.post("/v1/chat/completions", json={**body, "stream": True})
    assert plain.status_code == streamed.status_code == 200
    deltas = [d for d in _deltas(streamed.text) if d]
    text = "".join(deltas)
    assert text == plain.json()["choices"][0]["message"]["content"] == EchoEngine.prefix + CONTENT
    # Every cut between two deltas is a grapheme boundary: ...
    boundaries = {m.start() for m in regex.finditer(r"\X", text)}
    cuts = [sum(map(len, deltas[:i])) for i in range(1, len(deltas))]
    assert [cut for cut in cuts if cut not in boundaries] == []
    # ... so each character of several code points arrives whole, in one delta.
    for cluster in CLUSTERS:
        assert sum(d.count(cluster) for d in deltas) == text.count(cluster), cluster
    # Still small pieces: a delta longer than 8 code points is one character.
    assert len(deltas) > 6
    assert all(len(d) <= 8 or regex.fullmatch(r"\X", d) for d in deltas)


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize("control", BIDI_CONTROLS)
def test_the_console_drops_a_bidi_control_that_would_reverse_the_line(control: str) -> None:
    assert printable(f"rtl {control}evil.exe txt") == "rtl evil.exe txt"


def test_the_console_keeps_every_script_and_the_joiners_emoji_need() -> None:
    legitimate = [
        "שלום עולם, hello",  # Hebrew, ordered by the terminal itself
        "مرحبا بالعالم",  # Arabic
        "می\u200cخواهم",  # Persian's zero-width non-joiner inside a word
        "Price\u200f: 5",  # a right-to-left mark placing punctuation
        "亚托莉听到了：你好",
        f"{FAMILY} 👩\u200d💻 🏳️\u200d🌈 {FLAGS} {ACCENTED}",
        "tab\tand\nnewline",
    ]
    for text in legitimate:
        assert printable(text) == text


def test_her_echoed_line_reaches_the_terminal_without_the_override() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=True)
    console.print(said("ATRI", f"亚托莉听到了：rtl \u202eevil.exe txt {FAMILY}"))
    written = out.getvalue()
    assert "\u202e" not in written
    assert f"ATRI: 亚托莉听到了：rtl evil.exe txt {FAMILY}" in written
