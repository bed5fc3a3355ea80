"""Session 67: `atri prep`'s sentence for a run that failed went to stdout, so `atri prep
… > report.txt` (or `2>/dev/null`-style scripts checking stderr) hid why nothing was
written; `atri train` and the other commands say theirs on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from tests.dataprep.conftest import FIXTURES

GOOD = str(FIXTURES / "plain_zh.txt")


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("args", "code", "why"),
    [
        ([GOOD, "--format", "bogus"], 2, "--format bogus: unknown format"),
        ([GOOD, "missing.txt"], 1, "missing.txt: not found"),
        (["an-empty-folder"], 1, "No script files found in an-empty-folder"),
    ],
)
def test_why_a_run_failed_is_said_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, why: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "an-empty-folder").mkdir()
    result = CliRunner().invoke(app, ["prep", *args, "--out", "out"])
    assert result.exit_code == code, result.output
    assert why in flat(result.stderr) and why not in flat(result.stdout)
    assert not (tmp_path / "out").exists()


def test_a_run_that_matched_no_speaker_says_so_on_stderr_after_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(
        '[dataprep]\ncharacter_aliases = ["Eileen"]\n', encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["prep", GOOD, "--out", "out"])
    assert result.exit_code == 1
    assert "No speaker matched the character (Eileen)" in flat(result.stderr)
    assert "out was left as it was" in flat(result.stderr)
    assert "speakers seen" in result.stdout  # the report itself stays on stdout
