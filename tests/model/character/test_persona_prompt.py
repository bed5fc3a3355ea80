"""The character card, the prompt built from it, and reply cleaning."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from atri.config import OFFLINE_DEFAULT_BASE, Settings
from model.character.ooc import detect_language
from model.character.persona import (
    PersonaError,
    canned_lines,
    configured_persona,
    default_user_name,
    load_persona,
    reply_lines,
)
from model.character.prompt import clean_reply


def test_packaged_card_builds_a_system_prompt() -> None:
    persona = load_persona()
    prompt = persona.system_prompt("Kaito")
    assert persona.name == "亚托莉"
    assert "Kaito" in prompt and "{{user}}" not in prompt and "{{char}}" not in prompt
    assert "高性能" in prompt
    assert persona.greeting_for("Kaito").startswith("早上好，Kaito")
    # What the worker and the training data use: one prompt for everyone.
    shared = persona.system_prompt()
    assert "{{user}}" in shared and "{{char}}" not in shared and persona.name in shared


def test_card_v2_round_trip(tmp_path: Path) -> None:
    persona = load_persona()
    card = persona.to_card_v2()
    assert card["spec"] == "chara_card_v2" and card["spec_version"] == "2.0"
    assert card["data"]["first_mes"] == persona.greeting.strip()
    path = tmp_path / "atri.json"
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    again = load_persona(path)
    assert again.name == persona.name
    assert again.user_name == persona.user_name == "夏生"  # whom she talks to, kept too
    assert again.example_dialogue == persona.example_dialogue
    assert again.speech_style.strip() == persona.speech_style.strip()
    assert again.system_prompt("x") == persona.system_prompt("x")


def test_card_from_sillytavern_without_our_extensions(tmp_path: Path) -> None:
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Atri",
            "description": "A robot girl.",
            "first_mes": "Hello, {{user}}!",
            "mes_example": "<START>\n{{user}}: Hi\n{{char}}: I'm high-performance!",
        },
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    persona = load_persona(path)
    assert persona.greeting_for("Kaito") == "Hello, Kaito!"
    assert persona.example_dialogue[0].char == "I'm high-performance!"


def test_japanese_sillytavern_card_with_full_width_colons(tmp_path: Path) -> None:
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": "アトリ",
            "description": "高性能なロボット少女。海に沈みゆく町で夏生と暮らす。",
            "first_mes": "おはようございます、{{user}}さん！",
            "mes_example": "<START>\n{{user}}：起きてる？\n{{char}}：もちろんです！高性能ですから！",
        },
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    persona = load_persona(path)
    assert persona.main_language == "ja"
    assert [(t.user, t.char) for t in persona.example_dialogue] == [
        ("起きてる？", "もちろんです！高性能ですから！")
    ]
    assert "【会話例】\n{{user}}：起きてる？\nアトリ：もちろんです！" in persona.system_prompt()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"spec": "something_else"}', "not a Character Card V2"),
        ("{not json", "not valid"),
    ],
)
def test_bad_cards_are_one_sentence(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PersonaError, match=message):
        load_persona(path)
    with pytest.raises(PersonaError, match="cannot be read"):
        load_persona(tmp_path / "missing.toml")


EILEEN = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": "A witch."}}


def v2(**fields: object) -> bytes:
    return json.dumps({"spec": "chara_card_v2", "data": {"name": "Eileen", **fields}}).encode()


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("c.json", b"[]", "not a JSON object (it is a list)"),
        ("c.json", b'"Eileen"', "not a JSON object (it is a string)"),
        ("c.json", v2(name=["x"]), "field data.name: must be a string (it is a list)"),
        ("c.json", v2(first_mes=3), "field data.first_mes: must be a string (it is a number"),
        ("c.json", v2(extensions=[]), "field data.extensions: must be an object"),
        (
            "c.json",
            v2(extensions={"atri": "x"}),
            "field data.extensions.atri: must be an object (it is a string)",
        ),
        (
            "c.json",
            v2(extensions={"atri": {"aliases": "ATRI"}}),
            "field data.extensions.atri.aliases: must be a list (it is a string)",
        ),
        (
            "c.json",
            v2(extensions={"atri": {"aliases": ["ATRI", 2]}}),
            "aliases: must be a list of strings",
        ),
        ("c.toml", 'name = "艾琳"\n'.encode("gbk"), "not UTF-8 text"),
        # UTF-16 without a byte-order mark says nothing of what it is: refused.
        (
            "c.json",
            json.dumps(EILEEN, ensure_ascii=False).encode("utf-16-le"),
            "UTF-16 without its byte-order mark, not UTF-8 text",
        ),
        ("c.toml", 'name = "艾琳"\n'.encode("gbk"), "save it as UTF-8 (in Notepad"),
        ("c.png", json.dumps(EILEEN).encode(), "not a PNG image"),
    ],
)
def test_a_card_of_the_wrong_shape_is_one_sentence(
    tmp_path: Path, file: str, content: bytes, message: str
) -> None:
    """Whatever the file holds, every command reading it says one sentence naming it:
    never a traceback, nor a prompt saying "You are ['x']" or aliases "A", "T", "R", "I"."""
    (tmp_path / file).write_bytes(content)
    with pytest.raises(PersonaError, match=re.escape(message)) as caught:
        load_persona(tmp_path / file)
    assert str(caught.value).startswith(f"{tmp_path / file}: character card")
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_a_card_windows_notepad_saved_as_unicode_is_read(tmp_path: Path, encoding: str) -> None:
    """Notepad's "Unicode" is UTF-16 with a byte-order mark; such a card was refused."""
    raw = json.dumps(EILEEN, ensure_ascii=False)
    bom = "\ufeff" if encoding == "utf-16-be" else ""  # utf-16 and utf-8-sig write their own
    (tmp_path / "c.json").write_bytes((bom + raw).encode(encoding))
    assert load_persona(tmp_path / "c.json").name == "Eileen"


