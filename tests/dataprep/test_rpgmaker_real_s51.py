"""RPG Maker MV / MZ data as real games write it. A Chinese survival game (Record Life:
Doomsday Crisis) names MZ speakers with a stat beside them: `张兰山-好感度\\V[71]`,
`天影 好感度：\\V[379]`, `\\N[2]-好感度\\V[70]`. The speaker is the name before the stat's
label; before, it was `张兰山-好感度[variable_71]`, one speaker per stat shown."""

from __future__ import annotations

import json

from dataprep.formats import ParseOptions, parse


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
