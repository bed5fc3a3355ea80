"""The `atri` command: one entry point for data prep, training, evaluation and serving.

The shared frame of every command is in `cli_common.py`; the `atri memory …`,
`atri persona …` and `atri adapters …` groups are in `memory_commands.py`,
`persona_commands.py` and `adapter_commands.py`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from typer._click.core import ParameterSource
from typer._click.globals import get_current_context
from typer.core import TyperOption

from atri.adapter_commands import adapters_app
from atri.cli_common import (
    CONFIG_HELP,
    Command,
    Commands,
    State,
    atri_command,
    check_given_files,
    configured_settings,
    console,
    err_console,
    fail,
    run_async,
    stopped,
)
from atri.config import Secrets, Settings, WorkerSettings, reply_room_problem, setting_rule
from atri.config_init import config_app
from atri.errors import UserError
from atri.listening import is_loopback
from atri.memory_commands import memory_app
from atri.persona_commands import persona_app
from atri.terminal import counted, spinning, waking_line

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# Loggers whose INFO lines are shown without --verbose: the few that whoever runs atri
# must see, one line each time: which adapter version went live (the reload job at start
# and on schedule, an admin's reload or rollback), and why the first run converts the
# offline model (transformers' own bar for it, "Converting and de-quantizing GGUF
# tensors", is shown whatever we set, and said nothing of once or where), and that the
# memory database an older ATRI wrote was upgraded and where its earlier file is kept,
# and where QQ's OneBot implementation (NapCat) must connect, the address to check first
# when it does not, and what became of a QQ reply its connection cut (the rest sent when
# the account is back, or dropped past `resend_within_seconds`; hidden, the operator saw
# only the cut), and that `[memory] delete_after_days` is on and what each sweep deleted
# (hidden, an operator who set it saw nothing happen), and that Discord connected (a
# stuck Discord and a healthy one looked the same), and, once per /v1 client address,
# whether its system messages replaced her persona (hidden, an operator whose NextChat or
# SillyTavern made her someone else had no hint why).
TOLD_LOGGERS = (
    "model.adapters.reload",
    "model.engines.loading",
    "model.engines.offline_gguf",
    "model.memory.store",
    "model.service.retention",
    "bot.qq.runner",
    "bot.qq.replies",
    "bot.qq.resend",
    "bot.discord.adapter.ready",
    "model.server.openai_api.system_text",
)
# Loggers held to warnings even with --verbose: APScheduler's executors logged two lines
# at each run of the reload job ("Running job …", "… executed successfully"), 2,880 a day;
# a job's failure is still logged, as an error.
PER_RUN_LOGGERS = ("apscheduler.executors",)

app = Commands(
    help="ATRI: from a visual-novel script to a role-play character you can chat with.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(memory_app, name="memory")
app.add_typer(persona_app, name="persona")
app.add_typer(adapters_app, name="adapters")
app.add_typer(config_app, name="config")


# What a bug report needs besides atri's own version: the libraries whose behaviour
# changes between releases under it (read from the installed metadata, nothing imported).
REPORTED_LIBRARIES = (
    "torch",
    "transformers",
    "peft",
    "llama-cpp-python",
    "discord.py",
    "nonebot2",
)


def version_line() -> str:
    """`atri 0.1.0 (Python 3.12.3; torch 2.5.1, …, discord.py not installed, …)`: a
    library left out would not tell a report without it from one that forgot it."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in REPORTED_LIBRARIES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} not installed")
    return f"atri {version('atri')} (Python {platform.python_version()}; {', '.join(found)})"


def _print_version(asked: bool) -> None:
    if asked:
        console.print(escape(version_line()), highlight=False, soft_wrap=True)
        raise typer.Exit()