def png_card(**chunks: tuple[str, bytes | str]) -> bytes:
    """A real PNG image (written by Pillow, not by the reader under test) with these text
    chunks: keyword -> (how: "tEXt", "zTXt", "iTXt" or "iTXt-zip", value)."""
    info = PngImagePlugin.PngInfo()
    for keyword, (how, value) in chunks.items():
        text = value.decode() if isinstance(value, bytes) else value
        if how.startswith("iTXt"):
            info.add_itxt(keyword, text, zip=how == "iTXt-zip")
        else:
            info.add_text(keyword, text, zip=how == "zTXt")
    out = io.BytesIO()
    Image.new("RGBA", (2, 2), (200, 80, 80, 255)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def b64(card: Mapping[str, object]) -> bytes:
    return base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8"))


@pytest.mark.parametrize("how", ["tEXt", "zTXt", "iTXt", "iTXt-zip"])
def test_a_png_card_is_read(tmp_path: Path, how: str) -> None:
    """SillyTavern cards are mostly shared as PNG images holding the card's JSON, base64,
    in a `chara` text chunk: such a file is her card as it is downloaded."""
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": "艾琳",
            "description": "住在森林里的魔女。",
            "first_mes": "你好，{{user}}！",
            "mes_example": "<START>\n{{user}}: 你是谁？\n{{char}}: 我是艾琳。",
        },
    }
    path = tmp_path / "eileen.png"
    path.write_bytes(png_card(Title=("tEXt", "a witch"), chara=(how, b64(card))))
    Image.open(path).load()  # a valid image, as a viewer shows it
    persona = load_persona(path)
    assert persona.name == "艾琳" and persona.main_language == "zh"
    assert persona.greeting_for("Max") == "你好，Max！"
    assert [(t.user, t.char) for t in persona.example_dialogue] == [("你是谁？", "我是艾琳。")]


def test_a_png_card_v3_wins_over_its_v2_copy(tmp_path: Path) -> None:
    v3 = {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {"name": "Eileen Grey", "nickname": "Eileen", "description": "A witch."},
    }
    old = {"spec": "chara_card_v2", "data": {"name": "Old Eileen", "description": "Stale."}}
    path = tmp_path / "eileen.png"
    path.write_bytes(png_card(chara=("tEXt", b64(old)), ccv3=("tEXt", b64(v3))))
    persona = load_persona(path)
    # V3's nickname is what {{char}} stands for; her full name still answers to her.
    assert (persona.name, persona.aliases) == ("Eileen", ["Eileen Grey"])
    assert persona.description == "A witch."
    (tmp_path / "v3.json").write_text(json.dumps(v3), encoding="utf-8")
    assert load_persona(tmp_path / "v3.json").name == "Eileen"


