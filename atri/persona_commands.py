"""`atri persona …`: show or export the configured character card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from atri.cli_common import (
    Commands,
    config_after_group,
    configured_settings,
    console,
    err_console,
    output_path,
    write_output,
    write_stdout,
)
from atri.config import Settings

if TYPE_CHECKING:
    from model.character.prompt import CharacterNote

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
    """Print the system prompt built from the configured character card.

    Its character's note, told in the chat instead, is said after it (on stderr), with
    the card's other notes."""
    persona = _persona(configured_settings())
    # Not wrapped at the terminal's width: the prompt is copied or piped as it is.
    console.print(persona.system_prompt(), markup=False, highlight=False, soft_wrap=True)
    if note := persona.note_in_chat():
        err_console.print(where_the_note_goes(note), markup=False, highlight=False)
    for said in persona.unused:
        err_console.print(f"Character card: {said}.", markup=False, highlight=False)


def where_the_note_goes(note: CharacterNote) -> str:
    """The character's note as `atri persona show` says it (on stderr: what it prints
    on stdout is the system prompt, which does not hold the note)."""
    where = {0: "after the new message", 1: "right before the new message"}.get(
        note.depth, f"{note.depth} messages up the chat"
    )
    return (
        f"Character card: the character's note is not in the system prompt; it is told "
        f"{where} with every message, in a person's turn:\n{note.block()}"
    )


@persona_app.command("export")
def persona_export(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """Write the character card as SillyTavern Character Card V2 JSON (V3 for a V3 card)."""
    settings = configured_settings()
    text = json.dumps(_persona(settings).to_card_v2(), ensure_ascii=False, indent=2)
    out = output_path(out)
    if out is None:
        write_stdout(text + "\n", "The character card")
    else:
        write_output(out, text + "\n", settings)
        err_console.print(f"Wrote the character card to {out}.", markup=False)
