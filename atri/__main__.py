"""`atri` (the installed command) and `python -m atri`.

Ctrl-C is one line and status 130 from the first line on (atri/interrupt.py), not
Python's traceback of whichever import it landed in: the CLI's own modules take a second
or more to import (pydantic, typer, rich). Nothing slow is imported before that.
"""

from atri.interrupt import end_at_once


def main() -> None:
    end_at_once()
    from atri.cli import app

    app(prog_name="atri")


if __name__ == "__main__":
    main()
