"""`atri adapters list` and `prune`: the versions on disk in `[model] adapters_dir`, what
each weighs, which one a worker serves, and removing the old ones.

Every `atri train` adds a version that nothing deletes (`[reload] keep_previous` only
says how many stay loaded in a worker's memory): tens of MB each on the offline model,
hundreds on a 7B one. A version is judged by the reload job's own file checks
(`validation.read_version`) and its rule for the base (`validation.ConfiguredBase`), never a
copy of them. Which one is live, and which are kept loaded for a rollback, only the worker knows: it is asked at its configured address
(`/status`). No torch import here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from atri.config import OFFLINE_DEFAULT_BASE, Secrets, Settings
from atri.errors import UserError
from atri.terminal import suggested_command
from model.adapters.gguf_lora import ADAPTER_GGUF
from model.adapters.validation import ConfiguredBase, read_version
from model.adapters.versions import (
    ADAPTER_FILES,
    MANIFEST,
    PRUNED,
    RUNS_DIR,
    AdapterError,
    CharacterId,
    created_time,
    hidden_by_name,
    hidden_by_name_hint,
    is_anothers,
    is_version_name,
    named_after,
    recorded_character,
    rolled_back_versions,
    temp_folder,
    version_order,
)
from model.protocol import LOCAL_PATH, WorkerStatus

# A worker answers /status at once (it waits for no model); nothing answering by then is
# taken as no worker.
STATUS_TIMEOUT_SECONDS = 3.0
# Where a worker bound to every interface is reached from this machine.
_WILDCARD_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}
# Why no worker answered, when nothing listens at its address (no worker is running there).
NOTHING_ANSWERS = "nothing answers there"


def base_label(base: str) -> str:
    """A base model as the listing shows it: a folder by its name (a path would widen
    the table past a terminal), a hub id or the offline default as it is."""
    if not LOCAL_PATH.match(base):
        return base
    return base.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or base


@dataclass(frozen=True)
class VersionOnDisk:
    """One version folder, as the listing shows it."""

    name: str
    folder: Path
    size: int  # bytes of its files
    manifest: dict[str, Any]  # {} when it has none that can be read
    has_gguf: bool
    refused: str = ""  # the reload job's refusal in a word or two; "" when it passes
    reason: str = ""  # the refusal's sentence
    # The character it was trained as when that is another than the configured card's:
    # the worker passes it over, and it is hers, not this character's to prune.
    anothers: str = ""
    # An admin rolled back from it (`ROLLED_BACK_FILE`): the job does not take it again.
    rolled_back: bool = False
    # The base it was trained on when a worker on `[model] base` refuses it: a worker on
    # that base serves it.
    other_base: str = ""
    # The files of a version it lacks (refused "no manifest" or "incomplete"): `reason`
    # names them, which the listing prints below its table.
    missing: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """Whether the configured character's worker, on the configured base, would load
        it."""
        return (
            not self.refused and not self.anothers and not self.rolled_back and not self.other_base
        )

    @property
    def base(self) -> str:
        """The base model its manifest records ("" when it has none that can be read)."""
        name = self.manifest.get("base_model")
        return (name.strip() or OFFLINE_DEFAULT_BASE) if isinstance(name, str) else ""

    @property
    def published(self) -> dt.datetime:
        """When it was published: its name is the UTC time."""
        day, second = self.name.split("-")[:2]
        return dt.datetime.strptime(day + second, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)

    @property
    def made(self) -> dt.datetime | None:
        """When its manifest says it was made (`created_at`)."""
        return created_time(self.manifest)

    @property
    def character(self) -> str:
        name = self.manifest.get("character")
        return name if isinstance(name, str) else ""

    def loss(self, key: str) -> float | None:
        """A final loss from the manifest ("train_loss", "eval_loss"); None if unknown."""
        value = self.manifest.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under `folder`, links not followed (0 for one unreadable)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def version_folders(adapters_dir: Path) -> list[Path]:
    """The folders named as versions, newest first. Hidden ones (`.tmp-…` builds, `.runs`
    checkpoints) and anything else there are never versions."""
    if not adapters_dir.is_dir():
        return []
    found = [p for p in adapters_dir.iterdir() if is_version_name(p.name) and p.is_dir()]
    return sorted(found, key=lambda p: version_order(p.name), reverse=True)


def versions_on_disk(
    adapters_dir: Path,
    character: CharacterId | None = None,
    require_eval: bool = False,
    config_file: str = "",
    base: ConfiguredBase | None = None,
) -> list[VersionOnDisk]:
    """Every version folder, newest first, each checked as the reload job checks it, and
    whose it is judged as the job of a worker serving `character` on `base` judges it
    (None: any base). `require_eval` (the listing's, not a prune's: a version waiting for
    its evaluation is no version to delete): one without an out-of-character rate is
    refused, as a worker under `[reload] require_eval` refuses it. `config_file`: the
    config in use, which the `atri eval` a reason suggests names."""
    left = rolled_back_versions(adapters_dir)
    return [
        read_on_disk(
            adapters_dir, folder, character, folder.name in left, require_eval, config_file, base
        )
        for folder in version_folders(adapters_dir)
    ]


def read_on_disk(
    adapters_dir: Path,
    folder: Path,
    character: CharacterId | None = None,
    rolled_back: bool = False,
    require_eval: bool = False,
    config_file: str = "",
    base: ConfiguredBase | None = None,
) -> VersionOnDisk:
    refused = reason = other_base = ""
    missing: tuple[str, ...] = ()
    theirs = recorded_character(folder)
    try:
        version = read_version(adapters_dir, folder.name, config_file)
    except AdapterError as exc:
        refused, reason = exc.short, str(exc)
        if refused in _MISSING_FILES:
            missing = missing_files(folder)
            refused, reason = missing_refusal(folder, missing) if missing else (refused, reason)
    else:
        # The job's order: the base before the evaluation (a version of another base
        # cannot be evaluated under this config).
        m = version.manifest
        other_base = base.other_than(m.base_model, m.base_config_hash) if base else ""
        if not other_base and require_eval and version.ooc_rate is None:
            refused = "not evaluated"
            reason = (
                f"Version {folder.name} has no evaluation, and [reload] require_eval is on: "
                f"run `{suggested_command(config_file, 'eval', folder)}`."
            )
    return VersionOnDisk(
        name=folder.name,
        folder=folder,
        size=0 if folder.is_symlink() else folder_bytes(folder),
        manifest=_manifest_of(folder),
        has_gguf=(folder / ADAPTER_GGUF).is_file(),
        refused=refused,
        reason=reason,
        anothers=theirs.name if theirs and is_anothers(theirs, character) else "",
        rolled_back=rolled_back,
        other_base=other_base,
        missing=missing,
    )


# The reload job's words for a version folder that lacks some of a version's files.
_MISSING_FILES = {"no manifest", "incomplete"}


def missing_files(folder: Path) -> tuple[str, ...]:
    """The files of a version (its adapter files and manifest) that `folder` lacks."""
    return tuple(f for f in (*ADAPTER_FILES, MANIFEST) if not (folder / f).is_file())


def missing_refusal(folder: Path, missing: tuple[str, ...]) -> tuple[str, str]:
    """The refusal's word and sentence for a version folder lacking `missing`, naming
    them: a GGUF export copied alone (what the llama.cpp machine uses) was listed as
    "no manifest" without a word of what else a version needs."""
    files = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
    if (folder / ADAPTER_GGUF).is_file() and ADAPTER_FILES[1] in missing:
        return "gguf only", (
            f"Version {folder.name}: {ADAPTER_GGUF} alone is no version: copy {files} too, "
            "the whole folder `atri train` wrote."
        )
    short = "no manifest" if MANIFEST in missing else "incomplete"
    return short, (
        f"Version {folder.name} lacks {files}: copy the whole folder `atri train` wrote "
        "(one still being copied in is taken once complete)."
    )


def _manifest_of(folder: Path) -> dict[str, Any]:
    """The manifest's fields as they are, for showing (whatever the checks said of it)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def runs_bytes(adapters_dir: Path) -> int | None:
    """The size of `.runs/` (checkpoints of runs for `--resume`); None when it holds no
    run's folder: every finished run leaves it empty (on Windows with lock files)."""
    runs = adapters_dir / RUNS_DIR
    try:
        if not any(entry.is_dir() for entry in runs.iterdir()):
            return None
    except OSError:  # absent, or not a folder
        return None
    return folder_bytes(runs)


