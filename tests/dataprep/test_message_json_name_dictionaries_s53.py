"""Session 53: GalTransl's name dictionaries (`{"原名": "译名"}`, with quote marks as keys of
their own and a long name now and then) are no script. Read as one, a key `「` was a
quoted line (a speaker "cg/name/" saying "「", the names after it narration), and a name
longer than 16 characters a line no one is named for, refused as a dictionary that
"cannot say who speaks its lines (0 of 0 quoted lines named)"."""

from __future__ import annotations

import json

import pytest

from dataprep.errors import NoScript
from dataprep.formats import ParseOptions, message_json, parse

# The shape of real GalTransl name dictionaries (RINJOKU's namedict.json, Primary's).
WITH_QUOTE_KEYS = {
    "cg/name/": "cg/name/",
    "「": "「",
    "『": "『",
    "（": "（",
    "？？？": "？？？",
    "アンジェラ": "安洁拉",
    "エグゼリカ": "艾格杰利卡",
    "兵士１": "兵士１",
}
WITH_A_LONG_NAME = {
    "ヴァンチェスタ": "范切斯特",
    "プリム": "普莉姆",
    "ファテシア＝セインテリア＝ヴァンチェスタ": "法特西亚＝塞恩特里亚＝范切斯特",
    "六桜日奈々": "六樱日奈奈",
}
# A glossary with one sentence among its terms, and no quoted line anywhere.
TERMS_AND_A_SENTENCE = {
    "アトリ": "亚托莉",
    "エデン": "伊甸",
    "高性能ですから。": "因为我是高性能的嘛。",
}


@pytest.mark.parametrize("value", [WITH_QUOTE_KEYS, WITH_A_LONG_NAME, TERMS_AND_A_SENTENCE])
def test_name_dictionaries_are_no_script(value: dict[str, str]) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=4)
    with pytest.raises(NoScript, match="is JSON but not a list of messages"):
        parse(text, "namedict.json", "json", ParseOptions())


@pytest.mark.parametrize(
    ("key", "is_line"),
    [
        ("「", False),
        ("（", False),
        ("ファテシア＝セインテリア＝ヴァンチェスタ", False),
        ("「はい」", True),
        ("行こう。", True),
        ("どうやら玄関はまだ先らしい、急がないと間に合わない", True),
    ],
)
def test_what_key_is_a_line(key: str, is_line: bool) -> None:
    assert message_json._is_line(key) is is_line
