"""Spreadsheet exports (.csv / .tsv) of a game's text: columns told by a header in
English, Chinese or Japanese, or two or three columns without one; both-language tables
read on [dataprep] dump_side's side. Before, a .csv in a folder was not found, and one
named was read as a plain dump (`名字,「台词」` gave no speakers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import DataprepSettings
from dataprep.errors import DataprepError
from dataprep.formats import ParseOptions, compile_markers, detect_format, parse
from dataprep.pipeline import run_pipeline
from dataprep.sources import collect_scripts, read_script


def lines(
    text: str, name: str = "a.csv", **options: object
) -> list[tuple[str | None, str, int, str, str | None]]:
    said = parse(text, name, "csv", ParseOptions(**options))  # type: ignore[arg-type]
    return [(u.speaker, u.text, u.line, u.scene, u.dropped) for u in said]


def spoken(text: str, name: str = "a.csv", **options: object) -> list[tuple[str | None, str]]:
    return [(s, t) for s, t, *_ in lines(text, name, **options)]


@pytest.mark.parametrize(
    "header",
    [
        "name,text",
        "Speaker,Message",
        "Character Name,Line",
        "角色,台词",
        "说话人,对白",
        "名前,本文",
        "人物,セリフ",
    ],
)
def test_header_names_the_speaker_and_the_text(header: str) -> None:
    text = f"{header}\nアトリ,「おはようございます」\n,朝の光。\n夏生,「おはよう」\n"
    assert lines(text) == [
        ("アトリ", "「おはようございます」", 2, "0", None),
        (None, "朝の光。", 3, "0", None),
        ("夏生", "「おはよう」", 4, "0", None),
    ]


def test_columns_in_any_order_with_others_beside() -> None:
    text = "line_no,note,text,who\n1,x,Good morning.,Atri\n2,,Morning.,Natsuki\n"
    assert spoken(text) == [("Atri", "Good morning."), ("Natsuki", "Morning.")]


def test_no_header_two_or_three_columns() -> None:
    assert spoken("アトリ,「おはよう」\n,朝だ。\n夏生,「うん」\n") == [
        ("アトリ", "「おはよう」"),
        (None, "朝だ。"),
        ("夏生", "「うん」"),
    ]
    assert spoken("001,アトリ,「おはよう」\n002,夏生,「うん」\n") == [
        ("アトリ", "「おはよう」"),
        ("夏生", "「うん」"),
    ]


def test_quoted_cells_with_commas_quotes_and_line_breaks() -> None:
    text = (
        'name,text\nAtri,"Yes, ""Natsuki-san"", I am\n  a high-performance robot!"\n'
        'Natsuki,"Sure,\r\nsure."\n'
    )
    assert lines(text) == [
        ("Atri", 'Yes, "Natsuki-san", I am a high-performance robot!', 2, "0", None),
        ("Natsuki", "Sure, sure.", 4, "0", None),
    ]


def test_tsv_and_semicolons() -> None:
    tsv = "角色\t原文\nアトリ\t「はい、夏生さん」\n"
    assert spoken(tsv, "a.tsv") == [("アトリ", "「はい、夏生さん」")]
    semicolons = "name;text\nAtri;Yes, of course.\nNatsuki;Good, then.\n"
    assert spoken(semicolons) == [("Atri", "Yes, of course."), ("Natsuki", "Good, then.")]


def test_excel_bom_and_gbk_files_are_read(tmp_path: Path) -> None:
    rows = "角色,台词\n亚托莉,「早上好」\n"
    utf8_sig = tmp_path / "a.csv"
    utf8_sig.write_bytes(rows.encode("utf-8-sig"))
    gbk = tmp_path / "b.csv"
    gbk.write_bytes((rows + "夏生,「嗯，早上好」\n").encode("gbk"))
    assert spoken(read_script(utf8_sig).text) == [("亚托莉", "「早上好」")]
    # The BOM left in the text (a tool's decode) is no part of the first column's name.
    assert spoken("\ufeff" + rows) == [("亚托莉", "「早上好」")]
    assert spoken(read_script(gbk).text) == [("亚托莉", "「早上好」"), ("夏生", "「嗯，早上好」")]


BILINGUAL = (
    "ID,Speaker,Original,Translation,Comments\n"
    "L1,アトリ,「おはようございます」,「早上好」,\n"
    "L2,アトリ,「夏生さん」,,todo\n"
    "L3,,朝だ。,早晨了。,\n"
)


def test_both_languages_read_on_the_dump_side() -> None:
    assert lines(BILINGUAL) == [
        ("アトリ", "「早上好」", 2, "0", None),
        ("アトリ", "「夏生さん」", 3, "0", "untranslated"),
        (None, "早晨了。", 4, "0", None),
    ]
    assert lines(BILINGUAL, dump_side="original") == [
        ("アトリ", "「おはようございます」", 2, "0", None),
        ("アトリ", "「夏生さん」", 3, "0", None),
        (None, "朝だ。", 4, "0", None),
    ]
    assert spoken("名前,原文,译文\nアトリ,「はい」,「是」\n") == [("アトリ", "「是」")]


def test_scene_column_changes_and_scene_markers() -> None:
    text = "file,name,text\na.ks,A,one\na.ks,B,two\nb.ks,A,three\nb.ks,,◆◆◆\nb.ks,B,four\n"
    marker = compile_markers([r"[◆]{3,}\s*$"])
    assert [(t, s) for _, t, _, s, _ in lines(text, scene_marker=marker)] == [
        ("one", "0"),
        ("two", "0"),
        ("three", "1"),
        ("four", "2"),
    ]


def test_comment_rows_and_blank_rows_are_skipped() -> None:
    text = "ID,Speaker,Original\n\n#Lines:\nL1,アトリ,「はい」\n,,\n"
    assert lines(text) == [("アトリ", "「はい」", 4, "0", None)]


def test_a_text_column_alone_is_read_as_plain_lines() -> None:
    text = "text\nアトリ「おはよう」\n朝だ。\n夏生：うん\n"
    assert spoken(text) == [("アトリ", "「おはよう」"), (None, "朝だ。"), ("夏生", "うん")]
    assert [line for _, _, line, _, _ in lines(text)] == [2, 3, 4]
    assert spoken("アトリ「おはよう」\n朝だ。\n") == [("アトリ", "「おはよう」"), (None, "朝だ。")]


def test_columns_that_cannot_be_told_get_one_sentence() -> None:
    with pytest.raises(DataprepError) as caught:
        parse("a,b,c,d\n1,2,3,4\n", "x.csv", "csv", ParseOptions())
    said = str(caught.value)
    assert said.startswith("x.csv: is a table whose text column cannot be told; its first row")
    assert '"a", "b", "c", "d"' in said
    assert '"name"' in said and '"text"' in said and "\n" not in said


def test_detected_by_extension_and_found_in_a_folder(tmp_path: Path) -> None:
    assert detect_format("name,text\nA,hi\n", "lines.csv") == "csv"
    assert detect_format("A\thi\n", "lines.TSV") == "csv"
    # A voice list saved as .csv stays one.
    assert detect_format("v/a.wav|Atri|JA|hi\nv/b.wav|Atri|JA|yo\n", "list.csv") == "voice_list"
    (tmp_path / "lines.csv").write_text("name,text\nA,hi\n", encoding="utf-8")
    assert collect_scripts([tmp_path]) == [tmp_path / "lines.csv"]


def test_pipeline_pairs_the_lead_and_the_character(tmp_path: Path) -> None:
    rows = "L0,夏生,「おはよう、アトリ」,「早啊，亚托莉」,\n" + BILINGUAL.split("\n", 1)[1]
    (tmp_path / "lines.csv").write_text(BILINGUAL.split("\n", 1)[0] + "\n" + rows, "utf-8")
    settings = DataprepSettings(
        lead_aliases=["夏生"], character_aliases=["アトリ"], eval_ratio=0, user_placeholder=False
    )
    result = run_pipeline(settings, [tmp_path])
    assert [(f.format, f.error) for f in result.files] == [("csv", None)]
    assert [(s.prompt, s.reply) for s in result.train] == [("早啊，亚托莉", "早上好")]


def test_atri_prep_on_a_csv_writes_samples(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[dataprep]\neval_ratio = 0\nuser_placeholder = false\nlead_aliases = ["Natsuki"]\n'
        'character_aliases = ["Atri"]\n',
        encoding="utf-8",
    )
    script = tmp_path / "lines.csv"
    script.write_text(
        "scene,speaker,text\n1,Natsuki,Good morning.\n1,Atri,Good morning! I slept well.\n"
        "2,Atri,Shall we go?\n2,Natsuki,Let's go to the sea.\n2,Atri,Yes!\n",
        encoding="utf-8-sig",
    )
    out = tmp_path / "out"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(script), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = json.loads((out / "atri_sharegpt.json").read_text("utf-8"))
    assert [c["conversations"][-1]["value"] for c in written] == [
        "Good morning! I slept well.",
        "Yes!",
    ]
