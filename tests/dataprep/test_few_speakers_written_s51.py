"""A run that wrote a few samples from a file whose lines hardly ever name a speaker says
so too, not only a run that wrote nothing (dataprep/README.md: "A run whose lines hardly
ever name a speaker says so and points there")."""

from __future__ import annotations

from pathlib import Path

from tests.dataprep.test_custom_regex_s50 import prep


def test_a_run_that_wrote_samples_from_unnamed_lines_points_at_custom_regex(
    tmp_path: Path,
) -> None:
    script = tmp_path / "narr.txt"
    lines = ["The sea was calm today and the town slept."] * 300
    lines += ["Atri: Good morning!", "Natsuki: Hi.", "Atri: I am high-performance!"]
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, said = prep(tmp_path, script, lead_aliases=["Natsuki"], character_aliases=["Atri"])
    said = " ".join(said.split())
    assert code == 0, said
    assert "Only 3 of the 303 lines read named a speaker" in said
    assert "[dataprep] custom_regex can read" in said


def test_a_run_whose_lines_name_their_speakers_has_no_such_note(tmp_path: Path) -> None:
    script = tmp_path / "talk.txt"
    script.write_text("".join(f"Natsuki: Line {i}.\nAtri: Reply {i}.\n" for i in range(60)))
    code, said = prep(tmp_path, script, lead_aliases=["Natsuki"], character_aliases=["Atri"])
    assert code == 0, said
    assert "named a speaker" not in said
