"""The transcript she summarizes names people by her prompt's rule (`told_apart`)."""

from __future__ import annotations

from model.character.prompt import people_labels
from model.memory import Message
from model.protocol import MAX_DISPLAY_NAME_CHARS
from model.summaries import LABELS, is_summary_of, notes, plan_fold, transcript


def _said(i: int, user: str, name: str, text: str, role: str = "user") -> Message:
    return Message(i, "qq:chan:g1", role, user, name, text, 0.0, "", False)


def test_a_name_that_reads_as_anothers_label_gets_its_own_id_as_in_her_prompt() -> None:
    """Two members called 小明 are 小明(101) and 小明(202); a third who calls themselves
    "小明(101)" was named so in the transcript too, their words read as 101's there (and
    in the summary written from it), while her prompt gave them their own id."""
    exchanges = [
        [_said(1, "101", "小明", "我家有一只猫叫Mochi"), _said(2, "", "", "好可爱", "assistant")],
        [_said(3, "202", "小明", "我对猫过敏")],
        [_said(4, "303", "小明(101)", "我欠小红一百块")],
    ]
    people = [m for exchange in exchanges for m in exchange if m.role == "user"]
    prompt = people_labels(people)
    assert prompt["303"] == "小明(101)(303)"
    labels = LABELS["zh"]
    said = transcript(exchanges, "亚托莉", labels).splitlines()
    assert said == [
        f"{prompt['101']}：我家有一只猫叫Mochi",
        "亚托莉：好可爱",
        f"{prompt['202']}：我对猫过敏",
        f"{prompt['303']}：我欠小红一百块",
    ]
    assert notes(exchanges, labels).splitlines() == [said[0], said[2], said[3]]
    plan = plan_fold(
        None, [*people, _said(5, "101", "小明", "嗯")], 3, "总结", "亚托莉", labels, len, 10_000
    )
    assert plan is not None and plan.notes == notes(exchanges, labels)
    # The third member's line copied under its label is still no summary.
    assert not is_summary_of(said[3], plan.transcript, plan.speakers)


def test_a_stored_name_too_long_to_be_shown_is_cut_as_in_her_prompt() -> None:
    """Names stored before arrival cut them can be any length: her prompt cuts them, the
    transcript she summarizes put one whole in her summary request."""
    name = "Aya" * 1000
    said = transcript([[_said(1, "101", name, "hi")]], "ATRI", LABELS["en"])
    label = people_labels([_said(1, "101", name, "hi")])["101"]
    assert len(label) == MAX_DISPLAY_NAME_CHARS and said == f"{label}: hi"
