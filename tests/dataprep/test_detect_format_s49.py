"""A Ren'Py script with a space before Character's bracket (`Character ("Zaina")`, which
Python allows and real games write) is told to be Ren'Py from its lines, as one without."""

from __future__ import annotations

import pytest

from dataprep.formats import detect_format


@pytest.mark.parametrize("space", ["", " "])
def test_character_definitions_are_renpy_signs_with_or_without_a_space(space: str) -> None:
    text = (
        f'define z = Character{space}("Zaina")\n'
        f'define k = DynamicCharacter{space}("kevin_name")\n'
        'z "Hello."\n'
    )
    assert detect_format(text, "script.txt") == "renpy"
