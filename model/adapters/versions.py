"""Adapter versions on disk: names, order, listing, manifest, and the atomic publish step.

A version is `<adapters_dir>/<YYYYMMDD-HHMMSS>[-N]/` (UTC). It is built in a hidden
folder beside it (`.tmp-<version>-<random>-<pid>`) and renamed into place only when
complete, so a reader never sees half an adapter. Names starting with "." are never
versions.
No torch import here: the reload job reads manifests without loading a model.
`atri train` publishes versions, `atri eval` and the reload job read them, all in
`[model] adapters_dir`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atri.errors import UserError
from atri.files import claimed, owned, write_text_atomic
from atri.terminal import suggested_command

MANIFEST = "manifest.json"
EVAL_JSON = "eval.json"
EVAL_REPORT = "eval.md"
LOSS_PLOT = "loss.png"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
PICKLED_WEIGHTS = "adapter_model.bin"
MANIFEST_FORMAT = "atri-adapter"
RUNS_DIR = ".runs"
TMP_PREFIX = ".tmp-"
# The manifest's record of the existing version a new one's name continues (a clock
# behind the newest name): that version was there before it, whatever its created_at
# says, as created_at on either side of a clock step cannot be compared.
NAMED_AFTER = "named_after"
# What Notepad (and PowerShell 5's Out-File) puts at the start of a UTF-8 file; JSON
# readers (json.loads, peft) refuse it.
BOM = "\ufeff"

# Matched whole (fullmatch): `$` would also accept a name ending in a newline.
VERSION_PATTERN = re.compile(r"\d{8}-\d{6}(?:-[2-9]|-[1-9]\d+)?")
# What `atri adapters prune` names the hidden folder it deletes versions from.
PRUNED = "pruned"
# Only the names `temp_folder` makes (a version's or prune's, its random part, its pid),
# matched whole: a user's own hidden folder (".tmp-20261207-014228", a copy on its way
# in) read as a dead run's and was deleted.
_TMP_PATTERN = re.compile(
    rf"\.tmp-(?P<version>{VERSION_PATTERN.pattern}|{PRUNED})-[0-9a-f]{{8}}-(?P<pid>\d+)"
)


class AdapterError(UserError):
    """A version that must not be served or cannot be used; str() is the one-sentence reason.

    `short` is that reason in a word or two, as `atri adapters list` shows a refused
    version in its table (the sentence is too long for a column). `retried` marks a
    refusal that is not the version's fault and goes away without touching its files (a
    full disk, a model server not set up for adapters): the reload job tries such a
    version again at each look instead of holding it as refused."""

    short = "refused"
    retried = False

    def __init__(self, message: str = "", *, short: str = "") -> None:
        super().__init__(message)
        if short:
            self.short = short


class AdapterWriteError(AdapterError):
    """A version's files could not be written beside it (its GGUF LoRA: a full disk, a
    folder mounted read-only): nothing is wrong with the version, so the reload job
    tries it again at its next check."""

    retried = True


class AdapterConflict(AdapterError):
    """A version peft cannot load into a model that holds (or held) another one; str()
    names that other version. Nothing is wrong with the version itself: it is not held
    as refused, and a worker started afresh loads it."""


class ManifestError(AdapterError):
    """A version folder whose manifest is missing or unreadable; str() says which and why."""


def is_version_name(name: str) -> bool:
    return VERSION_PATTERN.fullmatch(name) is not None


def version_order(name: str) -> tuple[str, str, int] | tuple[()]:
    """Sort key of a version name; anything else (the base model "") sorts first."""
    if not is_version_name(name):
        return ()
    parts = name.split("-")
    return parts[0], parts[1], int(parts[2]) if len(parts) == 3 else 1


def version_time(name: str) -> dt.datetime | None:
    """The UTC time a version name stands for; None for no version name (or no date)."""
    if not is_version_name(name):
        return None
    try:
        return dt.datetime.strptime(name[:15], "%Y%m%d-%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:  # "20261399-000000": the pattern's digits, no date
        return None


def version_stamp(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")


def next_version_name(parent: Path, now: dt.datetime | None = None) -> str:
    """The version name for `now`, with -2, -3 … when that second is already taken."""
    return next_version(parent, now)[0]


def next_version(parent: Path, now: dt.datetime | None = None) -> tuple[str, str]:
    """The version name for `now` (see `next_version_name`), and the existing name it
    continues ("" when it continues none), which its manifest records as NAMED_AFTER.

    A new version always sorts after every folder already named as a version: one named
    later than now (a clock set ahead where it was trained, or stepped back since) would
    otherwise stay "the newest" for the reload job and `atri eval`, so the new one
    continues its name."""
    stamp = version_stamp(now)
    names = [p.name for p in parent.iterdir()] if parent.is_dir() else []
    latest = max((m for m in names if is_version_name(m)), key=version_order, default=None)
    if latest is None or version_order(latest) < version_order(stamp):
        return stamp, ""
    day, second, last = version_order(latest)  # type: ignore[misc]
    return f"{day}-{second}-{last + 1}", latest


def named_after(manifest: dict[str, Any]) -> str:
    """The version a manifest's version was named after (NAMED_AFTER), "" when none."""
    value = manifest.get(NAMED_AFTER)
    return value if isinstance(value, str) and is_version_name(value) else ""


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
    return sorted(found, key=lambda p: version_order(p.name))


