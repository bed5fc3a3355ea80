"""Session 74 (the operator at 3 a.m.), with real processes:

- two `atri worker` on one memory database each answered a message that reached both,
  and stored it twice, without a word: the second now stops in one sentence naming the
  first's process id (exit 2), before it listens; `atri memory` commands still work
  beside it, and a worker killed outright leaves no lock behind;
- SIGHUP (an ssh session closed without nohup) killed a worker at once (status 129), the
  reply in flight lost: it now stops as SIGTERM does, saying `Stopped (SIGHUP).`;
- an adapters folder the worker may not list said a raw errno WARNING at every look (each
  minute, for ever): now one sentence with what to do and what she is served by, an ERROR
  at start, then at most every few minutes, and a line once it can be read again.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

from atri.interrupt import HUNG_UP
from model.worker_lock import lock_file_of
from tests.atri.test_ctrl_c_at_start_s41 import ENV, atri
from tests.atri.test_sigterm_s70 import START_TIMEOUT, started, terminated, wait_for
from tests.bot.qq.test_serve_e2e import _free_port
from tests.without_root_powers import as_a_user_file_modes_stop

DATABASE = "data/atri.sqlite3"
LISTENING = "listening on http://127.0.0.1:"


def worker_config(folder: Path, port: int, extra: str = "") -> Path:
    config = folder / f"worker-{port}.toml"
    config.write_text(
        f'[model]\nengine = "echo"\n[memory]\npath = "{DATABASE}"\n[worker]\nport = {port}\n'
        + extra,
        encoding="utf-8",
    )
    return config


def text_of(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


def stopped(process: subprocess.Popen[bytes], log: Path) -> str:
    """What `process` said once it ended by itself; it listening instead fails the test
    (it serves the database beside the first)."""
    deadline = time.monotonic() + START_TIMEOUT
    while process.poll() is None:
        assert LISTENING not in text_of(log), f"it served beside the first: {text_of(log)}"
        assert time.monotonic() < deadline, text_of(log)
        time.sleep(0.05)
    return " ".join(text_of(log).split())


def ended(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def test_a_second_worker_on_one_database_stops_naming_the_first(tmp_path: Path) -> None:
    first_log = tmp_path / "first.log"
    first = started(
        atri("-c", str(worker_config(tmp_path, _free_port())), "worker"), tmp_path, first_log
    )
    try:
        wait_for(first, first_log, LISTENING)
        for command in (["worker"], ["serve"]):  # on its own port: no port check
            log = tmp_path / f"second-{command[0]}.log"
            config = worker_config(tmp_path, _free_port())
            second = started(atri("-c", str(config), *command), tmp_path, log)
            try:
                said = stopped(second, log)
            finally:
                ended(second)
            assert second.returncode == 2, said
            assert said.count("error:") == 1 and "Traceback" not in said, said
            assert f"(process {first.pid}: " in said and f"`kill {first.pid}`" in said, said
            assert str(tmp_path / DATABASE) in said, said
        # A console chat beside it (its messages reach it alone) and what only reads or
        # exports still work beside the running worker.
        chat = subprocess.run(
            atri("-c", str(config), "chat"),
            cwd=tmp_path,
            env=ENV,
            input="hi\n",
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert chat.returncode == 0, chat.stdout + chat.stderr
        for command in (["memory", "list"], ["memory", "export", "-o", "backup.jsonl"]):
            done = subprocess.run(
                atri("-c", str(config), *command),
                cwd=tmp_path,
                env=ENV,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "backup.jsonl").is_file()
    finally:
        first.kill()  # outright: the system lets go of its lock
        first.wait()
    again_log = tmp_path / "again.log"
    config = worker_config(tmp_path, _free_port())
    again = started(atri("-c", str(config), "worker"), tmp_path, again_log)
    try:
        wait_for(again, again_log, LISTENING)
    finally:
        lines = terminated(again, again_log)
    assert again.returncode == 0, lines
    assert not lock_file_of(tmp_path / DATABASE).exists()  # a clean stop leaves none


def posted_in_part(port: int, body: bytes, sent: int) -> socket.socket:
    """A /chat request whose body stops after `sent` bytes: a reply in flight."""
    head = (
        f"POST /chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {ENV['ATRI_ADMIN_TOKEN']}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(head + body[:sent])
    return client


def answer_to(client: socket.socket) -> bytes:
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    client.close()
    return received


def test_sighup_stops_the_worker_as_sigterm_does_finishing_the_reply_in_flight(
    tmp_path: Path,
) -> None:
    port = _free_port()
    log = tmp_path / "worker.log"
    worker = started(atri("-c", str(worker_config(tmp_path, port)), "worker"), tmp_path, log)
    try:
        wait_for(worker, log, LISTENING)
        body = json.dumps({"platform": "ops", "user_id": "42", "text": "before the hangup"})
        client = posted_in_part(port, body.encode(), 20)
        time.sleep(1.0)  # the worker has begun it
        worker.send_signal(signal.SIGHUP)
        wait_for(worker, log, "Stopping: the replies being written are finished first")
        client.sendall(body.encode()[20:])
        answer = answer_to(client)
        worker.wait(timeout=60)
    finally:
        ended(worker)
    lines = text_of(log).splitlines()
    assert (worker.returncode, lines[-1:]) == (0, [HUNG_UP]), lines
    assert answer.startswith(b"HTTP/1.1 200") and b"before the hangup" in answer, answer
    with sqlite3.connect(tmp_path / DATABASE) as db:
        stored = [row[0] for row in db.execute("SELECT content FROM messages ORDER BY id")]
    assert stored[0] == "before the hangup" and len(stored) == 2, stored


def test_sighup_stops_the_console_chat_too(tmp_path: Path) -> None:
    chat = subprocess.Popen(
        atri("-c", str(worker_config(tmp_path, _free_port())), "chat"),
        cwd=tmp_path,
        env=ENV,
        stdin=subprocess.PIPE,  # open: she waits for the next line
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert chat.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while b"Commands:" not in chat.stdout.readline():
            assert chat.poll() is None and time.monotonic() < deadline
        chat.send_signal(signal.SIGHUP)
        out, _ = chat.communicate(timeout=60)
    finally:
        ended(chat)
    assert (chat.returncode, out.decode().splitlines()[-1:]) == (0, [HUNG_UP]), out


def test_a_worker_started_under_nohup_outlives_sighup(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    config = worker_config(tmp_path, _free_port())
    worker = started(["nohup", *atri("-c", str(config), "worker")], tmp_path, log)
    try:
        wait_for(worker, log, LISTENING)
        worker.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert worker.poll() is None, text_of(log)
    finally:
        lines = terminated(worker, log)
    assert worker.returncode == 0 and HUNG_UP not in lines, lines


def test_an_adapters_folder_it_may_not_list_is_one_sentence_not_one_per_look(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    adapters.chmod(0)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nbase = "{tiny_model_dir}"\nengine = "local"\n[worker]\nport = 0\n'
        f'[memory]\npath = "{DATABASE}"\n[reload]\ninterval_seconds = 1\n',
        encoding="utf-8",
    )
    log = tmp_path / "worker.log"
    worker = started(as_a_user_file_modes_stop(atri("-c", str(config), "worker")), tmp_path, log)
    try:
        wait_for(worker, log, LISTENING)
        time.sleep(4)  # four more looks
        told = [line for line in text_of(log).splitlines() if "cannot be listed" in line]
        adapters.chmod(0o755)
        wait_for(worker, log, f"The adapters folder {adapters} can be read again.")
    finally:
        adapters.chmod(0o755)
        lines = terminated(worker, log)
    said = " ".join(" ".join(told).split())
    assert len(told) == 1 and " ERROR " in told[0], lines
    assert f"The adapters folder {adapters} ([model] adapters_dir) cannot be listed" in said
    assert "`chmod u+rx` it, or make that user its owner" in said, said
    assert "she is served by the base model meanwhile" in said, said
    assert "at most every 5 minutes" in said, said
    assert not any("Errno" in line or "Traceback" in line for line in lines), lines
