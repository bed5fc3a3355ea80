r"""ONScripter / NScripter scripts: `0.txt`, `00.txt`–`99.txt`, `nscript.dat`, `nscript.___`.

A line is one of: a comment (`; …`); a label (`*start`), which starts a scene; a
command line (an ASCII command word first: `bg "a.jpg",2`, `dwave 0,"v.ogg"`, `csp 5:csp
6:facereset`, several joined by `:`; `if %a==1 goto *x`), never said; or a text line
(anything else: CJK text, `` `English` `` in backquotes, `!s0`/`#ffffff` codes first).

Text shows as the engine shows it: a line ending in `\` ends a page (the text box is
cleared), `@` waits for a click in the same box, `/` joins the next line with no line
break, and a line with none of them goes on in the same box on the next row. So one
utterance is one page: the text from one `\` to the next. A new speaker on a line (or a
naming command) starts a new utterance even without a `\` before it.

Speakers: `【名】「…」`, `名「…」` (a short name right before the opening quote), a
`pretextgosub` tag `[1|【名】|voice-id]` before the text (its second field the name; natsu's
layout), and a naming command before the text (`msgName "名"`, `name_set "id","名"`: a
command whose word holds "name", its last string the name) that names the next text
line. A text line with no speaker is narration. `select`/`csel` choices end the exchange,
as the player picks there.

Inline codes are deleted from the words: `!w100`, `!d100`, `!s0`, `!sd`, `#RRGGBB`
colours, the backquotes around English text, `_` before a clickstr character, and ruby
(`(漢字/かんじ)`, and `{…/…}`, `[…/…]` as some ports write it), of which the base is
kept.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath

from dataprep.formats.common import HEADING_LINE, ParseOptions, join_pieces, tidy_name
from dataprep.records import Utterance

# File names ONScripter reads its script from (`nscript.dat` is decrypted as it is read,
# a decrypted `nscript.___` keeps its name; ponscripter's is `0.utf`).
SCRIPT_NAMES = re.compile(
    r"(?:\d{1,2}(?:\.utf)?\.txt|\d{1,2}\.utf|nscript\.(?:dat|___))", re.IGNORECASE
)

# The commands of NScripter/ONScripter that scripts use most: a line starting with one is
# a command, even where it reads as a word (`print 10`, `wait 300`, `select "a",*a`).
_COMMAND_WORDS = """
    abssetcursor add allsphide allspresume amsp atoi autoclick automode automode_time avi
    bar barclear bg bgcopy bgm bgmonce bgmstop bgmvol blt br btn btndef btndown btntime
    btntime2 btnwait btnwait2 caption cell checkpage chvol cl click clickstr clickvoice
    cmp csel cselbtn cselgosub csp csp2 date dec defaultfont defaultspeed definereset defsub
    defvoicevol delay dim div draw drawbg drawclear drawsp drawtext dwave dwaveload
    dwaveloop dwaveplay dwaveplayloop dwavestop effect effectblank effectcut end
    erasetextwindow exec_dll fileexist filelog for getbgmvol getbtntimer getcselnum
    getcursor getcursorpos getenter getfunction getini getlog getmousepos getparam
    getpage getret getreg getscreenshot getsevol getspmode getspsize gettab gettag
    gettext gettimer getversion getvoicevol getzxc globalon gosub goto humanz if inc
    input isdown isfull isskip itoa jumpb jumpf kidokuskip killmenu labellog language ld
    len linepage locate loadgame loadgosub lookbackbutton lookbackcolor lookbacksp
    lookbackflush loopbgm loopbgmstop lr_trap lsp lsp2 lsph lsph2 maxkaisoupage menu_full
    menu_window menuselectcolor menuselectvoice menusetwindow mid mod monocro mov mov10
    mov3 mov4 mov5 mov6 mov7 mov8 mov9 movemousecursor movie mp3 mp3fadeout mp3loop
    mp3save mp3stop mp3vol msp msp2 mul mpegplay next notif nsa nsadir numalias ofscpy
    play playonce playstop print prnum prnumclear puttext quake quakex quakey resettimer
    reset return rmenu rmode roff rnd rnd2 savefileexist savegame savename savenumber
    saveoff saveon savescreenshot savetime select selectcolor selectvoice selgosub
    selnum sevol setcursor setlayer setwindow setwindow2 setwindow3 skipoff sp_rgb_gradation
    spbtn spi spreload spstr split stop stralias strsp sub systemcall tablegoto tal tan
    texec textbtnwait textclear textgosub textoff texton textspeed time transmode trap
    underline useescspc usewheel versionstr voicevol vsp vsp2 wait waittimer wave
    waveloop wavestop windowback windoweffect windowerase game pretextgosub rubyon rubyoff
    textshow textcolor bgmfadein bgmfadeout mp3fadein amsp2 lsp2 getskipoff
