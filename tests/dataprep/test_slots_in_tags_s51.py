"""Session 51: a `{slot}` among an inline tag's arguments (Naninovel's `[char b.Name
pos:{pos} wait:false]`, which cleaning deletes) no longer drops the line as an
unresolved variable; a slot in the words still does."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import run_pipeline

SCRIPT = (
    "k: Whoa, what's going on?!\n"
    "n: Easy, right?[i][char b.Name transition:Ripple time:1 pos:{pos} wait:false] Just add its name.\n"
    "k: And then?\n"
    "n: Then {rival} comes.\n"
)


def test_a_slot_inside_a_deleted_tag_keeps_the_line(tmp_path: Path) -> None:
    script = tmp_path / "demo.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["k"], character_aliases=["n"])
    result = run_pipeline(settings, [script])
    assert [s.reply for s in result.train + result.evaluation] == [
        "Easy, right? Just add its name."
    ]
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1  # {rival}
