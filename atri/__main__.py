"""`atri` (the installed command) and `python -m atri`.

The CLI's own modules take a second or more to import (pydantic, typer, rich): Ctrl-C
then is one line and status 130, as it is once a command runs, not Python's traceback.
Nothing slow is imported here before that guard.
"""

import sys

from atri.errors import INTERRUPTED


def main() -> None:
    try:
        from atri.cli import app
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED + "\n")
        sys.exit(130)
    app(prog_name="atri")


if __name__ == "__main__":
    main()
