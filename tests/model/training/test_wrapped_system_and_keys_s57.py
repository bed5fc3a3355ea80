"""A wrapped training file's other top-level keys (`{"system": "...", "data": [...]}`):
its "system" is the prompt of each record without its own, as if the record held it;
any other key is named once as ignored; a "system" that is not text is refused."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.training.sharegpt import DatasetError, load_sharegpt, training_prompt
from tests.cli_output import says
from tests.model.training.sharegpt import SYSTEM_ZH, ZH_PAIRS, conversation, write
from tests.model.training.test_train_eval import write_config

TOP = "You are ATRI, a high-performance robot girl."


def rows(n: int, system: str = "") -> list[dict[str, Any]]:
    return [conversation([ZH_PAIRS[i % 4]], system) for i in range(n)]


def bare(said: str, reply: str) -> dict[str, Any]:
    """A record with no "system" key at all (conversation() writes "system": "")."""
    return {"conversations": [{"from": "human", "value": said}, {"from": "gpt", "value": reply}]}


def test_the_top_level_system_is_the_prompt_of_records_without_their_own(
    tmp_path: Path,
) -> None:
    own_turn = {"messages": [{"role": "system", "content": "Turn prompt."}, *_messages("yo")]}
    alpaca = {"instruction": "hi", "output": "Hello!"}
    records = [
        *rows(2),
        bare("sea?", "Sea!"),
        {**bare("x", "y"), "system": "Own."},
        own_turn,
        alpaca,
    ]
    path = write(tmp_path / "export.json", {"system": TOP, "data": records})
    notes: list[str] = []
    loaded = load_sharegpt(path, notify=notes.append)
    assert [c.system for c in loaded] == [TOP, TOP, TOP, "Own.", "Turn prompt.", TOP]
    assert notes == [
        f'{path}: one JSON object; its records are read from its "data" list (6 of them), '
        'and its "system" is the system prompt of the 4 without their own.'
    ]
    # Exactly as if each such record held it: the same conversations as that file gives.
    held = [{**r, "system": TOP} for r in [*rows(2), bare("sea?", "Sea!")]]
    spelled = write(tmp_path / "spelled.json", [*held, *records[3:5], {**alpaca, "system": TOP}])
    assert load_sharegpt(spelled) == loaded


def _messages(said: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": said}, {"role": "assistant", "content": "Yes!"}]


def test_records_that_all_have_their_own_keep_them_and_it_is_said(tmp_path: Path) -> None:
    path = write(tmp_path / "export.json", {"system": TOP, "data": rows(3, SYSTEM_ZH)})
    notes: list[str] = []
    loaded = load_sharegpt(path, notify=notes.append)
    assert training_prompt(loaded, path) == SYSTEM_ZH
    assert notes == [
        f'{path}: one JSON object; its records are read from its "data" list (3 of them), '
        'and its "system" is not used: every record has its own.'
    ]


def test_a_record_whose_own_differs_is_refused_as_in_any_file(tmp_path: Path) -> None:
    """One prompt per version: the top-level one counts as the records' own, so a record
    with another is the mixed-prompt refusal training gives any file."""
    path = write(tmp_path / "export.json", {"system": TOP, "data": [*rows(2), *rows(1, "Bob.")]})
    with pytest.raises(DatasetError, match=r"2 different system prompts \(2 with \"You are ATRI"):
        training_prompt(load_sharegpt(path, notify=lambda _: None), path)


def test_other_top_level_keys_are_named_in_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    value = {"meta": {"by": "x"}, "system": TOP, "data": rows(2), "version": "1.0"}
    path = write(tmp_path / "train.json", value)
    with caplog.at_level(logging.INFO, logger="model.training.sharegpt"):
        load_sharegpt(path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f'{path}: top-level keys "meta", "version" beside the "data" list are ignored: '
        'training reads only the records and a top-level "system".'
    ]
    caplog.clear()
    write(tmp_path / "one.json", {"count": 2, "rows": rows(2)})
    with caplog.at_level(logging.WARNING, logger="model.training.sharegpt"):
        load_sharegpt(tmp_path / "one.json")
    assert [r.getMessage() for r in caplog.records] == [
        f'{tmp_path / "one.json"}: top-level key "count" beside the "rows" list is ignored: '
        'training reads only the records and a top-level "system".'
    ]
    caplog.clear()
    write(tmp_path / "plain.json", {"system": TOP, "data": rows(2)})
    with caplog.at_level(logging.WARNING, logger="model.training.sharegpt"):
        load_sharegpt(tmp_path / "plain.json")
    assert caplog.records == []


@pytest.mark.parametrize(
    ("system", "shown"), [(42, "42"), (None, "null"), (["You are ATRI."], '["You are ATRI."]')]
)
def test_a_top_level_system_that_is_not_text_is_refused(
    tmp_path: Path, system: Any, shown: str
) -> None:
    path = write(tmp_path / "export.json", {"system": system, "data": rows(2)})
    notes: list[str] = []
    with pytest.raises(DatasetError) as caught:
        load_sharegpt(path, notify=notes.append)
    assert str(caught.value) == (
        f'{path}: its top-level "system" is {shown}, not text; it is the system prompt of '
        'each record in "data" without its own, so write it as a string or remove it.'
    )
    assert notes == []  # refused before any note of what was read


def test_atri_train_trains_under_the_top_level_system(tmp_path: Path, tiny_model_dir: Path) -> None:
    """One step on the tiny model: the version's prompt is the top-level one, and the
    ignored keys are said; a "system" that is not text stops it before anything is written."""
    config = write_config(tmp_path, tiny_model_dir)
    data = write(tmp_path / "data" / "export.json", {"system": SYSTEM_ZH, "data": rows(4), "n": 4})
    train = ["--config", str(config), "train", "--dataset", str(data), "--max-steps", "1"]
    result = CliRunner().invoke(app, train)
    assert result.exit_code == 0, result.output
    assert says(result.output, 'its "system" is the system prompt of the 4 without their own')
    assert says(result.output, 'top-level key "n" beside the "data" list is ignored')
    [version] = [p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")]
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["system_prompt"] == SYSTEM_ZH

    bad = write(tmp_path / "data" / "bad.json", {"system": 1, "data": rows(4)})
    written = sorted((tmp_path / "adapters").rglob("*"))
    other = CliRunner().invoke(app, [*train[:4], str(bad), *train[5:]])
    assert other.exit_code == 1, other.output
    assert says(other.output, 'its top-level "system" is 1, not text')
    assert sorted((tmp_path / "adapters").rglob("*")) == written  # no run folder, no version