def size_text(size: int) -> str:
    """Bytes as a person reads them: "38.2 MiB", "1.4 GiB"."""
    if size >= 2**30:
        return f"{size / 2**30:.1f} GiB"
    if size >= 2**20:
        return f"{size / 2**20:.1f} MiB"
    return f"{size / 2**10:.0f} KiB"


@dataclass(frozen=True)
class WorkerView:
    """What the worker at the configured address said of the versions it holds."""

    url: str  # "" when the config names no address a worker can be reached at
    answered: bool
    live: str = ""  # the version it serves ("" = the base model)
    kept: tuple[str, ...] = ()  # versions it keeps loaded for a rollback
    # `kept` is taken from [reload] keep_previous: its /status named no loaded versions
    # (they are shown only to a caller holding ATRI_ADMIN_TOKEN).
    kept_guessed: bool = False
    why: str = ""  # why nothing (usable) answered
    # The version its last reload refused, found only once loaded (NaN weights, a
    # smoke test failed): the files' checks here pass it, and it is no good version.
    refused: str = ""

    @property
    def silent(self) -> bool:
        """Nothing listens at its address: no worker runs there (or it runs elsewhere)."""
        return self.why.startswith(NOTHING_ANSWERS)


def worker_url(settings: Settings) -> str:
    """Where the configured worker answers: `[worker] url`, else `[worker] host` and
    `port` as this machine reaches them; "" for port 0 (any free port: unknown here)."""
    if settings.worker.url.strip():
        return settings.worker.url.strip().rstrip("/")
    if settings.worker.port == 0:
        return ""
    host = settings.worker.host.strip()
    host = _WILDCARD_LOOPBACK.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{settings.worker.port}"


