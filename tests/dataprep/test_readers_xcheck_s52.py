"""The WebGAL and ONScripter readers checked on other real public material than their
authors': 07th-mod's Umineko scripts (umineko-question's `0.utf`, each line twice,
`langjp` then `langen`, with `dwave` voices and `;＜名` speaker marks; umineko-tsubasa-ons's
`0.txt`, the Japanese in comments and the English in backquotes) and more WebGAL games.
Before, every `langjp`/`langen` line was read as a command (nothing said), a `;＜名` mark
was a comment (every line narration), two quotes in one box left open by `@` were one
line, and English words joined by `/` lost the blank between them."""

from __future__ import annotations

from pathlib import Path

from dataprep.formats import ParseOptions, detect_format, parse
from dataprep.sources import collect_scripts

# umineko-question's 0.utf, its shape kept (lines cut short).
UMINEKO = """\
*umi1_7
advchar "08"
langjp:dwave_jp 0, rud_1e252:「俺たちじゃねぇぜ。@:dwave_jp 0, rud_1e253:楼座が出てった後は、部屋を移してずっと“仲良く”おしゃべりをしてたからなぁ。」@
;＜留弗夫
langen:dwave_eng 0, rud_1e252:^"It wasn't one of us.^@:dwave_eng 0, rud_1e253:^  After you left, we moved to a different room and had a `friendly' chat that whole time."^@
ld l,$HID_komaruA1,23

advchar "06"
langjp:dwave_jp 0, hid_1e182:「はは、…そうやで。@:dwave_jp 0, hid_1e183:あの後も兄弟で仲良くおしゃべりをしとったのや。」\\
;＜秀吉
langen:dwave_eng 0, hid_1e182:^"Haha, ...that's right.^@:dwave_eng 0, hid_1e183:^  Even after that, the siblings had a real friendly chat."^\\

advchar "-1"
langjp　秀吉の仲良くという言葉にはかなりの違和感があり、@その場に居合わせなかった人間でも察しがついた。\\
langen^The word `friendly' fell awkwardly from Hideyoshi's lips,^@^ so even those who hadn't been present could tell.^\\
advchar "03"
langjp:dwave_jp 0, nat_1e90:「………………この雨ですから、/
sl
langjp:voicedelay 1370:dwave_jp 0, nat_1e91:^^客人の皆さんがお帰りになられるのも大変かと思って。」\\
;＜夏妃
langen:dwave_eng 0, nat_1e90:^"...............Because of the rain,^@/
sl
langen:voicedelay 1370:dwave_eng 0, nat_1e91:^ we thought it would be troublesome for all of the guests."^\\
"""


def said(text: str, **options: object) -> list[tuple[str | None, str]]:
    utterances = parse(text, "0.txt", "onscripter", ParseOptions(**options))  # type: ignore[arg-type]
    return [(u.speaker, u.text) for u in utterances]


def test_umineko_reads_the_english_of_langen_lines_by_default() -> None:
    assert detect_format(UMINEKO, "0.utf.txt") == "onscripter"
    assert said(UMINEKO) == [
        (
            "留弗夫",
            "\"It wasn't one of us.  After you left, we moved to a different room and had a"
            ' ‘friendly’ chat that whole time."',
        ),
        (
            "秀吉",
            '"Haha, ...that\'s right.  Even after that, the siblings had a real friendly chat."',
        ),
        (
            None,
            "The word ‘friendly’ fell awkwardly from Hideyoshi's lips, so even those who"
            " hadn't been present could tell.",
        ),
        (
            "夏妃",
            '"...............Because of the rain, we thought it would be troublesome for all'
            ' of the guests."',
        ),
    ]


def test_umineko_reads_the_japanese_with_dump_side_original() -> None:
    assert said(UMINEKO, dump_side="original") == [
        (
            "留弗夫",
            "「俺たちじゃねぇぜ。楼座が出てった後は、部屋を移してずっと“仲良く”おしゃべりをしてたからなぁ。」",
        ),
        ("秀吉", "「はは、…そうやで。あの後も兄弟で仲良くおしゃべりをしとったのや。」"),
        (
            None,
            "秀吉の仲良くという言葉にはかなりの違和感があり、その場に居合わせなかった人間でも察しがついた。",
        ),
        ("夏妃", "「………………この雨ですから、客人の皆さんがお帰りになられるのも大変かと思って。」"),
    ]


# umineko-tsubasa-ons's 0.txt: the Japanese commented out, the English in backquotes, the
# speaker in a `;＜名` mark below the line.
TSUBASA = """\
*define
game
*start
;「ふっふっふっふっふ！！@　お師匠様の許可が出たぞぅ！@/
`"Fufufufufu!`@` I have obtained Teacher's permission! `@/

;　それでは弄るぞ、この物語、このゲーム盤！」\\
`Then I shall tamper with it, this story, this game board!" `\\
;＜ベアト

;!s0「ダ、ダメですよ…！！/
!s0`"N-no!.. `/
se1 48
!sd@`This beautiful story depicts the children's feelings!" `\\
;＜ワルギリア
;　サタンは困惑しながらそう叫ぶ。\\
` Satan cried in bewilderment.`\\
"""


def test_tsubasa_names_the_speaker_from_the_mark_and_keeps_blanks_across_a_slash() -> None:
    assert said(TSUBASA) == [
        (
            "ベアト",
            "\"Fufufufufu! I have obtained Teacher's permission! Then I shall tamper with it,"
            ' this story, this game board!"',
        ),
        ("ワルギリア", '"N-no!.. This beautiful story depicts the children\'s feelings!"'),
        (None, "Satan cried in bewilderment."),
    ]


