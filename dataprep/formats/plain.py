"""Plain-text dumps: `名字：台词`, `【名字】「台词」`, `[名字]台词`, `名字「台词」`, `Name: text`,
`名字<TAB>台词`.

One multi-line regex walks the whole text: each match is one non-blank line, told
apart by which group matched (scene marker, one of the speaker forms, or narration).
Scanning in C and not calling `match` once per line is what makes this ≥ 20 MB/s.
Quote marks stay on the text here; the cleaning stage strips them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from functools import lru_cache

from dataprep.formats.common import (
    HEADING,
    HEADING_LINE,
    KAG_TAGS,
    KANA,
    NAME_BLANKS,
    QUOTE_PAIRS,
    SOUND_LINE,
    SOUND_REF,
    TAGS_ONLY,
    ParseOptions,
    alias_tag,
    drop_bracket_ruby,
    is_alias,
    is_code,
    join_pieces,
    tidy_name,
)
from dataprep.formats.subtitles import as_dump, is_subtitles
from dataprep.gc_pause import gc_paused
from dataprep.records import Utterance
from dataprep.speakers import english_alias_and_verb, normalise_name

# Characters that cannot be part of a speaker name: spaces, sentence punctuation, quotes,
# brackets and "=" (`[ruby text="かんじ"]漢字` and `@bg storage="x"` are KAG tags, not
# lines of speakers "[ruby text=" and "@bg storage=").
_NOT_NAME = r"\s：:「」『』“”\"【】\[\]=。，、！？!?,.…"
_SP = r"[^\S\n]*"  # blanks that stay on one line (NBSP, em space …; \s would run into the next)
# Opening brackets: a name may hold a note in brackets (`亚托莉（机器人）：`), but one that
# starts with a bracket is a stage direction or an aside (`(Sound: thunder) It rains.`,
# `（旁白）：…`), not a speaker "(Sound". (`[` and `【` are in `_NOT_NAME`.)
_OPENERS = r"(（〔［{｛〈《〖〘"
# Between the words of a name: a space, or a run of blanks such as NBSP or the ideographic
# space of `斑鳩　夏生` (never a tab: `名字<TAB>台词` is a line). The name is read with
# each run made one space (`tidy_name`).
_IN_NAME = rf"[ {NAME_BLANKS}]++"
# Possessive: a name never gives back characters, so a failed line fails fast.
_NAME = (
    rf"[^{_NOT_NAME}{_OPENERS}][^{_NOT_NAME}]*+(?:\.?{_IN_NAME}[^{_NOT_NAME}]++)*+"  # "Mr. Smith"
)
# A chapter or scene heading where a name would be (`第三章　海边：夏天`, `Chapter 3:
# Home`, `序章：…`, `Scene 2 Night: …`): the line is narration, never a speaker called
# "第三章 海边". A name may hold a blank (`神　奈：…`), so the heading is known by its start:
# 第 and a number and 章/话/…, a word of its own (序章, Prologue), or an English
# keyword and a number (`Chapter 3`, `Act II`; not "Partner", "Day Lily"); or it is a
# setting or cue word alone before the colon.
_CHAPTER = (
    r"(?:第[0-9０-９一二三四五六七八九十百千零〇两兩]++[章话話幕节節回卷部篇]"
    r"|序章|终章|終章|序幕|终幕|終幕|尾声|尾聲|番外|プロローグ|エピローグ"
    rf"|(?i:(?:chapter|scene|episode|part|act|day|route|ending)(?:[ {NAME_BLANKS}]*+[0-9０-９]"
    rf"|[ {NAME_BLANKS}]++(?=[ivx])x{{0,3}}(?:ix|iv|v?i{{0,3}})(?![^\W\d_]))"
    r"|(?:prologue|epilogue|interlude|intermission)(?![^\W\d_]))"
    # A scene's setting or a cue before the colon (`场景：海边`, `Scene: The beach`,
    # `BGM：umi.ogg`, `地点：学校`): a heading too, never a speaker called "Scene".
    rf"|(?:场景|場景|场所|場所|地点|地點|时间|時間|背景|背景音乐|背景音樂|音效|效果音"
    rf"|(?i:scene|location|place|setting|time|bgm|se|sfx|cg|bg))[ {NAME_BLANKS}]*+[：:]"
    r")"
)
# The first character of each of `_CHAPTER`'s alternatives, its letters in either case
# as there: `_NOT_CHAPTER` tries the whole of `_CHAPTER` only where a line starts with one.
# Tried at every line, that alternation cost a third of the scan of a script whose
# names start otherwise (夏生, 亚托莉); one character tells at once.
_CHAPTER_FIRST = r"[第序终終尾番プエ场場地时時背音效]|(?i:[abcdeilprst])"
_NOT_CHAPTER = rf"(?!(?={_CHAPTER_FIRST}){_CHAPTER})"
_SAID = r"[^\s].*"  # trailing blanks are left for the cleaning stage to drop
# `[名字]台词`, `[Atri] text`: a name in ASCII brackets, never a KAG tag (`[r]`, `[p]`,
# `[wait time=100]`, `[ruby text="…"]`) nor a Ren'Py `[var]`: those are lowercase ASCII or
# hold `=` or quotes. So the name needs a capital letter or a character outside ASCII, is
# not only digits (a footnote `[1]`) and not a KAG tag's name in any case (`[P]`,
# `[WAIT]`); a "/" may join two spellings (`[Atri/亚托莉]`), never start one (`[/ruby]`).
_NOT_BRACKET_NAME = rf"{_NOT_NAME}/@*#<>{{}}"
# KAG and TyranoScript tags that dumps keep, often in capitals (`[WAIT]`, `[L]`, `[QUAKE]`,
# `[PLAYSE]`), compared ignoring case (`KAG_TAGS`). Tags written with attributes never
# were names (`=`).
_BRACKET_NAME = (
    rf"(?![0-9０-９]++\])(?!{HEADING}\])(?=[^\]\n]*?[A-Z\u0080-\U0010ffff])"
    rf"(?!(?i:{KAG_TAGS})\])"
    rf"[^{_NOT_BRACKET_NAME}]++(?:(?:\.?{_IN_NAME}|/)[^{_NOT_BRACKET_NAME}]++)*+|[?？]{{2,8}}"
)
# The colon after a name; one between two digits is a time (`Time 10:30 we meet`, `时间
# 10:30`), not a speaker "Time 10".
_NAME_COLON = r"(?:(?<![0-9０-９])[：:]{1,2}|[：:]{1,2}(?![0-9０-９]))"
# Lines no speaker says, whatever follows: a command (`@back Desert time:1`, `@choice "…"`,
# Naninovel's and KAG's) and an ONScripter comment (`;「…」`) or English text line
# (`` `"…"` ``).
_NEVER_NAMED = r"@\w|[;`]"
# A voice file's id in square brackets right after the name (`亚托莉[v_atr0012]「…」`,
# `Atri[vo_0012]: …`), as dumps with voice ids write it: no part of the name nor the line.
# ASCII with a letter and a digit, and an underscore or three digits in a row, as file
# ids are (after a keyword and a colon too: `亚托莉[V:atr0002]：`): a KAG tag (`[r]`,
# `[l]`), a `[Name]`, a footnote or version (`Notes [v1.2]:`, `Update [2024]:`) is never one.
_VOICE_TAG = (
    r"(?:\[(?=[^\]\n]*?[0-9])(?=[^\]\n]*?[A-Za-z])(?=[^\]\n]*?(?:_|[0-9]{3}))"
    r"(?:[A-Za-z]{1,8}+:)?+[A-Za-z0-9_./#-]{1,40}+\])"
)
# A voice reference before the speaker (`[V:atr0001]亚托莉：「…」`, `【voice:atr_0002】亚托莉：…`):
# no part of the line, which is the speaker's; alone on its line it is skipped below.
_SOUND_BEFORE = rf"(?:[\[【]{SOUND_REF}[\]】]{_SP}(?=[^\s]))?+"
_SPEAKER_FORMS = (
    rf"【(?!{_SP}+{HEADING}{_SP}+】)(?P<s1>[^】\n]{{1,32}})】{_SP}(?:{_VOICE_TAG}{_SP})?+(?:[：:]{{1,2}}+{_SP})?+(?P<t1>{_SAID})"
    rf"|\[(?P<s3>{_BRACKET_NAME})\]{_SP}(?:[：:]{{1,2}}+{_SP})?+(?P<t3>{_SAID})"
    rf"|(?P<s2>{_NOT_CHAPTER}(?!{_NEVER_NAMED}){_NAME}|[?？]{{2,8}})(?:{_SP}{_VOICE_TAG})?+{_SP}"
    rf"(?:{_NAME_COLON}{_SP}|(?=(?P<q>[「『“\"]))|\t+)(?P<t2>{_SAID})"
)
# A stage direction in round brackets before the speaker (`(sighs) Natsuki: Fine.`,
# `（叹气）夏生：好吧。`) stays on the text, as one after the name does (`Natsuki: (sighs)
# Fine.`); without a speaker after it the line is narration (`(Sound: thunder) It rains.`).
# In square brackets only plain lower-case words are one (`[sighs] Natsuki: Fine.`): a
# KAG tag is a lower-case word too, so a known tag's name (`[r]`, `[cm]`, `[ruby]`), an attribute
# (`=`) or an identifier (`_`, digits, `&f.x`) keeps the line code or narration, and a
# capital or a character outside ASCII makes a `[Name]` (both as before).
_DIRECTION = (
    rf"(?:[(（][^()（）\n]{{1,64}}+[)）]"
    rf"|\[(?!(?:{KAG_TAGS}|ruby|link)[] ])[a-z][a-z ',.!?-]{{0,63}}+\]){_SP}"
)
_DIRECTION_AT_START = re.compile(_DIRECTION)
# A `[名字]` line alone, like a `【名字】` one, names the speaker of a quoted line below it.
_BRACKET_ALONE = re.compile(rf"\[({_BRACKET_NAME})\]{_SP}[：:]{{0,2}}")
# `＃アトリ`, `#Atri` alone on a line: a dump's name line, naming the speaker of the line
# below as `名字：` alone does, and of each quoted line after it (a .ks file's `#名` lines,
# and a dump of them, are read as KiriKiri). A heading in its place (`＃１`, `#Chapter 3`,
# `# Notes`) names no one.
_SHARP_NAME = re.compile(rf"[#＃]({_NOT_CHAPTER}{_NAME})")
# A speaker's name and colon with nothing after them.
_NAME_ALONE = re.compile(rf"({_NOT_CHAPTER}{_NAME}){_SP}[：:]{{1,2}}")
# `『亚托莉』：早上好`, `『亚托莉』：` alone: a name in white corner brackets is one only before
# a colon (`『这本书』很有趣` is a title in narration, `『……』` a quote).
_CORNER_NAME = re.compile(rf"『{_SP}({_NOT_CHAPTER}{_NAME}){_SP}』{_SP}[：:]{{1,2}}{_SP}(.*)")
_QUOTES = '「『“"'
# Last characters of a line that is a sentence, never a name alone.
_SENTENCE_END = frozenset('。！？…，、.!?,」』”"')
_DIGITS = frozenset("0123456789０１２３４５６７８９")
# A name after a dump's line number (`0001 亚托莉`, `12. Atri`): the number is no part of it.
# A line number is padded (`0001`), long (`123`), ends in a full stop (`12.`) or stands
# before a CJK name (`7 亚托莉`); a short number before an ASCII word is a name ("7 Seas").
_NUMBERED = re.compile(
    rf"(?:[0-9０-９]++[.．]|[0０][0-9０-９]*+|[0-9０-９]{{3,}}+"
    rf"|[0-9０-９]++(?=[ {NAME_BLANKS}]++[^\x00-\x7f]))[ {NAME_BLANKS}]++(\D.*)"
)
MAX_NAME = 32
# Text is matched a slice at a time (cut at a line end): one slice's matches and
# utterances are what is in flight between the stages, so a small slice keeps the peak
# memory near the kept samples' own (a 1M-character slice held about 20 MB), while
# 128k characters still make the cost of each slice negligible.
CHUNK_CHARS = 1 << 17
# First characters of a line that may be a command (`@bg`, `[wait]`, `<| |>`, `$ x`) and
# last characters of one (`f(x)`, `x = 1;`): only such lines pay for the full test.
_CODE_FIRST = frozenset("@[<$")
_CODE_LAST = frozenset(");0123456789\"'}")


# A said line whose quote the dump wrapped onto the lines below (`亚托莉：「今天的天气` /
# `真好啊」`) is one line in the game, and is joined when its closer comes on one of the
# next MAX_WRAPPED_LINES lines, each of them narration; past that the quote is never
# closed (a typo), and no line is taken from the script. A straight `"` opens and closes
# alike: a said line with an odd number of them leaves one open, and the first line below
# with an odd number closes it (one with an even number holds a quote of its own). `’` is
# also an apostrophe: never taken for a closer.
MAX_WRAPPED_LINES = 4
_STRAIGHT = '"'
# A said line with no quote marks whose last word ends no sentence (`Minamo: The sea is
# calm`) goes on over the lines below that start with a lower-case Latin letter (`today,
# isn't it?`): no line of narration starts so.
_OPEN_SENTENCE = re.compile(r"\A[^\"“”「『]*[A-Za-z,;]\Z")
_GOES_ON = re.compile(r"[a-z]")
_LOWER_LINE = re.compile(r"\n[^\S\n]*+[a-z]")
# A CJK line has no such sign in its next line, so only one that ends in a comma
# (`亚托莉：今天的天气，` / `真好啊。`: a sentence cut in its middle, which no said line
# ends with) goes on over the lines below: those that start with no quote or bracket
# (`「……」`, `（小声）…` are lines of their own) up to the one ending otherwise. One that
# ends with no punctuation (`夏生：好吧` / `我转身离开了。`) may well be whole: the line below
# stays narration, as written.
_OPEN_CJK = re.compile(
    r"\A[^\"“”「『]*(?:[，、]|(?<=[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]),)[^\S\n]*\Z"
)
_CJK_GOES_ON = re.compile(r'[^「『“"‘﹁（(【\[〔［〈《]')
# A line ending in a comma, blanks aside: an alternative for each comma, starting with it.
_COMMA_LINE_END = "|".join(rf"{re.escape(comma)}[^\S\n]*\n" for comma in "，、,")
# A said line left open with no quote, by how it is cut (the opener `_join_wrapped` holds
# for it: a CJK comma, or "" for an English sentence): what a line below starts with to go
# on it, and what leaves the line open still; CJK first, as a line ending in "，" may be
# both.
_OPEN_SENTENCES = {"，": (_CJK_GOES_ON, _OPEN_CJK), "": (_GOES_ON, _OPEN_SENTENCE)}
_WRAPPED = {o: c for o, c in QUOTE_PAIRS.items() if o != c and o != "‘"}
# An opener not closed on its line (the leftmost: the outer quote of `「他说『你好`).
# Each alternative starts with a literal, and a chunk with no match skips the join. A
# try stops at the next opener of its kind, so a line of thousands of "「" is read once,
# not once from each (a quote nested in one of its own kind, `「a「b」`, is not seen).
_UNCLOSED = re.compile(
    "|".join(f"{re.escape(o)}[^{re.escape(o + c)}\n]*+(?![^\n])" for o, c in _WRAPPED.items())
)
# Whatever makes a slice worth `_join_wrapped`: a straight quote, an unclosed quote, a
# line that starts in lower case or ends in a comma. One scan of the slice, not four:
# each alternative starts with a literal, so the engine stops only where one may match.
_MAY_BE_WRAPPED = re.compile(
    "|".join([re.escape(_STRAIGHT), _UNCLOSED.pattern, _LOWER_LINE.pattern, _COMMA_LINE_END])
)


# Every match is exactly one line, newline included, so the i-th match is line i + 1 and
# `findall` can hand back plain tuples (no Match objects, no position arithmetic).
LINE = re.compile(
    rf"{_SP}{_SOUND_BEFORE}(?:(?P<d>{_DIRECTION})?+(?:{_SPEAKER_FORMS})"
    rf"|(?P<narr>[^\s](?:.*[^\s])?)|)[^\n]*\n?"
)


def marker_lines(text: str, marker: re.Pattern[str] | None) -> set[int]:
    """Line numbers (1-based) of scene-marker lines; few, so found by a separate scan.

    Indentation is no part of a line here, as in the other formats: a marker is tried
    after a line's leading blanks. The pattern starts with a literal newline (and the
    text is scanned with one before it): a literal prefix lets the regex engine jump
    between line starts, where `^` with MULTILINE would make it try every character.
    """
    if marker is None:
        return set()
    found: set[int] = set()
    scan = _after_newline(marker.pattern, marker.flags)
    # A `^` in the marker only matches where the line starts, so the blanks go before the
    # scan; without one, the pattern skips them itself and no copy of the text is made.
    dedent = _ANCHOR.search(marker.pattern) is not None
    line = 0  # lines before the slice
    for chunk in _chunks(text):
        scanned = _INDENT.sub("\n", "\n" + chunk) if dedent else "\n" + chunk
        newlines, pos = 0, 0  # newlines in scanned[:pos]; each one starts a line
        for m in scan.finditer(scanned):
            newlines += scanned.count("\n", pos, m.start()) + 1
            pos = m.start() + 1
            found.add(line + newlines)
        line += newlines + scanned.count("\n", pos) - 1
    return found


# Blanks at the start of a line (after its newline), and a `^` that may be an anchor
# (any but the one of `[^…]`: a `\^` taken for one costs a pass, not a wrong answer).
_INDENT = re.compile(r"\n[^\S\n]+")
_ANCHOR = re.compile(r"(?<!\[)\^")


@lru_cache(maxsize=16)
def _after_newline(pattern: str, flags: int) -> re.Pattern[str]:
    # `$` in a marker: the line's end, after any trailing blanks (the other formats strip
    # them from the line; stripping every line here would cost a pass over the text).
    if "$" in pattern:
        pattern = _blanks_before_line_end(pattern)
    return re.compile(rf"\n{_SP}(?:{pattern})", flags | re.M)


def _blanks_before_line_end(pattern: str) -> str:
    r"""The pattern with each `$` anchor (not `\$`, nor one in a `[…]` set) allowing
    blanks before it: `^◆$` matches "◆  " as it matches the stripped "◆"."""
    out: list[str] = []
    i, in_set = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_set:
            in_set = c != "]"
        elif c == "[":
            # A `]` right after `[` or `[^` is one of the set's characters.
            end = i + 1 + (pattern[i + 1 : i + 2] == "^")
            end += pattern[end : end + 1] == "]"
            out.append(pattern[i:end])
            i, in_set = end, True
            continue
        elif c == "$":
            c = rf"(?={_SP}$)"
        out.append(c)
        i += 1
    return "".join(out)


def is_quoted(line: str) -> bool:
    """Whether a stripped line is a quote, or a stage direction and a quote (`（小声）「嗯」`):
    a line the name alone above it may name."""
    if line[0] in _QUOTES:
        return True
    if line[0] not in "(（[":
        return False
    m = _DIRECTION_AT_START.match(line)
    return m is not None and m.end() < len(line) and line[m.end()] in _QUOTES


def name_alone(line: str) -> str | None:
    """The name of a `名字：` line with nothing said, or None for any other line."""
    m = _NAME_ALONE.fullmatch(line)
    if m is None:
        return None
    name = m.group(1)
    if len(name) > MAX_NAME or (name[0] in _DIGITS and name.replace(" ", "").isdigit()):
        return None
    return name


def sharp_name_line(line: str) -> str | None:
    """The name of a `＃名前` line, or None for any other line: a cue or heading in its
    place (`#BGM`, `#场景`, `#回想`, as `BGM：` and `【回想】` name no one) or a markdown
    heading (`## Notes`)."""
    m = _SHARP_NAME.fullmatch(line)
    if m is None:
        return None
    name = m.group(1)
    if len(name) > MAX_NAME or _LETTER.search(name) is None or name[0] in "#＃":
        return None
    if name_alone(f"{name}：") is None or HEADING_LINE.fullmatch(f"【{name}】") is not None:
        return None
    return name


def _lenticular_alone(line: str) -> str | None:
    """The name of a `【名字】` or `【名字】：` line with nothing said, or None (a heading
    such as `【回想】：` names nobody)."""
    if line[-1] in "：:":
        line = line.rstrip("：:").rstrip()
        if HEADING_LINE.fullmatch(line) is not None:
            return None
    if line[-1] != "】" or not 2 < len(line) <= 34:
        return None
    return line[1:-1].strip() or None


def _directed_alone(line: str) -> tuple[str, str] | None:
    """(direction, name) of a line that is a stage direction and a speaker with nothing
    said (`(sighs) Natsuki:`, `（小声）【亚托莉】`, `[softly] [Atri]`), or None."""
    m = _DIRECTION_AT_START.match(line)
    if m is None or m.end() == len(line):
        return None
    rest = line[m.end() :]
    if rest[0] in "[【" and HEADING_LINE.fullmatch(rest) is not None:
        return None
    if rest[0] == "【" and rest[-1] == "】" and 2 < len(rest) <= 34:
        name: str | None = rest[1:-1].strip() or None
    elif rest[0] == "[":
        alone = _BRACKET_ALONE.fullmatch(rest)
        name = None if alone is None or len(rest) > MAX_NAME + 4 else alone.group(1)
    else:
        name = name_alone(rest)
    return None if name is None else (m.group(0), name)


def parse(
    text: str, source: str, options: ParseOptions, apart: Collection[int] = ()
) -> list[Utterance]:
    """The utterances of the text; `apart`: lines never joined to the lines around them
    (`_join_wrapped`), each one line of the game as it is."""
    return list(iter_parse(text, source, options, apart))


def _chunks(text: str) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = text.find("\n", start + CHUNK_CHARS)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _is_command(line: str) -> bool:
    return (line[0] in _CODE_FIRST or line[-1] in _CODE_LAST or "=" in line) and (
        is_code(line) or TAGS_ONLY.match(line) is not None
    )


def _open_sentence(text: str) -> str | None:
    """The opener of a said line left open with no quote (`_OPEN_SENTENCES`), or None."""
    for opener, (_, still_open) in _OPEN_SENTENCES.items():
        if still_open.search(text) is not None:
            return opener
    return None


def _join_wrapped(
    lines: list[Utterance], final: bool, apart: Collection[int] = ()
) -> tuple[list[Utterance], list[Utterance]]:
    """The utterances with each wrapped quote (or unquoted English sentence) joined into
    its said line, and the tail to hold for the next slice (empty when `final`): a said
    line whose quote is still open at the end of this slice, with the few lines read
    after it. No line in `apart` is joined to another."""
    out: list[Utterance] = []
    i, count = 0, len(lines)
    while i < count:
        first = lines[i]
        opener = None
        if first.speaker is not None and first.line not in apart:
            m = _UNCLOSED.search(first.text)
            if m is not None:
                opener = m.group(0)[0]
            elif _STRAIGHT in first.text and first.text.count(_STRAIGHT) % 2:
                opener = _STRAIGHT
            else:
                opener = _open_sentence(first.text)
        if opener is None:
            out.append(first)
            i += 1
            continue
        closer = _WRAPPED.get(opener, opener)
        sentence = _OPEN_SENTENCES.get(opener)
        j, closed, stopped = i, False, False
        while j + 1 < count and j - i < MAX_WRAPPED_LINES:
            below = lines[j + 1]
            if (
                below.speaker is not None
                or below.line != lines[j].line + 1  # a blank, a command, a marker between
                or below.scene != first.scene
                or below.dropped is not None
                or below.line in apart
            ):
                stopped = True
                break
            if sentence is not None:
                goes_on, still_open = sentence
                if goes_on.match(below.text) is None:
                    stopped = True
                    break
                j += 1
                closed = True
                if still_open.search(below.text) is None:
                    stopped = True  # the sentence ends: nothing below is part of it
                    break
                continue
            if opener == _STRAIGHT:
                quotes = below.text.count(_STRAIGHT)
                at_close, at_open = (0, -1) if quotes % 2 else (-1, 0 if quotes else -1)
            else:
                at_close, at_open = below.text.find(closer), below.text.find(opener)
            if at_open >= 0 and not 0 <= at_close < at_open:
                stopped = True  # a quote of its own begins: narration, not the rest
                break
            j += 1
            if at_close >= 0:
                closed = True
                break
        # A sentence left open at the end of the slice may go on in the next one.
        quoted = sentence is None
        if closed and (quoted or stopped or final or j - i >= MAX_WRAPPED_LINES):
            text = join_pieces(u.text for u in lines[i : j + 1])
            out.append(Utterance(first.speaker, text, first.source, first.line, first.scene))
            i = j + 1
        elif not final and not stopped and j - i < MAX_WRAPPED_LINES:
            return out, lines[i:]  # the closer may be in the next slice
        else:
            out.append(first)
            i += 1
    return out, []


_MAX_NAMES = 4096


class _TidyNames(dict[str, str]):
    """Each speaker's name as written → `tidy_name` of it. A script names a few speakers
    over and over: a dict lookup (in C) per line instead of a Python call, and each name is
    then one string object, whose hash the later stages' lookups find already computed.
    Emptied at `_MAX_NAMES`: a dump of ever new names holds no more than that."""

    def __missing__(self, name: str) -> str:
        if len(self) >= _MAX_NAMES:
            self.clear()
        # "" for no name: one without a letter or ideograph (`-`, `#`, `1`) is
        # punctuation or a number before a colon; `??` is the unknown speaker.
        tidy = self[name] = tidy_name(name) if _LETTER.search(name) or _UNKNOWN.match(name) else ""
        return tidy


class _PlainNames(dict[str, bool]):
    """Each speaker's name as written → whether a line it says with no quote after it is
    that speaker's whatever it says: a name (`_TidyNames`) that is no number, no longer
    than a name may be, and not in ASCII (an ASCII one may start a command, whose text
    tells). Most lines of a Chinese or Japanese script are such; one dict lookup passes
    them by the tests the others need. Emptied at `_MAX_NAMES`, as `_TidyNames`."""

    def __init__(self, names: _TidyNames) -> None:
        super().__init__()
        self._names = names

    def __missing__(self, name: str) -> bool:
        if len(self) >= _MAX_NAMES:
            self.clear()
        plain = self[name] = (
            not name.isascii()
            and len(name) <= MAX_NAME
            and name[0] not in _DIGITS
            and bool(self._names[name])
        )
        return plain


_LETTER = re.compile(r"[^\W\d_]")
_UNKNOWN = re.compile(r"[?？]{2}")
# A Latin name before a quote with no colon between is Capitalised (`Jessica "Why?!"`):
# a sentence's start is not (`the word "FIN" is…`, `It will "certainly" be…`).
_LOWER_WORD = re.compile(r"(?:^|\s)[a-z]")
# A file path in quotes after a command (ONScripter's `bg "bmp\bg\fan2.bmp",22`).
_PATH = re.compile(r"\\[^\\\s\"]*\.[A-Za-z0-9]{2,4}\b")


# What a line may end with after its closing quote: page-end marks (ONScripter's `\\`,
# CatSystem2's `@`, `\\@`), KAG click waits (`[p]`, `[l]`) and blanks.
_PAGE_END_MARKS = " \t\u3000\\@"
_CLICK_TAG_AT_END = re.compile(r"\[[a-z]{1,8}\]\Z")


# A bracketed name that ends in a reading in kana: `[夏子/なつこ]` (`drop_bracket_ruby`).
_KANA_READING = re.compile(rf"/[{KANA}]++\Z")


def _quote_is_the_line(said: str) -> bool:
    """Whether the quote `said` opens is all of it: it closes at the end (page marks
    aside) or is left open for the lines below (`亚托莉「今天的天气` / `真好啊」`). A quote
    closed before more words is narration that starts with a name: `亚托莉“嗯”了一声。`,
    `脑海里闪过“迟到”二字…`, `俺にとっては『悪友』の一言がふさわしい。`."""
    opener = said[0]
    closer = QUOTE_PAIRS[opener]
    body = said.rstrip(_PAGE_END_MARKS)
    # `endswith` first: the search would scan the whole line for a tag that must end it.
    while body.endswith("]") and (tag := _CLICK_TAG_AT_END.search(body)) is not None:
        body = body[: tag.start()].rstrip(_PAGE_END_MARKS)
    if len(body) > 1 and body.endswith(closer):
        return True
    if opener == closer:
        return said.count(opener) % 2 == 1  # an odd one is left open
    return closer not in said


def _said_after_quote(name: str, said: str, options: ParseOptions) -> bool:
    """Whether `name "said"` (a quote straight after the name, no colon) is a speaker's
    line: a Latin name is Capitalised or an alias, the quote holds no file path, and it
    closes at the line's end (or not on this line at all)."""
    if "\\" in said and _PATH.search(said) is not None:
        return False
    if not _quote_is_the_line(said):
        return False
    if name.isascii() and _LOWER_WORD.search(name) is not None:
        return is_alias(
            tidy_name(name), options.speaker_aliases, options.convert_name
        ) or _speech_label(name, options)
    return True


