"""Which version `atri eval` evaluates when none is given: the newest one the configured
worker would take, of this character and of this base (`[model] base`), by the reload
job's own rules (`versions.is_anothers`, `validation.ConfiguredBase`). The newest on disk may
be another's, or trained on another base, which the evaluation then refuses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from atri.config import Settings
from model.adapters.validation import ConfiguredBase
from model.adapters.versions import (
    AdapterError,
    CharacterId,
    ManifestError,
    find_version,
    list_versions,
    read_manifest,
    trained_as,
)

TRAINED_AS = "trained as "


def version_to_evaluate(
    settings: Settings,
    given: Path | None,
    character: CharacterId,
    notify: Callable[[str], None],
) -> Path:
    """The version folder given (a path or a name), else the newest of `character` on
    `[model] base`; `notify` is told which newer ones were passed over and why, so their
    figures are not taken for the newest's. AdapterError with one sentence when there is
    none."""
    adapters_dir = settings.path(settings.model.adapters_dir)
    folder = find_version(adapters_dir, given)  # its own sentences when there is none
    if given is not None:
        return folder  # the evaluation says why a version given is not this worker's
    passed: list[str] = []
    others: list[bool] = []  # whether each passed over is another character's
    for folder in reversed(list_versions(adapters_dir)):
        why = passed_over_because(folder, settings, character)
        if not why:
            if passed:
                notify(_passed_over_note(folder.name, character, settings, passed))
            return folder
        passed.append(f"{folder.name} ({why})")
        others.append(why.startswith(TRAINED_AS))
    if all(others):
        raise AdapterError(
            f"{adapters_dir} holds no adapter version of {character.name}, only "
            f"{', '.join(passed)}: give each character its own [model] adapters_dir, and "
            f"run `atri train` with {character.name}'s config."
        )
    raise AdapterError(
        f"{adapters_dir} holds no adapter version of {character.name} trained on [model] "
        f'base "{_base_of(settings)}", only {", ".join(passed)}: evaluate one with the '
        "config it was trained with (--config), or run `atri train` first."
    )


def passed_over_because(folder: Path, settings: Settings, character: CharacterId) -> str:
    """Why a worker of `character` on `[model] base` passes the version over ("trained
    as Eileen", 'trained on base "models/qwen"'), or "" when it takes it. A manifest that
    cannot be read passes: the evaluation says what is wrong with it."""
    try:
        manifest = read_manifest(folder)
    except ManifestError:
        return ""
    theirs = trained_as(manifest)
    if theirs is not None and not theirs.is_same(character):
        return f"{TRAINED_AS}{theirs.name}"
    base = ConfiguredBase.of(settings)
    other = base.other_than(
        str(manifest.get("base_model") or ""), str(manifest.get("base_config_hash") or "")
    )
    return f'trained on base "{other}"' if other else ""


def _passed_over_note(
    chosen: str, character: CharacterId, settings: Settings, passed: list[str]
) -> str:
    several = len(passed) > 1
    return (
        f"{chosen} is {character.name}'s newest version on [model] base "
        f'"{_base_of(settings)}"; the newer version{"s" if several else ""} '
        f"{', '.join(passed)} passed over (evaluate {'each' if several else 'it'} with the "
        "config it was trained with, --config)."
    )


def _base_of(settings: Settings) -> str:
    return ConfiguredBase.of(settings).name
