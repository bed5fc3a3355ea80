"""A full stop after a name is no other speaker: a real Ren'Py game's English tl/ strings
name its heroine `Hermione.`, and the alias Hermione matched none of her 1,800 lines."""

from __future__ import annotations

from dataprep.records import Role
from dataprep.speakers import SpeakerMap, normalise_name

SPEAKERS = SpeakerMap.from_aliases(["Genie"], ["Hermione"])


def test_a_full_stop_after_a_name_compares_as_the_name() -> None:
    assert SPEAKERS.role("Hermione.") is Role.CHARACTER
    assert SpeakerMap.from_aliases(["Mr."], []).role("Mr") is Role.LEAD


def test_dots_that_are_the_name_stay_it() -> None:
    assert normalise_name("...") == "..."
    assert normalise_name("…") == "..."  # NFKC
    assert SPEAKERS.role("...") is Role.OTHER
