"""Text going to and from Discord: mentions made harmless, replies cut to Discord's size.

Model output is untrusted: it may contain `@everyone` or a `<@id>` it saw in the
conversation. Everything ATRI sends goes through `outgoing_parts`, and the client also
sets `AllowedMentions.none()`, so a ping needs both defences to fail. A member can also
ask her to write Discord markup: a masked link (`[free Nitro](https://…)` hides where it
goes), a `# ` heading (also as a list item, `- # `), `-# ` small print or a `>>> ` quote
taking over the channel. Those are shown as the plain text they are; closed code blocks
stay as written (nothing renders there; an unclosed ``` renders nothing either, so what
follows it is defused like any text).
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

# [text](url), [text](<url>), [text](url "title"), [[text]](url), text over several lines,
# an address with parentheses in it (a Wikipedia page's): Discord shows only the text.
_MASKED_LINK = re.compile(
    r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?"
    r"([a-zA-Z][a-zA-Z0-9+.-]*://(?:[^\s()<>]|\([^\s()<>]*\))+)"
    r">?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
# Where a link's text would end and its address begin.
_LINK_HALVES = re.compile(r"\]\((?=\s*<?[a-zA-Z][a-zA-Z0-9+.-]*://)")
# At a line's start, or as a list item's first words (- # 标题): a heading (#, ##, ###),
# small print (-#), a block quote (>, >>>).
_MARKUP_AHEAD = r"(?=(?:(?:[-*+]|\d+[.)])[ \t]+)?(?:#{1,3}[ \t]|-#[ \t]|>))"
_LINE_MARKUP = re.compile(r"^([ \t]*)" + _MARKUP_AHEAD, re.MULTILINE)
_PART_START = re.compile(r"\A" + _MARKUP_AHEAD)
# Only a closed block is code to Discord: after an unclosed ``` markup still renders.
_FENCED = re.compile(r"(```.*?```)", re.DOTALL)

# Looks up a display name: (kind, id) → name, or None when unknown. kind is "user" or "role".
NameLookup = Callable[[str, int], str | None]


def _no_names(kind: str, ident: int) -> str | None:
    return None


def mentions_as_names(text: str, names: NameLookup = _no_names) -> str:
    """Turn user and role mentions (`<@id>`, `<@!id>`, `<@&id>`) into plain `@name` text."""

    def plain(match: re.Match[str]) -> str:
        kind = "role" if match.group(1) == "&" else "user"
        name = names(kind, int(match.group(2)))
        if not name:
            return f"@{ZERO_WIDTH_SPACE}{kind}"
        # A nickname written as a mention ("<@&123>") stays the text it is.
        return "@" + name.replace("<@", f"<{ZERO_WIDTH_SPACE}@")

    return _MENTION.sub(plain, text)


def neutralize_mentions(text: str, names: NameLookup = _no_names) -> str:
    """`mentions_as_names`, then `@everyone`/`@here` broken by a zero-width space."""
    # Last, so a member whose name is "everyone" cannot smuggle a ping through a name.
    return break_mass_mentions(mentions_as_names(text, names))


def break_mass_mentions(text: str) -> str:
    """`@everyone`/`@here` broken by a zero-width space, wherever they appear."""
    return _MASS_MENTION.sub("@" + ZERO_WIDTH_SPACE, text)


def _plain_markup(text: str) -> str:
    text = _MASKED_LINK.sub(lambda m: f"{m.group(1)} (<{m.group(2)}>)", text)
    # What spelling out left of a link nested in a link's text ("[[x](url)](url2)")
    # is broken where its two halves meet.
    text = _LINK_HALVES.sub("]" + ZERO_WIDTH_SPACE + "(", text)
    return _LINE_MARKUP.sub(lambda m: m.group(1) + ZERO_WIDTH_SPACE, text)


def defuse_markup(text: str) -> str:
    """Masked links spelt out (the text, then the real address, which shows no preview);
    headings, small print and block quotes as plain lines. Code blocks are left alone."""
    pieces = _FENCED.split(text)  # odd indexes: the fenced blocks
    return "".join(p if i % 2 else _plain_markup(p) for i, p in enumerate(pieces))


def outgoing_parts(text: str, names: NameLookup = _no_names) -> list[str]:
    """A reply ready to send: mentions neutralised, markup defused, split into messages
    Discord accepts."""
    # Mass mentions are broken after the markup is defused: spelling out a masked link
    # joins what was around it ("@[everyone](https://…)" reads "@everyone (…)").
    text = break_mass_mentions(defuse_markup(mentions_as_names(text, names)))
    # A part may start where a line did not ("好的。# 标题" split after "。"): one
    # character is kept free to defuse it.
    parts = split_message(text, MESSAGE_LIMIT - len(ZERO_WIDTH_SPACE))
    return [ZERO_WIDTH_SPACE + part if _PART_START.match(part) else part for part in parts]
