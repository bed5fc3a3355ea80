"""`atri adapters adopt`: a peft adapter trained elsewhere (LLaMA-Factory, axolotl,
unsloth) made a version of `[model] adapters_dir`.

Such a folder has no manifest.json, so the reload job never serves it: nothing records
the base it was trained on. Adopting it checks it against the configured base as the
reload job checks a version (tensor names, ranks, a PiSSA-style start, layer shapes),
then publishes a copy of its two adapter files with a manifest recording that base and
its config hash, through the same hidden-folder-then-rename step `atri train` uses.
What only training knows (datasets, settings, the character, the system prompt) is
left unknown: the worker then serves it under the character card, to any character.
"""

from __future__ import annotations

import codecs
import datetime as dt
import logging
import shutil
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atri.config import OFFLINE_DEFAULT_BASE, Settings
from atri.errors import UserError
from model.adapters.validation import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    adapter_config,
    check_adapter_folder,
    check_module_shapes,
    check_trained_on,
    tensor_shapes,
)
from model.adapters.versions import (
    MANIFEST,
    PICKLED_WEIGHTS,
    AdapterError,
    is_version_name,
    latest_version,
    list_versions,
    next_version,
    sha256_file,
    version_order,
    version_time,
    write_json_atomic,
)

log = logging.getLogger(__name__)

# A --version further ahead than this names the future: a machine's clock set ahead, or a
# typo. A day leaves room for a name given in local time east of UTC.
MAX_NAME_AHEAD = dt.timedelta(days=1)


@dataclass
class BaseFacts:
    """What adopting needs of `[model] base`, read from its config alone (no weights):
    the config hash `atri train` records and the (in, out) sizes of its layers."""

    base_id: str
    config_hash: str
    module_dims: dict[str, tuple[int, int]]

    def accepts_config_hash(self, value: str) -> bool:
        return value == self.config_hash


@dataclass(frozen=True)
class Adopted:
    source: Path
    folder: Path  # the published version folder
    base: BaseFacts

    @property
    def version(self) -> str:
        return self.folder.name


def adopt_adapter(settings: Settings, source: Path, version: str | None = None) -> Adopted:
    """Check the peft folder `source` against `[model] base` and publish a copy of it as
    a new version (named `version`, else by the time as `atri train` names one).
    AdapterError with one sentence for any refusal; a failure leaves nothing behind."""
    out = settings.path(settings.model.adapters_dir)
    check_source(source, out)
    name, after = version_to_publish(out, version)
    base = base_facts(settings)
    check_fits(source, base)
    check_trained_on(source, base)  # warns when its config names another base model
    weights_hash = sha256_file(source / ADAPTER_WEIGHTS)
    check_not_adopted(source, out, weights_hash)

    from model.training.publishing import publish_built, write_gguf_adapter

    def build(tmp: Path) -> None:
        copy_adapter(source, tmp, weights_hash)
        manifest = adopted_manifest(settings, name, source, tmp, base, after)
        write_json_atomic(tmp / MANIFEST, manifest)
        write_gguf_adapter(settings, tmp)  # for the llama.cpp engine, as training does

    return Adopted(source, publish_built(out, name, build, []), base)


def check_source(source: Path, out: Path) -> None:
    """The folder's own files, as the reload job reads a version's: a peft LoRA in
    safetensors under peft's names, of the rank its config says, saved converted."""
    if source.is_dir() and (source / MANIFEST).exists():
        inside = source.resolve().parent == out.resolve()
        raise AdapterError(
            f"{source} is already an adapter version (it has {MANIFEST})"
            + (
                " in [model] adapters_dir; nothing to adopt."
                if inside
                else f": copy the folder whole into {out} instead (adopting is for a peft "
                "folder trained elsewhere)."
            )
        )
    check_not_arriving(source, out)
    if (
        source.is_dir()
        and (source / ADAPTER_CONFIG).is_file()
        and not (source / ADAPTER_WEIGHTS).exists()
        and not (source / PICKLED_WEIGHTS).exists()
    ):
        raise AdapterError(
            f"{source} has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS} beside it: copy the "
            "adapter folder whole (peft writes both)."
        )
    check_adapter_folder(source, bom_ok=True)  # its copy is written without the BOM


def check_not_arriving(source: Path, out: Path) -> None:
    """A folder named as a version in the adapters folder, without its manifest, is a
    version `atri train` wrote, copied in part or still coming: adopted, it was published
    again under a newer name, and the real one, complete later, was never served."""
    folder = source.resolve()
    if folder.parent == out.resolve() and is_version_name(folder.name):
        raise AdapterError(
            f"{source} is an adapter version without its {MANIFEST} (still being copied in, "
            "or copied in part): copy the whole folder from where it was trained, and the "
            "reload job takes it once complete; adopted, it would be published again under "
            "a newer name."
        )


