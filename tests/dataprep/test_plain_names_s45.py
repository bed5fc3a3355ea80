"""The plain parser tidies each speaker's name once and hands every line of that speaker
one string object (the later stages hash it once); tidying is unchanged."""

from __future__ import annotations

from dataprep.formats import ParseOptions, plain


def test_one_speaker_is_one_name_object_tidied_as_before() -> None:
    text = "斑鳩\u3000夏生：早上好。\n亚托莉：早上好！\n斑鳩\u3000夏生：走吧。\n亚托莉：好的。\n"
    said = plain.parse(text, "a.txt", ParseOptions())
    assert [u.speaker for u in said] == ["斑鳩夏生", "亚托莉", "斑鳩夏生", "亚托莉"]
    assert said[0].speaker is said[2].speaker
    assert said[1].speaker is said[3].speaker


def test_ever_new_names_stay_tidied_past_the_cap() -> None:
    names = [f"Name  {i}" for i in range(plain._MAX_NAMES + 10)]
    text = "".join(f"{n}: hello there.\n" for n in names) + f"{names[0]}: again.\n"
    said = plain.parse(text, "b.txt", ParseOptions())
    assert [u.speaker for u in said] == [" ".join(n.split()) for n in [*names, names[0]]]