# An English novel's line of one speaker's words, said by whom around a quote: `Atri said
# softly, "…"` and `"…," Atri said quietly.` (a quote and a name that ends in a verb, as
# `Atri said: "…"` is one). A speaker's only when the name is an alias and a verb
# (`_speech_label`): `"I'm Atri," she said.` stays narration.
_SAID_BY = rf"(?P<name>[^\s\"“”,][^\"“”,\n]{{0,{MAX_NAME}}}?[a-z])"
_SAYS_THEN_QUOTE = re.compile(rf"{_SAID_BY}{_SP},{_SP}(?=[\"“])")
_QUOTE_THEN_SAYS = re.compile(rf"(?P<quote>\"[^\"\n]+\"|“[^”\n]+”){_SP}{_SAID_BY}{_SP}[.,]?")
# The comma that ends a quote before who said it (`"Wait a moment," Atri said.`): it ends
# the sentence, said alone.
_COMMA_IN_QUOTE = re.compile(r",(?=[\"”]\Z)")


def _attributed(line: str, options: ParseOptions) -> tuple[str, str] | None:
    """(name, quote) of a line of one speaker's words said around a quote
    (`_SAYS_THEN_QUOTE`, `_QUOTE_THEN_SAYS`), or None for any other line."""
    if line[0] in '"“':
        said = _QUOTE_THEN_SAYS.fullmatch(line)
        if said is None:
            return None
        name, quote = said.group("name"), _COMMA_IN_QUOTE.sub(".", said.group("quote"))
    else:
        said = _SAYS_THEN_QUOTE.match(line) if "," in line else None
        if said is None or not _quote_is_the_line(quote := line[said.end() :]):
            return None
        name = said.group("name")
    return (tidy_name(name), quote) if _speech_label(name, options) else None


