"""Session 75: fan-script shapes session 74 left. `Atri said: "…"` made a speaker "Atri said"
(and `Natsuki thought: …` a prompt); a `＃アトリ` line over her line named no one, and a
subtitle file was sent to --format webgal; a Ren'Py thought character's bare `(sigh)` was
trained as something the lead said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from tests.dataprep.test_fan_scripts_s74 import (
    RENPY_CHARACTERS,
    _exchanges,
    _prep,
    _thoughts_left_out,
)


def _said_by(out: Path, who: str) -> set[str]:
    return {value for sample in _exchanges(out) for side, value in sample if side == who}


def _stats(out: Path) -> dict:
    return json.loads((out / "atri_stats.json").read_text(encoding="utf-8"))


ENGLISH = """\
Natsuki: Who are you?
Atri said: "I'm a high-performance robot!"
Natsuki thought: Is she for real...
Natsuki: Can you cook?
Atri says: Of course I can!
Natsuki thinks: What will she even make.
Natsuki asked: Prove it, then.
Atri replied: "Please wait a moment!"
Natsuki: Well?
Atri whispered: "Crab, done."
Simon says: Jump!
Atri quietly said: Yes!
"""


def test_an_english_speech_verb_after_an_alias_is_its_line_and_a_thought_verb_his_thought(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"novel.txt": ENGLISH})
    assert code == 0, said
    replies = _said_by(out, "gpt")
    assert {
        "I'm a high-performance robot!",
        "Of course I can!",
        "Please wait a moment!",
        "Crab, done.",
    } <= replies
    prompts = _said_by(out, "human")
    assert "Prove it, then." in prompts and "Can you cook?" in prompts
    assert not any("for real" in p or "even make" in p for p in prompts)
    assert _thoughts_left_out(out) == 2
    # The speakers table and the stats say whose each name is, as the run matched it.
    roles = {s["name"]: s["role"] for s in _stats(out)["speakers"]}
    assert roles["Atri said"] == roles["Atri whispered"] == "character"
    assert roles["Natsuki thought"] == roles["Natsuki asked"] == "lead"
    # Only a verb right after an alias: `Simon says` is no alias's; one adverb in -ly
    # beside the verb keeps it hers (`Atri quietly said`, session 76).
    assert roles["Simon says"] == "other"
    assert roles["Atri quietly said"] == "character"
    assert "Yes!" not in replies


SHARP_DUMP = """\
＃夏生
「お前は誰だ？」
＃アトリ
「私は高性能なロボットですから！」
朝の光が差し込んでいた。
＃夏生
「料理はできるのか？」
＃アトリ
「もちろんです！」
「カニを茹でますね」
＃１
「誰の台詞でもない」
"""


def test_a_sharp_name_line_names_the_quoted_lines_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"dump.txt": SHARP_DUMP})
    assert code == 0, said
    assert _exchanges(out)[-1] == [
        ("human", "お前は誰だ？"),
        ("gpt", "私は高性能なロボットですから！"),
        ("human", "料理はできるのか？"),
        ("gpt", "もちろんです！\nカニを茹でますね"),
    ]
    speakers = {s["name"] for s in _stats(out)["speakers"]}
    assert speakers == {"夏生", "アトリ"}  # `＃１` names no one


def test_a_sharp_name_dump_whose_names_are_no_aliases_says_to_add_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dump = (
        "＃夏生\nお前は誰だ？\n＃アトリ\n私は高性能なロボットですから！\n"
        "＃夏生\n料理はできるのか？\n＃アトリ\nもちろんです！\n"
    )
    aliases = 'lead_aliases = ["Natsuki"]\ncharacter_aliases = ["Atri"]\n'
    code, said, out = _prep(tmp_path, monkeypatch, {"dump.txt": dump}, aliases)
    assert code == 1
    assert "dump.txt: no dialogue found as plain" in said
    assert "named on lines of their own (＃夏生, ＃アトリ)" in said
    assert "lead_aliases or character_aliases: add the names it writes there" in said
    assert not out.exists()


@pytest.mark.parametrize(
    ("below", "joined"),
    [("今日もいい天気だ。", True), ("「今日もいい天気ですね」", False)],
    ids=["narration", "a-quote-no-one-says"],
)
def test_a_cue_on_a_sharp_line_names_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, below: str, joined: bool
) -> None:
    """`#BGM`, `#回想` over a line are cues, as `BGM：` is, not speakers "BGM" or "回想"
    (the review of this session's first version). Narration below them ends nothing; a
    quote nobody is named for ends the exchange, as `？？？：` does."""
    script = (
        f"夏生「おはよう」\nアトリ「おはようございます！」\n#BGM\n#回想\n{below}\n"
        "夏生「そうだな」\nアトリ「海に行きましょう！」\n"
    )
    code, said, out = _prep(tmp_path, monkeypatch, {"day1.txt": script})
    assert code == 0, said
    last = [("human", "そうだな"), ("gpt", "海に行きましょう！")]
    earlier = [("human", "おはよう"), ("gpt", "おはようございます！")]
    assert _exchanges(out)[-1] == (earlier + last if joined else last)
    assert {s["name"] for s in _stats(out)["speakers"]} == {"夏生", "アトリ"}


def test_a_notes_file_of_headings_is_not_said_to_name_speakers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = "## Story notes\nThe robot wakes up.\n#Ideas\nA crab dinner.\n#Plot\nSummer.\n"
    code, said, _ = _prep(tmp_path, monkeypatch, {"notes.txt": notes})
    assert code == 1 and "no dialogue found" in said, said
    assert "named on lines of their own" not in said


def test_a_character_named_with_a_capitalised_verb_keeps_her_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Atri Says` is someone's name; only `Atri says` (the verb as prose writes it) is hers."""
    script = (
        "Natsuki: Who are you?\nAtri: I'm a robot!\nNatsuki: Who is that?\n"
        "Atri Says: I'm her copy.\nNatsuki: Really?\nAtri says: Of course!\n"
    )
    code, said, out = _prep(tmp_path, monkeypatch, {"novel.txt": script})
    assert code == 0, said
    assert "I'm her copy." not in _said_by(out, "gpt")
    assert "Of course!" in _said_by(out, "gpt")


def _subtitles(texts: list[str]) -> str:
    cues = [
        f"{i}\n00:00:{i:02d},100 --> 00:00:{i:02d},900\n{text}\n" for i, text in enumerate(texts, 1)
    ]
    return "\n".join(cues)


def test_subtitles_are_said_to_be_subtitles_not_webgal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srt = _subtitles(["おはようございます！", "お前は誰だ？", "ロボットです！"] * 4)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("[dataprep]\neval_ratio = 0\n", encoding="utf-8")
    (tmp_path / "ep01.srt").write_text(srt, encoding="utf-8")
    result = CliRunner().invoke(app, ["prep", "ep01.srt", "--out", "out"])
    said = " ".join(f"{result.stdout}\n{result.stderr}".split())
    assert result.exit_code == 1
    assert "ep01.srt: no dialogue found as plain" in said
    assert "It looks like subtitles (numbered cues under 00:01:02,345 --> 00:01:04,000" in said
    assert "--format regex with [dataprep] custom_regex" in said
    assert "--format webgal" not in said


RENPY_STORY = """\
label ch1:
    a "早上好，夏生先生！"
    n "你是谁？"
    a "我是高性能的机器人！"
    mc_think "(sigh)"
    n "会做饭吗？"
    a "当然会！"
    mc_think "嗯"
    n "那就拜托了。"
    a "包在我身上！"
    n "(nods)"
    a "交给我吧！"
    return
"""


def test_a_renpy_thought_characters_bare_action_is_his_thought_and_no_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(
        tmp_path,
        monkeypatch,
        {"game/characters.rpy": RENPY_CHARACTERS, "game/ch1.rpy": RENPY_STORY},
    )
    assert code == 0, said
    prompts = _said_by(out, "human")
    assert not any("sigh" in p or p == "（嗯）" for p in prompts)
    # Each is left out, not merged into his next line: that line starts his turn.
    assert {"会做饭吗？", "那就拜托了。"} <= prompts
    # His own short action, said as the lead, stays for her to answer.
    assert "(nods)" in prompts
    assert _thoughts_left_out(out) == 2
