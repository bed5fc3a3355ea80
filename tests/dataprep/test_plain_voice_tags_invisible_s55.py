"""Session 55 probes of plain-text dumps as fans share them.

A voice id written right after the name (`亚托莉[v_atr0012]「…」`, `Atri [vo_0012]: …`) made
the whole line narration: her lines were lost and the run said no speaker matched her.
A zero-width space or a stray BOM inside a name (`亚\u200b托莉`) was matched as hers, but
the speakers table listed it as a name of its own that looks exactly like 亚托莉."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.pipeline import run_pipeline

ALIASES = {"lead_aliases": ["夏生", "Natsuki"], "character_aliases": ["亚托莉", "Atri"]}


def _run(tmp_path: Path, text: str) -> tuple[dict[str, int], list[str]]:
    script = tmp_path / "script.txt"
    script.write_text(text, encoding="utf-8")
    result = run_pipeline(DataprepSettings(eval_ratio=0, **ALIASES), [script])
    assert result.problem is None, result.problem
    speakers = {s.name: s.lines for s in result.stats.speakers}
    return speakers, [sample.reply for sample in result.train]


@pytest.mark.parametrize(
    "line",
    [
        "亚托莉[v_atr0012]「今天天气真好。」",
        "亚托莉[v_atr0012]：今天天气真好。",
        "亚托莉 [v_atr0012] 「今天天气真好。」",
        "【亚托莉】[v_atr0012]「今天天气真好。」",
        "【亚托莉】 [vo/atr_0012.ogg]：今天天气真好。",
    ],
)
def test_a_voice_id_after_the_name_is_no_part_of_name_or_line(tmp_path: Path, line: str) -> None:
    speakers, replies = _run(tmp_path, f"夏生[v_nat0001]「早上好。」\n{line}\n")
    assert speakers == {"夏生": 1, "亚托莉": 1}
    assert [r.strip("「」") for r in replies] == ["今天天气真好。"]


def test_a_voice_id_in_an_english_dump(tmp_path: Path) -> None:
    speakers, replies = _run(
        tmp_path, "Natsuki [vo_n001]: Morning.\nAtri[vo_a002]: Good morning!\n"
    )
    assert speakers == {"Natsuki": 1, "Atri": 1}
    assert replies == ["Good morning!"]


def test_a_kag_tag_after_a_name_is_still_no_voice_id(tmp_path: Path) -> None:
    # `[r]` holds no digit: the line stays what it was (narration), not 亚托莉's.
    script = tmp_path / "script.txt"
    script.write_text("夏生：早上好。\n亚托莉[r]「今天天气真好。」\n", encoding="utf-8")
    result = run_pipeline(DataprepSettings(eval_ratio=0, **ALIASES), [script])
    assert {s.name for s in result.stats.speakers} == {"夏生"}


@pytest.mark.parametrize("name", ["亚\u200b托莉", "\ufeff亚托莉", "亚托\u2060莉", "亚托\u00ad莉"])
def test_an_invisible_character_in_a_name_is_one_speaker(tmp_path: Path, name: str) -> None:
    # Her only spelling in the script, so the table cannot show another of hers instead.
    text = f"夏生：早上好。\n{name}：早上好！\n夏生：走吧。\n{name}：好的，我们走吧。\n"
    speakers, replies = _run(tmp_path, text)
    assert speakers == {"夏生": 2, "亚托莉": 2}
    assert replies == ["早上好！", "好的，我们走吧。"]


def test_an_alias_alone_before_its_unquoted_words_says_them(tmp_path: Path) -> None:
    # `亚托莉：` on a line of its own, her words below it unquoted: every line of hers was
    # narration, and the run blamed character_aliases for a script that names her.
    text = "夏生：\n早上好。\n亚托莉：\n今天天气真好。\n夏生：\n是啊。\n亚托莉：\n我们去海边吧。\n"
    speakers, replies = _run(tmp_path, text)
    assert speakers == {"夏生": 2, "亚托莉": 2}
    assert replies == ["今天天气真好。", "我们去海边吧。"]


def test_only_an_alias_alone_names_the_unquoted_line_below(tmp_path: Path) -> None:
    # Another name's, a blank line between, or an aside in brackets: narration as before.
    text = (
        "夏生：早上好。\n亚托莉：嗯，早上好！\n老师：\n大家安静。\n"
        "亚托莉：\n\n海风吹过。\n亚托莉：\n（她沉默了）\n"
    )
    speakers, replies = _run(tmp_path, text)
    assert speakers == {"夏生": 1, "亚托莉": 1}
    assert replies == ["嗯，早上好！"]


@pytest.mark.parametrize(
    "line", ["Notes [v1.2]: the first release.", "Update [2024]: a new route.", "Note [1]: see."]
)
def test_a_version_or_footnote_after_a_word_is_no_voice_id(tmp_path: Path, line: str) -> None:
    """Only what looks like a voice file's id (a letter, a digit, and `_` or three digits
    in a row) is one: these lines stay narration, not a speaker "Notes" or "Update"."""
    script = tmp_path / "script.txt"
    script.write_text(f"夏生：早上好。\n{line}\n亚托莉：早上好！\n", encoding="utf-8")
    result = run_pipeline(DataprepSettings(eval_ratio=0, **ALIASES), [script])
    assert {s.name for s in result.stats.speakers} == {"夏生", "亚托莉"}


def test_a_voice_id_of_letters_and_digits_alone(tmp_path: Path) -> None:
    speakers, replies = _run(tmp_path, "Natsuki [V0001]: Morning.\nAtri [V0002]: Good morning!\n")
    assert speakers == {"Natsuki": 1, "Atri": 1}
    assert replies == ["Good morning!"]
