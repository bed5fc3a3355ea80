"""Input that shows nothing or never ends: a message of control characters is empty on
every platform and those inside a message are not stored; a console command read with
a stray control byte is still the command; `atri memory import` and `atri chat` read a
bounded amount; a /v1 `user` that shows nothing is anonymous."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from atri import memory_commands
from atri.config import Secrets, Settings
from bot.console import CUT_NOTE
from bot.limits import MAX_INPUT_CHARS
from model.engines.echo import EchoEngine
from model.memory import Memory
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.atri.memory_cli import atri, big_backup, memory_config

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "COLUMNS": "500",  # rich wraps at 80 columns when stdout is not a terminal
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}
CONTROLS_ONLY = ["\x01\x02\x03", "\x7f\x7f", "\x1b\x07\x08", "\x85\x9f"]


def stored_texts(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT content FROM messages ORDER BY id")]


# The HTTP worker: native /chat and /v1/chat/completions.

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
async def echo_worker(echo_settings: Settings) -> AsyncIterator[tuple[ChatService, str]]:
    """An open echo ChatService and the base URL of its HTTP app, as `atri worker` serves."""
    secrets = Secrets(admin_token=SecretStr(ADMIN_TOKEN))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        yield service, url


@pytest.mark.parametrize("text", CONTROLS_ONLY)
async def test_a_chat_of_control_characters_gets_the_empty_message_line(
    echo_worker: tuple[ChatService, str], text: str
) -> None:
    service, url = echo_worker
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
        said = {"platform": "y", "user_id": "c1", "text": text}
        answer = await http.post("/chat", json=said)
        nul = await http.post("/chat", json={**said, "text": "\x00"})
    assert answer.status_code == nul.status_code == 200
    assert answer.json()["text"] == nul.json()["text"] == service.lines.empty
    assert await service.memory.scopes() == []


async def test_control_characters_inside_a_message_are_not_stored(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    text = "hi\x01 there\x7f,\ta tab\x0bnext line\x1b[2J"
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
        answer = await http.post("/chat", json={"platform": "y", "user_id": "c1", "text": text})
    kept = "hi there,\ta tab\nnext line[2J"
    assert answer.json()["text"] == EchoEngine.prefix + kept
    stored = await service.memory.history("y:user:c1")
    assert [m.content for m in stored] == [kept, EchoEngine.prefix + kept]


async def test_v1_treats_a_message_of_control_characters_as_an_empty_one(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:

        async def ask(content: str) -> httpx.Response:
            body = {"messages": [{"role": "user", "content": content}], "user": "u"}
            return await http.post("/v1/chat/completions", json=body)

        controls, nul = await ask("\x01\x02"), await ask("\x00")
    assert controls.status_code == nul.status_code == 400
    assert controls.json() == nul.json()
    assert await service.memory.scopes() == []


@pytest.mark.parametrize("user", [" ", "\n", "\u200b", "\x01"])
async def test_a_v1_user_that_shows_nothing_is_anonymous(
    echo_worker: tuple[ChatService, str], user: str
) -> None:
    service, url = echo_worker
    body = {"messages": [{"role": "user", "content": "hello"}], "user": user}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == EchoEngine.prefix + "hello"
    assert await service.memory.scopes() == []  # as with "user": "": nothing stored


# The console, driven through stdin as a person's pipe would.


def chat_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\nengine = "echo"\n[memory]\npath = "chat.sqlite3"\n', encoding="utf-8"
    )
    return config


def test_the_console_sends_no_line_of_control_characters_and_reads_commands_without_them(
    tmp_path: Path,
) -> None:
    config = chat_config(tmp_path)
    lines = ["hello", *CONTROLS_ONLY, "/reset\x00", "/status\x01", "/quit"]
    done = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(EchoEngine.prefix) == 1  # "hello" alone was answered
    assert "Unknown command" not in done.stdout
    assert "Memory of this conversation is reset." in done.stdout
    assert "Engine echo, base model" in done.stdout
    assert stored_texts(tmp_path / "chat.sqlite3") == ["hello", EchoEngine.prefix + "hello"]


# Run in the child: `atri ARGS`, then its own peak memory (VmHWM, KiB), which starts
# again at exec. ru_maxrss from wait4 does not: a child starts with its parent's peak,
# pytest's 3 GB after thousands of tests, which hid a 1 GB read.
_ATRI_THEN_PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    print('VmHWM', status.split('VmHWM:')[1].split()[0], file=sys.stderr, flush=True)\n"
    "atexit.register(peak)\n"
    "from atri.__main__ import main\n"
    "main()\n"
)


def _peak_in(said: str) -> int:
    """The child's peak memory (KiB) that `_ATRI_THEN_PEAK` printed last."""
    (peak,) = [int(line.split()[1]) for line in said.splitlines() if line.startswith("VmHWM")]
    return peak


