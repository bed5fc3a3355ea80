"""KiriKiri / KAG `.ks` scenarios, TyranoScript included.

Speakers come from `[nm t="名"]` / `@nm t=名` (`n=` too; for the current message), a game's
own name tag (`[cn name="夏生"]`, learnt from the aliases: `name_tags`), TyranoScript
`#名` lines and the `[chara_ptext name=名]` they stand for (until the next; a bare `#`
clears it) and `【名】` headers (leading a line, or a message after a tag on its line:
`「ねえ」[l][r]【夏生】「ん？」`); a heading there (`【回想】`, `【第三章】`, as plain dumps
have them) names nobody, and a voice cue (`【voice:atr_0012】`) changes no speaker. A
TyranoScript `#akane` names a character by its id: when `[chara_new name="akane"
jname="あかね"]` (in any .ks file given) gives it a display name, the line is credited to
あかね, the name the player sees, and an alias "akane" still names her (see
`with_display_names`). Text runs over `[r]` and line ends until a wait tag (`[l]`, `[p]`,
`[np]`, `[wvl]`) closes the utterance (a click wait, `[l]` or `[wvl]`, inside a quote
left open does not: the quote is one line on screen). Choices (`[link]…[endlink]`) are no
one's line, nor a macro's body (`[macro name=…]…[endmacro]`), which is only its
definition: where a macro is called, the tags of its body run (`macro_tags`, from any .ks
file given), so a name macro (`@汐里 voice=shi_0001`, `[汐里]「…」`) names the speaker with
its `[nm]` or `#` line, the `[emb exp="mp.name"]` it writes to a name box of its own
(`[current layer=message1]`, KAG's) or the `【[emb exp="mp.name"]】` header leading its text
(`t=&mp.name` is `t=%name`; a variable its `[eval]` gives a string first shows that string:
`[eval exp=%name|f.name='Yue']【[emb exp=f.name]】`), and one ending in `[p]` ends the line. A body showing the
call's arguments (`[macro name=say]「[emb exp=mp.text]」[p][endmacro]`, `[say text=…]`)
shows its text there too, as if the script had written it, and so does one showing a
game variable (`[macro name=pn][emb exp=f.name][endmacro]`: `「おかえり、[pn]さん」` is
`[emb exp=f.name]` written there; before a message's text, `[pn]「ただいま」` names the
player, as `【[emb exp=f.name]】` does). A body of fixed text only shows it inside a line
begun (`「好き[heart]」`, a mark), not called on its own (a system message; `macros._MacroBody`).
A tag no file defines names the speaker before a message's text when no tag has its name
(`[汐里]`, not ASCII) and it takes no `text=` (a ruby's reading), or it is one of the
aliases (`@atri`); after a click wait on the page, only before a line said:
`「ねえ」[l][ルビ]夏生さん` is still the page speaker's, the tag markup. Every other tag is
dropped but `[ch text=…]` and `[hch text=…]`, whose text is shown; `;` comments,
`*label` lines, `[iscript]` … `[endscript]` and TyranoScript `[html]` … `[endhtml]` blocks
(to the end tag wherever it is on its line: what follows it is read,
`…;[endscript]「…」`) and lines of script code (`f.flag = 1`, `<| … |>`) are not text,
and a label ends the message and its `[nm]` name (not the name box a `#` line set). A
label starts a new scene unless it is a KAG save point (`*name|title`) standing before a
message: one with no name (`*|`) never does, one with no title or the scene's own title
(`*p12|`, `*p1|第一話`) only where a file given jumps to it (`target=*p12`; `labels`).
The blocks of an `[if]` … `[elsif]` … `[else]` … `[endif]` chain (`@if` too), and of `[if]`
chains in a row, are alternatives: each is a branch forking from the exchange before the
first `[if]`, and what follows the last `[endif]` is a fresh branch (`branches`).
`[emb exp="f.name"]` shows the one string the .ks files given set the variable to (the
player's name as the player keeps it, `variable_values`), as a speaker named `&f.name`
is named by it; with no such value the line has a hole and is marked unusable (its text
keeps `[f.name]` there, so that the run names the variable).
`[[` is a literal `[`, and TyranoScript's backslash shows the mark it escapes (`\\]` is
`]`); its block comments (`/*` … `*/`, each alone on its line) are not text.

`parse` reads a file line by line (`_read`: comments, labels, code blocks and lines,
`#` lines, headers), handing its tags and text to the `Reader`; the same reading counts
what the hints name (`unnamed_calls`, `text_calls`, `unlearnt_name_calls`): definitions
a file's lines seem to lack.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from dataprep.formats.common import ParseOptions, alias_tag, is_code
from dataprep.formats.kirikiri.labels import label, label_targets, starts_scene
from dataprep.formats.kirikiri.names import display_names
from dataprep.formats.kirikiri.reader import BREAK, Reader
from dataprep.formats.kirikiri.syntax import HEADER, TAGS_BEFORE_HEADER, TOKEN, outside_code
from dataprep.formats.kirikiri.tags import READER_TAGS
from dataprep.records import Utterance


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    return _read(text, source, options).out


def unnamed_calls(text: str, options: ParseOptions) -> Counter[str]:
    """Tags no file given defines, ASCII and no command (`@shiori voice=shi_0001`), each
    with how many lines said with no speaker (`「…」`) follow it: name macros, most
    likely, whose definitions (in first.ks or macro.ks) were not given."""
    return _read(text, "", options).unnamed_calls


def text_calls(text: str, options: ParseOptions) -> Counter[tuple[str, str]]:
    """Tags no file given defines, each with an attribute holding what looks like a line's
    text (`[say text="「おはよう」"]` → ("say", "text")), with how many calls give it:
    macros showing the line they are given, most likely, whose definitions (in first.ks or
    macro.ks) were not given, so that every such line is lost."""
    return _read(text, "", options).text_calls


class UnlearntNameTag(NamedTuple):
    """A tag no file given defines whose calls name someone (`[talk name="夏生"]`) before
    lines with no speaker, never learnt as a name tag (`name_tags`): most likely, none of
    its values is one of the aliases."""

    tag: str
    attribute: str
    lines: int  # how many lines with no speaker follow its calls
    values: list[str]  # the values its calls give, the most common first


def unlearnt_name_calls(text: str, options: ParseOptions) -> list[UnlearntNameTag]:
    """The tags of `UnlearntNameTag` in the text, the most lines first: a game's own name
    tags, most likely, whose names match none of the aliases."""
    lines: Counter[tuple[str, str]] = Counter()
    values: dict[tuple[str, str], Counter[str]] = {}
    for (tag, key, value), count in _read(text, "", options).unlearnt_calls.items():
        lines[tag, key] += count
        values.setdefault((tag, key), Counter())[value] += count
    return [
        UnlearntNameTag(tag, key, count, [value for value, _ in values[tag, key].most_common()])
        for (tag, key), count in lines.most_common()
    ]


def _read(text: str, source: str, options: ParseOptions) -> Reader:
    names = options.kirikiri_names
    if "chara_new" in text or "macro" in text:
        names = {**names, **display_names(text)}
    # The labels jumped to come from every file given (`parse_options`); read alone, a
    # file's own. Not for every file the pipeline reads: most hold a `target=`, and
    # `display_names` would run twice over each.
    if not options.kirikiri_targets_gathered and "target" in text:
        names = {**names, **label_targets(text)}
    reader = Reader(source, names, options)
    marker = options.scene_marker.match if options.scene_marker else None
    marks = 0
    scene_title: str | None = None  # the save title of the label starting the scene
    block_end: str | None = None  # the tag ending the code block being skipped
    in_comment = False
    for number, raw in enumerate(text.splitlines(), 1):
        reader.number = number
        line = raw.strip()
        if not line or line[0] == ";":
            continue
        # A TyranoScript block comment: from a line that is only `/*` to one only `*/`
        # (its `*/` is no `*label`, and nothing between is said).
        if in_comment or line == "/*":
            in_comment = line != "*/"
            continue
        if block_end is not None or line[0] in "[@":
            block_end, line = outside_code(line, block_end)  # JavaScript / TJS / HTML
            if not line:
                continue
        head = line[0]
        if is_code(line):
            continue
        if head == "*":
            # The message ends; TyranoScript's name box still shows who it showed. A save
            # point (`*|`, `*p12|`) before each message is no scene of its own.
            reader.end_page()
            found = label(line)
            if starts_scene(found, scene_title, names):
                reader.scene = found.name or str(number)
                scene_title = found.title
            continue
        if head == "@":
            reader.tag(line[1:])
            continue
        if head == "#":
            reader.sharp_line(line)
            continue
        if marker is not None and marker(line):
            reader.set_speaker(None, sticky=False)
            marks += 1
            reader.scene = f"marker{marks}"
            continue
        if head == "[" and options.speaker_aliases:
            # `[atri] おはよう`: a speaker tag in a dump when it names the lead or the
            # character (any other tag stays a tag), unless it is a tag this reader acts on.
            tagged = alias_tag(line, options.speaker_aliases, options.convert_name)
            if tagged is not None and tagged[0].lower() not in READER_TAGS:
                reader.set_speaker(tagged[0], sticky=False)
                line = tagged[1]
                if not line:
                    continue
                head = line[0]
        if head == "_":
            # TyranoScript: a leading "_" keeps the blanks after it; it is not shown.
            line = line[1:]
            if not line:
                continue
            head = line[0]
        if head == "[" and "【" in line and (tags := TAGS_BEFORE_HEADER.match(line)):
            # `[voice storage="atr_0012"]【アトリ】「はい」`: the tags before a header act
            # first, and the header names the speaker as at the start of a line.
            for m in TOKEN.finditer(tags.group(0)):
                if m.group(1) is not None:
                    reader.tag(m.group(1))
            line = line[tags.end() :]
            # In a choice (`[link]【はい】[endlink]`) it is the choice's text, no one's.
            head = "" if reader.in_choice or reader.in_macro else "【"
        header = HEADER.match(line) if head == "【" else None
        if header is not None:
            reader.name_header(header.group(1))
            line = header.group(2)
        for m in TOKEN.finditer(line):
            token = m.group(0)
            if token == "[[" or (token[0] == "\\" and len(token) == 2):
                reader.text(token[-1], number)
            elif token[0] == "[":
                reader.tag(m.group(1) or "")
            else:
                reader.text(token, number)
        # A line end inside a message is a visual break, like [r].
        if reader.parts:
            reader.parts.append(BREAK)
    reader.flush()
    return reader
