"""`atri adapters list` and `atri adapters prune`: every `atri train` leaves a version folder
that nothing deleted (11 took 412 MB on the offline model). The listing shows each with
its size and status; prune removes all but the newest N good ones, never what a running
worker serves or keeps for a rollback, never anything that is not a version folder.

The versions are real ones (peft files and a manifest, written as training writes them).
The worker is a separate process, reached over HTTP: a small server here answers its
`/status` as `atri worker` does (a WorkerStatus), which is all the commands ask of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import atri.cli_common as cli_common
import model.adapters.inventory as inventory
from atri.cli import app
from model.adapters.versions import _TMP_PATTERN, RUNS_DIR, list_versions
from model.protocol import WorkerStatus
from tests.cli_output import says
from tests.model.adapters.make_versions import base_config_hash, write_version

V1, V2, V3, V4 = (f"20250101-00000{n}" for n in range(1, 5))
NEWER = "20250101-000009"
# Wide, so rich neither wraps the table nor the sentences; no admin token from outside.
runner = CliRunner(env={"COLUMNS": "400", "ATRI_ADMIN_TOKEN": None, "ATRI_CONFIG": None})


@pytest.fixture(scope="module")
def tiny_hash(tiny_model_dir: Path) -> str:
    return base_config_hash(tiny_model_dir)


@pytest.fixture
def adapters(tmp_path: Path, tiny_model_dir: Path, tiny_hash: str) -> Path:
    """V1-V4, good versions of the tiny model trained as ATRI; a hidden build folder and
    a `.runs` checkpoint beside them, which are no versions."""
    folder = tmp_path / "adapters"
    for seed, name in enumerate((V1, V2, V3, V4), start=1):
        write_version(
            folder,
            name,
            tiny_model_dir,
            base_model=str(tiny_model_dir),
            config_hash=tiny_hash,
            seed=seed,
            character="ATRI",
            train_loss=1.25 + seed,
            eval_loss=2.5,
        )
    (folder / f".tmp-{NEWER}-1234abcd-99999").mkdir()
    (folder / RUNS_DIR / "f00d").mkdir(parents=True)
    (folder / RUNS_DIR / "f00d" / "optimizer.pt").write_bytes(b"\0" * 3 * 2**20)
    return folder


def pickled(folder: Path, name: str) -> None:
    """Version `name` with its weights only as a pickle: the reload job refuses it."""
    weights = folder / name / "adapter_model.safetensors"
    weights.rename(weights.with_name("adapter_model.bin"))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(tmp_path: Path, tiny_model_dir: Path, url: str, reload: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[model]\nbase = "{tiny_model_dir}"\nadapters_dir = "adapters"\n'
        f'[worker]\nurl = "{url}"\n{reload}',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def no_worker(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A config whose worker address has nothing listening."""
    return config(tmp_path, tiny_model_dir, f"http://127.0.0.1:{closed_port()}")


@contextlib.contextmanager
def worker_answering(status: dict[str, Any]) -> Iterator[str]:
    """A stand-in for `atri worker` at a local address: /status answers `status` as the
    worker's app does (a WorkerStatus); the address is yielded."""
    body = WorkerStatus.model_validate(status).model_dump_json().encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/status":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with http_server(Handler) as url:
        yield url


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on this machine answering with `handler`; its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serving(live: str, loaded: list[str] | None) -> dict[str, Any]:
    """A worker's /status: `loaded` (live included) only as a caller with the token sees it."""
    details = {} if loaded is None else {"loaded_adapters": loaded}
    return {"engine": "local", "base_model": "tiny", "adapter_version": live, "details": details}


def atri(config_file: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config_file), *args], input=stdin)
    return result.exit_code, result.output


def row(output: str, name: str) -> str:
    [line] = [line.strip() for line in output.splitlines() if line.strip().startswith(name)]
    return line


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- atri adapters list ----------------------------------------------------------------