def pickled_versions(parent: Path) -> list[str]:
    """Version folders whose weights exist only as `adapter_model.bin` (a pickle, which
    is never loaded): the reload job reports them refused rather than skipping them."""
    if not parent.is_dir():
        return []
    return [
        p.name
        for p in parent.iterdir()
        if p.is_dir()
        and is_version_name(p.name)
        and (p / MANIFEST).is_file()
        and (p / PICKLED_WEIGHTS).is_file()
        and not (p / ADAPTER_FILES[1]).is_file()
    ]


def bare_peft_folders(parent: Path) -> list[str]:
    """Folders under `parent` that hold a peft adapter (adapter_config.json and its
    safetensors) but no manifest.json, by name: one trained elsewhere (LLaMA-Factory,
    axolotl) and dropped in, or, named as a version, one being copied in whose manifest
    has not come yet (`bare_folders_hint` tells them apart). Never a version: nothing
    records the base it was trained on, which the reload job checks before a version
    goes live."""
    if not parent.is_dir():
        return []
    return sorted(
        p.name
        for p in parent.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and not (p / MANIFEST).exists()
        and all((p / f).is_file() for f in ADAPTER_FILES)
    )


def misnamed_versions(parent: Path) -> dict[str, str]:
    """Folders under `parent` holding a version (its manifest.json) under a name that is
    no version's, each with the name its manifest records: a copy made by a file manager
    ("20261206-140000 copy"), or one renamed by hand. Never a version: the job, a reload
    and `atri adapters list` passed it over without a word."""
    if not parent.is_dir():
        return {}
    found: dict[str, str] = {}
    for folder in parent.iterdir():
        if folder.name.startswith(".") or is_version_name(folder.name) or not folder.is_dir():
            continue
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        version = manifest.get("version") if isinstance(manifest, dict) else None
        if isinstance(version, str) and is_version_name(version):
            found[folder.name] = version
    return dict(sorted(found.items()))


def misnamed_hint(parent: Path, names: dict[str, str]) -> str:
    """What to do with `misnamed_versions`, as one sentence."""
    said = []
    for name, version in names.items():
        if (parent / version).exists():
            said.append(f"{name!r} is a copy of version {version}, which is there already")
        else:
            said.append(f"{name!r} holds version {version}: rename the folder to {version}")
    return (
        f"In {parent}, {'; '.join(said)}. Only a folder named as its version is one; "
        "no worker takes the others."
    )


def bare_folders_hint(parent: Path, names: list[str], config_file: str = "") -> str:
    """What to do with bare peft folders in the adapters folder, as one clause. One named
    as a version is most likely a version still being copied in (a copy writes the
    weights before manifest.json): adopting it published the half copy as another,
    newer version, so the real one, once complete, was never served. The adopt command
    names `config_file` (the config in use): pasted without it, it adopted into another
    folder's adapters, under another base, where no worker looks."""
    coming = [n for n in names if is_version_name(n)]
    foreign = [n for n in names if not is_version_name(n)]
    # The versions' clause first, as their names sort first: a bot adds the clause to
    # its own line after a capital, which would change a folder's name ("Llama-…").
    clauses = [_coming_clause(parent, coming)] if coming else []
    if foreign:
        clauses.append(_adopt_clause(parent, foreign, config_file))
    return "; ".join(clauses)


