"""Session 66 review: English (Latin-script) scripts. With narration = "stage" her turns
read '（She nodded.Her eyes sparkled.）Yes please!', '（(She stuffs her cheeks.)）…', the
lead's name left in the direction and a menu's `> …` choices taken as narration; a lead's
name shouted or typed in lower case ("NATSUKI!", "natsuki,") was kept; English sounds
("*sigh*", "Uhh...", "Ehehe~") were kept as replies where Japanese ones are dropped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.clean import interjections_only, is_interjection_only, placeholder_replacer
from dataprep.pipeline import run_pipeline
from dataprep.records import Utterance
from dataprep.speakers import SpeakerMap
from dataprep.turns import TurnRules, build_samples

STAGE_SCRIPT = """Chapter 1: Test

Natsuki: "Want some crab?"
She nodded.
Her eyes sparkled.
ATRI: "Yes please!"
Natsuki: "Here."
*ATRI grabs the plate*
ATRI: "Thank you, Natsuki!"
Natsuki: "Slow down."
(She stuffs her cheeks.)
ATRI: "Mmph! Delicious!"
Natsuki: "Full?"
She looked at Natsuki.
ATRI: "Yes!"

[Choice 1]
> Take her home
> Leave her at the shore

Natsuki: "Do you have anywhere to go?"
ATRI: "No. My owner left me."
"""


def _stage_samples(tmp_path: Path, text: str) -> list[list[str]]:
    script = tmp_path / "stage.txt"
    script.write_text(text, encoding="utf-8")
    settings = DataprepSettings(narration="stage", eval_ratio=0)
    return [[t for _, t in s.turns] for s in run_pipeline(settings, [script]).train]


def test_english_directions_read_as_english(tmp_path: Path) -> None:
    replies = [turns[-1] for turns in _stage_samples(tmp_path, STAGE_SCRIPT)]
    assert replies == [
        "(She nodded. Her eyes sparkled.) Yes please!",
        "(ATRI grabs the plate) Thank you, {{user}}!",
        "(She stuffs her cheeks.) Mmph! Delicious!",
        "(She looked at {{user}}.) Yes!",  # the lead's name in the direction too
        "No. My owner left me.",
    ]


def test_choices_are_no_stage_direction(tmp_path: Path) -> None:
    last = _stage_samples(tmp_path, STAGE_SCRIPT)[-1]
    assert "Do you have anywhere to go?" in last
    assert not any(">" in turn or "Take her home" in turn for turn in last)


SPEAKERS = SpeakerMap.from_aliases(["夏生", "Natsuki"], ["亚托莉", "ATRI"])


def _reply(narration: list[str], said: str, replace: bool = False) -> str:
    rows = [("夏生", "你看。"), *((None, n) for n in narration), ("亚托莉", said)]
    lines = [(Utterance(w, t, "s.txt", i, "1"), SPEAKERS.role(w)) for i, (w, t) in enumerate(rows)]
    to_user = placeholder_replacer(["夏生", "Natsuki"]) if replace else None
    rules = TurnRules(narration="stage", replace=to_user)
    return build_samples(lines, rules, Counter())[0].reply


@pytest.mark.parametrize(
    ("narration", "expected"),
    [
        (["她歪了歪头。", "看向大海。"], "（她歪了歪头。看向大海。）什么？"),  # as before
        (["（她歪了歪头。）"], "（她歪了歪头。）什么？"),  # no double brackets
        (["[She tilts her head.]"], "(She tilts her head.) 什么？"),
        (["(a) and (b)"], "((a) and (b)) 什么？"),  # two asides: written as they are
        (["【选项1】", "＞回家", "▶ 留下"], "什么？"),  # a choice's heading and picks
    ],
)
def test_directions_in_each_script(narration: list[str], expected: str) -> None:
    assert _reply(narration, "什么？") == expected


def test_the_lead_is_user_only_in_her_direction() -> None:
    assert _reply(["她看着夏生。"], "夏生？", replace=True) == "（她看着{{user}}。）{{user}}？"
    assert _reply(["她看着夏生。"], "夏生？") == "（她看着夏生。）夏生？"


NAMES = ["夏生", "斑鸠夏生", "夏生君", "Natsuki", "Kaito", "Natsuki Kaito", "Natsu-nii"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NATSUKI! You're late!", "{{user}}! You're late!"),
        ("natsuki, you said 'sorry'.", "{{user}}, you said 'sorry'."),
        ("Natsuki-kun? KAITO?", "{{user}}-kun? {{user}}?"),
        ("The NATSUKI-approved way", "The {{user}}-approved way"),
        ("NATSUKI KAITO! natsu-nii!", "{{user}}! {{user}}!"),
        ("kaito's boat", "{{user}}'s boat"),
        # Inside other words, in any case, the name stays.
        ("Natsukia, Kaitos, NATSUKIIII, natsukiness", "Natsukia, Kaitos, NATSUKIIII, natsukiness"),
    ],
)
def test_a_lead_name_shouted_or_in_lower_case_is_his(text: str, expected: str) -> None:
    assert placeholder_replacer(NAMES)(text) == expected


@pytest.mark.parametrize(
    ("lead", "text", "expected"),
    [
        (["Will"], "Will you come? I WILL GO. I will.", "Will you come? I WILL GO. I will."),
        (["May"], "MAY I? may be.", "MAY I? may be."),
        (["Rose"], "The sun rose. ROSE!", "The sun rose. {{user}}!"),
        (["kaito"], "Kaito! kaito!", "{{user}}! {{user}}!"),  # an alias in one case
    ],
)
def test_names_that_are_words_keep_their_words(lead: list[str], text: str, expected: str) -> None:
    assert placeholder_replacer(lead)(text) == expected


ENGLISH_SOUNDS = ["*sigh*", "Sigh...", "Ehehe~", "Hehe.", "Ahh!", "Aah!", "Uhh...", "Ehh?"]
ENGLISH_SOUNDS += ["Mmm...", "Er...", "Er", "Nn...", "Uu...", "Hmph!", "Ooh!", "Mm-hmm..."]
ENGLISH_SOUNDS += ["Er, um...", "*Hehehe*", "Aww...", "Whoa..."]


@pytest.mark.parametrize("reply", ENGLISH_SOUNDS)
def test_english_sounds_are_noise(reply: str) -> None:
    assert is_interjection_only(reply)


@pytest.mark.parametrize(
    "reply",
    # Words, and yes said in one sound (as "Uh-huh.", "うん。").
    ["Oh no, the crab!", "Mmm, delicious!", "Hi!", "He...", "Hannah!", "Hammer!", "Mm-hmm."],
)
def test_words_are_not_noise(reply: str) -> None:
    assert not is_interjection_only(reply)


def test_the_batch_test_finds_english_noise() -> None:
    texts = [*ENGLISH_SOUNDS, "Mmm, delicious!", "Hannah!"]
    assert interjections_only(texts) == [True] * len(ENGLISH_SOUNDS) + [False, False]


def test_a_sigh_is_never_a_reply(tmp_path: Path) -> None:
    script = tmp_path / "sigh.txt"
    script.write_text(
        'Natsuki: "Okay."\nATRI: "*sigh*"\nNatsuki: "What?"\nATRI: "Uhh... nothing!"\n',
        encoding="utf-8",
    )
    result = run_pipeline(DataprepSettings(eval_ratio=0), [script])
    assert [s.reply for s in result.train] == ["Uhh... nothing!"]