@app.callback()
def main(
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help=CONFIG_HELP),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log what happens")] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="print atri's version and its main libraries', then exit",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    State.config = config
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, handlers=[_log_handler()]
    )
    if not verbose:
        for noisy in ("transformers", "httpx", "peft"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        for told in TOLD_LOGGERS:
            logging.getLogger(told).setLevel(logging.INFO)
    for per_run in PER_RUN_LOGGERS:
        logging.getLogger(per_run).setLevel(logging.WARNING)


def _log_handler() -> logging.Handler:
    """rich's handler on a terminal. Elsewhere (a file, a journal) one plain line for each
    record, with its date: rich's laid each out as a table as wide as the output, so a
    message broke over lines there and each line was padded with spaces."""
    if err_console.on_terminal:
        handler: logging.Handler = RichHandler(console=err_console, show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
        return handler
    handler = logging.StreamHandler(err_console.file)
    # With the UTC offset: local times without it ran backwards when summer time ended,
    # and could not be set beside version names and /status, which are in UTC.
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-8s %(message)s", "%Y-%m-%d %H:%M:%S%z")
    )
    return handler


@app.command(ctrl_c_at_once=True, service=True)
def chat() -> None:
    """Chat with the character in this terminal (remembers across restarts)."""
    settings = configured_settings()
    _quiet_local_engine(settings)
    run_async(_chat(settings))


async def _chat(settings: Settings) -> None:
    from bot.serve import console_chat
    from model.character.persona import configured_card_path, configured_persona, load_persona
    from model.service import ChatService

    card = load_persona(configured_card_path(settings))
    her = configured_persona(settings, card).name  # in the language she speaks
    waking = escape(waking_line(her, settings.model.engine))
    # No `one_worker_per_database`: a console's messages reach it alone, so one may chat
    # beside a running bot (trying her out) without any message answered twice.
    with spinning(console, waking):
        service = await ChatService.open(settings, card=card, log_no_room=False)
    async with service:
        if problem := service.prompt_leaves_no_room():
            # Said at start (and logged): no reply could come, and a chat in this
            # terminal has no reload to wait for that would change it.
            raise UserError(problem)
        await console_chat(service, console, settings.config_file, settings.bot.command_name)


@app.command(ctrl_c_at_once=True, service=True)
def serve() -> None:
    """Run the character on Discord and QQ (console chat when no bot is configured)."""
    from bot.serve import serve as serve_all

    settings = configured_settings()
    _quiet_local_engine(settings)
    run_async(serve_all(settings, Secrets.from_env(), console))


# Bound to these, a worker listens on every interface: no client can use them as an address.
_WILDCARD_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}


def listening_line(url: str, her: str) -> str:
    """Where `her` worker listens, as addresses a client can use (named by the card's
    character: "ATRI worker" read as ATRI's whoever it served)."""
    from urllib.parse import urlsplit

    where = urlsplit(url)
    loopback = _WILDCARD_LOOPBACK.get(where.hostname or "")
    if loopback is None:
        return f"{her}'s worker listening on {url} (OpenAI API: {url}/v1). Ctrl-C stops it."
    local = f"{where.scheme}://{loopback}:{where.port}"
    return (
        f"{her}'s worker listening on every network interface, port {where.port}: {local} from"
        f" this machine (OpenAI API: {local}/v1), this machine's own address from others."
        " Ctrl-C stops it."
    )


@app.command(ctrl_c_at_once=True, service=True)
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
    from pydantic import ValidationError

    from atri.interrupt import STATUS, stop_line, stop_signal_noted, stop_status
    from model.server.app import run_worker

    settings = configured_settings()
    _quiet_local_engine(settings)
    if host is not None:
        try:
            settings.worker.host = host
        except ValidationError as exc:
            fail(f"--host = {host!r}: {exc.errors()[0]['ctx']['error']}.", 2)
    if port is not None:
        settings.worker.port = port
    secrets = Secrets.from_env()
    for notice in worker_access_notices(settings, secrets):
        err_console.print(notice, style="yellow", highlight=False, markup=False)

    from model.character.persona import configured_card_path, configured_persona, load_persona

    # Read once, for these lines and the service: a broken card is one sentence before it.
    card = load_persona(configured_card_path(settings))
    her = configured_persona(settings, card).name  # in the language she speaks

    def ready(url: str) -> None:
        console.print(listening_line(url, her), highlight=False, markup=False)

    console.print(waking_line(her, settings.model.engine), highlight=False, markup=False)
    run_async(run_worker(settings, secrets, on_ready=ready, card=card))
    if stop_signal_noted():  # uvicorn took the signal and shut down: said as serve says it
        err_console.print(stop_line(), highlight=False, markup=False)
        if stop_status():  # Ctrl-C's 130; a service stopped by SIGTERM ends with 0 here
            raise typer.Exit(STATUS)


