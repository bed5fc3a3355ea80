"""Scripts made on Windows, as a tester gave them: a file joined from two encodings with
only a few lines of one, a stray byte left in a line she says, lone CR line ends, the
legacy codec names users write ("Shift-JIS", "GB2312"), `traditional_to_simplified`
without OpenCC, and Chinese facts wrapped over lines in Markdown."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import DataprepSettings
from dataprep.background import parse_markdown
from dataprep.clean import opencc_t2s
from dataprep.encoding import decode_report
from dataprep.errors import DataprepError
from dataprep.pipeline import run_pipeline
from tests.dataprep.conftest import FIXTURES

JA_LINES = [
    line
    for i in range(40)
    for line in (
        f"夏生「アトリ、今日は何をする？その{i}」",
        f"アトリ「はい、夏生さん！わたしは高性能ですから、海で遊びたいです。{i}番目です」",
    )
]
# Her lines as a fan appended them, saved by Notepad in CP932.
APPENDED = [
    "夏生「今日は海に行こうか。」",
    "アトリ「はい！海はとても楽しみです、ロボットですけど。」",
]
ZH_LINES = [
    line
    for i in range(10)
    for line in (f"夏生：你好，亚托莉。第{i}次", f"亚托莉：原来如此！我会好好打招呼的！第{i}次")
]


def encoded(lines: list[str], encoding: str) -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def ja_settings() -> DataprepSettings:
    return DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"], eval_ratio=0)


def zh_settings() -> DataprepSettings:
    return DataprepSettings(lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0)


# 1. A few lines of another encoding, and a stray byte in a line she says.


def test_two_cp932_lines_appended_to_a_utf8_script_are_read_as_cp932() -> None:
    # Before: read as UTF-8 with 35 bytes as U+FFFD, her line trained as "�͂��I…".
    decoded = decode_report(encoded(JA_LINES, "utf-8") + encoded(APPENDED, "cp932"), "a.txt")
    assert decoded.text == "\n".join(JA_LINES + APPENDED) + "\n"
    assert (decoded.encoding, decoded.other_encoding, decoded.other_lines) == ("utf-8", "cp932", 2)
    assert decoded.replaced_bytes == 0


def test_two_utf8_lines_appended_to_a_cp932_script_are_read_as_utf8() -> None:
    # Before: read whole as CP932, the UTF-8 lines as "縺ｯ…" mojibake.
    decoded = decode_report(encoded(JA_LINES, "cp932") + encoded(APPENDED, "utf-8"), "a.txt")
    assert decoded.text == "\n".join(JA_LINES + APPENDED) + "\n"
    assert (decoded.encoding, decoded.other_encoding, decoded.other_lines) == ("utf-8", "cp932", 80)


def test_cp932_lines_appended_to_a_utf8_file_with_a_bom_are_read_as_cp932() -> None:
    data = b"\xef\xbb\xbf" + encoded(JA_LINES, "utf-8") + encoded(APPENDED, "cp932")
    decoded = decode_report(data, "a.txt")
    assert decoded.text == "\n".join(JA_LINES + APPENDED) + "\n"
    assert (decoded.other_encoding, decoded.replaced_bytes) == ("cp932", 0)


def test_a_windows_1252_line_in_a_utf8_english_script_is_no_kanji() -> None:
    # CP932 reads "Let\x92s" cleanly as "Let痴": Western prose is tried first.
    lines = ["Natsuki: Good morning, Atri.", "Atri: Good morning! I’m high-performance."] * 5
    data = encoded(lines, "utf-8") + encoded(["Atri: Let’s go to the sea."], "cp1252")
    decoded = decode_report(data, "a.txt")
    assert decoded.text.endswith("Atri: Let’s go to the sea.\n")
    assert decoded.other_encoding == "cp1252"


def test_a_gbk_file_with_a_line_that_happens_to_be_valid_utf8_is_read_as_gbk() -> None:
    # 模 in GBK (C4 A3) is valid UTF-8 (ģ): one such line is no UTF-8 line.
    lines = [*ZH_LINES, "ATRI: 模"]
    decoded = decode_report(encoded(lines, "gbk"), "a.txt")
    assert (decoded.text, decoded.encoding, decoded.other_encoding) == (
        "\n".join(lines) + "\n",
        "gb18030",
        None,
    )


def test_a_stray_byte_in_a_utf8_line_is_no_line_of_another_encoding() -> None:
    data = encoded(ZH_LINES, "utf-8").replace("原来".encode(), b"\xff" + "原来".encode(), 1)
    decoded = decode_report(data, "a.txt")
    assert (decoded.encoding, decoded.other_encoding, decoded.replaced_bytes) == ("utf-8", None, 1)


def test_a_joined_file_trains_her_appended_line_as_written(tmp_path: Path) -> None:
    script = tmp_path / "joined.txt"
    script.write_bytes(encoded(JA_LINES, "utf-8") + encoded(APPENDED, "cp932"))
    result = run_pipeline(ja_settings(), [script])
    replies = [s.reply for s in result.train]
    assert "はい！海はとても楽しみです、ロボットですけど。" in replies
    assert not any("\ufffd" in text for s in result.train for _, text in s.turns)
    (report,) = result.stats.files
    assert "2 of its 82 lines are not utf-8 and were read as cp932" in (report.warning or "")


def test_a_line_with_an_unreadable_byte_is_dropped_and_counted(tmp_path: Path) -> None:
    # Before: one stray byte in a GBK script trained "原来如此！�我会好好打招呼的！第3次".
    said = "原来如此！我会好好打招呼的！第3次"
    clean, stray = tmp_path / "clean.txt", tmp_path / "stray.txt"
    clean.write_bytes(encoded(ZH_LINES, "gbk"))
    # ！ (A3 A1 in GBK) cut to its second byte: the line holds bytes GBK cannot read.
    stray.write_bytes(
        clean.read_bytes().replace("！第3次".encode("gbk"), "！第3次".encode("gbk")[1:])
    )
    result = run_pipeline(zh_settings(), [stray])
    # Every sample the line is in, as her reply or as context, goes; no other does.
    expected = [s.turns for s in run_pipeline(zh_settings(), [clean]).train]
    kept = [turns for turns in expected if all(text != said for _, text in turns)]
    assert [s.turns for s in result.train] == kept
    (stage,) = [s for s in result.stats.stages if s.stage == "filter"]
    assert stage.dropped == {"unreadable": len(expected) - len(kept)}
    assert result.stats.character_lines_dropped["unreadable"] == len(expected) - len(kept)


# 2. Lone CR line ends.


def test_a_renpy_script_with_lone_cr_line_ends_gives_its_samples(tmp_path: Path) -> None:
    # Before: one line of Ren'Py, 0 samples.
    game = tmp_path / "game"
    game.mkdir()
    for name in ("a.rpy", "b.rpy"):
        text = (FIXTURES / "variables" / name).read_bytes()
        (game / name).write_bytes(text.replace(b"\n", b"\r"))
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    with_cr = run_pipeline(settings, [game])
    with_lf = run_pipeline(settings, [FIXTURES / "variables"])
    assert [s.turns for s in with_cr.train] == [s.turns for s in with_lf.train]
    assert with_cr.train
    assert [f.lines for f in with_cr.stats.files] == [f.lines for f in with_lf.stats.files]


def test_a_gbk_script_with_lone_cr_and_a_stray_byte_is_read(tmp_path: Path) -> None:
    # Before: refused whole ("unreadable bytes on 1 of its 1 lines"), the report "lines 1".
    script = tmp_path / "cr.txt"
    data = encoded(ZH_LINES, "gbk").replace(b"\n", b"\r")
    script.write_bytes(data.replace("你好".encode("gbk"), b"\xff" + "你好".encode("gbk"), 1))
    result = run_pipeline(zh_settings(), [script])
    (report,) = result.stats.files
    assert report.error is None and report.lines == 20
    assert report.warning == (
        f"{script}: 1 byte(s) could not be read as gb18030 and became �, on 1 of 20 lines, the"
        " first on line 1; the rest of the file was read."
    )
    assert not any("\ufffd" in text for s in result.train for _, text in s.turns)


@pytest.mark.parametrize("line_end", [b"\r", b"\r\n", b"\n"])
def test_the_first_unreadable_line_is_counted_whatever_the_line_ends(line_end: bytes) -> None:
    data = encoded(ZH_LINES, "utf-8").replace(b"\n", line_end)
    data = data.replace("第4次".encode(), b"\xff", 1)
    assert decode_report(data, "a.txt").first_replaced_line == 9


# 3. Legacy codec names users write.


@pytest.mark.parametrize(
    ("forced", "text", "superset"),
    [
        ("Shift-JIS", "アトリ「①番、髙橋さんのお手紙です。」", "cp932"),
        ("GB2312", "亚托莉：这是亞托莉的信。", "gb18030"),
        ("EUC-KR", "아토리: 똠방각하 안녕하세요", "cp949"),
    ],
)
def test_a_forced_legacy_name_reads_what_only_its_windows_superset_has(
    tmp_path: Path, forced: str, text: str, superset: str
) -> None:
    # Before: ① became "�@", 亞 was lost.
    script = tmp_path / "win.txt"
    script.write_bytes((text + "\n").encode(superset) * 3)
    decoded = decode_report(script.read_bytes(), "win.txt", forced)
    assert (decoded.text, decoded.encoding, decoded.replaced_bytes) == (
        (text + "\n") * 3,
        superset,
        0,
    )
    settings = DataprepSettings(encoding=forced, eval_ratio=0)
    (report,) = run_pipeline(settings, [script]).stats.files
    assert report.warning is not None
    assert report.warning.startswith(
        f'{script}: read as {superset}, not as [dataprep] encoding "{forced}", which cannot'
        f" read {decoded.forced_unreadable} of its bytes that {superset}, its Windows superset,"
    )


def test_a_file_the_forced_legacy_name_reads_whole_is_read_in_it() -> None:
    # 0x8160 is 〜 in Shift-JIS and ～ in CP932: a file Shift-JIS reads keeps its reading.
    data = "アトリ「はい〜」\n".encode("shift_jis")
    decoded = decode_report(data, "a.txt", "Shift-JIS")
    assert (decoded.text, decoded.encoding, decoded.superset_of) == (
        "アトリ「はい〜」\n",
        "Shift-JIS",
        None,
    )


# 4. traditional_to_simplified without OpenCC.


def test_traditional_to_simplified_without_opencc_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a ModuleNotFoundError traceback from `atri prep`.
    monkeypatch.setitem(sys.modules, "opencc", None)  # `import opencc` fails, as not installed
    sentence = (
        "[dataprep] traditional_to_simplified = true needs OpenCC: pip install 'atri[opencc]'."
    )
    with pytest.raises(DataprepError) as err:
        opencc_t2s()
    assert str(err.value) == sentence
    config = tmp_path / "config.toml"
    config.write_text("[dataprep]\ntraditional_to_simplified = true\n", encoding="utf-8")
    shutil.copy(FIXTURES / "plain_zh.txt", tmp_path / "script.txt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ATRI_CONFIG", raising=False)
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", "script.txt"]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert sentence in " ".join(result.output.split())


# 5. Chinese facts wrapped over lines in Markdown.


def test_a_wrapped_chinese_fact_is_joined_without_a_space() -> None:
    facts = parse_markdown(
        "## 身份\n我是仿生机器人，\n而且是高性能的哦！\n## Job\nI help Natsuki\nat the sea.\n"
    )
    assert [f.answer for f in facts] == [
        "我是仿生机器人，而且是高性能的哦！",
        "I help Natsuki at the sea.",
    ]
