"""Where the engine loads a GGUF without llama.cpp's extra buffer types (a build for a
CPU with AMX: `AMX_BUILD`), its Q4_0 weights are still given the CPU_REPACK
buffer type, one tensor at a time, through the model's `tensor_buft_overrides`.

Turning the extra types off keeps the AMX type from taking the weights (its 4-bit
kernels compute wrong numbers in this llama.cpp; a Q8_0 file keeps it: `amx_pays`), but
it also turned off the repacking that lets llama.cpp multiply Q4_0 weights for several
rows at once. An override names the buffer type itself, and llama.cpp takes it without asking
whether the type can hold the tensor: a tensor the repack type has no layout for would
crash the load. So only what it repacks on x86 (AVX2, and so AVX-512) is named: Q4_0
matrices multiplied (not the token embeddings, which are read a row at a time) whose
rows come in eights (`ne[1] % 8 == 0`: its 8x8 blocks).

The type is found as llama.cpp's own `-ot` option finds it: the CPU device's
`ggml_backend_dev_get_extra_bufts`, asked for by name from its backend registry (the
binding exposes none of it). Anything missing (an older build, another CPU) leaves the
model loaded as before, without repacking.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gguf import GGMLQuantizationType

from model.engines.gguf_header import TensorInfo, gguf_header

log = logging.getLogger(__name__)
# Types the gguf library names: a tensor of another (newer) type keeps AMX off.
_KNOWN_TYPES = frozenset(t.value for t in GGMLQuantizationType)

REPACK_TYPE = "CPU_REPACK"
# ggml's GGML_BACKEND_DEVICE_TYPE_CPU.
_CPU_DEVICE = 0
# The weight type and row multiple the repack type lays out on x86 (q4_0_8x8).
REPACKED_TYPE = "Q4_0"
ROW_MULTIPLE = 8
# Read a row at a time (GET_ROWS), which the repack type does not do.
_NOT_MULTIPLIED = frozenset({"token_embd.weight"})


class _Override(ctypes.Structure):
    """llama.cpp's `llama_model_tensor_buft_override`: a tensor-name regex, its buffer type."""

    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


@dataclass
class RepackOverrides:
    """The override array for `llama_model_params.tensor_buft_overrides`, ended by a
    NULL entry; its patterns live as long as this object (llama.cpp reads them during
    the load only)."""

    tensors: list[str]
    _patterns: list[bytes] = field(repr=False)
    _array: Any = field(repr=False)

    @property
    def pointer(self) -> int:
        return ctypes.addressof(self._array)


def header_tensors(path: Path) -> list[TensorInfo]:
    """The GGUF's tensors, from its header (gguf's reader would parse the whole
    vocabulary first: seconds); none where it cannot be read (llama.cpp's own load then
    says what is wrong)."""
    try:
        with gguf_header(path) as header:
            return header.tensors()
    except (OSError, ValueError) as exc:
        log.debug("%s: tensors not read for their placement: %s", path, exc)
        return []


def repacked_tensors(path: Path, tensors: list[TensorInfo] | None = None) -> list[str]:
    """The names of the GGUF's tensors the repack type can hold (module docstring);
    `tensors`: its header's, when read already."""
    return [
        t.name
        for t in (header_tensors(path) if tensors is None else tensors)
        if t.kind == GGMLQuantizationType[REPACKED_TYPE]
        and t.name not in _NOT_MULTIPLIED
        and len(t.dims) == 2
        and t.dims[1] % ROW_MULTIPLE == 0
    ]


# What llama.cpp's build says of a CPU with AMX (Sapphire Rapids and later; the build is
# native, so it is this machine's). There the model loads without llama.cpp's extra
# buffer types unless the file is one the AMX type computes right and faster (`amx_pays`,
# figures below). llama-cpp-python's own `Llama` keeps the AMX type for any file:
# bench/engine_speed.py loads its bare call as the engine does, like for like. Elsewhere
# the extra types stay: they are what repacks Q4_0 and IQ4_NL for batching; on an AMX
# build a Q4_0 file's matrices are given the repack type by name (`repack_overrides`).
AMX_BUILD = b"AMX_INT8 = 1"
# The weight types llama.cpp's AMX buffer type takes (amx/mmq.cpp `qtype_has_amx_kernels`,
# and F16 through an AVX-512 kernel of its own), and the one of them it computes right and
# faster in the llama.cpp of llama-cpp-python 0.3.16. Measured on a 2-core Sapphire
# Rapids VM, the offline model (perplexity on README text; tokens/s, 1 and 8 rows): Q8_0
# 73.0 with it against 73.3 without, 101 and 157-161 against 60 and 121-124, scores equal
# bit for bit however a step's rows are split or joined; Q4_0 and Q4_1 wrong (899 and 786
# against 91 and 74, ggml-org/llama.cpp #16315); F16 right but 8 rows slower (94 against
# 110). K-quants could not be tried on this model (its 576-wide rows).
AMX_TAKES = frozenset({"Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS", "F16"})
AMX_PAYS = frozenset({"Q8_0"})
# The llama-cpp-python releases whose AMX kernels were measured as above: constraints.txt
# pins one. Another keeps them off for every file: 0.3.36 (llama.cpp 0c1e570, 2026) crashed
# in `ggml_backend_amx_mul_mat` on a Q8_0 file as on a 4-bit one, as soon as a decode
# asked for the scores of a few hundred tokens (the tied output matrix), on the same VM.
AMX_CHECKED_IN = frozenset({"0.3.16"})


