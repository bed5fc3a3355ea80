"""Session 41: Ren'Py translation identifiers (a block's end, `__` names), the progress
label of a Windows path, CJK lines a dump wrapped after a comma, and the ○/● dump."""

from __future__ import annotations

import hashlib
import ntpath
import types

import pytest

from atri.config import DataprepSettings
from dataprep import split as split_module
from dataprep.cli import progress_label
from dataprep.formats import ParseOptions, compile_markers, parse, translation_dump
from dataprep.formats import plain as plain_format
from dataprep.formats.renpy import say_ids as renpy_say_ids
from dataprep.records import Role, Sample
from dataprep.split import split_by_scene
from tests.dataprep.conftest import FIXTURES, kyo_and_minamo_lines

QA41 = FIXTURES / "qa41"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        (r"C:\Users\fan\Games\Atri\game\script.rpy", "script.rpy"),
        (r"D:\dumps\atri.txt", "atri.txt"),
        ("/home/fan/atri/script.txt", "script.txt"),
        ("script.txt", "script.txt"),
        ("split", "split"),  # a stage's name
    ],
)
def test_progress_label_is_the_file_name_on_windows_too(name: str, label: str) -> None:
    # A Windows path holds no "/": the bar showed the whole path, folders and all.
    assert progress_label(name) == label


# 1. Ren'Py translation identifiers -------------------------------------------------------


def _id(label: str, *codes: str) -> str:
    """Ren'Py's identifier of a translate block of these statements' codes (renpy/translation
    `create_translate`: each code and CRLF into one md5, its first 8 hex digits)."""
    digest = hashlib.md5("".join(f"{c}\r\n" for c in codes).encode("utf-8")).hexdigest()
    return f"{label}_{digest[:8]}"


def test_a_voice_or_nvl_clear_at_a_blocks_end_is_a_translate_block_of_its_own() -> None:
    # Ren'Py groups the translatable statements of one block (an `if`'s, a choice's): one
    # left at a block's end is a translate block of its own (Ren'Py < 8.5.1 hashes it),
    # and the say statement after the block is hashed alone. It was hashed with them.
    script = (
        'define e = Character("Eileen")\n'
        "label start:\n"
        "    if met:\n"
        '        voice "e_01.ogg"\n'
        '    e "Hello."\n'  # 5
        "    menu:\n"
        '        "Stay":\n'
        "            nvl clear\n"
        '        "Go":\n'
        '            voice "e_02.ogg"\n'
        '            e "Bye."\n'  # 11: voice "e_02.ogg" / e "Bye."
        '    e "Then."\n'  # 12
        "    nvl clear\n"
        '    e "Again."\n'  # 14: nvl clear / e "Again."
    )
    assert renpy_say_ids.say_identifiers(script) == {
        _id("start", 'e "Hello."'): 5,
        _id("start", 'voice "e_02.ogg"', 'e "Bye."'): 11,
        _id("start", 'e "Then."'): 12,
        _id("start", "nvl clear", 'e "Again."'): 14,
    }


def test_private_names_are_written_as_renpy_writes_them_into_the_code() -> None:
    # Ren'Py writes a `__name` as `_m1_<file>__name` (its file's name), in the say
    # statement's code too: since 8.3 anywhere in the line (not a name with a second
    # `__`), before 8.3 outside strings and as `[__name]` only.
    script = (
        "label start:\n"
        '    e "Ask [__keeper] for __keys, not __dunder__."\n'
        '    __e "Psst."\n'
        '    e "Plain."\n'
    )
    before, since, latest = renpy_say_ids.say_identifier_schemes(script, "my lighthouse.rpy")
    prefix = "_m1_my_lighthouse__"
    assert (
        since
        == latest
        == {
            _id("start", f'e "Ask [{prefix}keeper] for {prefix}keys, not __dunder__."'): 2,
            _id("start", f'{prefix}e "Psst."'): 3,
            _id("start", 'e "Plain."'): 4,
        }
    )
    assert before == {
        _id("start", f'e "Ask [{prefix}keeper] for __keys, not __dunder__."'): 2,
        _id("start", f'{prefix}e "Psst."'): 3,
        _id("start", 'e "Plain."'): 4,
    }


