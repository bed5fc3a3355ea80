"""Why a file has no dialogue: the sentence its report gets (`no_dialogue`), with the
--format that would read it where another format finds spoken lines, and for a .ks file
the macro definitions or aliases its lines wait for. And which format a file's lines were
taken to be in, and why (`detection_notes`)."""

from __future__ import annotations

import re
from collections import Counter

from atri.terminal import counted
from dataprep.errors import DataprepError
from dataprep.formats import PARSERS, ParseOptions, detect_format_at, subtitles
from dataprep.formats import kirikiri as kirikiri_format
from dataprep.formats.plain import sharp_name_line
from dataprep.loaded_scripts import LoadedScript

_EXPECTED = {
    "plain": "lines like 名字：台词, 【名字】「台词」, [名字]台词 or Name: text",
    "kirikiri": "KAG lines with [nm t=…], #名 or 【名】 speakers and [p]/[l] waits",
    "renpy": 'Ren\'Py lines like e "text" with define e = Character("Name")',
    "voice_list": "lines like path|speaker|lang|text",
    "regex": "lines matching [dataprep] custom_regex",
    "translation_dump": (
        "pairs of lines like ○000012○原文 and ●000012●译文, or [0x…]原文 and ;[0x…]译文"
    ),
    "json": 'a JSON list of {"name": "名字", "message": "台词"} objects',
    "naninovel": "Naninovel lines like Author: text, with @commands and # labels",
    "rpgmaker": "RPG Maker MV/MZ event commands: 101 message boxes and their 401 lines",
    "csv": "a table whose first row names its columns, like name,text or 角色,原文,译文",
    "webgal": "WebGAL lines like 角色:台词; and :旁白;, with changeBg:…; commands",
    "onscripter": "ONScripter lines like 【名】「台词」\\ among bg/dwave/lsp commands, with *labels",
    "artemis": 'an Artemis ast = {…} table whose blocks hold text = {ja = {{name = {"名"}, "台词"}}}',
}
# Formats whose files other formats misread, their keys or commands taken for speakers:
# no other format is suggested for them.
_READ_AS_SPEAKERS_ELSEWHERE = ("json", "rpgmaker", "webgal")
# How much of a file another parser reads to see whether --format would help.
_TRY_CHARS = 64 * 1024
# How many tags the hint for a .ks file of undefined name macros names.
_MACROS_NAMED = 3
# How many of the names a tag's calls give (`[talk name=…]`) the hint names.
_VALUES_NAMED = 3


# A KAG comment line, and a TJS / JavaScript block (`[iscript]` … `[endscript]`).
_KAG_NOT_SHOWN = re.compile(
    r"^[ \t]*;[^\n]*$|^[ \t]*[\[@]iscript\b.*?^[ \t]*[\[@]endscript\b[^\n]*$",
    re.M | re.S | re.I,
)
# A Ren'Py comment line: `# game/script.rpy:9` above each translated string reads as a
# WebGAL speaker (`# game/script.rpy`), `# TODO: Translation updated at …` as a dump's.
_RENPY_COMMENT = re.compile(r"^[ \t]*#[^\n]*$", re.M)
# What other formats would read of a file is without these lines, the format's comments.
_NOT_SHOWN = {"kirikiri": _KAG_NOT_SHOWN, "renpy": _RENPY_COMMENT}


def no_dialogue(script: LoadedScript, options: ParseOptions) -> tuple[str, bool]:
    """ "No dialogue found", with --format suggested only when another format finds some;
    and whether it names macro definitions a .ks file's lines lack (which the user must
    read, even where other files have dialogue)."""
    # Read from where the file's lines were told to be in a format: a dump's pairs below
    # notes that fill its first lines, not those notes.
    sniffed, _, start = detect_format_at(
        script.text, script.path.name, options.custom_regex is not None
    )
    head = script.text[start : start + _TRY_CHARS]
    message = f"{script.path}: no dialogue found as {script.fmt}; expected {_EXPECTED[script.fmt]}"
    if _subtitle_cues(head):
        # No other format reads a subtitle's lines as said by someone (WebGAL: by "00").
        return f"{message}{_SUBTITLES}.", False
    # What another format would read of a .ks file: not its comments (`; NOTE: …`) nor
    # its script blocks (`CHARACTER_ID: "metan",`), which read as speakers in a dump; of
    # a .rpy file, not its comments.
    hidden = _NOT_SHOWN.get(script.fmt)
    tried = hidden.sub("", head) if hidden is not None else head
    better: list[tuple[int, str, Counter[str]]] = []
    # A JSON file's keys read as speakers in a dump (`"name": "夏生",`), as a WebGAL
    # scene's commands do (`changeFigure:a.png;`, `intro:…;`): no other format.
    others = {} if script.fmt in _READ_AS_SPEAKERS_ELSEWHERE else PARSERS
    for name in others:
        # A table is told by its extension: any text with commas reads as one.
        if name in (script.fmt, "csv") or (name == "regex" and options.custom_regex is None):
            continue
        speakers = _speakers(tried, name, options)
        if speakers and not _mostly_commands(speakers):
            better.append((speakers.total(), name, speakers))
    if script.fmt == "plain":
        message += _sharp_names_unread(head)
    lacking = ""
    if script.fmt == "kirikiri":
        lacking = (
            _name_macros_left_out(head, options)
            + _name_tags_unlearnt(head, options)
            + _text_macros_left_out(head, options)
        )
    message += lacking
    if better:
        # The format the file's own signs point to first, then the one finding the most.
        found, name, speakers = max(better, key=lambda b: (b[1] == sniffed, b[0]))
        message += (
            f". It reads as {name} ({found} spoken lines; {_top_speakers(speakers)}):"
            f" try --format {name}"
        )
    return f"{message}.", bool(lacking)


