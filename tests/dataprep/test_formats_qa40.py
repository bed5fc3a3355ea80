"""QA pass 40: Ren'Py translation identifiers of say statements with arguments, clauses,
attributes and triple-quoted strings; bracketed words a character says; unquoted
paragraphs in plain dumps; a second character's scripts through `atri prep`."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.clean import clean_text
from dataprep.formats import ParseOptions, parse
from dataprep.formats import plain as plain_format
from dataprep.formats.common import join_pieces
from dataprep.formats.renpy import say_ids as renpy_say_ids
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import iter_utterances, parse_options, run_pipeline
from dataprep.records import Role
from tests.dataprep.conftest import FIXTURES, kyo_and_minamo_lines

QA40 = FIXTURES / "qa40"


# 1. Ren'Py translation identifiers ------------------------------------------------------


def test_say_identifiers_of_statements_with_arguments_and_clauses() -> None:
    # Each identifier is the md5 of the statement's code as Ren'Py's `Say.get_code`
    # writes it (in the comment): arguments as written, after the string, then `with`.
    script = (
        'define e = Character("Eileen")\n'
        "label demo:\n"
        '    a "Over here." with dissolve\n'  # a "Over here." with dissolve
        '    e "Red." (what_color="#f00", who_color="#0f0")\n'
        # e "Red." (what_color="#f00") with Dissolve(0.5)
        '    e "Red." (what_color = "#f00") with Dissolve(0.5)\n'
        "    show e happy\n"
        '    e happy "Hello!"\n'  # e happy "Hello!"
        '    e -happy @ sad "Oh." nointeract\n'  # e -happy @ sad "Oh." nointeract
        '    "Narrated." (what_italic=True)\n'
        # e "Two lines." (what_size=40, who_size=20): one logical line, comment dropped
        '    e "Two lines." (what_size=40,  # smaller name\n'
        "        who_size=20)\n"
        '    e "Wide." (what_size=40 )\n'  # the space before ")" is kept
    )
    assert renpy_say_ids.say_identifiers(script) == {
        "demo_651286cd": 3,
        "demo_25e86910": 4,
        "demo_7d4d1f1d": 5,
        "demo_09a8bec4": 7,
        "demo_7d30a0f5": 8,
        "demo_13d2269b": 9,
        "demo_f53dbd67": 10,
        "demo_f2c32991": 12,
    }


def test_say_identifiers_of_triple_quoted_strings() -> None:
    # Monologue mode: each paragraph is a say statement of its own, at the statement's
    # line, with its speaker, attributes and clauses; `rpy monologue single` cuts at each
    # line end, `none` nowhere (the line ends kept, written `\n`).
    script = (
        "label sea:\n"
        '    e """\n'
        "        One line\n"
        "        here.\n"
        "\n"
        '        Another one, with \\"quotes\\".\n'
        '        """\n'
        '    e happy """Calm.\n'  # e happy "Calm." with dissolve
        "\n"
        '        Still calm.""" with dissolve\n'
        "    rpy monologue single\n"
        '    e """A line\\nbreak.\n'  # e "A line\nbreak." (an escape, not a line end)
        '        Then a  gap."""\n'  # e "Then a gap."
        "    rpy monologue none\n"
        '    e """Kept\n'
        '          as written."""\n'  # e "Kept\nas written."
    )
    assert renpy_say_ids.say_identifiers(script) == {
        "sea_f068d79f": 2,
        "sea_80417dd2": 2,
        "sea_3468537f": 8,
        "sea_9db31ea7": 8,
        "sea_682671b3": 12,
        "sea_2249bc9d": 12,
        "sea_068f8946": 15,
    }


def test_say_identifiers_of_menu_captions() -> None:
    # Ren'Py puts a menu's caption before the menu, below the voice statement above the
    # menu; `menu chooser:` is a label, that of the statements in it.
    script = (
        "label pick:\n"
        '    voice "q.ogg"\n'
        "    menu:\n"
        '        e "Which one?"\n'  # voice "q.ogg" / e "Which one?" nointeract
        '        "This one.":\n'
        '            voice "a.ogg"\n'
        '            e "Picked."\n'
        "    menu chooser:\n"
        '        e "Which one?"\n'
        '        "That one.":\n'
        '            e "Picked."\n'
    )
    assert renpy_say_ids.say_identifiers(script) == {
        "pick_c871f3c5": 4,
        "pick_4d1c1ee9": 7,
        "chooser_ee15fcec": 9,
        "chooser_0aa5cf82": 11,
    }


