"""Character cards in the shapes other tools write, read as the Character Card V2 that
`Persona.from_card_v2` reads, the way SillyTavern's importer
(src/endpoints/characters.js) reads them:

- RisuAI's `.charx`: a zip archive whose `card.json` is a Character Card V3;
- V1 (TavernAI): the V2 fields flat at the top, with no `spec`;
- Pygmalion / Gradio (text-generation-webui): `char_name`, `char_persona`,
  `world_scenario`, `char_greeting`, `example_dialogue`.

Standard library only.
"""

from __future__ import annotations

import io
import json
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
