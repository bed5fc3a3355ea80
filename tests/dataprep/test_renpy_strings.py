"""Ren'Py string translations: a line said from Python (`$ e(_("…"))`) shows what the
chosen language's `translate <lang> strings:` block gives its string (`old "…"` /
`new "…"`), as the game does; `[var!t]` shows a variable's value so translated, and a
speaker's name (`Character(_("Eileen"))`) is shown so translated too."""

from __future__ import annotations

import shutil
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.formats.renpy import translations as renpy_translations
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import iter_utterances, parse_options, run_pipeline
from dataprep.report import problem
from tests.dataprep.conftest import FIXTURES

GAME = FIXTURES / "harbor" / "game"
ORIGINAL = GAME / "script.rpy"
CHINESE = GAME / "tl" / "chinese"
JAPANESE = GAME / "tl" / "japanese"
LANTERN = FIXTURES / "lantern" / "game"


def eileen(language: str) -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["Max"], character_aliases=["Eileen"], renpy_language=language, eval_ratio=0
    )


def lines(scripts: list[Path], language: str) -> list[tuple[str, int, str | None, str]]:
    """(folder of the file, line, speaker, text) of every line read, in order."""
    settings = eileen(language)
    loaded, _ = load_scripts(scripts, settings, None)
    options = parse_options(settings, loaded)
    return [
        (Path(u.source).parent.name, u.line, u.speaker, u.text)
        for batch in iter_utterances(loaded, options)
        for u in batch
    ]


def dropped(scripts: list[Path], language: str) -> dict[int, str]:
    """Line → why it was dropped, for the lines read but dropped."""
    settings = eileen(language)
    loaded, _ = load_scripts(scripts, settings, None)
    options = parse_options(settings, loaded)
    return {
        u.line: u.dropped
        for batch in iter_utterances(loaded, options)
        for u in batch
        if u.dropped is not None
    }


def test_python_lines_show_the_chosen_languages_string_translations() -> None:
    # A line said from Python has no translate block of its own: in a translated game the
    # original's Python runs and shows each string as the strings block translates it.
    # Such lines were skipped as the original's (or read in English with "original").
    # The translated say statements (read from tl/chinese) stand where the original's are.
    assert lines([ORIGINAL, CHINESE], "auto") == [
        ("game", 9, "Max", "艾琳，灯笼点亮了。"),
        ("game", 10, "Eileen", "那就走吧，船长！"),  # its [title!t] translated too
        ("game", 11, "Max", "等等我。"),
        ("game", 12, "Eileen", "遵命，船长。"),  # a say statement's [title!t]
        ("game", 13, "Eileen", "我会等的，'船长'。"),  # __(), and a new '…' with escapes
        # A string not wrapped in _() is looked up all the same, as Ren'Py does.
        ("game", 15, "Eileen", "没有用 _() 包起来，也一样翻译。"),
        # No translation for it: the game shows it as written, dropped below.
        ("game", 16, "Eileen", "Not translated yet."),
        ("game", 17, "Eileen", "在这边。"),  # found without its {#dock}
        ("game", 18, "Max", "来了。"),
    ]
    # A Chinese dataset holds no English line: it is dropped as a say statement left in
    # the original is (it was kept, in English, inside a Chinese reply).
    assert dropped([ORIGINAL, CHINESE], "auto") == {16: "untranslated"}


def test_the_original_language_and_a_language_without_strings_show_the_original() -> None:
    english = [
        ("game", 9, "Max", "Eileen, the lanterns are lit."),
        ("game", 10, "Eileen", "Then let's go, Captain!"),
        ("game", 11, "Max", "Wait for me."),
        ("game", 12, "Eileen", "Aye aye, Captain."),
        ("game", 13, "Eileen", "I'll wait."),
        ("game", 15, "Eileen", "Not wrapped, but shown translated all the same."),
        ("game", 16, "Eileen", "Not translated yet."),
        ("game", 17, "Eileen", "Over here."),
        ("game", 18, "Max", "Coming."),
    ]
    assert lines([GAME], "original") == english
    # Japanese has dialogue blocks but no strings block: Python's lines, shown as written
    # (in English), are no Japanese lines and are dropped as untranslated.
    python = {10, 11, 13, 15, 16, 17}
    japanese = {
        9: ("Max", "エイリーン、灯籠が灯ったよ。"),
        12: ("Eileen", "了解です、Captain。"),
        18: ("Max", "今行く。"),
    }
    assert dropped([GAME], "japanese") == dict.fromkeys(python, "untranslated")
    assert [line for line in lines([GAME], "japanese") if line[1] not in python] == [
        (folder, line, *japanese.get(line, (speaker, text)))
        for folder, line, speaker, text in english
        if line not in python
    ]


