"""Whether an error means the machine ran out of memory, whichever layer said so.

Python says MemoryError; torch a RuntimeError ("DefaultCPUAllocator: can't allocate
memory", "unable to mmap … Cannot allocate memory (12)") or, on a GPU,
torch.OutOfMemoryError; Rust libraries "Cannot allocate memory (os error 12)"; and the
loader of llama.cpp's library "failed to map segment from shared object", which reads
like a broken install. The CLI and the engines tell all of these the same way.
"""

from __future__ import annotations

import errno
import sys

# What each layer's message says when an allocation failed, lower-cased: ENOMEM's strerror
# "Cannot allocate memory", torch's "can't allocate memory" (Windows: "not enough memory").
_OUT_OF_MEMORY_TEXTS = ("allocate memory", "not enough memory", "failed to map segment")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` says memory ran out (RAM, or a GPU's), rather than a bug or bad
    input. torch is looked at only where it was imported: its errors come from nowhere else."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    out_of_memory = getattr(torch, "OutOfMemoryError", None)
    if out_of_memory is not None and isinstance(exc, out_of_memory):
        return True
    if not isinstance(exc, OSError | RuntimeError):
        return False
    if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        return True
    text = str(exc).lower()
    return any(said in text for said in _OUT_OF_MEMORY_TEXTS)


# What lowers the memory a command needs, by its first word after `atri`.
_ENGINE_TRIES = 'set [model] engine = "llamacpp" or a smaller [model] context_window, '
_MEMORY_TRIES = {
    "train": "pass --batch-size 1, ",
    "chat": _ENGINE_TRIES,
    "serve": _ENGINE_TRIES,
    "worker": _ENGINE_TRIES,
    "eval": _ENGINE_TRIES,
}


def out_of_memory_sentence(command: str, exc: BaseException) -> str:
    """One sentence for `command` (click's command path, `atri train`) stopped by `exc`,
    an out-of-memory error."""
    words = ["atri", *command.split()[1:]]  # the program's name, however it was started
    command = " ".join(words)
    tries = _MEMORY_TRIES.get(words[1] if len(words) > 1 else "", "")
    said = str(exc).strip().splitlines()
    why = f" ({type(exc).__name__}: {said[-1]})" if said else f" ({type(exc).__name__})"
    return (
        f"Memory ran out during `{command}`{why}: {tries}close other programs, then run it again."
    )
