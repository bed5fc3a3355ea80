"""Session 64: what an unlucky user hit with adapter versions. A weights file with bytes
past its last tensor (a copy appended to) passed the file checks, then failed to load
with a traceback in the log; `atri adapters prune` and `adopt` in a folder that cannot
be written ended in a traceback."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.validation import ADAPTER_WEIGHTS, read_version
from model.adapters.versions import AdapterError, misnamed_hint, misnamed_versions
from model.service import ChatService
from tests.model.conftest import V1, MakeVersion
from tests.without_root_powers import as_a_user_file_modes_stop

REPO = Path(__file__).resolve().parents[3]


def test_bytes_after_the_last_tensor_are_refused_by_the_file_checks(
    make_version: MakeVersion, adapters_dir: Path
) -> None:
    folder = make_version(V1)
    with (folder / ADAPTER_WEIGHTS).open("ab") as weights:
        weights.write(b"\0" * 1000)
    with pytest.raises(AdapterError) as refused:
        read_version(adapters_dir, V1)
    assert refused.value.short == "extra bytes"
    assert "1000 bytes after its last tensor: not a whole copy" in str(refused.value)


def test_a_folder_that_cannot_be_written_is_one_sentence(tmp_path: Path) -> None:
    folder = tmp_path / "adapters"
    folder.mkdir()
    folder.chmod(0o555)
    code = (
        "from pathlib import Path\n"
        "from atri.errors import UserError\n"
        "from model.adapters.versions import temp_folder\n"
        "try:\n"
        f"    with temp_folder(Path({str(folder)!r}), 'v'):\n"
        "        pass\n"
        "except UserError as exc:\n"
        "    print(exc)\n"
    )
    command = as_a_user_file_modes_stop([sys.executable, "-c", code])
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=120,
        )
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert f"{folder}: nothing can be written there (Permission denied)" in done.stdout
    assert list(folder.iterdir()) == []


async def test_the_same_refusal_again_is_not_logged_again(
    reload_settings: Settings,
    make_version: MakeVersion,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A version that cannot be written (a read-only folder, for the llama.cpp engine's
    adapter.gguf) was tried at each look and its refusal logged each time: 2,900 lines
    a day at the default interval."""
    folder = make_version(V1)
    with (folder / ADAPTER_WEIGHTS).open("ab") as weights:
        weights.write(b"\0" * 10)
    caplog.set_level(logging.DEBUG, logger="model.adapters.reload")
    async with await ChatService.open(reload_settings) as service:
        for _ in range(3):
            assert not (await service.reload(V1)).ok
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.levelname for r in refusals] == ["WARNING", "DEBUG", "DEBUG"]


def test_a_version_under_a_name_no_version_has_is_named_with_what_to_do(
    make_version: MakeVersion, adapters_dir: Path
) -> None:
    """A file manager's copy ("… copy") or a hand-renamed folder was passed over by the
    job, a reload and `atri adapters list` without a word."""
    folder = make_version(V1)
    shutil.copytree(folder, adapters_dir / f"{V1} copy")
    folder.rename(adapters_dir / "版本一")
    found = misnamed_versions(adapters_dir)
    assert found == {f"{V1} copy": V1, "版本一": V1}
    said = misnamed_hint(adapters_dir, {"版本一": V1})
    assert f"'版本一' holds version {V1}: rename the folder to {V1}" in said
    (adapters_dir / "版本一").rename(adapters_dir / V1)
    said = misnamed_hint(adapters_dir, misnamed_versions(adapters_dir))
    assert f"'{V1} copy' is a copy of version {V1}, which is there already" in said


def test_the_schedulers_info_lines_stay_behind_verbose() -> None:
    """Its logger under this module's name (whose INFO lines are shown without -v) put
    "Scheduler has been shut down" after every `atri chat`'s Bye!."""
    from atri.cli import TOLD_LOGGERS
    from model.adapters import reload

    name = reload._scheduler_log.name
    assert not any(name == told or name.startswith(f"{told}.") for told in TOLD_LOGGERS)
