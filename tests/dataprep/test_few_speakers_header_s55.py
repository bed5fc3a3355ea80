"""Session 55: a small translation dump below long translator's notes was told "Only 20 of
the 1,561 lines read named a speaker … custom_regex can read": the notes, which the dump's
parser reads as a header, were counted as lines read. The note now counts the lines from
where the file's format starts; a file without a header is told as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataprep.formats import header_lines
from tests.dataprep.test_custom_regex_s50 import prep

ALIASES = {"lead_aliases": ["夏生"], "character_aliases": ["亚托莉"], "eval_ratio": 0}


def _dump_below_notes(tmp_path: Path, notes: int = 1500, pairs: int = 20) -> Path:
    """A bilingual dump of `pairs` ○/● pairs below `notes` lines of translator's notes."""
    lines = [
        f"译注 {i}: 这一段说的是夏日祭典，原文的「祭り」一律译作「祭典」。" if i % 3 else ""
        for i in range(notes)
    ]
    lines.append("")
    for n in range(pairs):
        who = ("夏生", "亚托莉")[n % 2]
        lines += [
            f"○{n:06d}○{who}「おはよう、{n}回目」",
            f"●{n:06d}●{who}「早上好，第{n}次。」",
            "",
        ]
    script = tmp_path / "notes_dump.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return script


@pytest.mark.parametrize("forced", [{}, {"format": "translation_dump"}])
def test_a_dump_below_long_notes_gets_no_few_speakers_note(
    tmp_path: Path, forced: dict[str, str]
) -> None:
    code, said = prep(tmp_path, _dump_below_notes(tmp_path), **ALIASES, **forced)
    said = " ".join(said.split())
    assert code == 0, said
    (written,) = (tmp_path / "out").glob("*_sharegpt.json")
    assert "早上好，第1次。" in written.read_text("utf-8")
    assert "named a speaker" not in said
    assert "custom_regex" not in said


def test_a_plain_file_of_few_named_lines_still_gets_it(tmp_path: Path) -> None:
    script = tmp_path / "story.txt"
    lines = [f"夏日祭典的那天（{i}），海边的小镇很安静。" for i in range(1500)]
    for n in range(10):
        lines += [f"夏生：早上好，第{n}次。", f"亚托莉：早上好，夏生先生！这是第{n}次了。"]
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, said = prep(tmp_path, script, **ALIASES)
    said = " ".join(said.split())
    assert code == 0, said
    assert "Only 20 of the 1,520 lines read named a speaker" in said
    assert "[dataprep] custom_regex can read" in said


def test_a_dumps_header_is_the_lines_above_its_pairs(tmp_path: Path) -> None:
    text = _dump_below_notes(tmp_path, notes=30, pairs=3).read_text("utf-8")
    assert header_lines(text, "translation_dump") == 31
    assert header_lines(text, "plain") == 0
    # A format told from signs below a header (`detect_format_at`'s start).
    assert header_lines(text, "kirikiri", text.index("○000000○")) == 31
