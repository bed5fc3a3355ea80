"""`atri` (the installed command) and `python -m atri`.

Ctrl-C is one line and status 130 from the first line on (atri/interrupt.py), not
Python's traceback of whichever import it landed in: the CLI's own modules take a second
or more to import (pydantic, typer, rich). Nothing but atri/interrupt.py is imported
before that.
"""

import os
import sys

from atri.interrupt import STATUS, end_at_once, end_without_terminal, exit_stopped, lost_terminal


def main() -> None:
    not_from_the_working_folder()
    end_at_once()
    printable_output()
    from atri.cli import app

    try:
        app(prog_name="atri")
    except SystemExit as done:
        if done.code == STATUS:  # stopped by Ctrl-C, cleaned up
            exit_stopped()
        raise
    except (OSError, BaseExceptionGroup) as failed:
        if lost_terminal(failed):  # the ssh session closed under it
            end_without_terminal()
        raise


def not_from_the_working_folder() -> None:
    """`python -m atri` puts the working folder first on sys.path, so a `model.py`,
    `bot.py` or `dataprep/` of the user's there was imported in place of ATRI's packages
    of those names. It is dropped unless it is the project's own root (a checkout run
    without installing), the folder these packages are found in."""
    if not sys.path or sys.path[0] not in ("", os.getcwd()):
        return  # the installed `atri` (its script's folder first) or `python -P`
    project_root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    if os.path.realpath(sys.path[0] or ".") != project_root:
        del sys.path[0]


def printable_output() -> None:
    """Output that cannot encode a character shows it escaped (`\\u4e9a`) rather than
    ending the run in a traceback: a Chinese speakers' table, or her reply, printed to a
    file on a Western Windows (cp1252) or in an ASCII or Latin-1 locale."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if not encoding.startswith("utf") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    main()
