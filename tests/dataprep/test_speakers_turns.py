"""Speaker roles, and turning lines into strictly alternating two-person samples."""

from __future__ import annotations

import itertools
from collections import Counter

from dataprep.records import Role, Utterance
from dataprep.speakers import SpeakerMap
from dataprep.turns import TurnRules, build_samples

SPEAKERS = SpeakerMap.from_aliases(
    ["夏生", "斑鸠夏生", "Natsuki"], ["亚托莉", "ATRI", "机器人少女"]
)


def test_roles_ignore_case_width_spaces_and_brackets() -> None:
    assert SPEAKERS.role("夏生") is Role.LEAD
    assert SPEAKERS.role(" natsuki ") is Role.LEAD
    assert SPEAKERS.role("ＡＴＲＩ") is Role.CHARACTER
    assert SPEAKERS.role("【亚托莉】") is Role.CHARACTER
    assert SPEAKERS.role("机器人少女") is Role.CHARACTER
    assert SPEAKERS.role("水菜萌") is Role.OTHER
    assert SPEAKERS.role(None) is Role.NARRATION
    assert SPEAKERS.role("旁白") is Role.NARRATION


def test_roles_ignore_invisible_characters_in_names() -> None:
    # Copied from web pages, names carry zero-width spaces, joiners, a BOM or a soft hyphen.
    assert SPEAKERS.role("夏\u200b生") is Role.LEAD
    assert SPEAKERS.role("亚托莉\u200d") is Role.CHARACTER
    assert SPEAKERS.role("\ufeffATRI") is Role.CHARACTER
    assert SPEAKERS.role("Nat\u00adsuki") is Role.LEAD
    assert SPEAKERS.role("\u200b") is Role.NARRATION


def test_a_note_after_a_name_is_not_part_of_it() -> None:
    # 亚托莉（微笑）：… was a third speaker: her line was lost and ended the exchange.
    assert SPEAKERS.role("亚托莉（微笑）") is Role.CHARACTER
    assert SPEAKERS.role("夏生(小声)") is Role.LEAD
    assert SPEAKERS.role("Natsuki (whispering)") is Role.LEAD
    assert SPEAKERS.role("（亚托莉）") is Role.CHARACTER
    assert SPEAKERS.role("（小声）") is Role.OTHER


def lines(*rows: tuple[str | None, str], scene: str = "1") -> list[tuple[Utterance, Role]]:
    return [
        (Utterance(who, text, "s.txt", i, scene), SPEAKERS.role(who))
        for i, (who, text) in enumerate(rows, 1)
    ]


def build(rows: list[tuple[Utterance, Role]], **rules: object) -> tuple[list, Counter[str]]:
    dropped: Counter[str] = Counter()
    return build_samples(rows, TurnRules(**rules), dropped), dropped  # type: ignore[arg-type]


def test_consecutive_lines_merge_and_context_alternates() -> None:
    rows = lines(
        ("夏生", "早。"),
        ("夏生", "睡得好吗？"),
        ("亚托莉", "早上好！"),
        ("亚托莉", "我不需要睡觉。"),
        ("夏生", "是吗。"),
        ("亚托莉", "是的！"),
    )
    samples, dropped = build(rows)
    assert [s.turns for s in samples] == [
        [(Role.LEAD, "早。\n睡得好吗？"), (Role.CHARACTER, "早上好！\n我不需要睡觉。")],
        [
            (Role.LEAD, "早。\n睡得好吗？"),
            (Role.CHARACTER, "早上好！\n我不需要睡觉。"),
            (Role.LEAD, "是吗。"),
            (Role.CHARACTER, "是的！"),
        ],
    ]
    assert samples[0].reply_lines == [("s.txt", 3), ("s.txt", 4)]
    assert not dropped


def test_atri_first_third_party_and_scene_end_exchanges() -> None:
    rows = lines(("亚托莉", "有人吗？"), ("夏生", "我在。"), ("亚托莉", "太好了！"))
    rows += lines(("水菜萌", "你们好。"), ("亚托莉", "你好！"))
    rows += lines(("夏生", "走吧。"), scene="2") + lines(("亚托莉", "好！"), scene="3")
    samples, dropped = build(rows)
    assert [s.reply for s in samples] == ["太好了！"]
    # "有人吗？" opens the exchange, "你好！" follows a third party, "好！" a new scene.
    assert dropped == Counter(no_lead_before=3)