def _shown(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _adopt_clause(parent: Path, names: list[str], config_file: str) -> str:
    """Bare peft folders trained elsewhere: `atri adapters adopt` makes one a version."""
    one = len(names) == 1
    adopt = suggested_command(config_file, "adapters", "adopt", parent / names[0])
    if not one:  # FOLDER stands for the one to name, so it is not quoted
        adopt = suggested_command(config_file, "adapters", "adopt") + " FOLDER"
    return (
        f"{_shown(names)} in {parent} {'holds' if one else 'hold'} a peft adapter but no "
        f"{MANIFEST}, which records the base model a version was trained on, so the reload "
        f"job passes {'it' if one else 'them'} over; `{adopt}` checks "
        f"{'it' if one else 'one'} against [model] base and publishes it as a version (or "
        f"set [model] adapter to {'its' if one else 'the'} folder and restart)"
    )


def _coming_clause(parent: Path, names: list[str]) -> str:
    """Bare folders named as versions: copies on their way in, or copied without their
    manifest."""
    one = len(names) == 1
    coming = "if it is being copied in, it is" if one else "one being copied in is"
    return (
        f"{_shown(names)} in {parent} {'has' if one else 'have'} no {MANIFEST} yet: "
        f"{coming} taken once complete; a version from `atri train` needs its {MANIFEST}, "
        "so copy the folder whole from where it was trained"
    )


def complete_versions(adapters_dir: Path) -> list[str]:
    """Names of the complete versions (manifest and adapter files present), oldest first."""
    return [p.name for p in list_versions(adapters_dir)]


def latest_version(parent: Path) -> Path | None:
    versions = list_versions(parent)
    return versions[-1] if versions else None


def version_folder(adapters_dir: Path, name: str) -> Path:
    """The folder of version `name`; AdapterError if the name is not a version name or
    the folder (through a symlink, say) lies outside the adapters folder."""
    if not is_version_name(name):
        raise AdapterError(
            f"{name!r} is not an adapter version name (expected YYYYMMDD-HHMMSS, maybe with -N).",
            short="misnamed",
        )
    root = adapters_dir.resolve()
    folder = (adapters_dir / name).resolve()
    if folder.parent != root:
        raise AdapterError(
            f"Version {name} points outside the adapters folder {root}; refused.", short="link"
        )
    if not folder.is_dir():
        raise AdapterError(f"Version {name} does not exist in {root}.", short="missing")
    return folder


@dataclass(frozen=True)
class CharacterId:
    """Who a version was trained as, or whom a worker serves: the character card's name
    (in the language she speaks) and every name the card gives her (its aliases, which
    hold her names in the card's other languages).

    Names, not the card's path or hash: the same card read from another folder or on
    another machine, or with a typo fixed in its description, is still her (the adapter
    learnt from her dialogue under the short training prompt, not from the card's text),
    and ATRI served in English ("ATRI") is the one trained in Chinese ("亚托莉")."""

    name: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, name: str, aliases: Sequence[str] = ()) -> CharacterId:
        return cls(name, tuple(dict.fromkeys([name, *aliases])))

    def is_same(self, other: CharacterId) -> bool:
        """One's name is among the other's names (case aside). Not any shared alias: two
        characters may share a nickname, never one's name as the other's."""
        mine = {n.strip().casefold() for n in self.names}
        theirs = {n.strip().casefold() for n in other.names}
        return self.name.strip().casefold() in theirs or other.name.strip().casefold() in mine

    def manifest_fields(self) -> dict[str, Any]:
        return {"character": self.name, "character_names": list(self.names)}


def trained_as(manifest: dict[str, Any]) -> CharacterId | None:
    """The character a version was trained as; None for a version from before manifests
    recorded it (or a bare peft folder), which any character's worker accepts."""
    name = manifest.get("character")
    if not isinstance(name, str) or not name.strip():
        return None
    names = manifest.get("character_names")
    aliases = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    return CharacterId.of(name, aliases)


