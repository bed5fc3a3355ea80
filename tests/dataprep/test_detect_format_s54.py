"""Session 54: a `[0x…]` translation dump saved as `.ks` (a tool's export keeping the
script's name) was read as a KAG script, from its name: one glued line of narration, or
a speaker or two. A file named `.ks`, `.bkscr`, `.rpy` or `.nani` whose lines are mostly
a dump's marked lines is read as a dump, and the run names it in its detection note."""

from __future__ import annotations

import shutil
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, detect_format_why
from dataprep.loaded_scripts import LoadedScript
from dataprep.no_dialogue import no_dialogue
from dataprep.pipeline import run_pipeline
from dataprep.stats import FileReport
from tests.dataprep.conftest import FIXTURES

S54 = FIXTURES / "s54"


def test_a_bracketed_dump_named_ks_is_read_as_a_dump() -> None:
    text = (S54 / "01_bracketed.ks").read_text("utf-8")
    fmt, why = detect_format_why(text, "01_bracketed.ks")
    assert fmt == "translation_dump"
    assert why == "its lines are [0x…] / ;[0x…] pairs, not kirikiri as its name says"
    # A KAG script beside it is still one, from its name.
    script = (S54 / "02_script.ks").read_text("utf-8")
    assert detect_format_why(script, "02_script.ks") == ("kirikiri", "from the name")
    # The `○N○` layout too, and under the other names that give a format.
    marked = "○000001○アトリ「おはよう」\n●000001●亚托莉「早上好」\n" * 3
    for name, fmt in (("a.ks", "kirikiri"), ("a.rpy", "renpy"), ("a.nani", "naninovel")):
        assert detect_format_why(marked, name) == (
            "translation_dump",
            f"its lines are ○number○ / ●number● pairs, not {fmt} as its name says",
        )
    # A KAG script with a few bracketed comments stays a KAG script.
    kag = "; [0x00000010] の修正\n" + script
    assert detect_format_why(kag, "a.ks") == ("kirikiri", "from the name")


def test_a_run_reads_the_ks_dump_beside_a_kag_script_and_says_why(tmp_path: Path) -> None:
    for name in ("01_bracketed.ks", "02_script.ks"):
        shutil.copy(S54 / name, tmp_path / name)
    settings = DataprepSettings(lead_aliases=["柊史"], character_aliases=["宁宁", "寧々"])
    result = run_pipeline(settings, [tmp_path])
    formats = {Path(f.path).name: (f.format, f.error) for f in result.files}
    assert formats == {
        "01_bracketed.ks": ("translation_dump", None),
        "02_script.ks": ("kirikiri", None),
    }
    samples = [(s.prompt, s.reply) for s in result.train + result.evaluation]
    assert ("早上好", "早上好，保科君") in samples  # the dump's translated side
    assert ("おはよう", "おはようございます") in samples  # the KAG script's
    note = [n for n in result.notes if n.startswith("Read as translation_dump")]
    assert note == [
        "Read as translation_dump, from what their lines look like (its lines are [0x…] /"
        " ;[0x…] pairs, not kirikiri as its name says): 01_bracketed.ks."
    ]


def test_a_ks_dump_forced_as_kirikiri_is_told_to_be_read_as_a_dump(tmp_path: Path) -> None:
    # --format kirikiri: the file has no dialogue, and the sentence names the format
    # that reads it and the layout it expects, as for any other file.
    shutil.copy(S54 / "01_bracketed.ks", tmp_path / "01_bracketed.ks")
    plain_ks = tmp_path / "01_bracketed.ks"
    result = run_pipeline(DataprepSettings(format="kirikiri"), [plain_ks])
    (report,) = result.files
    assert report.error is not None
    assert "no dialogue found as kirikiri" in report.error
    assert "It reads as translation_dump (" in report.error
    assert report.error.endswith(": try --format translation_dump.")


def test_the_no_dialogue_sentence_for_a_dump_names_both_layouts(tmp_path: Path) -> None:
    path = tmp_path / "empty_dump.txt"
    script = LoadedScript(path, "○000001○\n●000001●\n", "translation_dump", FileReport(str(path)))
    said, _ = no_dialogue(script, ParseOptions())
    assert "expected pairs of lines like ○000012○原文 and ●000012●译文," in said
    assert "or [0x…]原文 and ;[0x…]译文" in said
