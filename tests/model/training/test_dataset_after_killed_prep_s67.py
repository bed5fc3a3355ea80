"""Session 67: an `atri prep` killed outright while it moved its files in left the earlier
training file aside in a hidden staging folder, and `atri train` said "dataset file not
found; run `atri prep` first" with nothing about the earlier files still being there.
Training now puts them back, as the next `atri prep` would."""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path

from atri.config import Settings
from model.training.data_files import resolve_data_files
from tests.dataprep.test_killed_runs import earlier, hidden_beside, stopped_run  # noqa: F401
from tests.dataprep.test_run_outcomes import snapshot


def test_training_puts_back_what_a_killed_prep_moved_aside(earlier: Path) -> None:  # noqa: F811
    before = snapshot(earlier)
    killed = stopped_run(earlier, "KILL", "placing")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    train_file = earlier / "atri_sharegpt.json"
    assert not train_file.is_file()  # aside, in the staging folder

    settings = Settings()
    settings.train.dataset = str(train_file)
    settings.train.eval_dataset = ""
    files = resolve_data_files(settings)
    assert files.train == train_file
    assert snapshot(earlier) == before and hidden_beside(earlier) == []


def test_training_puts_back_the_earlier_dataset_also_once_the_new_file_was_moved_in(
    earlier: Path,  # noqa: F811
) -> None:
    """Session 71: killed before its last move, the prep had put its new training file in
    place beside the earlier files moved aside; training took that file (its held-out
    file still aside: none) and published a version of a dataset the next prep undid."""
    before = snapshot(earlier)
    earlier_sha = hashlib.sha256((earlier / "atri_sharegpt.json").read_bytes()).hexdigest()
    killed = stopped_run(earlier, "KILL", "last")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert snapshot(earlier) != before  # the new training file is in place

    settings = Settings()
    settings.train.dataset = str(earlier / "atri_sharegpt.json")
    settings.train.eval_dataset = ""
    files = resolve_data_files(settings)
    assert files.train_sha256 == earlier_sha
    assert snapshot(earlier) == before and hidden_beside(earlier) == []