def test_translations_of_such_statements_are_placed_by_identifier() -> None:
    # The tl/ file was made by Ren'Py 8.5.1 or later, which no longer hashes a voice
    # statement into the identifier of the say statement below it; every comment in it is
    # two lines early, so a line placed by its comment comes before the Python line above
    # its say statement.
    assert kyo_and_minamo_lines(QA40 / "harbor" / "game") == [
        ("Kyo", "The boat is late.", 9),
        ("Minamo", "那我们就一起等吧！", 10),
        ("Minamo", "Kyo, look at the gulls.", 11),
        ("Minamo", "今天的海很平静。", 12),
        ("Minamo", "你发现我的那天可不是这样。", 12),
        ("Kyo", "...", 17),
        ("Kyo", "回家吧。", 18),
        ("Kyo", "Minamo?", 19),
        ("Minamo", "嗯！", 21),
    ]


# 2. Bracketed words a character says are no translator's note --------------------------


@pytest.mark.parametrize(
    "line",
    [
        "[注意]前面有螃蟹！",
        "【注意】别踩到它。",
        "(注目)大家看这里！",
        "（注射）好可怕……",
        "Watch out (TNT inside)!",
    ],
)
def test_bracketed_words_a_character_says_stay(line: str) -> None:
    assert clean_text(line) == line
    assert clean_text(line, markup=False) == line


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("我喜欢螃蟹[注：双关]", "我喜欢螃蟹"),
        ("【注】这里是双关。", "这里是双关。"),
        ("走吧（注1）", "走吧"),
        ("走吧(译注：原文是方言)", "走吧"),
        ("走吧〔校注 疑为衍字〕", "走吧"),
        ("そう言った（原文ママ）", "そう言った"),
        ("【TL note: a pun on crab】Crab!", "Crab!"),
        ("OK [T/N: lit. roger]", "OK"),
        ("OK (TN - lit. roger)", "OK"),
        ("Fine (Translator's note: sarcasm)", "Fine"),
    ],
)
def test_translator_notes_still_go(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_a_line_that_starts_with_a_bracketed_word_keeps_it_through_the_pipeline(
    tmp_path: Path,
) -> None:
    dump = tmp_path / "dump.txt"
    dump.write_text(
        "夏生：小心。\n亚托莉：[注意]前面有螃蟹！\n夏生：哪里？\n亚托莉：【注意】就在你脚下。[注：双关]\n",
        encoding="utf-8",
    )
    settings = DataprepSettings(
        lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0, user_placeholder=False
    )
    result = run_pipeline(settings, [dump])
    exchange = [
        (Role.LEAD, "小心。"),
        (Role.CHARACTER, "[注意]前面有螃蟹！"),
        (Role.LEAD, "哪里？"),
        (Role.CHARACTER, "【注意】就在你脚下。"),
    ]
    assert [s.turns for s in result.train] == [exchange[:2], exchange]


# 3. A line a plain dump wrapped over the lines below ------------------------------------


def test_english_lines_wrapped_in_a_plain_dump_are_one_line_each() -> None:
    text = (QA40 / "wrapped_en.txt").read_text(encoding="utf-8")
    found = parse(text, "x", "plain", ParseOptions())
    assert [(u.speaker, u.text, u.line) for u in found] == [
        # A straight quote left open is closed on the line below.
        ("Minamo", '"The tide comes in slowly tonight, doesn\'t it?"', 1),
        ("Kyo", "It does.", 3),
        # Unquoted: the lines below that start in lower case go on with her sentence.
        (
            "Minamo",
            "I was built to watch it, you know, and I never get tired of the way it comes"
            " back, every single night.",
            4,
        ),
        (None, "The lighthouse blinked twice.", 7),
        # A word broken at its hyphen, or a dash, is joined with no space.
        ("Kyo", '"Even the well-known story ends."', 8),
        ("Minamo", "Hm", 10),
        (None, "The gulls left.", 11),
        ("Kyo", '"Listen." She said "no" twice.', 12),
        ("Minamo", "“Wait—that’s mine!”", 13),
    ]


def test_wrapped_lines_join_as_their_script_writes_words() -> None:
    # Korean writes spaces between words: a wrapped line gets one, where Chinese and
    # Japanese get none; an unquoted Chinese line has no sign that the next goes on.
    text = (QA40 / "wrapped_cjk.txt").read_text(encoding="utf-8")
    found = parse(text, "x", "plain", ParseOptions())
    assert [(u.speaker, u.text) for u in found] == [
        ("미나모", "“오늘 바다는 조용하네.”"),
        ("쿄", "그렇네."),
        ("水菜萌", "「今天的海很平静。」"),
        ("恭", "是啊。"),
        ("水菜萌", "今天的海"),
        (None, "很平静。"),
    ]


def test_an_english_sentence_left_open_at_the_end_of_a_slice_goes_on_in_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "".join(
        f'Minamo: Line {i} goes on\nover two lines.\nKyo: "And\nmine."\n' for i in range(30)
    )
    whole = parse(text, "x", "plain", ParseOptions())
    monkeypatch.setattr(plain_format, "CHUNK_CHARS", 7)
    assert [(u.speaker, u.text) for u in parse(text, "x", "plain", ParseOptions())] == [
        (u.speaker, u.text) for u in whole
    ]
    assert [u.text for u in whole][:2] == ["Line 0 goes on over two lines.", '"And mine."']
    assert len(whole) == 60


@pytest.mark.parametrize(
    ("pieces", "joined"),
    [
        (["今天的天气", "真好啊。"], "今天的天气真好啊。"),
        (["Good", "morning."], "Good morning."),
        (["café", "au lait"], "café au lait"),
        (["오늘 바다는", "조용하네."], "오늘 바다는 조용하네."),
        (["well-", "known"], "well-known"),
        (["Wait -", "no."], "Wait - no."),
        (["……", "……"], "…………"),
        (["我喜欢", "ATRI"], "我喜欢ATRI"),
    ],
)
def test_join_pieces(pieces: list[str], joined: str) -> None:
    assert join_pieces(pieces) == joined


# 4. A second character's scripts ---------------------------------------------------------


def test_a_kag_scenario_of_a_second_character() -> None:
    text = (QA40 / "minamo.ks").read_text(encoding="utf-8")
    found = parse(text, "minamo.ks", "kirikiri", ParseOptions())
    assert [(u.speaker, u.text, u.line, u.scene, u.dropped) for u in found] == [
        # The macro's body is its definition, shown only where a line calls it.
        ("恭", "「おはよう、水菜萌」", 7, "start", None),
        ("水菜萌", "「おはよう！今日も海は静か……」", 9, "start", None),  # ruby readings go
        ("恭", "「本当に？」", 12, "start", None),
        ("水菜萌", "「うん。本当に。」", 13, "start", None),
        ("水菜萌", "「ほら、[波の音]が聞こえるでしょ？」", 14, "start", None),
        ("Minamo", "The café au lait here is the best.", 16, "start", None),
        ("Kyo", "Is it?", 17, "start", None),
        ("Minamo", "Mm-hm; I've tried every single one.", 18, "start", None),
        ("恭", "「そうだな」", 24, "yes", None),
        ("水菜萌", "「でしょ？\u3000えへへ」", 25, "yes", None),
        ("恭", "「いや……」", 30, "no", None),
        # no file sets f.name: dropped, its text naming the variable for the run's note
        ("水菜萌", "「もう！[f.name]のいじわる」", 31, "no", "unresolved_variable"),
        ("水菜萌", "「50%オフだよ、セール中！」", 32, "no", None),
    ]


def test_a_ren_py_local_label_is_a_scene_under_its_global_label() -> None:
    text = (QA40 / "minamo.rpy").read_text(encoding="utf-8")
    found = parse(text, "minamo.rpy", "renpy", ParseOptions())
    assert [u.scene for u in found if u.text in ("Huh.", "Where to?")] == ["start", "start.after"]
    two = 'label day1:\n    "One."\nlabel .after:\n    "Two."\nlabel day2:\n    "Three."\nlabel .after:\n    "Four."\n'
    assert [u.scene for u in parse(two, "x", "renpy", ParseOptions())] == [
        "day1",
        "day1.after",
        "day2",
        "day2.after",
    ]


def test_a_second_character_s_ren_py_scene_through_the_pipeline() -> None:
    settings = DataprepSettings(
        lead_aliases=["Kyo"], character_aliases=["Minamo"], eval_ratio=0, user_placeholder=True
    )
    result = run_pipeline(settings, [QA40 / "minamo.rpy"])
    last = result.train[-1].turns
    # Her line under `if player_name == "Kyo":` is a branch of its own (a player of
    # another name never sees it): going on from her reply, it stays that reply's history.
    assert last == [
        (Role.LEAD, "Where to?"),
        (
            Role.CHARACTER,
            "The lighthouse, of course~\nSlowly now, see?\nIn NVL, too.\n"
            "A line from a python block.",
        ),
    ]
    # `[player_name]` is the lead's name, `extend` goes on the line before it, a
    # monologue's paragraphs and the menu's caption are her lines.
    assert (Role.CHARACTER, "Good morning, {{user}}!") in result.train[0].turns
    said = [
        text for sample in result.train for role, text in sample.turns if role == Role.CHARACTER
    ]
    assert "I couldn't sleep. The sea was too loud.\nIt's 100% true, I promise really." in said
    assert "Not to me.\nI hear every wave.\nEven the small ones." in said


def test_a_kag_tag_ends_at_a_bracket_outside_its_quoted_values() -> None:
    text = (
        "*a\n"
        '[nm t="水菜萌"]「やあ」[eval exp="f.a=[1,2]"]「またね」[p]\n'
        '[eval exp="f.list=[1,2]"]\n'
        '[nm t="水菜萌"][ruby text="]"]漢字[p]\n'
        "[nm t=Kyo's]It's fine.[p]\n"  # an apostrophe opens no value
    )
    found = parse(text, "x.ks", "kirikiri", ParseOptions())
    assert [(u.speaker, u.text) for u in found] == [
        ("水菜萌", "「やあ」「またね」"),
        ("水菜萌", "漢字"),
        ("Kyo's", "It's fine."),
    ]


@pytest.mark.parametrize(
    "define",
    ['define m = Character("[m_name]")', 'define m = DynamicCharacter("m_name")'],
)
def test_a_character_whose_name_changes_is_named_by_the_value_that_is_an_alias(
    tmp_path: Path, define: str
) -> None:
    # Her name shows "???" until she gives it: one speaker all the same, Minamo.
    script = tmp_path / "script.rpy"
    script.write_text(
        f"{define}\n"
        'default m_name = "???"\n'
        'define k = Character("Kyo")\n'
        "label start:\n"
        '    k "Hello there."\n'
        '    m "Who are you?"\n'
        '    $ m_name = "Minamo"\n'
        '    k "I\'m Kyo. And you?"\n'
        '    m "I\'m Minamo."\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(
        lead_aliases=["Kyo"], character_aliases=["Minamo"], eval_ratio=0, user_placeholder=False
    )
    loaded, _ = load_scripts([script], settings, None)
    lines = [u for batch in iter_utterances(loaded, parse_options(settings, loaded)) for u in batch]
    assert [u.speaker for u in lines] == ["Kyo", "Minamo", "Kyo", "Minamo"]
    # With no alias among the values, no value is guessed.
    other = DataprepSettings(lead_aliases=["Kyo"], character_aliases=["Atri"], eval_ratio=0)
    loaded, _ = load_scripts([script], other, None)
    lines = [u for batch in iter_utterances(loaded, parse_options(other, loaded)) for u in batch]
    assert lines[1].speaker in ("[m_name]", "m")


def test_a_layered_image_s_and_an_atl_block_s_strings_are_no_lines() -> None:
    text = (
        "layeredimage minamo:\n"
        '    always "minamo_base"\n'
        "    group outfit:\n"
        '        attribute casual default "minamo_casual"\n'
        "    attribute happy:\n"
        '        "minamo_happy"\n'
        "label start:\n"
        "    show minamo:\n"
        '        "minamo happy"\n'
        "        pause 1.0\n"
        "        repeat\n"
        "    scene bg harbor:  # a slow zoom\n"
        '        "bg harbor"\n'
        '    "The harbor was quiet."\n'
        '    m "Hi."\n'
    )
    found = parse(text, "x.rpy", "renpy", ParseOptions())
    assert [(u.speaker, u.text, u.line) for u in found] == [
        (None, "The harbor was quiet.", 14),
        ("m", "Hi.", 15),
    ]
    assert set(renpy_say_ids.say_identifiers(text).values()) == {14, 15}