def is_anothers(theirs: CharacterId | None, ours: CharacterId | None) -> bool:
    """Whether a version trained as `theirs` is another character's than `ours`: what the
    reload job passes over and refuses. A version that records no one, or a worker told
    no one, takes any."""
    return theirs is not None and ours is not None and not theirs.is_same(ours)


def recorded_character(folder: Path) -> CharacterId | None:
    """Whom the version in `folder` was trained as; None when it records no one, or its
    manifest cannot be read (whatever loads it says what is wrong)."""
    try:
        return trained_as(read_manifest(folder))
    except (AdapterError, OSError):
        return None


def find_version(adapters_dir: Path, given: Path | None) -> Path:
    """The version folder a command means: the one given (a path, or a version name in
    the adapters folder), else the newest complete one. Which of them a worker of one
    character on one base would take is `atri eval`'s choice (`version_to_evaluate`)."""
    if given is not None:
        folder = given if given.is_absolute() else Path.cwd() / given
        if not folder.is_dir():
            inside = adapters_dir / str(given)
            folder = inside if inside.is_dir() else folder
        if folder.is_file():
            # A file of a version (its manifest.json, say) was "no such folder".
            hint = (
                f": pass its folder, {folder.parent}"
                if (folder.parent / MANIFEST).is_file()
                else ""
            )
            raise AdapterError(f"{given} is a file, not an adapter version folder{hint}.")
        if not folder.is_dir():
            raise AdapterError(f"{given}: no such adapter version folder.")
        return folder
    versions = list_versions(adapters_dir)
    if not versions and adapters_dir.exists() and not adapters_dir.is_dir():
        raise AdapterError(
            f"{adapters_dir} is a file, not a folder: [model] adapters_dir must name the "
            "folder `atri train` writes versions into."
        )
    if not versions:
        raise AdapterError(f"{adapters_dir}: no adapter version yet; run `atri train` first.")
    return versions[-1]


