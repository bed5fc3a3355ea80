"""Tables as Chinese short-drama and storyboard tools export them. A storyboard
(`分镜号,场景,画面内容,…,角色,台词`) holds a description of the frame (`画面内容`) before the
lines (`台词`): the lines are the text, a generic name (内容, content, message) only where
no column is named for them. Before, each frame's description was read as said by its
speaker. A script export numbers its scenes in `场次`: where it changes a scene starts."""

from __future__ import annotations

from dataprep.formats import ParseOptions, parse

STORYBOARD = """\
分镜号,场景,画面内容,景别,角色,台词
0,客栈大堂,黄昏的客栈大堂,WS,,
1,客栈大堂,侠客推门而入,FS,侠客,掌柜的，来壶热酒。
2,客栈后院,掌柜提灯走来,MS,掌柜,客官还没歇息？
"""

SCRIPT = """\
集数,标题,场次,地点,角色,台词
1,风雪客栈,1,客栈大堂,侠客,掌柜的，来壶热酒。
1,风雪客栈,2,后院,掌柜,明早就停了。
"""


def lines(text: str) -> list[tuple[str | None, str, str]]:
    said = parse(text, "ep01.csv", "csv", ParseOptions())
    return [(u.speaker, u.text, u.scene) for u in said]


def test_the_lines_column_wins_over_a_description() -> None:
    assert lines(STORYBOARD) == [
        ("侠客", "掌柜的，来壶热酒。", "0"),
        ("掌柜", "客官还没歇息？", "1"),
    ]


def test_a_content_column_alone_is_the_text() -> None:
    assert lines("name,content\n侠客,来壶热酒。\n") == [("侠客", "来壶热酒。", "0")]


def test_a_scene_number_column_starts_scenes() -> None:
    assert [scene for _, _, scene in lines(SCRIPT)] == ["0", "1"]


LIVEMAKER = """\
ID,Label,Context,Original text,Translated text
pylm:text:00000023.lsb:8:0,00000025,,"【部員】
「今日は何をしますか？」",
pylm:text:00000023.lsb:9:0,00000026,,"【部長】
「まずは掃除かしら」",
pylm:text:00000023.lsb:10:0,00000027,,窓の外では桜が散っていた。,
pylm:text:00000023.lsb:11:0,00000028,,"【部員】
「えー、またですか」",
"""


def test_a_label_on_every_row_is_no_scene() -> None:
    # pylivemaker's `lmlsb extractcsv`: `Label` names each text block, one a row.
    said = parse(LIVEMAKER, "00000023.csv", "csv", ParseOptions(dump_side="original"))
    assert [(u.speaker, u.scene.split(":")[0]) for u in said] == [
        ("部員", "0"),
        ("部長", "0"),
        (None, "0"),
        ("部員", "0"),
    ]
