"""Each cleaning rule, and each sample filter with its drop reason."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from dataprep.clean import (
    FilterRules,
    clean_text,
    filter_samples,
    is_interjection_only,
    opencc_t2s,
    placeholder_replacer,
)
from dataprep.records import Role, Sample


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("嗯・・・・・・・", "嗯……"),
        ("等等......你说什么", "等等……你说什么"),
        ("是吗…", "是吗……"),
        ("是吗………………", "是吗……"),
        ("好。。。", "好……"),
        ("诶‥‥", "诶……"),
        ("什么！！！！", "什么！！"),
        ("真的？？？？？", "真的？？"),
        ("好耶～～～", "好耶～"),
        ("啊————————", "啊——"),
        ("すごーーーい", "すごーーーい"),
        ("「我是高性能的！」", "我是高性能的！"),
        ("『秘密哦』", "秘密哦"),
        ("“走吧”", "走吧"),
        ("「还没说完", "还没说完"),
        ("说完了」", "说完了"),
        ("「一」「二」", "「一」「二」"),
        ("我喜欢螃蟹（注：这里是双关）", "我喜欢螃蟹"),
        ("好的(原文：了解)", "好的"),
        ("OK (TN: literally 'understood')", "OK"),
        ("[voice storage=atr_001.ogg]早上好", "早上好"),
        ("早上好 atr_0001.ogg", "早上好"),
        ("<font color=red>危险</font>！", "危险！"),
        ("{i}胜利{/i}是我的！", "胜利是我的！"),
        ("｜高性能《こうせいのう》", "高性能"),
        ("我读过《三体》", "我读过《三体》"),
        ("  多余的　 空格  ", "多余的　空格"),  # a run holding a full-width space: one
        ("「」", ""),
    ],
)
def test_clean_text_rules(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # Voice and sound references with a CJK keyword, or in 【】, stayed in the text.
        ("[语音：atr_0012]海风很大。", "海风很大。"),
        ("【语音：atr_0012】「早。」", "早。"),
        ("【voice:atr_0012】Morning.", "Morning."),
        ("[ボイス：atr_0012]おはよう。", "おはよう。"),
        ("（SE：door_01.ogg）门开了。", "门开了。"),
        ("门开了。【音效： se_door01 】", "门开了。"),
        # Words after a keyword and a colon are speech, not a reference.
        ("【语音：你好】是我说的。", "【语音：你好】是我说的。"),
        ("「[重要：记住]这个。」", "[重要：记住]这个。"),
        ("(Sound: thunder) It rains.", "(Sound: thunder) It rains."),
    ],
)
def test_clean_text_removes_sound_references(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
    # From a KiriKiri or Ren'Py line too, whose markup its parser already handled: a
    # reference there stayed in the dataset.
    assert clean_text(raw, markup=False) == clean


def test_text_a_parser_left_keeps_its_brackets() -> None:
    # Ren'Py's [[Keep Out] is shown as "[Keep Out]": only a sound reference goes.
    raw = "[Keep Out]【voice:atr_0012】{Danger} <b>"
    assert clean_text(raw, markup=False) == "[Keep Out]{Danger} <b>"


def test_traditional_to_simplified() -> None:
    assert clean_text("「機器人也會做夢嗎？」", opencc_t2s()) == "机器人也会做梦吗？"


def test_traditional_to_simplified_never_touches_japanese() -> None:
    # Kanji in a Japanese line are not Traditional Chinese: 會話 became 会话, 髮 became 发.
    to_simplified = opencc_t2s()
    assert clean_text("私は會話が苦手です。", to_simplified) == "私は會話が苦手です。"
    assert clean_text("ｱﾄﾘの髮", to_simplified) == "ｱﾄﾘの髮"
    assert (
        clean_text("愛因斯坦・阿爾伯特", to_simplified) == "爱因斯坦・阿尔伯特"
    )  # 「・」 is Chinese too


@pytest.mark.parametrize("reply", ["嗯……", "啊！？", "……", "えっ", "うーん…", "Hmm...", "诶嘿嘿"])
def test_interjection_only(reply: str) -> None:
    assert is_interjection_only(reply)


# Japanese scripts write a sound in katakana as often as in hiragana, and half-width in
# old dumps; きゃ, ひゃ, わ are as wordless as 哇.
@pytest.mark.parametrize(
    "reply",
    [
        "エッ！？",
        "ｴｯ",
        "ア……",
        "ウーン",
        "ｳｰﾝ",
        "キャー",
        "きゃっ！",
        "ひゃあっ！",
        "わぁ……",
        "うわぁ！",
        "ちっ",
    ],
)
def test_japanese_interjection_only(reply: str) -> None:
    assert is_interjection_only(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "嗯，好的。",
        "はい",
        "ハイ",
        "あれ？",
        "わたし",
        "わかった",
        "アトリ",
        "ウソ",
        "我是高性能的！",
        "Oh no, the crab!",
    ],
)
def test_not_interjection(reply: str) -> None:
    assert not is_interjection_only(reply)


def test_placeholder_longest_name_first_and_word_bounded() -> None:
    replace = placeholder_replacer(["夏生", "斑鸠夏生", "Kaito"])
    assert replace("斑鸠夏生，早上好！夏生先生？") == "{{user}}，早上好！{{user}}先生？"
    assert replace("Kaito! Not Kaitoh.") == "{{user}}! Not Kaitoh."


def sample(prompt: str, reply: str, line: int) -> Sample:
    return Sample(
        turns=[(Role.LEAD, prompt), (Role.CHARACTER, reply)],
        source="s.txt",
        scene="1",
        reply_lines=[("s.txt", line)],
    )


def test_filters_name_each_drop_reason() -> None:
    samples = [
        sample("你好", "嗯……", 1),
        sample("你好", "好", 2),
        sample("你好", "我" * 50, 3),
        sample("吃吗？", "要吃！", 4),
        sample("吃吗？", "要吃！", 5),
        sample("吃吗", "要吃!!", 6),
        sample("a", "是的。", 7),
        sample("b", "是的。", 8),
        sample("c", "是的。", 9),
        sample("d", "是的。", 10),
        sample("e", "我是高性能的机器人哦。", 11),
    ]
    drops: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    rules = FilterRules(min_reply_chars=2, max_reply_chars=40, max_short_reply_repeats=3)
    kept = filter_samples(samples, rules, drops, lines)
    assert [s.reply_lines[0][1] for s in kept] == [4, 7, 8, 9, 11]
    assert drops == Counter(
        interjection_only=1,
        too_short=1,
        too_long=1,
        duplicate=1,
        near_duplicate=1,
        repeated_short_reply=1,
    )
    assert lines == drops  # one ATRI line per sample here


def test_filters_can_be_turned_off() -> None:
    rules = FilterRules(drop_interjections=False, drop_near_duplicates=False)
    kept = filter_samples(
        [sample("你好", "嗯……", 1), sample("吃吗？", "要吃！", 2), sample("吃吗", "要吃!!", 3)],
        rules,
        Counter(),
        Counter(),
    )
    assert len(kept) == 3


def test_placeholder_keeps_honorifics_alike() -> None:
    # The default aliases list 夏生君 beside 夏生: every honorific stays after {{user}}.
    replace = placeholder_replacer(["夏生", "斑鳩夏生", "夏生君", "Natsuki", "Natsuki Kaito"])
    assert replace("夏生さん、夏生くん、夏生君、斑鳩夏生さま") == (
        "{{user}}さん、{{user}}くん、{{user}}君、{{user}}さま"
    )
    assert replace("Natsuki Kaito!") == "{{user}}!"


@pytest.mark.parametrize(
    ("lead", "text", "expected"),
    [
        (["Me"], "Will you marry me?", "Will you marry me?"),
        (["Me"], "Me? Sure.", "Me? Sure."),  # a pronoun label: the word, never replaced
        (["m"], "I'm fine.", "I'm fine."),
        (["Mike"], "I'm fine, Mike.", "I'm fine, {{user}}."),
        (["Kaito"], "Kaito's bag. Kaitos. O'Kaito.", "{{user}}'s bag. Kaitos. O'Kaito."),
        (["Rose"], "The sun rose.", "The sun rose."),  # a word in lower case: never his
        (["夏生"], "夏生，等等我！", "{{user}}，等等我！"),
        (["夏生"], "夏生まれの人は、夏生さんみたいに", "夏生まれの人は、{{user}}さんみたいに"),
    ],
)
def test_placeholder_never_touches_ordinary_words(
    lead: list[str], text: str, expected: str
) -> None:
    assert placeholder_replacer(lead)(text) == expected


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Wait... what?!", "Wait... what?!"),
        ("No!!!! Never!!!", "No!!!! Never!!!"),
        ("Well… okay.", "Well… okay."),
        ("So~~ cute", "So~~ cute"),
        ("等等...你说什么", "等等……你说什么"),
        ("えっ...！！！", "えっ……！！"),
        ("<| bg beach |>好的", "好的"),
    ],
)
def test_punctuation_rules_apply_to_cjk_lines_only(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    "line",
    [
        "[" + "a." * 25_000,  # a file name was tried at each "." and letter of the run
        "[" + "a." * 25_000 + " x.ogg",
        "<|" * 25_000,  # each unclosed engine block was read to the end of the line
        "(注" * 25_000,  # each unclosed note was read to the end of the line
        "[a" * 25_000,  # each "[" read the ASCII run to its end looking for "]"
        "[voice:a1" * 10_000,
        "｜字《" * 20_000,  # each unclosed ruby was read to the end of the line
    ],
)
def test_a_long_line_is_cleaned_at_once(line: str) -> None:
    started = time.perf_counter()
    cleaned = clean_text(line)
    assert time.perf_counter() - started < 1
    assert cleaned == line.removesuffix(" x.ogg")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../voice/atr_001.ogg 你好", "../ 你好"),  # as before: the run's first word on
        ("(voice.ogg)你好", "你好"),
        ("x(voice.ogg)你好", "x你好"),
        ("a.b.c/voice.wav.txt", ".txt"),
        ("<| show bg |>你好", "你好"),
    ],
)
def test_file_names_and_engine_blocks_go_as_before(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