def version_to_publish(
    out: Path, given: str | None, now: dt.datetime | None = None
) -> tuple[str, str]:
    """The name the new version gets: `given`, checked, else the next by the clock; and
    the existing version that name continues, "" for none (see `next_version`)."""
    if given is None:
        return next_version(out, now)
    when = version_time(given)
    if when is None:
        raise AdapterError(
            f"{given!r} is not an adapter version name: versions are named by the UTC time "
            "as YYYYMMDD-HHMMSS (maybe with -N), which is how the reload job orders them; "
            "leave out --version to name it by the time now."
        )
    if when - (now or dt.datetime.now(dt.UTC)) > MAX_NAME_AHEAD:
        raise AdapterError(
            f"--version {given} lies more than a day ahead of the time now (UTC): every "
            "version named by the clock from now on would sort before it, and the reload "
            "job would never serve them; name it by when it was trained (UTC), or leave "
            "out --version."
        )
    if (out / given).exists():
        raise AdapterError(f"{out / given} already exists; choose another --version.")
    newest = latest_version(out)
    if newest is not None and version_order(newest.name) >= version_order(given):
        raise AdapterError(
            f"--version {given} sorts before version {newest.name}, the newest in {out}: "
            "the reload job serves the newest version, so it would never serve this one; "
            "choose a later name, or leave out --version."
        )
    return given, ""


def base_facts(settings: Settings) -> BaseFacts:
    """`[model] base`'s config hash and layer sizes, from its config.json: the model is
    built on torch's meta device, so no weights are read or held in memory."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from model.engines.loading import config_hash, resolve_base
    from model.engines.local import layer_dims

    source = resolve_base(settings)
    trust = settings.model.trust_remote_code
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust)
    except Exception as exc:  # not cached offline, remote code refused, unknown type
        raise UserError(
            f'[model] base = "{settings.model.base}": its config cannot be read to check '
            f"the adapter against ({type(exc).__name__}: {str(exc).strip()[:200]})."
        ) from None
    return BaseFacts(
        base_id=settings.model.base.strip() or OFFLINE_DEFAULT_BASE,
        config_hash=config_hash(types.SimpleNamespace(config=config)),
        module_dims=layer_dims(model),
    )


def check_fits(source: Path, base: BaseFacts) -> None:
    """Its LoRA shapes against the base's layers, as the engine checks a version before
    peft loads it."""
    try:
        check_module_shapes(tensor_shapes(source / ADAPTER_WEIGHTS), base.module_dims)
    except AdapterError as exc:
        reason = str(exc)
        raise AdapterError(
            f"{source} does not fit [model] base {base.base_id!r}: {reason[:1].lower()}{reason[1:]}"
        ) from None


def check_not_adopted(source: Path, out: Path, weights_hash: str) -> None:
    """A version whose weights are these very bytes: adopting again would only add a
    copy the reload job switches to for nothing."""
    size = (source / ADAPTER_WEIGHTS).stat().st_size
    for folder in list_versions(out):
        theirs = folder / ADAPTER_WEIGHTS
        if theirs.stat().st_size == size and sha256_file(theirs) == weights_hash:
            raise AdapterError(
                f"{source} is already version {folder.name} in {out}: that version has the"
                f" same {ADAPTER_WEIGHTS} (adopted, or written by `atri train`)."
            )


def copy_adapter(source: Path, tmp: Path, weights_hash: str) -> None:
    """The two adapter files only: no optimizer states, checkpoints or tokenizer copies.
    The config without a byte-order mark (one saved by Notepad), which peft refuses."""
    config = (source / ADAPTER_CONFIG).read_bytes()
    (tmp / ADAPTER_CONFIG).write_bytes(config.removeprefix(codecs.BOM_UTF8))
    shutil.copyfile(source / ADAPTER_WEIGHTS, tmp / ADAPTER_WEIGHTS)
    if sha256_file(tmp / ADAPTER_WEIGHTS) != weights_hash:
        raise AdapterError(
            f"{source / ADAPTER_WEIGHTS} changed while it was copied (is its training still "
            "writing it?); adopt it again once it is finished."
        )


def adopted_manifest(
    settings: Settings, version: str, source: Path, tmp: Path, base: BaseFacts, after: str = ""
) -> dict[str, Any]:
    """manifest.json as `atri train` writes it, what only training knows left unknown
    (null): no system prompt or character, so every worker serves it under its card."""
    from model.training.publishing import manifest_head, now_stamp

    config = adapter_config(tmp)
    targets = config.get("target_modules")
    return {
        **manifest_head(version, settings.model.base, base.config_hash, after),
        "dataset_sha256": None,
        "eval_dataset_sha256": None,
        "eval_dataset_file": None,
        "settings": None,
        "hardware": None,
        "train_loss": None,
        "eval_loss": None,
        "base_eval_loss": None,
        "created_at": now_stamp(),
        "target_modules": sorted(targets) if isinstance(targets, list) else [],
        "lora_r": config.get("r") if isinstance(config.get("r"), int) else None,
        # Where it came from: it was trained outside `atri train`.
        "adopted_from": str(source.resolve()),
        "trained_on": config.get("base_model_name_or_path"),
        "adapter_sha256": sha256_file(tmp / ADAPTER_WEIGHTS),
    }
