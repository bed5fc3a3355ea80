"""Is an adapter version usable? Checks of its files before any engine touches it.

Everything here reads files only (no torch import), so the reload job can look at a
version cheaply and reject a bad one before any engine touches it. The checks that need
the loaded model (module shapes, a smoke generation) take the model's facts as data.
"""

from __future__ import annotations

import json
import logging
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from atri.config import OFFLINE_DEFAULT_BASE, Settings
from atri.errors import ConfigError
from atri.terminal import suggested_command
from model.adapters.gguf_lora import ADAPTER_GGUF, PEFT_PREFIX
from model.adapters.initialization import check_converted
from model.adapters.versions import (
    ADAPTER_FILES,
    BOM,
    EVAL_JSON,
    MANIFEST,
    PICKLED_WEIGHTS,
    AdapterError,
    ManifestError,
    bom_refusal,
    read_manifest,
    version_folder,
)
from model.engines.offline_gguf import OFFLINE_GGUF

log = logging.getLogger(__name__)

ADAPTER_CONFIG, ADAPTER_WEIGHTS = ADAPTER_FILES
PEFT_DEFAULT_RANK = 8  # LoraConfig's r when adapter_config.json has none
# "….lora_A.default.weight": a PeftModel's state_dict() name, which peft does not load.
_ADAPTER_NAME_IN_KEY = re.compile(r"\.(?:lora_A|lora_B)\.([^.]+)\.weight$")
# What quantised or converted copies of a model add to its name.
_FORMAT_SUFFIX = re.compile(
    r"[-_.](gguf|bnb-4bit|bnb-8bit|4bit|8bit|awq|gptq|int4|int8|fp16|bf16|f16|f32|q\d\w*)$"
)
# A hub id ("Qwen/Qwen2.5-7B", "gpt2"), which a relative folder path can look like too.
_HUB_ID_SHAPED = re.compile(r"[\w.-]+(?:/[\w.-]+)?")
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")  # HF Trainer's name for a saved step
# A safetensors header is JSON of this size at most (the format's own limit is 100 MB).
MAX_HEADER_BYTES = 100_000_000
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


class AdapterManifest(BaseModel):
    """The fields of manifest.json the worker relies on (training writes more)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["atri-adapter"]
    version: str
    base_model: str
    base_config_hash: str
    target_modules: list[str] = []
    lora_r: int | None = None
    created_at: str = ""
    train_loss: float | None = None
    eval_loss: float | None = None
    system_prompt: str | None = None  # the prompt it was trained with
    # Whom it was trained as (versions.trained_as); absent before manifests recorded it.
    character: str | None = None
    character_names: list[str] = []
    # The chat template it was trained under (the tokenizer's: text, or several by name);
    # absent before manifests recorded it.
    chat_template: Any = None


@dataclass(frozen=True)
class EvalFigures:
    """What the reload check reads from a version's eval.json."""

    ooc_rate: float | None = None  # the adapter's
    base_ooc_rate: float | None = None  # the base model's, in the same evaluation
    probes: int | None = None  # how many probe replies each rate was taken over
    # What the rates were measured with: the probe set's fingerprint and the longest
    # reply, (probe_set, max_new_tokens); None for an eval.json from before they were
    # recorded. Two rates taken with different yardsticks are not set side by side.
    yardstick: tuple[str, int] | None = None


@dataclass(frozen=True)
class AdapterVersion:
    name: str
    path: Path
    manifest: AdapterManifest
    evaluation: EvalFigures  # from eval.json, when the version was evaluated

    @property
    def ooc_rate(self) -> float | None:
        return self.evaluation.ooc_rate

    @property
    def base_ooc_rate(self) -> float | None:
        return self.evaluation.base_ooc_rate