"""
COMMANDS = frozenset(_COMMAND_WORDS.split())
# The commands where the player picks a choice: the exchange ends there.
_CHOICES = frozenset({"select", "selgosub", "selnum", "csel", "cselgosub", "cselbtn"})

# A `defsub name` line: the script's own command, used as a command word after it.
_DEFSUB = re.compile(r"defsub\s+(\w+)", re.IGNORECASE)
# A command's word, and the rest of it.
_COMMAND_WORD = re.compile(r"([A-Za-z_]\w*)(.*)", re.DOTALL)
# A command with a string first (`msgName "恋"`, `nm "恋",1`, `name_set "ren","恋"`): a
# naming command where its word holds "name" or is `nm` (`_names`). The name is its last
# string (the first may be an id); "" names nobody (narration).
_NAMING = re.compile(r'(?P<word>\w+)\s+"')
_STRING = re.compile(r'"([^"]*)"')
# One of the commands joined on a line by `:` outside quotes: `csp 5:csp 6:facereset`,
# `lsp 5,":a;face.png",10` (its colon quoted).
_COMMAND_PART = re.compile(r'(?:[^:"]|"[^"]*"?)+')

# natsu's pretextgosub tag before the text: `[1|【　恋　】|ren-A01-0011]` (a number, the
# name in brackets or empty, a voice id or empty); its name may be bare.
_TAG_PREFIX = re.compile(r"\[[^\[\]|]*\|(?P<name>[^\[\]|]*)\|[^\[\]]*\]")
# A name in lenticular brackets before the words: `【森　罗】「…」`, `【恋】……`.
_BRACKET_NAME = re.compile(r"【(?P<name>[^【】]{1,24})】")
# A short name right before an opening quote that the line's end closes: `恋「早上好」\`,
# `Ren「…」`; no punctuation in it, so that `然后，她说「好」` stays narration.
_QUOTE_NAME = re.compile(
    r"(?P<name>[^\s「『【】\"“（(\[!#`，。、！？…—：；,.!?:;]{1,8})"
    r"(?=[「『][^「『]*[」』][\\@/\s]*$)"
)

# Inline codes: waits (`!w100`, `!d100`), speeds (`!s0`, `!sd`), colours (`#ffcc00`),
# the click waits and page ends inside a line, clickstr's `_`, English text's backquotes.
_INLINE_CODES = re.compile(r"!(?:sd|[wds]\d+)|#[0-9A-Fa-f]{6}|`|_(?=[^\x00-\x7f])")
# ponscripter's `^…^` around English text (07th-mod's Umineko) and its formatting codes
# (`~ib~` bold italic, `~i~`, `~x+10~`), deleted from its lines only: a Chinese port's
# kaomoji keep theirs (`↖(^ω^)↗`).
_PONSCRIPTER_CODES = re.compile(r"\^|~[a-z][a-z0-9+=-]*~")
# The marks that end a page, wait for a click or join a row.
_PAGE_MARKS = re.compile(r"[\\@/]")
# Ruby: `(漢字/かんじ)` in NScripter, `{…/…}` or `[…/…]` in some ports; the base is kept.
_RUBY = re.compile(r"[(\[{](?P<base>[^()\[\]{}/\s]{1,16})/[^()\[\]{}/\n]{1,24}[)\]}]")
# A line of English prose that ONScripter-EN scripts leave without backquotes: a word
# that is no command, then at least two more words.
# 07th-mod's Umineko writes each line twice, `langjp` then `langen` first: the rest of
# the line is its commands and words joined by `:` (`langen:dwave_eng 0, rud_1e252:^"It
# wasn't one of us.^@`, `langjp　楼座は…\`).
_LANGUAGE_LINE = re.compile(r"lang(?P<lang>jp|en)(?![A-Za-z0-9_])")
# One of its pieces between colons outside `^…^`.
_LANGUAGE_PART = re.compile(r"(?:[^:^]|\^[^^]*\^?)+")
# ponscripter's typographic single quote: `` `friendly' `` is shown ‘friendly’.
_SINGLE_QUOTED = re.compile(r"`([^`'\n]*)'")
# 07th-mod's comment naming the speaker of the text line above it: `;＜ベアト`.
_SPEAKER_MARK = re.compile(r";＜(?P<name>[^＜＞;:：。\\]{1,24})$")
# 07th-mod's `advchar "08"`: the character speaking the lines below (its face in ADV mode);
# "-1" is narration. Named by the `;＜名` marks below that character's lines.
_ADVCHAR = re.compile(r'advchar\s+"(?P<id>-?\d+)"', re.IGNORECASE)
# Opening and closing quote marks: a quote starts a new utterance in a box left open.
_OPENERS = '「『"“'
_CLOSERS = '」』"”'
_PROSE = re.compile(r"[A-Za-z'][\w']*[,.!?]?(?:\s+[\w'\"“‘][\w'.,!?;\"”’-]*){2,}[\\@/]?")


def is_script_name(filename: str) -> bool:
    """Whether a file's name is one ONScripter reads its script from."""
    return SCRIPT_NAMES.fullmatch(PurePath(filename).name) is not None


