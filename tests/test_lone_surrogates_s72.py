"""A lone surrogate escaped in JSON (`"\\ud83d"`: half an emoji, which JavaScript tools
write when they cut a string inside one) in the user's own files: a character card, a
JSON script for `atri prep`, a training dataset. json.loads keeps it, and UTF-8 cannot
encode it: the card stopped `atri persona show`, chat and the worker at their first
print, prep failed writing its files at the very end, and training failed in the
tokenizer after the model had loaded."""

from __future__ import annotations

import base64
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

from atri.cli import app
from model.training.sharegpt import DatasetError, load_sharegpt

HALF = "\ud83d"  # the first half of 😀 (U+1F600), alone

CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": f"Atri{HALF}",
        "description": f"A robot girl {HALF} who loves crabs.",
        "personality": "cheerful",
        "first_mes": "Hi!",
        "character_book": {
            "entries": [{"keys": ["crab"], "content": f"Crabs {HALF} are her favourite."}]
        },
    },
}


def png_with_chara(card: object) -> bytes:
    info = PngImagePlugin.PngInfo()
    # json.dumps escapes the surrogate as `\ud83d`, as a JavaScript tool writes it.
    info.add_text("chara", base64.b64encode(json.dumps(card).encode()).decode())
    out = io.BytesIO()
    Image.new("RGBA", (2, 2)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


@pytest.mark.parametrize("name", ["card.json", "card.png"])
def test_a_card_with_half_an_emoji_is_shown_with_u_fffd_and_a_note_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    card = tmp_path / name
    if name.endswith(".png"):
        card.write_bytes(png_with_chara(CARD))
    else:
        card.write_text(json.dumps(CARD), encoding="utf-8")  # the escape, as written
    assert "\\ud83d" in json.dumps(CARD)
    config = tmp_path / "atri.toml"
    config.write_text(f'[persona]\ncard = "{name}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    shown = CliRunner().invoke(app, ["--config", str(config), "persona", "show"])

    assert shown.exit_code == 0, shown.output
    out = " ".join(shown.output.split())
    assert "You are Atri\ufffd." in out and "A robot girl \ufffd who" in out
    assert (
        f"Character card: {card}: data.name, data.description, "
        "data.character_book.entries[0].content held a broken character (a lone surrogate: "
        "half of an emoji, cut off), read as \ufffd; mend it in the card." in out
    )
    out.encode("utf-8")  # what a terminal is given can be written


def test_prep_leaves_the_half_emoji_out_of_a_json_script_and_names_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lines = []
    for i in range(12):
        lines.append({"name": "夏生", "message": f"今天天气怎么样？第{i}次问你"})
        # A whole emoji (an escaped pair) stays; the lone half on line 4 goes.
        said = f"我是高性能的机器人！第{i}次回答 \U0001f600" + (
            f" 半个{HALF}表情" if i == 1 else ""
        )
        lines.append({"name": "亚托莉", "message": said})
    script = tmp_path / "scripts" / "scene1.json"
    script.parent.mkdir()
    script.write_text(
        "[\n" + ",\n".join(json.dumps(line) for line in lines) + "\n]\n", encoding="utf-8"
    )
    config = tmp_path / "atri.toml"
    config.write_text("[dataprep]\neval_ratio = 0\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    with caplog.at_level(logging.WARNING):
        result = CliRunner(env={"COLUMNS": "400"}).invoke(
            app, ["--config", str(config), "prep", "scripts", "-o", "out"]
        )

    assert result.exit_code == 0, result.output
    warned = [r.getMessage() for r in caplog.records if "broken character" in r.getMessage()]
    assert warned == [
        f"{Path('scripts') / 'scene1.json'}: line 5 held a broken character (a lone "
        "surrogate: half of an emoji, cut off), left out of its text (the rest is kept); "
        "mend it in the script."
    ]
    written = (tmp_path / "out" / "atri_sharegpt.json").read_text(encoding="utf-8")
    replies = [c["conversations"][-1]["value"] for c in json.loads(written)]
    # Every reply is trained on: the line keeps all but the half emoji.
    assert len(replies) == 12
    assert "我是高性能的机器人！第1次回答 \U0001f600 半个表情" in replies


def test_a_dataset_record_with_half_an_emoji_is_refused_in_one_sentence_before_training(
    tmp_path: Path,
) -> None:
    records: list[dict[str, Any]] = [
        {
            "conversations": [
                {"from": "human", "value": "hello"},
                {"from": "gpt", "value": "fine \U0001f600"},
            ]
        },
        {
            "conversations": [
                {"from": "human", "value": "hi"},
                {"from": "gpt", "value": f"lone {HALF} surrogate"},
            ]
        },
    ]
    path = tmp_path / "weird.json"
    path.write_text(json.dumps(records), encoding="utf-8")

    with pytest.raises(DatasetError) as refused:
        load_sharegpt(path)

    assert str(refused.value) == (
        f'{path}: record 1: a "gpt" turn\'s "value" holds a broken character (a lone '
        "surrogate: half of an emoji, cut off); mend it (a JSON escape from \\ud800 to "
        "\\udfff with no partner) or remove the record."
    )
    # Its "system" is read before the model loads too.
    records[1] = {"system": f"You are {HALF}.", "conversations": records[0]["conversations"]}
    path.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(DatasetError, match=r'record 1: its "system" holds a broken character'):
        load_sharegpt(path)