def read_version(adapters_dir: Path, name: str, config_file: str = "") -> AdapterVersion:
    """Read and check a version's files: manifest, adapter config, safetensors header.
    Each refusal says its reason in a word too (AdapterError.short). `config_file`: the
    config in use, named in the `atri eval` a refusal suggests."""
    folder = version_folder(adapters_dir, name)
    # adapter.gguf too, when there is one: it is what the llama.cpp engine loads.
    for file in (MANIFEST, *ADAPTER_FILES, ADAPTER_GGUF):
        if (folder / file).resolve().parent != folder:
            raise AdapterError(
                f"Version {name}: {file} is a link to a file outside its folder; refused.",
                short="link",
            )
    if not (folder / ADAPTER_WEIGHTS).is_file() and (folder / PICKLED_WEIGHTS).is_file():
        raise AdapterError(
            f"Version {name}: its weights are only in {PICKLED_WEIGHTS}, a pickle, which "
            f"ATRI never loads; save the adapter as {ADAPTER_WEIGHTS} (peft's default).",
            short="pickle",
        )
    try:
        raw = read_manifest(folder)
    except ManifestError as exc:
        raise AdapterError(f"Version {name}: {exc}", short=exc.short) from None
    try:
        manifest = AdapterManifest.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise AdapterError(
            f"Version {name}: manifest.json has bad or missing fields ({fields}).",
            short="bad manifest",
        ) from None
    if manifest.version != name:
        raise AdapterError(
            f"Version {name}: its manifest names version {manifest.version!r}; refused.",
            short="misnamed",
        )
    for file in ADAPTER_FILES:
        if not (folder / file).is_file():
            raise AdapterError(f"Version {name}: {file} is missing.", short="incomplete")
    try:
        config = adapter_config(folder)
    except AdapterError as exc:
        raise AdapterError(f"Version {name}: {exc}", short="bad config") from None
    try:
        check_adapter_files(config, tensor_shapes(folder / ADAPTER_WEIGHTS))
    except AdapterError as exc:
        short = exc.short if exc.short != AdapterError.short else "bad weights"
        raise AdapterError(f"Version {name}: {exc}", short=short) from None
    return AdapterVersion(name, folder, manifest, eval_figures(folder, config_file))


def check_adapter_folder(path: Path, bom_ok: bool = False) -> None:
    """Check a plain peft adapter folder (`[model] adapter`) from its files alone, so a
    wrong one is refused before any model loads (`bom_ok`: see `adapter_config`)."""
    if not path.is_dir():
        raise AdapterError(f"{path} {'is not a folder' if path.exists() else 'does not exist'}.")
    if not (path / ADAPTER_WEIGHTS).is_file() and (path / PICKLED_WEIGHTS).is_file():
        raise AdapterError(
            f"{path}: its weights are only in {PICKLED_WEIGHTS}, a pickle, which ATRI never "
            f"loads; save the adapter as {ADAPTER_WEIGHTS} (peft's default)."
        )
    check_adapter_files(adapter_config(path, bom_ok), tensor_shapes(path / ADAPTER_WEIGHTS))


def check_adapter_files(config: dict[str, Any], shapes: dict[str, list[int]]) -> None:
    """What adapter_config.json and the safetensors header tell before any model loads."""
    check_converted(config)
    check_lora_names(shapes)
    check_lora_ranks(config, shapes)


def check_lora_names(shapes: dict[str, list[int]]) -> None:
    """Does the file hold a LoRA tensor under a name peft loads? peft loads none of a
    file without one, silently: the version went live changing nothing."""
    if any(_lora_part(key)[1] for key in shapes):
        return
    found = next(iter(shapes))
    named = next(filter(None, (_ADAPTER_NAME_IN_KEY.search(key) for key in shapes)), None)
    if named:
        why = (
            f"its names hold peft's adapter name {named.group(1)!r}, as a model.state_dict() "
            "saved by hand does"
        )
    elif not found.startswith(PEFT_PREFIX):
        why = f"its names lack peft's {PEFT_PREFIX!r} prefix"
    else:
        why = "none is a LoRA A or B matrix"
    raise AdapterError(
        f"{ADAPTER_WEIGHTS} holds no LoRA tensor under the names peft saves and loads "
        f"({PEFT_PREFIX}<module>.lora_A.weight), so the adapter would change nothing: it "
        f"holds {len(shapes)} tensors such as {found!r} ({why}); save the adapter with "
        "peft's model.save_pretrained(folder)."
    )


