"""Properties: no parser raises on any input; every kept reply came from an ATRI line."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atri.config import DataprepSettings
from dataprep.clean import USER_PLACEHOLDER, apply_text_rules, clean_text, placeholder_replacer
from dataprep.encoding import decode_bytes
from dataprep.errors import DataprepError
from dataprep.formats import PARSERS, ParseOptions, compile_markers, detect_format
from dataprep.pipeline import run_pipeline
from dataprep.turns import TURN_JOINER

# Characters every format treats specially, so that random text hits the parsers' edges.
SCRIPT_ALPHABET = st.sampled_from(
    [
        *list(
            '夏生亚托莉水菜萌ATRIabc \u3000\t\n\r：:「」『』“”"【】[]@#*;|=rlp{}\\/.。…・！？（注）'
        ),
        "[p]",
        "[r]",
        "[l]",
        '[nm t="',
        "#亚托莉\n",
        "*label\n",
        'define a = Character("亚托莉")\n',
        'a "',
        "translate chinese x_1a2b3c4d:\n",
        "｜高性能《",
        "]]",
        "[[",
        # Artemis .ast: a table's pieces.
        "ast = {",
        "b = {",
        'text = {ja = {{name = {"亚托莉"}, "',
        '{"rt2"}',
        "--",
        "[1] = ",
        "},",
    ]
)
OPTIONS = ParseOptions(
    scene_marker=compile_markers(DataprepSettings().scene_markers),
    custom_regex=re.compile(r"^(?P<speaker>[^|]+)\|(?P<text>.*)$"),
    renpy_characters={"a": "亚托莉"},
)


@settings(max_examples=150, deadline=None)
@given(st.lists(SCRIPT_ALPHABET, max_size=80).map("".join) | st.text(max_size=300))
def test_no_parser_raises_on_arbitrary_text(text: str) -> None:
    for name, parse in PARSERS.items():
        try:
            said = parse(text, "fuzz.txt", OPTIONS)
        except DataprepError as exc:
            # JSON (a message list, RPG Maker data) is all or nothing, and a table whose
            # columns cannot be told: other text is one sentence why. So is an Artemis
            # script (a Lua table), whose sentence names the line where it breaks.
            assert name in ("json", "rpgmaker", "csv", "artemis"), exc
            shapes = ("fuzz.txt: line ", "fuzz.txt: has no ") if name == "artemis" else ()
            assert str(exc).startswith(("fuzz.txt: is ", *shapes)), exc
            assert str(exc).count(".") >= 1 and "\n" not in str(exc), exc
            continue
        for utterance in said:
            assert utterance.text.strip(), name
            assert utterance.line >= 1
    assert detect_format(text, "fuzz.txt") in PARSERS
    clean_text(text)


# Everything a text rule looks for, and what sits next to it: quotes, blanks, dots, dashes.
CLEANER_ALPHABET = st.sampled_from(
    [
        *'「」『』“”"‘’﹁﹂ \u3000\t\n\r\u2000…‥⋯・･·.。！!？?～〜~—―─ー()（）【】[]〔〕《》｜<>{}注a亚Ｂｶ',
        *(".ogg", "(注：", "……", "[wait]"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CLEANER_ALPHABET, max_size=16).map("".join) | st.text(max_size=40))
def test_clean_text_fast_path_gives_what_every_rule_gives(text: str) -> None:
    assert clean_text(text) == apply_text_rules(text)


LEAD_NAMES = ["夏生", "斑鸠夏生", "Kaito", "Natsuki Kaito", "Mo", "-Ka"]
NAME_ALPHABET = st.sampled_from([*LEAD_NAMES, *"KaitoNMeo夏生斑鸠 '’-_1。xさ"])


@settings(max_examples=300, deadline=None)
@given(st.lists(NAME_ALPHABET, max_size=12).map("".join))
def test_lead_names_are_replaced_where_the_plain_pattern_replaces_them(text: str) -> None:
    # The plain pattern: a Latin-script name with its word-boundary test in front, where a
    # Han character or kana is no letter of a Latin word (有sensei在, Kaitoさん).
    names = sorted(LEAD_NAMES, key=len, reverse=True)
    letter = r"[^\W\u3001-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff01-\uff9f]"
    plain = "|".join(
        rf"(?<!{letter})(?<!['’-]){re.escape(n)}(?!{letter})" if n.isascii() else re.escape(n)
        for n in names
    )
    expected = re.sub(plain, USER_PLACEHOLDER, text)
    assert placeholder_replacer(LEAD_NAMES)(text) == expected


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_decoding_arbitrary_bytes_gives_text_or_one_sentence(data: bytes) -> None:
    try:
        text, encoding = decode_bytes(data, "fuzz.bin")
    except DataprepError as exc:
        assert str(exc).startswith("fuzz.bin: ")
    else:
        assert isinstance(text, str) and encoding


SPEAKERS = st.sampled_from(["夏生", "亚托莉", "水菜萌", None])
# Words, punctuation and noise of every kind the cleaner handles; no line breaks.
LINE_TEXT = st.lists(
    st.sampled_from(
        [
            "我",
            "是",
            "高性能",
            "的",
            "嗯",
            "啊",
            "螃蟹",
            "！",
            "？",
            "……",
            "・・・",
            "...",
            "「",
            "」",
            "（注：译者）",
            "～～",
            "Hi",
            " ",
            "夏生",
            "[voice]",
            "<b>",
        ]
    ),
    min_size=1,
    max_size=8,
).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(SPEAKERS, LINE_TEXT), min_size=1, max_size=40))
def test_every_kept_reply_came_from_atri_lines(rows: list[tuple[str | None, str]]) -> None:
    lines = [f"{who}：{text}" if who else f"旁白：{text}" for who, text in rows]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.txt"
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        config = DataprepSettings(user_placeholder=False, eval_ratio=0, min_reply_chars=1)
        result = run_pipeline(config, [script])
    for sample in result.train + result.evaluation:
        sources = [rows[number - 1] for _, number in sample.reply_lines]
        assert all(who == "亚托莉" for who, _ in sources)
        assert sample.reply == TURN_JOINER.join(clean_text(text) for _, text in sources)
    stats = result.stats
    assert stats.character_lines_in == stats.character_lines_kept + sum(
        stats.character_lines_dropped.values()
    )