def test_a_quote_in_a_box_left_open_is_another_line() -> None:
    text = "*start\n「起きて。」@\n;＜恋\n「……うー。」@\n　恋は笑った。\\\n"
    assert said(text) == [("恋", "「起きて。」"), (None, "「……うー。」"), (None, "恋は笑った。")]


def test_ponscripters_0_utf_is_found_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "0.utf").write_text("*define\ngame\n" + UMINEKO, encoding="utf-8")
    assert collect_scripts([tmp_path]) == [tmp_path / "0.utf"]
    assert detect_format((tmp_path / "0.utf").read_text(encoding="utf-8"), "0.utf") == "onscripter"


def test_a_webgal_start_scene_holding_only_a_choice_of_scenes_says_nothing() -> None:
    # NingAnn/WebLibraryOfRuina's game/scene/start.txt, whole: read as plain, "choose"
    # was a speaker.
    text = "choose:传闻:chuanwen.txt|EX[Doki Doki EDITOR!]-推番:tuifan.txt;\n"
    assert detect_format(text, "start.txt") == "webgal"
    assert parse(text, "start.txt", "webgal", ParseOptions()) == []


def test_a_mark_below_the_commented_japanese_names_the_english_line_below_it() -> None:
    # umineko-hane-ons's 0.txt: the mark comes between the Japanese and the English.
    text = (
        "*define\ngame\n*start\n"
        ";「ここは、おとぎ話の世界の奥深く。」\\\n"
        '`"This is a story of a place deep in the world of fairy tales."`\\\n'
        ";「ロッケン王国って、安直なネーミングだなぁ。」@\n;＜戦人\n"
        '`"Rokken Kingdom is a pretty simplistic name."`@\n'
        "se1 10\n;「戦人、うるさいっ。@/\n;本番中！」\\\n;＜朱志香\n"
        '`"Shush, Battler.`@/\n` Not during the performance!"`\\\n'
    )
    assert said(text) == [
        (None, '"This is a story of a place deep in the world of fairy tales."'),
        ("戦人", '"Rokken Kingdom is a pretty simplistic name."'),
        ("朱志香", '"Shush, Battler. Not during the performance!"'),
    ]


def test_a_mark_on_a_line_going_on_the_row_names_the_whole_box() -> None:
    # umineko-tsubasa-ons's 0.txt: the box goes on over commands after `/`; the mark
    # below its second half named that half alone, the first narration.
    text = (
        "*start\n;「４１０はいつもひどいんですっ、/\n"
        '`"410 is a meaaanie! `/\n\nse1 48\nquakey 2,400\n\n'
        ";@私がちゃんと当たるように…！！」\\\n;＜シエスタ４５\n"
        '`I always work hard to give you the most precise calculations possible!"`\\\n'
    )
    assert said(text) == [
        (
            "シエスタ４５",
            '"410 is a meaaanie! I always work hard to give you the most precise'
            ' calculations possible!"',
        ),
    ]


def test_umineko_names_an_unmarked_line_by_its_advchar() -> None:
    # umineko-question's 0.utf: Gohda's lines have no `;＜郷田` mark below them.
    text = UMINEKO + (
        'advchar "08"\n'
        "langjp:dwave_jp 0, rud_1e254:「……落ち着けよ楼座。」\\\n"
        'langen:dwave_eng 0, rud_1e254:^"......Calm down, Rosa."^\\\n'
        'advchar "-1"\n'
        "langjp　誰もが思うもっともな話だ。\\\n"
        "langen^That's what everyone had been thinking since the beginning.^\\\n"
    )
    assert said(text)[-2:] == [
        ("留弗夫", '"......Calm down, Rosa."'),
        (None, "That's what everyone had been thinking since the beginning."),
    ]


def test_umineko_formatting_codes_and_marks_that_name_nobody() -> None:
    # umineko-question's 0.utf: `~ib~` bold italic, a note mark (`;＜点処理：…`) below a
    # speaker's mark, and a mark left behind after `advchar "-1"` with no line above it.
    text = (
        'advchar "27"\n'
        "langjp:dwave_jp 0, bea_9e729:しかし、そなたは金蔵を^~ib~^殺してしまった^~ib~^…！！」\\\n"
        ";＜ベアト\n;＜点処理：殺してしまった\n"
        'langen:dwave_eng 0, bea_9e729:^  But then you ~ib~killed off Kinzo~ib~...!!"^\\\n'
        'quakey 4,500\nadvchar "-1"\n\n;＜ベアト\n\nse1v 38,100\n'
        "langjp　激痛に咆哮しながら、青き楔を引き抜く。\\\n"
        "langen^As she howled in pain, she pulled out the blue wedge.^\\\n"
    )
    assert said(text) == [
        ("ベアト", 'But then you killed off Kinzo...!!"'),
        (None, "As she howled in pain, she pulled out the blue wedge."),
    ]
    assert said(text, dump_side="original")[0] == (
        "ベアト",
        "しかし、そなたは金蔵を殺してしまった…！！」",
    )


def test_short_ponscripter_lines_are_text_and_kaomoji_keep_their_carets() -> None:
    # umineko-question's `langen^However-^\`; natsu's 0.txt `翠「…加油吧↖(^ω^)↗！」\`.
    text = 'advchar "-1"\nlangjp　だがッ、\\\nlangen^However-^\\\n^Well.^\\\n'
    assert said(text) == [(None, "However-"), (None, "Well.")]
    assert said("*start\n翠「加油吧↖(^ω^)↗！」\\\n") == [("翠", "「加油吧↖(^ω^)↗！」")]
