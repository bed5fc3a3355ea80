"""QA pass 39: what a fan's real script holds. Chapter headings before a colon, Traditional
Chinese alias tags in KiriKiri, Ren'Py translations matched by their identifier, and the
small things each engine's scripts do."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.clean import opencc_t2s
from dataprep.formats import ParseOptions, parse
from dataprep.formats import plain as plain_format
from dataprep.formats.renpy import say_ids as renpy_say_ids
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import PrepResult, iter_utterances, parse_options, run_pipeline
from dataprep.records import Role, Utterance
from dataprep.speakers import normalise_name
from tests.dataprep.conftest import FIXTURES

QA39 = FIXTURES / "qa39"


def said(utterances: list[Utterance]) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in utterances]


def run(paths: list[Path], **dataprep: object) -> tuple[list[list[tuple[Role, str]]], PrepResult]:
    settings = DataprepSettings(eval_ratio=0, user_placeholder=False, **dataprep)  # type: ignore[arg-type]
    result = run_pipeline(settings, paths)
    return [s.turns for s in result.train], result


# 1. A chapter heading before a colon names nobody ----------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "第三章\u3000海边：夏天来了",
        "第三章 海边：夏天来了",
        "第三章：夏天来了",
        "第12话\u3000祭典：开始",
        "第十二話：祭り",
        "序章\u3000开始：那一天",
        "终章：再见",
        "Chapter 3\u3000Beach: the sea",
        "Chapter 3: Home",
        "Scene 2 Night: the stars",
        "Act II: Home",
        "Prologue: It begins",
        "场景：海边",
        "Scene: The beach at night",
        "地点：学校",
        "时间：晚上八点",
        "BGM：umi.ogg",
        "SE: door_01",
    ],
)
def test_a_chapter_heading_before_a_colon_is_narration(line: str) -> None:
    # It gave a speaker "第三章 海边" (the U+3000 became a space inside a name).
    assert said(parse(line, "x", "plain", ParseOptions())) == [(None, line)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("神\u3000奈：你好", ("神奈", "你好")),
        ("斑鳩\u3000夏生：嗯", ("斑鳩夏生", "嗯")),
        ("Partner: hi", ("Partner", "hi")),
        ("Day Lily: hi", ("Day Lily", "hi")),
        ("Actor: hi", ("Actor", "hi")),
        ("第五：姓第五的人", ("第五", "姓第五的人")),
        ("Scene Kid: hi", ("Scene Kid", "hi")),
        ("Voice: Help me!", ("Voice", "Help me!")),
        ("Timer: hi", ("Timer", "hi")),
    ],
)
def test_names_that_look_a_little_like_headings_stay_speakers(
    line: str, expected: tuple[str, str]
) -> None:
    assert said(parse(line, "x", "plain", ParseOptions())) == [expected]


@pytest.mark.parametrize(
    ("fmt", "heading"),
    [
        ("plain", "第三章："),
        ("plain", "【第三章\u3000海边】"),
        ("plain", "【第三章 海边】："),
        ("kirikiri", "【第三章\u3000海边】"),
    ],
)
def test_a_chapter_heading_alone_names_nobody_below(fmt: str, heading: str) -> None:
    # The quoted line below was said by "第三章" / "第三章 海边".
    found = said(parse(f"{heading}\n「你好」\n", "x", fmt, ParseOptions()))
    assert found[-1] == (None, "「你好」")
    assert all(speaker is None for speaker, _ in found)


# 2. Traditional Chinese alias tags in KiriKiri -------------------------------------------


def test_traditional_alias_tags_match_simplified_aliases_in_kirikiri() -> None:
    # `[亞托莉]` was compared with the alias 亚托莉 unconverted: no speaker, so her two
    # tagged lines were narration while her 【亞托莉】 line (read by SpeakerMap) was hers.
    turns, result = run(
        [QA39 / "traditional_tags.ks"],
        traditional_to_simplified=True,
        lead_aliases=["夏生"],
        character_aliases=["亚托莉"],
    )
    assert turns[-1] == [
        (Role.LEAD, "早安，亚托莉。"),
        (Role.CHARACTER, "早安！今天的天气真好。"),
        (Role.LEAD, "睡得好吗？"),
        (Role.CHARACTER, "我可是高性能的机器人。"),
        (Role.LEAD, "那就好。"),
        (Role.CHARACTER, "嗯，我们去海边吧。"),
    ]
    speakers = {s["name"]: s for s in result.stats.to_json()["speakers"]}
    assert speakers["亞托莉"]["lines"] == 3


def test_an_alias_tag_is_compared_converted() -> None:
    aliases = frozenset({normalise_name("亚托莉")})
    options = ParseOptions(speaker_aliases=aliases, convert_name=opencc_t2s())
    text = "[亞托莉] 早安[p]\n[亞托莉]\n「你好」[p]\n"
    assert said(parse(text, "x", "kirikiri", options)) == [
        ("亞托莉", "早安"),
        ("亞托莉", "「你好」"),
    ]
    # Without the conversion too: a tag no .ks file defines, whose name is no tag's (not
    # ASCII), before the text is a name macro (test_kag_s44_kag).
    unconverted = ParseOptions(speaker_aliases=aliases)
    assert said(parse(text, "x", "kirikiri", unconverted)) == said(
        parse(text, "x", "kirikiri", options)
    )


# 3. Ren'Py translations matched by their identifier ------------------------------------


def test_say_identifiers_are_ren_py_s() -> None:
    # Identifiers Ren'Py itself wrote into a game's tl/ files (its tutorial game "The
    # Question"): narration, a character's line, and a menu's caption (read `nointeract`)
    # with escaped quotes in it.
    script = (
        "label start:\n"
        '    play music "illurock.opus"\n'
        "    \"It's only when I hear the sounds of shuffling feet and supplies being put away"
        " that I realize that the lecture's over.\"\n"
        "label rightaway:\n"
        "    show sylvie green smile\n"
        '    s "Hi there! How was class?"\n'
        "    menu:\n"
        "\n"
        '        s "Sure, but what\'s a \\"visual novel?\\""\n'
        "\n"
        '        "It\'s a videogame.":\n'
        "            jump game\n"
        "label later:\n"
        "    menu:\n"
        '        "I decide..."\n'  # the menu's own caption (a string), no say statement
        '        "To ask her later.":\n'
        "            return\n"
    )
    assert renpy_say_ids.say_identifiers(script) == {
        "start_915cb944": 3,
        "rightaway_cf214f74": 6,
        "rightaway_8cb5deeb": 9,
    }


def test_say_identifiers_of_repeated_lines_voice_and_id_clauses() -> None:
    script = (
        "label beach.shore:\n"
        '    voice "atri_0005.ogg"\n'
        '    a "Over here."\n'
        '    a "Over here."\n'
        '    a "Over here."\n'
        '    a "Over here." id beach_custom\n'
        '    a "Hi." (multiple=2)\n'
    )
    found = renpy_say_ids.say_identifiers(script)
    # The voice statement is in the first one's block; the next two are one statement
    # twice (`_1`); an `id` clause names its own (and the one it replaced names it too,
    # as Ren'Py looks either up); arguments are part of the code hashed.
    assert found == {
        "beach_shore_7a0009fb": 3,
        "beach_shore_b2312e02": 4,
        "beach_shore_b2312e02_1": 5,
        "beach_custom": 6,
        "beach_shore_c6ba1f37": 6,
        "beach_shore_eff51821": 7,
    }


def test_translations_are_placed_by_identifier_when_the_comments_are_stale() -> None:
    game = QA39 / "stale" / "game"
    settings = DataprepSettings(
        lead_aliases=["Natsuki"],
        character_aliases=["Atri"],
        renpy_language="chinese",
        eval_ratio=0,
    )
    loaded, _ = load_scripts([game / "script.rpy", game / "tl"], settings, None)
    options = parse_options(settings, loaded)
    lines = [u for batch in iter_utterances(loaded, options) for u in batch]
    # Each `# game/script.rpy:N` is two lines early: "等等我。" came before her line said
    # from Python, as if she answered it, and the last block (no comment) stayed in the
    # translation file, after everything.
    assert [(u.speaker, u.text, u.line) for u in lines] == [
        ("Natsuki", "亚托莉，退潮了。", 8),
        ("Atri", "Then let's look for shells!", 9),
        ("Natsuki", "等等我。", 10),
        ("Atri", "遵命，夏生。", 11),
        ("Atri", "在这边。", 13),
        ("Natsuki", "来了。", 14),
        ("Atri", "这边这边。", 15),
        ("Atri", "快来这边！", 16),
    ]
    assert {u.source for u in lines} == {str(game / "script.rpy")}


# 4. What each engine's scripts do -------------------------------------------------------


def test_ren_py_nvl_says_narration() -> None:
    # `nvl` is Ren'Py's default NVLCharacter (no name): `nvl "…"` is narration in NVL
    # mode. It was taken for a statement (`nvl clear`) and its line lost.
    script = (
        'define a = Character("Atri")\n'
        "label start:\n"
        '    a "Look."\n'
        '    nvl "The sea was calm that night."\n'
        '    $ nvl("The stars came out.")\n'
        "    nvl clear\n"
        '    nvl_narrator "Morning came."\n'
        '    a "Good morning."\n'
    )
    assert said(parse(script, "x.rpy", "renpy", ParseOptions())) == [
        ("Atri", "Look."),
        (None, "The sea was calm that night."),
        (None, "The stars came out."),
        (None, "Morning came."),
        ("Atri", "Good morning."),
    ]


ALIASES = ParseOptions(speaker_aliases=frozenset(normalise_name(a) for a in ["夏生", "亚托莉"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A name alone on its line, its quoted line right below: the dump of many games.
        (
            "夏生\n「早上好」\n亚托莉\n「早上好！」\n",
            [("夏生", "「早上好」"), ("亚托莉", "「早上好！」")],
        ),
        ("亚托莉\n『……』\n", [("亚托莉", "『……』")]),
        ("亚托莉（微笑）\n「嗯」\n", [("亚托莉（微笑）", "「嗯」")]),  # a note after it
        # A stage direction before the quote (after `名字：` alone too, where it was narration).
        ("亚托莉\n（小声）「嗯」\n", [("亚托莉", "（小声）「嗯」")]),
        ("老师：\n(sighs) 「好吧」\n", [("老师", "(sighs) 「好吧」")]),
        ("亚托莉\n（小声）\n", [(None, "亚托莉"), (None, "（小声）")]),
        # Anything else below it, or a blank line between: narration as before.
        ("亚托莉\n她笑了。\n", [(None, "亚托莉"), (None, "她笑了。")]),
        ("亚托莉\n\n「早上好」\n", [(None, "亚托莉"), (None, "「早上好」")]),
        ("亚托莉\n", [(None, "亚托莉")]),
        # Only an alias: "翌日" above a quote is a time skip, not a speaker.
        ("翌日\n「早上好」\n", [(None, "翌日"), (None, "「早上好」")]),
    ],
)
def test_an_alias_alone_names_the_quoted_line_right_below(
    text: str, expected: list[tuple[str | None, str]]
) -> None:
    assert said(parse(text, "x", "plain", ALIASES)) == expected


def test_an_alias_alone_at_the_end_of_a_slice_names_the_line_in_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "".join(f"旁白{i}。\n夏生\n「第{i}句」\n" for i in range(40))
    whole = said(parse(text, "x", "plain", ALIASES))
    monkeypatch.setattr(plain_format, "CHUNK_CHARS", 7)
    assert said(parse(text, "x", "plain", ALIASES)) == whole
    assert whole[1::2] == [("夏生", f"「第{i}句」") for i in range(40)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("『亚托莉』：这是什么？", [("亚托莉", "这是什么？")]),
        ("『 Atri 』: What is it?", [("Atri", "What is it?")]),
        ("『亚托莉』：\n「这是什么？」", [("亚托莉", "「这是什么？」")]),
        # No colon: a title or a quote in narration.
        ("『这本书』很有趣。", [(None, "『这本书』很有趣。")]),
        ("『……』", [(None, "『……』")]),
    ],
)
def test_a_name_in_white_corner_brackets_before_a_colon(
    text: str, expected: list[tuple[str | None, str]]
) -> None:
    # It was narration "『亚托莉』：这是什么？" (and a stage direction in a sample).
    assert said(parse(text, "x", "plain", ParseOptions())) == expected


def test_plain_dump_with_bom_crlf_tabs_and_names_alone_through_the_pipeline() -> None:
    turns, _ = run([QA39 / "names_alone.txt"], lead_aliases=["夏生"], character_aliases=["亚托莉"])
    assert turns[-1] == [
        (Role.LEAD, "早上好"),
        (Role.CHARACTER, "早上好！\n这是什么？"),
        (Role.LEAD, "名字单独一行"),
        (Role.CHARACTER, "你好"),
    ]


def test_tyranoscript_block_comments_underscores_and_escaped_brackets() -> None:
    script = (
        "#亚托莉\n"
        "/*\n"
        "写给自己的备注，不是台词。[p]\n"
        "*/\n"
        "早上好！[p]\n"
        "#夏生\n"
        "_　　你好。[p]\n"
        "今天\\[限定]的菜单。[p]\n"
    )
    # The comment was her line, and its `*/` a `*label` that ended the scene and took
    # her name away from "早上好！"; the "_" and the backslash were shown.
    found = parse(script, "x.ks", "kirikiri", ParseOptions())
    assert said(found) == [
        ("亚托莉", "早上好！"),
        ("夏生", "你好。"),
        ("夏生", "今天[限定]的菜单。"),
    ]
    assert {u.scene for u in found} == {"0"}


@pytest.mark.parametrize("language", ["original", "chinese"])
def test_an_extend_ends_no_exchange_in_a_translation(language: str) -> None:
    game = QA39 / "extend" / "game"
    turns, _ = run(
        [game / "script.rpy", game / "tl"],
        lead_aliases=["Natsuki"],
        character_aliases=["Atri"],
        renpy_language=language,
    )
    # In Chinese the original's `extend` had no translation of its own (the translated
    # extend was already joined to her line), so it ended the exchange: her "Yes." came
    # with "Good." alone, where the original's came after both exchanges.
    assert [role for role, _ in turns[-1]] == [Role.LEAD, Role.CHARACTER] * 2
    assert turns[-1][1][1] == ("Hello world." if language == "original" else "你好，世界。")


def test_ren_py_space_tags_keep_the_words_apart() -> None:
    script = (
        'define a = Character("Atri")\n'
        "label start:\n"
        '    a "Left{space=30}right."\n'
        '    a "Above{vspace=10}below."\n'
        '    a "I {image=heart.png}{alt}love{/alt} you{w=0.5}.{nw}"\n'
    )
    # They were "Leftright." and "Abovebelow.": one word where the game shows two.
    found = said(parse(script, "x.rpy", "renpy", ParseOptions()))
    assert [(s, " ".join(t.split())) for s, t in found] == [
        ("Atri", "Left right."),
        ("Atri", "Above below."),
        ("Atri", "I love you."),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("0001 亚托莉：早上好", ("亚托莉", "早上好")),
        ("12. Atri: Good morning", ("Atri", "Good morning")),
        ("１２\u3000夏生：你好", ("夏生", "你好")),
        ("7 亚托莉：早", ("亚托莉", "早")),
        ("2B: hi", ("2B", "hi")),  # a name with a digit in it, as before
        ("7 Seas: Ahoy", ("7 Seas", "Ahoy")),  # a short number before an ASCII word: a name
        ("10 30: later", (None, "10 30: later")),  # numbers alone, as before
    ],
)
def test_a_dump_s_line_number_is_no_part_of_the_name(
    line: str, expected: tuple[str | None, str]
) -> None:
    # It was a speaker "0001 亚托莉", a new one on every line, matching no alias.
    assert said(parse(line, "x", "plain", ParseOptions())) == [expected]
