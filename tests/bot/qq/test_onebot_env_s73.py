"""Session 73 (secrets audit): NoneBot's OneBot adapter read its access token from the
environment or a .env of NoneBot's own names before what `atri serve` gave it: an empty
`ONEBOT_ACCESS_TOKEN=` let every client in with ATRI_ONEBOT_ACCESS_TOKEN set (any client
could post an owner's command), a non-empty one replaced ATRI's, and `ONEBOT_SECRET` the
unguessable secret that shuts the HTTP POST door. The real NoneBot and adapter, in a
process of their own (NoneBot initialises once per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
# Prints the adapter's settings as NoneBot and the OneBot adapter read them.
READ_AS_THE_ADAPTER = """
import json, nonebot
from nonebot.adapters.onebot.v11 import Adapter
from atri.config import Secrets, Settings
from bot.qq.runner import nonebot_options

nonebot.init(**nonebot_options(Settings(), Secrets.from_env()))
driver = nonebot.get_driver()
driver.register_adapter(Adapter)
(adapter,) = [a for a in driver._adapters.values() if isinstance(a, Adapter)]
read = adapter.onebot_config
print(json.dumps({"token": read.onebot_access_token, "secret": read.onebot_secret,
                  "ws_urls": sorted(map(str, read.onebot_ws_urls))}))
"""


def read_by_the_adapter(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    """`READ_AS_THE_ADAPTER` run in `folder` (where a .env may be) with `env`."""
    done = subprocess.run(
        [sys.executable, "-c", READ_AS_THE_ADAPTER],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    read: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return read


@pytest.mark.parametrize(
    "nonebots",
    [
        {"ONEBOT_ACCESS_TOKEN": ""},
        {"ONEBOT_ACCESS_TOKEN": "theirs", "ONEBOT_SECRET": "known"},
        {"ONEBOT_V11_ACCESS_TOKEN": "theirs", "ONEBOT_V11_SECRET": "known"},
        {"ONEBOT_WS_URLS": '["ws://127.0.0.1:1/"]'},
    ],
    ids=["empty-token", "token-and-secret", "v11-names", "forward-connections"],
)
@pytest.mark.parametrize("in_dotenv", [False, True], ids=["environment", "dotenv"])
def test_atris_own_token_and_secret_are_what_the_adapter_reads(
    tmp_path: Path, nonebots: dict[str, str], in_dotenv: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATRI_", "ONEBOT"))}
    env |= {"ATRI_ONEBOT_ACCESS_TOKEN": "ours", "PYTHONPATH": str(REPO)}
    if in_dotenv:
        (tmp_path / ".env").write_text(
            "".join(f"{k}={v}\n" for k, v in nonebots.items()), encoding="utf-8"
        )
    else:
        env |= nonebots
    read = read_by_the_adapter(tmp_path, env)
    assert read["token"] == "ours"
    assert read["secret"] not in (None, "", "known") and len(read["secret"]) == 64
    assert read["ws_urls"] == []  # no forward connection to a client of theirs


@pytest.mark.parametrize("in_dotenv", [False, True], ids=["environment", "dotenv"])
def test_without_atris_token_nonebots_own_is_still_the_token(
    tmp_path: Path, in_dotenv: bool
) -> None:
    """As before session 73 (the replay found the fix had let everyone in): NoneBot's and
    NapCat's guides name `ONEBOT_ACCESS_TOKEN`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATRI_", "ONEBOT"))}
    env |= {"PYTHONPATH": str(REPO)}
    if in_dotenv:
        (tmp_path / ".env").write_text("ONEBOT_ACCESS_TOKEN=theirs\n", encoding="utf-8")
    else:
        env |= {"ONEBOT_ACCESS_TOKEN": "theirs"}
    assert read_by_the_adapter(tmp_path, env)["token"] == "theirs"
