"""The note on variables with no single value cuts each value short: a real Russian game
set its name variables to whole sentences, which filled the screen of an English run."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import run_pipeline

LONG = "Очень длинное значение переменной, целое предложение из игры, и ещё немного"


def test_long_values_are_cut_and_many_are_counted(tmp_path: Path) -> None:
    script = tmp_path / "a.rpy"
    values = "".join(f'    $ mood = "{LONG} {i}"\n' for i in range(5))
    script.write_text(
        'define e = Character("Eileen")\ndefine m = Character("Max")\n'
        f'label start:\n{values}    m "Hi."\n    e "I feel [mood]."\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    notes = run_pipeline(settings, [script]).notes
    note = next(n for n in notes if "no single known value" in n)
    assert LONG not in note
    assert '[mood] in 1 line (given "Очень длинное значение переме…" and' in note
    assert note.count("…") == 3 and "and 2 more" in note