def worker_access_notices(settings: Settings, secrets: Secrets) -> list[str]:
    """What a starting worker's secrets and [worker] settings leave shut or open."""
    worker = settings.worker
    keyed = worker.openai_api_requires_token
    notices = []
    if secrets.admin_token is None:
        if keyed and not secrets.api_keys:
            notices.append(
                "ATRI_ADMIN_TOKEN is not set: /chat, /reset, /purge, /reload, /rollback and "
                "the OpenAI API (openai_api_requires_token = true, and no ATRI_API_KEYS) will "
                "refuse every request (/status, /health, /metrics and /character still answer)."
            )
        else:
            notices.append(
                "ATRI_ADMIN_TOKEN is not set: /chat, /reset, /purge, /reload, /rollback and "
                "the other admin routes will refuse every request (the OpenAI API, /status, "
                "/health, /metrics and /character still answer)."
            )
    if not keyed and secrets.api_keys:
        notices.append(
            "ATRI_API_KEYS is set, but the OpenAI API is open to every client "
            "([worker] openai_api_requires_token = false): no key is asked for."
        )
    elif not keyed and not is_loopback(worker.host):
        notices.append(
            f"The OpenAI API (/v1) answers anyone who reaches {_reached_at(worker)}, "
            "and stores what a client names a user: set [worker] openai_api_requires_token "
            "= true and give each client a key of ATRI_API_KEYS."
        )
    if "*" in worker.trusted_proxies and not is_loopback(worker.host):
        notices.append(
            '[worker] trusted_proxies = ["*"] takes X-Forwarded-For from anyone who reaches '
            f"{_reached_at(worker)}, so a client may name its own address and pass the "
            "per-address limits: name your proxy's address or network instead."
        )
    return notices


def _reached_at(worker: WorkerSettings) -> str:
    """Where a client reaches the worker, as these notices name it: before it listens,
    port 0 is not yet the free port it gets (the listening line names that one)."""
    if worker.port == 0:
        return f"{worker.host} (on the port the next line names)"
    return f"{worker.host}:{worker.port}"


