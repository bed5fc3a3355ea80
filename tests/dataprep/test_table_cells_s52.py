"""Spreadsheet cells as translation tools write them: a `\\n` escape is a line break (the
text box wrapping), not a backslash and an n; a translation that copies the original is
untranslated, dropped and counted as such; YukaTool's `#Names` rows are a table of the
speakers' names, not narration. Before, all three were read as lines said."""

from __future__ import annotations

from dataprep.formats import ParseOptions, parse
from dataprep.records import UNTRANSLATED


def lines(
    text: str, name: str = "a.csv", **options: object
) -> list[tuple[str | None, str, str | None]]:
    said = parse(text, name, "csv", ParseOptions(**options))  # type: ignore[arg-type]
    return [(u.speaker, u.text, u.dropped) for u in said]


def test_an_escaped_line_break_is_where_the_box_wrapped() -> None:
    text = (
        "ID,Speaker,Text\n"
        '1,Atri,"Good morning,\\nNatsuki-san!"\n'
        "2,アトリ,「おはよう\\r\\nございます」\n"
        "3,,The sea\\nglitters.\n"
    )
    assert lines(text) == [
        ("Atri", "Good morning, Natsuki-san!", None),
        ("アトリ", "「おはようございます」", None),
        (None, "The sea glitters.", None),
    ]


def test_rpg_maker_codes_and_an_escaped_backslash_stay() -> None:
    text = "name,text\n,\\n[1] waves.\nA,\\n<Harold>Hi.\nB,C:\\\\new\n"
    assert [t for _, t, _ in lines(text)] == ["\\n[1] waves.", "\\n<Harold>Hi.", "C:\\\\new"]


def test_a_translation_that_copies_the_original_is_untranslated() -> None:
    text = (
        "ID,Speaker,Original,Translation\n"
        "L1,アトリ,「おはようございます」,「早上好」\n"
        "L2,アトリ,「夏生さん、起きて」,「夏生さん、起きて」\n"
        "L3,アトリ,「……」,「……」\n"
    )
    assert lines(text) == [
        ("アトリ", "「早上好」", None),
        ("アトリ", "「夏生さん、起きて」", UNTRANSLATED),
        ("アトリ", "「……」", None),
    ]
    assert [d for *_, d in lines(text, dump_side="original")] == [None, None, None]


def test_yukatools_names_rows_are_no_narration() -> None:
    # YukaTool 2's string table: a blank row, `#Names` and one row a name (N…), then
    # `#Lines` and the lines (L…), the speaker as the original names them.
    text = (
        "ID,Speaker,Original,[Translation],[TLC],[Edit],[QC],Comment\n"
        ",,,,,,,\n"
        "#Names,,,,,,,\n"
        "N1,,アトリ,亚托莉,,,,\n"
        "N2,,夏生,夏生,,,,\n"
        ",,,,,,,\n"
        "#Lines,,,,,,,\n"
        "L1,アトリ,「おはようございます」,「早上好」,,,,\n"
        "L2,,朝だ。,早晨了。,,,,\n"
    )
    # The speaker as the side read names her: 亚托莉, from the table of names.
    assert lines(text) == [("亚托莉", "「早上好」", None), (None, "早晨了。", None)]
    assert lines(text, dump_side="original")[0] == ("アトリ", "「おはようございます」", None)
