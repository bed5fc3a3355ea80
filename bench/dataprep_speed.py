"""How fast dataprep reads a big plain-text script, beside one bare regex over the same text.

Generates a 20 MB script (lead, ATRI, a third party, narration, noise lines and scene
markers, all made up here), then times in one run:
  - baseline: one compiled regex (`名字：台词`) with findall over the decoded text;
  - extraction: dataprep's plain-text parser over the same text (utterances with
    speaker, text, file, line and scene);
  - the whole pipeline (read + decode + every stage + writing all files, stats.png
    included, matplotlib's import too), once, in a fresh process, with its peak memory:
    the most resident memory that process held above what it held after importing
    dataprep. stats.png is drawn by a child process on a script this big; its CPU time
    is shown apart.
Baseline and extraction are the best of three interleaved runs. Each row shows wall and
CPU seconds: on a machine shared with others, CPU time is the steadier figure. The samples carry a
short training prompt (one sentence, as `atri train` uses), not the full character card.
MB are 10^6 bytes, `--mb` too.
Run: .venv/bin/python bench/dataprep_speed.py [--mb 20]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from atri.config import DataprepSettings
from dataprep.formats import (
    ParseOptions,
    compile_markers,
    plain,
)

REPEATS = 3
MB = 1_000_000  # bytes: what `--mb` generates and every MB/s divides by
# The short training prompt of a LoRA version (issue 12), not the character card.
TRAINING_PROMPT = "你是亚托莉，正在和{{user}}说话。"
# Runs in a fresh process, so that its peak memory is the pipeline's alone.
_PIPELINE_RUN = """
import json, resource, sys, time
from pathlib import Path
from atri.config import DataprepSettings
from dataprep.pipeline import prepare
def status_kib(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))
base = status_kib("VmRSS")
t0, c0 = time.perf_counter(), time.process_time()
result = prepare(DataprepSettings(), [Path(sys.argv[1])], Path(sys.argv[2]), system_prompt=sys.argv[3])
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
# VmHWM, not ru_maxrss: ru_maxrss starts at the spawning process's size (the bench's own
# text and utterances), which hid the pipeline's real peak.
peak = status_kib("VmHWM")
child = resource.getrusage(resource.RUSAGE_CHILDREN)
out_bytes = sum(p.stat().st_size for p in Path(sys.argv[2]).iterdir())
print(json.dumps({"seconds": seconds, "cpu": cpu, "child_cpu": child.ru_utime + child.ru_stime,
                  "peak_kib": peak - base, "samples": result.stats.samples,
                  "out_bytes": out_bytes}))
