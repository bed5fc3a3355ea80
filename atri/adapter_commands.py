"""`atri adapters …`: adapter versions in `[model] adapters_dir` that `atri train` did not
write (a peft folder trained with LLaMA-Factory, axolotl or unsloth)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from atri.cli_common import Commands, config_after_group, configured_settings, console
from atri.config import Settings

adapters_app = Commands(
    help="Adapter versions in \\[model] adapters_dir: adopt one trained elsewhere.",
    no_args_is_help=True,
)
adapters_app.callback()(config_after_group)


@adapters_app.command("adopt")
def adapters_adopt(
    folder: Annotated[
        Path, typer.Argument(help="a peft adapter folder (adapter_config.json + safetensors)")
    ],
    version: Annotated[
        str | None,
        typer.Option(
            "--version", help="the version's name, YYYYMMDD-HHMMSS (default: the time now)"
        ),
    ] = None,
) -> None:
    """Make a peft adapter trained elsewhere a version, checked as the reload job checks one.

    FOLDER holds adapter_config.json and adapter_model.safetensors (LLaMA-Factory,
    axolotl, unsloth): it is checked against \\[model] base, then copied in with a
    manifest.json recording that base."""
    from model.adapters.adopt import adopt_adapter

    settings = configured_settings()
    adopted = adopt_adapter(settings, folder, version)
    for line in adopted_lines(settings, adopted.source, adopted.folder):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def adopted_lines(settings: Settings, source: Path, folder: Path) -> list[str]:
    """What was adopted, and when a running worker serves it."""
    base = settings.model.base.strip() or "the offline default"
    command = settings.bot.command_name  # what the bots' members type
    done = (
        f"Adopted {source} as adapter version {folder.name}: {folder} (checked against "
        f"[model] base {base}; its datasets, training settings and character are unknown, "
        "so a worker serves it under its character card)."
    )
    if settings.reload.enabled:
        return [
            done,
            "A running worker picks it up at its next look (every "
            f"{settings.reload.interval_seconds} s), or at once on `/{command}-admin reload` "
            f"(QQ: `/{command} reload`).",
        ]
    return [
        done,
        f"A running worker switches to it on `/{command}-admin reload` (QQ: `/{command} reload`); "
        "with [reload] enabled it would pick it up by itself.",
    ]