class LoadedBase(Protocol):
    """What an engine tells of the base model it runs (`config_hash`), and which adapter
    manifests' recorded hashes it takes as made for it."""

    config_hash: str

    def accepts_config_hash(self, value: str) -> bool: ...


def check_config_hash(subject: str, base_model: str, recorded_hash: str, base: LoadedBase) -> None:
    """An adapter trained on a base of another config (`recorded_hash`, from its manifest)
    is refused, as one sentence about `subject` ("Version N", a folder, "it"): its layers
    may have the same names and sizes, but its weights were made for another model."""
    if not base.accepts_config_hash(recorded_hash):
        raise AdapterError(
            f"{subject} was trained on {base_model!r}, a base model with config hash "
            f"{recorded_hash}, not the loaded one ({base.config_hash})."
        )


class ServedBase(LoadedBase, Protocol):
    """A loaded base and its name or path (`[model] base`)."""

    base_id: str


def check_trained_template(subject: str, recorded: object, served: str) -> None:
    """A version trained under another chat template than the one served (`[model]
    chat_template` changed since) is refused, as one sentence about `subject`: it would
    read every prompt in a shape it never learnt. A manifest from before templates were
    recorded, or an engine that knows none (`served` ""), passes."""
    if not isinstance(recorded, str) or not recorded.strip() or not served.strip():
        return
    if recorded.strip() != served.strip():
        raise AdapterError(
            f"{subject} was trained under another chat template than the one served now "
            "([model] chat_template, or the base model's own where that is empty); set "
            "[model] chat_template back to the template in its manifest.json, or train it "
            "again under this one."
        )


def check_trained_on(folder: Path, base: ServedBase) -> None:
    """`[model] adapter` at start, as the reload job checks a version: an ATRI version
    (manifest.json) of a base model of another config, or trained under another chat
    template, is refused; a bare peft folder records neither and is checked by its layer
    shapes (here where the base tells its `module_dims`, else when it loads), with a
    warning, once they fit, when its adapter_config.json names another base."""
    try:
        manifest = AdapterManifest.model_validate(read_manifest(folder))
    except (ManifestError, ValidationError):
        _warn_of_another_base(folder, base)
        return
    check_config_hash("it", manifest.base_model, manifest.base_config_hash, base)
    served = getattr(base, "chat_template", "")
    check_trained_template("it", manifest.chat_template, served if isinstance(served, str) else "")


def _warn_of_another_base(folder: Path, base: ServedBase) -> None:
    """Not a refusal: a base's name and a local path of it differ in form, and one of
    the same layer shapes may be meant (a fine-tune of it). Said only of a folder whose
    shapes fit: one refused for its shapes was told it "is taken" first."""
    try:
        named = adapter_config(folder, bom_ok=True).get("base_model_name_or_path")
    except AdapterError:
        return  # said when it loads
    base_id = base.base_id
    if not isinstance(named, str) or not _model_name(named) or not _model_name(base_id):
        return
    if _model_name(named) == _model_name(base_id):
        return
    dims = getattr(base, "module_dims", None)
    if isinstance(dims, dict):
        check_module_shapes(tensor_shapes(folder / ADAPTER_WEIGHTS), dims)
        fits = "its layer shapes fit, so it is taken"
    else:
        fits = "it is taken if its layer shapes fit (checked as it loads)"
    log.warning(
        "%s: its adapter_config.json says it was trained on %r, not on [model] base %r; "
        "%s, but its replies may be poor: an adapter trained on [model] base is what it "
        "is made for",
        folder,
        named,
        base_id,
        fits,
    )