def test_a_png_without_a_good_card_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "card.png"

    def said(image: bytes) -> str:
        path.write_bytes(image)
        with pytest.raises(PersonaError) as caught:
            load_persona(path)
        assert str(caught.value).startswith(f"{path}: ")
        return str(caught.value)

    assert "holds no character card" in said(png_card(Title=("tEXt", "just a picture")))
    assert '"chara" chunk of this PNG card is not base64-encoded card JSON' in said(
        png_card(chara=("tEXt", "{not base64"))
    )
    assert "not a JSON object" in said(png_card(chara=("tEXt", base64.b64encode(b"[1]"))))
    good = png_card(chara=("tEXt", b64(EILEEN)))
    at = good.index(b"chara\0") + 10
    damaged = good[:at] + bytes([good[at] ^ 1]) + good[at + 1 :]
    assert '"chara" chunk of this PNG card is damaged' in said(damaged)
    assert "cut short" in said(good[: good.index(b"chara\0") + 20])
    path.write_bytes(good)  # the same card, whole and undamaged
    assert load_persona(path).name == "Eileen"


@pytest.mark.parametrize(
    ("description", "neutral"),
    [
        ("A witch who lives in the woods.", "you"),
        ("住在森林里的魔女。", "你"),
        ("森の魔女です。", "あなた"),
    ],
)
async def test_a_card_that_names_nobody_calls_the_person_neutrally(
    tmp_path: Path, description: str, neutral: str
) -> None:
    """`[persona] user_name` left at "夏生" means the card's own name for the person; a
    SillyTavern card names nobody, so the console labels the person's lines (and
    {{user}} in her replies says) a neutral word in her language, not ATRI's lead."""
    from model.service import ChatService

    card = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": description}}
    (tmp_path / "eileen.json").write_text(json.dumps(card, ensure_ascii=False), "utf-8")
    settings = Settings(root=tmp_path)
    settings.model.engine = "echo"
    settings.persona.card = "eileen.json"
    assert default_user_name(configured_persona(settings), settings) == neutral
    async with await ChatService.open(settings) as service:
        assert (await service.character()).user_name == neutral  # what the console shows
    settings.persona.user_name = "Max"  # a name of one's own, as written
    assert default_user_name(configured_persona(settings), settings) == "Max"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<think>let me plan</think>早上好！", "早上好！"),
        ("<think>unfinished thoughts", ""),
        ("Hello!<|im_end|>", "Hello!"),
        ("亚托莉：我可是高性能的！", "我可是高性能的！"),
        ("Sure!\n<|im_start|>user\nmore", "Sure!"),
        ("  plain  ", "plain"),
    ],
)
def test_clean_reply(raw: str, clean: str) -> None:
    assert clean_reply(raw, "亚托莉") == clean


def test_packaged_card_speaks_english_too() -> None:
    card = load_persona()
    assert card.languages == ["zh", "en"]
    english = card.in_language("en")
    assert english.name == "ATRI" and "亚托莉" in english.aliases
    prompt = english.system_prompt()
    assert prompt.startswith("You are ATRI.") and "{{user}}" in prompt
    assert detect_language(prompt) == "en" and detect_language(english.greeting) == "en"
    assert detect_language(english.lines.busy) == "en" and english.user_name == "Natsuki"
    assert card.in_language("zh").system_prompt() == card.system_prompt()
    with pytest.raises(PersonaError, match='no "ja" version'):
        card.in_language("ja")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_packaged_card_breaks_lines_only_between_sentences(language: str) -> None:
    """The English card was wrapped at 90 columns in its file, and every break went into
    the system prompt mid-sentence ("a sunken storeroom on the\nsea floor")."""
    prompt = load_persona().in_language(language).system_prompt()
    sentence_ends = (*'.!?。！？；…"”」）)', "]", "】")  # and section headings
    for line in prompt.splitlines():
        assert line.rstrip().endswith(sentence_ends), line


