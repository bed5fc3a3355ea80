"""JSON message lists, as Chinese fan translators' extraction tools write a game's text:
a JSON array with one object for each line the game shows.

GalTransl's json_jp (and its translated json_zh / transed_jsons), SExtractor and
VNTextPatch write `{"name": "夏生", "message": "「おはよう」"}`; narration has no "name" (or
an empty one), and other keys ("n", "index", "pre_jp") are left alone. LinguaGacha may
write the name as a list (`"name": ["夏生"]`), as some tools write "names". Translated
VNTextPatch scripts are also shared as one-key objects, `{"夏生": "「早上好」"}`, with
`{"旁白": "…"}` for narration.

GalTransl's translation cache (transl_cache/*.json) holds both sides of each line:

    {"index": 1, "name": "アトリ", "pre_jp": "「おはよう」", "post_jp": "おはよう",
     "pre_zh": "早上好", "proofread_zh": "", "post_zh_preview": "「早上好」", …}

[dataprep] dump_side chooses the side, as for a translation dump: "original" reads
pre_jp (the line as the game has it; post_jp is it after GalTransl's pre-processing:
its quotes taken off, the pre-translation dictionary applied), "translation" reads
`_TRANSLATIONS`' first field that is not empty. A line with no translation yet is kept
as a line said but unusable (`Utterance.dropped` "untranslated"), as a dump's is.

A `{"原文": "译文"}` dictionary (MTool's ManualTransFile.json, SExtractor's json
dictionaries, and SExtractor's lists of such objects, a line's name a key before its own)
is read as a translation dump's pairs when its lines name their speakers; one that cannot
say who speaks is refused with what to give instead.

One file is one scene, as a game's script file is; a narration message that a scene
marker matches also starts one. Each utterance is at the file line where its object
starts, where an editor finds it.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable
from typing import TypeVar

from atri.text_files import BROKEN_CHARACTER, without_lone_surrogates
from dataprep.errors import DataprepError, NoScript
from dataprep.formats.common import ParseOptions, join_pieces, tidy_name, unreadable_json
from dataprep.formats.table import TEXT_NAMES
from dataprep.formats.translation_dump import MISSING, ORIGINAL, TRANSLATION, parse_pairs
from dataprep.records import Utterance

T = TypeVar("T")

log = logging.getLogger(__name__)

# The translation side of a cache entry, best first. post_zh_preview is GalTransl's
# final line (CSentense.post_zh): proofread_zh where someone proofread it, else the
# engine's pre_zh, after the post-translation dictionary, with the original's quotes
# put back and punctuation made full-width; it is what json_zh holds and the patched
# game shows (the caches of two real games: 32k of 60k lines differ from pre_zh by their
# quotes alone, 8k by punctuation too). A cache saved before post-processing has none:
# then the proofread line, then the engine's. GalTransl's newer multi-language caches
# name the same fields *_dst.
_TRANSLATIONS = (
    "post_zh_preview",
    "post_dst_preview",
    "proofread_zh",
    "proofread_dst",
    "pre_zh",
    "pre_dst",
)
# The original side of a cache entry (pre_src: the multi-language caches).
_ORIGINALS = ("pre_jp", "pre_src")
# What GalTransl writes before a line whose translation failed (it keeps the original).
_FAILED = "(Failed)"
# The keys a message's text is under: "message" (GalTransl, SExtractor, VNTextPatch), or
# any name a table's text column goes by ("text", "content", "台词" …).
_TEXT_KEYS = ("message", *(name for name in TEXT_NAMES if name != "message"))
# The keys that make an object a message, holding a string: what tells a message list
# from other JSON lists (a dataset's rows, a config's entries).
_MESSAGE_KEYS = frozenset({*_TEXT_KEYS, *_ORIGINALS})
# A message list's head, for sniffing a file whose extension is not .json.
SIGNATURE = re.compile(r'\A\ufeff?\s*\[\s*\{\s*"(?:name|names|message|index|pre_jp|pre_src)"')

_WHAT = (
    'a list of messages ({"name": …, "message": …} objects, as GalTransl, SExtractor and'
    ' VNTextPatch write, "text" or "content" in place of "message" as other tools do, or a'
    " GalTransl transl_cache file)"
)
# The keys of a speaker-keyed list (`_speaker_keyed`) that mean narration, case ignored.
_NARRATION_KEYS = frozenset(
    {"旁白", "叙述", "敘述", "narrator", "narration", "ナレーション", "地の文", "モノローグ"}
)
# JSON's blanks.
_BLANKS = " \t\n\r"
_BOM_AND_BLANKS = "\ufeff" + _BLANKS
# Quote marks a quoted line (one said aloud) opens with.
_QUOTES = frozenset('「『“"')
# The longest name in a dictionary's keys (`{"アトリ": "亚托莉"}`): a longer key with a
# sentence's punctuation in it is a line; a longer one without is a name all the same
# (`ファテシア＝セインテリア＝ヴァンチェスタ`).
_NAME_MOST = 16
_SENTENCE_MARKS = re.compile(r"[、，,.．!?！？…‥～~―—；;]")
# The JSON escape of a UTF-16 half (`\ud83d`): only a file holding one can hold a lone
# surrogate, so only such a file is searched for one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    if text.lstrip(_BOM_AND_BLANKS).startswith("{"):
        return _read_pairs(_dictionary(text, source), source, options, _A_DICTIONARY)
    values = _list_values(text, source)
    entries = _messages(values)
    if not entries and (pairs := _dictionary_list(values)) is not None:
        return _read_pairs(pairs, source, options, _DICTIONARIES)
    entries = entries or _speaker_keyed(values)
    if not entries:
        raise NoScript(f"{source}: is JSON but not {_WHAT}, so no script.")
    marker = options.scene_marker.match if options.scene_marker else None
    out: list[Utterance] = []
    scene = 0
    for line, entry in entries:
        speaker = _speaker(entry)
        # An object with a text ("message", "text" …) is read for it, whatever else it
        # holds (a tool may keep the original beside it, "pre_jp"); one without is a
        # cache entry.
        key = next((key for key in _TEXT_KEYS if isinstance(entry.get(key), str)), None)
        if key is not None:
            said, dropped = _text(entry[key]), None
        else:
            said, dropped = _said(entry, options.dump_side)
        if not said:
            continue
        if speaker is None and marker is not None and marker(said):
            scene += 1
            continue
        out.append(Utterance(speaker, said, source, line, str(scene), dropped=dropped))
    return out


def _list_values(text: str, source: str) -> list[tuple[int, object]]:
    """The values of the file's top-level list, each with the line where it starts;
    DataprepError, naming the file, for broken JSON or JSON that is no list."""
    try:
        values = _values(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise unreadable_json(source, exc, _WHAT) from None
    if values is None:
        raise NoScript(f"{source}: is JSON but not {_WHAT}, so no script.")
    return _mended(values, text, source)


def _mended(values: list[tuple[int, T]], text: str, source: str) -> list[tuple[int, T]]:
    """The values without their lone surrogates (half an emoji, as JavaScript tools cut
    one), said once with the lines that held one. Left in, the dataset files could not be
    written (UTF-8 cannot encode one) after all the work of the run; as U+FFFD, the line
    would be left out as unreadable, though only the half emoji is lost."""
    if not _SURROGATE_ESCAPE.search(text):
        return values
    mended: list[tuple[int, T]] = []
    broken: dict[int, None] = {}  # the lines, once each (a file may be one line)
    for line, value in values:
        value, found = without_lone_surrogates(value, replacement="")
        mended.append((line, value))
        if found:
            broken[line] = None
    if broken:
        lines = ", ".join(map(str, list(broken)[:5])) + (", …" if len(broken) > 5 else "")
        log.warning(
            "%s: line %s held %s, left out of its text (the rest is kept); mend it in the script.",
            source,
            lines,
            BROKEN_CHARACTER,
        )
    return mended


def _messages(values: list[tuple[int, object]]) -> list[tuple[int, dict[str, object]]]:
    """The message objects among the list's values: those holding a string under one of
    `_MESSAGE_KEYS`."""
    return [
        (line, value)
        for line, value in values
        if isinstance(value, dict)
        and any(isinstance(value[key], str) for key in _MESSAGE_KEYS.intersection(value))
    ]


# How the refusal of `_read_pairs` names what the file is.
_A_DICTIONARY = 'a {"原文": "译文"} dictionary (as MTool and SExtractor write)'
_DICTIONARIES = 'a list of {"原文": "译文"} objects (as SExtractor writes)'


def _dictionary(text: str, source: str) -> list[tuple[int, str, str]]:
    """A `{"原文": "译文"}` dictionary's entries (MTool's ManualTransFile.json, SExtractor's
    json dictionaries) in file order, each (the line of its key, original, translation);
    NoScript for an object that holds no lines (a name dictionary, a config)."""
    try:
        items = _object_items(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise unreadable_json(source, exc, _WHAT) from None
    if items is None or not all(isinstance(value, str) for _, _, value in items):
        raise NoScript(f"{source}: is JSON but not {_WHAT}, so no script.")
    entries = _mended([(line, [key, value]) for line, key, value in items], text, source)
    pairs = [(line, _text(key), _text(value)) for line, (key, value) in entries]
    if not any(_is_line(original) for _, original, _ in pairs):
        # Names or settings alone (a tool's name dictionary, a config): no lines.
        raise NoScript(f"{source}: is JSON but not {_WHAT}, so no script.")
    return pairs


def _dictionary_list(values: list[tuple[int, object]]) -> list[tuple[int, str, str]] | None:
    """SExtractor's lists of `{"原文": "译文"}` objects, one for each line the game shows,
    its speaker's name a key of its own before the line's (`{"香奈": "香奈", "「そうだよ」":
    "「是啊」"}`) or an object of its own, as (line, original, translation); None for any
    other list. A speaker-keyed list (`{"静流": "「欢迎光临」"}`) is told from one by its keys:
    a name, never a line."""
    pairs: list[tuple[int, str, str]] = []
    for line, value in values:
        if not isinstance(value, dict) or not 1 <= len(value) <= 2:
            return None
        if not all(isinstance(said, str) for said in value.values()):
            return None
        items = [(_text(key), _text(said)) for key, said in value.items()]
        if len(items) == 2:
            (name, their_name), (original, translation) = items
            named = f"【{their_name or name}】{translation}" if translation else ""
            pairs.append((line, f"【{name}】{original}", named))
        else:
            pairs.append((line, *items[0]))
    if not any(_is_line(original) for _, original, _ in pairs):
        return None
    return pairs


def _is_line(text: str) -> bool:
    """Whether a dictionary's key is a line the game shows, not a name or a setting: a
    quote, a sentence, or longer than a name with a sentence's punctuation in it. A key
    of quote marks or other punctuation alone (GalTransl's name dictionaries hold `「`,
    `『`, `（`) says nothing."""
    if all(unicodedata.category(c)[0] in "PSZ" for c in text):
        return False
    if text[:1] in _QUOTES or "。" in text:
        return True
    return len(text) > _NAME_MOST and _SENTENCE_MARKS.search(text) is not None


def _read_pairs(
    pairs: list[tuple[int, str, str]], source: str, options: ParseOptions, what: str
) -> list[Utterance]:
    """Dictionary entries read as a translation dump's pairs, in file order: only when
    their lines say who speaks (`【名】「…」`, `名「…」`, a name's entry before its line).
    A dictionary keeps each text once, so a name there names the first line its speaker
    says, never the others: DataprepError, saying what to give instead, where most
    quoted lines name no one; NoScript where it holds no quoted line at all (names,
    terms: a dictionary of no script)."""
    said = parse_pairs(pairs, source, options)
    named = sum(1 for u in said if u.speaker is not None)
    unnamed = sum(1 for u in said if u.speaker is None and u.text[:1] in _QUOTES)
    if named == unnamed == 0:
        raise NoScript(f"{source}: is JSON but not {_WHAT}, so no script.")
    if named == 0 or named < unnamed:
        raise DataprepError(
            f"{source}: is {what}, which holds each text once and so cannot say who speaks"
            f" its lines ({named} of {named + unnamed} quoted lines named); give the export"
            ' that keeps the speakers instead: a list of {"name": …, "message": …} objects'
            " (SExtractor's json list, GalTransl's json_jp) or a ○N○ / ●N● two-line dump."
        )
    return said


def _speaker_keyed(values: list[tuple[int, object]]) -> list[tuple[int, dict[str, object]]]:
    """A list of one-key objects, `[{"静流": "「欢迎光临」"}, {"旁白": "…"}]` (the layout
    VNTextPatch-translated scripts are shared in), as messages: the key says, the value is
    said, a narration key (`_NARRATION_KEYS`) is narration. Only when every value is such an
    object: a list of settings or of anything else stays no script."""
    entries: list[tuple[int, dict[str, object]]] = []
    for line, value in values:
        if not isinstance(value, dict) or len(value) != 1:
            return []
        ((key, said),) = value.items()
        if not isinstance(said, str):
            return []
        name = None if key.strip().casefold() in _NARRATION_KEYS else key
        entries.append((line, {"name": name, "message": said}))
    return entries


def _values(text: str) -> list[tuple[int, object]] | None:
    """Each value of the top-level JSON array with the line where it starts, or None for
    valid JSON that is not an array; json.JSONDecodeError (with the line and column in
    the whole text) for broken JSON. The array is walked value by value, as json.loads
    would read it, only to learn where each one starts."""
    decoder = json.JSONDecoder()
    return _top_level(text, "[", "]", decoder.raw_decode)


def _object_items(text: str) -> list[tuple[int, str, object]] | None:
    """Each (line of its key, key, value) of the top-level JSON object in file order, or
    None for valid JSON that is no object; json.JSONDecodeError for broken JSON."""
    decoder = json.JSONDecoder()

    def member(text: str, at: int) -> tuple[tuple[str, object], int]:
        if not text.startswith('"', at):
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, at
            )
        key, end = decoder.raw_decode(text, at)
        at = _skip_blanks(text, end)
        if not text.startswith(":", at):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        value, end = decoder.raw_decode(text, _skip_blanks(text, at + 1))
        return (key, value), end

    members = _top_level(text, "{", "}", member)
    return None if members is None else [(line, k, v) for line, (k, v) in members]


def _top_level(
    text: str, opens: str, closes: str, read: Callable[[str, int], tuple[T, int]]
) -> list[tuple[int, T]] | None:
    """The entries `read` takes from the top-level JSON array or object (`opens` …
    `closes`), each with the line where it starts; None for valid JSON of another kind."""
    if text.startswith("\ufeff"):
        text = text[1:]
    at = _skip_blanks(text, 0)
    if not text.startswith(opens, at):
        json.loads(text)  # broken JSON raises, with its place
        return None
    entries: list[tuple[int, T]] = []
    line, counted = 1, 0
    at = _skip_blanks(text, at + 1)
    if not text.startswith(closes, at):
        while True:
            entry, end = read(text, at)
            line += text.count("\n", counted, at)
            counted = at
            entries.append((line, entry))
            at = _skip_blanks(text, end)
            if text.startswith(",", at):
                at = _skip_blanks(text, at + 1)
            elif text.startswith(closes, at):
                break
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
    end = _skip_blanks(text, at + 1)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return entries


def _skip_blanks(text: str, at: int) -> int:
    """Where the first character at or after `at` that is not a JSON blank stands."""
    while at < len(text) and text[at] in _BLANKS:
        at += 1
    return at


def _speaker(entry: dict[str, object]) -> str | None:
    """The speaker's name, or None for narration ("name" absent, empty or null). A line
    several say (some tools write "names": [...]) is theirs together: no one's alias."""
    name = entry.get("name")
    if isinstance(name, str) and (name := tidy_name(name)):
        return name
    # LinguaGacha writes the name as a list too: `"name": ["静流"]`.
    names = name if isinstance(name, list) else entry.get("names")
    if isinstance(names, list):
        named = [tidy_name(n) for n in names if isinstance(n, str) and n.strip()]
        if named:
            return "、".join(named)
    return None


def _text(value: object) -> str:
    """A message as one line: the game's line breaks inside it (`\\n`, `\\r\\n`, the
    indentation after them) are where the text box wrapped, not where the line ends."""
    if not isinstance(value, str):
        return ""
    if "\n" not in value and "\r" not in value:
        return value.strip()
    return join_pieces(value.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _first(entry: dict[str, object], keys: tuple[str, ...]) -> str:
    """The first of these fields that is a text not blank, as one line; "" if none is."""
    for key in keys:
        said = _text(entry.get(key))
        if said:
            return said
    return ""


def _said(entry: dict[str, object], side: str) -> tuple[str, str | None]:
    """What a cache entry says on the chosen side, and why it is unusable (None if it is
    usable): a line with no translation yet (or a failed one) is its original, dropped."""
    original = _first(entry, _ORIGINALS)
    if side == ORIGINAL:
        return original, None
    translated = _first(entry, _TRANSLATIONS)
    if translated and not translated.startswith(_FAILED):
        return translated, None
    return original, MISSING[TRANSLATION] if original else None
