"""How fast dataprep reads a bilingual translation dump (○/● pairs), beside the plain parser
on the same dump's translated lines alone.

Generates a dump of about 20 MB (made up here): `○N○原文` / `●N●译文` pairs with speakers
(`名字「台词」`, `名字：台词`, `【名字】「台词」`), name-only pairs naming the next pair's
quoted line, narration, chapter-heading pairs (scene markers), blank lines between pairs,
and pairs left untranslated (no ● line, or a ● line that is the original copied). Two
dumps: one with few untranslated pairs (1%), one with many (25%), where the parser also
reads the other side to name the speakers of those lines.

For each, in one run, best of three interleaved:
  - baseline: the plain parser over the translated side's text alone (the ● lines less
    their marks, one a line), in MB/s of that text;
  - the dump parser over the whole dump, in MB/s of the dump, and in MB/s of the same
    translated text (what it yields is that side's lines: the fair comparison of work).
The two parsers yield different numbers of utterances from that side (the dump parser
keeps a pair left untranslated as a line said, for one), so each row shows its
utterances and utterances/s too. Each row shows wall and CPU seconds: on a machine
shared with others, CPU time is the steadier figure. MB are 10^6 bytes, `--mb` too.
Run: .venv/bin/python bench/dump_speed.py [--mb 20]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, compile_markers, plain, translation_dump
from dataprep.records import Utterance

REPEATS = 3
MB = 1_000_000  # bytes: what `--mb` generates and every MB/s divides by

# (Japanese, Chinese) phrases, 1–3 joined to a line.
LEAD = [
    ("おい、何してる？", "喂，你在做什么？"),
    ("今日は海に行くか？", "今天要去海边吗？"),
    ("無理するなよ。", "别逞强了。"),
    ("本当にロボットなのか？", "你真的是机器人吗？"),
    ("明日にしよう。", "明天再说吧。"),
]
ATRI = [
    ("わたしは高性能ですから！", "我可是高性能的！"),
    ("カニ……美味しそうです。", "螃蟹……看起来好好吃。"),
    ("ロボットも夢を見るんですよ。", "机器人也是会做梦的哦。"),
    ("これは命令ですか？", "这是命令吗？"),
    ("今日は絶好の船出日和です。", "今天的天气非常适合出海。"),
]
OTHER = [("夏生、手伝って！", "夏生，快来帮忙！"), ("晩ご飯できたよ。", "晚饭已经做好了。")]
NARRATION = [
    ("潮風が堤防を吹き抜ける。", "海风吹过堤防。"),
    ("遠くで汽笛が鳴った。", "远处传来汽笛声。"),
    ("彼女は首をかしげた。", "她歪着头想了想。"),
]
NAMES = [("夏生", "夏生", LEAD), ("アトリ", "亚托莉", ATRI), ("水菜萌", "水菜萌", OTHER)]


def _said(rng: random.Random, phrases: list[tuple[str, str]]) -> tuple[str, str]:
    picked = [rng.choice(phrases) for _ in range(rng.randint(1, 3))]
    return "".join(p[0] for p in picked), "".join(p[1] for p in picked)


def _pair_lines(rng: random.Random, chapter: int) -> list[tuple[str, str]]:
    """One or two (original, translation) lines of the game."""
    if rng.random() < 0.01:
        return [(f"第{chapter}章", f"第{chapter}章")]
    roll = rng.random()
    if roll < 0.2:
        return [_said(rng, NARRATION)]
    jp_name, cn_name, phrases = rng.choice(NAMES)
    jp, cn = _said(rng, phrases)
    if roll < 0.5:
        return [(f"{jp_name}「{jp}」", f"{cn_name}「{cn}」")]
    if roll < 0.75:
        return [(f"{jp_name}：{jp}", f"{cn_name}：{cn}")]
    if roll < 0.9:
        return [(f"【{jp_name}】「{jp}」", f"【{cn_name}】「{cn}」")]
    return [(jp_name, cn_name), (f"「{jp}」", f"「{cn}」")]  # a name-only pair, then its line


def generate_dump(target_bytes: int, untranslated: float, seed: int = 0) -> tuple[str, str]:
    """The dump, and its translated side's text alone (the ● lines less their marks)."""
    rng = random.Random(seed)
    parts: list[str] = ["// generated dump", ""]
    side: list[str] = []
    size, number, chapter, start = 0, 0, 0, 0
    while size < target_bytes:
        chapter += 1
        for original, translation in _pair_lines(rng, chapter):
            number += 1
            parts.append(f"○{number:06d}○{original}")
            roll = rng.random()
            if roll < untranslated * 0.8:
                pass  # no ● line: not translated yet
            elif roll < untranslated:
                parts.append(f"●{number:06d}●{original}")  # the tool's pre-filled copy
            else:
                parts.append(f"●{number:06d}●{translation}")
                side.append(translation)
            parts.append("")
        size = sum(len(p.encode("utf-8")) + 1 for p in parts[start:]) + size
        start = len(parts)
    return "\n".join(parts) + "\n", "\n".join(side) + "\n"


