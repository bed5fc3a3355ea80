"""The cleaning stage skips the lines `may_change` leaves out: each must come out of
`clean_text` exactly as it went in, or the files would change."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.clean import (
    _BLANKS,
    clean_text,
    interjections_only,
    is_interjection_only,
    may_change,
)

# Quote marks, page-end marks, blanks, rule triggers and slot starts, beside plain text.
EDGY = st.text(
    alphabet=st.sampled_from(
        list('夏生亚托莉abc 。，！？…・.「」『』“”"‘’﹁﹂\\@\u3000\t\n%([{<:注')
    ),
    max_size=12,
)


@given(st.lists(EDGY, max_size=8))
@settings(max_examples=400, deadline=None)
def test_a_line_left_out_is_left_as_it_is(texts: list[str]) -> None:
    changing = set(may_change(texts))
    for i, text in enumerate(texts):
        if i not in changing:
            assert clean_text(text) == text
            assert clean_text(text, markup=False) == text


def test_lines_that_change_or_hold_a_slot_are_found() -> None:
    texts = [
        "今天天气真好。",  # nothing to do
        "「早上好」",  # quotes
        "好吧」",  # a closer alone
        " 你好",  # a blank
        "嗯・・・",  # an ellipsis
        "等等\\",  # a page-end mark
        "",  # empty
        "%(name)s来了",  # a slot
        "明天见！",
    ]
    assert may_change(texts) == [1, 2, 3, 4, 5, 6, 7]


# Sounds, answers, full-width letters (which NFKC changes) and words.
NOISY = st.text(
    alphabet=st.sampled_from(list("嗯啊えっうんーエッｳｰﾝＡａhmOK…・。！？～ 好的")), max_size=8
)


@given(st.lists(NOISY, max_size=8))
@settings(max_examples=400, deadline=None)
def test_noise_of_many_texts_is_the_noise_of_each(texts: list[str]) -> None:
    assert interjections_only(texts) == [is_interjection_only(t) for t in texts]


def test_full_width_noise_in_a_batch_is_found() -> None:
    # ｳｰﾝ is noise only once NFKC makes it ウーン: the batch test must not skip it.
    assert interjections_only(["好的。", "ｳｰﾝ……", "嗯……", "うん。"]) == [False, True, True, False]


def test_every_blank_strip_strips_is_looked_for() -> None:
    blanks = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert blanks == set(_BLANKS)