"""


def run_pipeline_process(script: Path, out: Path) -> dict[str, object]:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _PIPELINE_RUN, str(script), str(out), TRAINING_PROMPT],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# Phrases joined 1–3 to a line: about 20 characters, the length of a typical VN line.
LEAD_PHRASES = [
    "喂，你在做什么？",
    "今天要去海边吗？",
    "别逞强了。",
    "你真的是机器人吗？",
    "肚子饿了？",
    "先把零件拿过来。",
    "明天再说吧。",
]
ATRI_PHRASES = [
    "我可是高性能的！",
    "螃蟹……看起来好好吃。",
    "嗯・・・・・・・",
    "「请交给我吧，夏生先生！」",
    "机器人也是会做梦的哦。",
    "这是命令吗？",
    "今天的天气非常适合出海。",
]
OTHER_PHRASES = ["夏生，快来帮忙！", "老师在找你们哦。", "晚饭已经做好了。"]
NARRATION = ["海风吹过堤防。", "远处传来汽笛声。", "夕阳把水面染成了橘色。", "她歪着头想了想。"]


def _line(rng: random.Random, phrases: list[str]) -> str:
    return "".join(rng.choice(phrases) for _ in range(rng.randint(1, 3)))


def generate_script(target_bytes: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    scene = 0
    while size < target_bytes:
        if rng.random() < 0.01:
            scene += 1
            line = f"第{scene}章"
        else:
            roll = rng.random()
            if roll < 0.35:
                line = f"夏生：{_line(rng, LEAD_PHRASES)}"
            elif roll < 0.75:
                line = f"亚托莉：{_line(rng, ATRI_PHRASES)}"
            elif roll < 0.85:
                line = f"水菜萌：{_line(rng, OTHER_PHRASES)}"
            else:
                line = _line(rng, NARRATION)
        parts.append(line)
        size += len(line.encode("utf-8")) + 1
    return "\n".join(parts) + "\n"


def target_bytes(mb: float) -> int:
    """Bytes to generate for `--mb`: MB as every figure printed counts them."""
    return int(mb * MB)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0)
    args = parser.parse_args()
    text = generate_script(target_bytes(args.mb))
    megabytes = len(text.encode("utf-8")) / MB
    lines = text.count("\n")
    settings = DataprepSettings()

    # Best of REPEATS, interleaved, so that a busy machine hurts both sides alike.
    baseline = re.compile(r"^([^：\n]{1,32})：(.*)$", re.M)
    options = ParseOptions(scene_marker=compile_markers(settings.scene_markers))
    t_base = t_extract = c_base = c_extract = float("inf")
    for _ in range(REPEATS):
        t0, c0 = time.perf_counter(), time.process_time()
        base_hits = len(baseline.findall(text))
        t_base = min(t_base, time.perf_counter() - t0)
        c_base = min(c_base, time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        utterances = plain.parse(text, "bench.txt", options)
        t_extract = min(t_extract, time.perf_counter() - t0)
        c_extract = min(c_extract, time.process_time() - c0)
        del utterances[:]
    utterances = plain.parse(text, "bench.txt", options)

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.txt"
        script.write_text(text, encoding="utf-8")
        del text
        run = run_pipeline_process(script, Path(tmp) / "out")
    t_pipeline = float(run["seconds"])  # type: ignore[arg-type]
    c_pipeline = float(run["cpu"])  # type: ignore[arg-type]
    c_child = float(run["child_cpu"])  # type: ignore[arg-type]
    peak_mb = int(run["peak_kib"]) * 1024 / MB  # type: ignore[call-overload]
    samples: dict[str, int] = run["samples"]  # type: ignore[assignment]

    title = (
        f"dataprep speed: generated plain-text script, {megabytes:.1f} MB, {lines} lines"
        f" ({megabytes * MB / lines:.0f} bytes a line)"
    )
    table = Table(title=title)
    columns = ("step", "wall s", "MB/s", "CPU s", "MB/s (CPU)", "items", "vs baseline")
    for column in columns:
        table.add_column(column, justify="left" if column == "step" else "right")
    table.add_row(
        "baseline: one regex findall",
        f"{t_base:.3f}",
        f"{megabytes / t_base:.1f}",
        f"{c_base:.3f}",
        f"{megabytes / c_base:.1f}",
        f"{base_hits} matches",
        "1.00x",
    )
    table.add_row(
        "extraction (plain parser)",
        f"{t_extract:.3f}",
        f"{megabytes / t_extract:.1f}",
        f"{c_extract:.3f}",
        f"{megabytes / c_extract:.1f}",
        f"{len(utterances)} utterances, {len(utterances) / t_extract / 1e3:.0f}k/s",
        f"{t_extract / t_base:.2f}x time",
    )
    table.add_row(
        "whole pipeline (read → files)",
        f"{t_pipeline:.3f}",
        f"{megabytes / t_pipeline:.1f}",
        f"{c_pipeline:.3f} + {c_child:.3f} child",
        f"{megabytes / c_pipeline:.1f}",
        f"{samples['train']} train / {samples['eval']} eval;"
        f" peak {peak_mb:.0f} MB = {peak_mb / megabytes:.1f}x the input;"
        f" {int(run['out_bytes']) / MB:.0f} MB written",  # type: ignore[call-overload]
        f"{t_pipeline / t_base:.2f}x time",
    )
    console = Console()
    console.print(table)
    console.print(
        f"whole pipeline {megabytes / t_pipeline:.1f} MB/s ({megabytes / c_pipeline:.1f} by"
        f" its CPU time, {c_child:.2f} s more in the stats.png child) beside extraction"
        f" {megabytes / t_extract:.1f} MB/s ({megabytes / c_extract:.1f}); samples carry the short training prompt"
        f" {TRAINING_PROMPT!r}, not the character card.",
        markup=False,
    )


if __name__ == "__main__":
    main()
