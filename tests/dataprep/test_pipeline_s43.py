"""`PrepResult.errors` and `PrepResult.without_dialogue` both need the files that hold no
dialogue (`quiet_files`): each worked them out anew, going over every file's report
twice for what one pass tells."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep import pipeline
from dataprep.report import quiet_files
from dataprep.stats import FileReport


def test_the_quiet_files_are_found_once_for_errors_and_the_quiet_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = tmp_path / "game"
    game.mkdir()
    (game / "script.rpy").write_text(
        'define e = Character("Eileen")\ndefine m = Character("Max")\nlabel start:\n'
        '    m "Good morning, Eileen."\n    e "Good morning!"\n',
        encoding="utf-8",
    )
    (game / "options.rpy").write_text('define config.name = _("A Game")\n', encoding="utf-8")
    (game / "notes.rpy").write_bytes(b"")
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = pipeline.run_pipeline(settings, sorted(game.iterdir()))
    calls: list[int] = []

    def counted(files: list[FileReport]) -> list[FileReport]:
        calls.append(len(files))
        return quiet_files(files)

    monkeypatch.setattr(pipeline, "quiet_files", counted)
    empty = [f"{game / 'notes.rpy'}: the file is empty; expected a game script."]
    assert result.errors == empty
    assert result.without_dialogue == "1 .rpy file holds no dialogue (options.rpy)."
    assert result.errors == empty
    assert calls == [3]
