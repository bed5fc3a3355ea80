"""Engine and stage commands are never a speaker nor a narration line, in any format."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.formats.common import is_code
from dataprep.pipeline import run_pipeline

STAGE_SCRIPT = """第一章
anim:fade_out(bgm)
bg("beach")
<| 背景 海边 |>
@bg storage=beach.jpg time=500
[wait time=200]
flag.met_atri = true
夏生：你在这里做什么？
$ renpy.pause(1.0)
sound.play("wave.ogg")
亚托莉：在看海。
"""


@pytest.mark.parametrize(
    "line",
    ["anim:fade_out(bgm)", 'bg("beach")', "<| 背景 海边 |>", "flag.met_atri = true", "wait(1.5)"],
)
def test_commands_are_code(line: str) -> None:
    assert is_code(line)


@pytest.mark.parametrize(
    "line", ["Hello (world)", "Natsuki: (sighs)", "Will you marry me?", "夏生：你好(笑)", "OK."]
)
def test_lines_are_not_code(line: str) -> None:
    assert not is_code(line)


def test_plain_script_with_stage_code() -> None:
    found = parse(STAGE_SCRIPT, "s.txt", "plain", ParseOptions())
    assert [(u.speaker, u.text) for u in found] == [
        (None, "第一章"),
        ("夏生", "你在这里做什么？"),
        ("亚托莉", "在看海。"),
    ]


def test_stage_narration_never_puts_code_into_a_reply(tmp_path: Path) -> None:
    script = tmp_path / "stage.txt"
    script.write_text(STAGE_SCRIPT.replace("$ renpy", "她转过身。\n$ renpy"), encoding="utf-8")
    settings = DataprepSettings(narration="stage", eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert [s.reply for s in result.train] == ["（她转过身。）在看海。"]


def test_kirikiri_script_blocks_and_code_lines() -> None:
    ks = (
        "*start\n[iscript]\nf.count = 1;\ntf.name = '亚托莉';\n[endscript]\n"
        "#夏生\n早上好。[p]\nf.visited = 1\n#亚托莉\n早上好！[p]\n"
    )
    found = parse(ks, "a.ks", "kirikiri", ParseOptions())
    assert [(u.speaker, u.text) for u in found] == [("夏生", "早上好。"), ("亚托莉", "早上好！")]


def test_renpy_code_and_screen_blocks(fixtures: Path) -> None:
    text = (fixtures / "eileen" / "script.rpy").read_text(encoding="utf-8")
    found = parse(text, "script.rpy", "renpy", ParseOptions())
    speakers = {u.speaker for u in found}
    assert speakers == {None, "Max", "Eileen", "Sylvie"}
    assert not any("code" in u.text or "Score" in u.text or "hud" in u.text for u in found)


def test_custom_regex_skips_code() -> None:
    import re

    options = ParseOptions(custom_regex=re.compile(r"^(?P<speaker>[^|]+)\|(?P<text>.*)$"))
    found = parse("anim:fade_out(bgm)\n夏生|你好\n", "c.txt", "regex", options)
    assert [(u.speaker, u.text) for u in found] == [("夏生", "你好")]


@pytest.mark.parametrize("line", ["a." * 25_000 + "(", "{" + " " * 50_000 + "x"])
def test_a_long_line_is_told_from_code_at_once(line: str) -> None:
    # 8,000 characters of "a.a.a…(" took over a second (each split was tried); a 50 MB
    # dump may hold a line of 100k.
    started = time.perf_counter()
    assert not is_code(line)
    assert time.perf_counter() - started < 1