# A file of a few subtitle cues (`subtitles.CUE_TIMES`) is subtitles; with no voice tags,
# its lines say nobody's name.
_CUES_IN_SUBTITLES = 2
_SUBTITLES = (
    ". It looks like subtitles (numbered cues under 00:01:02,345 --> 00:01:04,000 times),"
    " whose lines name no speaker: give the game's script, or a dump naming who says each"
    " line (名字：台词, or WebVTT's voice tags: <v 名字>台词); where its lines name the speaker in a shape of their own,"
    " --format regex with [dataprep] custom_regex reads them"
)


def _subtitle_cues(head: str) -> bool:
    """Whether the file's lines are subtitle cues."""
    return len(subtitles.CUE_TIMES.findall(head)) >= _CUES_IN_SUBTITLES


def _sharp_names_unread(head: str) -> str:
    """What a dump of `＃名前` lines whose names no alias matched lacks (its unquoted lines
    below are a speaker's only when the name is an alias's); "" for another file."""
    lines = Counter(
        line
        for line in map(str.strip, head.splitlines())
        if line[:1] in ("#", "＃") and sharp_name_line(line) is not None
    )
    # A speaker speaks again; a notes file's headings (`#Plot`, `#Ideas`) come once each.
    named = [line for line, n in lines.most_common(_TOP_SPEAKERS) if n > 1]
    if not named:
        return ""
    shown = ", ".join(named)
    return (
        f". Its speakers are named on lines of their own ({shown}), each naming the unquoted"
        " line below only when the name is one of [dataprep] lead_aliases or"
        " character_aliases: add the names it writes there"
    )


# How many speakers a suggestion names, and judges by (`_mostly_commands`).
_TOP_SPEAKERS = 3
# A "speaker" that is a script command's word, as another engine's commands read in a
# dump or as Ren'Py (ONScripter's `bgm "x.ogg"`, `bg "…"`, `caption "…"`, `csp 5:csp 6`):
# a lower-case ASCII word of two letters or more, or one with a number (`csp 5`), its
# arguments' quotes and commas too (`lsp 1,"`, cut at a colon by WebGAL's reading). A
# single letter alone is a Ren'Py character's id (`e "Hello"`).
_COMMAND_WORD = re.compile(
    r"""[a-z_][a-z0-9_]++(?: [0-9a-z_,"'$%#.\/-]+)*+|[a-z_] [0-9][0-9,"']*+"""
)


def _speakers(text: str, fmt: str, options: ParseOptions) -> Counter[str]:
    """How many spoken lines each speaker has when `text` is read as `fmt`."""
    try:
        return Counter(u.speaker for u in PARSERS[fmt](text, "", options) if u.speaker is not None)
    except DataprepError:
        return Counter()


def _mostly_commands(speakers: Counter[str]) -> bool:
    """Whether most lines of the top speakers are "said" by command words
    (`_COMMAND_WORD`): a format that reads a script's commands as speakers is no
    format to suggest."""
    top = speakers.most_common(_TOP_SPEAKERS)
    commands = sum(count for name, count in top if _COMMAND_WORD.fullmatch(name))
    return 2 * commands > sum(count for _, count in top)


def _top_speakers(speakers: Counter[str]) -> str:
    """`most by 夏生 (12), アトリ (8), 水菜萌 (3)`: whom the lines a format reads are
    said by, for the user to judge the suggestion."""
    top = speakers.most_common(_TOP_SPEAKERS)
    return "most by " + ", ".join(f"{name} ({count})" for name, count in top)


# XUnity.AutoTranslator's cache of what it translated (`原文=translation` lines), named
# `_AutoGeneratedTranslations.txt` or with a prefix (`maring_…`): a game's interface
# strings, whose labels (`獲取途徑：卡牌故事=…`) read as speakers in a dump.
_XUNITY_CACHE = "autogeneratedtranslations.txt"


def not_a_script(script: LoadedScript) -> str | None:
    """Why a file given is no script, known by its name before it is read, or None."""
    if script.path.name.lower().endswith(_XUNITY_CACHE):
        return (
            f"{script.path}: is XUnity.AutoTranslator's translation cache (original=translation"
            " lines): it holds the game's interface strings and no speakers, so no script;"
            " give the game's script files"
        )
    return None


