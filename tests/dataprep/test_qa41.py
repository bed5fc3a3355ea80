"""Session 41: Ren'Py translation identifiers (a block's end, `__` names), the progress
label of a Windows path, CJK lines a dump wrapped after a comma, and the ○/● dump."""

from __future__ import annotations

import pytest

from dataprep.cli import progress_label


@pytest.mark.parametrize(
    ("name", "label"),
    [
        (r"C:\Users\fan\Games\Atri\game\script.rpy", "script.rpy"),
        (r"D:\dumps\atri.txt", "atri.txt"),
        ("/home/fan/atri/script.txt", "script.txt"),
        ("script.txt", "script.txt"),
        ("split", "split"),  # a stage's name
    ],
)
def test_progress_label_is_the_file_name_on_windows_too(name: str, label: str) -> None:
    # A Windows path holds no "/": the bar showed the whole path, folders and all.
    assert progress_label(name) == label
