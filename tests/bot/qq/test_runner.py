"""Starting NoneBot from `[qq]`: the options it gets and a port that is taken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from atri.config import ConfigError, Secrets, Settings, settings_from_dict
from bot.qq import NoWorker, current_worker, set_worker
from bot.qq.runner import her_names, listen_socket, nonebot_options

REPO = Path(__file__).resolve().parents[3]


def test_nonebot_options_come_from_the_qq_section() -> None:
    settings = settings_from_dict(
        {"qq": {"enabled": True, "port": 9000, "superusers": ["123"], "nicknames": ["亚托莉"]}}
    )
    options = nonebot_options(settings, Secrets(onebot_access_token=SecretStr("t0k")))
    assert options["onebot_access_token"] == "t0k"
    assert options["superusers"] == {"123"} and options["nickname"] == {"亚托莉"}
    assert options["atri_max_message_chars"] == settings.qq.max_message_chars
    # Without ATRI's token NoneBot's own ONEBOT_ACCESS_TOKEN, if any, is the token (s73).
    assert "onebot_access_token" not in nonebot_options(Settings(), Secrets())


def test_her_names_default_to_the_character_cards(tmp_path: Path) -> None:
    # Her Chinese name in Traditional characters too, as OpenCC and as Taiwan write it.
    traditional = {"亞托莉", "亞託莉", "亚託莉"}
    assert her_names(Settings()) == {"亚托莉", "ATRI", "アトリ", "Atri", *traditional}
    card = {"spec": "chara_card_v2", "data": {"name": "Yuki", "description": "A snow girl."}}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    settings = Settings(root=tmp_path)
    settings.persona.card = "card.json"
    assert her_names(settings) == {"Yuki"}
    assert nonebot_options(settings, Secrets())["nickname"] == {"Yuki"}


def test_a_taken_port_is_one_sentence() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            ConfigError,
            match=rf"127\.0\.0\.1:{port}: another program is using that port; "
            r"choose another \[qq\] port\.",
        ):
            listen_socket("127.0.0.1", port)
    # Not the port's fault: the sentence names [qq] host.
    with pytest.raises(ConfigError, match=r"not an address of this machine; set \[qq\] host"):
        listen_socket("192.0.2.1", 0)


def test_qq_numbers_in_full_width_digits_are_read_as_onebot_sends_them() -> None:
    # A Chinese input method types １２３: kept so, it never matched an event's "123".
    settings = settings_from_dict({"qq": {"superusers": ["１２３４５６７８"], "bot_ids": ["42"]}})
    assert settings.qq.superusers == ["12345678"] and settings.qq.bot_ids == ["42"]
    assert nonebot_options(settings, Secrets())["superusers"] == {"12345678"}


def test_superusers_must_be_qq_numbers() -> None:
    with pytest.raises(ConfigError, match=r'\[qq\] superusers .*"admin" is not a QQ number'):
        settings_from_dict({"qq": {"superusers": ["admin"]}})


def test_no_worker_says_how_to_set_one() -> None:
    set_worker(None)
    with pytest.raises(NoWorker, match="ATRI_WORKER_URL"):
        current_worker()


STANDALONE = """
import nonebot
from nonebot.adapters.onebot.v11 import Adapter
import bot.qq

nonebot.init(driver="~fastapi")
nonebot.get_driver().register_adapter(Adapter)
assert nonebot.load_plugin("bot.qq.atri") is not None
print(type(bot.qq.current_worker()).__name__, bot.qq.current_worker().url)
"""


def test_the_plugin_loads_into_a_plain_nonebot_project(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRI_")}

    def standalone(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", STANDALONE],
            cwd=tmp_path,
            env=env | extra | {"PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = standalone({"ATRI_WORKER_URL": "http://127.0.0.1:8765"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "HttpWorker http://127.0.0.1:8765"
    failed = standalone({})
    assert failed.returncode != 0
    assert "ATRI's QQ plugin has no worker" in failed.stdout + failed.stderr


STANDALONE_RUN = """
import sys
import nonebot
from nonebot.adapters.onebot.v11 import Adapter

nonebot.init(driver="~fastapi", host="127.0.0.1", port=int(sys.argv[1]))
nonebot.get_driver().register_adapter(Adapter)
nonebot.load_plugin("bot.qq.atri")
nonebot.run()
"""


def test_in_a_plain_nonebot_project_a_worker_of_another_release_is_said_at_start(
    tmp_path: Path,
) -> None:
    """`atri serve` stops on it; a plugin in someone's own project must not stop their
    bot, but says so at start-up instead of only failing message by message."""
    import http.server
    import threading

    class OtherWorker(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("ATRI-Protocol", "999")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    worker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OtherWorker)
    threading.Thread(target=worker.serve_forever, daemon=True).start()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRI_")}
    env |= {"PYTHONPATH": str(REPO), "ATRI_WORKER_URL": f"http://127.0.0.1:{worker.server_port}"}
    bot = subprocess.Popen(
        [sys.executable, "-c", STANDALONE_RUN, str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    told = threading.Event()

    def read() -> None:
        assert bot.stdout is not None
        for line in bot.stdout:
            seen.append(line)
            if "protocol" in line:
                told.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        told.wait(timeout=30)  # start-up takes a few seconds; nothing is said otherwise
    finally:
        bot.terminate()
        bot.wait(timeout=30)
        reader.join(timeout=10)
        worker.shutdown()
    said = "".join(seen)
    assert "speaks ATRI protocol '999'" in said, said
    assert "answers every message with her error line" in said