def test_context_window_never_starts_with_atri() -> None:
    rows = lines(
        ("夏生", "一"),
        ("亚托莉", "二"),
        ("夏生", "三"),
        ("亚托莉", "四"),
        ("夏生", "五"),
        ("亚托莉", "六"),
    )
    samples, _ = build(rows, context_turns=2)
    last = samples[-1].turns
    assert [t for _, t in last] == ["五", "六"]  # window [四, 五] lost its leading ATRI turn
    samples, _ = build(rows, context_turns=3)
    assert [t for _, t in samples[-1].turns] == ["三", "四", "五", "六"]
    for s in samples:
        roles = [r for r, _ in s.turns]
        assert roles[0] is Role.LEAD and roles[-1] is Role.CHARACTER
        assert all(a is not b for a, b in itertools.pairwise(roles))


def test_narration_skip_or_stage() -> None:
    rows = lines(("夏生", "你看。"), (None, "她歪了歪头。"), ("亚托莉", "什么？"))
    skipped, _ = build(rows)
    assert skipped[0].reply == "什么？"
    staged, _ = build(rows, narration="stage")
    assert staged[0].reply == "（她歪了歪头。）什么？"
    too_long, _ = build(rows, narration="stage", stage_direction_max_chars=3)
    assert too_long[0].reply == "什么？"


def test_noise_lines_leave_merged_replies() -> None:
    rows = lines(("夏生", "要出发了吗？"), ("亚托莉", "嗯……"), ("亚托莉", "好的。"))
    samples, dropped = build(rows)
    assert [s.reply for s in samples] == ["好的。"]
    assert samples[0].reply_lines == [("s.txt", 3)]
    assert dropped == Counter(interjection_only=1)


def test_a_noise_only_turn_never_stays_in_the_history() -> None:
    rows = lines(
        ("夏生", "你好。"),
        ("亚托莉", "啊！？"),
        ("夏生", "你在干什么？"),
        ("亚托莉", "在看海。"),
    )
    samples, dropped = build(rows)
    assert [s.turns for s in samples] == [
        [(Role.LEAD, "你好。\n你在干什么？"), (Role.CHARACTER, "在看海。")]
    ]
    assert dropped == Counter(interjection_only=1)
    kept, _ = build(rows, drop_noise=False)
    assert [t for _, t in kept[-1].turns] == ["你好。", "啊！？", "你在干什么？", "在看海。"]


def test_a_turn_too_long_to_be_a_reply_is_never_history() -> None:
    # A 1 MB line (a dump without line breaks) sat in the history of the next samples: the
    # reply filter saw only the last turn, so a sample of 2 MB was written.
    rows = lines(
        ("夏生", "你好。"),
        ("亚托莉", "好" * 50),
        ("夏生", "啊" * 50),
        ("亚托莉", "结束了吗？"),
        ("夏生", "结束了。"),
        ("亚托莉", "太好了。"),
    )
    samples, dropped = build(rows, max_turn_chars=40)
    assert [s.turns for s in samples] == [
        [(Role.LEAD, "你好。"), (Role.CHARACTER, "好" * 50)],  # the filter drops it
        [(Role.LEAD, "结束了。"), (Role.CHARACTER, "太好了。")],
    ]
    assert dropped == Counter(prompt_too_long=1)
    whole, _ = build(rows)
    assert len(whole[-1].turns) == 6


def test_stage_direction_waits_for_a_line_that_is_kept() -> None:
    rows = lines(
        ("夏生", "你看。"), (None, "她歪了歪头。"), ("亚托莉", "嗯？"), ("亚托莉", "什么？")
    )
    staged, _ = build(rows, narration="stage")
    assert staged[0].reply == "（她歪了歪头。）什么？"


def test_a_name_in_two_spellings_is_that_speaker_and_two_names_are_neither() -> None:
    assert SPEAKERS.role("Atri/亚托莉") is Role.CHARACTER
    assert SPEAKERS.role("夏生 / Natsuki") is Role.LEAD
    assert SPEAKERS.role("Natsuki/ATRI") is Role.OTHER  # both at once: neither alone
    assert SPEAKERS.role("Atri/水菜萌") is Role.OTHER
