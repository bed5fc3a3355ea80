"""Text going to and from Discord: mentions made harmless, replies cut to Discord's size.

Model output is untrusted: it may contain `@everyone` or a `<@id>` it saw in the
conversation. Everything ATRI sends goes through `outgoing_parts`, and the client also
sets `AllowedMentions.none()`, so a ping needs both defences to fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.splitting import split_message

MESSAGE_LIMIT = 2000
ZERO_WIDTH_SPACE = "\u200b"

# <@123> and <@!123> are users, <@&123> roles; <#123> channels never ping, so they stay.
_MENTION = re.compile(r"<@([!&]?)(\d{1,20})>")
# Discord pings for "@everyone"/"@here" wherever they appear, even inside a word.
_MASS_MENTION = re.compile(r"@(?=everyone|here)", re.IGNORECASE)

# Looks up a display name: (kind, id) → name, or None when unknown. kind is "user" or "role".
NameLookup = Callable[[str, int], str | None]


def _no_names(kind: str, ident: int) -> str | None:
    return None


def mentions_as_names(text: str, names: NameLookup = _no_names) -> str:
    """Turn user and role mentions (`<@id>`, `<@!id>`, `<@&id>`) into plain `@name` text."""

    def plain(match: re.Match[str]) -> str:
        kind = "role" if match.group(1) == "&" else "user"
        name = names(kind, int(match.group(2)))
        return f"@{name}" if name else f"@{ZERO_WIDTH_SPACE}{kind}"

    return _MENTION.sub(plain, text)


def neutralize_mentions(text: str, names: NameLookup = _no_names) -> str:
    """`mentions_as_names`, then `@everyone`/`@here` broken by a zero-width space."""
    text = mentions_as_names(text, names)
    # Last, so a member whose name is "everyone" cannot smuggle a ping through a name.
    return _MASS_MENTION.sub("@" + ZERO_WIDTH_SPACE, text)


def outgoing_parts(text: str, names: NameLookup = _no_names) -> list[str]:
    """A reply ready to send: mentions neutralised, split into messages Discord accepts."""
    return split_message(neutralize_mentions(text, names), MESSAGE_LIMIT)


def clean_incoming(text: str) -> str:
    """Drop what cannot be stored or shown: lone surrogates and NUL characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "")
