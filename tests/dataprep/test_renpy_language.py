"""A Ren'Py game given with its game/tl/ translations: one language's lines, never both."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep.cli import run_prep
from dataprep.errors import DataprepError
from dataprep.pipeline import run_pipeline
from tests.dataprep.conftest import FIXTURES

GAME = FIXTURES / "festival" / "game"
ORIGINAL = GAME / "script.rpy"
CHINESE = GAME / "tl" / "chinese"
JAPANESE = GAME / "tl" / "japanese"
SYSTEM = "You are Eileen, talking with {{user}}."
ENGLISH_REPLIES = [
    "Almost, {{user}}. I still need my lantern.",
    "Then let's go together!",
    "They are. Thank you for coming with me, {{user}}.",
]
CHINESE_REPLIES = [
    "快好了，{{user}}。我还需要我的灯笼。",
    "那我们一起去吧！",
    "是啊。谢谢你陪我来，{{user}}。",
]
JAPANESE_REPLIES = [
    "もうすぐよ、{{user}}。まだ提灯が要るの。",
    "じゃあ一緒に行こう！",
    "そうね。一緒に来てくれてありがとう、{{user}}。",
]


def eileen(**dataprep: object) -> DataprepSettings:
    return DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], **dataprep)  # type: ignore[arg-type]


def replies(scripts: list[Path], **dataprep: object) -> list[str]:
    result = run_pipeline(eileen(eval_ratio=0, **dataprep), scripts)
    return sorted(s.reply for s in result.train)


def prep(tmp_path: Path, scripts: list[Path], **dataprep: object) -> tuple[int, str]:
    console = Console(record=True, width=1000)
    settings = Settings(root=tmp_path, dataprep=eileen(**dataprep))
    code = run_prep(settings, scripts, tmp_path / "out", None, SYSTEM, console)
    return code, console.export_text()


@pytest.mark.parametrize(
    ("scripts", "setting", "expected"),
    [
        ([ORIGINAL], "auto", ENGLISH_REPLIES),
        ([ORIGINAL, CHINESE], "auto", CHINESE_REPLIES),
        ([ORIGINAL, JAPANESE], "auto", JAPANESE_REPLIES),
        ([ORIGINAL, CHINESE], "original", ENGLISH_REPLIES),
        ([ORIGINAL, GAME / "tl"], "original", ENGLISH_REPLIES),
        ([ORIGINAL, GAME / "tl"], "japanese", JAPANESE_REPLIES),
        ([ORIGINAL, GAME / "tl"], "chinese", CHINESE_REPLIES),
    ],
)
def test_each_line_is_read_in_one_language(
    scripts: list[Path], setting: str, expected: list[str]
) -> None:
    # The original's say statements and the translated ones were both read: every line
    # was in the dataset twice, once in each language.
    assert replies(scripts, renpy_language=setting) == sorted(expected)


def test_the_run_says_which_language_it_used(tmp_path: Path) -> None:
    code, said = prep(tmp_path, [ORIGINAL, CHINESE])
    assert code == 0
    assert "Ren'Py translations found (chinese): the dataset holds the chinese lines" in said
    assert "skipped" not in said  # the original, read for its defines, is no failure
    code, said = prep(tmp_path, [ORIGINAL, CHINESE], renpy_language="original")
    assert code == 0
    assert "Ren'Py translations (chinese) were left out" in said and "skipped" not in said


def test_several_languages_ask_for_one(tmp_path: Path) -> None:
    code, said = prep(tmp_path, [ORIGINAL, GAME / "tl"])
    assert code == 1
    assert (
        "The Ren'Py files hold translations in 2 languages (chinese, japanese); set"
        ' [dataprep] renpy_language to one of them, or to "original" for the untranslated'
        " lines." in said
    )
    assert not (tmp_path / "out").exists()


def test_a_language_not_given_is_one_sentence() -> None:
    with pytest.raises(DataprepError, match=r'renpy_language is "korean", but the Ren\'Py'):
        run_pipeline(eileen(renpy_language="korean"), [ORIGINAL, GAME / "tl"])


def test_a_language_that_is_not_a_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        eileen(renpy_language="chinese traditional")
