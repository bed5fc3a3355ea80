"""How fast dataprep reads a big plain-text script, beside one bare regex over the same text.

Generates a 20 MB script (lead, ATRI, a third party, narration, noise lines and scene
markers, all made up here), then times in one run:
  - baseline: one compiled regex (`名字：台词`) with findall over the decoded text;
  - extraction: dataprep's plain-text parser over the same text (utterances with
    speaker, text, file, line and scene);
  - the whole pipeline (read + decode + every stage + writing all files), once.
Baseline and extraction are the best of three interleaved runs.
Run: .venv/bin/python bench/dataprep_speed.py [--mb 20]
"""

from __future__ import annotations

import argparse
import random
import re
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
from dataprep.pipeline import prepare

REPEATS = 3
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0)
    args = parser.parse_args()
    text = generate_script(int(args.mb * 1024 * 1024))
    megabytes = len(text.encode("utf-8")) / 1e6
    lines = text.count("\n")
    settings = DataprepSettings()

    # Best of REPEATS, interleaved, so that a busy machine hurts both sides alike.
    baseline = re.compile(r"^([^：\n]{1,32})：(.*)$", re.M)
    options = ParseOptions(scene_marker=compile_markers(settings.scene_markers))
    t_base = t_extract = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        base_hits = len(baseline.findall(text))
        t_base = min(t_base, time.perf_counter() - t0)
        t0 = time.perf_counter()
        utterances = plain.parse(text, "bench.txt", options)
        t_extract = min(t_extract, time.perf_counter() - t0)
        del utterances[:]
    utterances = plain.parse(text, "bench.txt", options)

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.txt"
        script.write_text(text, encoding="utf-8")
        t0 = time.perf_counter()
        result = prepare(settings, [script], Path(tmp) / "out", system_prompt="你是亚托莉。")
        t_pipeline = time.perf_counter() - t0

    title = (
        f"dataprep speed: generated plain-text script, {megabytes:.1f} MB, {lines} lines"
        f" ({megabytes * 1e6 / lines:.0f} bytes a line)"
    )
    table = Table(title=title)
    for column in ("step", "seconds", "MB/s", "items", "vs baseline"):
        table.add_column(column, justify="left" if column == "step" else "right")
    table.add_row(
        "baseline: one regex findall",
        f"{t_base:.3f}",
        f"{megabytes / t_base:.1f}",
        f"{base_hits} matches",
        "1.00x",
    )
    table.add_row(
        "extraction (plain parser)",
        f"{t_extract:.3f}",
        f"{megabytes / t_extract:.1f}",
        f"{len(utterances)} utterances, {len(utterances) / t_extract / 1e3:.0f}k/s",
        f"{t_extract / t_base:.2f}x time",
    )
    table.add_row(
        "whole pipeline (read → files)",
        f"{t_pipeline:.3f}",
        f"{megabytes / t_pipeline:.1f}",
        f"{result.stats.samples['train']} train / {result.stats.samples['eval']} eval",
        f"{t_pipeline / t_base:.2f}x time",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