@dataclass
class _Reader:
    """The text box being filled, and where the script is."""

    source: str
    out: list[Utterance] = field(default_factory=list)
    commands: set[str] = field(default_factory=lambda: set(COMMANDS))
    scene: int = 0
    branch: int = 0
    named: str | None = None  # a naming command's speaker, for the next text line
    speaker: str | None = None
    pieces: list[str] = field(default_factory=list)
    line: int = 0
    joined: bool = False  # the last line ended in `/`: the next goes on the same row
    spaced: bool = False  # and ended in a blank before it (English words go on after one)
    # What the last line was, for a `;＜名` mark below it: "text" (it names that line),
    # "hidden" (a comment or the language not read: it names the next text line) or
    # "command" (it names nothing: a mark left behind where its line was deleted).
    above: str = "command"
    characters: dict[str, str] = field(default_factory=dict)  # advchar id → name
    character: str | None = None  # the name of the advchar in force

    def flush(self) -> None:
        text = join_pieces(self.pieces)
        if text:
            self.out.append(
                Utterance(
                    self.speaker,
                    text,
                    self.source,
                    self.line,
                    str(self.scene),
                    branch=self.branch,
                    shown=True,
                )
            )
        self.pieces, self.speaker, self.joined, self.spaced = [], None, False, False

    def command(self, line: str) -> None:
        """A command line: a choice ends the exchange, a naming command names the next
        text; every other command is stage work."""
        for part in _COMMAND_PART.findall(line):
            part = part.strip()
            word = part.split(None, 1)[0].lower() if part else ""
            if word in _CHOICES:
                self.flush()
                self.branch += 1
            elif (advchar := _ADVCHAR.match(part)) is not None:
                self.character = self.characters.get(advchar["id"])
            elif (m := _NAMING.match(part)) is not None and _names(m["word"].lower()):
                self.flush()
                names = [n for n in _STRING.findall(part) if n.strip()]
                self.named = tidy_name(_unbracketed(names[-1])) if names else None

    def text(self, number: int, line: str) -> None:
        """A text line: its speaker, if it names one, and its words into the box."""
        speaker, said = _speaker_and_text(line)
        if speaker is not None and not _shown(_PAGE_MARKS.sub("", said)).strip():
            self.flush()
            self.named = speaker  # `【恋】` alone: the name box of the text line below
            return
        if speaker is None:
            speaker = self.named if self.named is not None else self.character
        if self.pieces and self.joined:
            self.speaker = self.speaker or speaker  # it goes on the row (`/`): the box's
        elif self.pieces and (speaker is not None or self._turns(said)):
            self.flush()  # a new speaker's words, or a quote: a new line said
        self.named = None
        self.above = "text"
        if not self.pieces:
            self.speaker, self.line = speaker, number
        pages = said.split("\\")
        for at, page in enumerate(pages):
            if at:
                self.flush()
                self.line = number
            self.add(page)

    def _turns(self, said: str) -> bool:
        """Whether a line in a box left open (after `@`, not `/`) is another line said: a
        quote opening, or narration after a closed quote (`「…」@` then `　楼座は…`)."""
        if self.joined:
            return False
        opens = _shown(said).lstrip(" \u3000")[:1] in _OPENERS
        closed = self.pieces[-1].rstrip()[-1:] in _CLOSERS
        return opens or closed

    def mark(self, name: str) -> None:
        """A `;＜名` mark: the speaker of the text line right above it; below the Japanese
        commented out (or its `langjp` line), of the next text line."""
        if self.above == "hidden":
            self.named = name
        elif self.above == "text" and self.pieces and self.speaker is None:
            self.speaker = name
        elif self.above == "text" and not self.pieces and self.out:
            self.out[-1].speaker = self.out[-1].speaker or name
        self.above = "command"

    def add(self, words: str) -> None:
        """Words of the box; a trailing `/` joins the next line's words on the row."""
        joins = words.rstrip().endswith("/")
        words = _shown(words.rstrip().removesuffix("/").replace("@", ""))
        if words.strip() and self.joined and self.pieces:
            blank = self.spaced and not words[:1].isspace()
            self.pieces[-1] += (" " if blank else "") + words.rstrip()
        elif words.strip():
            self.pieces.append(words.strip())
        self.joined = joins
        self.spaced = words[-1:] in (" ", "\t")


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    marker = options.scene_marker.match if options.scene_marker else None
    reader = _Reader(source, characters=_advchar_names(text))
    reader.commands.update(m.group(1).lower() for m in _DEFSUB.finditer(text))
    read = "jp" if options.dump_side == "original" else "en"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if (mark := _SPEAKER_MARK.match(line)) is not None:
            reader.mark(tidy_name(mark["name"]))
            continue
        if not line:
            continue
        reader.above = "hidden" if line.startswith(";") else "command"
        if line.startswith((";", "~")):
            continue  # a comment, a jumpf/jumpb mark
        if (language := _LANGUAGE_LINE.match(line)) is not None:
            if language["lang"] != read:
                reader.above = "hidden"
            elif words := _language_words(line[language.end() :]):
                reader.text(number, words)  # text, however short: its commands are out
            continue
        if line.startswith("^"):
            reader.text(number, _PONSCRIPTER_CODES.sub("", line))  # ponscripter's English
            continue
        if line.startswith("*"):
            reader.flush()
            reader.scene += 1  # a label: where goto lands, a new scene
            reader.named = None
            continue
        if is_command(line, reader.commands):
            reader.command(line)
            continue
        if marker is not None and not reader.pieces and marker(_shown(line).strip()):
            reader.scene += 1
            continue
        reader.text(number, line)
    reader.flush()
    return reader.out


