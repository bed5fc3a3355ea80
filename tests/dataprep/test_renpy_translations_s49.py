"""A Ren'Py translation as the game shows it: a block still holding the original its
template copied in is no translated line, a stale block (an identifier naming no say
statement) stands only where no current translation does, and what is left out of the
language's lines is counted in the notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.errors import DataprepError
from dataprep.formats.renpy.say_ids import say_identifiers
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import PrepResult, iter_utterances, parse_options, run_pipeline
from dataprep.records import Utterance
from dataprep.report import distinct_names, without_dialogue_line
from dataprep.stats import FileReport

SCRIPT = (
    'define e = Character("Eileen")\n'  # 1
    'define m = Character("Max")\n'  # 2
    "\n"  # 3
    "label start:\n"  # 4
    '    m "Hi there."\n'  # 5
    '    e "My, sounds so... {w}phony."\n'  # 6
    '    m "Sorry."\n'  # 7
    '    e "Never mind."\n'  # 8
    "    return\n"  # 9
)


def settings(**more: object) -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0, **more
    )


def game(tmp_path: Path, blocks: str, script: str = SCRIPT) -> Path:
    root = tmp_path / "game"
    (root / "tl" / "chinese").mkdir(parents=True)
    (root / "script.rpy").write_text(script, encoding="utf-8")
    (root / "tl" / "chinese" / "script.rpy").write_text(blocks, encoding="utf-8")
    return root


def block(line: int, identifier: str, original: str, translated: str) -> str:
    return (
        f"# game/script.rpy:{line}\ntranslate chinese {identifier}:\n\n"
        f"    # {original}\n    {translated}\n\n"
    )


def ids(script: str = SCRIPT) -> dict[int, str]:
    """Each say statement's line → its identifier, as Ren'Py names its block."""
    return {line: identifier for identifier, line in say_identifiers(script).items()}


def read(root: Path) -> list[Utterance]:
    loaded, _ = load_scripts([root], settings(), None)
    options = parse_options(settings(), loaded)
    return [u for batch in iter_utterances(loaded, options) for u in batch]


def run(root: Path, **more: object) -> PrepResult:
    return run_pipeline(settings(**more), [root])


def test_a_block_still_holding_the_original_is_left_out_and_counted(tmp_path: Path) -> None:
    said = ids()
    root = game(
        tmp_path,
        block(5, said[5], 'm "Hi there."', 'm "你好。"')
        # Ren'Py's template fills each block in with the original: not translated yet.
        + block(6, said[6], 'e "My, sounds so... {w}phony."', 'e "My, sounds so... {w}phony."')
        + block(7, said[7], 'm "Sorry."', 'm "抱歉。"')
        + block(8, said[8], 'e "Never mind."', 'e "没关系。"'),
    )
    lines = read(root)
    assert [(u.line, u.text, u.dropped) for u in lines] == [
        (5, "你好。", None),
        (6, "My, sounds so... phony.", "untranslated"),
        (7, "抱歉。", None),
        (8, "没关系。", None),
    ]
    result = run(root)
    assert result.stats.character_lines_dropped["untranslated"] == 1
    copied = [n for n in result.notes if "template" in n]
    assert copied == [
        "1 translate block of the Ren'Py chinese translation still holds the original's line"
        " as Ren'Py's template fills it in (not translated yet): left out of the dataset,"
        " and counted as untranslated."
    ]
    # No reply holds the English line.
    assert all("phony" not in s.reply for s in result.train)


def test_a_copied_block_without_a_comment_is_told_by_the_originals_line(tmp_path: Path) -> None:
    said = ids()
    root = game(
        tmp_path,
        f'translate chinese {said[5]}:\n    m "Hi there."\n\n'
        f'translate chinese {said[6]}:\n    e "听起来好假啊。"\n',
    )
    assert [(u.text, u.dropped) for u in read(root)] == [
        ("Hi there.", "untranslated"),
        ("听起来好假啊。", None),
    ]


def test_a_line_the_same_in_both_languages_is_no_copy(tmp_path: Path) -> None:
    script = SCRIPT.replace("Never mind.", "……")
    said = ids(script)
    root = game(
        tmp_path,
        block(7, said[7], 'm "Sorry."', 'm "抱歉。"') + block(8, said[8], 'e "……"', 'e "……"'),
        script,
    )
    assert [(u.text, u.dropped) for u in read(root)] == [("抱歉。", None), ("……", None)]


def test_a_stale_block_stands_only_where_no_current_translation_does(tmp_path: Path) -> None:
    said = ids()
    root = game(
        tmp_path,
        block(5, said[5], 'm "Hi there."', 'm "你好。"')
        # Line 6 as it was written before: its old identifier names no statement now.
        + block(6, "start_a050740d", 'e "My, sounds so... {w=1.5}phony."', 'e "你好像在骗我。"')
        + block(6, said[6], 'e "My, sounds so... {w}phony."', 'e "听起来好假啊。"')
        # Stale too, and its line (7) has no translation by identifier: read there.
        + block(7, "start_0badbad0", 'm "Sorry!"', 'm "抱歉。"')
        # Past the script's end: never shown.
        + block(40, "start_0badbad1", 'e "Bye."', 'e "再见。"'),
    )
    assert [(u.line, u.text) for u in read(root)] == [
        (5, "你好。"),
        (6, "听起来好假啊。"),
        (7, "抱歉。"),
    ]
    result = run(root)
    replies = [s.reply for s in result.train]
    assert all("骗" not in r and "再见" not in r for r in replies)
    stale = [n for n in result.notes if "stale" in n]
    assert stale == [
        "2 stale translate blocks of the Ren'Py translation (an identifier naming no say"
        " statement given, so the game never shows them) were left out: each one's line has"
        " a translation of its own, or is past the end of its file."
    ]
    # The translation file counts the lines read from it, not the stale ones.
    tl = next(f for f in result.stats.files if "tl" in Path(f.path).parts)
    assert tl.utterances == 3


def test_the_language_note_counts_the_original_lines_left_untranslated(tmp_path: Path) -> None:
    part2 = (
        "label part2:\n"
        '    m "How are you?"\n'
        '    e "I\'m fine, thank you."\n'
        '    m "Good to hear."\n'
        "    return\n"
    )
    said = ids()
    root = game(
        tmp_path,
        block(5, said[5], 'm "Hi there."', 'm "你好。"')
        + block(6, said[6], 'e "My, sounds so... {w}phony."', 'e "听起来好假啊。"'),
    )
    (root / "part2.rpy").write_text(part2, encoding="utf-8")
    note = run(root).notes[0]
    assert note == (
        "Ren'Py translations found (chinese): the dataset holds the chinese lines, not the"
        " original ones; 5 of the original's 7 say statements have no chinese translation"
        " and were left out (part2.rpy 3, script.rpy 2); [dataprep] renpy_language ="
        ' "original" reads those.'
    )


def test_an_empty_translation_template_is_one_sentence(tmp_path: Path) -> None:
    said = ids()
    root = game(
        tmp_path,
        "# TODO: Translation updated at 2023-03-30 08:23\n\n"
        + "".join(
            block(line, said[line], f'{who} "…"', f'{who} ""')
            for line, who in ((5, "m"), (6, "e"), (7, "m"), (8, "e"))
        ),
    )
    with pytest.raises(DataprepError) as raised:
        run(root)
    assert str(raised.value) == (
        "The Ren'Py chinese translation files hold no translated lines (an empty template:"
        ' every translated string is ""); set [dataprep] renpy_language to "original" for'
        " the original lines."
    )
    assert run(root, renpy_language="original").problem is None


def test_a_language_with_string_translations_only_says_so(tmp_path: Path) -> None:
    root = tmp_path / "game"
    (root / "tl" / "russian").mkdir(parents=True)
    (root / "script.rpy").write_text(SCRIPT, encoding="utf-8")
    (root / "tl" / "russian" / "dialogs.rpy").write_text(
        'translate russian strings:\n    old "Sorry."\n    new "Прости."\n', encoding="utf-8"
    )
    with pytest.raises(DataprepError) as raised:
        run(root, renpy_language="russian")
    message = str(raised.value)
    assert "only string translations" in message
    assert "give its game/tl/russian folder" not in message


def test_files_without_dialogue_are_named_apart() -> None:
    quiet = [
        FileReport(path=path, format="renpy", error="no dialogue", quiet=True)
        for path in (
            "/g/game/screens.rpy",
            "/g/game/options.rpy",
            "/g/game/tl/russian/screens.rpy",
            "/g/game/tl/english/screens.rpy",
        )
    ]
    assert without_dialogue_line(quiet) == (
        "4 .rpy files hold no dialogue (screens.rpy, options.rpy, tl/russian/screens.rpy,"
        " tl/english/screens.rpy)."
    )
    assert distinct_names([Path(f.path) for f in quiet]) == [
        "screens.rpy",
        "options.rpy",
        "tl/russian/screens.rpy",
        "tl/english/screens.rpy",
    ]