def ask_worker(settings: Settings, versions: list[VersionOnDisk]) -> WorkerView:
    """The worker's live version and those it keeps loaded for a rollback. Without
    ATRI_ADMIN_TOKEN its /status lists no loaded versions: those kept are then taken to
    be the `[reload] keep_previous` newest good versions before the live one, which a
    rollback goes back to."""
    url = worker_url(settings)
    if not url:
        return WorkerView("", False, why="[worker] port = 0 names no address to ask")
    status = _status(url, Secrets.from_env())
    if isinstance(status, str):
        return WorkerView(url, False, why=status)
    live = status.adapter_version
    last = status.last_reload
    refused = last.get("version") if last.get("code") == "refused" else ""
    refused = refused if isinstance(refused, str) and refused != live else ""
    loaded = status.details.get("loaded_adapters")
    if isinstance(loaded, list):
        kept = tuple(n for n in loaded if isinstance(n, str) and n and n != live)
    else:
        # Her own, as the worker's rollback (which passes over another character's), on
        # the live version's base: a worker serving one of another base runs that base.
        live_base = next((v.other_base for v in versions if v.name == live), "")
        older = [
            v.name
            for v in versions
            if _usable_on(v, live_base) and version_order(v.name) < version_order(live)
        ]
        kept = tuple(older[: settings.reload.keep_previous]) if live else ()
        return WorkerView(url, True, live, kept, kept_guessed=True, refused=refused)
    return WorkerView(url, True, live, kept, refused=refused)


