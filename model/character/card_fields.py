"""A SillyTavern card's fields beyond its description, personality, scenario, greeting
and examples: what of them goes into her prompt, and which are not used.

The system prompt is the same for every message and every user (its KV states are
cached), so only what never changes goes there:
- `character_book`'s enabled `constant` entries (by `insertion_order`) are background
  facts in the system prompt, before the card's description or after it as SillyTavern's
  `position` says, at most LORE_BUDGET_CHARS characters of them;
- its enabled keyword entries (`keys`, and `secondary_keys` where `selective`) are not:
  an entry whose key is in the conversation's last `scan_depth` messages, or in the text
  of an entry told (the book's `recursive_scanning`, on unless false, as SillyTavern's
  default), is told in a note before the new message (`called_up`), or at its depth in
  the chat where SillyTavern's position is "@D" (so is a constant one there), at most
  LORE_BUDGET_CHARS characters of them, the highest `priority` (else `insertion_order`)
  first; a position ATRI has no place for is named at load (`_position_note`), and so
  is an entry neither constant nor with a key, which SillyTavern never tells;
- `extensions.depth_prompt` (the character's note, SillyTavern's "Character's Note") is
  not in it: it is told `depth` messages up the chat (4 where none is given), as a note
  in a user's turn whatever its `role` (one as her own message is named at load:
  `depth_prompt_note`), with every message, its tokens held back with the system
  prompt's (`prompt.CharacterNote`); an export keeps its depth and role (`read_depth_prompt`);
- `alternate_greetings` are greetings beside `first_mes` (`Persona.greetings`).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypeGuard

import regex as stoppable_re  # `re` with a timeout
from pydantic import BaseModel, Field, PrivateAttr

log = logging.getLogger(__name__)

NoteRole = Literal["system", "user", "assistant"]

# The most characters of lorebook entries the system prompt takes, and the most the note
# of called-up entries takes: a card with a lorebook of hundreds of entries must not
# crowd the chat out of the context window.
LORE_BUDGET_CHARS = 2000
# How many of the latest messages (the new one included) a keyword entry's keys are
# looked for in, where the book gives no `scan_depth`: the new message, her last reply
# and the exchange before (SillyTavern's default, 2, forgets a subject named one
# exchange ago).
DEFAULT_SCAN_DEPTH = 4
# SillyTavern's world-info positions (an entry's `extensions.position`, a world-info
# file's `position`; a card's own `position` names the first two): where its text goes.
BEFORE_CHAR, AFTER_CHAR, AN_TOP, AN_BOTTOM, AT_DEPTH, EM_TOP, EM_BOTTOM, OUTLET = range(8)
# How many messages up the chat SillyTavern puts an "@D" entry that gives no depth.
DEFAULT_INSERTION_DEPTH = 4
# SillyTavern's `extensions.role` of an entry at a depth that is her own message.
ASSISTANT_ROLE = 2
# Whose message SillyTavern makes a note at a depth, by its numbers (0, 1, 2); a
# character's note (`extensions.depth_prompt.role`) names it.
NOTE_ROLES: tuple[NoteRole, ...] = ("system", "user", "assistant")
ASSISTANT: NoteRole = NOTE_ROLES[ASSISTANT_ROLE]
# SillyTavern's `extensions.selectiveLogic`: how `secondary_keys` narrow an entry down.
_SELECTIVE_LOGIC: dict[object, Literal["and_any", "not_all", "not_any", "and_all"]] = {
    0: "and_any",
    1: "not_all",
    2: "not_any",
    3: "and_all",
}
SELECTIVE_LOGIC_IDS = {logic: number for number, logic in _SELECTIVE_LOGIC.items()}
# A key SillyTavern reads as a regular expression: /pattern/flags, JavaScript's flags only,
# every slash inside escaped (world-info.js parseRegexFromString); any other key is words.
_SLASHED_REGEX = re.compile(r"^/(.+?)/([gimsuy]*)$", re.DOTALL)
_UNESCAPED_SLASH = re.compile(r"(^|[^\\])/")
# The longest one key's pattern may search the scanned messages: a card's expression such
# as `(a+)+$` backtracks for minutes on a member's "aaaa…b", holding a worker thread; past
# this it matches nothing (`regex`, unlike `re`, can stop a search).
KEY_SEARCH_SECONDS = 0.05
# The longest all of a book's keys may search one message: hundreds of keys each a little
# under KEY_SEARCH_SECONDS would still hold the reply for seconds.
LORE_SEARCH_SECONDS = 0.25
# Scripts written without spaces between words (Chinese, Japanese, Thai, Tibetan…), and
# Korean, which joins particles to the noun ("마법을"): there a key is found inside a
# sentence, as SillyTavern finds it (its word boundary, JavaScript's ASCII `\W`, is any of
# their characters). Matched by script extension, so Japanese's ー and 々 are Japanese.
_UNSPACED_SCRIPTS = [
    "Han",
    "Hiragana",
    "Katakana",
    "Bopomofo",
    "Hangul",
    "Yi",
    "Thai",
    "Lao",
    "Khmer",
    "Myanmar",
    "Tibetan",
    "Tai_Tham",
    "Tai_Le",
    "New_Tai_Lue",
    "Tai_Viet",
    "Javanese",
    "Balinese",
]
# A letter, mark or digit of any other script (Latin, Cyrillic, Greek, Arabic, Devanagari…:
# Unicode's `\w`, unlike JavaScript's, is every script's), where a key's edge must be a
# word's: "магия" is not in "магиями", nor "μαγεία" in "μαγείας".
_SPACED_WORD_CHAR = r"[^\W" + "".join(rf"\p{{scx={s}}}" for s in _UNSPACED_SCRIPTS) + "]"
_SPACED_WORD = stoppable_re.compile(_SPACED_WORD_CHAR)
# Marks a reader leaves out, so a key in any case is found without them too: Greek
# accents and breathings (its capitals are written without them: "ΜΑΓΕΙΑ" is "μαγεία"),
# Arabic vowel signs, hamza and madda (أحمد is typed احمد) and the tatweel that stretches
# a word, and the diaeresis of Russian ё, often typed е ("елка" is "ёлка"). Letters of
# other scripts keep theirs ("café" is not "cafe", Japanese が is not か).
_UNWRITTEN_MARKS = stoppable_re.compile(r"(\p{sc=Greek}|\p{sc=Arabic})\p{Mn}+|([еЕ])\u0308")
_TATWEEL = "\u0640"
# Arabic joins "and"/"so" (و ف), "with"/"like"/"for" (ب ك ل) and "the" (ال) to the word
# after them: a key of Arabic letters is whole after them too (كتاب in والكتاب, بكتاب,
# للكتاب; القاهرة in بالقاهرة, للقاهرة). Only these: a short key may then be found in a
# longer word that starts with one (مال in كمال), as SillyTavern, whose word edge is any
# Arabic letter, finds every key in any word.
_ARABIC_PROCLITICS = "[وف]?(?:[بك]?ال|لل|[بكل])?"
_ARABIC_ARTICLE_PROCLITICS = "[وف]?[بك]?"  # before a key that has its own ال
_ARABIC_LETTER = stoppable_re.compile(r"\p{sc=Arabic}")
# The decorators (V3's lines that lead an entry's text) SillyTavern acts on.
_KNOWN_DECORATORS = ("@@activate", "@@dont_activate")


class KeywordEntry(BaseModel):
    """A lorebook entry told in the chat: when one of its `keys` is in a recent message
    (or in the text of another entry told), or with every message where `constant`."""

    content: str
    keys: list[str] = Field(default_factory=list)
    # Where `selective`: a secondary key must be there too (`logic` says how).
    secondary_keys: list[str] = Field(default_factory=list)
    logic: Literal["and_any", "not_all", "not_any", "and_all"] = "and_any"
    case_sensitive: bool = False
    # SillyTavern's default (`world_info_match_whole_words` in its settings): "magic" is not
    # called up by "magical".
    whole_words: bool = True
    insertion_order: float = 0  # lower: told earlier in the note
    priority: float | None = None  # over the budget, the lowest goes first
    scan_depth: int | None = Field(default=None, ge=1)  # its own, over the book's
    # SillyTavern's "@D": told this many messages up the chat (0: after the new message,
    # 1: right before it). None: in the note before the new message, where the entries
    # SillyTavern puts before or after the card go (the system prompt never changes).
    depth: int | None = Field(default=None, ge=0)
    constant: bool = False  # told with every message (a constant entry at a depth)
    # SillyTavern's recursion switches (`extensions.exclude_recursion`…): not called up by
    # the text of other entries told; its own text calls up no other; not called up
    # before another entry is told and its text searched too (`called_up`).
    exclude_recursion: bool = False
    prevent_recursion: bool = False
    delay_until_recursion: bool = False
    # Each key's compiled pattern (None: never found, as a key that was too slow to search).
    _patterns: dict[str, tuple[stoppable_re.Pattern[str], bool] | None] = PrivateAttr(
        default_factory=dict
    )

    def is_called_up(
        self,
        scanned: str,
        fill: Callable[[str], str] | None = None,
        budget: SearchBudget | None = None,
    ) -> bool:
        """Whether it is `constant` or a key of it is in `scanned` (the messages its
        scan depth reaches, composed: `called_up`), and its secondary keys agree. `fill`
        puts names in for a key's `{{char}}` and `{{user}}`, as SillyTavern does; past
        the message's `budget`, no key is found."""
        if self.constant:
            return True
        if not any(self._found(key, scanned, fill, budget) for key in self.keys):
            return False
        if not self.secondary_keys:
            return True
        found = [self._found(key, scanned, fill, budget) for key in self.secondary_keys]
        return {
            "and_any": any(found),
            "and_all": all(found),
            "not_any": not any(found),
            "not_all": not all(found),
        }[self.logic]

    def model_post_init(self, context: Any, /) -> None:
        # Compiled once, as the card is read: a book of more keys than a cache holds
        # recompiled every one of them with every message (seconds a message).
        self._patterns = {
            key: _compile_key(key, self.case_sensitive, self.whole_words)
            for key in dict.fromkeys([*self.keys, *self.secondary_keys])
        }

    def _found(
        self, key: str, text: str, fill: Callable[[str], str] | None, budget: SearchBudget | None
    ) -> bool:
        if fill is not None and ("{" in key or "<" in key):
            key = fill(key)
        compiled = self._pattern(key)
        if compiled is None:
            return False
        timeout = KEY_SEARCH_SECONDS if budget is None else budget.timeout()
        if timeout is None:
            return False
        pattern, loose = compiled
        try:
            return pattern.search(_loose(text) if loose else text, timeout=timeout) is not None
        except TimeoutError:
            if timeout >= KEY_SEARCH_SECONDS:
                self._give_up(key)
            return False

    def _pattern(self, key: str) -> tuple[stoppable_re.Pattern[str], bool] | None:
        """The key's compiled pattern: the one compiled as the card was read, else (a key
        whose `{{user}}` was filled in for this message) the cache's."""
        if key in self._patterns:
            return self._patterns[key]
        return _filled_key_pattern(key, self.case_sensitive, self.whole_words)

    def _give_up(self, key: str) -> None:
        """Never search `key` again: an expression that backtracked past KEY_SEARCH_SECONDS
        on one message does so again on every message that message stays among the scanned
        ones (a 200-entry book made each reply 10 s slower)."""
        self._patterns[key] = None
        log.warning(
            "lorebook key %r took over %.2f s to search a message; it is no longer searched "
            "(simplify the expression in the card)",
            key[:80],
            KEY_SEARCH_SECONDS,
        )


