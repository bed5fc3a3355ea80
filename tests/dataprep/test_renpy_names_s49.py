"""Names as real games write them: a typed name shown through a change of case
(`Character("[avatar.upper()]")`), `Character ("Zaina")` with a space before its
bracket, a character given another character's variable (`define npc = annika`), text
tags in a `define`d string shown through `[var]`, and scripts saved with Windows line
ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.pipeline import PrepResult, run_pipeline


def run(folder: Path, lead: str, character: str, **files: str | bytes) -> PrepResult:
    folder.mkdir(exist_ok=True)
    paths = []
    for name, text in files.items():
        path = folder / f"{name}.rpy"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    settings = DataprepSettings(lead_aliases=[lead], character_aliases=[character])
    return run_pipeline(settings, paths)


def speakers(result: PrepResult) -> set[tuple[str, int, str]]:
    return {(s.name, s.lines, s.role) for s in result.stats.speakers}


@pytest.mark.parametrize("shown", ["upper()", "title()", "capitalize()", "lower()"])
def test_a_typed_name_with_its_case_changed_is_the_lead(tmp_path: Path, shown: str) -> None:
    script = (
        'define r = Character(_("RAGATHA"))\n'
        f'define a = Character("[avatar.{shown}]")\n'
        "label start:\n"
        '    $ avatar = renpy.input("What is your name?", length=20)\n'
        '    r "Hey there!"\n'
        '    a "I think I\'m doing fine, [avatar.upper()]."\n'
        '    r "That\'s a lot."\n'
    )
    result = run(tmp_path, "Max", "RAGATHA", script=script)
    assert result.problem is None
    assert speakers(result) == {("Max", 1, "lead"), ("RAGATHA", 2, "character")}
    assert [s.prompt for s in result.train] == ["I think I'm doing fine, {{user}}."]


@pytest.mark.parametrize(
    "define",
    [
        'define z = Character ("Zaina", color="#ffcc00")',
        'define z = Character  (\n    "Zaina")',
        '$ z = Character ("Zaina")',
        'define z = DynamicCharacter ("z_name")\ndefine z_name = "Zaina"',
    ],
)
def test_a_character_with_a_space_before_its_bracket_is_read(tmp_path: Path, define: str) -> None:
    script = (
        f'{define}\ndefine m = Character("Max")\n'
        'label start:\n    m "Where were the caves?"\n    z "Pete wasn\'t kidding."\n'
    )
    result = run(tmp_path, "Max", "Zaina", script=script)
    assert speakers(result) == {("Max", 1, "lead"), ("Zaina", 1, "character")}
    assert [s.reply for s in result.train] == ["Pete wasn't kidding."]


ANNIKA_SAYS = (
    'label start:\n    m "What is a hackathon?"\n    npc "An event to build things."\n'
    '    m "Sounds fun."\n    npc "You should go!"\n'
)


@pytest.mark.parametrize(
    "alias",
    [
        "define npc = annika",
        "default npc = annika  # who helps",
        "define guide = annika\ndefine npc = guide",
    ],
)
def test_a_character_given_another_characters_variable_speaks_as_it(
    tmp_path: Path, alias: str
) -> None:
    cast = 'define annika = Character("Annika")\ndefine m = Character("Max")\n'
    # The alias may come before the character it names, in another file.
    result = run(tmp_path, "Max", "Annika", aliases=f"{alias}\n", cast=cast, script=ANNIKA_SAYS)
    assert speakers(result) == {("Max", 2, "lead"), ("Annika", 2, "character")}
    assert [s.reply for s in result.train] == ["An event to build things.", "You should go!"]


def test_a_variable_given_anything_but_a_character_is_no_speaker(tmp_path: Path) -> None:
    script = (
        'define m = Character("Max")\ndefine annika = "Annika"\ndefine npc = annika\n' + ANNIKA_SAYS
    )
    result = run(tmp_path, "Max", "npc", script=script)
    assert speakers(result) == {("Max", 2, "lead"), ("npc", 2, "character")}


SITE = (
    "define site = '{a=https://www.freecodecamp.org/}{color=#002ead}freeCodeCamp.org{/color}{/a}'\n"
)


def said_about_the_site(tmp_path: Path, said: str, defines: str = "") -> list[str]:
    script = (
        f'define e = Character("Eileen")\ndefine m = Character("Max")\n{SITE}{defines}'
        f'label start:\n    m "What is it called?"\n    e "{said}"\n'
    )
    result = run(tmp_path, "Max", "Eileen", script=script)
    return [s.reply for s in result.train]


def test_a_defined_string_shown_in_a_line_loses_its_text_tags(tmp_path: Path) -> None:
    said = said_about_the_site(
        tmp_path,
        "It's called {b}[site]{/b}. Go study, [player]!",
        '$ player = renpy.input("Name?")\n',
    )
    assert said == ["It's called freeCodeCamp.org. Go study, {{user}}!"]


def test_a_quoted_value_keeps_its_braces(tmp_path: Path) -> None:
    # `!q` quotes the value's braces: Ren'Py shows them as written.
    said = said_about_the_site(tmp_path, "Type [site!q].")
    assert said == [
        "Type {a=https://www.freecodecamp.org/}{color=#002ead}freeCodeCamp.org{/color}{/a}."
    ]


def test_a_name_shows_a_tagged_value_without_its_tags(tmp_path: Path) -> None:
    script = (
        'define title = "{i}Captain{/i}"\ndefine c = Character("[title] Rex")\n'
        'define m = Character("Max")\nlabel start:\n    m "Sir?"\n    c "Yes."\n'
    )
    result = run(tmp_path, "Max", "Captain Rex", script=script)
    assert speakers(result) == {("Max", 1, "lead"), ("Captain Rex", 1, "character")}


# A fixture of each format, the settings that read it, read from a copy with Windows
# line ends (`\r\n`) and from one with `\n`.
CRLF_CASES = {
    "plain": (["plain_zh.txt", "plain_en.txt"], {}),
    "kirikiri": (["script.ks"], {}),
    "tyranoscript": (["tyrano"], {"lead_aliases": ["yamato"], "character_aliases": ["akane"]}),
    "voice_list": (["voice.list"], {}),
    "translation_dump": (["s39_dumps"], {}),
    "regex": (
        ["custom.txt"],
        {"format": "regex", "custom_regex": r"^<\d+> \[(?P<speaker>[^\]]+)\] (?P<text>.+)$"},
    ),
    "renpy": (
        ["variables", "dynamic", "menus.rpy"],
        {"lead_aliases": ["Max"], "character_aliases": ["Eileen"]},
    ),
    "renpy translation": (
        ["harbor/game"],
        {
            "lead_aliases": ["Max"],
            "character_aliases": ["Eileen"],
            "renpy_language": "chinese",
        },
    ),
}


def copied(fixtures: Path, names: list[str], folder: Path, line_end: str) -> list[Path]:
    """The fixtures `names` copied under `folder`, each line ended by `line_end`."""
    paths = []
    for name in names:
        given = fixtures / name
        for path in sorted(given.rglob("*")) if given.is_dir() else [given]:
            if not path.is_file():
                continue
            data = path.read_bytes()
            encoding = _encoding(data)
            text = data.decode(encoding).replace("\r\n", "\n").replace("\n", line_end)
            copy = folder / name / path.relative_to(given) if given.is_dir() else folder / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(text.encode(encoding))
        paths.append(folder / name)
    return paths


def _encoding(data: bytes) -> str:
    """The encoding of a fixture: UTF-16 with its mark, UTF-8, or GBK."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "gbk"
    return "utf-8"


def samples(result: PrepResult) -> list[tuple[object, ...]]:
    return [(Path(s.source).name, s.scene, s.turns) for s in result.train + result.evaluation]


@pytest.mark.parametrize(("names", "given"), CRLF_CASES.values(), ids=CRLF_CASES.keys())
def test_windows_line_ends_give_the_samples_unix_ones_do(
    tmp_path: Path, fixtures: Path, names: list[str], given: dict[str, object]
) -> None:
    settings = DataprepSettings(eval_ratio=0, **given)  # type: ignore[arg-type]
    unix = run_pipeline(settings, copied(fixtures, names, tmp_path / "lf", "\n"))
    windows = run_pipeline(settings, copied(fixtures, names, tmp_path / "crlf", "\r\n"))
    assert samples(unix)
    assert samples(windows) == samples(unix)
    assert windows.stats.speakers == unix.stats.speakers
    assert windows.notes == unix.notes