def test_list_shows_each_version_newest_first_with_its_size_and_status(
    adapters: Path, no_worker: Path
) -> None:
    pickled(adapters, V1)
    (adapters / NEWER).mkdir()  # a version folder caught half copied: no manifest yet
    code, out = atri(no_worker, "adapters", "list")
    assert code == 0, out
    lines = [line.strip() for line in out.splitlines()]
    order = [n for line in lines for n in (NEWER, V4, V3, V2, V1) if line.startswith(n)]
    assert order == [NEWER, V4, V3, V2, V1]
    size = sum(f.stat().st_size for f in (adapters / V4).iterdir())
    newest = row(out, V4).split()
    assert newest[-1] == "newest"  # no worker answers: the one a worker would load
    assert f"{size / 1024:.0f}" in newest and "KiB" in newest
    assert "ATRI" in newest and "5.250" in newest and "2.500" in newest  # manifest
    assert "no" in newest  # no adapter.gguf: the tiny model is no llama.cpp one
    assert row(out, V3).split()[-1] == "no"  # neither newest, live nor refused
    # Refused by the reload job's own checks (read_version), with the reason in a word.
    assert row(out, V1).endswith("refused: pickle")
    assert row(out, NEWER).endswith("refused: no manifest")
    assert says(out, "No worker answered at http://127.0.0.1:")
    # Hidden build folders and checkpoints are no versions; .runs is one line below.
    assert ".tmp-" not in out and "f00d" not in out
    assert says(out, f"{adapters / RUNS_DIR}: 3.0 MiB of checkpoints")


@pytest.mark.parametrize("there", [False, True])
def test_no_versions_is_one_sentence(tmp_path: Path, no_worker: Path, there: bool) -> None:
    if there:
        (tmp_path / "adapters" / ".tmp-x-1").mkdir(parents=True)
    for command in ("list", "prune"):
        code, out = atri(no_worker, "adapters", command, *(["--keep", "1"] * (command == "prune")))
        assert code == 0, out
        assert says(out, "No adapter versions:") and "atri train" in out
        assert len(out.strip().splitlines()) <= 2  # one sentence, as rich wraps it