def _model_name(name_or_path: str) -> str:
    """A model's name as hub ids, local folders and GGUF files of it share:
    "Qwen/Qwen2.5-7B-Instruct", "/srv/qwen2.5-7b-instruct/", "…-Q4_K_M.gguf" and
    "unsloth/qwen2.5-7b-instruct-bnb-4bit" all give "qwen2.5-7b-instruct"."""
    if name_or_path == OFFLINE_DEFAULT_BASE:
        name_or_path = OFFLINE_GGUF  # SmolLM2-135M-Instruct, the model peft records
    last = re.split(r"[/\\]", name_or_path.strip().rstrip("/\\"))[-1].lower()
    last = last.removeprefix("builtin:").removesuffix(".gguf")
    while (shorter := _FORMAT_SUFFIX.sub("", last)) != last:
        last = shorter
    return last


def adapter_setting_error(settings: Settings, exc: AdapterError, fix: str) -> ConfigError:
    """What is wrong with `[model] adapter` (`exc`) as one sentence naming the key."""
    where = f"{settings.config_file}: " if settings.config_file else ""
    return ConfigError(
        f'{where}[model] adapter = "{settings.model.adapter}": {str(exc).rstrip(".")}; {fix}.'
    )


def check_lora_ranks(config: dict[str, Any], shapes: dict[str, list[int]]) -> None:
    """Do the weights have the rank adapter_config.json says? A config copied from
    another adapter made peft fail with a page of size mismatches."""
    if config.get("rank_pattern"):
        return  # ranks differ per module by design
    rank = config.get("r", PEFT_DEFAULT_RANK)
    for key, shape in shapes.items():
        module, part = _lora_part(key)
        if part not in ("lora_A", "lora_B") or len(shape) != 2:
            continue
        got = shape[0] if part == "lora_A" else shape[1]
        if got != rank:
            raise AdapterError(
                f"{ADAPTER_CONFIG} says rank r = {rank}, but the weights of {module} have rank "
                f"{got}: the config and the weights are from different adapters."
            )


