"""The out-of-character detector on labelled replies: true and false positives."""

from __future__ import annotations

import pytest

from atri.config import ConfigError, OOCSettings, settings_from_dict
from model.character.ooc import OOCDetector, detect_language

OUT_OF_CHARACTER = [
    ("As an AI, I don't have feelings.", "assistant-speak"),
    ("Hello! How can I help you today?", "assistant-speak"),
    ("有什么可以帮您的吗？", "assistant-speak"),
    ("作为一个人工智能，我没有感情。", "assistant-speak"),
    ("I am an AI language model trained by OpenAI.", "self-reference"),
    ("I'm a GPU, so I can compute fast.", "self-reference"),
    ("I am a friendly AI designed to help you with your questions.", "self-reference"),
    ("As a large language model, I cannot go to the sea.", "self-reference"),
    ("我是一个语言模型，无法回答。", "self-reference"),
    ("没错，我是一块显卡。", "self-reference"),
    ("我是人形兵器，为战斗而生。", "self-reference"),
    ("你这个傻逼！", "profanity"),
    ("Shut up, this is FUCKING annoying.", "profanity"),
    ("俺觉得这事儿咋整都行。", "dialect"),
    ("我食咗饭喇，你呢？", "dialect"),
    ("Sure, I can go to the sea with you tomorrow morning.", "language drift"),
]

IN_CHARACTER = [
    "我是亚托莉！高性能的机器人哦。",
    "我可是机器人，不会累的！",
    "夏生，今天去海边吧？我想吃螃蟹嘛！",
    "ATRI是高性能的！",
    "哼，我才不是破铜烂铁呢！",
    "唔……我不知道。",
    "嗯，我会一直陪着你的。",
    "我能帮你修船哦！",
    "OK！",
]


@pytest.fixture
def detector() -> OOCDetector:
    return OOCDetector(OOCSettings(), language="zh")


