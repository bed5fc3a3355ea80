"""Text from outside is printed as written: rich turns its emoji codes (`:heart:`,
`:smile:`) into emoji even with markup off, so a card's `:heart:` read as ❤ in `atri
persona show` (not the prompt the model is sent), and a stored ":smile:" as 😄 in `atri
memory show` (not what was said)."""

from __future__ import annotations

import json
from pathlib import Path

from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config

CODES = "ends a good day with :heart: and a wave :wave: :smile:"


def test_persona_show_keeps_a_cards_emoji_codes(tmp_path: Path) -> None:
    card = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": CODES}}
    (tmp_path / "eileen.json").write_text(json.dumps(card), encoding="utf-8")
    config = tmp_path / "eileen.toml"
    config.write_text('[model]\nengine = "echo"\n[persona]\ncard = "eileen.json"\n')

    code, out = atri(config, "persona", "show")

    assert code == 0, out
    assert CODES in out and "❤" not in out


def test_memory_show_keeps_emoji_codes(tmp_path: Path) -> None:
    async def fill(memory: Memory) -> None:
        await memory.append_many(
            "qq:user:42",
            [("user", "42", "Max :smile:", CODES, ""), ("assistant", "", "Eileen", "Aye!", "v1")],
        )

    config = memory_config(tmp_path, fill)

    code, out = atri(config, "memory", "show", "qq:user:42")

    assert code == 0, out
    assert f"Max :smile:: {CODES}" in out and "😄" not in out