def test_python_lines_read_around_an_untranslated_line_share_no_exchange(
    tmp_path: Path,
) -> None:
    # In play, e "Aye aye" comes between Max's "Wait for me." and her "I'll wait.": with
    # no translation of it to stand there, the two would make an exchange no player saw.
    game = tmp_path / "game"
    shutil.copytree(GAME, game)
    tl = game / "tl" / "chinese" / "script.rpy"
    text = tl.read_text(encoding="utf-8")
    block = text.index("# game/script.rpy:12")
    tl.write_text(text[:block] + text[text.index("# game/script.rpy:18") :], encoding="utf-8")
    result = run_pipeline(eileen("chinese"), [game / "script.rpy", game / "tl" / "chinese"])
    assert [(s.prompt, s.reply) for s in result.train] == [
        ("艾琳，灯笼点亮了。", "那就走吧，船长！")
    ]
    # The original has them all, one after another.
    result = run_pipeline(eileen("original"), [ORIGINAL, CHINESE])
    assert [(s.prompt, s.reply) for s in result.train][1] == (
        "Wait for me.",
        "Aye aye, Captain.\nI'll wait.\nNot wrapped, but shown translated all the same."
        "\nNot translated yet.\nOver here.",
    )


def test_strings_blocks_are_read_by_language() -> None:
    text = (
        "translate chinese strings:\n"
        "    # game/a.rpy:1\n"
        '    old "Say \\"hi\\"."  # a comment\n'
        "    new '说\\'你好\\'。'\n"
        "\n"
        '    old "No new below."\n'
        '    old "Empty."\n'
        '    new ""\n'
        "translate japanese strings:\n"
        '    old "Hi."\n'
        '    new "やあ。"\n'
        "translate None strings:\n"
        '    old "Hi."\n'
        '    new "Not a language."\n'
        "translate chinese start_1a2b3c4d:\n"
        '    old "Not in a strings block."\n'
        '    new "不是。"\n'
    )
    assert renpy_translations.translated_strings(text) == {
        "chinese": {'Say "hi".': "说\\'你好\\'。", "Empty.": ""},
        "japanese": {"Hi.": "やあ。"},
    }


def test_strings_apply_only_in_their_language() -> None:
    text = (
        'define e = Character("Eileen")\n'
        "label start:\n"
        '    $ e(_("Hello."))\n'
        "translate chinese start_1a2b3c4d:\n"
        '    e "你好。"\n'
        '    $ e(_("Hello."))\n'
        "translate japanese start_1a2b3c4d:\n"
        '    $ e(_("Hello."))\n'
    )
    strings = {"Hello.": "你好！"}

    def read(language: str) -> list[tuple[int, str]]:
        options = ParseOptions(renpy_language=language, renpy_strings=strings)
        return [(u.line, u.text) for u in parse(text, "s.rpy", "renpy", options)]

    # In its translate block, and outside any; never another language's block.
    assert read("chinese") == [(3, "你好！"), (5, "你好。"), (6, "你好！")]
    # The original shows the string as written, whatever strings are given.
    assert read(renpy_translations.ORIGINAL) == [(3, "Hello.")]


def test_character_names_show_the_chosen_languages_string_translations() -> None:
    # Ren'Py shows every name it shows as the language's strings translate it: a
    # `Character(_("Eileen"))` speaks as 艾琳 in Chinese. The names stayed as written, so
    # the translated aliases matched no one.
    assert lines([LANTERN], "schinese") == [
        ("game", 14, "马克斯", "艾琳，灯笼点亮了。"),
        ("game", 15, "艾琳", "那我们得快点了。"),  # joined literals, as the strings give them
        ("game", 16, "陌生人", "灯笼，一文钱两个！"),  # a DynamicCharacter's value
        ("game", 17, "守卫", "小心台阶。"),  # not in _(): looked up all the same
        ("game", 18, "守卫", "走吧走吧。"),  # a literal name, said from Python
        ("game", 19, "Vendor", "新茶！"),  # an empty `new ""`: the name kept
        ("game", 20, "Sylvie", "等等我！"),  # no translation: as written
        ("game", 21, "船长 Rowan", "全体登船！"),  # a name's [rank!t]
        ("game", 22, "马克斯", "艾琳在哪？"),  # [e] shows her name as she is called
        ("game", 23, "艾琳", "就在这儿，马克斯。"),
    ]
    # The original language shows the names as written.
    assert [(speaker, text) for _, _, speaker, text in lines([LANTERN], "original")][-3:] == [
        ("Captain Rowan", "All aboard!"),
        ("Max", "Where is Eileen?"),
        ("Eileen", "Right here, Max."),
    ]


def test_the_speakers_report_shows_translated_names() -> None:
    settings = DataprepSettings(
        lead_aliases=["马克斯"],
        character_aliases=["艾琳"],
        renpy_language="schinese",
        eval_ratio=0,
    )
    result = run_pipeline(settings, [LANTERN])
    assert [(s.prompt, s.reply) for s in result.train] == [
        ("艾琳，灯笼点亮了。", "那我们得快点了。"),
        ("艾琳在哪？", "就在这儿，{{user}}。"),
    ]
    assert [(s.name, s.lines, s.role) for s in result.stats.speakers] == [
        ("守卫", 2, "other"),
        ("艾琳", 2, "character"),
        ("马克斯", 2, "lead"),
        ("Sylvie", 1, "other"),
        ("Vendor", 1, "other"),
        ("船长 Rowan", 1, "other"),
        ("陌生人", 1, "other"),
    ]
    # The English aliases match no one in Chinese: the run names the speakers it saw.
    result = run_pipeline(eileen("schinese"), [LANTERN])
    assert "the most frequent speakers are 守卫 (2 lines), 艾琳 (2 lines)" in str(
        problem(result.stats, result.train, result.stats.files)
    )
