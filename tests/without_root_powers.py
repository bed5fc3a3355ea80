"""Running a command as a user whom file modes stop: root reads and writes any file, so a
test of a folder one cannot write (or list) runs its command, as root, without the two
capabilities that let it (setpriv, from util-linux). Skipped where root has no setpriv."""

from __future__ import annotations

import os
import shutil

import pytest

_CAPS = "-dac_override,-dac_read_search"


def as_a_user_file_modes_stop(command: list[str]) -> list[str]:
    """`command` as is for a user who is not root; as root, without the powers that pass
    over file modes."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("root without setpriv to drop its power to pass over file modes")
    return ["setpriv", f"--inh-caps={_CAPS}", f"--bounding-set={_CAPS}", *command]