def test_list_shows_the_workers_live_version_and_those_it_keeps_for_rollback(
    adapters: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    # Rolled back to V2: V3 stays loaded for a rollback, V4 is newer than the live one.
    with worker_answering(serving(V2, [V3, V2])) as url:
        code, out = atri(config(tmp_path, tiny_model_dir, url), "adapters", "list")
    assert code == 0, out
    assert row(out, V2).endswith("live")
    assert row(out, V3).endswith("rollback")
    assert not row(out, V4).endswith(("newest", "live"))
    assert says(out, f"The worker at {url} serves version {V2}.")


# --- atri adapters prune ---------------------------------------------------------------


def test_prune_keeps_the_newest_n_good_versions_and_removes_older_refused_ones(
    adapters: Path, no_worker: Path
) -> None:
    pickled(adapters, V1)
    (adapters / NEWER).mkdir()  # refused, but newer: may be a copy still coming in
    (adapters / "notes").mkdir()  # no version folder: never touched
    size = sum(f.stat().st_size for v in (V1, V2) for f in (adapters / v).iterdir())
    code, out = atri(no_worker, "adapters", "prune", "--keep", "2", "--yes")
    assert code == 0, out
    # The hidden build folder no process holds was left by one stopped outright: it goes
    # too (s67: a killed prune's, its versions inside, stayed while prune said it freed).
    assert names_in(adapters) == sorted([V3, V4, NEWER, "notes", RUNS_DIR])
    left = f".tmp-{NEWER}-1234abcd-99999"
    assert says(out, f"Removed {left}, left in {adapters} by a prune or build that was stopped.")
    assert [p.name for p in list_versions(adapters)] == [V3, V4]
    assert says(out, f"To remove: {V1} (refused: pickle)")
    assert says(out, "Refused versions older than those kept go too")
    assert says(out, f"Removed 2 versions, {inventory.size_text(size)} freed.")
    assert (adapters / RUNS_DIR / "f00d" / "optimizer.pt").is_file()


def test_prune_without_yes_refuses_when_no_one_can_answer(adapters: Path, no_worker: Path) -> None:
    code, out = atri(no_worker, "adapters", "prune", "--keep", "1")
    assert code == 1
    assert says(out, f"To remove: {V3}")  # what would go is shown first
    assert says(out, "error: Nothing removed: without --yes, prune asks")
    assert says(out, "stdin is not a terminal")
    assert [p.name for p in list_versions(adapters)] == [V1, V2, V3, V4]


def test_prune_on_a_terminal_asks_first(
    adapters: Path, no_worker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_common, "stdin_is_terminal", lambda: True)
    code, out = atri(no_worker, "adapters", "prune", "--keep", "3", stdin="n\n")
    assert code == 1 and says(out, "Remove 1 version?") and says(out, "Nothing removed.")
    assert len(list_versions(adapters)) == 4
    code, out = atri(no_worker, "adapters", "prune", "--keep", "3", stdin="y\n")
    assert code == 0, out
    assert [p.name for p in list_versions(adapters)] == [V2, V3, V4]


def test_prune_never_removes_what_the_worker_serves_or_keeps_for_rollback(
    adapters: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    # Rolled back to V1, V2 kept loaded (the worker's /status with the admin token).
    with worker_answering(serving(V1, [V2, V1])) as url:
        code, out = atri(
            config(tmp_path, tiny_model_dir, url), "adapters", "prune", "--keep", "1", "--yes"
        )
    assert code == 0, out
    assert [p.name for p in list_versions(adapters)] == [V1, V2, V4]
    assert says(out, f"Keeping {V1}: the worker at {url} serves it.")
    assert says(out, f"Keeping {V2}: the worker at {url} keeps it loaded for a rollback.")


def test_without_the_token_the_versions_before_the_live_one_are_kept_for_rollback(
    adapters: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    # /status without ATRI_ADMIN_TOKEN lists no loaded versions: [reload] keep_previous
    # tells how many a rollback has loaded, the newest good ones before the live one.
    with worker_answering(serving(V3, None)) as url:
        settings = config(tmp_path, tiny_model_dir, url, "[reload]\nkeep_previous = 1\n")
        code, out = atri(settings, "adapters", "prune", "--keep", "1", "--yes")
    assert code == 0, out
    assert [p.name for p in list_versions(adapters)] == [V2, V3, V4]
    assert says(out, f"Keeping {V2}: a rollback on the worker at {url} goes back to it")


@pytest.mark.parametrize("given", [["--keep", "0"], ["--keep", "-1"], ["--keep", "two"], []])
def test_a_bad_number_to_keep_is_one_sentence(
    adapters: Path, no_worker: Path, given: list[str]
) -> None:
    code, out = atri(no_worker, "adapters", "prune", *given, "--yes")
    assert code == 2
    assert out.startswith("error: ") and "Traceback" not in out and "Usage" not in out
    assert out.strip().endswith(".") and out.count("\n") <= 2
    assert "--keep" in out
    assert len(list_versions(adapters)) == 4


def test_a_version_goes_into_a_hidden_folder_before_it_is_deleted(
    adapters: Path, no_worker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker listing the folder while prune deletes sees each version whole or not at
    all: never one half deleted, which its reload job would refuse."""
    seen: list[tuple[str, list[str], list[str]]] = []
    real_rmtree = shutil.rmtree

    def watched(path: Any, *args: Any, **kwargs: Any) -> None:
        trash = Path(path)
        seen.append((trash.name, names_in(trash), [p.name for p in list_versions(adapters)]))
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(inventory.shutil, "rmtree", watched)
    code, out = atri(no_worker, "adapters", "prune", "--keep", "2", "--yes")
    assert code == 0, out
    # (The fixture's dead build folder is deleted first, as any left by a stopped run.)
    [(trash, inside, versions_then)] = [s for s in seen if s[0].startswith(".tmp-pruned")]
    # A name the cleanup of dead runs' hidden folders (remove_stale_temps) removes, should
    # a prune be killed while it deletes.
    match = _TMP_PATTERN.match(trash)
    assert match is not None and int(match["pid"]) == os.getpid()
    assert inside == [V1, V2] and versions_then == [V3, V4]
    assert not [n for n in names_in(adapters) if n.startswith(".tmp-pruned")]


def test_the_refusal_word_is_the_reload_jobs_own(adapters: Path) -> None:
    """The listing's reason is what the job's read_version raised, not a check of its own."""
    pickled(adapters, V2)
    (adapters / V3 / "manifest.json").write_text(json.dumps({"format": "x"}), encoding="utf-8")
    found = {v.name: v.refused for v in inventory.versions_on_disk(adapters)}
    assert found == {V4: "", V3: "bad manifest", V2: "pickle", V1: ""}


# --- another character's versions in the same folder -----------------------------------


def trained_as_eileen(folder: Path, name: str) -> None:
    """Version `name` trained as another character (her `atri train` into this folder)."""
    manifest = folder / name / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data.update(character="Eileen", character_names=["Eileen", "艾琳"])
    manifest.write_text(json.dumps(data), encoding="utf-8")


def test_another_characters_version_is_never_newest_and_never_pruned(
    adapters: Path, no_worker: Path
) -> None:
    """The worker passes over a version trained as another character (the reload job's
    `is_anothers`): `prune --keep 1` kept hers as the newest and removed ATRI's last."""
    trained_as_eileen(adapters, V4)
    code, out = atri(no_worker, "adapters", "list")
    assert code == 0, out
    assert row(out, V4).endswith("other character: Eileen")
    assert row(out, V3).endswith("newest")  # what a worker serving ATRI would load
    assert says(out, "other character: trained as another character than [persona] card's")
    code, out = atri(no_worker, "adapters", "prune", "--keep", "1", "--yes")
    assert code == 0, out
    assert says(out, f"Keeping the newest good version: {V3}.")
    assert says(out, f"Keeping {V4}: trained as Eileen, another character")
    assert [p.name for p in list_versions(adapters)] == [V3, V4]


def test_the_guessed_rollback_target_is_never_another_characters(
    adapters: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    # ATRI's V4 live; Eileen's V3 lies between: a rollback goes back to V2, passing hers.
    trained_as_eileen(adapters, V3)
    with worker_answering(serving(V4, None)) as url:
        settings = config(tmp_path, tiny_model_dir, url, "[reload]\nkeep_previous = 1\n")
        code, out = atri(settings, "adapters", "list")
        assert code == 0, out
        assert row(out, V2).endswith("rollback")
        assert row(out, V3).endswith("other character: Eileen")
        code, out = atri(settings, "adapters", "prune", "--keep", "1", "--yes")
    assert code == 0, out
    assert says(out, f"Keeping {V2}: a rollback on the worker at {url} goes back to it")
    assert [p.name for p in list_versions(adapters)] == [V2, V3, V4]


def test_the_version_a_kept_link_points_to_stays(adapters: Path, no_worker: Path) -> None:
    (adapters / NEWER).symlink_to(V1)  # a link named as a version, newer than all
    code, out = atri(no_worker, "adapters", "prune", "--keep", "1", "--yes")
    assert code == 0, out
    assert says(out, f"Keeping {V1}: the link {NEWER} (kept) points to it.")
    assert (adapters / NEWER).resolve(strict=True) == (adapters / V1).resolve()
    assert sorted(p.name for p in list_versions(adapters)) == [V1, V4, NEWER]


# --- a narrow terminal -----------------------------------------------------------------


@pytest.mark.parametrize("columns", [60, 70, 79, 100])
def test_a_narrow_terminal_never_cuts_a_version_name_or_its_status(
    adapters: Path, no_worker: Path, columns: int
) -> None:
    """Cut to fit, "20250101-000004-2" read as the other version "20250101-000004" and
    the status column vanished: below the table's width each version is one line."""
    suffixed = f"{V4}-2"  # atri train's name when V4's is taken
    shutil.copytree(adapters / V4, adapters / suffixed)
    manifest = adapters / suffixed / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "version": suffixed}), encoding="utf-8")
    pickled(adapters, V1)
    narrow = CliRunner(env={"COLUMNS": str(columns), "ATRI_ADMIN_TOKEN": None})
    result = narrow.invoke(app, ["--config", str(no_worker), "adapters", "list"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert row(out, suffixed).split()[0] == suffixed
    assert row(out, f"{V4} ").split()[0] == V4
    newest, pickle = row(out, suffixed), row(out, V1)
    if columns < 80:  # one line each: name, status, size, age
        assert newest.split()[:2] == [suffixed, "newest"] and newest.endswith("ago")
        assert pickle.startswith(f"{V1}    refused: pickle  ")  # the names aligned
    else:
        assert newest.endswith("newest") and pickle.endswith("refused: pickle")
        assert "character" in out and "held-out" in out and "gguf" in out


def test_prune_with_no_worker_running_says_to_start_it(adapters: Path, no_worker: Path) -> None:
    """Nothing listens at the configured address: the worker is not running, and
    "set [worker] url" sent the reader to change an address that was right."""
    code, out = atri(no_worker, "adapters", "prune", "--keep", "3")
    assert code == 1
    assert says(out, "No worker answered at http://127.0.0.1:")
    assert says(out, "nothing answers there")
    assert says(out, "(start it, or set [worker] url if it runs elsewhere).")


def test_prune_asking_a_server_that_is_no_worker_says_to_set_its_url(
    adapters: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    class NotAWorker(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotAWorker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, out = atri(config(tmp_path, tiny_model_dir, url), "adapters", "prune", "--keep", "3")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1
    assert says(out, "it answered /status with HTTP 404")
    assert says(out, "(set [worker] url to the worker's address for prune to ask it).")
