"""Script formats: detect which one a file is in, and parse it into utterances."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import PurePath

from dataprep.formats import (
    artemis,
    custom_regex,
    kirikiri,
    message_json,
    naninovel,
    onscripter,
    plain,
    renpy,
    rpgmaker,
    table,
    translation_dump,
    voice_list,
    webgal,
)
from dataprep.formats.common import ParseOptions, compile_markers
from dataprep.records import Utterance

Parser = Callable[[str, str, ParseOptions], list[Utterance]]

PARSERS: dict[str, Parser] = {
    "plain": plain.parse,
    "kirikiri": kirikiri.parse,
    "renpy": renpy.parse,
    "voice_list": voice_list.parse,
    "regex": custom_regex.parse,
    "translation_dump": translation_dump.parse,
    "json": message_json.parse,
    "naninovel": naninovel.parse,
    "rpgmaker": rpgmaker.parse,
    "csv": table.parse,
    "webgal": webgal.parse,
    "onscripter": onscripter.parse,
    "artemis": artemis.parse,
}
FORMAT_NAMES = tuple(PARSERS)

# Sniffing looks at the head of the file (and, where that reads as plain, past it: `_deeper`);
# these are cheap signatures.
_SNIFF_CHARS = 32 * 1024
# KAG's signs, by kind. A label is a whole line (`*start`, `*scene1|タイトル`): prose's
# `*rumble, rumble*` and `*boom*` are none. `@command` lines with `key:value` arguments
# (`@back Desert time:1`) are Naninovel's, not KAG's (`@bg storage=x`): where they are and
# no real tag (`[p]`, `[nm …]`) is, no `@` line counts.
_KAG_SIGNS = re.compile(
    r"(?P<tag>\[(?:p|l|r|np|wvl|cm)\]|^\[nm\b)|(?P<keyed>^@\w+[^\n]*?\w:[^\s])"
    r"|(?P<command>^@\w+)"
    r"|(?P<label>^\*\w+(?:\|[^\n]*)?$)|(?P<name>^#\S*$)",
    re.M,
)
_KAG_SHOWN = {
    "tag": "[p]/[l]/[r]/[nm] tags",
    "command": "@command lines",
    "label": "*label lines",
    "name": "#name lines",
}
# Each line's own indent only: `^\s*` read from each line's start on over all the blank
# lines below it (32 KiB of them took seconds a window, and a file is sniffed in up to
# nine windows).
_RENPY_SIGNS = re.compile(
    r"^[^\S\n]*+(?:define\s+\w+\s*=\s*\w*Character\s*\(|label\s+\w+.*:|translate\s+\w+\s+\w+:)",
    re.M,
)


# The formats an extension names, each as the reason gives it.
_NAMED_FORMATS = {
    ".ks": "kirikiri",
    ".bkscr": "kirikiri",  # BKEngine's .bkscr is KAG-like
    ".rpy": "renpy",
    ".nani": "naninovel",
    ".ast": "artemis",
}


def _head_lines(text: str) -> list[str]:
    """The non-blank lines of a file's start, which sniffing looks at."""
    return [line for line in text[:_SNIFF_CHARS].splitlines()[:400] if line.strip()]


def detect_format(text: str, filename: str, has_custom_regex: bool = False) -> str:
    """Pick a parser from the extension, then from what the first lines look like."""
    return detect_format_at(text, filename, has_custom_regex)[0]


def detect_format_why(text: str, filename: str, has_custom_regex: bool = False) -> tuple[str, str]:
    """`detect_format`'s answer, and why: the signs it saw (`from the name` for an
    extension, "" for plain, which is what a file without signs is read as)."""
    fmt, why, _ = detect_format_at(text, filename, has_custom_regex)
    return fmt, why