def _advchar_names(text: str) -> dict[str, str]:
    """Each `advchar` id → the name the `;＜名` marks among its lines give most often."""
    if "advchar" not in text:
        return {}
    seen: dict[str, Counter[str]] = {}
    character = None
    for line in text.splitlines():
        line = line.strip()
        if (advchar := _ADVCHAR.match(line)) is not None:
            character = advchar["id"] if advchar["id"] != "-1" else None
        elif character is not None and (mark := _SPEAKER_MARK.match(line)) is not None:
            seen.setdefault(character, Counter())[tidy_name(mark["name"])] += 1
    return {key: names.most_common(1)[0][0] for key, names in seen.items()}


def _language_words(rest: str) -> str:
    """The words of a `langjp`/`langen` line, its commands (`dwave_eng 0, x:`) left out;
    ponscripter shows `` `friendly' `` as ‘friendly’ (no backquote mode there)."""
    parts = (part for part in _LANGUAGE_PART.findall(rest) if part.strip())
    words = "".join(part for part in parts if not _COMMAND_WORD.match(part.strip())).strip()
    return _SINGLE_QUOTED.sub(r"‘\1’", _PONSCRIPTER_CODES.sub("", words)).replace("`", "‘")


def is_command(line: str, commands: set[str] | frozenset[str] = COMMANDS) -> bool:
    """Whether a stripped line is a command: an ASCII word first, unless the word is no
    command and the line reads as English prose (`Well, I suppose so.\\`)."""
    m = _COMMAND_WORD.match(line)
    if m is None:
        return False
    if m.group(1).lower() in commands:
        return True
    return _PROSE.fullmatch(line) is None


def is_known_command(line: str) -> bool:
    """Whether a stripped line starts with one of NScripter's own commands."""
    m = _COMMAND_WORD.match(line)
    return m is not None and m.group(1).lower() in COMMANDS


def _names(word: str) -> bool:
    """Whether a command word is a script's naming command (`msgname`, `setname`, `nm`);
    NScripter's own (`savename`) are not."""
    return ("name" in word or word == "nm") and word not in COMMANDS


def _speaker_and_text(line: str) -> tuple[str | None, str]:
    """The speaker a text line names (None for narration) and its words."""
    tag = _TAG_PREFIX.match(line)
    if tag is not None:
        name = tidy_name(_unbracketed(tag["name"]))
        return name or None, line[tag.end() :]
    bracket = _BRACKET_NAME.match(line)
    if bracket is not None and not HEADING_LINE.fullmatch(bracket.group()):
        return tidy_name(bracket["name"]) or None, line[bracket.end() :]
    quoted = _QUOTE_NAME.match(line)
    if quoted is not None:
        return tidy_name(quoted["name"]), line[quoted.end() :]
    return None, line


def _unbracketed(name: str) -> str:
    """A name without the `【】` around it."""
    name = name.strip().strip("\u3000")
    if name.startswith("【") and name.endswith("】"):
        name = name[1:-1]
    return name


def _shown(words: str) -> str:
    """The words as the box shows them: inline codes deleted, ruby's base kept."""
    return _RUBY.sub(r"\g<base>", _INLINE_CODES.sub("", words))
