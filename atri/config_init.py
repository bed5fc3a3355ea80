"""`atri config init`: write the commented config.toml where a pip install has none.

The file written is `atri/default_config.toml`, package data that a wheel carries; it is
the repository's top-level config.toml, byte for byte (a test holds the two the same), so
a checkout and an installed package hand out the same commented defaults.
"""

from __future__ import annotations

import contextlib
import os
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from atri.cli_common import Commands, State, console, fail
from atri.config import CONFIG_ENV, DEFAULT_CONFIG_NAME

PACKAGED_CONFIG = "default_config.toml"

config_app = Commands(help="Write the commented config.toml.", no_args_is_help=True)


def commented_config() -> bytes:
    """The shipped config.toml: every key at its built-in default, each with its comment."""
    return resources.files("atri").joinpath(PACKAGED_CONFIG).read_bytes()


@config_app.command("init")
def config_init(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="file to write, or a folder to write config.toml in (default: the file atri "
            "reads: --config, else $ATRI_CONFIG, else ./config.toml)"
        ),
    ] = None,
) -> None:
    """Write the commented config.toml (every key at its default), never over a file."""
    path = path or the_file_atri_reads()
    target = path / DEFAULT_CONFIG_NAME if path.is_dir() else path
    write_new_file(target, commented_config())
    console.print(f"Wrote the commented config to {target}; {how_atri_finds(target)}", markup=False)


def the_file_atri_reads() -> Path:
    """Where the other commands look for the config (see `find_config_path`)."""
    chosen = State.config or os.environ.get(CONFIG_ENV, "").strip()
    return Path(os.path.expanduser(chosen)) if chosen else Path(DEFAULT_CONFIG_NAME)


def write_new_file(target: Path, content: bytes) -> None:
    """Write `content` to a file that must not exist yet: a config someone edited is never
    replaced, and a write cut short (Ctrl-C, a full disk) leaves no half a file behind."""
    try:
        file = target.open("xb")  # exclusive: fails where any file already is
    except FileExistsError:
        fail(f"{target} already exists: it is left as it is; edit it, or give another path.")
    except FileNotFoundError:
        fail(f"{target.parent}: no such folder; make it first, or give another path.")
    except OSError as exc:
        fail(f"{target}: cannot be written ({exc.strerror or exc}).")
    try:
        with file:
            file.write(content)
    except OSError as exc:
        _remove(target)
        fail(f"{target}: cannot be written ({exc.strerror or exc}).")
    except BaseException:
        _remove(target)
        raise


def _remove(target: Path) -> None:
    with contextlib.suppress(OSError):
        target.unlink()


def how_atri_finds(target: Path) -> str:
    """The one sentence's end saying how ATRI will read the file just written."""
    if target.name == DEFAULT_CONFIG_NAME and target.resolve().parent == Path.cwd().resolve():
        return "atri reads it when started in this folder."
    where = f"when started in {target.parent}, or " if target.name == DEFAULT_CONFIG_NAME else ""
    return f"atri reads it {where}given as `atri --config {target} …` or by ATRI_CONFIG."
