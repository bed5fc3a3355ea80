"""The speed-ups of session 47 answer as the slower code they replaced did.

Each test holds the replaced code as a reference and compares on random input: the
{{user}} replacer's template path, a sample's history window, and the one scan that
decides whether a slice's lines may be wrapped.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.clean import (
    USER_PLACEHOLDER,
    _case_forms,
    _is_a_word_here,
    _name_pattern,
    placeholder_replacer,
)
from dataprep.formats import plain
from dataprep.records import Role, Turn
from dataprep.turns import TurnRules, _samples_of


def _replaced_by_function(names: list[str], text: str) -> str:
    """The replacer as it was: a Python function deciding each match."""
    forms = {form for n in names for form in _case_forms(n)}  # NATSUKI, natsuki too
    pattern = re.compile("|".join(_name_pattern(n) for n in sorted(forms, key=len, reverse=True)))
    return pattern.sub(lambda m: m[0] if _is_a_word_here(m) else USER_PLACEHOLDER, text)


NAME_TEXT = st.lists(
    st.sampled_from(["夏生", "斑鸠夏生", "Kaito", "kaito", "Natsuki", "'", "’", " ", "君", "まれ"])
    | st.sampled_from(list("a1，。\\{}"))
).map("".join)


@settings(max_examples=300, deadline=None)
@given(NAME_TEXT)
def test_the_template_replaces_what_the_function_did(text: str) -> None:
    names = ["斑鸠夏生", "夏生", "Natsuki", "Kaito"]
    assert placeholder_replacer(names)(text) == _replaced_by_function(names, text)


def test_a_lead_named_like_a_word_still_goes_through_the_function() -> None:
    replace = placeholder_replacer(["Will", "夏生"])
    assert replace("Will you come, Will? 夏生！") == "Will you come, {{user}}? {{user}}！"


def _windows_by_looking_back(turns: list[Turn], first: int, rules: TurnRules) -> list[object]:
    """Where each of her turns' history started before: found by looking back from it."""
    found: list[object] = []
    for i, turn in enumerate(turns):
        if turn.role is not Role.CHARACTER or i == 0 or i < first:
            continue
        start = max(0, i - rules.context_turns)
        if rules.max_turn_chars is not None:
            for j in range(i - 1, start - 1, -1):
                if len(turns[j].text) > rules.max_turn_chars:
                    start = j + 1
                    break
            if start == i:
                found.append(("prompt_too_long", i))
                continue
        if turns[start].role is Role.CHARACTER:
            start += 1
        found.append([(t.role, t.text) for t in turns[start : i + 1]])
    return found


TURNS = st.lists(
    st.tuples(st.sampled_from([Role.LEAD, Role.CHARACTER]), st.integers(1, 12)),
    min_size=1,
    max_size=14,
)


@settings(max_examples=400, deadline=None)
@given(TURNS, st.integers(0, 14), st.integers(1, 8), st.sampled_from([None, 3, 6, 10]))
def test_the_history_window_starts_where_looking_back_found_it(
    shape: list[tuple[Role, int]],
    first: int,
    context: int,
    longest: int | None,
) -> None:
    turns = [Turn(role, "x" * n, [("f", i)]) for i, (role, n) in enumerate(shape)]
    rules = TurnRules(context_turns=context, max_turn_chars=longest)
    dropped: Counter[str] = Counter()
    samples = list(_samples_of(turns, first, ("f", "0"), rules, dropped, defaultdict(Counter)))
    expected = _windows_by_looking_back(turns, first, rules)
    assert [s.turns for s in samples] == [w for w in expected if isinstance(w, list)]
    too_long = [w for w in expected if isinstance(w, tuple)]
    assert dropped["prompt_too_long"] == len(too_long)


WRAP_TEXT = st.lists(
    st.sampled_from([*'"「」『』“”﹁﹂\n \t\u3000，、,abXY好。', "\n  a", "，\n", "「a\n"])
).map("".join)


@settings(max_examples=500, deadline=None)
@given(WRAP_TEXT)
def test_one_scan_finds_the_slices_four_did(chunk: str) -> None:
    four = (
        '"' in chunk
        or plain._UNCLOSED.search(chunk) is not None
        or plain._LOWER_LINE.search(chunk) is not None
        or re.search(r"[，、,][^\S\n]*\n", chunk) is not None
    )
    assert (plain._MAY_BE_WRAPPED.search(chunk) is not None) == four
