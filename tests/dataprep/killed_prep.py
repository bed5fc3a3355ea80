"""An `atri prep` run stopped by a signal while it moves its files into the output folder,
for the crash-safety tests: the signal is sent by the process to itself just before one
chosen move.

Run: python -m tests.dataprep.killed_prep OUT SCRIPT SIGNAL POINT
  SIGNAL: KILL (nothing of Python runs after it) or INT (Ctrl-C: cleanup runs)
  POINT:  aside (the second earlier file moved aside), placing (the second new file
          moved in), last (dataset_info.json, the last new file, moved in) or deleting
          (the earlier files, once every new one is in place)
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

from atri.config import DataprepSettings

SYSTEM = "You are Atri, speaking with {{user}}; this run differs from the earlier one."


def main(out: Path, script: Path, signame: str, point: str) -> None:
    from dataprep.pipeline import prepare

    # Ctrl-C as a terminal gives it, whatever this process inherited: a test runner
    # started in the background by a shell without job control (`cmd &` in a script)
    # has SIGINT ignored, Python then keeps it so, and the signal did nothing.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    real_replace = Path.replace
    counts = {"aside": 0, "placing": 0}
    staging_prefix = f".{out.name}.tmp-"

    def replace(self: Path, target: str | os.PathLike[str]) -> Path:
        into_staging = Path(target).parent.name == ".earlier"
        from_staging = self.parent.name.startswith(staging_prefix)
        move = "aside" if into_staging else "placing" if from_staging else None
        if move is not None:
            counts[move] += 1
            due = (
                self.name == "dataset_info.json" and from_staging
                if point == "last"
                else move == point and counts[move] == 2
            )
            if due:
                os.kill(os.getpid(), getattr(signal, f"SIG{signame}"))
        return real_replace(self, target)

    real_rmtree = shutil.rmtree

    def rmtree(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if point == "deleting" and Path(path).name == ".earlier":
            os.kill(os.getpid(), getattr(signal, f"SIG{signame}"))
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    Path.replace = replace  # type: ignore[method-assign]
    shutil.rmtree = rmtree  # type: ignore[assignment]
    result = prepare(DataprepSettings(), [script], out, system_prompt=SYSTEM)
    for note in result.notes:
        print(note)
    print("FINISHED", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4])
