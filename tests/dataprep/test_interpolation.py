"""Variables in a line (Ren'Py `[player]`, KiriKiri `[emb exp=…]`): resolved when the
scripts give their value, else the line is dropped and counted, never left with a hole."""

from __future__ import annotations

import time
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.formats.renpy import names as renpy_names
from dataprep.pipeline import run_pipeline
from tests.dataprep.conftest import FIXTURES

PLAYER = FIXTURES / "player_name" / "script.rpy"


def eileen(**dataprep: object) -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["Max"],
        character_aliases=["Eileen"],
        eval_ratio=0,
        **dataprep,  # type: ignore[arg-type]
    )


def test_the_players_name_is_the_placeholder_and_unknown_variables_drop_the_line() -> None:
    # It came out "Good morning, ! Ready for 's festival?" (the [player] left as written
    # and stripped as markup by the clean stage).
    result = run_pipeline(eileen(), [PLAYER])
    assert [s.reply for s in result.train] == [
        "Good morning, {{user}}! Ready for Harborside's festival?",
        "Yes, let's go!",
    ]
    # The lead's Character("[player]") is the lead.
    assert [(s.name, s.role) for s in result.stats.speakers] == [
        ("Eileen", "character"),
        ("Max", "lead"),
    ]
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1
    clean = next(s for s in result.stats.stages if s.stage == "clean text")
    assert clean.dropped["unresolved_variable"] == 1
    # Only the variable that had no value is named, not [player] beside it.
    assert [n for n in result.notes if "[points] in 1 line (no file given sets it" in n]
    assert not [n for n in result.notes if "[player]" in n]
    assert clean.count_out == clean.count_in - 1


def test_without_the_placeholder_the_player_is_the_leads_name() -> None:
    result = run_pipeline(eileen(user_placeholder=False), [PLAYER])
    assert result.train[0].reply == "Good morning, Max! Ready for Harborside's festival?"


def test_input_chains_literals_and_escaped_brackets_at_parse_level() -> None:
    text = (
        'define e = Character("Eileen")\n'
        'define mc = _("Captain")\n'
        "label start:\n"
        '    python:\n        name = renpy.input("Name?").strip().title()\n'
        '    e "Hello [name], [mc]."\n'
        '    e "Two [[brackets] stay."\n'
        '    e "Who is [stranger!u]?"\n'
    )
    assert renpy_names.input_variables(text) == {"name"}
    assert renpy_names.string_variables(text) == {"mc": "Captain"}
    options = ParseOptions(renpy_variables={"name": "{{user}}", "mc": "Captain"})
    found = parse(text, "s.rpy", "renpy", options)
    assert [(u.text, u.dropped) for u in found] == [
        ("Hello {{user}}, Captain.", None),
        ("Two [brackets] stay.", None),
        ("Who is [stranger!u]?", "unresolved_variable"),
    ]


def test_kirikiri_emb_of_a_game_variable_drops_the_line(tmp_path: Path) -> None:
    script = tmp_path / "morning.ks"
    script.write_text(
        "*start\n"
        '[nm t="夏生"]早上好。[p]\n'
        '[nm t="亚托莉"]早上好，[emb exp="f.name"]先生！[p]\n'
        '[nm t="夏生"]今天做什么？[p]\n'
        '[nm t="亚托莉"]去海边玩吧！[p]\n',
        encoding="utf-8",
    )
    result = run_pipeline(DataprepSettings(eval_ratio=0), [script])
    assert [s.reply for s in result.train] == ["去海边玩吧！"]
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1


def test_dynamic_characters_are_named_by_their_variable_or_their_short_name() -> None:
    # DynamicCharacter("f_name") spoke as "f_name": a name no alias would think of.
    result = run_pipeline(
        DataprepSettings(lead_aliases=["Max"], character_aliases=["f"], eval_ratio=0),
        [FIXTURES / "dynamic" / "script.rpy"],
    )
    assert [(s.name, s.lines, s.role) for s in result.stats.speakers] == [
        ("Max", 3, "lead"),  # DynamicCharacter("player_name"), the typed name: the lead
        ("Eileen", 1, "other"),
        ("Grace", 1, "other"),  # Character("g_name", dynamic=True), default g_name = "Grace"
        ("f", 1, "character"),  # f_name is never given a string: the short name, aliasable
    ]
    assert [s.reply for s in result.train] == ["Morning. Who am I today?"]


def test_one_line_python_strings_resolve_and_different_strings_are_never_guessed() -> None:
    # `$ pet = "Mochi"` was not read (the line was dropped); `define rival` given "Ren" in
    # one file and "Rin" in the other took the last file's; `$ mood` given two strings in
    # one file must not be guessed either.
    result = run_pipeline(eileen(), [FIXTURES / "variables"])
    assert [s.reply for s in result.train] == [
        "This is Harborside.",
        "That is Mochi, my cat.",
        "Only Harborside's mayor.",
    ]
    assert result.stats.character_lines_dropped["unresolved_variable"] == 2  # mood, rival
    # The run names the variables and why neither value was used.
    assert result.notes == [
        "Lines showing a variable with no single known value were dropped:"
        ' [mood] in 1 line (given "happy" and "sad"); [rival] in 1 line (given "Ren" and'
        ' "Rin"). A `define` with its value in a file given settles one.'
    ]
    text = (FIXTURES / "variables" / "a.rpy").read_text(encoding="utf-8")
    assert renpy_names.string_variables(text) == {
        "town": "Harborside",
        "rival": "Ren",
        "pet": "Mochi",
    }


