"""Session 75: narration that gives someone's words (a quote in it, or her name with a
speech verb) ended no exchange: the lead's lines on either side of it were joined into one
prompt, as if she had said nothing in between, and her reply seemed to answer both. Now it
ends the exchange as a third party's line does; narration without anyone's words still
ends nothing (and, with `narration = "stage"`, still leads the next line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dataprep.test_fan_scripts_s74 import _exchanges, _prep, _prompts

QUOTING_HER = """\
夏生：你是谁？
她歪着头说「我是亚托莉」，然后跑开了。
夏生：喂，等等！
亚托莉：我是高性能的机器人！
"""
# The same exchange with narration that quotes nobody: his lines are one turn, as before.
PLAIN_NARRATION = """\
夏生：你会做饭吗？
她没有回答，转身走进了厨房。
夏生：喂，说话啊！
亚托莉：请稍等，马上就好！
"""


def _stage(out: Path, name: str) -> dict[str, object]:
    stats = json.loads((out / "atri_stats.json").read_text(encoding="utf-8"))
    (stage,) = [s for s in stats["stages"] if s["stage"] == name]
    return stage


def test_narration_quoting_her_ends_the_exchange_plain_narration_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(
        tmp_path, monkeypatch, {"quote.txt": QUOTING_HER, "plain.txt": PLAIN_NARRATION}
    )
    assert code == 0, said
    # She answered his first line in the narration: it is no prompt of hers now, nor
    # history (the lead's line she did not answer in the samples gives none).
    assert [("human", "喂，等等！"), ("gpt", "我是高性能的机器人！")] in _exchanges(out)
    assert not any("你是谁" in p for p in _prompts(out))
    assert "你会做饭吗？\n喂，说话啊！" in _prompts(out)
    assert len(_exchanges(out)) == 2
    # The narration is counted as narration still, and cleaning drops nothing for it.
    speakers = _stage(out, "speakers")
    assert speakers["dropped"] == {"narration": 2}
    clean = _stage(out, "clean text")
    assert clean["count_in"] == clean["count_out"] == 6


def test_her_name_with_a_speech_verb_ends_it_an_apology_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said_something = (
        "夏生：你在嘀咕什么？\n亚托莉小声说了句什么，低下了头。\n夏生：大声点！\n亚托莉：没什么！\n"
    )
    # 道 of 道歉 (apologise) is no speech verb: his lines are one turn.
    apologised = "夏生：盘子呢？\n亚托莉道歉了，低下了头。\n夏生：又打碎了？\n亚托莉：对不起！\n"
    japanese = "夏生：誰だ？\nアトリは言った、自分はロボットだと。\n夏生：おい！\nアトリ：高性能ですから！\n"
    code, said, out = _prep(
        tmp_path,
        monkeypatch,
        {"said.txt": said_something, "sorry.txt": apologised, "ja.txt": japanese},
    )
    assert code == 0, said
    prompts = _prompts(out)
    assert "大声点！" in prompts and "おい！" in prompts
    assert not any("你在嘀咕" in p or "誰だ" in p for p in prompts)
    assert "盘子呢？\n又打碎了？" in prompts


ENGLISH = """\
Natsuki: Who are you?
She tilted her head. "I'm Atri," she said, and ran off.
Natsuki: Hey, wait!
Atri: I'm a high-performance robot!

Natsuki: Can you cook?
Atri said nothing and walked into the kitchen.
Natsuki: Hello?
Atri: Just a moment!
"""


def test_english_narration_with_her_words_ends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"english.txt": ENGLISH})
    assert code == 0, said
    assert _prompts(out) == {"Hey, wait!", "Hello?"}


STAGED = """\
夏生：你是谁？
她笑着说「我是亚托莉」。
夏生：喂，等等！
亚托莉：我是高性能的机器人！
夏生：会做饭吗？
她点了点头。
夏生：真的？
亚托莉：当然！
"""


def test_with_stage_directions_her_words_are_no_direction_and_end_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"staged.txt": STAGED}, 'narration = "stage"\n')
    assert code == 0, said
    (first, second) = _exchanges(out)
    assert first == [("human", "喂，等等！"), ("gpt", "我是高性能的机器人！")]
    # Narration without her words leads his next line as before, in the same exchange.
    assert second[-2:] == [("human", "会做饭吗？\n（她点了点头。）真的？"), ("gpt", "当然！")]
