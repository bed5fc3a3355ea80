"""RPG Maker MV speakers: a `Name：words` first line names a speaker who is an actor,
whose name starts several boxes, or whose words end as a sentence; an interface label
(`小提示：按Z键调查`, `Note: …`) names nobody. A box with no name is said by the actor whose
face it shows (Actors.json's faceName + faceIndex, or a face file named as the actor);
a face sheet no actor has stays narration. Before, every colon label was a speaker and
every face-only box narration."""

from __future__ import annotations

import json
from pathlib import Path

from dataprep.formats import ParseOptions, parse


def cmd(code: int, *parameters: object) -> dict[str, object]:
    return {"code": code, "indent": 0, "parameters": list(parameters)}


def mv_box(*lines: str, face: str = "", index: int = 0) -> list[dict[str, object]]:
    return [cmd(101, face, index, 0, 2), *(cmd(401, line) for line in lines)]


# Actors.json as RPG Maker MV writes it (null first, then one object an actor).
ACTORS = [
    None,
    {"id": 1, "name": "Harold", "nickname": "", "classId": 1, "characterName": "Actor1",
     "characterIndex": 0, "faceName": "Actor1", "faceIndex": 0, "battlerName": "Actor1_1",
     "equips": [1, 1, 2, 3, 0], "traits": [], "note": "", "profile": ""},
    {"id": 2, "name": "愛思特", "nickname": "", "classId": 1, "characterName": "Actor1",
     "characterIndex": 1, "faceName": "愛思特", "faceIndex": 0, "battlerName": "",
     "equips": [], "traits": [], "note": "", "profile": ""},
    {"id": 3, "name": "Marsha", "nickname": "", "classId": 1, "characterName": "Actor1",
     "characterIndex": 7, "faceName": "Actor1", "faceIndex": 7, "battlerName": "",
     "equips": [], "traits": [], "note": "", "profile": ""},
]  # fmt: skip


def read(page: list[dict[str, object]], folder: Path | None = None) -> list[tuple[str | None, str]]:
    source = "CommonEvents.json" if folder is None else str(folder / "CommonEvents.json")
    events = [None, {"id": 1, "list": [*page, cmd(0)]}]
    said = parse(json.dumps(events, ensure_ascii=False), source, "rpgmaker", ParseOptions())
    return [(u.speaker, u.text) for u in said]


def with_actors(tmp_path: Path) -> Path:
    (tmp_path / "Actors.json").write_text(json.dumps(ACTORS, ensure_ascii=False), "utf-8")
    return tmp_path


def test_interface_labels_are_no_speakers() -> None:
    page = [
        *mv_box("小提示：按Z键调查"),
        *mv_box("提示：按Z键调查。"),
        *mv_box("Note: Press Z to investigate."),
        *mv_box("系统：获得了木板"),
        *mv_box("已收取包裹：危机研究协会救助物资"),
        *mv_box("已收取救助物资包裹：危机研究协会。"),  # a long name, though a sentence
        *mv_box("Location: The old harbour."),
    ]
    assert read(page) == [
        (None, "小提示：按Z键调查"),
        (None, "提示：按Z键调查。"),
        (None, "Note: Press Z to investigate."),
        (None, "系统：获得了木板"),
        (None, "已收取包裹：危机研究协会救助物资"),
        (None, "已收取救助物资包裹：危机研究协会。"),
        (None, "Location: The old harbour."),
    ]


def test_real_names_stay_speakers() -> None:
    page = [
        *mv_box("莉亚：走吧，天快黑了。"),  # a short name, words that end as said
        *mv_box("卡特：我们走吧"),  # no sentence end, but the name starts two boxes
        *mv_box("卡特：快点"),
        *mv_box("系统：「宿主，你好。」"),  # a label's name before quoted words is said
    ]
    assert read(page) == [
        ("莉亚", "走吧，天快黑了。"),
        ("卡特", "我们走吧"),
        ("卡特", "快点"),
        ("系统", "「宿主，你好。」"),
    ]


def test_an_actors_name_before_a_colon_is_a_speaker(tmp_path: Path) -> None:
    folder = with_actors(tmp_path)
    assert read([*mv_box("Harold: over here")], folder) == [("Harold", "over here")]


def test_the_face_of_an_actor_names_the_box(tmp_path: Path) -> None:
    folder = with_actors(tmp_path)
    page = [
        *mv_box("Good morning.", face="Actor1", index=0),  # Harold's face in Actors.json
        *mv_box("Over here!", face="Actor1", index=7),  # Marsha's
        *mv_box("早上好。", face="愛思特", index=3),  # a face file named as the actor
        *mv_box("The wind blows.", face="Actor1", index=4),  # no actor's face
        *mv_box("A bird sings.", face="People2", index=0),
        *mv_box("【Marsha】Hi.", face="Actor1", index=0),  # a written name comes first
    ]
    assert read(page, folder) == [
        ("Harold", "Good morning."),
        ("Marsha", "Over here!"),
        ("愛思特", "早上好。"),
        (None, "The wind blows."),
        (None, "A bird sings."),
        ("Marsha", "Hi."),
    ]


def test_a_face_two_actors_share_and_a_face_without_actors_json_name_nobody(
    tmp_path: Path,
) -> None:
    shared = [*ACTORS, {"id": 4, "name": "Twin", "faceName": "Actor1", "faceIndex": 0}]
    (tmp_path / "Actors.json").write_text(json.dumps(shared), "utf-8")
    assert read(mv_box("Hello.", face="Actor1"), tmp_path) == [(None, "Hello.")]
    assert read(mv_box("Hello.", face="Actor1")) == [(None, "Hello.")]