class SearchBudget:
    """The time one message's lorebook search may take (LORE_SEARCH_SECONDS): past it,
    the keys not yet searched count as not found, said once in the log."""

    _told = False  # said once a process, not with every message of a slow book

    def __init__(self) -> None:
        self._deadline = time.monotonic() + LORE_SEARCH_SECONDS

    def timeout(self) -> float | None:
        """How long the next key's search may take; None once the budget is spent."""
        left = self._deadline - time.monotonic()
        if left > 0:
            return min(KEY_SEARCH_SECONDS, left)
        if not SearchBudget._told:
            SearchBudget._told = True
            log.warning(
                "the lorebook's keys took over %.2f s to search one message; the keys left "
                "were read as not there (simplify the card's expressions or use fewer keys)",
                LORE_SEARCH_SECONDS,
            )
        return None


def _compile_key(
    key: str, case_sensitive: bool, whole_words: bool
) -> tuple[stoppable_re.Pattern[str], bool] | None:
    """What a key matches, and whether in text without the marks a reader leaves out
    (`_loose`): the regular expression it is where written /pattern/flags, as
    SillyTavern reads keys (its flags alone say the case), else its words (in any case
    unless `case_sensitive`, "Straße" as "STRASSE" too, "ΜΑΓΕΙΑ" as "μαγεία"; only as
    whole words where `whole_words`), composed as the text searched is (`called_up`). A
    pattern that is not valid matches nothing."""
    key = key.strip()
    slashed = slashed_regex(key)
    loose = False
    if slashed:
        source, flags = slashed
    elif not key:
        return None
    else:
        loose = not case_sensitive
        key = _loose(key) if loose else unicodedata.normalize("NFC", key)
        source = whole_word_pattern(key) if whole_words else stoppable_re.escape(key)
        flags = 0 if case_sensitive else stoppable_re.IGNORECASE | stoppable_re.FULLCASE
    try:
        return stoppable_re.compile(source, flags), loose
    except stoppable_re.error:
        return None