class _PrepCommand(Command):
    """`atri prep`, whose --format help names the formats the registry holds: read when
    the help is shown, so that no other `atri` command imports every parser."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from dataprep.formats import FORMAT_NAMES

        for param in self.params:
            if isinstance(param, TyperOption) and param.name == "fmt":
                param.help = f"{_FORMAT_HELP}: {', '.join(FORMAT_NAMES)}"
        super().format_help(ctx, formatter)


_FORMAT_HELP = "force a format instead of detecting it"


@app.command(cls=_PrepCommand)
def prep(
    scripts: Annotated[list[Path], typer.Argument(help="script files or folders")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="output folder (default: the folder of \\[train] dataset)"
        ),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help=_FORMAT_HELP)] = None,
) -> None:
    """Turn game scripts into a training dataset (sharegpt, messages, alpaca)."""
    from dataprep.cli import run_prep
    from model.character.persona import configured_persona

    settings = configured_settings()
    # An adapter learns the character from the dialogue: the samples carry the short
    # training prompt, not the whole card (which a base model without an adapter gets).
    persona = configured_persona(settings)
    if note := card_mismatch_note(persona.name, persona.aliases, settings):
        err_console.print(note, style="yellow", highlight=False, markup=False)
    system_prompt = persona.training_prompt(settings.persona.training_prompt)
    train = atri_command("train")
    if out is None:
        # Where `atri train` reads by default, anchored as every path of the config is:
        # a fixed ./data/dataset followed the working folder, not --config, so train
        # right after prep found no dataset.
        out = settings.path(settings.train.dataset).parent
    raise typer.Exit(
        run_prep(
            settings,
            scripts,
            out,
            fmt,
            system_prompt,
            console,
            train,
            persona.main_language,
            errors=err_console,
        )
    )


def card_mismatch_note(name: str, aliases: list[str], settings: Settings) -> str:
    """A sentence when `[dataprep] character_aliases` name none of the card's names: the
    samples then carry the card's training prompt ("You are ATRI." over Mio's lines, with
    `[persona] card` left at ATRI's), and the version is recorded as the card's character."""
    from dataprep.clean import opencc_t2s
    from dataprep.records import Role
    from dataprep.speakers import SpeakerMap

    # The card's names as speakers of the script, so compared as dataprep compares them:
    # ATRI（微笑） or ＡＴＲＩ names ATRI, and 亞托莉 names 亚托莉 when prep converts both.
    wanted = settings.dataprep.character_aliases
    convert = opencc_t2s() if settings.dataprep.traditional_to_simplified else None
    speakers = SpeakerMap.from_aliases([], wanted, convert)
    if any(speakers.role(n) is Role.CHARACTER for n in (name, *aliases)):
        return ""
    card = settings.persona.card or "ATRI's packaged card"
    return (
        f"[dataprep] character_aliases ({', '.join(wanted)}) hold none of the names of "
        f"{name}, the character of [persona] card ({card}): every sample's system prompt "
        f"will name {name}. Set [persona] card to the card of the character you prepare."
    )


@app.command()
def train(
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="training file: sharegpt or Alpaca JSON, or messages JSONL (\\[train] dataset)"
        ),
    ] = None,
    eval_dataset: Annotated[
        Path | None, typer.Option(help="held-out file, same formats (\\[train] eval_dataset)")
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            help="folder of versions the new version is written into, in a folder of its "
            "own (default \\[model] adapters_dir, the one the worker serves from)"
        ),
    ] = None,
    # No typer min=: [train]'s own check is the one rule, said in the config's own words
    # ("must be a positive integer"), whether the value comes from the file or a flag.
    max_steps: Annotated[int | None, typer.Option(help="steps (0 = use --epochs)")] = None,
    epochs: Annotated[float | None, typer.Option(help="passes over the data, above 0")] = None,
    lr: Annotated[float | None, typer.Option(help="learning rate, above 0")] = None,
    batch_size: Annotated[int | None, typer.Option(help="samples per step")] = None,
    grad_accum: Annotated[int | None, typer.Option(help="gradient accumulation")] = None,
    # Any length is tried: one that no conversation fits stops the run saying how many
    # tokens the shortest needs.
    max_seq_length: Annotated[int | None, typer.Option(help="longest sample, tokens")] = None,
    lora_r: Annotated[int | None, typer.Option(help="LoRA rank")] = None,
    eval_steps: Annotated[int | None, typer.Option(help="held-out loss every N")] = None,
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

    from model.training.run_folder import flag_name, resume_flags

    check_given_files(("--dataset", dataset), ("--eval-dataset", eval_dataset))
    settings = configured_settings()
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
    # Before the flags are applied: those that differ from the config.
    one_run = resume_flags(settings, overrides, output_dir)
    for key, value in overrides.items():
        if value is None:
            continue
        if key in {"dataset", "eval_dataset"}:
            value = str(Path(value).resolve())  # flags are relative to the working folder
        try:
            setattr(settings.train, key, value)
        except ValidationError as exc:
            rule = setting_rule(exc.errors()[0], ("train", key))
            fail(f"{flag_name(key)} = {value}: {rule}.", 2)
    served = settings.path(settings.model.adapters_dir)
    if output_dir is not None:
        settings.model.adapters_dir = str(output_dir.resolve())
    _train(settings, resume, one_run)
    if output_dir is not None and output_dir.resolve() != served.resolve():
        # Trained elsewhere, the version looked lost: `atri adapters list` said "No
        # adapter versions" and the worker kept the earlier one, without a word.
        err_console.print(
            f"{output_dir.resolve()} is not [model] adapters_dir ({served}): the worker, "
            "`atri eval` and `atri adapters` read versions from that folder only; set "
            "adapters_dir to this one to serve its versions.",
            markup=False,
            highlight=False,
        )


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


def _train(settings: Settings, resume: bool, one_run: list[str] | None = None) -> None:
    """The run, and what its end means. `one_run`: the flags given that differ from the
    config, which the `--resume` an interruption suggests repeats."""
    from model.training.errors import TrainingInterrupted
    from model.training.progress import RichProgress
    from model.training.runner import train as run_training

    def note(message: str) -> None:
        console.print(message, markup=False, highlight=False)

    _quiet_transformers()
    try:
        result = run_training(
            settings,
            resume=resume,
            callbacks=[RichProgress(console)],
            notify=note,
            resume_flags=one_run or (),
        )
    except TrainingInterrupted as interrupted:
        if interrupted.version is not None:
            removed = (
                "deleting the run's checkpoints was stopped: the next `atri train` deletes "
                "the rest."
                if interrupted.checkpoints_left
                else "the run's checkpoints are removed."
            )
            message = (
                f"Interrupted after the version was written: {interrupted.version} is complete; "
                + removed
            )
        elif interrupted.step is None:
            message = (
                "Interrupted before the first checkpoint (saved every [train] eval_steps = "
                f"{settings.train.eval_steps} steps); no version was written and there is "
                "nothing to resume."
            )
        else:
            # With --config where this run needed it: without, --resume looked for
            # another config's dataset and checkpoints.
            resume_command = atri_command("train", "--resume", *(one_run or []))
            message = (
                f"Interrupted; no version was written. `{resume_command}` continues from "
                f"step {interrupted.step}."
            )
        err_console.print(message, markup=False, highlight=False)
        stopped()  # the signal's line last, as every command's: "Stopped (SIGTERM)."
    except KeyboardInterrupt:
        # Before the run had its folder: loading the model or the data, taking its lock.
        err_console.print(
            "Interrupted before training began; no version was written and no checkpoint "
            "was touched."
        )
        stopped()
    m = result.manifest
    # "ATRI adapter" would read as hers whoever it is: the same title as the loss plot's.
    table = summary_table(f"LoRA adapter {m['version']}", "", "value", show_header=False)
    eval_loss = "n/a" if m["eval_loss"] is None else f"{m['eval_loss']:.4f}"
    # `--resume` of a run that had finished: published from its checkpoint, no step
    # trained now (tokens/s read 0 and the time 0.0 s).
    trained = result.resumed_from_step is None or result.steps > result.resumed_from_step
    untrained = "- (published from the finished run's checkpoint)"
    rows = [
        ("base model", m["base_model"]),
        ("hardware", result.hardware.describe()),
        ("samples (train / held-out)", f"{result.train_samples} / {result.eval_samples}"),
        ("truncated / too long", f"{result.truncated} / {result.skipped}"),
        ("steps", str(result.steps)),
        ("resumed from step", str(result.resumed_from_step or "-")),
        ("train loss", f"{m['train_loss']:.4f}"),
        ("held-out loss", eval_loss),
        ("tokens/s", f"{result.tokens_per_second:,.0f}" if trained else "-"),
        ("training time", f"{result.train_runtime:.1f} s" if trained else untrained),
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
    """Compare base and adapter: perplexity, out-of-character rate, style.

    With --recall: tell facts early in long conversations and ask about them later."""
    from model.adapters.versions import CharacterId
    from model.character.persona import configured_persona
    from model.evaluation.default_version import version_to_evaluate
    from model.evaluation.progress import RichProbeProgress
    from model.evaluation.report import reply_excerpt
    from model.evaluation.runner import evaluate

    given = get_current_context().get_parameter_source
    if recall:
        ignored = [
            name
            for name, value in (
                ("a version folder", version_dir),
                ("--probes", probes),
                ("--dataset", dataset),
                ("--eval-dataset", eval_dataset),
            )
            if value is not None
        ]
        if ignored:
            fail(
                f"--recall probes the configured model ([model] adapter, else the newest "
                f"version), with its own probes: {', '.join(ignored)} would be ignored; "
                "run them without --recall."
            )
    else:
        ignored = [
            flag
            for flag, name in (
                ("--recall-filler", "recall_filler"),
                ("--recall-probes", "recall_probes"),
            )
            if given(name) == ParameterSource.COMMANDLINE
        ]
        if ignored:
            verb = "apply" if len(ignored) > 1 else "applies"
            fail(f"{' and '.join(ignored)} {verb} to --recall only; add --recall.")
    check_given_files(("--dataset", dataset), ("--eval-dataset", eval_dataset))
    settings = configured_settings()
    if max_new_tokens:
        _check_reply_room(settings, max_new_tokens)
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

    persona = configured_persona(settings)
    # By default her newest version on [model] base, as her worker would take it: never
    # another character's in the same folder, nor one trained on another base.
    folder = version_to_evaluate(
        settings, version_dir, CharacterId.of(persona.name, persona.aliases), note
    )
    # Said before transformers is imported: tens of seconds on a loaded machine.
    note(f"Evaluating {folder.name} against its base model, {settings.model.base}…")
    _quiet_transformers()
    report = evaluate(
        settings,
        folder,
        probes,
        progress=note,
        style_file=dataset.resolve() if dataset else None,
        bar=RichProbeProgress(err_console),
    )

    def ppl(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    table = summary_table(report.title, "", "base", "adapter")
    held_out = f" ({Path(report.held_out_file).name})" if report.held_out_file else ""
    table.add_row(
        f"held-out perplexity{held_out}",
        ppl(report.base.perplexity),
        ppl(report.adapter.perplexity),
    )
    table.add_row(
        f"out-of-character rate ({counted(report.probes, 'probe')})",
        f"{report.base.ooc_rate:.0%}",
        f"{report.adapter.ooc_rate:.0%}",
    )
    table.add_row(
        report.style_label,
        f"{report.base.style_rate:.2f}",
        f"{report.adapter.style_rate:.2f}",
    )
    console.print(table)
    for w in report.worst:
        console.print(
            f"{w.model} · {w.category}: {w.probe} → {reply_excerpt(w.reply, w.reasons, 160)}"
            f"  ({'; '.join(w.reasons)})",
            markup=False,
            highlight=False,
        )
    say_eval_written(console, folder)


def _check_reply_room(settings: Settings, max_new_tokens: int) -> None:
    """`--max-new-tokens` under the rule its key in the config keeps."""
    flag = "--max-new-tokens"
    problem = reply_room_problem(settings, f"{flag} {max_new_tokens}", flag, max_new_tokens)
    if problem is not None:
        fail(f"{problem}.", 2)


def summary_table(title: str, *columns: str, show_header: bool = True) -> Table:
    """A table of `atri train`'s or `atri eval`'s results. A value longer than its column
    in a narrow terminal (a version folder, a model id, a file name) folds onto the next
    line: cut with "…", it could not be read or copied."""
    table = Table(title=title, show_header=show_header)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def say_eval_written(out: Console, folder: Path) -> None:
    """The files `atri eval` wrote, on one line that only the terminal wraps: wrapped by
    rich, a path broke inside and could not be copied."""
    out.print(
        f"Wrote {folder / 'eval.json'} and {folder / 'eval.md'}.",
        markup=False,
        soft_wrap=True,
    )


def _eval_recall(settings: Settings, filler: int, count: int) -> None:
    """The recall probes through a worker on the configured model, in a scratch database."""
    import tempfile

    from model.evaluation.recall import load_recall_probes, run_recall
    from model.service import ChatService

    async def go(folder: str) -> Any:
        settings.memory.path = str(Path(folder) / "recall.sqlite3")
        settings.reload.enabled = False
        settings.worker.rate_limit_per_minute = 0
        async with await ChatService.open(settings, scratch_memory=True) as service:
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
        f"{counted(len(report.results), 'probe')}, "
        f"{counted(report.filler_exchanges, 'exchange')} between fact and "
        f"question: carried into the prompt {report.carried_rate:.0%}, recalled "
        f"{report.recall_rate:.0%}. Summaries written: {report.summaries}; model answers "
        f"that were no summary (the person's own statements kept instead): "
        f"{report.not_summaries}.",
        markup=False,
    )
