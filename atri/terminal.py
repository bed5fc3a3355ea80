"""Text from outside (a reply, a name, memory) printed on a terminal."""

from __future__ import annotations

import re

# Control characters other than newline and tab (C0, DEL, C1): in stored or generated
# text they would be terminal commands (ESC c resets the terminal, OSC sets its title or
# clipboard), and rich passes ESC and the C1 codes through even with markup off.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without the control characters a terminal would act on."""
    return _CONTROLS.sub("", text)


def waking_line(name: str) -> str:
    """What a command says while the model loads: the configured character wakes up."""
    return f"Waking {printable(name)} up (loading the model)…"


def counted(n: int, noun: str) -> str:
    """ "1 probe", "2 probes": a count and its noun, as a person writes them."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