def read_manifest(folder: Path) -> dict[str, Any]:
    """The version's manifest.json as a dict; ManifestError with one sentence if unusable."""
    path = Path(folder) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
        if text.startswith(BOM):
            raise ManifestError(bom_refusal(path), short="bad manifest")
        data = json.loads(text)
    except FileNotFoundError:
        raise ManifestError(
            f"{folder}: no {MANIFEST}; it is not an adapter version.", short="no manifest"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(
            f"{path}: cannot be read as JSON ({exc}).", short="bad manifest"
        ) from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(
            f'{path}: not an ATRI adapter manifest (format is not "{MANIFEST_FORMAT}").',
            short="bad manifest",
        )
    return data


def bom_refusal(path: Path) -> str:
    """Why a JSON file saved with a byte-order mark is refused, and the fix, as one sentence."""
    return (
        f'{path} starts with a byte-order mark (BOM, as Notepad\'s "UTF-8 with BOM" '
        "saves it), which JSON readers refuse: save it again as UTF-8 without BOM."
    )


def recorded_prompt(folder: Path) -> str | None:
    """The system prompt a version was trained with, None when its manifest has none
    (versions trained before manifests recorded it, or a bare peft folder)."""
    try:
        prompt = read_manifest(folder).get("system_prompt")
    except ManifestError:
        return None
    return prompt if isinstance(prompt, str) and prompt else None


def created_time(manifest: dict[str, Any]) -> dt.datetime | None:
    """When a manifest says its version was made (`created_at`; UTC when it names no
    zone); None when it records no time that can be read."""
    value = manifest.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def recorded_creation(folder: Path) -> dt.datetime | None:
    """`created_time` of the version in `folder`; None when its manifest cannot be read."""
    try:
        return created_time(read_manifest(folder))
    except AdapterError:
        return None


def recorded_named_after(folder: Path) -> str:
    """`named_after` of the version in `folder`; "" when its manifest cannot be read."""
    try:
        return named_after(read_manifest(folder))
    except AdapterError:
        return ""


def hidden_by_name(
    created: dict[str, dt.datetime | None],
    newest: str,
    newest_made: dt.datetime,
    newest_named_after: str = "",
) -> list[tuple[str, dt.datetime]]:
    """The versions in `created` (each name with its manifest's time) made after `newest`
    (made at `newest_made`) but named before it, with when each was made: versions go by
    their names, so none of them is taken while `newest` is there (named ahead of the
    clock, or by hand). None at or before `newest_named_after` (its manifest's
    NAMED_AFTER): those were there when it was made, and a later created_at of theirs is
    a clock stepped back between the two."""
    there_before = version_order(newest_named_after)
    return [
        (name, when)
        for name, when in created.items()
        if when is not None
        and when > newest_made
        and there_before < version_order(name) < version_order(newest)
    ]


def hidden_by_name_hint(
    name: str, made: dt.datetime, newest: str, newest_made: dt.datetime, role: str = ""
) -> str:
    """Why version `name`, one of `hidden_by_name`, is never taken, and what to do, as one
    sentence; `role` says what `newest` is ("the live ")."""
    return (
        f"Adapter version {name} was made after {role}version {newest} (created_at "
        f"{made.isoformat()} in its manifest, against {newest_made.isoformat()}), but its "
        f"name sorts before {newest}'s and versions go by their names, so no worker takes "
        f'it: rename its folder, and the "version" in its {MANIFEST}, to a name after {newest}.'
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


# The versions an admin rolled back from, kept beside them: the job does not take one
# again, after a restart too (the bad version came back at the next start), until it is
# asked for by name or a newer version appears.
ROLLED_BACK_FILE = ".rolled-back.json"


def rolled_back_versions(adapters_dir: Path) -> set[str]:
    """The versions recorded as rolled back from; none when the record is missing or
    unreadable (it only ever holds versions back, never makes one go live)."""
    try:
        data = json.loads((adapters_dir / ROLLED_BACK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    names = data.get("versions") if isinstance(data, dict) else None
    if not isinstance(names, list):
        return set()
    return {n for n in names if isinstance(n, str) and VERSION_PATTERN.fullmatch(n)}


def record_rolled_back(adapters_dir: Path, versions: set[str]) -> None:
    """Write the record (OSError when the folder cannot be written)."""
    path = adapters_dir / ROLLED_BACK_FILE
    if not versions:
        path.unlink(missing_ok=True)
        return
    write_json_atomic(path, {"versions": sorted(versions, key=version_order)})


@contextlib.contextmanager
def temp_folder(parent: Path, version: str) -> Iterator[Path]:
    """A fresh hidden build folder for `version` in `parent` (same filesystem: rename is
    atomic), `.tmp-<version>-<random>-<pid>`, held for the `with` block (see
    atri.files.owned): while its run lives, another never takes it for a dead run's.
    `version` is a version name or PRUNED: `remove_stale_temps` takes no other. A
    folder that cannot be written (a read-only volume, another user's) is one sentence:
    `atri adapters prune` and `adopt` ended in a traceback there."""

    def unwritable(exc: OSError) -> UserError:
        return UserError(
            f"{parent}: nothing can be written there ({exc.strerror or exc}); nothing was "
            "changed. Make the folder writable for the user ATRI runs as."
        )

    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(exc) from None

    def make() -> Path:
        while True:
            tmp = parent / f"{TMP_PREFIX}{version}-{secrets.token_hex(4)}-{os.getpid()}"
            try:
                tmp.mkdir()  # the umask's mode, as the version folder it becomes
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                    raise
                raise unwritable(exc) from None
            return tmp

    with owned(make) as tmp:
        yield tmp


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
        name, after = next_version(parent)
        manifest = tmp / MANIFEST
        if manifest.is_file():
            data = json.loads(manifest.read_text(encoding="utf-8"))
            data["version"] = name
            data.pop(NAMED_AFTER, None)
            if after:
                data[NAMED_AFTER] = after
            write_json_atomic(manifest, data)


def remove_stale_temps(parent: Path) -> list[Path]:
    """Delete build folders left by runs that died (killed, power cut): those no running
    process holds (see atri.files.claimed); return them."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for p in parent.iterdir():
        match = _TMP_PATTERN.fullmatch(p.name)
        if not match or not p.is_dir():
            continue
        with claimed(p, int(match["pid"])) as dead:  # no running process holds it
            if dead:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed
