"""Naninovel `.nani` scripts (Unity): `@commands`, `; comments` and `# labels` are never
said; `Author: text` and `Author.Appearance: text` are the author's; any other line is
narration. Inline commands (`[i]`, `[br]`, `[char k pos:40]`) are deleted, the words kept.
Before, a .nani file in a folder was not found, and one named was read as a plain dump."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, compile_markers, detect_format, parse
from dataprep.formats.common import UNRESOLVED_VARIABLE
from dataprep.pipeline import run_pipeline
from dataprep.sources import collect_scripts

SCRIPT = """\
@back Beach time:1
@char Kohaku.Happy pos:30 wait:false
; Kohaku: this comment is never said
The waves roll in.
Yuki: Morning, Kohaku.[i] Sleep well?
Kohaku.Happy: Morning, Yuki![i][char Kohaku.Default pos:40 wait:false] I slept[br]like a log.
@choice "Yuki: Let's go." goto:.Walk
@stop

# Walk
Yuki: Shall we walk to the pier?
Kohaku: Yes, [wait 0.5]let's go!
Kohaku: The sea is {Random(1, 3)} times bluer today.
"""


def lines(text: str = SCRIPT, **options: object) -> list[tuple[str | None, str, str]]:
    said = parse(text, "a.nani", "naninovel", ParseOptions(**options))  # type: ignore[arg-type]
    return [(u.speaker, u.text, u.scene) for u in said]


def test_speakers_narration_and_labels() -> None:
    assert lines()[:5] == [
        (None, "The waves roll in.", "0"),
        ("Yuki", "Morning, Kohaku. Sleep well?", "0"),
        ("Kohaku", "Morning, Yuki! I slept like a log.", "0"),
        ("Yuki", "Shall we walk to the pier?", "1"),
        ("Kohaku", "Yes, let's go!", "1"),
    ]


def test_commands_and_comments_are_never_speakers_nor_text() -> None:
    said = lines()
    speakers = {s for s, _, _ in said}
    assert speakers == {None, "Yuki", "Kohaku"}
    assert not any("@" in t or "goto" in t or "comment" in t or "[" in t for _, t, _ in said)


def test_an_expression_is_an_unresolved_variable() -> None:
    said = parse(SCRIPT, "a.nani", "naninovel", ParseOptions())
    assert [u.dropped for u in said] == [None] * 5 + [UNRESOLVED_VARIABLE]


def test_escapes_and_a_scene_marker() -> None:
    text = "Chapter 2\nYuki: Two \\[brackets\\] and a colon\\: here.\nNote:no space, narration\n"
    marker = compile_markers([r"(?i:chapter)\s*\d+"])
    assert lines(text, scene_marker=marker) == [
        ("Yuki", "Two [brackets] and a colon: here.", "1"),
        (None, "Note:no space, narration", "1"),
    ]


def test_detected_by_extension_and_found_in_a_folder(tmp_path: Path) -> None:
    assert detect_format("Yuki: hi\n", "Intro.nani") == "naninovel"
    (tmp_path / "Intro.nani").write_text(SCRIPT, encoding="utf-8")
    assert collect_scripts([tmp_path]) == [tmp_path / "Intro.nani"]


def test_aliases_pick_the_lead_and_the_character(tmp_path: Path) -> None:
    (tmp_path / "Intro.nani").write_text(SCRIPT, encoding="utf-8")
    settings = DataprepSettings(
        lead_aliases=["Yuki"], character_aliases=["Kohaku"], eval_ratio=0, user_placeholder=False
    )
    result = run_pipeline(settings, [tmp_path])
    assert [(s.prompt, s.reply) for s in result.train] == [
        ("Morning, Kohaku. Sleep well?", "Morning, Yuki! I slept like a log."),
        ("Shall we walk to the pier?", "Yes, let's go!"),
    ]


def test_atri_prep_on_a_folder_writes_samples(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[dataprep]\neval_ratio = 0\nuser_placeholder = false\nlead_aliases = ["Yuki"]\n'
        'character_aliases = ["Kohaku"]\n',
        encoding="utf-8",
    )
    scripts = tmp_path / "Scripts"
    scripts.mkdir()
    (scripts / "Intro.nani").write_text(SCRIPT, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(scripts), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = json.loads((out / "kohaku_sharegpt.json").read_text("utf-8"))
    assert [c["conversations"][-1]["value"] for c in written] == [
        "Morning, Yuki! I slept like a log.",
        "Yes, let's go!",
    ]