def _usable_on(version: VersionOnDisk, other_base: str) -> bool:
    """Whether a worker would load it on `other_base` ("": the configured base)."""
    if not other_base:
        return version.usable
    return version.other_base == other_base and not (
        version.refused or version.anothers or version.rolled_back
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (HTTP 3xx), not followed: urllib carries the request's
    headers, the admin token's too, to wherever it points (another host included)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NOT_REDIRECTED = urllib.request.build_opener(_NoRedirects)


def _status(url: str, secrets: Secrets) -> WorkerStatus | str:
    """The worker's /status, or why none came (a short clause)."""
    request = urllib.request.Request(f"{url}/status")
    if secrets.admin_token is not None:
        token = secrets.admin_token.get_secret_value()
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _NOT_REDIRECTED.open(request, timeout=STATUS_TIMEOUT_SECONDS) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        return f"it answered /status with HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        return f"{NOTHING_ANSWERS}: {getattr(why, 'strerror', None) or why}"
    try:
        return WorkerStatus.model_validate_json(body)
    except ValidationError:
        return "what answers there is no ATRI worker (its /status is not a worker's)"


def live_or_newest(versions: list[VersionOnDisk], worker: WorkerView) -> str:
    """The version being served: the worker's, else the newest good one of this
    character and base, which a worker started now would load."""
    if worker.answered:
        return worker.live
    return next((v.name for v in versions if v.usable), "")


def status_of(version: VersionOnDisk, worker: WorkerView, newest: str) -> str:
    """The listing's status column for one version."""
    if worker.answered and version.name == worker.live:
        return "live"
    # Before "rollback": one rolled back from stays loaded (keep_previous), but a rollback
    # goes back past it, never to it.
    if version.rolled_back:
        return "rolled back"
    if version.name in worker.kept:
        return "rollback"
    if version.anothers:
        return f"other character: {version.anothers}"
    if version.other_base:
        return f"other base: {base_label(version.other_base)}"
    if version.refused:
        return f"refused: {version.refused}"
    if version.name == worker.refused:
        return "refused by the worker"
    if not worker.answered and version.name == newest:
        return "newest"
    return ""


def hidden_by_name_notes(versions: list[VersionOnDisk], worker: WorkerView) -> list[str]:
    """A sentence for each version of this character made after the one served (the
    worker's, else the newest) but named before it, which no worker takes: the sentence
    the worker logs."""
    served = live_or_newest(versions, worker)
    newest = next((v for v in versions if v.name == served), None)
    made = newest.made if newest else None
    if newest is None or made is None:
        return []
    created = {v.name: v.made for v in versions if _may_serve(v)}
    role = "the live " if worker.answered else "the newest "
    after = named_after(newest.manifest)
    return [
        hidden_by_name_hint(name, when, served, made, role)
        for name, when in hidden_by_name(created, served, made, after)
    ]


def _may_serve(version: VersionOnDisk) -> bool:
    """Whether a worker of this character and base would take it, were it named later."""
    return not (version.anothers or version.rolled_back or version.other_base)


@dataclass(frozen=True)
class PrunePlan:
    keep: list[VersionOnDisk]  # the newest N good ones
    spared: list[tuple[VersionOnDisk, str]]  # also kept, and why (live, for a rollback, …)
    remove: list[VersionOnDisk]

    @property
    def freed(self) -> int:
        return sum(v.size for v in self.remove)


def prune_plan(
    versions: list[VersionOnDisk], keep: int, worker: WorkerView, starts_with: str = ""
) -> PrunePlan:
    """All but the newest `keep` versions of this character and base that pass the reload
    job's checks, and the refused ones older than those; never the worker's live version
    nor those it keeps for a rollback, never the version `[model] adapter` names
    (`starts_with`: a worker refuses to start without it), never another character's
    version nor one of another base (a worker on that base serves it), never a link nor the version a link points to, never a version made
    (`created_at`) after the newest kept but named before it (that newest was named ahead
    of the clock: this one may be the real newest), and nothing newer than the oldest
    kept (a refused one there may be a folder still being copied in). Nothing goes when
    none passes."""
    good = [v for v in versions if v.usable and v.name != worker.refused]
    kept = good[:keep]
    if not kept:
        return PrunePlan([], [], [])
    oldest = version_order(kept[-1].name)
    linked = _linked_from(versions)
    hidden = _hidden_behind(versions, kept[0])
    spared: list[tuple[VersionOnDisk, str]] = []
    remove: list[VersionOnDisk] = []
    kept_names = {v.name for v in kept}
    for version in versions:
        if version.name in kept_names:
            continue
        why = _spared_because(version, worker, oldest) or linked.get(version.name, "")
        if not why and version.name == starts_with:
            why = "[model] adapter names it: a worker starts with it"
        if not why and version.name in hidden:
            why = (
                f"made after {kept[0].name} (created_at in its manifest) but named before "
                "it, so no worker takes it: rename it rather than lose it (see `atri "
                "adapters list`)"
            )
        if why:
            spared.append((version, why))
        else:
            remove.append(version)
    return PrunePlan(kept, spared, remove)


def _hidden_behind(versions: list[VersionOnDisk], newest: VersionOnDisk) -> set[str]:
    """The versions made after `newest` but named before it (`hidden_by_name`)."""
    if newest.made is None:
        return set()
    created = {v.name: v.made for v in versions}
    after = named_after(newest.manifest)
    return {name for name, _ in hidden_by_name(created, newest.name, newest.made, after)}


def _spared_because(version: VersionOnDisk, worker: WorkerView, oldest: tuple[Any, ...]) -> str:
    if worker.answered and version.name == worker.live:
        return f"the worker at {worker.url} serves it"
    if version.name in worker.kept and worker.kept_guessed:
        return f"a rollback on the worker at {worker.url} goes back to it ([reload] keep_previous)"
    if version.name in worker.kept:
        return f"the worker at {worker.url} keeps it loaded for a rollback"
    if version.anothers:
        return (
            f"trained as {version.anothers}, another character: hers, not this one's "
            "to prune (give her her own [model] adapters_dir)"
        )
    if version.other_base:
        return (
            f"trained on another base, {version.other_base} ([model] base): a worker on "
            "that base serves it"
        )
    if version.folder.is_symlink():
        return "a link, not a folder of its own"
    if version_order(version.name) > oldest:
        if version.rolled_back or version.name == worker.refused:
            how = "rolled back from" if version.rolled_back else "refused by the worker"
            return f"{how}, and newer than the versions kept: yours to look into or remove"
        return (
            f"refused ({version.refused}), but newer than the versions kept: it may be "
            "a folder still being copied in"
        )
    return ""


def _linked_from(versions: list[VersionOnDisk]) -> dict[str, str]:
    """Why each version a link points to stays: links are never removed, and one left
    pointing at nothing would be a version the reload job refuses."""
    spared: dict[str, str] = {}
    for link in versions:
        if not link.folder.is_symlink():
            continue
        try:
            target = link.folder.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if target.parent == link.folder.parent.resolve() and target.name != link.name:
            spared.setdefault(target.name, f"the link {link.name} (kept) points to it")
    return spared


def remove_versions(adapters_dir: Path, doomed: list[VersionOnDisk]) -> None:
    """Remove the versions: each is first renamed into one hidden `.tmp-pruned-…` folder,
    so a worker looking at that moment sees a version whole or not at all (never one half
    deleted, which it would refuse), then that folder is deleted. It is held while it is
    deleted (see versions.temp_folder): one left by a prune killed meanwhile is removed
    by the next `atri train`, as a dead run's build folder. UserError with one sentence
    when a version cannot be moved or the folder cannot be deleted whole."""
    moved: list[str] = []
    with temp_folder(adapters_dir, PRUNED) as trash:
        try:
            for version in doomed:
                try:
                    os.rename(version.folder, trash / version.name)
                except OSError as exc:
                    done = f"; removed before it: {', '.join(moved)}" if moved else ""
                    raise UserError(
                        f"Version {version.name} cannot be removed ({exc.strerror or exc}){done}."
                    ) from None
                moved.append(version.name)
        finally:
            shutil.rmtree(trash, ignore_errors=True)
        if trash.exists():
            raise UserError(
                f"The removed versions were moved into {trash}, which could not be deleted "
                "whole: delete it by hand (no worker reads it)."
            )
