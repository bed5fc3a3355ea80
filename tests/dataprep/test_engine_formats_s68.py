"""Engine files and encodings a tester's ATRI scripts were refused or misread in:
KiriKiri's simple-crypt `.ks` (`FE FE <mode> FF FE`) and KiriKiri Z's compiled `.ks.scn`
got advice about encodings; CP932 with ATRI's half-width robot voice was refused, or read
as Korean; a two-line Big5 file was read as johab; a translated Ren'Py `extend` was
counted as untranslated; only `game/tl/chinese` given mixed menu choices without a word;
one literal speaker name among Ren'Py variables hid the hint about their `define`s."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.encoding import _charset_normalizer_guess, decode_report, plausibility
from dataprep.errors import DataprepError
from dataprep.formats import ParseOptions, detect_format, parse
from dataprep.pipeline import prepare, run_pipeline
from dataprep.sources import read_script
from tests.dataprep.test_renpy_translations_s49 import ids

KAG = (
    "*start|朝\n"
    "[cm]\n"
    "【夏生】\n"
    "「おはよう、アトリ」[p]\n"
    "【アトリ】\n"
    "「おはようございます、夏生さん！」[p]\n"
)


def said(text: str, name: str = "a.ks") -> list[tuple[str | None, str]]:
    fmt = detect_format(text, name)
    return [(u.speaker, u.text) for u in parse(text, name, fmt, ParseOptions()) if u.speaker]


def units(text: str) -> list[int]:
    raw = text.encode("utf-16-le")
    return list(struct.unpack(f"<{len(raw) // 2}H", raw))


def simple_crypt(text: str, mode: int) -> bytes:
    """`text` as KiriKiri saves it in simple-crypt `mode` (TVP2's TextStream.cpp)."""
    head = bytes((0xFE, 0xFE, mode, 0xFF, 0xFE))
    if mode == 2:
        plain = text.encode("utf-16-le")
        packed = zlib.compress(plain)
        return head + struct.pack("<QQ", len(packed), len(plain)) + packed
    if mode == 0:
        # Its own inverse for the units of text (none of them turns below 0x20).
        coded = [c ^ (((c & 0xFE) << 8) ^ 1) if c >= 0x20 else c for c in units(text)]
    else:
        coded = [((c & 0x5555) << 1) | ((c & 0xAAAA) >> 1) for c in units(text)]
    return head + struct.pack(f"<{len(coded)}H", *coded)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_a_simple_crypt_ks_is_read_as_the_engine_reads_it(tmp_path: Path, mode: int) -> None:
    # It said "is not text in any encoding tried … save it as UTF-8".
    path = tmp_path / "01_prologue.ks"
    path.write_bytes(simple_crypt(KAG.replace("\n", "\r\n"), mode))
    decoded = read_script(path)
    assert decoded.text == KAG
    assert said(decoded.text) == [
        ("夏生", "「おはよう、アトリ」"),
        ("アトリ", "「おはようございます、夏生さん！」"),
    ]
    # Its bytes say what it is, whatever [dataprep] encoding names.
    assert read_script(path, "cp932").text == KAG


def test_a_simple_crypt_ks_makes_samples(tmp_path: Path) -> None:
    (tmp_path / "01_prologue.ks").write_bytes(simple_crypt(KAG, 0))
    result = run_pipeline(
        DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"], eval_ratio=0),
        [tmp_path],
    )
    assert result.problem is None
    assert [s.reply for s in result.train] == ["おはようございます、{{user}}さん！"]


def test_damaged_packed_text_and_an_unknown_mode_say_so(tmp_path: Path) -> None:
    path = tmp_path / "a.ks"
    path.write_bytes(simple_crypt(KAG, 2)[:40])
    with pytest.raises(DataprepError, match="packed data is damaged") as raised:
        read_script(path)
    assert "encoding" not in str(raised.value)
    path.write_bytes(b"\xfe\xfe\x07\xff\xfe" + bytes(range(32, 200)))
    with pytest.raises(DataprepError, match=r"a mode it does not have \(7"):
        read_script(path)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PSB\x00\x03\x00\x00\x00", "a KiriKiri Z compiled scene (PSB)"),
        (b"mdf\x00\x8d\x02\x00\x00" + zlib.compress(b"PSB\x00" + bytes(64)), "zlib-packed PSB"),
    ],
)
def test_a_compiled_scn_says_what_it_is(tmp_path: Path, head: bytes, kind: str) -> None:
    path = tmp_path / "01_prologue.ks.scn"
    path.write_bytes(head + bytes(range(256)) * 2)
    with pytest.raises(DataprepError) as raised:
        read_script(path)
    message = str(raised.value)
    assert kind in message
    assert "give the game's text .ks scenario files instead" in message
    assert "encoding" not in message


