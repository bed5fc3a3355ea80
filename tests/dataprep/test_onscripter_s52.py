"""ONScripter / NScripter `0.txt` scripts (the format of most Chinese fan ports): command
lines (`bg`, `dwave`, `lsp`, `csp 5:csp 6`, `if … goto`) and `;` comments are never said,
`*label` starts a scene, one text box (up to a `\\`) is one utterance, speakers come from
`【名】「…」`, `名「…」`, a `[1|【名】|voice]` tag or a `msgName "名"` command, and a choice
(`select`) ends the exchange. Before, auto-detection called such a file KiriKiri (its
`*label` lines), which found no dialogue, and `--format plain` read voice ids and command
lines as speakers and lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from dataprep.errors import DataprepError
from dataprep.formats import ParseOptions, compile_markers, detect_format, detect_format_why, parse
from dataprep.loaded_scripts import LoadedScript
from dataprep.no_dialogue import no_dialogue
from dataprep.sources import collect_scripts, read_script
from dataprep.stats import FileReport

# The common port layout: `*define` … `game`, `【名】「…」\` lines among stage commands.
BRACKETED = """\
;mode800
*define
caption "夏空 for ONScripter"
defsub nend
game
*start
bg "image/bg_room.jpg",2
dwave 0,"voice/ren-0001.ogg"
【　恋　】「快起来，森罗」\\
nend
【森　罗】「呃啊！？」\\
下腹部突然传来剧痛，@
我从被窝里跳了起来。\\
ld c,"image/ren01.png",10:print 1
恋「早上好。!w300今天休息哦」\\
lsp 5,":a;image/face.png",10,10:csp 6
if %flag==1 goto *school
*school
【森罗】「那就去#ff0000学校#ffffff吧」\\
select "去学校",*go,"继续睡",*sleep
【　恋　】「(一緒/いっしょ)に行こう」\\
"""

# natsu's layout: a pretextgosub tag `[1|【名】|voice]` before each line, `[1||]` narration.
TAGGED = """\
*define
pretextgosub *pretext
game
*start
cspchar
lspsy 36,"image/evh01.png",640,360
print 10,300
[1|【　恋　】|ren-A01-0011]「早上好」\\
nend
[1||]我陷入一片混乱。\\
nend
[1|【森　罗】|]「今天是平日吗！？」\\
nend
*pretext
gettag $0,$1,$2
return
"""

# A naming command before the text it names (what KIRIKIRI2ONS converters write).
MSGNAME = """\
*start
msgName "恋"
voplay "ren-A01-0009"
「快起来，森罗」\\
msgName "森罗"
「呃啊！？」\\
csp 5:csp 6:facereset
下腹部突然传来剧痛。\\
*day2
msgName "恋"
「早上好」\\
"""

# ONScripter-EN: English in backquotes, `@/` a click wait that goes on on the same row.
ENGLISH = """\
*define
game
*start
bg black,2
;「最後はちょっぴり……っと。@/
`"I'll make the ending just a little stylish... there.`@/
` I'm done!"`\\
!s0`It was late.`!sd\\
Well, I suppose it was worth it.\\
textoff
"""

# A KAG scenario with as many labels: still KiriKiri.
KAG = """\
*start|開始
; 朝
@bg storage=room
【恋】「おはよう」[p]
*next
朝だ。[l][r]
*end
"""


def said(text: str, name: str = "0.txt", **options: object) -> list[tuple[str | None, str]]:
    utterances = parse(text, name, "onscripter", ParseOptions(**options))  # type: ignore[arg-type]
    return [(u.speaker, u.text) for u in utterances]


def test_bracketed_names_pages_and_commands() -> None:
    assert said(BRACKETED) == [
        ("恋", "「快起来，森罗」"),
        ("森罗", "「呃啊！？」"),
        (None, "下腹部突然传来剧痛，我从被窝里跳了起来。"),
        ("恋", "「早上好。今天休息哦」"),
        ("森罗", "「那就去学校吧」"),
        ("恋", "「一緒に行こう」"),
    ]


def test_labels_start_scenes_and_a_choice_ends_the_exchange() -> None:
    utterances = parse(BRACKETED, "0.txt", "onscripter", ParseOptions())
    scenes = [u.scene for u in utterances]
    assert len(set(scenes[:4])) == 1 and len(set(scenes[4:])) == 1  # `*school` between
    assert scenes[3] != scenes[4]
    assert utterances[-2].branch != utterances[-1].branch  # `select` between them


def test_a_pretextgosub_tag_names_the_speaker() -> None:
    assert said(TAGGED) == [
        ("恋", "「早上好」"),
        (None, "我陷入一片混乱。"),
        ("森罗", "「今天是平日吗！？」"),
    ]


def test_a_naming_command_names_the_next_text_line() -> None:
    assert said(MSGNAME) == [
        ("恋", "「快起来，森罗」"),
        ("森罗", "「呃啊！？」"),
        (None, "下腹部突然传来剧痛。"),
        ("恋", "「早上好」"),
    ]


def test_a_naming_command_with_an_id_names_by_its_last_string() -> None:
    # What converters write for a KAG `#yuria` line, and `[p]`/`[r]` as lines of their own.
    text = '*start\nname_set "yuria","ユリア"\nおはよう。\n@\nいい天気。\n\\\nname_set "",""\n朝だ。\\\n'
    assert said(text) == [("ユリア", "おはよう。いい天気。"), (None, "朝だ。")]


def test_words_before_a_quote_name_nobody_when_they_are_a_sentence() -> None:
    assert said("*start\n然后，她说「好」\\\n") == [(None, "然后，她说「好」")]


def test_a_name_alone_names_the_line_below_and_a_heading_names_nobody() -> None:
    text = "*start\n【恋】\n「早上好」\\\n【第三章】\\\n【森罗】@\n「嗯」\\\n天亮了。\\\n"
    assert said(text) == [
        ("恋", "「早上好」"),
        (None, "【第三章】"),
        ("森罗", "「嗯」"),
        (None, "天亮了。"),
    ]


def test_english_backquotes_and_inline_codes() -> None:
    assert said(ENGLISH) == [
        (None, "\"I'll make the ending just a little stylish... there. I'm done!\""),
        (None, "It was late."),
        (None, "Well, I suppose it was worth it."),
    ]


def test_no_command_nor_comment_is_said() -> None:
    for text in (BRACKETED, TAGGED, MSGNAME, ENGLISH):
        for speaker, words in said(text):
            assert not any(c in words for c in ('"image', "dwave", "csp", "goto", "\\", "@"))
            assert speaker is None or speaker.isascii() is False


def test_a_scene_marker_in_a_text_line() -> None:
    marker = compile_markers([r"第[一二三]章"])
    text = "*start\n第一章\\\n【恋】「走吧」\\\n第二章\\\n【恋】「嗯」\\\n"
    utterances = parse(text, "0.txt", "onscripter", ParseOptions(scene_marker=marker))
    assert [(u.text, u.scene) for u in utterances] == [("「走吧」", "2"), ("「嗯」", "3")]


@pytest.mark.parametrize("text", [BRACKETED, TAGGED, ENGLISH])
def test_detected_from_the_lines_whatever_the_name(text: str) -> None:
    assert detect_format(text, "script.txt") == "onscripter"


def test_labels_without_define_are_no_longer_kirikiri() -> None:
    body = "".join(
        f'*scene{n}\ndwave 0,"v{n}.ogg"\nbg "b{n}.jpg",2\n【恋】「第{n}句」\\\n' for n in range(4)
    )
    fmt, why = detect_format_why(body, "scenario.txt")
    assert fmt == "onscripter", why
    assert "text lines ending in" in why


def test_kag_with_labels_stays_kirikiri() -> None:
    assert detect_format(KAG, "scenario.txt") == "kirikiri"


def test_a_script_name_needs_only_one_sign() -> None:
    assert detect_format(MSGNAME, "0.txt") == "onscripter"
    assert detect_format(MSGNAME, "00.txt") == "onscripter"
    assert detect_format("今天天气真好。\n", "0.txt") == "plain"  # no sign at all


def test_nscript_is_found_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "nscript.___").write_text(MSGNAME, encoding="utf-8")
    (tmp_path / "arc.nsa").write_bytes(b"\0\1")
    assert collect_scripts([tmp_path]) == [tmp_path / "nscript.___"]
    assert detect_format(MSGNAME, "nscript.___") == "onscripter"


# Two layouts in one port, each line a lead's line and the character's answer.
PORT = """\
*define
pretextgosub *pretext
game
*start
msgName "森罗"
「早上好，恋」\\
msgName "恋"
voplay "ren-A01-0011"
「早上好」\\
csp 5:csp 6:facereset
[1|【森　罗】|]「今天是平日吗！？」\\
nend
[1|【　恋　】|ren-A01-0013]「今天休息哦」\\
nend
"""


def test_nscript_dat_is_read_decrypted(tmp_path: Path) -> None:
    # NScripter's nscript.dat: the script with every byte XOR 0x84.
    (tmp_path / "nscript.dat").write_bytes(bytes(b ^ 0x84 for b in MSGNAME.encode("gb18030")))
    assert collect_scripts([tmp_path]) == [tmp_path / "nscript.dat"]
    text = read_script(tmp_path / "nscript.dat").text
    assert detect_format(text, "nscript.dat") == "onscripter"
    assert said(text)[0] == ("恋", "「快起来，森罗」")


def test_an_encrypted_nscript_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "nscript.___").write_bytes(bytes(range(7, 250)) * 40)
    with pytest.raises(DataprepError, match="encrypted script"):
        read_script(tmp_path / "nscript.___")


def test_atri_prep_on_a_gb18030_port(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[dataprep]\neval_ratio = 0\nuser_placeholder = false\nlead_aliases = ["森罗"]\n'
        'character_aliases = ["恋"]\n',
        encoding="utf-8",
    )
    game = tmp_path / "game"
    game.mkdir()
    (game / "0.txt").write_bytes(PORT.encode("gb18030"))
    out = tmp_path / "out"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(game), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "onscripter" in result.output
    (written,) = out.glob("*_sharegpt.json")
    pairs = [
        (c["conversations"][-2]["value"], c["conversations"][-1]["value"])
        for c in json.loads(written.read_text("utf-8"))
    ]
    assert pairs == [("早上好，恋", "早上好"), ("今天是平日吗！？", "今天休息哦")]
    assert not any("csp" in p or "voplay" in p or "ren-" in p for pair in pairs for p in pair)


def test_a_script_with_no_text_says_so(tmp_path: Path) -> None:
    text = '*define\ngame\n*start\nbg "a.jpg",2\nwait 100\n'
    report = FileReport(str(tmp_path / "0.txt"))
    script = LoadedScript(path=tmp_path / "0.txt", text=text, fmt="onscripter", report=report)
    message, _ = no_dialogue(script, ParseOptions())
    assert "no dialogue found as onscripter" in message