def adapter_config(folder: Path, bom_ok: bool = False) -> dict[str, Any]:
    """adapter_config.json as a dict; AdapterError with one sentence if unusable. A
    byte-order mark (Notepad's) is refused, as peft refuses it, unless `bom_ok` (adopt,
    which writes its own copy without it)."""
    path = folder / ADAPTER_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
        if text.startswith(BOM) and not bom_ok:
            raise AdapterError(bom_refusal(path))
        data = json.loads(text.removeprefix(BOM))
    except FileNotFoundError:
        raise AdapterError(f"{path} is missing: {_where_the_adapter_is(folder)}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdapterError(f"{path}: cannot be read as JSON ({exc}).") from None
    if not isinstance(data, dict) or data.get("peft_type") != "LORA":
        raise AdapterError(f"{path}: not a peft LoRA adapter config.")
    return data


def _where_the_adapter_is(folder: Path) -> str:
    """What to do about a folder without adapter_config.json: a trainer's output folder
    (HF Trainer, LLaMA-Factory) keeps each saved adapter in a checkpoint-<step>/ folder."""
    steps = sorted(
        (int(match.group(1)), child.name)
        for child in _subfolders(folder)
        if (match := _CHECKPOINT.fullmatch(child.name)) and (child / ADAPTER_CONFIG).is_file()
    )
    if not steps:
        return f"copy the version folder whole (peft writes it beside {ADAPTER_WEIGHTS})"
    names = [name for _, name in steps]
    if len(names) == 1:
        saved = f"the adapter it saved is in {names[0]} inside it, a peft adapter folder"
    else:
        listed = f"{', '.join(names[:-1])} and {names[-1]}"
        saved = (
            f"the adapters it saved are in {listed} inside it ({names[-1]} the latest), "
            "each a peft adapter folder"
        )
    return f"it looks like a trainer's output folder: {saved} to point at instead"


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [child for child in folder.iterdir() if child.is_dir()]
    except OSError:
        return []


def tensor_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor names and shapes from a safetensors header, checking that the file holds
    every byte the header promises (a truncated copy fails here, before loading)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise AdapterError(f"{path}: too short to be a safetensors file.")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > min(MAX_HEADER_BYTES, size - 8):
                raise AdapterError(f"{path}: truncated or not a safetensors file (bad header).")
            header = json.loads(f.read(header_len))
    except OSError as exc:
        raise AdapterError(f"{path}: cannot be read ({exc}).") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AdapterError(f"{path}: truncated or not a safetensors file (bad header).") from None
    if not isinstance(header, dict):
        raise AdapterError(f"{path}: not a safetensors file (bad header).")
    data_bytes = size - 8 - header_len
    shapes: dict[str, list[int]] = {}
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            shape = [int(n) for n in info["shape"]]
            start, stop = (int(n) for n in info["data_offsets"])
            width = _DTYPE_BYTES[info["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise AdapterError(f"{path}: tensor {name} has a malformed header entry.") from None
        if stop - start != math.prod(shape) * width or start < 0:
            raise AdapterError(f"{path}: tensor {name}'s size does not match its shape.")
        shapes[name] = shape
        end = max(end, stop)
    if end > data_bytes:
        raise AdapterError(
            f"{path}: truncated ({data_bytes} bytes of tensor data, the header needs {end}).",
            short="truncated",
        )
    if end < data_bytes:
        # safetensors refuses such a file only as it loads, with a traceback in the log:
        # bytes past the last tensor are a copy gone wrong (appended to, or two joined).
        raise AdapterError(
            f"{path}: {data_bytes - end} bytes after its last tensor: not a whole copy of "
            "the file; copy the version again.",
            short="extra bytes",
        )
    if not shapes:
        raise AdapterError(f"{path}: holds no tensors.")
    return shapes


def eval_figures(folder: Path, config_file: str = "") -> EvalFigures:
    """eval.json's OOC rates and probe count; None where absent. A file that cannot be
    read, that another version's evaluation wrote (copied in to pass `require_eval`), or
    whose rate is no rate (NaN passed every comparison and so turned the gate off; a
    negative one broke its noise estimate) is an AdapterError saying to evaluate again,
    with the `atri eval` command line for `config_file` (the config in use)."""
    path = folder / EVAL_JSON
    if not path.is_file():
        return EvalFigures()
    again = f"run `{suggested_command(config_file, 'eval', folder)}` again"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdapterError(f"{path}: cannot be read as JSON ({exc}); {again}.") from None
    if not isinstance(data, dict):
        return EvalFigures()
    evaluated = data.get("adapter_version")
    if isinstance(evaluated, str) and evaluated and evaluated != folder.name:
        raise AdapterError(
            f"{path} is the evaluation of version {evaluated}, not of {folder.name}; {again}."
        )

    def rate(key: str) -> float | None:
        entry = data.get(key)
        value = entry.get("ooc_rate") if isinstance(entry, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise AdapterError(
                f"{path}: its {key} out-of-character rate {value} is not a share between 0 "
                f"and 1; {again}."
            )
        return float(value)

    probes = data.get("probes")
    counted = probes if isinstance(probes, int) and not isinstance(probes, bool) else None
    probe_set, longest = data.get("probe_set"), data.get("max_new_tokens")
    yardstick = None
    if isinstance(probe_set, str) and probe_set and type(longest) is int and longest > 0:
        yardstick = (probe_set, longest)
    return EvalFigures(
        rate("adapter"), rate("base"), counted if counted and counted > 0 else None, yardstick
    )


def check_module_shapes(shapes: dict[str, list[int]], modules: dict[str, tuple[int, int]]) -> None:
    """Do the LoRA tensors fit the base model? `modules` maps a module name (as in the
    base model's `named_modules()`) to (in_features, out_features)."""
    check_lora_names(shapes)
    for key, shape in shapes.items():
        module, part = _lora_part(key)
        if not part:
            continue
        if module not in modules:
            raise AdapterError(f"The adapter changes {module}, which the base model does not have.")
        fan_in, fan_out = modules[module]
        if len(shape) != 2:
            raise AdapterError(f"The adapter's {key} is not a matrix (shape {shape}).")
        # lora_A is (r, in) and lora_B is (out, r); embeddings store theirs transposed.
        want = {
            "lora_A": (None, fan_in),
            "lora_B": (fan_out, None),
            "lora_embedding_A": (None, fan_in),
            "lora_embedding_B": (fan_out, None),
        }[part]
        for got, expected in zip(shape, want, strict=True):
            if expected is not None and got != expected:
                raise AdapterError(
                    f"The adapter's {module} {part} has shape {shape}, but the base model's "
                    f"layer is {fan_in}→{fan_out}: it was trained on another model size."
                )


def _lora_part(key: str) -> tuple[str, str]:
    """('model.layers.0.self_attn.q_proj', 'lora_A') for a peft state-dict key; the part
    is "" for a key peft would not load as a LoRA tensor."""
    if not key.startswith(PEFT_PREFIX):
        return key, ""
    name = key.removeprefix(PEFT_PREFIX)
    for part in ("lora_embedding_A", "lora_embedding_B", "lora_A", "lora_B"):
        for tail in (f".{part}.weight", f".{part}"):
            if name.endswith(tail):
                return name[: -len(tail)], part
    return name, ""


def same_base(manifest_base: str, live_base: str, root: Path, recorded_hash: str = "") -> bool:
    """Does the manifest's `base_model` name the loaded base? Folder paths compare by
    where they point, so "./models/qwen" and "/srv/atri/models/qwen" agree.

    A local folder recorded at training that is not here (the model folder moved: a new
    machine, another home) agrees with a local folder loaded now when the manifest
    records the base's config hash (`recorded_hash`): the caller's hash check that
    follows says whether it is the same model."""
    a = manifest_base.strip() or OFFLINE_DEFAULT_BASE
    b = live_base.strip() or OFFLINE_DEFAULT_BASE
    if a == b:
        return True
    pa, pb = (Path(x).expanduser() for x in (a, b))
    pa, pb = (p if p.is_absolute() else root / p for p in (pa, pb))
    if pa.is_dir() and pb.is_dir():
        return pa.resolve() == pb.resolve()
    moved = recorded_hash and not pa.exists() and pb.is_dir() and _was_a_folder(a, b)
    if moved and (a, b) not in _MOVED_LOGGED:
        _MOVED_LOGGED.add((a, b))
        log.info(
            "adapters trained on base %r (not here) are checked against %r by the base's "
            "config hash: the model folder moved",
            a,
            b,
        )
    return bool(moved)


@dataclass(frozen=True)
class ConfiguredBase:
    """`[model] base` as a worker on it judges a version's recorded base (`same_base`):
    relative folders hang off the config's folder (`root`). Only the name is compared
    here, for a listing or `atri eval`'s choice: the config hash a worker also checks
    needs the model's config read by transformers (torch)."""

    name: str
    root: Path

    @classmethod
    def of(cls, settings: Settings) -> ConfiguredBase:
        return cls(settings.model.base.strip() or OFFLINE_DEFAULT_BASE, settings.root)

    def other_than(self, recorded_base: str, recorded_hash: str = "") -> str:
        """The base a manifest records when a worker on this one refuses it, else ""."""
        recorded = recorded_base.strip() or OFFLINE_DEFAULT_BASE
        return "" if same_base(recorded, self.name, self.root, recorded_hash) else recorded


# The moved bases already logged (`same_base`): once each, not at every reload check.
_MOVED_LOGGED: set[tuple[str, str]] = set()


def _was_a_folder(recorded: str, live: str) -> bool:
    """Whether a recorded base that is not here named a local folder, which may have
    moved to `live`: one written as a path, or "models/qwen" (as most configs write it,
    and shaped like a hub id) whose model name is the live folder's. A hub id naming
    another model than the live folder stays another base."""
    if _local_path(recorded) or not _HUB_ID_SHAPED.fullmatch(recorded):
        return not recorded.startswith("builtin:")
    return _model_name(recorded) == _model_name(live)


def _local_path(name: str) -> bool:
    """Whether `[model] base` as written names a folder, not a hub id ("Qwen/Qwen2.5-7B"):
    an absolute path (POSIX or Windows), or one starting at ".", "~"."""
    windows = len(name) > 2 and name[1] == ":" and name[2] in "/\\"
    return name.startswith(("/", "\\", ".", "~")) or windows