def _name_macros_left_out(head: str, options: ParseOptions) -> str:
    """What a .ks file of lines after tags no file given defines (`@shiori`) lacks: those
    macros' definitions, which name the speaker; "" for a file with no such lines."""
    calls = kirikiri_format.unnamed_calls(head, options).most_common(_MACROS_NAMED)
    if not calls:
        return ""
    named = ", ".join(f"[{name}] before {counted(count, 'line')}" for name, count in calls)
    return (
        f". Its lines follow tags no .ks file given defines ({named}): if they are"
        f" macros naming the speaker, give the .ks file that defines them too"
        f" ([macro name={calls[0][0]}], usually in first.ks or macro.ks)"
    )


def _name_tags_unlearnt(head: str, options: ParseOptions) -> str:
    """What a .ks file of lines after a game's own name tag (`[talk name="夏生"]`) lacks
    when none of the names it gives is one of the aliases, so that it was never learnt
    as a name tag: the aliases the game writes, or the tag's definition; "" for a file
    with no such lines."""
    tags = kirikiri_format.unlearnt_name_calls(head, options)[:_MACROS_NAMED]
    if not tags:
        return ""
    named = "; ".join(
        f"[{t.tag} {t.attribute}=…] before {counted(t.lines, 'line')}:"
        f" {', '.join(t.values[:_VALUES_NAMED])}"
        for t in tags
    )
    return (
        f". Its lines follow tags no .ks file given defines that name someone ({named}),"
        f" but none of their values matched lead_aliases or character_aliases: if they name"
        f" the speaker, add the names the game writes to those aliases, or give the .ks file"
        f" that defines them too ([macro name={tags[0].tag}], usually in first.ks or macro.ks)"
    )


def _text_macros_left_out(head: str, options: ParseOptions) -> str:
    """What a .ks file whose lines are given to tags no file given defines
    (`[say text="「…」"]`) lacks: those macros' definitions, which show the lines; "" for a
    file with no such calls."""
    calls = kirikiri_format.text_calls(head, options).most_common(_MACROS_NAMED)
    if not calls:
        return ""
    named = ", ".join(
        f"{counted(count, 'call')} of [{name}] with the text in {key}="
        for (name, key), count in calls
    )
    return (
        f". Its lines seem written as tags no .ks file given defines ({named}): if they are"
        f" macros showing the line, give the .ks file that defines them too"
        f" ([macro name={calls[0][0][0]}], usually in first.ks or macro.ks)"
    )


# Files of one detected format named in its note; the rest are counted.
_FILES_NAMED = 3
# Files of one detected format whose head plain also reads, to see if it reads far more.
_FILES_TRIED = 8
# Plain reads "far more" spoken lines than the detected format: this many times as many,
# and at least `_MORE_LINES` more (a study's prose dump: 203 as plain, 23 as KiriKiri).
_TIMES_MORE = 3
_MORE_LINES = 20


def detection_notes(scripts: list[LoadedScript], options: ParseOptions) -> list[str]:
    """One sentence per format that files' lines (not their names, nor the config) made
    the run read them in, with why; and `--format plain` where plain reads far more
    spoken lines of them. Plain itself, what a file without signs is read as, says
    nothing. Call it only when no format was chosen."""
    found: dict[str, list[tuple[LoadedScript, str, int]]] = {}
    for script in scripts:
        if script.report.error is not None or script.fmt in ("plain", "regex"):
            continue
        fmt, why, start = detect_format_at(script.text, script.path.name)
        if fmt == script.fmt and why != "from the name":
            found.setdefault(fmt, []).append((script, why, start))
    return [_detected(fmt, files, options) for fmt, files in found.items()]


def _detected(fmt: str, files: list[tuple[LoadedScript, str, int]], options: ParseOptions) -> str:
    """The note on files read as `fmt` from their lines: (file, why, where the lines it
    was told from start)."""
    names = [script.path.name for script, _, _ in files]
    shown = ", ".join(names[:_FILES_NAMED])
    if len(names) > _FILES_NAMED:
        shown += f" and {counted(len(names) - _FILES_NAMED, 'more file')}"
    said = f"Read as {fmt}, from what their lines look like ({files[0][1]}): {shown}"
    as_fmt = 0
    plain: Counter[str] = Counter()
    for script, _, start in files[:_FILES_TRIED]:
        # From where its format was told: not a header above a dump's pairs.
        head = script.text[start : start + _TRY_CHARS]
        as_fmt += _speakers(head, fmt, options).total()
        plain += _speakers(head, "plain", options)
    as_plain = plain.total()
    # A WebGAL scene's commands are a dump's speakers: plain always reads more of them.
    if (
        fmt != "webgal"
        and as_plain >= _TIMES_MORE * as_fmt
        and as_plain - as_fmt >= _MORE_LINES
        and not _mostly_commands(plain)
    ):
        said += (
            f". Their first lines read as plain give {as_plain} spoken lines, as {fmt}"
            f" {as_fmt} (as plain {_top_speakers(plain)}): if the text is no {fmt} script,"
            " try --format plain"
        )
    return said + "."