ROBOT = (
    "【夏生】\n「おはよう、アトリ」[p]\n"
    "【アトリ】\n「ﾋﾟﾋﾟｯ、ｼｽﾃﾑｷﾄﾞｳ。おはようございます、夏生さん！」[p]\n"
    "【夏生】\n「今日は何をする？」[p]\n"
    "【アトリ】\n「海に行きたいです！」[p]\n"
    "【夏生】\n「泳げるのか？」[p]\n"
    "【アトリ】\n「ﾋﾟﾋﾟｯ、ｼｽﾃﾑｷﾄﾞｳ。ロボットですから、沈みます」[p]\n"
    "【夏生】\n「それは困るな」[p]\n"
    "【アトリ】\n「だから夏生さんが支えてください」[p]\n"
)


@pytest.mark.parametrize(
    "text",
    [
        ROBOT,  # 84% common characters: refused
        "【アトリ】\n「ﾏｽﾀｰ、ｵﾊﾖｳｺﾞｻﾞｲﾏｽ」[p]\n【夏生】\n「ああ」[p]\n",  # read as cp949
    ],
)
def test_cp932_with_half_width_katakana_words_is_read(text: str) -> None:
    decoded = decode_report(text.encode("cp932"), "a.ks")
    assert (decoded.encoding, decoded.text) == ("cp932", text)


def test_half_width_katakana_count_as_words_only() -> None:
    assert plausibility("ﾋﾟﾋﾟｯ", "cp932") == 1.0
    # One alone among rare kanji, or half-width punctuation: what garbled bytes give.
    assert plausibility("ｱ鑁ｲ鐡", "cp932") == 0.0
    assert plausibility("｡｢｣､･", "cp932") == 0.0
    # Chinese rules are not Japanese ones.
    assert plausibility("ﾋﾟﾋﾟｯ", "gb18030") == 0.0


def test_a_two_line_big5_file_is_not_read_as_korean() -> None:
    text = "【亞托莉】\n「夏生先生，早安」[p]\n【夏生】\n「好睏」[p]\n"
    data = text.encode("big5")
    # charset-normalizer's only guess, johab, is Hangul with no space between words.
    assert _charset_normalizer_guess(data) is None
    decoded = decode_report(data, "a.ks")
    assert (decoded.encoding, decoded.text) == ("big5", text)


def test_repetitive_big5_that_charset_normalizer_passes_over_is_read() -> None:
    text = "夏生：「亞托莉，早安。」\n亞托莉：「早安，夏生先生！今天天氣很好呢。」\n" * 20
    assert decode_report(text.encode("big5"), "a.txt").text == text


def test_spaced_korean_is_still_read_as_korean() -> None:
    text = "아토리: 안녕하세요, 나츠키 씨! 오늘도 좋은 아침이에요.\n" * 3
    decoded = decode_report(text.encode("cp949"), "a.txt")
    assert decoded.text == text


EXTEND = (
    'define a = Character("ATRI")\n'  # 1
    'define n = Character("Natsuki")\n'  # 2
    "\n"  # 3
    "label start:\n"  # 4
    '    n "Good morning."\n'  # 5
    '    a "Good morning to you."\n'  # 6
    '    extend " Nice weather today."\n'  # 7
    '    n "Shall we go?"\n'  # 8
    "    return\n"  # 9
)


def tl_block(line: int, identifier: str, original: str, translated: str) -> str:
    return (
        f"# game/script.rpy:{line}\ntranslate chinese {identifier}:\n\n"
        f"    # {original}\n    {translated}\n\n"
    )


