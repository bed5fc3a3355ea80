"""Bilingual translation dumps (`○000012○原文` / `●000012●译文`): detected, one side read
([dataprep] dump_side), each line read as a plain dump's, a pair without that side
dropped and counted. They were read as plain text, the marks glued to the speaker
(`○000012○亚托莉`) and every line there twice, once in each language."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import ConfigError, DataprepSettings, settings_from_dict
from dataprep.formats import ParseOptions, compile_markers, detect_format, parse
from dataprep.pipeline import PrepResult, run_pipeline
from dataprep.records import Role
from dataprep.sources import read_script
from tests.dataprep.conftest import FIXTURES

DUMPS = FIXTURES / "s39_dumps"
UTF8 = DUMPS / "atri_01.txt"
UTF16 = DUMPS / "atri_02_utf16.txt"
GBK = DUMPS / "atri_03_gbk.txt"
KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")


def run(paths: list[Path], **dataprep: object) -> PrepResult:
    settings = DataprepSettings(eval_ratio=0, user_placeholder=False, **dataprep)  # type: ignore[arg-type]
    return run_pipeline(settings, paths)


def turns(result: PrepResult) -> list[list[tuple[Role, str]]]:
    return [s.turns for s in result.train]


def texts(result: PrepResult) -> set[str]:
    return {text for sample in result.train for _, text in sample.turns}


def speakers(result: PrepResult) -> dict[str, int]:
    return {s.name: s.lines for s in result.stats.speakers}


@pytest.mark.parametrize("path", [UTF8, UTF16, GBK])
def test_a_dump_is_detected_in_each_encoding(path: Path) -> None:
    decoded = read_script(path, "auto")
    assert detect_format(decoded.text, path.name) == "translation_dump"


def test_a_gbk_dump_with_kana_is_read_as_gb18030() -> None:
    # Its ○ and ● (two on every line) were no common characters: the file was "not text
    # in any encoding tried".
    decoded = read_script(GBK, "auto")
    assert decoded.encoding == "gb18030"
    assert "●0032●亚托莉：是的。真想一直看下去。" in decoded.text


def test_the_translation_is_read_by_default_with_its_speakers() -> None:
    result = run([UTF8])
    assert [f.format for f in result.files] == ["translation_dump"]
    assert speakers(result) == {"亚托莉": 5, "夏生": 5}
    assert not any(KANA.search(t) for t in texts(result))
    assert [(Role.LEAD, "早上好，亚托莉"), (Role.CHARACTER, "早上好，夏生先生")] in turns(result)


def test_original_reads_the_japanese_lines() -> None:
    result = run([UTF8], dump_side="original")
    assert speakers(result) == {"アトリ": 5, "夏生": 5}
    assert [
        (Role.LEAD, "おはよう、アトリ"),
        (Role.CHARACTER, "おはようございます、夏生さん"),
    ] in turns(result)
    assert not any("早上好" in t for t in texts(result))


@pytest.mark.parametrize("side", ["translation", "original"])
def test_a_name_alone_in_a_pair_names_the_next_pair(side: str) -> None:
    # `●000004●夏生` then `●000005●「今天做什么？」`; `●000022●亚托莉` then a quoted line.
    result = run([UTF8, UTF16], dump_side=side)
    asked, answer = (
        ("今天做什么？", "我想去海边！")
        if side == "translation"
        else (
            "今日は何をする？",
            "海に行きたいです！",
        )
    )
    assert any(t[-2:] == [(Role.LEAD, asked), (Role.CHARACTER, answer)] for t in turns(result))
    said = "好的，我开动了！" if side == "translation" else "はい、いただきます！"
    assert any(t[-1] == (Role.CHARACTER, said) for t in turns(result))


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        ("translation", [("夏生", "「今天做什么？」"), ("亚托莉", "「好的，我开动了！」")]),
        ("original", [("夏生", "「今日は何をする？」"), ("アトリ", "「はい、いただきます！」")]),
    ],
)
def test_a_name_alone_needs_no_alias(side: str, expected: list[tuple[str, str]]) -> None:
    # No aliases: a plain dump reads a bare `夏生` line above a quote as narration.
    markers = compile_markers(DataprepSettings().scene_markers)  # 第二章 is one
    options = ParseOptions(dump_side=side, scene_marker=markers)
    said = [
        (u.speaker, u.text)
        for path in (UTF8, UTF16)
        for u in parse(read_script(path, "auto").text, "x", "translation_dump", options)
    ]
    assert all(pair in said for pair in expected)
    assert all(speaker is not None for speaker, _ in said[1:])  # only the first is narration


def test_a_scene_marker_above_a_quote_is_no_name() -> None:
    text = (
        "○0001○夏生「行くぞ」\n●0001●夏生「走吧」\n"
        "○0002○◆◆◆\n●0002●◆◆◆\n"
        "○0003○「……はい」\n●0003●「……好」\n"
    )
    options = ParseOptions(scene_marker=compile_markers(DataprepSettings().scene_markers))
    said = parse(text, "x", "translation_dump", options)
    assert [(u.speaker, u.text, u.scene) for u in said] == [
        ("夏生", "「走吧」", "0"),
        (None, "「……好」", "1"),
    ]


def test_an_untranslated_line_is_named_in_the_language_read() -> None:
    said = parse(UTF8.read_text("utf-8"), "x", "translation_dump", ParseOptions())
    dropped = [(u.speaker, u.text, u.line, u.dropped) for u in said if u.dropped]
    # アトリ: what the pairs read on both sides call 亚托莉, so it is her line (no alias).
    assert dropped == [("亚托莉", "高性能ですから！", 22, "untranslated")]


def test_a_pair_with_no_translation_is_dropped_counted_and_ends_the_exchange() -> None:
    result = run([UTF8])
    # `○000008○アトリ：高性能ですから！` has no ● line: her line, not translated.
    assert result.stats.character_lines_dropped["untranslated"] == 1
    clean = next(s for s in result.stats.stages if s.stage == "clean text")
    assert clean.dropped == {"untranslated": 1}
    assert "高性能ですから！" not in texts(result)
    # The lead's lines on either side of it stay apart: 好吧。 is no prompt of 火箭飞拳！.
    assert [(Role.LEAD, "真是的……"), (Role.CHARACTER, "火箭飞拳！")] in turns(result)
    # Read on the side it has, it is hers and kept.
    assert "高性能ですから！" in texts(run([UTF8], dump_side="original"))


def test_a_chapter_heading_pair_starts_a_scene() -> None:
    result = run([UTF8])
    scenes = {s.scene for s in result.train}
    assert len(scenes) == 2
    after = next(s for s in result.train if s.reply == "欢迎回来，夏生先生")
    assert after.turns == [(Role.LEAD, "亚托莉，我回来了"), (Role.CHARACTER, "欢迎回来，夏生先生")]


def test_lines_are_at_their_file_lines_and_outside_lines_are_no_ones() -> None:
    text = GBK.read_bytes().decode("gb18030")
    said = parse(text, "a03", "translation_dump", ParseOptions())
    assert [(u.speaker, u.line) for u in said] == [
        ("夏生", 3),
        ("亚托莉", 6),
        ("夏生", 9),
        ("亚托莉", 12),
    ]
    assert all("a03.ks" not in u.text for u in said)  # the tool's `// a03.ks` header


def test_a_pair_in_either_order_and_a_missing_original() -> None:
    text = (
        "●0001●亚托莉：早上好\n○0001○アトリ：おはよう\n\n"
        "●0002●夏生：嗯\n"  # no ○ line: read as the translation, no original
        "○0003○\n●0003●\n"  # nothing said on either side: nothing
    )
    options = ParseOptions(scene_marker=compile_markers([]))
    said = parse(text, "x", "translation_dump", options)
    assert [(u.speaker, u.text, u.dropped) for u in said] == [
        ("亚托莉", "早上好", None),
        ("夏生", "嗯", None),
    ]
    original = ParseOptions(dump_side="original")
    said = parse(text, "x", "translation_dump", original)
    assert [(u.speaker, u.text, u.dropped) for u in said] == [
        ("アトリ", "おはよう", None),
        ("夏生", "嗯", "no_original"),
    ]


def test_a_dump_is_one_even_with_a_custom_regex_set() -> None:
    # The regex read `○000012○亚托莉` as the speaker, as the plain parser did.
    assert detect_format(UTF8.read_text("utf-8"), "a.txt", True) == "translation_dump"
    assert detect_format("亚托莉|早上好\n", "a.txt", True) == "regex"


def test_a_plain_dump_is_still_plain() -> None:
    text = "亚托莉：早上好\n夏生：○是圆\n●就是点\n"
    assert detect_format(text, "a.txt") == "plain"


def test_a_bad_dump_side_is_one_sentence() -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"dataprep": {"dump_side": "chinese"}})
    assert "[dataprep] dump_side" in str(err.value)
    assert "must be one of 'translation' or 'original'" in str(err.value)
    assert "Traceback" not in str(err.value)


def test_atri_prep_on_a_folder_of_dumps(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[dataprep]\neval_ratio = 0\nuser_placeholder = false\ndump_side = "translation"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(DUMPS), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = json.loads((out / "atri_sharegpt.json").read_text("utf-8"))
    replies = {c["conversations"][-1]["value"] for c in written}
    assert "说好了哦，夏生先生。" in replies  # the GBK file's
    assert "非常好吃，高性能的味觉告诉我的" in replies  # the UTF-16 file's
    assert not any(KANA.search(r) for r in replies)


def test_a_translation_that_is_the_original_copied_is_untranslated() -> None:
    """Tools fill the ● line with the original before anyone translates it: the Japanese
    line was read as her Chinese one. `「……」`, the same in both languages, stays."""
    dump = (
        "○000001○夏生「おはよう」\n●000001●夏生「早上好」\n\n"
        "○000002○亚托莉「おはようございます！」\n●000002●亚托莉「おはようございます！」\n\n"
        "○000003○夏生「元気？」\n●000003●夏生「精神吗？」\n\n"
        "○000004○亚托莉「……」\n●000004●亚托莉「……」\n"
    )
    said = parse(dump, "x", "translation_dump", ParseOptions())
    assert [(u.speaker, u.text, u.dropped) for u in said] == [
        ("夏生", "「早上好」", None),
        ("亚托莉", "「おはようございます！」", "untranslated"),
        ("夏生", "「精神吗？」", None),
        ("亚托莉", "「……」", None),
    ]
