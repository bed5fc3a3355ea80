"""Text from outside (a reply, a name, memory) printed on a terminal."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.logging import RichHandler

from model.protocol import CONTROL_CHARACTERS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

# Control characters other than newline and tab (C0, DEL, C1): in stored or generated
# text they would be terminal commands (ESC c resets the terminal, OSC sets its title or
# clipboard), and rich passes ESC and the C1 codes through even with markup off. And the
# bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): invisible, they
# turn the rest of the line around on a bidi terminal ("rtl \u202eevil.exe txt"). Dropped,
# not escaped: a reader has no use for a "\u202e" in a chat line, as for an ESC. Arabic and
# Hebrew letters order themselves; the marks U+200E, U+200F and U+061C, which only place
# the punctuation beside them, stay, as do the joiners emoji are drawn with.
_CONTROLS = re.compile(f"[{CONTROL_CHARACTERS}\u202a-\u202e\u2066-\u2069]")


def spinner_for(console: Console) -> str:
    """A spinner the terminal can show: rich's "dots" are braille, which a GBK or ASCII
    terminal cannot encode (the status's first frame raised UnicodeEncodeError and left
    the chat hung at start); "line" is ASCII."""
    encoding = (console.encoding or "").lower().replace("-", "").replace("_", "")
    return "dots" if encoding.startswith("utf") else "line"


# The RichHandlers a spinner re-pointed (`spinning`): each one's own console, then the
# consoles of the spinners turning, the latest last. Two spinners may overlap without
# nesting (the first ends while the second turns): the handler goes to the spinner still
# turning, and to its own console once none is.
_lent_handlers: dict[RichHandler, list[Console]] = {}


@contextlib.contextmanager
def spinning(console: Console, text: str) -> Iterator[Status]:
    """`console.status(text)` (`spinner_for`), with what is logged meanwhile shown above
    the spinner. rich's log handler prints to a console of its own (stderr), and rich
    routes no other console's writes through a spinner: a log line began at the
    spinner's column, broke over lines, and left the spinner's text on screen ("Waking
    ATRI up…[12/07/26 20:58:52] INFO adapter reload job…"). While it turns, a handler
    that prints to the same terminal prints through the spinner's console."""
    moved = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, RichHandler) and _same_terminal(handler.console.file, console.file)
    ]
    with console.status(text, spinner=spinner_for(console)) as status:
        for handler in moved:
            _lent_handlers.setdefault(handler, [handler.console]).append(console)
            handler.console = console
        try:
            yield status
        finally:
            for handler in moved:
                consoles = _lent_handlers[handler]
                consoles.remove(console)  # this spinner's, wherever it is in the list
                handler.console = consoles[-1]
                if len(consoles) == 1:
                    del _lent_handlers[handler]


def _same_terminal(one: IO[str] | Any, other: IO[str] | Any) -> bool:
    """Whether two streams write to the same terminal (stdout and stderr of a shell)."""
    try:
        return one.isatty() and os.path.samestat(os.fstat(one.fileno()), os.fstat(other.fileno()))
    except (AttributeError, OSError, ValueError):  # no descriptor (a StringIO), closed
        return False


def printable(text: str) -> str:
    """`text` without the control characters a terminal would act on, nor the bidi
    controls that would reverse the rest of its line."""
    return _CONTROLS.sub("", text)


# What `shown` writes for a character that does not print as itself, read back by `typed`.
_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")


def shown(key: str) -> str:
    """A key (a memory scope) on one line, as it can be typed back (`typed`): a backslash
    doubled, each character that does not print as itself (a control, a format
    character such as a direction override, a line separator) as `\\xNN`, `\\uNNNN` or
    `\\UNNNNNNNN`. `printable` would drop them, and a key typed as shown named another."""
    out = []
    for ch in key:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def typed(key: str) -> str:
    """A key as a person typed it after `shown`: its escapes read back. A backslash that
    begins none of them stays as it is."""

    def one(match: re.Match[str]) -> str:
        escape = match[1]
        if escape == "\\":
            return escape
        code = int(escape[1:], 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:  # names no character
            return match[0]
        return chr(code)

    return _ESCAPE.sub(one, key)


def waking_line(name: str, engine: str = "local") -> str:
    """What a command says while the model loads: the configured character wakes up. The
    echo engine loads none; the openai one reaches its server."""
    doing = {"echo": "no model to load: echo engine", "openai": "reaching the model server"}
    return f"Waking {printable(name)} up ({doing.get(engine, 'loading the model')})…"


def counted(n: int, noun: str) -> str:
    """ "1 probe", "2 probes": a count and its noun, as a person writes them."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def suggested_command(config_file: str | Path | None, *args: str | Path) -> str:
    """`atri [--config X] ARGS…` as a sentence suggests it, to be pasted into a shell:
    each argument quoted (a folder named `我的 ATRI 项目` or `it's` is one argument), and
    `--config` with the absolute path of `config_file`, so it runs under the config that
    said it from any folder ("" or None: none, as under the built-in defaults). Pure, so
    that model/ can say it with the config path its settings carry."""
    config = ["--config", os.path.abspath(config_file)] if config_file else []
    return shlex.join(["atri", *config, *(str(arg) for arg in args)])
