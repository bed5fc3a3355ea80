"""Training throughput: `atri train` vs a plain Trainer + peft run, and packing vs none.

Builds a synthetic chat dataset of realistic, uneven lengths (short lines like a visual
novel's, one to four exchanges), then trains one epoch on it, side by side in one run:
  - plain: transformers Trainer + peft LoRA, DataCollatorForSeq2Seq padding, same
    tokenized samples and the same TrainingArguments;
  - atri: `model.training.runner.train` (the code `atri train` runs), no packing;
  - atri + packing: the same with `packing = true`.
tokens/s counts real (non-padding) tokens over Trainer's own train_runtime.
Run: .venv/bin/python bench/train_throughput.py [--model offline|tiny|qwen-0.5b] [--samples 96]

With --prompts it compares the two system prompts instead, on the same conversations
(a prep output given with --dataset, or the synthetic set): the whole character card
against the short training prompt, each with and without packing. It reports reply
tokens/s (tokens that carry loss, over train_runtime) and the mean share of each row
that carries loss. Aim: the short prompt at least 5x the card's reply tokens/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console
from rich.table import Table

from atri.config import Settings
from model.training.dataset import PackedRow, Sample
from tests.model.training.sharegpt import conversation, write

QUESTIONS = [
    "Who are you?",
    "What are you doing?",
    "Shall we go to the sea today, or would you rather stay in the lab and fix the boat?",
    "Are you tired?",
    "What did you dream about last night?",
    "Tell me about the town before the sea rose.",
]
WORDS = [
    "sea",
    "town",
    "crab",
    "boat",
    "Natsuki",
    "robot",
    "high-performance",
    "summer",
    "lab",
    "grandmother",
    "memory",
    "dream",
    "water",
    "school",
    "sky",
    "sunlight",
    "repair",
    "promise",
]


def reply(rng: random.Random) -> str:
    """A reply of very uneven length, like a script's: from a word to a paragraph."""
    n = rng.choice([2, 4, 8, 12, 20, 40, 80])
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "!"


def synthetic(n: int, seed: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        conversation(
            [(rng.choice(QUESTIONS), reply(rng)) for _ in range(rng.randint(1, 4))],
            "You are ATRI, a high-performance robot girl.",
        )
        for _ in range(n)
    ]


def build_model(model: str, root: Path, texts: list[str], tokenizer: str = "") -> Path | None:
    """The model folder for `--model`, or None for the offline default.

    qwen-0.5b: random weights in Qwen2.5-0.5B's shape, with a tokenizer trained on the
    bench's own text, or the real one in `tokenizer` (a folder, e.g. the offline model's
    cache), so rows are as long as a real tokenizer makes them; for a GPU, where the tiny
    model is all overhead and no compute.
    """
    if model == "tiny":
        from tests.tiny_model import build_tiny_model

        return build_tiny_model(root / "tiny", hidden_size=256, intermediate_size=768)
    if model == "qwen-0.5b":
        from tests.tiny_model import QWEN_05B_SHAPE, build_tiny_qwen2

        return build_tiny_qwen2(
            root / "qwen",
            shape=QWEN_05B_SHAPE,
            extra_text=texts,
            vocab_size=8192,
            tokenizer_dir=Path(tokenizer) if tokenizer else None,
        )
    return None


def bench_settings(root: Path, model: str, tiny_dir: Path | None) -> Settings:
    s = Settings(root=root)
    if tiny_dir is not None:
        s.model.base = str(tiny_dir)
    s.train.dataset = str(root / "train.json")
    s.train.eval_dataset = ""
    s.model.adapters_dir = str(root / "adapters")
    s.train.epochs = 1.0
    s.train.batch_size = 8
    s.train.gradient_accumulation = 1
    s.train.max_seq_length = 512
    s.train.eval_steps = 10_000  # no mid-run checkpoints: measure training, not saving
    s.train.logging_steps = 10
    return s


