"""Text going to and from Discord: mentions made harmless, replies cut to Discord's size.

Model output is untrusted: it may contain `@everyone` or a `<@id>` it saw in the
conversation. Everything ATRI sends goes through `outgoing_parts`, and the client also
sets `AllowedMentions.none()`, so a ping needs both defences to fail. A member can also
ask her to write Discord markup: a masked link (`[free Nitro](https://…)` hides where it
goes), a `# ` heading (also as a list item, `- # `), `-# ` small print or a `>>> ` quote
taking over the channel. Those are shown as the plain text they are, except inside a
code block, which stays as written (nothing renders there); but only a block Discord
surely shows as one (`code_blocks`): its backticks are paired as Discord pairs them
(```` `` ``` `` ```` is inline code, not a fence), and after an unclosed ```, or where
Discord's rules may pair them otherwise, the rest of the reply is defused like any text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from bot.lines import spoken_language
from bot.splitting import WEB_ADDRESS, split_message
from model.protocol import first_visible_name

MESSAGE_LIMIT = 2000
ZERO_WIDTH_SPACE = "\u200b"

# <@123> and <@!123> are users, <@&123> roles; <#123> channels never ping, so they stay.
_MENTION = re.compile(r"<@([!&]?)(\d{1,20})>")
# "@everyone"/"@here" as Discord's markdown may read them: even inside a word ("x@here"),
# but not inside code, a link or an email address, where nothing is read as a mention
# (and `AllowedMentions.none()` stops a ping anyway).
_MASS_MENTION = re.compile(r"@(?=everyone|here)", re.IGNORECASE)

# [text](url), [text](<url>), [text](url "title"), [[text]](url), text over several lines,
# an address with parentheses in it (a Wikipedia page's): Discord shows only the text.
_MASKED_LINK = re.compile(
    r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?"
    r"([a-zA-Z][a-zA-Z0-9+.-]*://(?:[^\s()<>]|\([^\s()<>]*\))+)"
    r">?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
# Where a link's text would end and its address begin: any address with a scheme, also
# one `_MASKED_LINK` does not spell out. Discord's markdown (simple-markdown's link rule)
# drops a backslash before a symbol, and a browser's URL parser reads "https:evil.example"
# or "https:/evil.example" as https://evil.example, so "[x](https:\/\/evil.example)" and
# "[x](https:evil.example)" may still hide where they go.
_LINK_HALVES = re.compile(r"\]\((?=\s*<?[a-zA-Z][a-zA-Z0-9+.\\-]*:)")
# At a line's start, or as a list item's first words (- # 标题): a heading (#, ##, ###),
# small print (-#), a block quote (>, >>>).
_MARKUP_AHEAD = r"(?=(?:(?:[-*+]|\d+[.)])[ \t]+)?(?:#{1,3}[ \t]|-#[ \t]|>))"
_LINE_MARKUP = re.compile(r"^([ \t]*)" + _MARKUP_AHEAD, re.MULTILINE)
_PART_START = re.compile(r"\A" + _MARKUP_AHEAD)

FENCE = "```"
_BACKTICKS = re.compile(r"`+")
# A block's first line when it may be read as the block's language: the block is code
# only with more than blanks after it. (Discord's desktop rule takes the fence closing
# "```py\n```" as the block's content when another ``` follows; its Android one also
# takes blanks after the name.)
_LANGUAGE_LINE = re.compile(r"[\w+\-.#]+[ \t\r\f\v]*\n", re.ASCII)
# Emphasis that Discord tries before code at each position, so that it may open before a
# code span and close inside it: * or ** anywhere, ~~, ||, __, and _ where it may start
# a word; as what would end each (any * or _ may end one).
_OPENERS = re.compile(r"\*|~~|\|\||__|(?<![A-Za-z0-9_])_")
_CLOSER = {"*": "*", "_": "_", "__": "_", "~~": "~~", "||": "||"}
# Before a span on its line, what takes the line as one item (a list item, a heading,
# small print, a quote) and so cuts a span that runs past the line's end.
_TAKES_THE_LINE = re.compile(r"(?:#|[-*+]|\d[.)])[ \t]|>")

# Markup a member's client shows as something else (Discord's "Message Formatting"):
# a custom emoji <:name:id> or <a:name:id>, a channel <#id>, a timestamp <t:unix> or
# <t:unix:style>, a slash command </name sub:id>.
_SHOWN_OTHERWISE = re.compile(
    r"<a?:(?P<emoji>\w{2,32}):\d{1,20}>"
    r"|<#(?P<channel>\d{1,20})>"
    r"|<t:(?P<time>-?\d{1,13})(?::(?P<style>[tTdDfFsSR]))?>"
    r"|</(?P<command>[-\w]{1,32}(?: [-\w]{1,32}){0,2}):\d{1,20}>"
)
# Timestamp styles that show a date only.
_DATE_STYLES = frozenset("dD")

# Looks up a display name: (kind, id) → name, or None when unknown. kind is "user",
# "role" or "channel".
NameLookup = Callable[[str, int], str | None]


def _no_names(kind: str, ident: int) -> str | None:
    return None


# What stands for a user, role or channel no lookup names, in the language she is served
# in: English words in a Chinese prompt (and her replies) read as noise. Chinese for any
# other language, as `bot.lines` does.
_UNKNOWN = {
    "zh": {"user": "某人", "role": "某个身份组", "channel": "某个频道"},
    "en": {"user": "user", "role": "role", "channel": "channel"},
    "ja": {"user": "誰か", "role": "あるロール", "channel": "あるチャンネル"},
}


def _unknown(kind: str) -> str:
    return _UNKNOWN.get(spoken_language(), _UNKNOWN["zh"])[kind]


def mentions_as_names(text: str, names: NameLookup = _no_names) -> str:
    """Turn user and role mentions (`<@id>`, `<@!id>`, `<@&id>`) into plain `@name` text."""

    def plain(match: re.Match[str]) -> str:
        kind = "role" if match.group(1) == "&" else "user"
        # Without invisible controls; one that shows nothing is as unknown.
        name = first_visible_name(names(kind, int(match.group(2))))
        if not name:
            return f"@{ZERO_WIDTH_SPACE}{_unknown(kind)}"
        # A nickname written as a mention ("<@&123>") stays the text it is. The
        # server's own role is named "@everyone": one "@" before it, not two.
        return "@" + name.removeprefix("@").replace("<@", f"<{ZERO_WIDTH_SPACE}@")

    return _MENTION.sub(plain, text)


def markup_as_text(text: str, names: NameLookup = _no_names) -> str:
    """What a member said as they see it, for the model: mentions as `@name`, a custom
    emoji as `:name:`, a channel as `#name` ("#某个频道" when unknown), a slash command as
    `/name sub`, and a timestamp as an absolute UTC date and time. A person's client shows
    it in their own time zone, and style R as "in 3 days"; neither is known here, and a
    relative time stored in her memory would turn false, so the model is told when."""

    def shown(match: re.Match[str]) -> str:
        if match["emoji"]:
            return f":{match['emoji']}:"
        if match["channel"]:
            channel = names("channel", int(match["channel"]))
            return "#" + first_visible_name(channel, fallback=_unknown("channel"))
        if match["command"]:
            return "/" + match["command"]
        return _utc_time(int(match["time"]), match["style"]) or match.group()

    return mentions_as_names(_SHOWN_OTHERWISE.sub(shown, text), names)


def _utc_time(seconds: int, style: str | None) -> str | None:
    """A timestamp as a date (and time) in UTC; None for one no calendar holds."""
    try:
        when = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return when.strftime("%Y-%m-%d" if style in _DATE_STYLES else "%Y-%m-%d %H:%M UTC")


def break_mass_mentions(text: str, code: bool = True) -> str:
    """`@everyone`/`@here` broken by a zero-width space where they could show as a
    mention: not in a link or an email address, nor, with `code`, in code Discord surely
    shows as code (`code_spans`)."""
    kept = [m.span() for m in WEB_ADDRESS.finditer(text)]
    if code:
        kept += code_spans(text)

    def broken(match: re.Match[str]) -> str:
        inside = any(start < match.start() < end for start, end in kept)
        return "@" if inside else "@" + ZERO_WIDTH_SPACE

    return _MASS_MENTION.sub(broken, text)


def _plain_links(text: str) -> str:
    text = _MASKED_LINK.sub(lambda m: f"{m.group(1)} (<{m.group(2)}>)", text)
    # What spelling out left of a link nested in a link's text ("[[x](url)](url2)")
    # is broken where its two halves meet.
    return _LINK_HALVES.sub("]" + ZERO_WIDTH_SPACE + "(", text)


def _plain_lines(text: str) -> str:
    return _LINE_MARKUP.sub(lambda m: m.group(1) + ZERO_WIDTH_SPACE, text)


def code_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each code block Discord surely shows as code, in order."""
    return [(start, end) for start, end in code_spans(text) if text.startswith(FENCE, start)]