def _chat_reading(tmp_path: Path, first: bytes, times: int) -> tuple[str, int]:
    """`atri chat` reading `first` `times` over on one line, then "after": what it
    printed, and its own peak memory in KiB."""
    tmp_path.mkdir()
    config = chat_config(tmp_path)
    typed = tmp_path / "stdin.txt"
    with typed.open("wb") as stdin:
        for _ in range(times):
            stdin.write(first)
        stdin.write(b"\nafter\n/quit\n")
    with typed.open("rb") as given:
        chat = subprocess.run(
            [sys.executable, "-c", _ATRI_THEN_PEAK, "--config", str(config), "chat"],
            stdin=given,
            capture_output=True,
            cwd=tmp_path,
            env=ENV,
            timeout=120,
        )
    output = chat.stdout.decode("utf-8")
    assert chat.returncode == 0, output + chat.stderr.decode("utf-8")
    return output, _peak_in(chat.stderr.decode("utf-8"))


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/status is Linux's")
def test_the_console_reads_no_more_of_a_long_line_than_it_sends(tmp_path: Path) -> None:
    # The same message sent, from a line no longer than it.
    sent = b"a" * MAX_INPUT_CHARS
    short_said, short_peak = _chat_reading(tmp_path / "short", sent, 1)
    # 60 MB on one line, as a big file without line ends piped in.
    said, peak = _chat_reading(tmp_path / "long", sent, 15_000)
    assert said.count(CUT_NOTE) == 1
    assert EchoEngine.prefix + "after" in said and EchoEngine.prefix + "after" in short_said
    stored = [sent.decode(), EchoEngine.prefix + sent.decode(), "after"]
    assert stored_texts(tmp_path / "long" / "chat.sqlite3")[:3] == stored
    # Read whole, the line took a few times its 60 MB.
    assert peak - short_peak < 30_000, (short_peak, peak)


# `atri memory import`.


async def nothing(memory: Memory) -> None:
    pass


def test_memory_import_refuses_a_plain_file_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = memory_config(tmp_path, nothing)
    said = {"role": "user", "user_id": "42", "content": "x" * 2000, "created_at": 1.7e9}
    scope = {"scope": "qq:user:42", "messages": [said]}
    export = {"format": "atri-memory", "version": 9, "scopes": [scope]}
    file = tmp_path / "big.json"
    file.write_text(json.dumps(export), encoding="utf-8")
    assert atri(config, "memory", "import", str(file))[0] == 0  # under the real limit
    monkeypatch.setattr(memory_commands, "MAX_UNPACKED_EXPORT_BYTES", 1000)

    code, out = atri(config, "memory", "import", str(file))

    assert code != 0
    assert f"{file}: is over 1e-06 GB, the most `atri memory import` reads of one file" in out
    assert "Traceback" not in out


def _import_peak(tmp_path: Path, config: Path, file: str) -> tuple[int, str, int]:
    """`atri memory import FILE` in a child process: its exit code, output and own peak
    memory (KiB)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _ATRI_THEN_PEAK,
            "--config",
            str(config),
            "memory",
            "import",
            file,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV,
        timeout=120,
    )
    return done.returncode, " ".join((done.stdout + done.stderr).split()), _peak_in(done.stderr)


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/status is Linux's")
def test_memory_import_refuses_a_file_over_the_limit_before_reading_it(tmp_path: Path) -> None:
    """Its size says so: a 1.2 GB file was read to 1 GB of memory before its refusal."""
    config = memory_config(tmp_path, nothing)
    file = tmp_path / "huge.json"
    with open(file, "wb") as sparse:  # no disk used: a hole
        sparse.truncate(memory_commands.MAX_UNPACKED_EXPORT_BYTES + 1)
    code, said, peak = _import_peak(tmp_path, config, str(file))
    assert code != 0
    assert "the most `atri memory import` reads of one file" in said
    assert peak < 400_000  # KiB: the interpreter and its imports, no 1 GB read


def test_memory_import_refuses_a_device_in_one_sentence(tmp_path: Path) -> None:
    config = memory_config(tmp_path, nothing)
    code, out = atri(config, "memory", "import", "/dev/null")
    assert code != 0
    assert (
        "/dev/null: is a device, not a file; `atri memory import` reads an export saved as one."
        in out
    )


def test_memory_import_reads_a_gzipped_export_through_a_fifo(tmp_path: Path) -> None:
    """`atri memory import <(zcat backup.json.gz)`: a FIFO is read (bounded) as a file is,
    gzipped or not; it cannot seek."""
    config = memory_config(tmp_path, nothing)
    fifo = tmp_path / "export.fifo"
    os.mkfifo(fifo)
    packed = gzip.compress(json.dumps(big_backup(1, 4)).encode("utf-8"))

    def write() -> None:
        with open(fifo, "wb") as writer:
            writer.write(packed)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    done = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "memory", "import", str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=ENV,
    )
    writer.join(10)
    assert done.returncode == 0, done.stderr
    code, shown = atri(config, "memory", "show", "qq:user:0")
    assert code == 0 and "message 0 of 0" in shown
