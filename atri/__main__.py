"""`atri` (the installed command) and `python -m atri`.

Ctrl-C is one line and status 130 from the first line on (atri/interrupt.py), not
Python's traceback of whichever import it landed in: the CLI's own modules take a second
or more to import (pydantic, typer, rich). Nothing but atri/interrupt.py is imported
before that.
"""

from atri.interrupt import STATUS, end_at_once, exit_stopped


def main() -> None:
    end_at_once()
    from atri.cli import app

    try:
        app(prog_name="atri")
    except SystemExit as done:
        if done.code == STATUS:  # stopped by Ctrl-C, cleaned up
            exit_stopped()
        raise


if __name__ == "__main__":
    main()
