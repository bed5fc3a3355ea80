"""Session 52: the message-list shapes of real translated scripts the json reader skipped —
VNTextPatch-translated files shared as one-key objects (`[{"静流": "「欢迎光临」"}, {"旁白":
"…"}]`) and LinguaGacha's name in a list (`"name": ["静流"]`)."""

from __future__ import annotations

import json

import pytest

from dataprep.errors import DataprepError
from dataprep.formats import ParseOptions, parse


def read(value: object) -> list[tuple[str | None, str]]:
    text = json.dumps(value, ensure_ascii=False, indent=0)
    return [(u.speaker, u.text) for u in parse(text, "01_01.json", "json", ParseOptions())]


def test_one_key_objects_are_speaker_and_message() -> None:
    value = [
        {"静流": "「欢迎光临」"},
        {"？？？": "「……」"},
        {"旁白": "一位男性顾客一进店就静静地站在那里不动。"},
        {"Narrator": "It rains."},
        {"ナレーション": "雨が降る。"},
        {"静流": "「嗯？\n有什么问题吗？」"},
    ]
    assert read(value) == [
        ("静流", "「欢迎光临」"),
        ("？？？", "「……」"),
        (None, "一位男性顾客一进店就静静地站在那里不动。"),
        (None, "It rains."),
        (None, "雨が降る。"),
        ("静流", "「嗯？有什么问题吗？」"),
    ]


@pytest.mark.parametrize(
    "value",
    [
        [{"静流": "「欢迎光临」"}, {"静流": "x", "id": "2"}],  # not every object has one key
        [{"静流": "「欢迎光临」"}, {"count": 3}],  # nor one text value
        [{"静流": "「欢迎光临」"}, "旁白"],
    ],
)
def test_other_lists_stay_no_script(value: object) -> None:
    with pytest.raises(DataprepError, match="is JSON but not a list of messages"):
        read(value)


def test_a_name_in_a_list_is_the_speaker() -> None:
    value = [
        {"name": ["静流"], "message": "「いらっしゃい」"},
        {"name": ["静流", "直哉"], "message": "「せーの」"},
        {"name": [], "message": "雨が降る。"},
    ]
    assert read(value) == [
        ("静流", "「いらっしゃい」"),
        ("静流、直哉", "「せーの」"),
        (None, "雨が降る。"),
    ]
