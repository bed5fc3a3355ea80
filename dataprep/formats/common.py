"""What every format parser shares: its options and the scene-marker test."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dataprep.errors import DataprepError
from dataprep.speakers import normalise_name


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """Settings a parser needs, already compiled (parsers never see the config object)."""

    scene_marker: re.Pattern[str] | None = None
    custom_regex: re.Pattern[str] | None = None
    # Ren'Py defines characters in one file and uses them in others: the pipeline
    # collects the characters (`define x = Character(...)`, or `x = Character(...)` in
    # Python) from every .rpy file before parsing any (each name as the chosen
    # language's string translations show it).
    renpy_characters: dict[str, str] = field(default_factory=dict)
    # Which Ren'Py say statements are read: "original" (those outside `translate` blocks),
    # a language ("chinese": only the translated lines of its `translate chinese …:`
    # blocks), or None (all of them). The pipeline chooses from [dataprep] renpy_language.
    renpy_language: str | None = None
    # The string translations (`translate <lang> strings:` old → new) of that language,
    # from every .rpy file: what a string said from Python, or a speaker's name, shows in it.
    renpy_strings: dict[str, str] = field(default_factory=dict)
    # Ren'Py `[var]` interpolations resolved: variables given a string by define/default,
    # and the player's name (from renpy.input) as {{user}} or the lead's name.
    renpy_variables: dict[str, str] = field(default_factory=dict)
    # The player's name variables (given renpy.input in any .rpy file) → the lead's name: a
    # character named by one is the lead, one the story defines (`$ mc =
    # DynamicCharacter("player_name")`) as one defined before the game starts.
    renpy_player: dict[str, str] = field(default_factory=dict)
    # The typed names all taken as the player's when several are and none is a lead alias
    # nor shows one (`ScriptNames.choose_player`): for the run to say how to pick one.
    renpy_typed_leads: tuple[str, ...] = ()
    # Label → (speaker → the name shown) of each character the story's Python of that
    # label (`$ e = Character("Eileen")` in `label setup_names:`, in any .rpy file) always
    # defines when it runs: a `call setup_names` or `jump setup_names` names the lines of
    # `e` after it so.
    renpy_label_characters: dict[str, dict[str, str]] = field(default_factory=dict)
    # Variables left out of it because the scripts give them several values (or one that
    # is not a string): their values, for the run to say why their lines were dropped.
    renpy_unsettled: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Speaker → the round brackets the game shows its lines in (`what_prefix="（",
    # what_suffix="）"`: a thought character's, from every .rpy file), put around them.
    renpy_thoughts: dict[str, tuple[str, str]] = field(default_factory=dict)
    # TyranoScript character id → display name, from `[chara_new name=… jname=…]` in
    # every .ks file (characters are usually made in first.ks and speak in the others).
    kirikiri_names: dict[str, str] = field(default_factory=dict)
    # Whether `kirikiri_names` holds the labels every .ks file given jumps to
    # (`kirikiri.label_targets`, gathered by the pipeline), so no file adds its own.
    kirikiri_targets_gathered: bool = False
    # KAG tags no .ks file defines that name the speaker (`[cn name="夏生"]`, a macro made
    # in TJS or in a file not given) → the attribute holding the name: learnt from every
    # .ks file, where a call gives that attribute one of the aliases (`kirikiri.name_tags`).
    kirikiri_name_tags: dict[str, str] = field(default_factory=dict)
    # The lead's and the character's aliases (config), each as `normalise_name` gives it:
    # a `[atri]` at the start of a dump's line that names one of them is its speaker, not
    # a KAG tag (`[l]`, `[r]`) nor markup that cleaning would delete.
    speaker_aliases: frozenset[str] = frozenset()
    # Traditional → Simplified ([dataprep] traditional_to_simplified), or None: a tag's
    # name is compared converted too, as SpeakerMap compares speakers (`[亞托莉]` is the
    # alias 亚托莉); the aliases above hold their converted forms already.
    convert_name: Callable[[str], str] | None = None
    # WebGAL variables the player types (`getUserInput:name`, in any scene) → the lead's
    # name: a speaker `{name}:` is the lead, and `{name}` in a line is his name.
    webgal_player: dict[str, str] = field(default_factory=dict)
    # The WebGAL variables `setVar:heroine=亚托莉;` gives in the scenes read before each one
    # (source → its stage and its `-global` variables, `webgal.read_variables`): a `{heroine}`
    # there shows that value. None is a value that is no string (a number, an expression).
    webgal_variables: dict[str, tuple[dict[str, str | None], dict[str, str | None]]] = field(
        default_factory=dict
    )
    # The variables shown (`{heroine}:…`, `…{place}…`) where no setVar before gives them a
    # string, → how many lines show each: for the run to name them once.
    webgal_unresolved: dict[str, int] = field(default_factory=dict)
    # Those shown where the last setVar gave a number or an expression (`setVar:sanity=60;`,
    # `理智值：{sanity}`), → how many lines show each: no name nor scene gives them a string.
    webgal_computed: dict[str, int] = field(default_factory=dict)
    # Which side of a bilingual translation dump is read ([dataprep] dump_side):
    # "translation" (its ●/★ lines) or "original" (its ○/☆ lines).
    dump_side: str = "translation"
    # Which language of an Artemis script's text tables is read ([dataprep]
    # artemis_language: "ja", "cn" …), or None: the one the lead and the character speak
    # most often in (formats/artemis.py).
    artemis_language: str | None = None
    # The language the character card speaks ("zh", "en", "ja": `[persona] language`), ""
    # when not known: where the aliases name the speakers of an Artemis script in each of
    # its languages alike, the text in this one is read.
    card_language: str = ""


# Quote marks, opener → closer: the cleaning stage strips a pair around a line, and the
# plain parser joins a line whose opener the dump wrapped onto the lines below.
QUOTE_PAIRS = {"「": "」", "『": "』", "“": "”", '"': '"', "‘": "’", "﹁": "﹂"}

# Where two pieces of one line meet with no space between them: after or before a CJK
# character or full-width form (`天气` / `真好`), or a word's hyphen or dash (`well-` /
# `known`, `Wait—` / `that's`: a word the dump broke at its hyphen), or inside a run of
# ellipses or dashes (`……` / `……`). Words of any script that writes spaces get one
# (`morning,` / `Natsuki`, `café` / `au lait`, `it’s` / `fine`, Korean `날씨가` / `좋네요`).
_NO_SPACE = re.compile(r"[\u2e80-\ua4cf\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
_WORD_DASH = re.compile(r"\w[-\u2010\u2011\u2013\u2014]\Z")
_RUN = "…‥⋯—―─"


def space_between(before: str, after: str) -> bool:
    """Whether a line broken between `before` and `after` (neither blank at the break)
    reads with a space there."""
    return (
        _NO_SPACE.match(after) is None
        and _NO_SPACE.match(before, len(before) - 1) is None
        and _WORD_DASH.search(before, len(before) - 2) is None
        and not (before[-1] in _RUN and after[0] in _RUN)
    )


def join_pieces(pieces: Iterable[str]) -> str:
    """Pieces of one line that a dump or a document broke apart, as one line: stripped,
    blank ones left out, joined with a space where `space_between` says."""
    text = ""
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if text and space_between(text, piece):
            text += " "
        text += piece
    return text


# A name in square brackets at the start of a line, and what follows it (a colon after
# the bracket is no part of it): `[atri] Good morning!`, `[L]：……`. Used only when the
# name is one of ParseOptions.speaker_aliases; any other bracketed word stays a tag.
ALIAS_TAG = re.compile(
    r"\[[^\S\n]*+([^\[\]\n=]{1,32}?)[^\S\n]*+\][^\S\n]*+(?:[：:]{1,2}+[^\S\n]*+)?+(.*)"
)


def alias_tag(
    line: str, aliases: frozenset[str], convert: Callable[[str], str] | None = None
) -> tuple[str, str] | None:
    """(speaker, what is said) of a stripped line that starts with one of the aliases in
    square brackets (`[atri] Good morning!`; what is said is "" for `[atri]` alone), or
    None for any other line. With `convert`, a name is also compared as it converts
    (`[亞托莉]` is the alias 亚托莉)."""
    m = ALIAS_TAG.match(line)
    if m is None:
        return None
    name = tidy_name(m.group(1))
    if not is_alias(name, aliases, convert):
        return None
    return name, m.group(2).strip()


def is_alias(name: str, aliases: frozenset[str], convert: Callable[[str], str] | None) -> bool:
    """Whether a name is one of the aliases (each as `normalise_name` gives it), as
    written or as `convert` writes it (`亞托莉` is the alias 亚托莉)."""
    return normalise_name(name) in aliases or (
        convert is not None and normalise_name(convert(name)) in aliases
    )


# Blanks inside a speaker's name that are not an ASCII space: NBSP, the em and thin
# spaces, the ideographic space of a Japanese full name (`斑鳩　夏生`).
NAME_BLANKS = "\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"


# Hiragana and katakana (with the long-vowel mark): a reading written after a word.
KANA = "\u3041-\u3096\u30a1-\u30fa\u30fc"
# `[漢字/かんじ]`: a word and its reading in kana, CatSystem2's ruby (`[夏子/なつこ]`).
_BRACKET_RUBY = re.compile(rf"\[([^\[\]/\n]{{1,32}}+)/[{KANA}]{{1,32}}+\]")


def drop_bracket_ruby(text: str) -> str:
    """The text with each `[漢字/かんじ]` written as its word alone."""
    return _BRACKET_RUBY.sub(r"\1", text)


# Chinese and Japanese letters (Han, kana, 々): a blank between two of them in a name
# (`【森　罗】`, `斑鳩 夏生`) only spaces it out to fill a name box, and read as a space it
# made "森 罗" and "森罗" two speakers. Hangul is left out: Korean spaces its words.
_CJK_LETTER = r"[\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]"
_BLANK_BETWEEN_CJK = re.compile(rf"(?<={_CJK_LETTER}) (?={_CJK_LETTER})")


def tidy_name(name: str) -> str:
    """A speaker's name as read: blanks around it gone, each run of blanks inside it (NBSP,
    U+3000, several spaces) one ASCII space, and none between two Chinese or Japanese
    letters (`森　罗` is 森罗; "Natsuki Kaito" keeps its space). Every reader names its
    speakers through it."""
    if "  " in name or not name.isprintable() or name != name.strip():
        if not name.isascii():
            # Zero-width spaces and joiners, soft hyphens, a stray BOM (format
            # characters): invisible, so `亚\u200b托莉` would be listed as a name of its own
            # that looks like 亚托莉 in the speakers table.
            name = "".join(c for c in name if unicodedata.category(c) != "Cf")
        name = " ".join(name.split())
    if " " in name and not name.isascii():
        name = _BLANK_BETWEEN_CJK.sub("", name)
    return name


# The drop reason of a line with a variable in it that no script gives a value.
UNRESOLVED_VARIABLE = "unresolved_variable"
# The drop reason of a line given to a tag no file given defines (KiriKiri's `@saudio
# t=アトリ front="「…」"`): the macro showing it was left out.
MACRO_LEFT_OUT = "macro_left_out"
# The drop reason of a line whose string is never closed (a stray quote mark): a Ren'Py
# say statement's, or a table's quoted cell that ran over the rows below it.
UNCLOSED_STRING = "unclosed_string"
# The drop reason of a line whose text the game computes: Ren'Py Python that says
# something other than string literals (`e(greeting)`, `e(f"Hi {name}")`, `e("a" + b)`;
# adjacent literals, `e("a" "b")`, are one string).
COMPUTED_TEXT = "computed_text"


# Engine and stage commands mixed in with the lines: `anim:fade_out(bgm)`, `bg("beach")`,
# `obj.x = 1`, `$ renpy.pause()`, `<| show bg |>`, `local t = 3`. They are never a
# speaker's line nor narration. Identifiers are ASCII and a call's "(" follows its name.
# Possessive where nothing given back could match: after `[\w.]*+` only a ":" part can
# follow, and blanks before ";" or the end are taken once, so a long line of "a.a.a…("
# or "{" and blanks fails at once instead of trying every split (seconds at 8k characters).
CODE = re.compile(
    r"""(?x)
    <\|.*\|>\s*+$
    | \$\s.*
    | (?:local\s+)?[A-Za-z_][\w.]*+(?:[:.][A-Za-z_]\w*+)*+(?:\(.*\)|\s*[-+*/.]?=\s*\S.*)
      \s*+(?:;\s*+)?$
    | (?:end|else|then|do|function\b.*|return\b.*|[{}])\s*+(?:;\s*+)?$
    """
)
# The names of KAG and TyranoScript's own tags, as a pattern's alternatives: never a
# name, in a dump or a scenario. `ruby` and `link` are left out: both are names (Ruby,
# Link), and neither tag does anything without attributes.
KAG_TAGS = (
    "wait|wt|wa|wb|wc|wf|wl|wm|wq|ws|wvl|s|l|r|p|np|cm|ct|er|pcm|plc|hr|endlink|glink"
    "|jump|call|return|image|freeimage|backlay|layopt|trans|quake|font|deffont|resetfont"
    "|style|resetstyle|delay|nowait|endnowait|locate|current|position|indent|endindent"
    "|playse|stopse|fadeinse|fadeoutse|playbgm|stopbgm|fadeinbgm|fadeoutbgm|fadebgm"
    "|xchgbgm|eval|emb|iscript|endscript|macro|endmacro|erasemacro|if|elsif|else|endif"
    "|ignore|endignore|clickskip|locklink|unlocklink|cancelskip|cancelautomode"
)
# Lines of KAG markup only (`@bg storage=x`, `[wait time=200]`), when read as plain text.
TAGS_ONLY = re.compile(r"(?:@[A-Za-z_]\w*(?:[\s=].*)?|(?:\[[A-Za-z_/@][^\]]*\]\s*)+)$")


def is_code(line: str) -> bool:
    """True for a stripped line that is a script command, not something anyone says."""
    if line.startswith("<|") and line.endswith("|>"):
        return True
    return line.isascii() and CODE.match(line) is not None


# A voice or sound reference a dump leaves in a line, what is inside its brackets:
# `语音：atr_0012`, `voice:atr_0012`, `V:atr0001`, `SE：door_01.ogg`. A keyword, a colon
# and an ASCII id with a digit, "_" or "." in it: `【语音：你好】` and "(Sound: thunder)"
# are words.
SOUND_REF = (
    r"[^\S\n]*(?:语音|語音|音声|ボイス|声音|聲音|配音|音效|效果音|背景音乐|背景音樂"
    r"|(?i:voice|vo|v|se|sfx|sound|bgm))[^\S\n]*[:：][^\S\n]*"
    r"[A-Za-z/\\-]*[0-9_.][A-Za-z0-9_./\\-]*[^\S\n]*+"
)
# Headings and cues of dumps in brackets, never speakers in any format: `[Chapter 3]`,
# `[Flashback]`, `[SE]`, `[CG 12]`, `[Choice 1]`, `[第三章]`, `【回忆】`, `【选项1】` (a word,
# then nothing, a number or more words; "Endo" and "Sena" stay names), and a sound
# reference (`【语音：atr_0012】`). What is inside the brackets, for `[…]` and `【…】`
# alike: each use adds its closing bracket. Its tail never gives back blanks (possessive,
# atomic), and blanks before it are taken possessively where it is used: a closing
# bracket cannot be a blank, so nothing matches differently, but a line of "【" and
# thousands of blanks no longer takes seconds (each split of the blanks was tried).
HEADING = (
    rf"(?:{SOUND_REF}"
    r"|(?i:chapter|scene|day|part|episode|act|route|choice|option|end|ending|bgm|se|sfx"
    r"|cg|ev|bg|flashback|flash back|prologue|epilogue|interlude|intermission)"
    r"(?>(?:[ \t0-9０-９][^\]】\n]*)?)"
    r"|第[^\]】\n]{1,8}[章话話幕节節回卷部](?>(?:[^\S\n][^\]】\n]*)?)"  # `【第三章　海边】`
    r"|(?:序章|终章|終章|尾声|尾聲|序幕|选项|選項|选择|選擇|選択肢?|音效|效果音|背景音乐|背景音樂"
    r"|回忆|回憶|回想|场景|場景|结束|結束)[ \t0-9０-９]*+)"
)
# A sound reference alone on a stripped line: `[语音：atr_0012]`, `【voice:atr_0012】`.
SOUND_LINE = re.compile(rf"[\[【]{SOUND_REF}[\]】]")
# A heading in brackets, the whole of a stripped line: it names nobody, not even the
# speaker of the line below it.
HEADING_LINE = re.compile(rf"\[{HEADING}\]|【[^\S\n]*+{HEADING}[^\S\n]*+】")


# A heading in brackets (`[Chapter 3]`, `【第三章】`, `[第三章 海边]`) ends a scene as the
# bare heading does, so a marker is also tried just inside a leading bracket; one that
# starts with `^` still matches only at the start of the line.
_LEADING_BRACKET = r"(?:[\[［【][^\S\n]*)?"


def compile_markers(patterns: list[str]) -> re.Pattern[str] | None:
    """One regex for all scene-marker patterns, matched at the start of a stripped line
    or just inside a leading `[`, `［` or `【`."""
    if not patterns:
        return None
    return re.compile(f"{_LEADING_BRACKET}(?:{'|'.join(_scoped(p) for p in patterns)})")


_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def _scoped(pattern: str) -> str:
    """`(?i)abc` may not sit inside an alternation; `(?i:abc)` may and means the same."""
    m = _GLOBAL_FLAGS.match(pattern)
    if m is None:
        return f"(?:{pattern})"
    return f"(?{m.group(1)}:{pattern[m.end() :]})"


def unreadable_json(
    source: str, exc: json.JSONDecodeError | RecursionError, what: str
) -> DataprepError:
    """The sentence for a .json file no JSON reader can read: where it breaks, or that it
    nests deeper than Python reads (`what` it would have to be)."""
    if isinstance(exc, RecursionError):
        return DataprepError(f"{source}: is JSON nested too deeply to be {what}.")
    return DataprepError(
        f"{source}: is not valid JSON ({exc.msg} at line {exc.lineno}, column"
        f" {exc.colno}); fix it there, or leave the file out."
    )
