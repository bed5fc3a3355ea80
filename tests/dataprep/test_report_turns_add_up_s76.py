"""`atri prep`'s turns row accounts for every line of hers, and its speakers table gives
no spelling the lines of another that matched a different side: both through the real
pipeline, on a script written here."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep.cli import run_prep
from dataprep.pipeline import prepare

SYSTEM = "你是亚托莉，一个高性能的仿生机器人。"

# Ten lines of hers: three in a row (two joined to the first), a sound between two of
# hers (one joined), two after a third party's line (no lead before them: dropped), and
# two in a row after the lead again (one joined). 10 in = 3 samples + 4 joined + 3 dropped.
SCRIPT = """\
夏生：早上好。
亚托莉：早上好，夏生先生！
亚托莉：今天天气真好呢。
亚托莉：我们去海边吧。
夏生：好啊。
亚托莉：太好了！我去准备便当。
亚托莉：嗯……
亚托莉：您想吃什么呢？
龙司：喂，夏生！
亚托莉：龙司先生好。
亚托莉：今天也很有精神呢。
夏生：走吧。
亚托莉：是的，出发吧！
亚托莉：我是高性能的嘛！
"""

# `Atri says` is hers (a speech verb after an alias); `Atri Says`, capitalised, is a name.
SAYS = """\
Natsuki: Good morning.
Atri Says: Good morning, Natsuki!
Natsuki: What are you doing?
Atri Says: Making breakfast for you.
Natsuki: Thanks.
Atri Says: You're welcome!
Natsuki: Is it ready?
Atri says: Almost ready, just a moment.
Natsuki: Great.
Atri: I am high-performance, after all!
"""


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "script.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_turns_stage_counts_the_lines_joined_into_replies(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = prepare(DataprepSettings(), [_script(tmp_path, SCRIPT)], out, system_prompt=SYSTEM)
    stats = json.loads((out / "atri_stats.json").read_text(encoding="utf-8"))
    stages = {s["stage"]: s for s in stats["stages"]}
    turns = stages["turns"]
    assert (turns["count_in"], turns["count_out"]) == (10, 3)
    assert turns["dropped"] == {"interjection_only": 1, "no_lead_before": 2}
    # Before: 10 in, 3 out and 3 dropped; the 4 lines in replies with her line before
    # them were named nowhere, and read as lost.
    assert turns["joined"] == 4
    assert turns["count_in"] == turns["count_out"] + turns["joined"] + sum(
        turns["dropped"].values()
    )
    # What the samples hold: every line of a reply past its first was joined.
    samples = result.train + result.evaluation
    assert stages["filter"]["count_out"] == len(samples) == 3
    assert turns["joined"] == sum(len(s.reply_lines) - 1 for s in samples)
    # Joined lines are kept, not lost: no reason under "dropped" counts them.
    assert "joined" not in stats["character_lines"]["dropped"]
    assert stats["character_lines"]["kept"] == 7
    assert all(s["joined"] == 0 for s in stats["stages"] if s["stage"] != "turns")


def test_printed_turns_row_names_the_joined_lines(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    script = _script(tmp_path, SCRIPT)
    assert run_prep(Settings(root=tmp_path), [script], tmp_path / "out", None, SYSTEM, console) == 0
    row = next(line for line in console.export_text().splitlines() if "│ turns" in line)
    assert "ATRI lines → samples (4 joined into replies)" in row
    assert "interjection_only = 1, no_lead_before = 2" in row


def test_speakers_table_keeps_apart_spellings_that_matched_different_sides(
    tmp_path: Path,
) -> None:
    console = Console(record=True, width=200)
    script = _script(tmp_path, SAYS)
    assert run_prep(Settings(root=tmp_path), [script], tmp_path / "out", None, SYSTEM, console) == 0
    stats = json.loads((tmp_path / "out" / "atri_stats.json").read_text(encoding="utf-8"))
    speakers = {(s["name"], s["role"]): s["lines"] for s in stats["speakers"]}
    # Before: one row `Atri Says` of 4 lines, matched nothing, though 1 of them was hers
    # (the speakers stage counted 3 other speakers' lines).
    assert speakers == {
        ("Natsuki", "lead"): 5,
        ("Atri Says", "other"): 3,
        ("Atri says", "character"): 1,
        ("Atri", "character"): 1,
    }
    table = console.export_text()
    assert "│ Atri Says │     3 │" in table
    assert "│ Atri says │     1 │ character │" in table
