"""Session 41: the stats picture never fails a run. A drawing process that dies (an
error, a kill, a pipe Windows breaks in its own way) leaves the picture out, the
datasets and stats.json written, and one sentence saying so."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any

import pytest

from atri.config import DataprepSettings
from dataprep.pipeline import prepare
from dataprep.stats import PlotFailed, PlotProcess, Stats
from tests.dataprep.conftest import FIXTURES

SYSTEM = "你是亚托莉，一个高性能的仿生机器人。"


@pytest.mark.parametrize(
    ("child", "why"),
    [
        ("raise SystemExit('no font can draw this')", "no font can draw this"),
        (
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
            "the drawing process ended with status -9",
        ),
    ],
)
def test_a_drawing_process_that_dies_leaves_the_data_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: str, why: str
) -> None:
    """The child's failure was a RuntimeError out of `prepare`: the run failed and
    nothing reached the output folder, for want of a picture."""
    monkeypatch.setattr("dataprep.output_folder.PLOT_CHILD_BYTES", 0)  # drawn by a child
    monkeypatch.setattr("dataprep.stats._CHILD_CODE", child)
    out = tmp_path / "out"

    result = prepare(
        DataprepSettings(eval_ratio=0), [FIXTURES / "plain_zh.txt"], out, system_prompt=SYSTEM
    )

    assert (out / "atri_sharegpt.json").is_file() and (out / "atri_stats.json").is_file()
    assert not (out / "atri_stats.png").exists()
    assert (
        f"atri_stats.png was not drawn ({why}); the datasets and atri_stats.json are written."
        in result.notes
    )
    assert not list(tmp_path.glob(".out.tmp-*"))


class _WindowsPipe:
    """A pipe to a child that is gone, as Windows answers a write to it: OSError EINVAL
    (subprocess knows it: see `_stdin_write`) or a reset, where POSIX raises
    BrokenPipeError. Windows pipes cannot be had here; closing it closes the real one."""

    def __init__(self, real: Any, error: OSError) -> None:
        self.real = real
        self.error = error

    def write(self, data: bytes) -> int:
        raise self.error

    def close(self) -> None:
        self.real.close()


@pytest.mark.parametrize(
    "error",
    [OSError(errno.EINVAL, "Invalid argument"), ConnectionResetError(errno.ECONNRESET, "reset")],
)
def test_a_pipe_broken_the_windows_way_is_no_error_in_the_sending_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError
) -> None:
    """Only BrokenPipeError was caught: on Windows the sending thread died with a
    traceback on the terminal."""
    unhandled: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: unhandled.append(args.exc_value))
    monkeypatch.setattr("dataprep.stats._CHILD_CODE", "raise SystemExit('gone')")
    plotter = PlotProcess()
    real = plotter._process.stdin
    plotter._process.stdin = _WindowsPipe(real, error)  # type: ignore[assignment]

    plotter.draw(Stats(character="ATRI"), tmp_path / "stats.png")
    with pytest.raises(PlotFailed, match="gone"):
        plotter.wait()
    plotter._process.stdin = real
    plotter.cancel()

    assert unhandled == []
    assert real is not None and real.closed