def test_language_auto_is_english_only_on_the_offline_model(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    assert settings.model.base == OFFLINE_DEFAULT_BASE
    offline = configured_persona(settings)
    assert offline.name == "ATRI" and offline.main_language == "en"
    assert reply_lines(offline, settings).busy.startswith("Uu...")
    assert default_user_name(offline, settings) == "Natsuki"

    settings.model.base = "/models/Qwen2.5-7B-Instruct"
    real = configured_persona(settings)
    assert real.name == "亚托莉" and real.main_language == "zh"
    assert reply_lines(real, settings).busy == settings.worker.busy_reply
    assert default_user_name(real, settings) == "夏生"

    settings.persona.language = "en"  # chosen by hand: English on any model
    settings.worker.busy_reply = "稍等！"  # a line of one's own stays as written
    chosen = configured_persona(settings)
    assert chosen.name == "ATRI" and reply_lines(chosen, settings).busy == "稍等！"

    settings.persona.language = "ja"
    with pytest.raises(PersonaError, match=r'atri\.toml: the character card has no "ja"') as no:
        configured_persona(settings)
    # A Japanese server's admin was not told a card of their own would do (s66).
    assert "or point [persona] card at a card written in Japanese" in str(no.value)


def test_a_card_v2_keeps_its_own_language(tmp_path: Path) -> None:
    card = {"spec": "chara_card_v2", "data": {"name": "Atri", "description": "A robot girl."}}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    settings = Settings(root=tmp_path)
    settings.persona.card = "card.json"
    persona = configured_persona(settings)  # offline model, English card: English
    assert persona.main_language == "en" and persona.system_prompt().startswith("You are Atri.")
    chinese = {"spec": "chara_card_v2", "data": {"name": "亚托莉", "description": "机器人少女。"}}
    (tmp_path / "card.json").write_text(json.dumps(chinese), encoding="utf-8")
    persona = configured_persona(settings)  # no English version: her own language
    assert persona.main_language == "zh" and persona.system_prompt().startswith("你是亚托莉")
    # No lines of its own: the [worker] lines as configured.
    assert reply_lines(persona, settings).error == settings.worker.error_reply


def test_the_default_training_prompt_is_said_in_her_language() -> None:
    from atri.config import DEFAULT_TRAINING_PROMPT

    card = load_persona()
    assert card.training_prompt(DEFAULT_TRAINING_PROMPT).startswith("你是亚托莉。")
    english = card.in_language("en")
    assert english.training_prompt(DEFAULT_TRAINING_PROMPT).startswith("You are ATRI. ")
    assert english.training_prompt("{{char}} and {{user}}") == "ATRI and {{user}}"


@pytest.mark.parametrize(
    ("name", "description", "language"),
    [
        ("Yuki", "A girl who lives in the snow.", "en"),
        ("雪", "住在雪山里的女孩。", "zh"),
        ("ユキ", "雪国に住んでいる女の子です。", "ja"),
    ],
)
def test_a_card_without_lines_says_them_in_its_language_with_its_name(
    tmp_path: Path, name: str, description: str, language: str
) -> None:
    """A SillyTavern card has no busy, error or empty-message lines: she says generic
    ones in her own language and with her own name, never ATRI's Chinese lines."""
    card = {"spec": "chara_card_v2", "data": {"name": name, "description": description}}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    settings = Settings(root=tmp_path)
    settings.persona.card = "card.json"
    said = canned_lines(settings)
    for text in (said.busy, said.error, said.empty):
        assert name in text and "亚托莉" not in text and "ATRI" not in text, text
        assert "{{char}}" not in text and detect_language(text) == language, text
    settings.worker.error_reply = "Oops, say that again?"  # a line of one's own, as written
    assert canned_lines(settings).error == "Oops, say that again?"
    assert canned_lines(settings).busy == said.busy


@pytest.mark.parametrize("blanks", ["\n", " \n", "\n\t"])
def test_clean_reply_of_thousands_of_blank_lines_is_quick(blanks: str) -> None:
    # A model stuck on newlines: `\n\s*` tried at every newline took 3-12 s for 20,000.
    raw = "早上好。" + blanks * 10_000 + "再见"
    started = time.perf_counter()
    assert clean_reply(raw, "亚托莉") == raw.strip()
    # A bare "user" line is her text (s51); the turn the model writes opens with a token.
    assert clean_reply(raw + "\n<|im_start|>user\n你好", "亚托莉") == raw.strip()
    assert clean_reply(raw + "<|im_end|>\nuser\n你好", "亚托莉") == raw.strip()
    assert time.perf_counter() - started < 0.5
