"""Speaker names and reply filters that no test held: an alias written in Traditional
characters under `traditional_to_simplified`, a name listed for both speakers, case in
the near-duplicate filter, and the `max_reply_chars` boundary."""

from __future__ import annotations

from collections import Counter

import pytest

from dataprep.clean import FilterRules, filter_samples
from dataprep.records import Role
from dataprep.speakers import SpeakerMap
from tests.dataprep.test_clean import sample


def test_an_alias_written_in_traditional_characters_still_names_her() -> None:
    # Speakers are converted before they are looked up: the alias must be too, or a
    # Traditional script's lines of hers (all of them) would go as someone else's.
    pytest.importorskip("opencc")
    from dataprep.clean import opencc_t2s

    speakers = SpeakerMap.from_aliases(["夏生"], ["亞托莉"], convert=opencc_t2s())
    assert speakers.role("亞托莉") is Role.CHARACTER
    assert speakers.role("亚托莉") is Role.CHARACTER
    assert speakers.role("夏生") is Role.LEAD


def test_a_name_listed_for_both_speakers_is_the_character() -> None:
    speakers = SpeakerMap.from_aliases(["Atri", "夏生"], ["Atri"])
    assert speakers.role("Atri") is Role.CHARACTER
    assert speakers.role("夏生") is Role.LEAD


def test_near_duplicates_that_differ_only_in_case_are_dropped() -> None:
    first = sample("Where are we going?", "To the sea, of course!", 1)
    shouted = sample("where are we going", "TO THE SEA, OF COURSE!", 2)
    drops: Counter[str] = Counter()
    kept = filter_samples([first, shouted], FilterRules(), drops, Counter())
    assert kept == [first]
    assert drops == Counter(near_duplicate=1)


def test_a_reply_of_max_reply_chars_is_kept_and_one_character_more_is_not() -> None:
    rules = FilterRules(max_reply_chars=10, short_reply_max_chars=0)
    ten = sample("q1", "一二三四五六七八九十", 1)
    eleven = sample("q2", "一二三四五六七八九十一", 2)
    drops: Counter[str] = Counter()
    assert filter_samples([ten, eleven], rules, drops, Counter()) == [ten]
    assert drops == Counter(too_long=1)
