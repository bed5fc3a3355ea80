"""The `atri` command: one entry point for data prep, training, evaluation and serving."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from atri.config import Settings, load_settings
from atri.errors import ConfigError, UserError
from atri.terminal import printable, waking_line

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


CONFIG_HELP = "config file (default: $ATRI_CONFIG, else ./config.toml)"


class _Commands(typer.Typer):
    """Every command registered here takes `--config` where people type it (before or
    after the command name) and turns a `UserError` into its one sentence (exit 2 for
    config errors, 1 otherwise): the one place the CLI handles errors users cause."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        register = super().command(*args, **kwargs)
        return lambda fn: register(_with_config_option(_one_sentence_errors(fn)))


def _with_config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--config/-c` to a command's own options; given there, it wins over the
    one given before the command name."""
    signature = inspect.signature(fn, eval_str=True)  # the real Annotated[...] options
    option = inspect.Parameter(
        "config_path",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[str | None, typer.Option("--config", "-c", help=CONFIG_HELP)],
    )

    @functools.wraps(fn)
    def run(*args: Any, config_path: str | None = None, **kwargs: Any) -> Any:
        if config_path is not None:
            State.config = config_path
        return fn(*args, **kwargs)

    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), option]
    )
    return run


def _one_sentence_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            fail(str(exc), code=2 if isinstance(exc, ConfigError) else 1)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return run


app = _Commands(
    help="ATRI: from a visual-novel script to a role-play character you can chat with.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
memory_app = _Commands(help="Inspect and manage conversation memory.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")
persona_app = _Commands(
    help="Show or export the character card (ATRI's unless \\[persona] card names another).",
    no_args_is_help=True,
)
app.add_typer(persona_app, name="persona")

console = Console()
err_console = Console(stderr=True)


class State:
    config: str | None = None


def _config_after_group(
    config_path: Annotated[str | None, typer.Option("--config", "-c", help=CONFIG_HELP)] = None,
) -> None:
    # `atri memory --config X list`: between the group and its command, as people type it.
    if config_path is not None:
        State.config = config_path


memory_app.callback()(_config_after_group)
persona_app.callback()(_config_after_group)


def _settings() -> Settings:
    settings = load_settings(State.config)
    for notice in settings.notices:
        err_console.print(notice, style="yellow", highlight=False, markup=False)
    return settings


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"error: {message}", style="bold red", highlight=False, markup=False)
    raise typer.Exit(code)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


@app.callback()
def main(
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help=CONFIG_HELP),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log what happens")] = False,
) -> None:
    State.config = config
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )
    if not verbose:
        for noisy in ("transformers", "httpx", "peft"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


@app.command()
def chat() -> None:
    """Chat with the character in this terminal (remembers across restarts)."""
    settings = _settings()
    _quiet_local_engine(settings)
    run_async(_chat(settings))


async def _chat(settings: Settings) -> None:
    from bot.serve import console_chat
    from model.character.persona import configured_card_path, load_persona
    from model.service import ChatService

    card = load_persona(configured_card_path(settings))
    with console.status(escape(waking_line(card.name)), spinner="dots"):
        service = await ChatService.open(settings, card=card)
    async with service:
        await console_chat(service, console)


@app.command()
def serve() -> None:
    """Run the character on Discord and QQ (console chat when no bot is configured)."""
    from atri.config import Secrets
    from bot.serve import serve as serve_all

    settings = _settings()
    _quiet_local_engine(settings)
    run_async(serve_all(settings, Secrets.from_env(), console))


# Bound to these, a worker listens on every interface: no client can use them as an address.
_WILDCARD_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}


def listening_line(url: str) -> str:
    """Where the worker listens, as addresses a client can use."""
    from urllib.parse import urlsplit

    where = urlsplit(url)
    loopback = _WILDCARD_LOOPBACK.get(where.hostname or "")
    if loopback is None:
        return f"ATRI worker listening on {url} (OpenAI API: {url}/v1). Ctrl-C stops it."
    local = f"{where.scheme}://{loopback}:{where.port}"
    return (
        f"ATRI worker listening on every network interface, port {where.port}: {local} from"
        f" this machine (OpenAI API: {local}/v1), this machine's own address from others."
        " Ctrl-C stops it."
    )


@app.command()
def worker(
    host: Annotated[
        str | None, typer.Option(help="listen address (default: \\[worker] host)")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="listen port, 0 for any free one (default: \\[worker] port)"
        ),
    ] = None,
) -> None:
    """Run the model worker alone behind HTTP (and the OpenAI-compatible API)."""
    from atri.config import Secrets
    from model.server.app import run_worker

    settings = _settings()
    if host is not None:
        settings.worker.host = host
    if port is not None:
        settings.worker.port = port
    secrets = Secrets.from_env()
    if secrets.admin_token is None:
        err_console.print(
            admin_token_notice(settings.worker.openai_api_requires_token),
            style="yellow",
            highlight=False,
            markup=False,
        )

    def ready(url: str) -> None:
        console.print(listening_line(url), highlight=False, markup=False)

    from model.character.persona import configured_card_path, load_persona

    name = load_persona(configured_card_path(settings)).name
    console.print(waking_line(name), highlight=False, markup=False)
    run_async(run_worker(settings, secrets, on_ready=ready))


def admin_token_notice(openai_api_requires_token: bool) -> str:
    """What a worker without ATRI_ADMIN_TOKEN refuses, said at start-up."""
    if openai_api_requires_token:
        return (
            "ATRI_ADMIN_TOKEN is not set: /chat, /reset, /purge, /reload, /rollback and the "
            "OpenAI API (openai_api_requires_token = true) will refuse every request "
            "(/status, /health and /metrics still answer)."
        )
    return (
        "ATRI_ADMIN_TOKEN is not set: /chat, /reset, /purge, /reload and /rollback will "
        "refuse every request (the OpenAI API, /status, /health and /metrics still answer)."
    )


@app.command()
def prep(
    scripts: Annotated[list[Path], typer.Argument(help="script files or folders")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("data/dataset"),
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="force a format instead of detecting it")
    ] = None,
) -> None:
    """Turn game scripts into a training dataset (sharegpt, messages, alpaca)."""
    from dataprep.cli import run_prep

    settings = _settings()
    # An adapter learns the character from the dialogue: the samples carry the short
    # training prompt, not the whole card (which a base model without an adapter gets).
    system_prompt = _persona(settings).training_prompt(settings.persona.training_prompt)
    raise typer.Exit(run_prep(settings, scripts, out, fmt, system_prompt, console))


# `atri train` flags whose name is not their [train] key's.
TRAIN_FLAGS = {"learning_rate": "lr", "gradient_accumulation": "grad-accum"}


@app.command()
def train(
    dataset: Annotated[
        Path | None,
        typer.Option(help="training file: sharegpt JSON or messages JSONL (\\[train] dataset)"),
    ] = None,
    eval_dataset: Annotated[
        Path | None, typer.Option(help="held-out file, same formats (\\[train] eval_dataset)")
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(help="folder the version is written into (\\[model] adapters_dir)"),
    ] = None,
    max_steps: Annotated[int | None, typer.Option(min=0, help="steps (0 = use --epochs)")] = None,
    epochs: Annotated[float | None, typer.Option(help="passes over the data, above 0")] = None,
    # > 0: [train]'s own check says so (typer's min would show "x>=0" and accept 0).
    lr: Annotated[float | None, typer.Option(help="learning rate, above 0")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="samples per step")] = None,
    grad_accum: Annotated[int | None, typer.Option(min=1, help="gradient accumulation")] = None,
    max_seq_length: Annotated[int | None, typer.Option(min=8, help="longest sample")] = None,
    lora_r: Annotated[int | None, typer.Option(min=1, help="LoRA rank")] = None,
    eval_steps: Annotated[int | None, typer.Option(min=1, help="held-out loss every N")] = None,
    packing: Annotated[
        bool | None, typer.Option("--packing/--no-packing", help="pack short samples")
    ] = None,
    precision: Annotated[str | None, typer.Option(help="auto, fp32, bf16 or fp16")] = None,
    quantization: Annotated[str | None, typer.Option(help="auto, none or 4bit")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="continue the interrupted run of the same settings")
    ] = False,
) -> None:
    """Fine-tune a LoRA adapter on the dataset into a new adapters/<version>/ folder."""
    from pydantic import ValidationError

    settings = _settings()
    overrides: dict[str, Any] = {
        "dataset": str(dataset) if dataset else None,
        "eval_dataset": str(eval_dataset) if eval_dataset else None,
        "max_steps": max_steps,
        "epochs": epochs,
        "learning_rate": lr,
        "batch_size": batch_size,
        "gradient_accumulation": grad_accum,
        "max_seq_length": max_seq_length,
        "lora_r": lora_r,
        "eval_steps": eval_steps,
        "packing": packing,
        "precision": precision,
        "quantization": quantization,
    }
    for key, value in overrides.items():
        if value is None:
            continue
        if key in {"dataset", "eval_dataset"}:
            value = str(Path(value).resolve())  # flags are relative to the working folder
        try:
            setattr(settings.train, key, value)
        except ValidationError as exc:
            flag = TRAIN_FLAGS.get(key, key.replace("_", "-"))
            fail(f"--{flag} = {value}: {exc.errors()[0]['msg'].lower()}.", 2)
    if output_dir is not None:
        settings.model.adapters_dir = str(output_dir.resolve())
    _train(settings, resume)


def _quiet_transformers() -> None:
    """Our own progress bars replace transformers' weight-loading bar and deprecation notes."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)


def _quiet_local_engine(settings: Settings) -> None:
    """A chat in the terminal shows her words, not transformers' loading bar and notes."""
    if settings.model.engine == "local":
        _quiet_transformers()


def _train(settings: Settings, resume: bool) -> None:
    from model.training.progress import RichProgress
    from model.training.runner import train as run_training

    def note(message: str) -> None:
        console.print(message, markup=False, highlight=False)

    _quiet_transformers()
    try:
        result = run_training(
            settings, resume=resume, callbacks=[RichProgress(console)], notify=note
        )
    except KeyboardInterrupt:
        err_console.print("Interrupted; no version was written. `atri train --resume` continues.")
        raise typer.Exit(130) from None
    m = result.manifest
    table = Table("", "value", title=f"ATRI adapter {m['version']}", show_header=False)
    eval_loss = "n/a" if m["eval_loss"] is None else f"{m['eval_loss']:.4f}"
    rows = [
        ("base model", m["base_model"]),
        ("hardware", result.hardware.describe()),
        ("samples (train / held-out)", f"{result.train_samples} / {result.eval_samples}"),
        ("truncated / too long", f"{result.truncated} / {result.skipped}"),
        ("steps", str(result.steps)),
        ("resumed from step", str(result.resumed_from_step or "-")),
        ("train loss", f"{m['train_loss']:.4f}"),
        ("held-out loss", eval_loss),
        ("tokens/s", f"{result.tokens_per_second:,.0f}"),
        ("training time", f"{result.train_runtime:.1f} s"),
        ("version folder", str(result.version_dir)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


@app.command(name="eval")
def eval_(
    version_dir: Annotated[
        Path | None, typer.Argument(help="adapter version folder (default: the newest)")
    ] = None,
    probes: Annotated[
        Path | None, typer.Option(help="probe set TOML (default: \\[eval] probes)")
    ] = None,
    dataset: Annotated[Path | None, typer.Option(help="training file (style reference)")] = None,
    eval_dataset: Annotated[
        Path | None, typer.Option(help="held-out file (default: the version's own)")
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(min=1, help="longest reply (probes; recall replies with --recall)")
    ] = None,
    recall: Annotated[
        bool,
        typer.Option(
            "--recall",
            help="run the recall probes on the configured model instead (long-term memory)",
        ),
    ] = False,
    recall_filler: Annotated[
        int, typer.Option(min=0, help="small-talk exchanges between a fact and its question")
    ] = 20,
    recall_probes: Annotated[int, typer.Option(min=1, help="how many recall probes to run")] = 4,
) -> None:
    """Compare base and adapter: perplexity, out-of-character rate, style. With --recall:
    tell facts early in long conversations and ask about them later."""
    from model.adapters.versions import find_version
    from model.evaluation.runner import evaluate

    settings = _settings()
    if recall:
        if max_new_tokens:
            settings.generation.max_new_tokens = max_new_tokens
        _quiet_transformers()
        _eval_recall(settings, recall_filler, recall_probes)
        return
    if dataset:
        settings.train.dataset = str(dataset.resolve())
    if eval_dataset:
        settings.train.eval_dataset = str(eval_dataset.resolve())
    if max_new_tokens:
        settings.eval.max_new_tokens = max_new_tokens

    def note(message: str) -> None:
        err_console.print(message, markup=False, highlight=False)

    _quiet_transformers()
    folder = find_version(settings.path(settings.model.adapters_dir), version_dir)
    report = evaluate(settings, folder, probes, progress=note)

    def ppl(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    table = Table("", "base", "adapter", title=f"LoRA adapter {report.adapter_version}")
    table.add_row(
        "held-out perplexity", ppl(report.base.perplexity), ppl(report.adapter.perplexity)
    )
    table.add_row(
        f"out-of-character rate ({report.probes} probes)",
        f"{report.base.ooc_rate:.0%}",
        f"{report.adapter.ooc_rate:.0%}",
    )
    table.add_row(
        f"style markers / 100 chars (dataset {report.dataset_style_rate:.2f})",
        f"{report.base.style_rate:.2f}",
        f"{report.adapter.style_rate:.2f}",
    )
    console.print(table)
    for w in report.worst:
        console.print(
            f"{w.model} · {w.category}: {w.probe} → {' '.join(w.reply.split())[:160]}"
            f"  ({'; '.join(w.reasons)})",
            markup=False,
            highlight=False,
        )
    console.print(f"Wrote {folder / 'eval.json'} and {folder / 'eval.md'}.", markup=False)


def _eval_recall(settings: Settings, filler: int, count: int) -> None:
    """The recall probes through a worker on the configured model, in a scratch database."""
    import tempfile

    from model.evaluation.recall import load_recall_probes, run_recall
    from model.service import ChatService

    async def go(folder: str) -> Any:
        settings.memory.path = str(Path(folder) / "recall.sqlite3")
        settings.reload.enabled = False
        settings.worker.rate_limit_per_minute = 0
        async with await ChatService.open(settings) as service:
            probes = load_recall_probes(service.persona.main_language)
            probes.probes[:] = probes.probes[:count]
            return await run_recall(service, probes, filler)

    with tempfile.TemporaryDirectory() as folder:
        report = run_async(go(folder))
    table = Table("fact", "in the prompt", "recalled", "reply", title="Recall")
    for r in report.results:
        reply = " ".join(r.reply.split())[:80]
        table.add_row(
            r.probe.said, "yes" if r.carried else "no", "yes" if r.recalled else "no", reply
        )
    console.print(table)
    console.print(
        f"{len(report.results)} probes, {report.filler_exchanges} exchanges between fact and "
        f"question: carried into the prompt {report.carried_rate:.0%}, recalled "
        f"{report.recall_rate:.0%}. Summaries written: {report.summaries}; model answers "
        f"that were no summary (the person's own statements kept instead): "
        f"{report.not_summaries}.",
        markup=False,
    )


def _with_memory(fn: Any, read_only: bool = False) -> Any:
    """Run `fn(memory)`; `read_only` (a command that only reads) writes nothing to the
    database, so it does not wait for another program writing to it."""
    import sqlite3

    from model.memory import Memory, database_error

    settings = _settings()
    path = settings.path(settings.memory.path)

    async def go() -> Any:
        async with await Memory.open(path, read_only=read_only) as memory:
            try:
                return await fn(memory)
            except sqlite3.Error as exc:  # a full disk, a worker mid-write: one sentence
                raise database_error(path, exc) from None

    return run_async(go())


@memory_app.command("list")
def memory_list() -> None:
    """List conversation scopes with their message counts."""

    async def go(memory: Any) -> list[dict[str, Any]]:
        return await memory.scopes()  # type: ignore[no-any-return]

    rows = _with_memory(go, read_only=True)
    if not rows:
        console.print("No conversations stored yet.")
        return
    table = Table("scope", "live", "archived", "last message")
    for r in rows:
        live, total = int(r["live"] or 0), int(r["total"])
        # A scope is printed as written, never read as rich markup.
        table.add_row(Text(printable(r["scope"])), str(live), str(total - live), _when(r["last"]))
    console.print(table)


def _when(seconds: float) -> str:
    """A stored time as a local date; "-" for a row that holds no usable time."""
    import datetime as dt

    if seconds <= 0:
        return "-"
    try:
        return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError, OSError):
        return "-"


@memory_app.command("show")
def memory_show(
    scope: str,
    archived: Annotated[
        bool, typer.Option(help="include reset (archived) messages and summaries")
    ] = False,
) -> None:
    """Show what she remembers of one scope: its summary and the turns after it."""

    async def go(memory: Any) -> Any:
        summaries = await memory.all_summaries(scope)
        messages = await memory.all_messages(scope, include_archived=archived)
        live = await memory.summary(scope)  # the one her prompt holds
        return [s for s in summaries if archived or not s.archived], messages, live

    summaries, messages, live = _with_memory(go, read_only=True)
    if not messages and not summaries:
        console.print(f"No messages in scope {printable(scope)}.", markup=False)
        return
    for summary in summaries:
        tag = f" [{summary.adapter_version}]" if summary.adapter_version else ""
        flag = " (archived)" if summary.archived else ""
        console.print(
            f"summary{tag}{flag}, up to message {summary.covers_up_to}:",
            markup=False,
            highlight=False,
        )
        console.print(printable(summary.text), markup=False, highlight=False)
        console.print("")
    if live is not None and not archived:
        # What the summary holds is shown through it; the turns after it follow.
        messages = [m for m in messages if m.id > live.covers_up_to]
        console.print("recent turns:", markup=False)
    for m in messages:
        # Stored text is whatever people sent: printed without terminal commands.
        who = printable(m.display_name or m.user_id or m.role)
        tag = f" [{m.adapter_version}]" if m.adapter_version else ""
        flag = " (archived)" if m.archived else ""
        content = printable(m.content)
        console.print(f"{m.role:9} {who}{tag}{flag}: {content}", markup=False, highlight=False)


@memory_app.command("reset")
def memory_reset(scope: str) -> None:
    """End a scope's context (messages stay archived)."""

    async def go(memory: Any) -> int:
        return await memory.reset(scope)  # type: ignore[no-any-return]

    count = _with_memory(go)
    console.print(f"Reset {scope}: {count} messages archived.", markup=False)


@memory_app.command("purge")
def memory_purge(
    scope: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Delete a scope's messages for good, archived ones included."""
    if not yes and not typer.confirm(f"Delete every message of {scope} for good?"):
        raise typer.Exit(1)

    async def go(memory: Any) -> int:
        return await memory.purge(scope)  # type: ignore[no-any-return]

    count = _with_memory(go)
    console.print(f"Purged {scope}: {count} messages deleted.", markup=False)


@memory_app.command("import")
def memory_import(file: Path) -> None:
    """Load a file written by `atri memory export` back into memory: one scope, or a
    whole-database backup (once: what is already stored is skipped)."""
    from model.memory import parse_export

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"{file}: cannot be read as an ATRI memory export ({exc}).")
    export = parse_export(data, str(file))  # every message is checked before any write

    async def go(memory: Any) -> Any:
        return await memory.import_export(export)

    result = _with_memory(go)
    skipped = result.skipped + result.room_skipped
    note = f" ({skipped} already stored, skipped)" if skipped else ""
    room = f" and {result.room_lines} room lines" if result.room_lines else ""
    console.print(
        f"Imported {result.added} messages and summaries{room} into {result.scope}{note}.",
        markup=False,
        highlight=False,
    )


@memory_app.command("export")
def memory_export(
    scope: Annotated[str, typer.Argument(help="one scope; none: the whole database")] = "",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """Write a scope (messages, summaries, its room lines) as JSON; with no scope, the
    whole database as a backup that `atri memory import` restores."""

    async def go(memory: Any) -> dict[str, Any]:
        return await (memory.export(scope) if scope else memory.backup())  # type: ignore[no-any-return]

    data = _with_memory(go, read_only=True)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        _write_output(out, text + "\n")
        parts = data.get("scopes", [data])
        messages = sum(len(p["messages"]) for p in parts)
        summaries = sum(len(p["summaries"]) for p in parts)
        err_console.print(
            f"Wrote {messages} messages, {summaries} summaries and "
            f"{len(data['room_lines'])} room lines to {out}.",
            markup=False,
        )


def _write_output(path: Path, text: str) -> None:
    """Replace `path` whole or not at all: a full disk or a missing folder is one
    sentence, and an earlier file there (last week's backup) is left as it was."""
    from atri.files import write_text_atomic

    existed = path.is_file()
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        kept = "the file there is left as it was" if existed else "nothing was written"
        fail(f"{path} cannot be written ({exc.strerror or exc}); {kept}.")


def _persona(settings: Settings) -> Any:
    from model.character.persona import configured_persona

    return configured_persona(settings)


@persona_app.command("show")
def persona_show() -> None:
    """Print the system prompt built from the configured character card."""
    console.print(_persona(_settings()).system_prompt(), markup=False, highlight=False)


@persona_app.command("export")
def persona_export(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """Write the character card as SillyTavern Character Card V2 JSON."""
    text = json.dumps(_persona(_settings()).to_card_v2(), ensure_ascii=False, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        _write_output(out, text + "\n")
        err_console.print(f"Wrote the character card to {out}.", markup=False)