# Keys whose names are filled in per message (a `{{user}}`: the others are compiled as the
# card is read, `KeywordEntry.model_post_init`): few, so a cache holds them.
_filled_key_pattern = functools.lru_cache(maxsize=4096)(_compile_key)


@functools.lru_cache(maxsize=64)
def _loose(text: str) -> str:
    """`text` composed (NFC), without the marks a reader leaves out (`_UNWRITTEN_MARKS`):
    what a key found in any case is looked for in. Cached: each message is searched for
    every key of the book."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text).replace(_TATWEEL, "")
    return unicodedata.normalize("NFC", _UNWRITTEN_MARKS.sub(r"\1\2", decomposed))


def whole_word_pattern(key: str) -> str:
    """A pattern of the key's words, not within a longer word: no letter or digit of a
    script written with spaces may lead or follow an edge of the key that is one (but
    Arabic's joined words may lead it: `_ARABIC_PROCLITICS`). A key of several words is
    found anywhere, as SillyTavern finds it."""
    source = stoppable_re.escape(key)
    if any(c.isspace() for c in key):
        return source
    if _ARABIC_LETTER.match(key):
        if key.startswith("ال") and len(key) > 2:
            rest = stoppable_re.escape(key[2:])
            source = f"(?:{_ARABIC_ARTICLE_PROCLITICS}{source}|[وف]?لل{rest})"
        else:
            source = _ARABIC_PROCLITICS + source
    before = f"(?<!{_SPACED_WORD_CHAR})" if _SPACED_WORD.match(key[0]) else ""
    after = f"(?!{_SPACED_WORD_CHAR})" if _SPACED_WORD.match(key[-1]) else ""
    return before + source + after


def slashed_regex(key: str) -> tuple[str, int] | None:
    """The pattern and flags of a key written /pattern/flags, as SillyTavern reads one;
    None for a key of plain words (`[secret]`, `C++`).

    V3's `use_regex` is not read: SillyTavern writes `true` on every entry it exports and
    itself reads none, and RisuAI (by the V3 spec's author) also takes a key as an expression
    only where it is written /pattern/flags; an ordinary key read as one would be called
    up by any message (`[secret]` by any "s")."""
    found = _SLASHED_REGEX.match(key.strip())
    if not found or _UNESCAPED_SLASH.search(found[1]):
        return None
    flags = found[2]
    return found[1], (
        (stoppable_re.IGNORECASE if "i" in flags else 0)
        | (stoppable_re.DOTALL if "s" in flags else 0)
        | (stoppable_re.MULTILINE if "m" in flags else 0)
    )


class Lorebook(BaseModel):
    """A card's `character_book` as ATRI uses it."""

    constant: list[str] = Field(default_factory=list)  # in the system prompt, after the card
    before_card: list[str] = Field(default_factory=list)  # in it, before the description
    # Told in the chat: called up by their keys, or constant at a depth.
    keyword: list[KeywordEntry] = Field(default_factory=list)
    scan_depth: int = Field(default=DEFAULT_SCAN_DEPTH, ge=1)
    # The book's `recursive_scanning`: the text of an entry told calls up others.
    recursive: bool = True
    # Constant entries (of `constant` and `before_card`) whose text calls up no other
    # (SillyTavern's `prevent_recursion`).
    not_scanned: list[str] = Field(default_factory=list)


def read_lorebook(book: dict[str, Any]) -> tuple[Lorebook, list[str]]:
    """A card's `character_book`, and notes on what became of its entries (none where
    all are constant, fit and are where SillyTavern puts them)."""
    found, unreadable = _book_entries(book.get("entries"))
    raw = [_card_entry(e) for e in found]
    readable = [e for e in raw if _readable(e)]
    unreadable += len(raw) - len(readable)
    usable = [e for e in readable if _enabled(e)]
    disabled = sum(
        1 for e in readable if e.get("enabled") is False or e.get("disable") or _parked(e)
    )
    # SillyTavern never tells an entry that is neither constant nor has a key.
    activated = [e for e in usable if e.get("constant") or _has_keys(e)]
    # An outlet's text goes only where a {{outlet::name}} macro asks for it: none here.
    enabled = [e for e in activated if _position(e) != OUTLET]
    # Constant entries are always in SillyTavern's prompt: in the system prompt here,
    # those of a budget (the highest `priority`, else `insertion_order`, first), by
    # `insertion_order`.
    constant = [e for e in enabled if e.get("constant") and _position(e) != AT_DEPTH]
    kept_at = _within_budget(
        [len(e["content"].strip()) for e in constant],
        [_rank(e.get("priority"), _order(e)) for e in constant],
    )
    kept = [constant[i] for i in _by_insertion_order([_order(e) for e in constant], kept_at)]
    keyword = [
        _keyword_entry(e) for e in enabled if not e.get("constant") or _position(e) == AT_DEPTH
    ]
    # One longer than the whole budget could never be told.
    keyword_kept = [e for e in keyword if len(e.content) <= LORE_BUDGET_CHARS]
    lorebook = Lorebook(
        constant=[e["content"].strip() for e in kept if _position(e) != BEFORE_CHAR],
        before_card=[e["content"].strip() for e in kept if _position(e) == BEFORE_CHAR],
        keyword=keyword_kept,
        scan_depth=_depth(_plain(book.get("scan_depth"))) or DEFAULT_SCAN_DEPTH,
        recursive=_plain(book.get("recursive_scanning")) is not False,
        not_scanned=[e["content"].strip() for e in kept if _flag(e, "prevent_recursion")],
    )
    left_out = len(constant) - len(kept) + len(keyword) - len(keyword_kept)
    notes = _book_note(
        lorebook,
        disabled,
        left_out,
        unreadable,
        never=len(usable) - len(activated),
        parked=sum(1 for e in readable if _parked(e)),
        by_chance=sum(1 for e in enabled if _by_chance(e)),
    )
    return lorebook, notes + _position_note(activated)


def _book_entries(entries: object) -> tuple[list[dict[str, Any]], int]:
    """The book's entries, and how many of them are not objects. A SillyTavern world-info
    file pasted as the book has them as an object by uid ({"0": {...}, "1": {...}})."""
    if isinstance(entries, dict):
        entries = list(entries.values())
    if not isinstance(entries, list):
        return [], 0 if entries is None else 1
    found = [e for e in entries if isinstance(e, dict)]
    return found, len(entries) - len(found)


# SillyTavern's world-info names of an entry's fields, and the card's names for them (its
# convertWorldInfoToCharacterBook), for a world-info file pasted as the book.
_WORLD_INFO_FIELDS = {"key": "keys", "keysecondary": "secondary_keys", "order": "insertion_order"}
_WORLD_INFO_EXTENSIONS = {
    "selectiveLogic": "selectiveLogic",
    "scanDepth": "scan_depth",
    "caseSensitive": "case_sensitive",
    "matchWholeWords": "match_whole_words",
    "depth": "depth",
    "role": "role",
    "excludeRecursion": "exclude_recursion",
    "preventRecursion": "prevent_recursion",
    "delayUntilRecursion": "delay_until_recursion",
    "useProbability": "useProbability",
    "probability": "probability",
}


# The fields of an entry, and of its `extensions`, that are a flag or a number.
_FLAGS_AND_NUMBERS = (
    "enabled",
    "disable",
    "constant",
    "selective",
    "case_sensitive",
    "insertion_order",
    "priority",
    "position",  # a number in a world-info file ("before_char" in a card: kept)
)
_EXTENSION_FLAGS_AND_NUMBERS = (*_WORLD_INFO_EXTENSIONS.values(), "position")


def _card_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry in the card's (V2/V3) shape: SillyTavern's world-info names read as the
    card's, keys given as one comma-separated string split, flags and numbers given as
    strings ("false", "100") read as what they say."""
    card = dict(entry)
    for world, name in _WORLD_INFO_FIELDS.items():
        if card.get(name) is None and world in card:
            card[name] = card[world]
    found = card.get("extensions")
    ext = dict(found) if isinstance(found, dict) else {}
    for world, name in _WORLD_INFO_EXTENSIONS.items():
        if ext.get(name) is None and world in card:
            ext[name] = card[world]
    for name in _EXTENSION_FLAGS_AND_NUMBERS:
        ext[name] = _plain(ext.get(name))
    card["extensions"] = ext
    for name in _FLAGS_AND_NUMBERS:
        if name in card:
            card[name] = _plain(card[name])
    for name in ("keys", "secondary_keys"):
        if isinstance(card.get(name), str):
            card[name] = [key.strip() for key in card[name].split(",")]
    if isinstance(card.get("content"), str):
        decorators, card["content"] = _decorators(card["content"])
        if "@@activate" in decorators:
            card["constant"] = True
        elif "@@dont_activate" in decorators:
            card["disable"] = True
    return card


def _decorators(content: str) -> tuple[set[str], str]:
    """The decorators that lead an entry's text (V3's lines such as `@@depth 4`; one of
    "@@@" stands in for the unknown one before it), and the text without them, as
    SillyTavern's parseDecorators takes them out: it acts on `@@activate` (told with
    every message) and `@@dont_activate` (never told), and so does ATRI."""
    if not content.startswith("@@"):
        return set(), content
    lines = content.split("\n")
    found: set[str] = set()
    after_unknown = False
    for i, line in enumerate(lines):
        if not line.startswith("@@"):
            return found, "\n".join(lines[i:])
        if line.startswith("@@@") and not after_unknown:
            continue
        name = line.removeprefix("@") if line.startswith("@@@") else line
        known = name.startswith(_KNOWN_DECORATORS)
        if known:
            found.add(name.strip())
        after_unknown = not known
    return found, ""


def _plain(value: object) -> object:
    """A "true", "false" or number written as a string, as what it says; else the value."""
    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    try:
        number = float(word)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _readable(entry: dict[str, Any]) -> bool:
    """An entry whose text and keys are where a card puts them (keys may be missing: it
    is then background)."""
    keys = entry.get("keys")
    return isinstance(entry.get("content"), str) and (keys is None or isinstance(keys, list))


def _has_keys(entry: dict[str, Any]) -> bool:
    keys = entry.get("keys")
    return isinstance(keys, list) and any(isinstance(k, str) and k.strip() for k in keys)


def _flag(entry: dict[str, Any], name: str) -> bool:
    """SillyTavern's switch `name` under the entry's `extensions` (a world-info file's
    own name for it read there too: `_card_entry`)."""
    return bool(entry["extensions"].get(name))


def _position(entry: dict[str, Any]) -> int:
    """Where SillyTavern puts an entry (`BEFORE_CHAR`…`OUTLET`; -1 for a number it has
    no place for): its `extensions.position`, else a world-info file's number, else the
    card's `position` ("before_char"; "after_char" or none is after, as SillyTavern
    imports a card)."""
    found = entry.get("extensions")
    ext: dict[str, Any] = found if isinstance(found, dict) else {}
    for value in (ext.get("position"), entry.get("position")):
        if _is_number(value):
            return int(value) if value in range(OUTLET + 1) else -1
    return BEFORE_CHAR if entry.get("position") == "before_char" else AFTER_CHAR


def _insertion_depth(entry: dict[str, Any]) -> int:
    """How many messages up the chat SillyTavern puts an "@D" entry."""
    depth = entry["extensions"].get("depth")
    return int(depth) if _is_number(depth) and depth >= 0 else DEFAULT_INSERTION_DEPTH


def _keyword_entry(entry: dict[str, Any]) -> KeywordEntry:
    """An entry told in the chat as ATRI reads it: the V2/V3 fields, and SillyTavern's
    own (`extensions.selectiveLogic`, `case_sensitive`, `match_whole_words`,
    `scan_depth`, `position`, `depth` and its recursion switches), as its
    convertCharacterBook reads a card. Where SillyTavern's `extensions` give no case
    (null in its export), V3's `case_sensitive` says, else any case; where they give no
    `match_whole_words`, whole words (its default settings)."""
    ext: dict[str, Any] = entry["extensions"]
    # The V2 spec: secondary keys are ignored unless `selective` is true.
    selective = bool(entry.get("selective"))
    case_sensitive = ext.get("case_sensitive")
    if case_sensitive is None:
        case_sensitive = entry.get("case_sensitive")
    whole_words = ext.get("match_whole_words")
    return KeywordEntry(
        content=entry["content"].strip(),
        keys=_strings(entry.get("keys")),
        secondary_keys=_strings(entry.get("secondary_keys")) if selective else [],
        logic=_SELECTIVE_LOGIC.get(ext.get("selectiveLogic"), "and_any"),
        case_sensitive=bool(case_sensitive),
        whole_words=whole_words is None or bool(whole_words),
        insertion_order=_order(entry),
        priority=entry["priority"] if _is_number(entry.get("priority")) else None,
        scan_depth=_depth(ext.get("scan_depth")),
        depth=_insertion_depth(entry) if _position(entry) == AT_DEPTH else None,
        constant=bool(entry.get("constant")),
        exclude_recursion=_flag(entry, "exclude_recursion"),
        prevent_recursion=_flag(entry, "prevent_recursion"),
        delay_until_recursion=_flag(entry, "delay_until_recursion"),
    )


def _depth(value: object) -> int | None:
    """A scan depth a card gives: a whole number of messages, at least 1."""
    return int(value) if _is_number(value) and value >= 1 else None


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def _rank(priority: object, insertion_order: float) -> float:
    """Which entries a budget keeps first: the highest `priority`, as the V2 and V3 specs
    drop the lowest first, else the highest `insertion_order`, as SillyTavern (which
    reads no `priority`) does."""
    return float(priority) if _is_number(priority) else insertion_order


def _within_budget(sizes: Sequence[int], ranks: Sequence[float]) -> set[int]:
    """Which entries (by index) fit LORE_BUDGET_CHARS together, the highest rank taken
    first (the earlier of equal ranks, as SillyTavern takes them); one that does not fit
    is passed over for the smaller ones after it."""
    kept: set[int] = set()
    used = 0
    for i in sorted(range(len(sizes)), key=lambda i: -ranks[i]):
        if used + sizes[i] <= LORE_BUDGET_CHARS:
            kept.add(i)
            used += sizes[i]
    return kept


def _by_insertion_order(orders: Sequence[float], indexes: set[int]) -> list[int]:
    """The entries (by index: in the book's order, or in the order called up) in the
    order SillyTavern tells them: the lowest `insertion_order` first, so the highest is
    nearest the chat; of equal ones, the later first (world-info.js sorts them highest
    first, then puts each in front of those before it)."""
    return sorted(indexes, key=lambda i: (orders[i], -i))


def _book_note(
    book: Lorebook,
    disabled: int,
    left_out: int,
    unreadable: int,
    *,
    never: int,
    parked: int,
    by_chance: int,
) -> list[str]:
    """What became of the lorebook's entries, said at start and by `atri persona show`."""
    if not (book.keyword or disabled or left_out or unreadable or never or by_chance):
        return []
    parts = lore_places(len(book.constant) + len(book.before_card), book.keyword, book.scan_depth)
    if disabled:
        at_zero = f" ({parked} of them by a probability of 0 %)" if parked else ""
        parts.append(f"{_entries(disabled)} disabled{at_zero}")
    if by_chance:
        parts.append(
            f"{_entries(by_chance)} with a probability under 100 % told every time, not "
            "by chance (the prompt stays the same text for the same messages)"
        )
    if never:
        parts.append(
            f"{_entries(never)} never told (neither constant nor with a key, as SillyTavern "
            "never tells one)"
        )
    if left_out:
        parts.append(
            f"{_entries(left_out)} not used (over the {LORE_BUDGET_CHARS} characters the "
            "prompt takes of them)"
        )
    if unreadable:
        parts.append(
            f"{_entries(unreadable)} not read (not an object with a `content` string and "
            "`keys` as a list or a comma-separated string)"
        )
    return ["character_book: " + "; ".join(parts)]


def _position_note(entries: list[dict[str, Any]]) -> list[str]:
    """The entries SillyTavern would put where ATRI has no place for them, said once at
    load (and by `atri persona show`), not left to be found missing in the chats."""
    constant = [e for e in entries if e.get("constant")]
    moved = {
        "at the Author's Note, which ATRI has none of": sum(
            1 for e in entries if _position(e) in (AN_TOP, AN_BOTTOM)
        ),
        "after the example messages": sum(1 for e in constant if _position(e) == EM_BOTTOM),
        "at a position SillyTavern does not have": sum(1 for e in entries if _position(e) < 0),
    }
    outlets = sum(1 for e in entries if _position(e) == OUTLET)
    as_hers = sum(
        1
        for e in entries
        if _position(e) == AT_DEPTH and e["extensions"].get("role") == ASSISTANT_ROLE
    )
    parts = []
    if sum(moved.values()):
        where = ", ".join(f"{count} {place}" for place, count in moved.items() if count)
        parts.append(
            f"{_entries(sum(moved.values()))} placed as if after the card ({where}): "
            "constant ones in the system prompt, the others in the note before the new message"
        )
    if outlets:
        parts.append(
            f"{_entries(outlets)} not used (an outlet, whose text only a {{{{outlet::name}}}} "
            "macro places, and ATRI fills none)"
        )
    if as_hers:
        parts.append(
            f"{_entries(as_hers)} at a depth as her own message (role assistant) told as a "
            "note in a user's turn, not as her words"
        )
    return ["character_book position: " + "; ".join(parts)] if parts else []


def lore_places(constant: int, keyword: Sequence[KeywordEntry], scan_depth: int) -> list[str]:
    """Where a card's lore entries are told (a JSON card's `character_book` and a TOML
    card's `lore`/`keyword_lore` alike): `constant` of them in the system prompt, the
    keyword entries at a depth or where a key is in the last `scan_depth` messages."""
    parts = [f"{_entries(constant)} always in the system prompt"]
    always = [e for e in keyword if e.constant]
    keyed = [e for e in keyword if not e.constant]
    if always:
        parts.append(f"{_entries(len(always))} always told in the chat, at a depth")
    if keyed:
        deep = sum(1 for e in keyed if e.depth is not None)
        parts.append(
            f"{_entries(len(keyed))} with keys, told where one is in the last "
            f"{scan_depth} messages"
            + (
                f" ({deep} of them at a depth in the chat, the others before the new message)"
                if deep
                else ""
            )
        )
    return parts


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


class Told(NamedTuple):
    """An entry told with a message (`called_up`): its text, and where in the chat."""

    content: str
    depth: int | None = None  # SillyTavern's "@D"; None: the note before the new message


def called_up(
    entries: Sequence[KeywordEntry],
    recent: Sequence[str],
    book_depth: int,
    *,
    recursive: bool = True,
    background: Sequence[str] = (),
    fill: Callable[[str], str] | None = None,
) -> list[Told]:
    """The entries told with a message: those whose keys are in `recent` (the messages
    her prompt is made of, oldest first, the new one last) and the constant ones, at
    most LORE_BUDGET_CHARS characters of them (`_within_budget`), told by
    `insertion_order` (`_by_insertion_order`).

    Where `recursive`, as SillyTavern scans: the text of the entries told (and the
    `background`, the constant entries in the system prompt) is searched too, again
    until no other entry is called up; an entry's `exclude_recursion` keeps it from being
    called up so, `prevent_recursion` keeps its text out of the search, and
    `delay_until_recursion` keeps an entry out of the first search (of the messages
    alone). All its searches together take at most LORE_SEARCH_SECONDS (`SearchBudget`).
    `fill` puts names into keys and into the text searched (`{{char}}`…), as
    SillyTavern fills both."""
    scanned: dict[tuple[int, int], str] = {}  # the text searched, per scan depth and pass
    told_text: list[str] = []  # the text of the entries told, as it is searched

    def text(depth: int) -> str:
        # Composed (NFC), as keys are: an "é" or a Hangul syllable typed as a letter and
        # its combining marks (some keyboards, a pasted macOS file name) is the same text.
        if (depth, len(told_text)) not in scanned:
            said = "\n\n".join([*recent[-depth:], *told_text])
            scanned[depth, len(told_text)] = unicodedata.normalize("NFC", said)
        return scanned[depth, len(told_text)]

    found: list[int] = []  # in the order called up
    left = list(range(len(entries)))
    pending = [fill(t) if fill else t for t in background]  # searched from the next pass
    recursion = False
    budget = SearchBudget()
    while True:
        called = [
            i
            for i in left
            if (recursion or not entries[i].delay_until_recursion)
            and not (recursion and entries[i].exclude_recursion)
            and entries[i].is_called_up(text(entries[i].scan_depth or book_depth), fill, budget)
        ]
        found += called
        taken = set(called)
        left = [i for i in left if i not in taken]
        pending += [
            fill(entries[i].content) if fill else entries[i].content
            for i in called
            if not entries[i].prevent_recursion
        ]
        # As SillyTavern, no further pass once the entries told are over the budget: the
        # note holds no more, and a book whose entries all name each other would search
        # the whole book's text for every key of it.
        if (
            not (recursive and pending)
            or sum(len(entries[i].content) for i in found) > LORE_BUDGET_CHARS
        ):
            break
        told_text += pending
        pending = []
        recursion = True
    kept = _within_budget(
        [len(entries[i].content) for i in found],
        [_rank(entries[i].priority, entries[i].insertion_order) for i in found],
    )
    orders = [entries[i].insertion_order for i in found]
    return [
        Told(entries[found[j]].content, entries[found[j]].depth)
        for j in _by_insertion_order(orders, kept)
    ]


def _enabled(entry: dict[str, Any]) -> bool:
    """An entry with text to use: its `content` is a non-empty string, not turned off
    (`enabled: false`, SillyTavern's own `disable: true`, or a probability of 0 %:
    `_parked`). One that gives no `enabled` is on, as whoever left it out meant, though
    SillyTavern's import reads it as off (`disable: !entry.enabled`)."""
    return (
        isinstance(entry.get("content"), str)
        and bool(entry["content"].strip())
        and entry.get("enabled", True) is not False
        and not entry.get("disable")
        and not _parked(entry)
    )


def _parked(entry: dict[str, Any]) -> bool:
    """An entry SillyTavern never tells: its `useProbability` on with a probability of 0 %
    (or less), how a book parks an entry."""
    probability = entry["extensions"].get("probability")
    return _uses_probability(entry) and _is_number(probability) and probability <= 0


def _by_chance(entry: dict[str, Any]) -> bool:
    """An entry SillyTavern tells by chance (a probability between 0 and 100 %): ATRI tells
    it every time, so that the same messages give the same prompt (its prefix stays cached)."""
    probability = entry["extensions"].get("probability")
    return _uses_probability(entry) and _is_number(probability) and 0 < probability < 100


def _uses_probability(entry: dict[str, Any]) -> bool:
    return entry["extensions"].get("useProbability") is True


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _order(entry: dict[str, Any]) -> float:
    order = entry.get("insertion_order")
    return float(order) if _is_number(order) else 0.0


class DepthPrompt(NamedTuple):
    """A card's `extensions.depth_prompt`, SillyTavern's "Character's Note"."""

    text: str
    depth: int = DEFAULT_INSERTION_DEPTH  # messages up the chat (0: after the new message)
    role: NoteRole = "system"  # whose message SillyTavern makes it


def read_depth_prompt(depth_prompt: dict[str, Any]) -> DepthPrompt:
    """The character's note of `extensions.depth_prompt`: its `prompt`, its `depth` (a
    whole number, at least 0, "2" too; SillyTavern's 4 otherwise) and its `role`
    ("system", "user" or "assistant", in any case, or SillyTavern's number for one;
    "system" otherwise, as SillyTavern's default)."""
    prompt = depth_prompt.get("prompt")
    depth = _plain(depth_prompt.get("depth"))
    role = depth_prompt.get("role")
    if isinstance(role, str):
        role = _plain(role) if role.strip().isdigit() else role.strip().lower()
    if _is_number(role) and role in range(len(NOTE_ROLES)):
        role = NOTE_ROLES[int(role)]
    return DepthPrompt(
        text=prompt.strip() if isinstance(prompt, str) else "",
        depth=int(depth) if _is_number(depth) and depth >= 0 else DEFAULT_INSERTION_DEPTH,
        role=role if role in NOTE_ROLES else "system",
    )


def depth_prompt_note(text: str, role: NoteRole) -> list[str]:
    """What becomes of a character's note SillyTavern would make her own message, said at
    load (and by `atri persona show`) as the lorebook's are (`_position_note`)."""
    if role != ASSISTANT or not text.strip():
        return []
    return [
        "extensions.depth_prompt: the character's note, as her own message (role "
        "assistant), is told as a note in a user's turn, not as her words"
    ]


def depth_prompt_depth_note(depth_prompt: dict[str, Any]) -> list[str]:
    """A character's note whose `depth` is given but is no number of messages (-3, "soon"),
    said at load (and by `atri persona show`): it is told at SillyTavern's default."""
    given = depth_prompt.get("depth")
    prompt = depth_prompt.get("prompt")
    depth = _plain(given)
    if given is None or not (isinstance(prompt, str) and prompt.strip()):
        return []
    if _is_number(depth) and depth >= 0:
        return []
    return [
        f"extensions.depth_prompt.depth: {json.dumps(given, ensure_ascii=False)} is not a "
        "number of messages up the chat (0 or more); the character's note is told "
        f"{DEFAULT_INSERTION_DEPTH} messages up, SillyTavern's default"
    ]


def alternate_greetings(greetings: list[Any]) -> list[str]:
    """The card's `alternate_greetings` that say something."""
    return [g.strip() for g in greetings if isinstance(g, str) and g.strip()]
