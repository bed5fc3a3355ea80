"""Adapter version folders: names, manifest, and the atomic publish step.

A version is `<adapters_dir>/<YYYYMMDD-HHMMSS>[-N]/` (UTC). It is built in a hidden
folder beside it (`.tmp-<version>-<pid>`) and renamed into place only when complete, so
a reader never sees half an adapter. Names starting with "." are never versions.
No torch import here: the reload job reads manifests without loading a model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
EVAL_JSON = "eval.json"
EVAL_REPORT = "eval.md"
LOSS_PLOT = "loss.png"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
MANIFEST_FORMAT = "atri-adapter"
RUNS_DIR = ".runs"
TMP_PREFIX = ".tmp-"

VERSION_PATTERN = re.compile(r"^\d{8}-\d{6}(?:-[2-9]|-[1-9]\d+)?$")
_TMP_PATTERN = re.compile(r"^\.tmp-(?P<version>.+)-(?P<pid>\d+)$")


class ManifestError(Exception):
    """A version folder whose manifest is missing or unreadable; str() says which and why."""


def is_version_name(name: str) -> bool:
    return bool(VERSION_PATTERN.match(name))


def version_stamp(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")


def next_version_name(parent: Path, now: dt.datetime | None = None) -> str:
    """The version name for `now`, with -2, -3 … when that second is already taken."""
    stamp = version_stamp(now)
    name, n = stamp, 1
    while (parent / name).exists():
        n += 1
        name = f"{stamp}-{n}"
    return name


def _sort_key(name: str) -> tuple[str, str, int]:
    parts = name.split("-")
    return (parts[0], parts[1], int(parts[2]) if len(parts) == 3 else 1)


def list_versions(parent: Path) -> list[Path]:
    """Complete versions under `parent` (adapter files and manifest present), oldest first."""
    if not parent.is_dir():
        return []
    found = [
        p
        for p in parent.iterdir()
        if p.is_dir()
        and is_version_name(p.name)
        and (p / MANIFEST).is_file()
        and all((p / f).is_file() for f in ADAPTER_FILES)
    ]
    return sorted(found, key=lambda p: _sort_key(p.name))


def latest_version(parent: Path) -> Path | None:
    versions = list_versions(parent)
    return versions[-1] if versions else None


def read_manifest(folder: Path) -> dict[str, Any]:
    """The version's manifest.json as a dict; ManifestError with one sentence if unusable."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{folder}: no {MANIFEST}; it is not an adapter version.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read as JSON ({exc}).") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(
            f'{path}: not an ATRI adapter manifest (format is not "{MANIFEST_FORMAT}").'
        )
    return data


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def temp_folder(parent: Path, version: str) -> Path:
    """A fresh hidden build folder for `version` in `parent` (same filesystem: rename is atomic)."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f"{TMP_PREFIX}{version}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def publish(tmp: Path, parent: Path, version: str) -> Path:
    """Rename the finished build folder into place; take the next free name if raced.

    Returns the final folder. The manifest inside names the version, so it is rewritten
    when the name had to change.
    """
    name = version
    while True:
        target = parent / name
        try:
            os.rename(tmp, target)  # fails if target exists (non-empty dir or a file)
            return target
        except OSError:
            if not target.exists():
                raise
        name = next_version_name(parent)
        manifest = tmp / MANIFEST
        if manifest.is_file():
            data = json.loads(manifest.read_text(encoding="utf-8"))
            data["version"] = name
            write_json_atomic(manifest, data)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(parent: Path) -> list[Path]:
    """Delete build folders left by runs that died (killed, power cut); return them."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for p in parent.iterdir():
        match = _TMP_PATTERN.match(p.name)
        if match and p.is_dir() and not _pid_alive(int(match["pid"])):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
