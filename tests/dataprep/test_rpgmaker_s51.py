"""RPG Maker MV / MZ event data (`data/Map001.json`, `CommonEvents.json`, `Troops.json`):
a 101 command opens a message box whose text is the 401 lines after it; its speaker is
MZ's fifth parameter, else a `【Name】` or name-only first line or a name box; `\\N[n]` is
actor n from Actors.json. Before, every such file was "JSON but not a list of messages"."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, detect_format, parse
from dataprep.formats.common import UNRESOLVED_VARIABLE
from dataprep.pipeline import run_pipeline
from dataprep.sources import collect_scripts


def cmd(code: int, *parameters: object, indent: int = 0) -> dict[str, object]:
    return {"code": code, "indent": indent, "parameters": list(parameters)}


def box(*lines: str, name: str | None = None) -> list[dict[str, object]]:
    """A message box: MV's four parameters, MZ's name as a fifth when given."""
    params: list[object] = ["Actor1", 0, 0, 2] + ([name] if name is not None else [])
    return [cmd(101, *params)] + [cmd(401, line) for line in lines]


ACTORS = [None, {"id": 1, "name": "Harold"}, {"id": 2, "name": "Therese"}]
PAGE = [
    cmd(230, 60),  # wait: code
    *box("\\N[1]", "「Morning, \\C[2]Therese\\C[0].」"),
    *box("【\\N[2]】「Good morning,", "Harold!」\\|"),
    cmd(250, {"name": "Bell", "pan": 0, "pitch": 100, "volume": 90}),
    *box("\\n<\\N[1]>Shall we go to the harbour?"),
    *box("Let's!\\! I will pack lunch.", name="\\N[2]"),
    cmd(102, [["Go now", "Wait"]], 0, 0, 2, 0),
    cmd(402, 0, "Go now"),
    *box("It is \\V[3] o'clock.", name="Therese"),
    cmd(404),
    cmd(105, 2, False),
    cmd(405, "The sea glitters far below."),
    cmd(0),
]
MAP = {
    "autoplayBgm": False,
    "data": [0] * 12,
    "events": [
        None,
        {"id": 2, "name": "EV002", "pages": [{"list": box("Second event.", name="Therese")}]},
        {"id": 1, "name": "EV001", "pages": [{"list": PAGE}, {"list": [cmd(0)]}]},
    ],
}


def write(folder: Path, name: str, value: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


def game(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write(data, "Actors.json", ACTORS)
    write(data, "System.json", {"gameTitle": "Harbour", "currencyUnit": "G"})
    write(data, "MapInfos.json", [None, {"id": 1, "name": "Town"}])
    write(data, "Map001.json", MAP)
    write(
        data,
        "CommonEvents.json",
        [None, {"id": 1, "list": box("Therese", "「Hi there.」"), "name": "c"}],
    )
    return data


def read(path: Path) -> list[tuple[str | None, str, str]]:
    text = path.read_text("utf-8")
    return [
        (u.speaker, u.text, u.scene)
        for u in parse(text, str(path), detect_format(text, path.name), ParseOptions())
    ]


def test_speakers_from_every_convention_and_actor_names(tmp_path: Path) -> None:
    said = read(game(tmp_path) / "Map001.json")
    assert said == [
        ("Harold", "「Morning, Therese.」", "1.1"),
        ("Therese", "「Good morning, Harold!」", "1.1"),
        ("Harold", "Shall we go to the harbour?", "1.1"),
        ("Therese", "Let's! I will pack lunch.", "1.1"),
        ("Therese", "It is [variable_3] o'clock.", "1.1"),
        (None, "The sea glitters far below.", "1.1"),
        ("Therese", "Second event.", "2.1"),
    ]


def test_commands_are_never_text_and_a_choice_ends_the_exchange(tmp_path: Path) -> None:
    path = game(tmp_path) / "Map001.json"
    said = parse(path.read_text("utf-8"), str(path), "rpgmaker", ParseOptions())
    assert not any("Bell" in u.text or "Go now" in u.text or "\\" in u.text for u in said)
    assert [u.branch for u in said[:6]] == [0, 0, 0, 0, 2, 3]
    assert said[4].dropped == UNRESOLVED_VARIABLE
    assert all(u.dropped is None for i, u in enumerate(said) if i != 4)


def test_an_actor_without_actors_json_is_unresolved(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Map003.json",
        {"events": [None, {"id": 1, "pages": [{"list": box("\\N[1]", "Hello.")}]}]},
    )
    said = parse(path.read_text("utf-8"), str(path), "rpgmaker", ParseOptions())
    assert [(u.speaker, u.dropped) for u in said] == [(None, UNRESOLVED_VARIABLE)]


def test_detection_and_the_database_files_are_no_scripts(tmp_path: Path) -> None:
    data = game(tmp_path)
    assert detect_format((data / "Map001.json").read_text("utf-8"), "Map001.json") == "rpgmaker"
    assert detect_format('[{"name": "a", "message": "b"}]', "m.json") == "json"
    assert collect_scripts([tmp_path]) == [data / "CommonEvents.json", data / "Map001.json"]


def test_aliases_in_the_pipeline(tmp_path: Path) -> None:
    settings = DataprepSettings(
        lead_aliases=["Harold"], character_aliases=["Therese"], eval_ratio=0, user_placeholder=False
    )
    result = run_pipeline(settings, [game(tmp_path)])
    assert all(f.error is None for f in result.files), [f.error for f in result.files]
    assert [(s.prompt, s.reply) for s in result.train] == [
        ("Morning, Therese.", "Good morning, Harold!"),
        ("Shall we go to the harbour?", "Let's! I will pack lunch."),
    ]


def test_atri_prep_on_the_data_folder_writes_samples(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[dataprep]\neval_ratio = 0\nuser_placeholder = false\nlead_aliases = ["Harold"]\n'
        'character_aliases = ["Therese"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(game(tmp_path)), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "no message list" not in result.output and "System.json" not in result.output
    written = json.loads((out / "therese_sharegpt.json").read_text("utf-8"))
    assert len(written) == 2


def test_common_events_and_troops(tmp_path: Path) -> None:
    data = game(tmp_path)
    assert read(data / "CommonEvents.json") == [("Therese", "「Hi there.」", "1")]
    troop = {
        "id": 1,
        "members": [],
        "name": "Slime",
        "pages": [{"list": box("Watch out!", name="Harold")}],
    }
    assert read(write(data, "Troops.json", [None, troop])) == [("Harold", "Watch out!", "1.1")]
