"""A GGUF LoRA conversion killed outright (SIGKILL) while it writes the tensors, for the
crash-safety test of adapter.gguf.

Run: python -m tests.model.adapters.killed_gguf VERSION_DIR FACTS_JSON
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def main(version: Path, facts: dict[str, Any]) -> None:
    import gguf

    from model.adapters.gguf_lora import ensure_gguf_adapter

    def killed(self: Any, *args: Any, **kwargs: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)  # header and metadata are on disk by now

    gguf.GGUFWriter.write_tensors_to_file = killed  # type: ignore[method-assign]
    ensure_gguf_adapter(version, facts)
    print("FINISHED", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(sys.argv[2]))