def plain_run(settings: Settings) -> tuple[float, int]:
    """Trainer + peft as in the peft examples, on the same tokenized samples."""
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Trainer

    from model.engines.loading import load_base_model
    from model.training.dataset import RowDataset, tokenize_dataset
    from model.training.hardware import plan_hardware
    from model.training.runner import training_arguments
    from model.training.sharegpt import load_sharegpt

    t = settings.train
    loaded = load_base_model(settings)
    samples = tokenize_dataset(
        loaded.tokenizer, load_sharegpt(Path(t.dataset)), t.max_seq_length
    ).samples
    lora = LoraConfig(
        r=t.lora_r,
        lora_alpha=t.lora_alpha,
        lora_dropout=t.lora_dropout,
        target_modules=list(t.target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(loaded.model, lora)
    hw = plan_hardware(t, settings.model.device)
    loaded.tokenizer.padding_side = "right"
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(
            model=model,
            args=training_arguments(t, hw, Path(out), has_eval=False),
            train_dataset=RowDataset(samples),
            data_collator=DataCollatorForSeq2Seq(loaded.tokenizer, padding=True),
        )
        trainer.remove_callback(PrinterCallback)  # keep the output to the one table
        runtime = float(trainer.train().metrics["train_runtime"])
    return runtime, sum(len(s) for s in samples)


def atri_run(settings: Settings, packing: bool) -> tuple[float, float]:
    """(Trainer's train_runtime, wall time of the whole train() call incl. load and save)."""
    from model.training.runner import train

    settings.train.packing = packing
    started = time.perf_counter()
    result = train(settings)
    return result.train_runtime, time.perf_counter() - started


def with_system(records: list[dict[str, object]], system: str) -> list[dict[str, object]]:
    return [{**r, "system": system} for r in records]


def loss_share(rows: Sequence[Sample] | Sequence[PackedRow]) -> float:
    """Mean share of a row's tokens that carry loss."""
    from model.training.dataset import IGNORE

    shares = [sum(1 for x in r.labels if x != IGNORE) / len(r.labels) for r in rows]
    return sum(shares) / len(shares)


def compare_prompts(args: argparse.Namespace, console: Console) -> None:
    """The full card vs the short training prompt, on the same conversations."""

    from model.character.persona import load_persona
    from model.engines.loading import load_base_model
    from model.training.dataset import pack, tokenize_dataset
    from model.training.sharegpt import load_sharegpt

    persona = load_persona()
    prompts = {
        "full card": persona.system_prompt(),
        "short prompt": persona.training_prompt(Settings().persona.training_prompt),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.dataset:
            records = json.loads(Path(args.dataset).read_text(encoding="utf-8"))
        else:
            records = synthetic(args.samples)
        texts = [*prompts.values(), json.dumps(records[:200])]
        tiny = build_model(args.model, root, texts, args.tokenizer)
        settings = bench_settings(root, args.model, tiny)
        settings.train.max_seq_length = 2048  # room for the card: no sample is dropped
        settings.train.batch_size = args.batch_size  # card rows are long: logits in memory
        tokenizer = load_base_model(settings).tokenizer
        results = []
        for label, system in prompts.items():
            write(root / "train.json", with_system(records, system))
            samples = tokenize_dataset(
                tokenizer, load_sharegpt(root / "train.json"), settings.train.max_seq_length
            )
            for packing in (False, True):
                rows = pack(samples.samples, settings.train.max_seq_length) if packing else None
                best = min(atri_run(settings, packing)[0] for _ in range(args.repeats))
                share = loss_share(rows if rows is not None else samples.samples)
                results.append((label, packing, best, samples.label_tokens, samples.tokens, share))
    table = Table(title="full card vs short training prompt (same conversations, 1 epoch)")
    for col in (
        "prompt",
        "packing",
        "train s",
        "tokens",
        "reply tokens/s",
        "loss share/row",
        "ratio",
    ):
        table.add_column(col, justify="left" if col == "prompt" else "right")
    card_rate = {p: lt / t for name, p, t, lt, _, _ in results if name == "full card"}
    for name, packing, seconds, label_tokens, tokens, share in results:
        rate = label_tokens / seconds
        table.add_row(
            name,
            "yes" if packing else "no",
            f"{seconds:.1f}",
            f"{tokens:,}",
            f"{rate:,.0f}",
            f"{share:.1%}",
            f"{rate / card_rate[packing]:.2f}× (aim ≥ 5)" if name != "full card" else "1.00",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["offline", "tiny", "qwen-0.5b"], default="offline")
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved rounds; the best of each is kept"
    )
    parser.add_argument("--prompts", action="store_true", help="full card vs short prompt")
    parser.add_argument("--dataset", default="", help="a prep sharegpt file for --prompts")
    parser.add_argument("--batch-size", type=int, default=2, help="rows per step for --prompts")
    parser.add_argument(
        "--tokenizer", default="", help="a tokenizer folder for --model qwen-0.5b (else trained)"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    console = Console()
    if args.prompts:
        compare_prompts(args, console)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        records = synthetic(args.samples)
        tiny = build_model(args.model, root, [json.dumps(records)])
        write(root / "train.json", records)
        settings = bench_settings(root, args.model, tiny)

        from model.engines.loading import load_base_model
        from model.training.dataset import pack, tokenize_dataset
        from model.training.sharegpt import load_sharegpt

        tokenizer = load_base_model(settings).tokenizer
        samples = tokenize_dataset(
            tokenizer, load_sharegpt(root / "train.json"), settings.train.max_seq_length
        ).samples
        tokens = sum(len(s) for s in samples)
        rows = pack(samples, settings.train.max_seq_length)
        mean = tokens / len(samples)
        console.print(
            f"{len(samples)} samples, {tokens} tokens (mean {mean:.0f}, max "
            f"{max(len(s) for s in samples)}); packed into {len(rows)} rows of ≤ "
            f"{settings.train.max_seq_length}; model {args.model}; batch "
            f"{settings.train.batch_size}, 1 epoch; best of {args.repeats} interleaved rounds."
        )
        # Interleaved rounds, best of each: a shared machine's load then hits every
        # configuration alike instead of whichever happened to run during a spike.
        plain_times, atri_runs, packed_runs = [], [], []
        for _ in range(args.repeats):
            plain_times.append(plain_run(settings)[0])
            atri_runs.append(atri_run(settings, packing=False))
            packed_runs.append(atri_run(settings, packing=True))
        plain_time = min(plain_times)
        atri_time, atri_wall = min(atri_runs)
        packed_time, packed_wall = min(packed_runs)

    plain_tps = tokens / plain_time
    atri_tps = tokens / atri_time
    packed_tps = tokens / packed_time
    table = Table(title="training throughput (real tokens / Trainer train_runtime)")
    for col in ("run", "train s", "tokens/s", "ratio", "whole command s"):
        table.add_column(col, justify="right" if col != "run" else "left")
    table.add_row("plain Trainer + peft", f"{plain_time:.1f}", f"{plain_tps:,.0f}", "1.00", "-")
    table.add_row(
        "atri train",
        f"{atri_time:.1f}",
        f"{atri_tps:,.0f}",
        f"{atri_tps / plain_tps:.2f} (target ≥ 0.95)",
        f"{atri_wall:.1f}",
    )
    table.add_row(
        "atri train --packing",
        f"{packed_time:.1f}",
        f"{packed_tps:,.0f}",
        f"{packed_tps / atri_tps:.2f}× vs no packing (aim ≥ 1.3)",
        f"{packed_wall:.1f}",
    )
    console.print(table)


if __name__ == "__main__":
    main()
