"""Session 76: speaker shapes `atri prep` still missed. An adverb beside an English speech
verb (`Atri said softly, "…"`, `Atri softly said:`, `"…," Atri said quietly.`) made her
line narration or another speaker's; a `.srt` in a folder given was not read at all; and
`＃アトリ「…」` on one line was said by a speaker "＃アトリ"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataprep.records import Role
from dataprep.speakers import SpeakerMap
from tests.dataprep.test_fan_scripts_s74 import _exchanges, _prep, _thoughts_left_out


def _said_by(out: Path, who: str) -> set[str]:
    return {value for sample in _exchanges(out) for side, value in sample if side == who}


def _speakers(out: Path) -> dict[str, str]:
    stats = json.loads((out / "atri_stats.json").read_text(encoding="utf-8"))
    return {s["name"]: s["role"] for s in stats["speakers"]}


NOVEL = """\
Natsuki: Who are you?
Atri said softly, "I'm a high-performance robot!"
Natsuki: Can you cook?
Atri softly said: "Of course I can!"
Natsuki quietly thought: Is she for real...
Natsuki: Prove it, then.
"Please wait a moment," Atri said quietly.
"What are you making?" Natsuki asked.
Atri said proudly "Crab!"
Natsuki: Crab again?
"Crab is the best," Atri said.
"""


def test_an_adverb_beside_her_speech_verb_keeps_the_line_hers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"novel.txt": NOVEL})
    assert code == 0, said
    # Each of her lines answers his line before it (the thought between is left out).
    assert [sample[-2:] for sample in _exchanges(out)] == [
        [("human", "Who are you?"), ("gpt", "I'm a high-performance robot!")],
        [("human", "Can you cook?"), ("gpt", "Of course I can!")],
        # The comma that led into "Atri said" ends her sentence.
        [("human", "Prove it, then."), ("gpt", "Please wait a moment.")],
        [("human", "What are you making?"), ("gpt", "Crab!")],
        [("human", "Crab again?"), ("gpt", "Crab is the best.")],
    ]
    assert _thoughts_left_out(out) == 1  # `Natsuki quietly thought:`
    roles = _speakers(out)
    assert roles["Atri said softly"] == roles["Atri softly said"] == "character"
    assert roles["Atri said quietly"] == roles["Atri said proudly"] == "character"
    assert roles["Natsuki asked"] == roles["Natsuki quietly thought"] == "lead"


TO_HERSELF = """\
Natsuki: Good morning.
Atri: Good morning!
Natsuki: Who are you?
Atri said nothing.
Natsuki: Hello?
Atri said to herself, "Crab is the best."
Natsuki: Are you listening?
Atri said to herself: I should cook.
Natsuki: Well?
Atri softly said something.
Natsuki: What?
Atri: I'm a robot!
"""


def test_what_she_says_to_no_one_or_says_nothing_ends_the_exchange_and_is_no_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Atri said nothing`, words she says to herself and `Atri softly said something`
    answer none of his lines: each ends the exchange (no reply of hers, none of his lines
    joined across it), and `Atri said to herself` is no name of hers."""
    code, said, out = _prep(tmp_path, monkeypatch, {"novel.txt": TO_HERSELF})
    assert code == 0, said
    assert _exchanges(out) == [
        [("human", "Good morning."), ("gpt", "Good morning!")],
        [("human", "What?"), ("gpt", "I'm a robot!")],
    ]
    assert _speakers(out)["Atri said to herself"] == "other"


@pytest.mark.parametrize(
    ("label", "role", "thinks"),
    [
        ("Atri softly said", Role.CHARACTER, False),
        ("Atri said softly", Role.CHARACTER, False),
        ("Atri only asked", Role.CHARACTER, False),
        ("Natsuki silently wondered", Role.LEAD, True),
        ("Natsuki thought quietly", Role.LEAD, True),
        ("Atri said", Role.CHARACTER, False),
        # Not hers: a word that is no adverb, two adverbs, a capital, another name.
        ("Atri said nothing", Role.OTHER, False),
        ("Atri said to herself", Role.OTHER, False),
        ("Atri always quietly said", Role.OTHER, False),
        ("Atri Softly Said", Role.OTHER, False),
        ("Simon quietly says", Role.OTHER, False),
    ],
)
def test_an_alias_with_one_adverb_and_a_verb_is_the_alias(
    label: str, role: Role, thinks: bool
) -> None:
    speakers = SpeakerMap.from_aliases(["Natsuki"], ["Atri"])
    assert speakers.role(label) is role
    assert speakers.thinks(label) is thinks


def _subtitles(texts: list[str]) -> str:
    cues = [
        f"{i}\n00:00:{i:02d},100 --> 00:00:{i:02d},900\n{text}\n" for i, text in enumerate(texts, 1)
    ]
    return "\n".join(cues)


def test_a_subtitle_file_in_a_folder_is_read_and_other_files_are_still_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srt = _subtitles(["Natsuki: Who are you?", "Atri: I'm a high-performance robot!"])
    files: dict[str, str | bytes] = {
        "ep01.srt": srt,
        "cover.png": b"\x89PNG\r\n\x1a\n",
        "notes.md": "Natsuki: This is no script.\nAtri: Nor this.\n",
    }
    code, said, out = _prep(tmp_path, monkeypatch, files)
    assert code == 0, said
    assert _exchanges(out) == [
        [("human", "Who are you?"), ("gpt", "I'm a high-performance robot!")]
    ]
    assert "This is no script." not in json.dumps(_exchanges(out))


def test_a_folder_of_no_script_kind_still_says_which_files_it_wanted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {"notes.md": "Atri: hi\n", "cover.png": b"\x89PNG\r\n"}
    code, said, out = _prep(tmp_path, monkeypatch, files)
    assert code == 1
    assert "No script files found in scripts; expected .ast," in said
    assert ".rpy, .scn, .srt, .tsv, .txt or .vtt files" in said
    assert not out.exists()


SHARP_ON_ONE_LINE = """\
＃夏生「お前は誰だ？」
＃アトリ「私は高性能なロボットですから！」
#夏生「料理はできるのか？」
#アトリ「もちろんです！」
＃夏生
「本当か？」
＃アトリ
「はい！」
「カニを茹でますね」
"""


def test_a_sharp_name_with_its_quote_on_the_same_line_is_that_speakers_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"dump.txt": SHARP_ON_ONE_LINE})
    assert code == 0, said
    assert _exchanges(out)[-1] == [
        ("human", "お前は誰だ？"),
        ("gpt", "私は高性能なロボットですから！"),
        ("human", "料理はできるのか？"),
        ("gpt", "もちろんです！"),
        ("human", "本当か？"),
        ("gpt", "はい！\nカニを茹でますね"),
    ]
    assert set(_speakers(out)) == {"夏生", "アトリ"}


def test_a_cue_on_a_sharp_line_with_a_quote_names_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`#回想「…」` is a cue and a quote (narration that ends the exchange), not a line of
    a speaker "#回想"."""
    script = (
        "＃夏生「おはよう」\n＃アトリ「おはようございます！」\n"
        "#回想「あの日の海」\n＃夏生「そうだな」\n＃アトリ「海に行きましょう！」\n"
    )
    code, said, out = _prep(tmp_path, monkeypatch, {"day1.txt": script})
    assert code == 0, said
    assert _exchanges(out)[-1] == [("human", "そうだな"), ("gpt", "海に行きましょう！")]
    assert set(_speakers(out)) == {"夏生", "アトリ"}