def code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each code block and inline code span Discord surely shows as code.

    Discord reads a message left to right, trying its rules in turn at each position:
    an escape, emphasis, a code block (``` to the next ```), inline code (` or `` to the
    next run of as many), a link, a line's rules. Backticks are paired that way here
    while every reading of those rules (its desktop and Android clients differ) pairs
    them alike, and nothing opened before a span may end inside it. From the first span
    where that is not sure, nothing more is taken for code."""
    blocks: list[tuple[int, int]] = []
    closers: set[str] = set()  # what would end the emphasis that may be open so far
    # A "[" outside code that no masked link spelt out takes away: a link's text may run
    # on from it into a span, up to a "](https://" at or after the span's start.
    link_open = False
    last_link_half = max((m.start() for m in _LINK_HALVES.finditer(text)), default=-1)
    read = 0  # the text outside code is read up to here
    while (run := _BACKTICKS.search(text, read)) is not None:
        start, ticks = run.start(), len(run.group())
        closers.update(_CLOSER[m.group()] for m in _OPENERS.finditer(text, read, start))
        link_open = link_open or "[" in _plain_links(text[read:start])
        if start and text[start - 1] == "\\":
            break  # an escaped backtick: whether the backslash is read as one decides
        if ticks >= len(FENCE):
            close = text.find(FENCE, start + len(FENCE))
            if close < 0:
                break  # an unclosed fence: no block here, and no fence after it
            content = text[start + len(FENCE) : close]
            language = _LANGUAGE_LINE.match(content)
            if not content[language.end() if language else 0 :].strip():
                break  # readings differ on where such a block ends
            end = close + len(FENCE)
        else:
            after = _BACKTICKS.search(text, run.end())
            # `` holds single backticks: every reading ends it at the next run of two.
            while after is not None and ticks == 2 and len(after.group()) == 1:
                after = _BACKTICKS.search(text, after.end())
            if after is None:
                break  # lone backticks, and none after them to close them
            if len(after.group()) != ticks:
                break  # readings differ on which runs pair
            end = after.end()
        span = text[start:end]
        if any(closer in span for closer in closers):
            break  # emphasis opened before it may end inside it
        if link_open and last_link_half >= start:
            break  # so may a masked link's
        words = text[read:start].rsplit(maxsplit=1)
        if words and not text[start - 1].isspace() and ("://" in words[-1] or "<" in words[-1]):
            break  # an address (a link's, or <…>) may run on into it
        if "\n" in span:
            line = text[text.rfind("\n", 0, start) + 1 : start]
            if _TAKES_THE_LINE.search(line) or line[:1] in (" ", "\t"):
                break  # a list item (or its indented next line), heading or quote cuts it
        blocks.append((start, end))
        read = end
    return blocks


def defuse_markup(text: str) -> str:
    """Masked links spelt out (the text, then the real address, which shows no preview);
    headings, small print and block quotes as plain lines. Code blocks Discord surely
    shows are left alone."""
    out = []
    read = 0
    for start, end in code_blocks(text):
        out += [_plain_lines(_plain_links(text[read:start])), text[start:end]]
        read = end
    out.append(_plain_lines(_plain_links(text[read:])))
    return "".join(out)


def _defuse_all(text: str) -> str:
    """`defuse_markup` taking nothing for code: the text after every ``` is read as a
    line's start too, whatever Discord pairs."""
    pieces = _plain_links(text).split(FENCE)
    return FENCE.join(_plain_lines(piece) for piece in pieces)


def _parts(text: str, code: bool = True) -> list[str]:
    # Mass mentions are broken after the markup is defused: spelling out a masked link
    # joins what was around it ("@[everyone](https://…)" reads "@everyone (…)").
    text = break_mass_mentions(text, code)
    # A part may start where a line did not ("好的。# 标题" split after "。"): it is
    # defused by a character in front, so where such a part fills a message, one
    # character is kept free in each.
    for limit in (MESSAGE_LIMIT, MESSAGE_LIMIT - len(ZERO_WIDTH_SPACE)):
        parts = split_message(text, limit, markup=True)
        parts = [ZERO_WIDTH_SPACE + part if _PART_START.match(part) else part for part in parts]
        if all(len(part) <= MESSAGE_LIMIT for part in parts):
            break
    return parts


def outgoing_parts(text: str, names: NameLookup = _no_names) -> list[str]:
    """A reply ready to send: mentions neutralised, markup defused, split into messages
    Discord accepts."""
    text = mentions_as_names(text, names)
    parts = _parts(defuse_markup(text))
    # Discord reads each part alone: one may pair backticks otherwise than the whole
    # reply did (a long block cut in two, a part starting with a list item's "- ").
    # Then nothing is left alone as code.
    if any(defuse_markup(part) != part or break_mass_mentions(part) != part for part in parts):
        parts = _parts(_defuse_all(text), code=False)
    return parts