def extend_game(tmp_path: Path, lines: tuple[int, ...]) -> Path:
    said = ids(EXTEND)
    translated = {
        5: ('n "Good morning."', 'n "早上好。"'),
        6: ('a "Good morning to you."', 'a "早上好。"'),
        7: ('extend " Nice weather today."', 'extend "今天天气也很好。"'),
        8: ('n "Shall we go?"', 'n "走吧？"'),
    }
    root = tmp_path / "game"
    (root / "tl" / "chinese").mkdir(parents=True)
    (root / "script.rpy").write_text(EXTEND, encoding="utf-8")
    blocks = "".join(tl_block(n, said[n], *translated[n]) for n in lines)
    (root / "tl" / "chinese" / "script.rpy").write_text(blocks, encoding="utf-8")
    return root


def eileen(**more: object) -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["Natsuki"], character_aliases=["ATRI"], eval_ratio=0, **more
    )


def test_a_translated_extend_is_no_untranslated_statement(tmp_path: Path) -> None:
    root = extend_game(tmp_path, (5, 6, 7, 8))
    result = run_pipeline(eileen(), [root])
    assert [s.reply for s in result.train] == ["早上好。今天天气也很好。"]
    note = result.notes[0]
    assert note.startswith("Ren'Py translations found (chinese)")
    assert "have no chinese translation" not in note and "has no" not in note


def test_one_untranslated_statement_has_no_translation(tmp_path: Path) -> None:
    result = run_pipeline(eileen(), [extend_game(tmp_path, (5, 6, 7))])
    assert (
        "; 1 of the original's 4 say statements has no chinese translation and was left out"
        " (script.rpy 1);" in result.notes[0]
    )


MENU = (
    'define a = Character("ATRI")\n'
    'define n = Character("Natsuki")\n'
    "\n"
    "label start:\n"
    '    n "What shall we eat?"\n'
    "    menu:\n"
    '        "Curry":\n'
    '            a "Curry! I love it!"\n'
    '        "Ramen":\n'
    '            a "Ramen! I love that too!"\n'
    "    return\n"
)


def test_a_translation_without_its_original_says_branches_are_unknown(tmp_path: Path) -> None:
    said = ids(MENU)
    root = tmp_path / "game"
    (root / "tl" / "chinese").mkdir(parents=True)
    (root / "script.rpy").write_text(MENU, encoding="utf-8")
    (root / "tl" / "chinese" / "script.rpy").write_text(
        tl_block(5, said[5], 'n "What shall we eat?"', 'n "吃什么？"')
        + tl_block(8, said[8], 'a "Curry! I love it!"', 'a "咖喱！我最喜欢了！"')
        + tl_block(10, said[10], 'a "Ramen! I love that too!"', 'a "拉面！这个我也喜欢！"'),
        encoding="utf-8",
    )
    # As a Chinese patch ships: tl/chinese alone, its two choices read one after another.
    alone = run_pipeline(eileen(), [root / "tl" / "chinese"])
    assert (
        "3 translate blocks of the Ren'Py chinese translation were read without the original"
        " script (game/script.rpy, named by the blocks' comments), which was not given: its"
        " menus and if/else branches are unknown, so those lines are read in file order, one"
        " choice's lines running on into the next one's; give those files too (the game"
        " folder beside tl/), or accept mixed branches."
    ) in alone.notes
    whole = run_pipeline(eileen(), [root])
    assert not any("without the original" in n for n in whole.notes)
    assert [s.reply for s in whole.train] == ["咖喱！我最喜欢了！", "拉面！这个我也喜欢！"]


def test_one_literal_name_among_variables_keeps_the_define_hint(tmp_path: Path) -> None:
    # The `define`s are in a file not given; one speaker is named by its string.
    (tmp_path / "script.rpy").write_text(
        "label start:\n"
        + '    m "Hi there."\n    e "Hello."\n' * 3
        + '    "Sylvie" "Hi."\n'
        + '    m "Bye."\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    result = prepare(settings, [tmp_path / "script.rpy"], tmp_path / "out", system_prompt="S")
    assert result.problem is not None
    assert "Sylvie" in result.problem
    assert "give the game folder itself, every .rpy file in it" in result.problem
