"""Session 42: a Ctrl-C landing just as the version is renamed into place. Before, it
could come between the rename and the run's note that the version was published: the run
said "no version was written" (naming the step `--resume` continues from) while the
version was in place, and kept the checkpoints `--resume` would publish a second time."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from atri.interrupt import interruptions_held
from tests.model.training.test_train_eval import write_config


@pytest.fixture(autouse=True)
def python_ctrl_c() -> Iterator[None]:
    """Ctrl-C as `atri train` gets it (`keyboard_interrupt`): KeyboardInterrupt. An event
    loop another test left open (pytest-asyncio's) holds SIGINT with its own handler."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_ctrl_c_right_after_the_rename_is_taken_once_the_run_knows_it_published(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    """SIGTERM (a `kill`, `docker stop`) unwinds `atri train` as Ctrl-C does."""
    import model.training.publishing as publishing
    import model.training.runner as runner
    from atri.config import load_settings
    from model.training.errors import TrainingInterrupted

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=2, eval_steps=1, gradient_accumulation=1
    )
    real = publishing.publish
    renamed: list[Path] = []

    def publish(tmp: Path, parent: Path, version: str) -> Path:
        renamed.append(real(tmp, parent, version))
        os.kill(os.getpid(), signum)  # a real signal, the instant it is in place
        return renamed[-1]

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(publishing, "publish", publish)
    try:
        with pytest.raises(TrainingInterrupted) as stopped:
            runner.train(load_settings(config))
    except KeyboardInterrupt:  # would end the whole test session
        pytest.fail("the signal escaped atri train")
    [version] = renamed
    # Before: version None and step 2 ("`--resume` continues from step 2").
    assert stopped.value.version == version and stopped.value.step is None
    assert not list((tmp_path / "adapters").glob(".runs/*/checkpoint-*"))


def test_a_ctrl_c_held_back_is_what_it_would_have_been_and_once() -> None:
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        with interruptions_held():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            assert pressed == []
        assert pressed == [signal.SIGINT]
        with interruptions_held():
            pass
        assert pressed == [signal.SIGINT]  # nothing pressed, nothing done
    finally:
        signal.signal(signal.SIGINT, previous)
    with pytest.raises(KeyboardInterrupt), interruptions_held():
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # SIGTERM where the process handles it; left alone where it does not (it ends it).
    terms: list[int] = []
    previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: terms.append(signum))
    try:
        with interruptions_held():
            os.kill(os.getpid(), signal.SIGTERM)
            assert terms == []
        assert terms == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous_term)

    ran: list[bool] = []

    def elsewhere() -> None:  # another thread: signals are the main thread's
        with interruptions_held():
            ran.append(True)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert ran == [True]
