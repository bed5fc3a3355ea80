"""Character cards in the shapes other tools write, read as the Character Card V2 that
`Persona.from_card_v2` reads, the way SillyTavern's importer
(src/endpoints/characters.js) reads them:

- RisuAI's `.charx`: a zip archive whose `card.json` is a Character Card V3;
- V1 (TavernAI): the V2 fields flat at the top, with no `spec`;
- macros: TavernAI's `<BOT>`/`<USER>` and SillyTavern's `{{Char}}`, `{{USER}}`… (it
  reads them in any case) become `{{char}}`/`{{user}}`, and `{{random:a,b}}` picks one;
- Pygmalion / Gradio (text-generation-webui): `char_name`, `char_persona`,
  `world_scenario`, `char_greeting`, `example_dialogue`.

Standard library only.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from typing import Any

CARD_SPECS = ("chara_card_v2", "chara_card_v3")

# The V2 fields a V1 card holds at its top level (V2 put them under `data`).
_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")

# Pygmalion field -> V2 field, as SillyTavern maps them (it has no personality of its own).
_PYGMALION_FIELDS = {
    "char_name": "name",
    "char_persona": "description",
    "world_scenario": "scenario",
    "char_greeting": "first_mes",
    "example_dialogue": "mes_example",
}


class CardFormatError(ValueError):
    """Why a file holds no readable card: a sentence the card loader puts its path to."""


def as_card_v2(card: Any) -> Any:
    """`card` in the V2 shape: a V1 or Pygmalion card converted, anything else as it is
    (a V2 or V3 card, or something `from_card_v2` refuses in its own words)."""
    if not isinstance(card, dict) or "spec" in card:
        return card
    if "name" in card:
        data = {key: card.get(key) for key in _V1_FIELDS}
    elif "char_name" in card:
        data = {v2: card.get(key) for key, v2 in _PYGMALION_FIELDS.items()}
    else:
        return card
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


# The card's text fields ATRI reads; their macros are put in the one spelling it fills in.
_TEXT_FIELDS = ("description", "personality", "scenario", "first_mes", "mes_example")
_CHAR = re.compile(r"<BOT>|\{\{char\}\}", re.IGNORECASE)
_USER = re.compile(r"<USER>|\{\{user\}\}", re.IGNORECASE)
# SillyTavern's `{{random:a,b,c}}` and `{{random::a::b}}` (whose options may hold commas).
_RANDOM = re.compile(r"\{\{random\s?::?([^}]*)\}\}", re.IGNORECASE)


def with_standard_macros(card: Any) -> Any:
    """A V2/V3 card whose text fields say `{{char}}` and `{{user}}` however the card
    spelled them, with each `{{random}}` picked: the example-dialogue parser and `fill`
    then see one spelling. Anything else is returned as it is, for `from_card_v2` to judge."""
    data = card.get("data") if isinstance(card, dict) else None
    if not isinstance(data, dict):
        return card
    text: dict[str, Any] = {
        key: standard_macros(data[key]) for key in _TEXT_FIELDS if isinstance(data.get(key), str)
    }
    greetings = data.get("alternate_greetings")
    if isinstance(greetings, list):
        text["alternate_greetings"] = [
            standard_macros(g) if isinstance(g, str) else g for g in greetings
        ]
    return {**card, "data": {**data, **text}}


def with_stripped_names(card: Any) -> Any:
    """A V2/V3 card whose `name` and `nickname` have no blanks around them ("  Aqua  "
    made her prompt say "You are   Aqua  ."); anything else as it is."""
    data = card.get("data") if isinstance(card, dict) else None
    if not isinstance(data, dict):
        return card
    names = {
        key: data[key].strip() for key in ("name", "nickname") if isinstance(data.get(key), str)
    }
    return {**card, "data": {**data, **names}}


# SillyTavern macros that stand for no text of their own: an author's comment
# `{{// …}}` and `{{noop}}` are nothing, `{{newline}}` a line break, and `{{trim}}` takes
# the blanks around it. Left in, they reached her prompt as written.
_COMMENT = re.compile(r"\{\{//.*?\}\}|\{\{noop\}\}", re.IGNORECASE | re.DOTALL)
_NEWLINE = re.compile(r"\{\{newline\}\}", re.IGNORECASE)
_TRIM = re.compile(r"\s*\{\{trim\}\}\s*", re.IGNORECASE)


def standard_macros(text: str) -> str:
    text = _USER.sub("{{user}}", _CHAR.sub("{{char}}", text))
    text = _TRIM.sub("", _NEWLINE.sub("\n", _COMMENT.sub("", text)))
    return _RANDOM.sub(_pick_one, text)


def _pick_one(macro: re.Match[str]) -> str:
    """One option of a `{{random}}` macro, picked once when the card is read, and the same
    in every process that reads it: SillyTavern picks anew at every message, but the system
    prompt must stay the same text, for the worker to reuse its cached KV states (the
    prefix cache, model/engines/prefix_cache.py, llama.cpp's and vLLM's prefix caching)
    and for the adapter to be served the prompt it was trained with. Seeded with the
    macro's own text, the same macro in the description and the greeting agree."""
    options = macro[1]
    choices = [o.strip() for o in options.split("::" if "::" in options else ",")]
    return random.Random(macro[0]).choice(choices)


ZIP_SIGNATURE = b"PK\x03\x04"
# The most a .charx's card.json may unpack to: its pictures are files of their own, so the
# card is text, far below this; a zip bomb is far above it.
MAX_CHARX_CARD = 16 * 1024 * 1024


def charx_card(raw: bytes) -> Any:
    """The card in a RisuAI `.charx` file: a zip whose `card.json` is a Character Card V3."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            info = archive.getinfo("card.json")
            if info.file_size > MAX_CHARX_CARD:
                raise CardFormatError(
                    f"this .charx card's card.json is too large to be a card "
                    f"({info.file_size // 1024 // 1024} MiB, at most "
                    f"{MAX_CHARX_CARD // 1024 // 1024} MiB)."
                )
            with archive.open(info) as member:
                text = member.read(MAX_CHARX_CARD + 1)  # its size in the zip may lie
    except KeyError:
        raise CardFormatError("this .charx file holds no card.json.") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError):
        raise CardFormatError("this .charx file is not a readable zip archive.") from None
    if len(text) > MAX_CHARX_CARD:
        raise CardFormatError("this .charx card's card.json is too large to be a card.")
    try:
        return json.loads(text.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CardFormatError("this .charx file's card.json is not card JSON.") from None


# The file names a card may have whose bytes are text: one that is not UTF-8 is told how
# to save it again. Any other file that is not text is no card ATRI reads.
TEXT_CARD_SUFFIXES = ("", ".toml", ".json", ".txt")
UNKNOWN_FORMAT = (
    "character card is in no format ATRI reads (our TOML card, a Character Card V1, V2 or "
    "V3 or Pygmalion JSON file, a PNG card or a RisuAI .charx)."
)


def fill_names(text: str, char: str, user: str) -> str:
    """`text` with her name for `{{char}}` and the person's for `{{user}}`, in any case,
    and for TavernAI's `<BOT>` and `<USER>`, as SillyTavern fills them in."""
    return _USER.sub(lambda _: user, _CHAR.sub(lambda _: char, text))