def _speech_label(name: str, options: ParseOptions) -> bool:
    """Whether a name is an alias and an English verb after it (`Atri said`, `Atri softly
    said`): the names `_SAID_BY` reads end in one."""
    aliases = options.speaker_aliases
    if not aliases:
        return False
    written = name if options.convert_name is None else options.convert_name(name)
    return (
        english_alias_and_verb(normalise_name(written), written, aliases.__contains__) is not None
    )


def iter_parse(
    text: str, source: str, options: ParseOptions, apart: Collection[int] = ()
) -> Iterator[Utterance]:
    """Utterances in order, produced a slice of the text at a time."""
    for batch in iter_batches(text, source, options, apart):
        yield from batch


def iter_batches(
    text: str, source: str, options: ParseOptions, apart: Collection[int] = ()
) -> Iterator[list[Utterance]]:
    """Utterances in order, a list for each slice of the text (what `iter_parse` yields
    one by one): a stage that loops over a list pays no generator step per line.
    `apart`: lines never joined to the lines around them."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if is_subtitles(source):
        text = as_dump(text)  # cue times and tags out, voices named
    markers = marker_lines(text, options.scene_marker)
    scene = "0"
    scenes = 0
    pending: str | None = None
    pending_direction = ""  # a direction before that name: `(sighs) Natsuki:`
    # The line of the last `名字：` with nothing said: an alias's words on the very next
    # line are that speaker's even unquoted (`亚托莉：` / `今天天气真好。`).
    colon_line = -1
    # The name of the last `＃名前` line: while it is the one pending, each quoted line
    # below is theirs, not only the first (a dump writes it once over a speaker's lines).
    sharp_name = ""
    # A line that is only an alias (`亚托莉`): it names the quoted line right below it
    # (`亚托莉` / `「早上好」`); with any other line below, it is narration after all.
    bare: Utterance | None = None
    # A said line whose quote is open at the end of a slice, and the lines after it.
    held: list[Utterance] = []
    line = 0
    names = _TidyNames()
    plain_names = _PlainNames(names)
    with gc_paused():
        for chunk in _chunks(text):
            out: list[Utterance] = []
            append = out.append
            chunk_lines: list[str] | None = None
            first = line + 1
            matches = LINE.findall(chunk)
            # A slice ending in a newline also "matches" the empty line after it: not a line.
            del matches[chunk.count("\n") + (not chunk.endswith("\n")) :]
            for line, (direction, s1, t1, s3, t3, s2, q, t2, narration) in enumerate(
                matches, first
            ):
                if bare is not None:
                    if line != bare.line + 1 or not narration or not is_quoted(narration):
                        append(bare)
                        pending = None
                    bare = None
                if line in markers:
                    scenes += 1
                    scene = str(scenes)
                    pending = None
                elif s2:
                    pending = None
                    if q and s2[0] in "#＃":
                        # `＃アトリ「…」`: a dump's name line with the line on it; a cue or
                        # heading in its place (`#BGM「…」`) names no one ("#": narration).
                        s2 = sharp_name_line(s2) or "#"
                    if not q and plain_names[s2]:
                        append(Utterance(names[s2], direction + t2, source, line, scene))
                        continue
                    digit_first = s2[0] in _DIGITS  # asked twice below: a CJK s2[0] is a new str
                    # "10:30 起床" is narration with a time in it, not a speaker called "10".
                    if len(s2) > MAX_NAME or (digit_first and s2.replace(" ", "").isdigit()):
                        if chunk_lines is None:
                            chunk_lines = chunk.split("\n")  # once, and only for these rare lines
                        whole = chunk_lines[line - first].strip()
                        if not _is_command(whole):
                            append(Utterance(None, whole, source, line, scene))
                    elif digit_first and (numbered := _NUMBERED.fullmatch(s2)):
                        # `0001 亚托莉：…`, `12. Atri: …`: a dump's line number before the name.
                        name = numbered.group(1)
                        append(Utterance(names[name], direction + t2, source, line, scene))
                    elif not names[s2] or (q and not _said_after_quote(s2, t2, options)):
                        if chunk_lines is None:
                            chunk_lines = chunk.split("\n")
                        whole = chunk_lines[line - first].strip()
                        if not _is_command(whole):
                            append(Utterance(None, whole, source, line, scene))
                    elif s2.islower() and s2.isascii() and "a" <= t2[0] <= "z":
                        # `csp 5:csp 6:facereset`, `bgm:track1`: lower-case ASCII words on
                        # both sides of an ASCII colon with no blank after it are commands
                        # (ONScripter's `:` joins them), not a speaker "csp 5".
                        if chunk_lines is None:
                            chunk_lines = chunk.split("\n")
                        whole = chunk_lines[line - first].strip()
                        if ":" + t2 not in whole:
                            append(Utterance(names[s2], direction + t2, source, line, scene))
                        elif not whole.isascii():
                            append(Utterance(None, whole, source, line, scene))
                    elif s2.isascii() and ("(" in s2 or "(" in t2 or "=" in t2):
                        # `anim:fade_out(bgm)` is a command, not a speaker "anim"; nor is
                        # XUnity's `r:"^所持数([0-9]+)$"=Owned - $1` a line of "r".
                        if chunk_lines is None:
                            chunk_lines = chunk.split("\n")
                        # A direction before it is no part of the command: `(a) anim:…`.
                        said = chunk_lines[line - first].strip()[len(direction) :]
                        if not _is_command(said) and '"=' not in t2:
                            append(Utterance(names[s2], direction + t2, source, line, scene))
                    else:
                        append(Utterance(names[s2], direction + t2, source, line, scene))
                elif narration:
                    head = narration[0]  # one str for the tests below, not one each
                    if pending is not None and (
                        is_quoted(narration)
                        # `亚托莉：` / `今天天气真好。`: an alias's words unquoted on the very
                        # next line (never a bracket, an aside or a command).
                        or (
                            colon_line == line - 1
                            and head not in "[【『(（〔<@;#"
                            and narration[-1] not in "：:"
                            and bool(options.speaker_aliases)
                            and is_alias(
                                tidy_name(pending), options.speaker_aliases, options.convert_name
                            )
                            and not _is_command(narration)
                        )
                    ):
                        append(
                            Utterance(
                                tidy_name(pending),
                                pending_direction + narration,
                                source,
                                line,
                                scene,
                            )
                        )
                        if pending == sharp_name:
                            continue  # it names the quoted line below too
                    elif (
                        head == "["
                        and options.speaker_aliases
                        and (
                            tagged := alias_tag(
                                narration, options.speaker_aliases, options.convert_name
                            )
                        )
                        is not None
                    ):
                        # `[atri] Good morning!`: an alias in brackets is its speaker, where
                        # any other lower-case `[word]` is a KAG tag (and `[L]` is one too).
                        if not tagged[1]:
                            pending, pending_direction = tagged[0], ""
                            continue
                        append(Utterance(tagged[0], tagged[1], source, line, scene))
                    elif head in "[【" and HEADING_LINE.fullmatch(narration) is not None:
                        if SOUND_LINE.fullmatch(narration) is not None:
                            continue  # a voice cue between `【名字】` and its line
                    # A `【名字】` line alone (`【名字】：` too) names the speaker of a quoted
                    # line below it.
                    elif head == "【" and (name := _lenticular_alone(narration)):
                        pending = name
                        pending_direction = ""
                        continue
                    elif (
                        head == "["
                        and narration[-1] in "]：:"
                        and len(narration) <= MAX_NAME + 4
                        and (alone := _BRACKET_ALONE.fullmatch(narration)) is not None
                    ):
                        pending = alone.group(1)
                        pending_direction = ""
                        continue
                    # "名字：" with nothing said: no narration; it may name the line below.
                    elif narration[-1] in "：:" and (name := name_alone(narration)) is not None:
                        pending = name
                        pending_direction = ""
                        colon_line = line
                        continue
                    elif head in "#＃" and (name := sharp_name_line(narration)) is not None:
                        pending, pending_direction = name, ""
                        colon_line = line
                        sharp_name = name
                        continue
                    elif head in "(（[" and (directed := _directed_alone(narration)) is not None:
                        pending_direction, pending = directed
                        continue
                    elif head == "『" and (corner := _CORNER_NAME.fullmatch(narration)):
                        # `『亚托莉』：早上好`: a name in white corner brackets, before a colon.
                        if not corner.group(2):
                            pending, pending_direction = corner.group(1), ""
                            continue
                        append(
                            Utterance(
                                tidy_name(corner.group(1)), corner.group(2), source, line, scene
                            )
                        )
                    elif (
                        len(narration) <= MAX_NAME
                        and narration[-1] not in _SENTENCE_END
                        and options.speaker_aliases
                        and is_alias(
                            tidy_name(narration), options.speaker_aliases, options.convert_name
                        )
                    ):
                        bare = Utterance(None, narration, source, line, scene)
                        pending, pending_direction = tidy_name(narration), ""
                        continue
                    elif (
                        options.speaker_aliases
                        and ('"' in narration or "“" in narration)
                        and (attributed := _attributed(narration, options)) is not None
                    ):
                        append(Utterance(*attributed, source, line, scene))
                    elif not _is_command(narration):
                        append(Utterance(None, narration, source, line, scene))
                    pending = None
                elif s1:
                    append(Utterance(names[s1], direction + t1, source, line, scene))
                    pending = None
                elif s3:
                    pending = None
                    if "/" in s3 and _KANA_READING.search(s3) is not None:
                        if chunk_lines is None:
                            chunk_lines = chunk.split("\n")
                        whole = chunk_lines[line - first].strip()
                        if f"[{s3}]{t3}" in whole and t3[0] not in _QUOTES:
                            # `[夏子/なつこ]さんとの…`: a reading in kana, the text going
                            # straight on: ruby in narration, not a speaker.
                            append(Utterance(None, drop_bracket_ruby(whole), source, line, scene))
                            continue
                    if len(s3) <= MAX_NAME:
                        append(Utterance(names[s3], direction + t3, source, line, scene))
                        continue
                    if chunk_lines is None:
                        chunk_lines = chunk.split("\n")
                    whole = chunk_lines[line - first].strip()
                    if not _is_command(whole):
                        append(Utterance(None, whole, source, line, scene))
            if (
                held
                or _MAY_BE_WRAPPED.search(chunk) is not None
                # Its last line a sentence that may go on in the next slice.
                or (out and out[-1].speaker and _open_sentence(out[-1].text) is not None)
            ):
                out, held = _join_wrapped(held + out, False, apart)
            yield out
        if held:
            yield _join_wrapped(held, True, apart)[0]
        if bare is not None:
            yield [bare]
