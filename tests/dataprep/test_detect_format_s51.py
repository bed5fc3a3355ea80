"""Session 51: auto-detection takes no Naninovel script nor English prose for KiriKiri
(both lost every line), and a run says which format its lines made it read a file in,
with --format plain suggested where plain reads far more spoken lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import detect_format, detect_format_why
from dataprep.pipeline import run_pipeline

# Shortened from Naninovel's demo script (naninovel/samples, Main.nani).
NANI = (
    "@printer Wide\n@bgm Wind fade:1 wait:false\n@back Desert time:1\n@wait 1\n"
    "@char n pos:75,-100 time:0\n@sfx Paper\n@char n look:left pos:35,-80\n"
    "n: Oh, hey there!\n# Hello\n@stopBgm fade:5\n"
    "k: Whoa, what's going on?! Where am I?\n"
    '@choice "Hello World!" goto:.Hello\n'
)
# Shortened from an English prose dump (07th-mod/umineko-hane-ons textdump).
PROSE = (
    "*rumble, rumble*\n\n*boom*\n\n*giggle, giggle*\n\n"
    "#ff0000The electric fan stopped!#ffffff\nDoesn't work!\n\n"
    'Jessica: "Why?!"\nBattler: "Run!"\n'
)


@pytest.mark.parametrize(("text", "name"), [(NANI, "Main.txt"), (PROSE, "dump.txt")])
def test_naninovel_commands_and_prose_asterisks_are_no_kag_signs(text: str, name: str) -> None:
    assert detect_format(text, name) == "plain"


@pytest.mark.parametrize(
    "text",
    [
        '[nm t="夏生"]おはよう[p]\n@bg storage=umi time:1\n*start\n',  # keyed, beside tags
        "@夏生\nおはよう。\n@アトリ\nおはようございます！\n@夏生\nああ。\n",  # no arguments
        "*start\n*scene1|海辺\n#夏生\nおはよう\n",  # whole-line labels, name lines
    ],
)
def test_kag_scripts_are_still_told_from_their_lines(text: str) -> None:
    assert detect_format(text, "scene.txt") == "kirikiri"


def test_the_reason_names_the_signs_seen() -> None:
    fmt, why = detect_format_why("*start\n*scene1|海辺\n#夏生\nおはよう\n", "scene.txt")
    assert fmt == "kirikiri"
    assert "2 *label lines" in why and "1 #name lines" in why
    assert detect_format_why("x", "a.ks") == ("kirikiri", "from the name")


def _notes(tmp_path: Path, text: str, name: str = "dump.txt", **chosen: str) -> list[str]:
    script = tmp_path / name
    script.write_text(text, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Battler"], character_aliases=["Jessica"], **chosen)
    return run_pipeline(settings, [script]).notes


# A prose dump with whole-line `*label`s: still KiriKiri by its signs, but plain reads it.
LABELLED = "*part1\n*part2\n*part3\n" + 'Battler: "Run!"\nJessica: "Why?!"\n' * 30


def test_a_run_says_which_format_the_lines_made_it_read_and_suggests_plain(
    tmp_path: Path,
) -> None:
    said = [n for n in _notes(tmp_path, LABELLED) if n.startswith("Read as kirikiri")]
    assert len(said) == 1
    assert "3 *label lines" in said[0] and "dump.txt" in said[0]
    assert "give 60 spoken lines, as kirikiri 0" in said[0] and "try --format plain" in said[0]


def test_nothing_is_said_of_a_format_chosen_or_given_by_the_name(tmp_path: Path) -> None:
    assert not any("Read as kirikiri" in n for n in _notes(tmp_path, LABELLED, format="kirikiri"))
    assert not any("Read as" in n for n in _notes(tmp_path, LABELLED, name="scene.ks"))
    kag = '[nm t="Jessica"]Why?[p]\n[nm t="Battler"]Run![p]\n' * 20
    said = " ".join(_notes(tmp_path, kag))
    assert "Read as kirikiri, from what their lines look like" in said
    assert "--format plain" not in said