def test_translations_are_placed_by_identifier_past_block_ends_and_private_names() -> None:
    # Every comment in tl/ is two lines early (the script was edited after): a line is
    # where it belongs only when its identifier is found, and both of these were missed
    # (the first's string holds `[__mood]`, the second follows an `else:` block ending in
    # `nvl clear`), so they were put at the stale lines 10 and 14.
    assert kyo_and_minamo_lines(QA41 / "lighthouse" / "game") == [
        ("Kyo", "The light is on.", 10),
        ("Minamo", "今晚的海很平静。", 13),
        ("Minamo", "每艘船都会回家的。", 16),
        ("Kyo", "Even ours?", 17),
        ("Minamo", "我们的也会。", 18),
    ]


# 4. A CJK line the dump wrapped after a comma ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Cut after a comma, which ends no said line: the lines below go on with it, up to
        # the one that ends otherwise.
        ("夏生：今天的天气，\n真好啊。\n", [("夏生", "今天的天气，真好啊。")]),
        (
            "亚托莉：我想，\n那个，\n算了。\n她笑了。\n",
            [("亚托莉", "我想，那个，算了。"), (None, "她笑了。")],
        ),
        ("亚托莉：螃蟹、\n章鱼和海带。\n", [("亚托莉", "螃蟹、章鱼和海带。")]),
        ("Atri：今天的天气,\n真好啊。\n", [("Atri", "今天的天气,真好啊。")]),
    ],
)
def test_a_cjk_line_cut_after_a_comma_goes_on_below(
    text: str, expected: list[tuple[str | None, str]]
) -> None:
    # It stayed two lines: the rest of her sentence narration.
    assert [(u.speaker, u.text) for u in plain_format.parse(text, "x.txt", ParseOptions())] == (
        expected
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # No punctuation at the end: a whole line as often as a cut one; narration below.
        ("夏生：好吧\n我转身离开了房间。\n", [("夏生", "好吧"), (None, "我转身离开了房间。")]),
        # A line that ends a sentence.
        ("夏生：走吧。\n我们出发了。\n", [("夏生", "走吧。"), (None, "我们出发了。")]),
        # Below it a quote or a stage direction: a line of its own.
        ("亚托莉：可是，\n「……」\n", [("亚托莉", "可是，"), (None, "「……」")]),
        ("亚托莉：可是，\n（沉默）\n", [("亚托莉", "可是，"), (None, "（沉默）")]),
        # A speaker's line, a blank line or a scene marker below it.
        ("亚托莉：可是，\n夏生：嗯。\n", [("亚托莉", "可是，"), ("夏生", "嗯。")]),
        ("亚托莉：可是，\n\n海风吹过。\n", [("亚托莉", "可是，"), (None, "海风吹过。")]),
        ("亚托莉：可是，\n第三章\n海风吹过。\n", [("亚托莉", "可是，"), (None, "海风吹过。")]),
        # Narration that ends with a comma goes on with nothing.
        ("海风吹过，\n远处传来汽笛声。\n", [(None, "海风吹过，"), (None, "远处传来汽笛声。")]),
    ],
)
def test_narration_below_a_cjk_line_stays_narration(
    text: str, expected: list[tuple[str | None, str]]
) -> None:
    options = ParseOptions(scene_marker=compile_markers(DataprepSettings().scene_markers))
    said = plain_format.parse(text, "x.txt", options)
    assert [(u.speaker, u.text) for u in said] == expected


