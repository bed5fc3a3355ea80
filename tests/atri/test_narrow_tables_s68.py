"""Session 68: in a narrow terminal `atri train`'s and `atri eval`'s tables fold a long
value onto more lines instead of cutting it with "…", and eval's closing sentence keeps
its paths whole, so each can be copied."""

from __future__ import annotations

import io
import re
from pathlib import Path

from atri.cli import say_eval_written, summary_table
from atri.cli_common import CliConsole

FOLDER = "/tmp/s68_term/adapters/20261206-232337"
BASE = "Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4"
HELD_OUT = "atri_sharegpt_eval.json"
# A table's borders and the spaces that pad its cells.
FRAME = re.compile(r"[\s│┃┌┐└┘─━┬┴├┤┼╇┡┩┏┓┗┛]")


def narrow_console() -> tuple[CliConsole, io.StringIO]:
    shown = io.StringIO()
    return CliConsole(width=40, file=shown, emoji=False), shown


def test_train_table_folds_the_version_folder_and_base_model() -> None:
    console, shown = narrow_console()
    table = summary_table("LoRA adapter 20261206-232337", "", "value", show_header=False)
    table.add_row("base model", BASE)
    table.add_row("version folder", FOLDER)
    console.print(table)
    text = shown.getvalue()
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 40, text
    cells = FRAME.sub("", text)
    assert f"basemodel{BASE}" in cells and f"versionfolder{FOLDER}" in cells, text


def test_eval_table_folds_the_held_out_file_name() -> None:
    console, shown = narrow_console()
    table = summary_table("ATRI · adapter vs base", "", "base", "adapter")
    table.add_row(f"held-out perplexity ({HELD_OUT})", "31.07", "23.53")
    console.print(table)
    text = shown.getvalue()
    assert "…" not in text, text
    assert HELD_OUT in FRAME.sub("", text), text


def test_eval_written_sentence_keeps_each_path_on_one_line() -> None:
    console, shown = narrow_console()
    say_eval_written(console, Path(FOLDER))
    lines = shown.getvalue().splitlines()
    assert lines == [f"Wrote {FOLDER}/eval.json and {FOLDER}/eval.md."], lines
