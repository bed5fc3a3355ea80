"""`atri persona …`: show or export the configured character card."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from atri.cli_common import (
    Commands,
    config_after_group,
    configured_settings,
    console,
    err_console,
    write_output,
)
from atri.config import Settings

persona_app = Commands(
    help="Show or export the character card (ATRI's unless \\[persona] card names another).",
    no_args_is_help=True,
)
persona_app.callback()(config_after_group)


def _persona(settings: Settings) -> Any:
    from model.character.persona import configured_persona

    return configured_persona(settings)


@persona_app.command("show")
def persona_show() -> None:
    """Print the system prompt built from the configured character card."""
    persona = _persona(configured_settings())
    console.print(persona.system_prompt(), markup=False, highlight=False)
    for note in persona.unused:
        err_console.print(f"Character card: {note}.", markup=False, highlight=False)


@persona_app.command("export")
def persona_export(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """Write the character card as SillyTavern Character Card V2 JSON."""
    text = json.dumps(_persona(configured_settings()).to_card_v2(), ensure_ascii=False, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        write_output(out, text + "\n")
        err_console.print(f"Wrote the character card to {out}.", markup=False)