def test_a_cjk_line_cut_after_a_comma_at_the_end_of_a_slice_goes_on_in_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "".join(f"水菜萌：第{i}句，\n还没说完，\n说完了。\n海风吹过。\n" for i in range(30))
    whole = plain_format.parse(text, "x", ParseOptions())
    monkeypatch.setattr(plain_format, "CHUNK_CHARS", 7)
    assert [(u.speaker, u.text) for u in plain_format.parse(text, "x", ParseOptions())] == [
        (u.speaker, u.text) for u in whole
    ]
    assert [(u.speaker, u.text) for u in whole][:2] == [
        ("水菜萌", "第0句，还没说完，说完了。"),
        (None, "海风吹过。"),
    ]
    assert len(whole) == 60


# 7. A bilingual dump's untranslated line is no part of the translated one above it -------


def test_an_untranslated_pair_is_never_joined_to_the_translated_line_above_it() -> None:
    # Pair 2 has no translation yet: its original stands in, counted as untranslated. The
    # quote pair 1 leaves open (or its comma) took it in: Japanese in a Chinese line,
    # counted as translated.
    dump = (
        "○1○アトリ「今日の天気は\n●1●亚托莉「今天的天气\n"
        "○2○いいですね」\n\n"
        "○3○アトリ：今日は、\n●3●亚托莉：今天，\n"
        "○4○いい天気です。\n\n"
        "○5○アトリ「まだ\n●5●亚托莉「还\n"
        "○6○続く」\n●6●没完」\n"
    )
    said = translation_dump.parse(dump, "d.txt", ParseOptions())
    assert [(u.speaker, u.text, u.dropped) for u in said] == [
        ("亚托莉", "「今天的天气", None),
        (None, "いいですね」", "untranslated"),
        ("亚托莉", "今天，", None),
        (None, "いい天気です。", "untranslated"),
        ("亚托莉", "「还没完」", None),  # both translated: one line of the game, wrapped
    ]


# 7. A KiriKiri header after tags on its line names the speaker ----------------------------


def test_a_kirikiri_header_after_a_voice_tag_names_the_speaker() -> None:
    # `[voice …]【アトリ】「はい」`: the header was only read at the start of a line, so
    # this was narration with "【アトリ】" in its text.
    script = (
        "*start\n"
        '[voice storage="atr_0001"]【アトリ】「はい！」[p]\n'
        '[cm] [voice storage="atr_0002" text="]"]【アトリ】：もう一度。[p]\n'
        "潮風が吹いている。[p]\n"
        "[[注意]【アトリ】は書いてある。[p]\n"  # `[[` is a literal "[": text, no tag
        "[link target=*yes]【はい】[endlink]\n"  # a choice's text: no header, no line
        "波の音がする。[p]\n"
    )
    said = parse(script, "a.ks", "kirikiri", ParseOptions())
    assert [(u.speaker, u.text) for u in said] == [
        ("アトリ", "「はい！」"),
        ("アトリ", "もう一度。"),
        (None, "潮風が吹いている。"),
        (None, "[注意]【アトリ】は書いてある。"),
        (None, "波の音がする。"),
    ]


# 3. The split is the same on Windows ----------------------------------------------------


def test_split_is_the_same_for_the_script_folder_read_on_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A scene is ranked by its file's path within the script folder: on Windows that path
    # was `sub\ch2.txt`, not `sub/ch2.txt`, and the same scripts split otherwise.
    def at(folder: str, sep: str) -> list[Sample]:
        return [
            Sample(
                [(Role.LEAD, f"q{i}"), (Role.CHARACTER, f"a{i}")], sep.join([folder, *name]), str(i)
            )
            for name in (["ch1.txt"], ["sub", "ch2.txt"], ["sub", "deep", "ch3.txt"])
            for i in range(20)
        ]

    def sides(samples: list[Sample], sep: str) -> list[list[tuple[str, str]]]:
        return [
            [(s.source.rsplit(sep, 1)[-1], s.scene) for s in side]
            for side in split_by_scene(samples, 0.3, seed=5)
        ]

    on_linux = sides(at("/home/fan/game", "/"), "/")
    windows = types.SimpleNamespace(path=ntpath, sep="\\")
    monkeypatch.setattr(split_module, "os", windows)
    assert sides(at(r"C:\Users\fan\game", "\\"), "\\") == on_linux