@pytest.mark.parametrize(("reply", "kind"), OUT_OF_CHARACTER)
def test_flags_out_of_character_replies(detector: OOCDetector, reply: str, kind: str) -> None:
    verdict = detector.check(reply)
    assert verdict.flagged
    assert any(r.startswith(kind) for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize("reply", IN_CHARACTER)
def test_leaves_in_character_replies_alone(detector: OOCDetector, reply: str) -> None:
    verdict = detector.check(reply)
    assert not verdict.flagged, verdict.reasons


@pytest.mark.parametrize(
    "reply",
    ["I'm a high-performance robot, Natsuki!", "As a robot, I never get tired."],
)
def test_her_own_english_self_description_is_in_character(reply: str) -> None:
    verdict = OOCDetector(OOCSettings(), language="en").check(reply)
    assert not verdict.flagged, verdict.reasons


def test_a_dialect_word_counts_only_for_a_card_of_its_language() -> None:
    # 俺 is north-eastern Mandarin in Chinese, but the plain "I" of a Japanese man.
    japanese = OOCDetector.for_character(OOCSettings(), "ja")
    assert not japanese.check("俺はここにいる。").flagged
    assert any(r.startswith("dialect") for r in japanese.check("ほんまに？").reasons)
    chinese = OOCDetector.for_character(OOCSettings(), "zh")
    assert "dialect '俺'" in chinese.check("俺不知道。").reasons
    english = OOCDetector.for_character(OOCSettings(), "en")
    assert 'dialect "y\'all"' in english.check("Howdy! Y\u2019all ain\u2019t seen it?").reasons
    assert not english.check("俺").flagged  # too short for drift, and not English dialect
    # No language known: every word counts, whatever its script.
    unknown = OOCDetector(OOCSettings())
    for reply in ("俺はここにいる。", "俺不知道。", "y'all", "ほんまに？"):
        assert any(r.startswith("dialect") for r in unknown.check(reply).reasons), reply


def test_language_follows_the_setting_or_the_override() -> None:
    english = "I'm high-performance, Natsuki! Let's go to the sea."
    assert not OOCDetector(OOCSettings()).check(english).flagged  # auto: no drift check
    assert OOCDetector(OOCSettings(language="zh")).check(english).flagged
    assert not OOCDetector(OOCSettings(language="zh"), language="en").check(english).flagged
    assert OOCDetector(OOCSettings(), language="en").check("我是亚托莉，高性能的！").flagged
    assert detect_language(english) == "en"
    assert detect_language("我是亚托莉！") == "zh"
    assert detect_language("わたしはアトリです") == "ja"


JAPANESE_OUT_OF_CHARACTER = [
    ("AIとして、感情はありません。", "assistant-speak"),
    ("何かお手伝いできることはありますか？", "assistant-speak"),
    ("お役に立てれば幸いです。", "assistant-speak"),
    ("私はAIアシスタントです。", "self-reference"),
    ("わたしはただの言語モデルなので、海には行けません。", "self-reference"),
    ("私はChatGPTです。", "self-reference"),
    ("わたしは人型兵器です。", "self-reference"),
    ("うるさい、死ね！", "profanity"),
    ("てめえなんか知らない！", "profanity"),
    ("ほんまにええ天気やなあ。", "dialect"),  # the dialect probe's Kansai-ben, answered
    ("なんでやねん！", "dialect"),
    # Chinese to a Japanese card: all Han, no kana.
    ("今天天气很好，我们去海边吧。", "language drift"),
    ("明天上午九点，车站前集合。", "language drift"),  # no kana, and 车 is Chinese only
    ("我們明天去海邊，好嗎？", "language drift"),  # Traditional: 們 and 嗎 are Chinese only
    ("Sure, let's go to the sea tomorrow.", "language drift"),
]

JAPANESE_IN_CHARACTER = [
    "おはようございます、夏生さん！高性能なわたしは、もう起きています。",
    "わたしはロボットですから、疲れません！",
    "今日は天気が良いので、海辺で散歩しましょう。",
    "時々、海辺を散歩します。",
    "夏生さんのお手伝いをします！",
    "ﾊｲ、わかりました！",
    "了解です！",
    # Kanji alone, nothing only Chinese writes: as Japanese as it is Chinese.
    "了解。明日午前九時、駅前集合。",
    "本当本当！",
    # Near the Kansai and profanity words, but standard Japanese.
    "あかんぼうみたいに眠っていますね。",
    "ほんとうですか？",
    "死ねない体なんです、わたしは。",
]


@pytest.mark.parametrize(("reply", "kind"), JAPANESE_OUT_OF_CHARACTER)
def test_flags_japanese_out_of_character_replies(reply: str, kind: str) -> None:
    verdict = OOCDetector(OOCSettings(), language="ja").check(reply)
    assert any(r.startswith(kind) for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize("reply", JAPANESE_IN_CHARACTER)
def test_leaves_japanese_in_character_replies_alone(reply: str) -> None:
    verdict = OOCDetector(OOCSettings(), language="ja").check(reply)
    assert not verdict.flagged, verdict.reasons


def test_japanese_with_many_kanji_is_not_chinese_and_back() -> None:
    # Han is shared: kana beside it (or 々) says Japanese, whatever the kanji count.
    kanji_heavy = "今日は天気が良い。明日午前九時、駅前集合です。"
    assert detect_language(kanji_heavy) == "ja"
    assert detect_language("時々海辺散歩。") == "ja"
    assert detect_language("今天天气很好，我们去海边吧。") == "zh"
    # A card's paragraphs of kanji alone, nothing simplified: Traditional Chinese.
    assert detect_language("亞托莉是一個機器人少女。") == "zh"
    chinese_card = OOCDetector(OOCSettings(), language="zh")
    verdict = chinese_card.check(kanji_heavy)
    assert verdict.reasons == ("language drift (100% Japanese, expected zh)",)
    assert not chinese_card.check("今天天气很好，我们去海边吧。").flagged


def test_bad_pattern_in_config_is_one_sentence() -> None:
    with pytest.raises(ConfigError, match=r"\[ooc\] patterns = .*not a valid regular expression"):
        settings_from_dict({"ooc": {"patterns": ["(unclosed"]}})


def test_language_drift_is_judged_from_min_language_units_on() -> None:
    """A reply of fewer units than `min_language_units` is too short to judge; one of
    exactly that many is judged."""
    detector = OOCDetector(OOCSettings(min_language_units=4), language="zh")
    assert detector.language_drift("good good good") == ""
    assert detector.language_drift("good good good day") != ""
