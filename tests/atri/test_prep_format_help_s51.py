"""`atri prep --help` names the formats `--format` takes, from the registry of parsers
(it said only "force a format")."""

from __future__ import annotations

from typer.testing import CliRunner

from atri.cli import app
from dataprep.formats import FORMAT_NAMES


def test_prep_help_lists_every_registered_format() -> None:
    done = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["prep", "--help"])
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())
    assert "force a format instead of detecting it: " + ", ".join(FORMAT_NAMES) in said