def _timed(
    parse: Callable[[str, str, ParseOptions], list[Utterance]], text: str, options: ParseOptions
) -> tuple[float, float, int]:
    """Wall and CPU seconds of one parse, and how many utterances it gave."""
    t0, c0 = time.perf_counter(), time.process_time()
    count = len(parse(text, "b.txt", options))
    return time.perf_counter() - t0, time.process_time() - c0, count


def target_bytes(mb: float) -> int:
    """Bytes to generate for `--mb`: MB as every figure printed counts them."""
    return int(mb * MB)


def comparison(
    dump_mb: float, side_mb: float, plain: tuple[float, float, int], dump: tuple[float, float, int]
) -> str:
    """The line under a dump's table. `plain` and `dump`: each parser's best wall and CPU
    seconds and its utterances, which differ: the ratio by time is for reading the same
    translated side, not for yielding the same lines."""
    (t_plain, c_plain, n_plain), (t_dump, c_dump, n_dump) = plain, dump
    return (
        f"dump parser / plain parser: {dump_mb / c_dump / (side_mb / c_plain):.2f} by MB/s of"
        f" what each reads; {c_plain / c_dump:.2f} by time to read the same translated side"
        f" (CPU; wall {t_plain / t_dump:.2f}); {n_dump / c_dump / (n_plain / c_plain):.2f} by"
        f" utterances/s (CPU), as they yield {n_dump} and {n_plain} utterances from it"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0)
    args = parser.parse_args()
    settings = DataprepSettings()
    options = ParseOptions(scene_marker=compile_markers(settings.scene_markers))
    console = Console(width=150)
    for untranslated in (0.01, 0.25):
        dump, side = generate_dump(target_bytes(args.mb), untranslated)
        dump_mb = len(dump.encode("utf-8")) / MB
        side_mb = len(side.encode("utf-8")) / MB
        t_plain = c_plain = t_dump = c_dump = float("inf")
        n_plain = n_dump = 0
        for _ in range(REPEATS):  # interleaved, so that a busy machine hurts both alike
            w, c, n_plain = _timed(plain.parse, side, options)
            t_plain, c_plain = min(t_plain, w), min(c_plain, c)
            w, c, n_dump = _timed(translation_dump.parse, dump, options)
            t_dump, c_dump = min(t_dump, w), min(c_dump, c)
        table = Table(
            title=f"translation dump, {untranslated:.0%} of pairs untranslated:"
            f" dump {dump_mb:.1f} MB, {dump.count(chr(10))} lines;"
            f" its translated side alone {side_mb:.1f} MB"
        )
        columns = ("step", "wall s", "CPU s", "MB/s (CPU)", "side MB/s (CPU)", "items")
        for column in (*columns, "utterances/s (CPU)"):
            table.add_column(column, justify="left" if column == "step" else "right")
        table.add_row(
            "baseline: plain parser, translated side's text",
            f"{t_plain:.3f}",
            f"{c_plain:.3f}",
            f"{side_mb / c_plain:.1f}",
            f"{side_mb / c_plain:.1f}",
            f"{n_plain} utterances",
            f"{n_plain / c_plain:,.0f}",
        )
        table.add_row(
            "dump parser, whole dump",
            f"{t_dump:.3f}",
            f"{c_dump:.3f}",
            f"{dump_mb / c_dump:.1f}",
            f"{side_mb / c_dump:.1f}",
            f"{n_dump} utterances",
            f"{n_dump / c_dump:,.0f}",
        )
        console.print(table)
        console.print(
            comparison(dump_mb, side_mb, (t_plain, c_plain, n_plain), (t_dump, c_dump, n_dump)),
            markup=False,
        )


if __name__ == "__main__":
    main()
