"""Session 68: `atri chat` in a terminal reads lines with readline's editing (arrow keys,
history, wide characters), and no key's escape code reaches her or her memory."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.console import _as_typed
from model.engines.echo import EchoEngine
from tests.bot.test_console import ENV, run_chat, write_config

HEARD = EchoEngine.prefix
LEFT, UP = "\x1b[D", "\x1b[A"
# Colours and cursor moves on the screen, left out of the text a person reads.
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _controlling_terminal() -> None:
    """In the chat's own session, its stdin becomes the terminal whose Ctrl-C stops it."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """The keyboard and screen of a terminal `atri chat` runs in."""

    def __init__(self, keyboard: int, chat: subprocess.Popen[bytes]) -> None:
        self.keyboard = keyboard
        self.chat = chat
        self.screen = b""

    def type(self, keys: str) -> None:
        for key in keys:  # one key at a time, as a person types
            os.write(self.keyboard, key.encode())
            time.sleep(0.02)

    def text(self) -> str:
        return CONTROL.sub("", self.screen.decode("utf-8", "replace"))

    def read_until(self, text: str, timeout: float = 30) -> str:
        """The screen's text so far, once `text` shows on it."""
        end = time.monotonic() + timeout
        while text not in self.text() and time.monotonic() < end:
            if select.select([self.keyboard], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.keyboard, 65536)
                except OSError:  # the chat ended and closed the terminal
                    break
        assert text in self.text(), self.text()
        return self.text()

    def heard(self, count: int) -> str:
        """The screen once she has answered `count` messages."""
        end = time.monotonic() + 30
        while self.text().count(HEARD) < count:
            assert time.monotonic() < end, self.text()
            self.read_until(HEARD)
            if select.select([self.keyboard], [], [], 0.1)[0]:
                self.screen += os.read(self.keyboard, 65536)
        time.sleep(0.5)  # her reply shown, a person waits for the prompt after it
        return self.text()


@contextmanager
def chat_in_a_terminal(tmp_path: Path) -> Iterator[tuple[Terminal, int]]:
    """`atri chat` on the echo engine with a terminal for stdin, stdout and stderr, as a
    person runs it, once it waits at its prompt; and the terminal's own end, whose
    settings outlive the chat."""
    config = write_config(tmp_path)
    keyboard, terminal = pty.openpty()
    chat = subprocess.Popen(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=tmp_path,
        start_new_session=True,
        preexec_fn=_controlling_terminal,
        env={**ENV, "COLUMNS": "200", "TERM": "xterm", "LC_ALL": "C.UTF-8"},
    )
    try:
        screen = Terminal(keyboard, chat)
        screen.read_until("begins with a slash.")
        screen.read_until("夏生")  # her greeting, then the prompt
        time.sleep(0.5)
        yield screen, terminal
    finally:
        chat.kill()
        chat.wait()
        os.close(keyboard)
        os.close(terminal)


def replies(screen: str) -> list[str]:
    return [part.split("\r\n")[0] for part in screen.split(HEARD)[1:]]


def test_arrow_keys_history_and_wide_characters_edit_the_line(tmp_path: Path) -> None:
    with chat_in_a_terminal(tmp_path) as (screen, _):
        screen.type(f"abc{LEFT}{LEFT}X\r")
        screen.heard(1)
        screen.type(f"{UP}\r")  # the line before, again
        screen.heard(2)
        screen.type("你好亚托莉\x7f\x7f莉莉\r")
        screen.heard(3)
        screen.type("/history\r")
        screen.read_until("/history")
        time.sleep(0.5)
        screen.type("\x04")  # Ctrl-D
        shown = screen.read_until("Bye!")
        assert screen.chat.wait(timeout=15) == 0
    chat, history = shown.split("夏生: /history")
    assert replies(chat) == ["aXbc", "aXbc", "你好亚莉莉"], shown
    assert history.count("夏生: aXbc") == 2 and "夏生: 你好亚莉莉" in history, history
    assert "\x1b[D" not in history and "abcX" not in history, history


def test_ctrl_c_while_typing_stops_and_gives_the_terminal_back(tmp_path: Path) -> None:
    with chat_in_a_terminal(tmp_path) as (screen, terminal):
        screen.type("half typed\x03")
        screen.read_until("Stopped (Ctrl-C).")
        assert screen.chat.wait(timeout=15) == 130
        settings = termios.tcgetattr(terminal)
    # Left in readline's mode, the shell after it showed nothing typed.
    assert settings[3] & termios.ECHO and settings[3] & termios.ICANON


def test_lines_pasted_at_once_in_a_terminal_are_one_message(tmp_path: Path) -> None:
    with chat_in_a_terminal(tmp_path) as (screen, _):
        os.write(screen.keyboard, "第一行\n第二行\n第三行\n".encode())
        screen.heard(1)
        time.sleep(1)  # any other message would have come by now
        screen.type("/quit\r")
        shown = screen.read_until("Bye!")
    assert shown.count(HEARD) == 1, shown
    assert "第三行" in shown.split(HEARD)[1], shown


def test_a_byte_that_is_not_text_at_a_terminal_is_replaced_and_said(tmp_path: Path) -> None:
    with chat_in_a_terminal(tmp_path) as (screen, _):
        os.write(screen.keyboard, b"caf\xff ok\r")
        shown = screen.heard(1)
        screen.type("/quit\r")
    assert "caf\ufffd ok" in replies(shown)[0], shown
    assert "not utf-8 text" in shown, shown


def test_escape_codes_in_piped_lines_are_not_sent(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run_chat(config, [f"abc{LEFT}{LEFT}X\x1bOA\x1bx!\x1b", "/history", "/quit"])
    assert result.returncode == 0, result.stderr
    assert HEARD + "abcX!" in result.stdout and "夏生: abcX!" in result.stdout, result.stdout
    assert "\x1b" not in result.stdout, result.stdout


def test_every_kind_of_key_escape_is_taken_out() -> None:
    typed = "a\x1b[1;5Cb\x1b[15~c\x1bOPd\x1b\x1bxe\x1b[?2004hf\x1b"
    assert _as_typed(typed, cut=False).text == "abcdef"
