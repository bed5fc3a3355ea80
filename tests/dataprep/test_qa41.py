"""Session 41: Ren'Py translation identifiers (a block's end, `__` names), the progress
label of a Windows path, CJK lines a dump wrapped after a comma, and the ○/● dump."""

from __future__ import annotations

import hashlib

import pytest

from atri.config import DataprepSettings
from dataprep.cli import progress_label
from dataprep.formats import renpy as renpy_format
from dataprep.pipeline import iter_utterances, load_scripts, parse_options
from tests.dataprep.conftest import FIXTURES

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
    assert renpy_format.say_identifiers(script) == {
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
    before, since, latest = renpy_format.say_identifier_schemes(script, "my lighthouse.rpy")
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
    game = QA41 / "lighthouse" / "game"
    settings = DataprepSettings(
        lead_aliases=["Kyo"], character_aliases=["Minamo"], renpy_language="chinese", eval_ratio=0
    )
    loaded, _ = load_scripts([game / "script.rpy", game / "tl"], settings, None)
    options = parse_options(settings, loaded)
    lines = [u for batch in iter_utterances(loaded, options) for u in batch]
    assert [(u.speaker, u.text, u.line) for u in lines] == [
        ("Kyo", "The light is on.", 10),
        ("Minamo", "今晚的海很平静。", 13),
        ("Minamo", "每艘船都会回家的。", 16),
        ("Kyo", "Even ours?", 17),
        ("Minamo", "我们的也会。", 18),
    ]