def detect_format_at(
    text: str, filename: str, has_custom_regex: bool = False
) -> tuple[str, str, int]:
    """`detect_format_why`'s answer, and where in `text` the lines it was told from start:
    0, or the first line of another format's signs below a header that filled the first
    lines (`_deeper`)."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in _NAMED_FORMATS:
        # A tool's dump of a script may keep the script's name (`[0x…]原文` lines saved as
        # `01.ks`): its lines are then mostly marked, which no script of these engines has
        # and none of their formats reads (KAG glues them into one line of narration).
        dump = translation_dump.signs(_head_lines(text))
        if dump is not None:
            return "translation_dump", f"{dump}, not {_NAMED_FORMATS[suffix]} as its name says", 0
        return _NAMED_FORMATS[suffix], "from the name", 0
    if suffix == ".json" and rpgmaker.is_event_data(text):
        return "rpgmaker", "it holds RPG Maker event commands", 0
    # Any .json is read as a message list: one that is not (a config, a dataset) is
    # skipped with the reason, never read as lines of another format.
    if suffix == ".json":
        return "json", "from the name", 0
    if message_json.SIGNATURE.match(text):
        return "json", "it starts as a JSON list", 0
    if artemis.SIGNATURE.match(text):
        return "artemis", "it starts as an Artemis script (astver = …, ast = {…})", 0
    fmt, why = _sniff(text[:_SNIFF_CHARS], suffix, filename, has_custom_regex)
    if fmt == "plain" and (deeper := _deeper(text, suffix, filename, has_custom_regex)):
        return deeper
    return fmt, why, 0


def header_lines(text: str, fmt: str, start: int = 0) -> int:
    """How many of the file's lines are above where its lines in `fmt` start: a dump's
    header or translator's notes above its pairs (which its parser reads as no one's),
    else those above `start`, where `detect_format_at` found the signs of `fmt` below a
    header."""
    if fmt == "translation_dump":
        start = translation_dump.pairs_start(text)
    return text.count("\n", 0, start)


# Past the first lines, how far sniffing looks for another format's signs (characters): a
# translator's notes or a tool's header above a dump's pairs fill the first lines, and
# are far shorter than this. A plain script pays one regex search over this much (about 4
# ms a million characters).
_DEEP_CHARS = 1_000_000
# How many lines of those signs are sniffed from, each a window as the first lines are:
# the first may be an example quoted in the notes.
_DEEP_TRIES = 8
# The fewest non-blank lines a window past the first lines is told from: a lone marked
# line ending a plain script (`★1★`) is no dump.
_DEEP_LEAST_LINES = 3
# A line that only another format's script holds, past the first line: a dump's marked
# line (`○000012○`, `[0x…]`, `;[0x…]`), a Ren'Py define/label/translate, or a line that
# starts with a KAG tag. The `\n` first makes the search skip to each line end at C speed.
_STRONG_SIGN = re.compile(
    r"\n[^\S\n]*+(?:"
    + translation_dump.MARKED_START
    + r"|define\s+\w+\s*=\s*\w*Character\s*\(|label\s+\w+[^\n]*:|translate\s+\w+\s+\w+:"
    + r"|\[(?:nm|cm|p|l|r|np|wvl)\b)"
)


def _deeper(
    text: str, suffix: str, filename: str, has_custom_regex: bool
) -> tuple[str, str, int] | None:
    """(format, why, start) for a file whose first lines read as plain, where the lines
    from one of another format's strong signs (`_STRONG_SIGN`) on are told as another
    format: a dump's pairs below a header longer than the first lines, say. None where
    none are."""
    end = min(len(text), _DEEP_CHARS)
    at = 0
    for _ in range(_DEEP_TRIES):
        found = _STRONG_SIGN.search(text, at, end)
        if found is None:
            return None
        start = found.start() + 1
        window = text[start : start + _SNIFF_CHARS]
        if len(_head_lines(window)) < _DEEP_LEAST_LINES:
            return None  # the file's last lines
        fmt, why = _sniff(window, suffix, filename, has_custom_regex)
        if fmt != "plain":
            line = text.count("\n", 0, start) + 1
            return fmt, f"{why}, from line {line} on, below a header", start
        at = found.end()
    return None


def _sniff(head: str, suffix: str, filename: str, has_custom_regex: bool) -> tuple[str, str]:
    """The format the lines of `head` (a file's first `_SNIFF_CHARS`) look like, and why."""
    lines = _head_lines(head)
    # `○000012○原文` / `●000012●译文` pairs: unmistakable, so before a custom regex, which
    # would read the marks as part of the speaker.
    if lines and (dump := translation_dump.signs(lines)) is not None:
        return "translation_dump", dump
    # A .csv or .tsv is a spreadsheet's table, unless its lines are a voice list's
    # (`path|speaker|lang|text`, which some tools save as .csv).
    voiced = _voice_list_why(lines)
    if suffix in table.SUFFIXES:
        return voiced or ("csv", "from the name")
    if has_custom_regex:
        return "regex", "custom_regex is set"
    if voiced:
        return voiced
    if ons := _onscripter_why(lines, filename):
        return ons
    # A WebGAL scene is a .txt file of `command:content;` statements.
    webgal_why = webgal.signs(lines) if suffix == ".txt" else None
    if webgal_why:
        return "webgal", webgal_why
    renpy_signs = len(_RENPY_SIGNS.findall(head))
    if renpy_signs >= 2:
        return "renpy", f"{renpy_signs} Ren'Py define/label/translate lines"
    kag = Counter(m.lastgroup for m in _KAG_SIGNS.finditer(head))
    keyed = kag.pop("keyed", 0)
    if keyed and not kag["tag"]:
        del kag["command"]
    elif keyed:
        kag["command"] += keyed
    if kag.total() >= 3:
        seen = ", ".join(f"{n} {_KAG_SHOWN[kind]}" for kind, n in kag.most_common() if kind)
        return "kirikiri", f"KAG signs in its first lines: {seen}"
    return "plain", ""


# ONScripter's signs: `*define` and `game` (where its script's definitions end), text lines
# ending in a page end `\` or a click wait `@`, and lines of its commands (`bg "a.jpg",2`,
# `dwave 0,"v.ogg"`). KAG has labels and `;` comments too, never these.
_ONS_DEFINES = re.compile(r"\*define|game", re.IGNORECASE)
_ONS_TEXT_END = re.compile(r"[^\x00-\x7f`\[!#].*(?:\\|@)|.*\\|`.*`[\\@/]?")
# A text line of an excerpt with no commands: Chinese or Japanese words (`【名】「…」`,
# `名「…」`, narration) ending in a page end `\` or a click wait `@`, not CatSystem2's
# `\@`; and a dump's `名字：…` line, which ONScripter's text never is. Chinese ports put a
# pretextgosub tag before the words (`[1|【森　罗】|]「…」\`, `[1||]旁白\`: onscripter.py).
_ONS_MARKED_TEXT = re.compile(
    r"(?:\[[^\[\]|\n]*\|[^\[\]|\n]*\|[^\[\]\n]*\])?[^\x00-\x7f].*(?:[^\\@]@|[^\\@]\\)"
)
_COLON_NAMED = re.compile(r"[^\s「『【:：]{1,12}[:：]")


def _onscripter_why(lines: list[str], filename: str) -> tuple[str, str] | None:
    """("onscripter", why) when these non-blank lines are an ONScripter script's: `*define`
    or `game`, or page ends among its commands (a CatSystem2 dump's `\\@` ends have none); a file named as ONScripter names its script
    (`0.txt`, `00.txt`, `nscript.___`) needs only one sign."""
    stripped = [line.strip() for line in lines]
    defines = sum(1 for line in stripped if _ONS_DEFINES.fullmatch(line))
    ends = sum(1 for line in stripped if _ONS_TEXT_END.fullmatch(line))
    commands = sum(
        1 for line in stripped if line[:1].isalpha() and onscripter.is_known_command(line)
    )
    signs = [
        (defines, "*define/game lines"),
        (ends, "text lines ending in \\ or @"),
        (commands, "ONScripter command lines"),
    ]
    seen = ", ".join(f"{n} {what}" for n, what in signs if n)
    if onscripter.is_script_name(filename) and (defines or ends):
        return "onscripter", f"named as ONScripter's script, and {seen}"
    if (defines or (ends >= 3 and commands >= 2)) and defines * 3 + ends + commands >= 6:
        return "onscripter", f"ONScripter signs in its first lines: {seen}"
    return _onscripter_text_why(stripped)


def _onscripter_text_why(stripped: list[str]) -> tuple[str, str] | None:
    """("onscripter", why) for an excerpt of a script's text alone (no `*label`, `bg` nor
    `ld`): most of its lines are words ending in a page end `\\` or a click wait `@`,
    some in `\\`, and hardly any name a speaker before a colon as a dump does. Plain
    would keep its `!w300` waits and ruby, and split a box's rows into lines."""
    marked = sum(1 for line in stripped if _ONS_MARKED_TEXT.fullmatch(line))
    page_ends = sum(1 for line in stripped if line.endswith("\\") and not line.endswith("@\\"))
    colon_named = sum(1 for line in stripped if _COLON_NAMED.match(line))
    if (
        marked >= 5
        and marked * 3 >= len(stripped) * 2
        and page_ends >= 2
        and colon_named * 10 < marked
    ):
        return (
            "onscripter",
            f"{marked} of its first {len(stripped)} lines are text ending in ONScripter's page"
            " end \\ or click wait @",
        )
    return None


def _voice_list_why(lines: list[str]) -> tuple[str, str] | None:
    """("voice_list", why) when most of these non-blank lines are `path|speaker|…|text`
    with a voice file's path first."""
    if not lines:
        return None
    piped = sum(1 for line in lines if voice_list.is_entry(line))
    if piped * 2 < len(lines):
        return None
    return "voice_list", f"{piped} of its first {len(lines)} lines are path|speaker|…|text"


def parse(text: str, source: str, fmt: str, options: ParseOptions) -> list[Utterance]:
    return PARSERS[fmt](text, source, options)


__all__ = [
    "FORMAT_NAMES",
    "PARSERS",
    "ParseOptions",
    "compile_markers",
    "detect_format",
    "detect_format_at",
    "detect_format_why",
    "parse",
]