def test_variables_with_no_single_string_are_listed_with_their_values() -> None:
    names = renpy_names.ScriptNames()
    names.add(
        'label a:\n    $ mood = moods[i]\n    $ pet = "Mochi"\n    $ x = "a"\n    $ x = "b"\n'
    )
    assert names.known() == {"pet": "Mochi"}
    assert names.unsettled() == {"mood": (renpy_names.NOT_A_STRING_VALUE,), "x": ("a", "b")}


def test_strings_set_in_python_blocks_resolve_but_a_functions_locals_do_not(
    tmp_path: Path,
) -> None:
    # `town = "Harborside"` in an `init python:` block was not read: the line was dropped.
    script = tmp_path / "script.rpy"
    script.write_text(
        'define e = Character("Eileen")\n'
        'define m = Character("Max")\n'
        "init -1 python:\n"
        '    town = "Harborside"\n'
        "\n"
        "    def greet():\n"
        '        mood = "cheerful"\n'
        "label start:\n"
        "    python:\n"
        '        pet = _("Mochi")\n'
        '    m "Where are we?"\n'
        '    e "This is [town], and that is [pet]."\n'
        '    m "How are you?"\n'
        '    e "I feel [mood]."\n',
        encoding="utf-8",
    )
    result = run_pipeline(eileen(), [script])
    assert [s.reply for s in result.train] == ["This is Harborside, and that is Mochi."]
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1
    assert any("[mood] in 1 line (no file given sets it" in n for n in result.notes)


def test_escaped_brackets_and_braces_survive_cleaning(tmp_path: Path) -> None:
    # Ren'Py shows `[[Keep Out]` as "[Keep Out]" and `{{Danger}` as "{Danger}"; the
    # cleaning stage then deleted both as markup ("It says  in big letters, and  below.").
    # A KiriKiri `[[` is the same literal "[", and its tags are still gone.
    script = tmp_path / "script.rpy"
    script.write_text(
        'define n = Character("Max")\ndefine e = Character("Eileen")\n'
        "label start:\n"
        '    n "What does the sign say?"\n'
        '    e "It says [[Keep Out] in big letters, and {{Danger} below."\n'
        '    n "And the small print?"\n'
        '    e "It\'s {b}[[redacted]{/b}."\n',
        encoding="utf-8",
    )
    scenario = tmp_path / "sign.ks"
    scenario.write_text(
        "*start\n"
        '[nm t="Max"]What does it say?[p]\n'
        '[nm t="Eileen"]It says [[Keep Out],[r]and [ruby text="x"]more.[wait time=10][p]\n',
        encoding="utf-8",
    )
    result = run_pipeline(eileen(), [script, scenario])
    assert [s.reply for s in result.train] == [
        "It says [Keep Out] in big letters, and {Danger} below.",
        "It's [redacted].",
        "It says [Keep Out], and more.",
    ]
    # A plain-text line has had no parser remove its tags: cleaning still does.
    dump = tmp_path / "dump.txt"
    dump.write_text("Max: Hello.\nEileen: Hi[wait time=10] there.[p]\n", encoding="utf-8")
    assert [s.reply for s in run_pipeline(eileen(), [dump]).train] == ["Hi there."]


def test_a_voice_cue_in_renpy_brackets_is_no_variable(tmp_path: Path) -> None:
    # `[语音：atr_0012]` in a say string was taken for a variable 语音 with no value: the
    # line was dropped as unresolved and the run named a variable "[语音]". It is a dump's
    # voice cue, cleaned away as in every other format; a real variable still drops.
    script = tmp_path / "script.rpy"
    script.write_text(
        'define n = Character("Max")\ndefine e = Character("Eileen")\n'
        "label start:\n"
        '    n "早。"\n'
        '    e "早上好[语音：atr_0012]！"\n'
        '    n "Ready?"\n'
        '    e "[voice:eil_0013] Always."\n'
        '    n "And [town]?"\n'
        '    e "I like [town]."\n',
        encoding="utf-8",
    )
    result = run_pipeline(eileen(drop_near_duplicates=False), [script])
    assert [(s.prompt, s.reply) for s in result.train] == [
        ("早。", "早上好！"),
        ("Ready?", "Always."),
    ]
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1
    assert not [n for n in result.notes if "语音" in n or "[voice]" in n]


def test_a_long_run_of_blanks_in_an_assignment_reads_at_once() -> None:
    # The value's end was looked for at each blank of the run (16k blanks: 2 s).
    text = (
        'define town = "Harbor' + " " * 50_000 + 'side"\n'
        "init python:\n"
        "    mood = calm" + " " * 50_000 + "x\n"
    )
    started = time.perf_counter()
    found = renpy_names.string_variables(text)
    assert time.perf_counter() - started < 1
    assert found == {"town": "Harbor" + " " * 50_000 + "side"}
