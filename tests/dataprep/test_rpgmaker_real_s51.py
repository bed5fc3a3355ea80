"""RPG Maker MV / MZ data as real games write it. A Chinese survival game (Record Life:
Doomsday Crisis) names MZ speakers with a stat beside them: `张兰山-好感度\\V[71]`,
`天影 好感度：\\V[379]`, `\\N[2]-好感度\\V[70]`. The speaker is the name before the stat's
label; before, it was `张兰山-好感度[variable_71]`, one speaker per stat shown."""

from __future__ import annotations

import json

from dataprep.formats import ParseOptions, detect_format, parse


def cmd(code: int, *parameters: object) -> dict[str, object]:
    return {"code": code, "indent": 0, "parameters": list(parameters)}


def box(name: str, line: str) -> list[dict[str, object]]:
    return [cmd(101, "", 0, 0, 2, name), cmd(401, line)]


EVENTS = [
    None,
    {
        "id": 1,
        "name": "",
        "list": [
            *box("张兰山-好感度\\V[71]", "你要订购什么材料？"),
            *box("天影 好感度：\\V[379]", "走吧。"),
            *box("Rin - Love \\V[5]", "Hello there."),
            *box("\\V[5]", "A value alone."),
            cmd(0),
        ],
    },
]


def test_a_stat_beside_a_speakers_name_is_no_part_of_it() -> None:
    said = parse(json.dumps(EVENTS), "CommonEvents.json", "rpgmaker", ParseOptions())
    assert [u.speaker for u in said] == ["张兰山", "天影", "Rin", "[variable_5]"]
    assert [u.text for u in said][:2] == ["你要订购什么材料？", "走吧。"]


def mv_box(*lines: str) -> list[dict[str, object]]:
    return [cmd(101, "Actor1", 0, 0, 2), *(cmd(401, line) for line in lines)]


def mz_box(*lines: str) -> list[dict[str, object]]:
    return [cmd(101, "", 0, 0, 2, ""), *(cmd(401, line) for line in lines)]


def read(events: list[object]) -> list[tuple[str | None, str]]:
    said = parse(json.dumps(events), "CommonEvents.json", "rpgmaker", ParseOptions())
    return [(u.speaker, u.text) for u in said]


def test_an_mv_first_line_name_and_colon_names_the_speaker() -> None:
    # A Chinese MV translation (Spectoria) writes `莉亚：…` / `Ria: …` in the text.
    page = [
        *mv_box("莉亚：\\c[2]走吧\\c[0]，天快黑了。"),
        *mv_box("Ria: Let's go.", "It is getting dark."),
        *mv_box("???：谁在那里？"),
        *mv_box("Open http://example.com for help."),
        *mv_box("Time is 10:30 now."),
        cmd(0),
    ]
    assert read([None, {"id": 1, "list": page}]) == [
        ("莉亚", "走吧，天快黑了。"),
        ("Ria", "Let's go. It is getting dark."),
        ("???", "谁在那里？"),
        (None, "Open http://example.com for help."),
        (None, "Time is 10:30 now."),
    ]


def test_in_mz_a_colon_line_is_a_label_unless_an_actor_or_speech() -> None:
    # MZ has a name field: `已收取包裹：木板` (Record Life) is a system message's label.
    page = [
        *mz_box("已收取包裹：危机研究协会救助物资"),
        *mz_box("营业时间：“早上8点”至晚上6点"),
        *mz_box("张兰山：「你好。」"),
        *mz_box("无名氏：走吧。"),
        cmd(0),
    ]
    events = [None, {"id": 1, "list": page}]
    assert read(events) == [
        (None, "已收取包裹：危机研究协会救助物资"),
        (None, "营业时间：“早上8点”至晚上6点"),
        ("张兰山", "「你好。」"),
        (None, "无名氏：走吧。"),
    ]


def test_a_map_without_events_is_rpg_maker_data_with_no_dialogue() -> None:
    # END QUEST's walk-through maps: `"events":[]` or only nulls; before, "not a list of
    # messages" and counted as unreadable.
    empty_map = {"autoplayBgm": False, "tilesetId": 1, "width": 17, "data": [0] * 8}
    for events in ([], [None, None]):
        text = json.dumps({**empty_map, "events": events})
        assert detect_format(text, "Map002.json") == "rpgmaker"
        assert parse(text, "Map002.json", "rpgmaker", ParseOptions()) == []
