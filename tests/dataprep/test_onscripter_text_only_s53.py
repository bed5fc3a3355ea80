"""Session 53: an excerpt of an ONScripter script's text alone (`【名】「…」\\` lines and
narration ending in a page end `\\` or a click wait `@`, no `*label`, `bg` nor `ld`) is
read as onscripter. It was read as plain, which kept `!w300` waits and ruby in the words
and split a text box's rows into lines said apart."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, detect_format, detect_format_why, parse

# The shape of a Chinese port's 0.txt with its commands cut out.
EXCERPT = """\
【　恋　】「快起来，森罗」@
「已经八点了哦」\\
【森　罗】「呃啊！？」\\
下腹部突然传来剧痛，@
我从被窝里跳了起来。\\
恋「早上好。!w300今天(休息/きゅうけい)哦」\\
【森罗】「那就去学校吧」\\
"""


def test_a_text_only_excerpt_is_onscripter() -> None:
    fmt, why = detect_format_why(EXCERPT, "excerpt.txt")
    assert fmt == "onscripter", why
    assert "page end" in why
    said = parse(EXCERPT, "excerpt.txt", fmt, ParseOptions())
    assert [(u.speaker, u.text) for u in said] == [
        ("恋", "「快起来，森罗」"),
        (None, "「已经八点了哦」"),
        ("森罗", "「呃啊！？」"),
        (None, "下腹部突然传来剧痛，我从被窝里跳了起来。"),
        ("恋", "「早上好。今天休息哦」"),
        ("森罗", "「那就去学校吧」"),
    ]


# natsu's Chinese port (100pangci/natsu 0.txt) writes each text line after a pretextgosub
# tag: `[1|【名】|voice]「…」\` and `[1||]narration\`.
TAGGED_EXCERPT = """\
[1|【　恋　】|ren-A10-0043]「森罗？」\\
[1||]听到我的声音如此严肃，恋的语气像是感到不可思议。\\
[1|【森　罗】|]「我不希望无视恋的意志」\\
[1|【森　罗】|]「恋，你也需要决定」\\
[1|【　恋　】|ren-A10-0045]「……我…也？」\\
[1|【森　罗】|]「是啊」\\
"""


def test_a_text_only_excerpt_with_tags_before_the_words_is_onscripter() -> None:
    fmt, why = detect_format_why(TAGGED_EXCERPT, "excerpt.txt")
    assert fmt == "onscripter", why
    said = parse(TAGGED_EXCERPT, "excerpt.txt", fmt, ParseOptions())
    assert [u.speaker for u in said] == ["恋", None, "森罗", "森罗", "恋", "森罗"]


@pytest.mark.parametrize(
    "text",
    [
        # CatSystem2's dumps end their lines in `\@`.
        "「起きてないもん！」\\@\n「だって」\\@\n【皐月】「あ」\\@\nあいうえお\\@\n「い」\\@\n",
        # A dump naming speakers before a colon is plain, page ends or not.
        "森罗：「快起来」\\\n恋：「好」\\\n森罗：「走吧」\\\n恋：「嗯」@\n森罗：「好」\\\n",
        # A few marked lines among many that are not.
        "【恋】「早」\\\n【森罗】「早」\\\n" + "【恋】「今天天气真好」\n" * 8,
        # Lines ending in `@` alone (mail addresses, handles): no page end.
        "联系我们 support@\n请发邮件到 a@\n或者 b@\n也可以 c@\n还有 d@\n",
    ],
)
def test_other_dumps_with_marks_stay_plain(text: str) -> None:
    assert detect_format(text, "dump.txt") == "plain"
