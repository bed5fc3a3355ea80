"""Session 54: a translation dump's layout was told from its first 20,000 characters (the
`[0x…]` / `;[0x…]` brackets, the width of its numbers, SiglusTools' name field), and the
run's note on the order of its marks from its first 200,000. A tool's header or a
translator's notes above the pairs longer than that left a bracketed dump unread (no
dialogue), the name field in the speakers (`秀治★`), a number of letters alone
(`○ABCDEF○`) glued to the line above as text, and a dump read the other way round unnamed
in the note. Each is now told from the file's first marked line."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.formats.translation_dump import order_note
from dataprep.pipeline import run_pipeline
from tests.dataprep.conftest import FIXTURES

S54 = FIXTURES / "s54"
# Longer than the 20,000 characters the layout was told from.
LONG = 25_000


def _notes(chars: int, comment: str) -> str:
    """A translator's notes above the pairs, a paragraph a line, at least `chars` long."""
    paragraph = (
        "本章人名沿用官方中文版的译法，敬语按语境处理，拟声词尽量意译，双关语在句后加注。" * 12
    )
    lines: list[str] = []
    while sum(len(line) + 1 for line in lines) < chars:
        lines.append(f"{comment} 译注{len(lines) + 1}：{paragraph}")
    return "\n".join(lines) + "\n\n"


def _read(text: str, side: str = "translation") -> list[tuple[str | None, str]]:
    said = parse(text, "dump.txt", "translation_dump", ParseOptions(dump_side=side))
    return [(u.speaker, u.text) for u in said if u.dropped is None]


def test_bracketed_pairs_below_long_notes_are_read() -> None:
    dump = (S54 / "head_notes_bracketed.txt").read_text("utf-8")
    expected = [
        ("柊史", "「宁宁，已经要回去了吗？」"),
        ("宁宁", "「是的，今天还有事情要办」"),
        (None, "夕阳把走廊染成了红色。"),
        ("柊史", "「这样啊。明天见」"),
        ("宁宁", "「嗯，明天见」"),
    ]
    for notes in ("", _notes(LONG, ";")):
        assert _read(notes + dump) == expected
        assert _read(notes + dump, "original")[1] == ("寧々", "「はい、今日は用事がありますから」")


def test_the_siglus_name_field_below_long_notes_is_no_speakers_part() -> None:
    dump = (S54 / "head_notes_siglus.txt").read_text("utf-8")
    for notes in ("", _notes(LONG, "//")):
        assert _read(notes + dump) == [
            (None, "一出车站，就闻到了海潮的气味。"),
            ("秀治", "「这里，就是我出生的小镇吗」"),
            ("香奈", "「是啊☆\u3000欢迎回来，哥哥」"),
            (None, "香奈开心地笑了。"),
        ]


def test_numbers_of_letters_alone_below_long_notes_count_at_the_files_width() -> None:
    # Six wide: `○ABCDEF○` is a number as its neighbours `○00ABCD○` are, not text going
    # on from the line above.
    dump = (S54 / "head_notes_six_wide.txt").read_text("utf-8")
    for notes in ("", _notes(LONG, "//")):
        assert _read(notes + dump) == [
            ("夏生", "「走吧，亚托莉」"),
            ("亚托莉", "「好的，夏生先生」"),
            (None, "天亮了。"),
        ]


def test_the_order_note_names_reversed_dumps_below_long_notes() -> None:
    commented_first = (S54 / "head_notes_commented_first.txt").read_text("utf-8")
    star_first = (S54 / "head_notes_star_first.txt").read_text("utf-8")
    usual = (S54 / "head_notes_bracketed.txt").read_text("utf-8")
    files = [
        ("commented_first.txt", _notes(LONG, ";") + commented_first),
        # Past the 200,000 characters the note read.
        ("star_first.txt", _notes(210_000, "//") + star_first),
        ("usual.txt", _notes(LONG, ";") + usual),
    ]
    note = order_note(files, ParseOptions())
    assert note is not None
    assert note.endswith(": commented_first.txt, star_first.txt.")
    # As the parse reads them: the ★ and `;` lines are the Japanese.
    assert _read(files[0][1])[0] == ("宁宁", "「保科君，早上好」")
    assert _read(files[1][1]) == [
        ("香奈", "「哥哥，早上了哦」"),
        ("秀治", "「再睡五分钟……」"),
        ("香奈", "「真是的，迟到了我可不管哦」"),
    ]


def test_a_run_reads_dumps_below_long_notes(tmp_path: Path) -> None:
    # Sniffing sees the notes alone (they fill its first lines): the user names the format.
    for name in ("head_notes_bracketed.txt", "head_notes_commented_first.txt"):
        text = _notes(LONG, ";") + (S54 / name).read_text("utf-8")
        (tmp_path / name).write_text(text, "utf-8")
    settings = DataprepSettings(
        format="translation_dump", lead_aliases=["柊史"], character_aliases=["宁宁", "寧々"]
    )
    result = run_pipeline(settings, [tmp_path])
    assert [(Path(f.path).name, f.error) for f in result.files] == [
        ("head_notes_bracketed.txt", None),
        ("head_notes_commented_first.txt", None),
    ]
    samples = [(s.prompt, s.reply) for s in result.train + result.evaluation]
    assert ("宁宁，已经要回去了吗？", "是的，今天还有事情要办") in samples
    assert ("早上好。今天来得真早啊", "因为我是值日生") in samples
    (order,) = [n for n in result.notes if n.startswith("Read the ●/★/◆ lines")]
    assert order.endswith(": head_notes_commented_first.txt.")