def amx_pays(path: Path, tensors: list[TensorInfo] | None = None) -> bool:
    """Whether every weight of the GGUF the AMX type would take is of a type it computes
    right and faster (AMX_PAYS), and there is one: a Q8_0 file. One Q4_K or F16 tensor
    beside them (the usual mixes) and the model loads without it. `tensors`: its
    header's, when read already."""
    kinds = {t.kind for t in (header_tensors(path) if tensors is None else tensors)}
    if not kinds:
        return False
    names = {GGMLQuantizationType(k).name for k in kinds if k in _KNOWN_TYPES}
    taken = names & AMX_TAKES
    return bool(taken) and taken <= AMX_PAYS and kinds <= _KNOWN_TYPES


def repack_buffer_type(llama_cpp: Any) -> int | None:
    """The address of llama.cpp's CPU_REPACK buffer type, None where this build has none
    (or does not say how to find it)."""
    lib = Path(llama_cpp.__file__).parent / "lib"
    try:
        ggml = ctypes.CDLL(str(lib / "libggml.so"))
        base = ctypes.CDLL(str(lib / "libggml-base.so"))
        ggml.ggml_backend_dev_by_type.restype = ctypes.c_void_p
        ggml.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
        ggml.ggml_backend_dev_backend_reg.restype = ctypes.c_void_p
        ggml.ggml_backend_dev_backend_reg.argtypes = [ctypes.c_void_p]
        ggml.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p
        ggml.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        base.ggml_backend_buft_name.restype = ctypes.c_char_p
        base.ggml_backend_buft_name.argtypes = [ctypes.c_void_p]
    except (OSError, AttributeError) as exc:  # no such library or symbol (another build)
        log.debug("llama.cpp's buffer types not found: %s", exc)
        return None
    device = ggml.ggml_backend_dev_by_type(_CPU_DEVICE)
    if not device:
        return None
    registry = ggml.ggml_backend_dev_backend_reg(device)
    address = registry and ggml.ggml_backend_reg_get_proc_address(
        registry, b"ggml_backend_dev_get_extra_bufts"
    )
    if not address:
        return None
    extra_types = ctypes.CFUNCTYPE(ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)(address)
    found = extra_types(device)
    i = 0
    while found and found[i]:
        if base.ggml_backend_buft_name(found[i]) == REPACK_TYPE.encode():
            return int(found[i])
        i += 1
    return None


def repack_overrides(
    llama_cpp: Any, path: Path, tensors: list[TensorInfo] | None = None
) -> RepackOverrides | None:
    """Overrides giving the GGUF's Q4_0 matrices the repack type, None where there is
    nothing to repack, the build does not repack (no AVX2, no REPACK) or the type is not
    found. `tensors`: its header's, when read already."""
    info = llama_cpp.llama_print_system_info()
    if b"AVX2 = 1" not in info or b"REPACK = 1" not in info:
        return None
    names = repacked_tensors(path, tensors)
    if not names:
        return None
    buffer_type = repack_buffer_type(llama_cpp)
    if buffer_type is None:
        return None
    # Whole names: `blk.1.ffn_up.weight` must not also name `blk.11.ffn_up.weight`.
    patterns = [("^" + name.replace(".", r"\.") + "$").encode() for name in names]
    array = (_Override * (len(patterns) + 1))()
    for entry, pattern in zip(array, patterns, strict=False):
        entry.pattern = pattern
        entry.buft = buffer_type
    return RepackOverrides(names, patterns, array)


@dataclass
class WeightPlacement:
    """Where llama.cpp puts a GGUF's weights on this build: on a CPU with AMX
    (`amx_build`), its AMX buffer type for a Q8_0 file (`amx`), else none of the extra
    types and the Q4_0 matrices given the repack type by name (`repacked`)."""

    amx_build: bool
    amx: bool
    repacked: RepackOverrides | None

    def apply(self, model_params: Any) -> None:
        """Set llama.cpp's model parameters accordingly (kept alive with `self`)."""
        if self.amx_build and not self.amx:
            model_params.use_extra_bufts = False
            if self.repacked is not None:
                model_params.tensor_buft_overrides = self.repacked.pointer


def weight_placement(llama_cpp: Any, path: Path) -> WeightPlacement:
    """How the engine (and a bench's bare call beside it) loads `path` here."""
    amx_build = AMX_BUILD in llama_cpp.llama_print_system_info()
    tensors = header_tensors(path) if amx_build else []  # read once, for both choices
    amx = amx_build and amx_pays(path, tensors)
    version = getattr(llama_cpp, "__version__", "?")
    if amx and version not in AMX_CHECKED_IN:
        amx = False
        log.info(
            "%s: llama.cpp's AMX kernels stay off: they were checked in llama-cpp-python "
            "%s, not in %s, which is installed (0.3.36 crashed in them)",
            path.name,
            ", ".join(sorted(AMX_CHECKED_IN)),
            version,
        )
    repacked = repack_overrides(llama_cpp, path, tensors) if amx_build and not amx else None
    return WeightPlacement(amx_build, amx, repacked)
