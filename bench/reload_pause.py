"""The pause an adapter reload causes under load: longest wait any request saw.

Clients chat with the in-process worker without a break (each message a fresh
conversation, so prompts stay the same size) while, in alternate phases, the live
adapter is swapped for another version (validate + load beside + smoke + switch) or
left alone. One run, phases interleaved: steady, reload, steady, reload, ...
Requests count in the phase they started in. "Longest gap" is the longest stretch with
no reply at all; a reload that stalled the engine shows up there and in max latency.
Run: .venv/bin/python bench/reload_pause.py [--model builtin|tiny] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from rich.console import Console
from rich.table import Table

from atri.config import OFFLINE_DEFAULT_BASE, Settings
from model.engines.local import LocalEngine
from model.protocol import ChatRequest
from model.service import ChatService

VERSIONS = ("20250101-000001", "20250101-000002")
PROMPTS = ["Hello ATRI, how are you today?", "What shall we do at the sea?", "Tell me a story."]


@dataclass
class Done:
    started: float
    finished: float
    status: str
    version: str


class TimedEngine(LocalEngine):
    """The local engine, timing what its thread does: on a shared CPU, wall-clock gaps
    also hold other processes' time; this says how long the reload itself held it."""

    timings: list[tuple[str, float]]

    def _timed(self, kind: str, fn: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.timings.append((kind, time.perf_counter() - started))

    def generate_sync(self, *args: Any) -> Any:
        return self._timed("batch", super().generate_sync, *args)

    def load_adapter_sync(self, *args: Any) -> None:
        self._timed("load", super().load_adapter_sync, *args)

    def warm_prefix_sync(self, *args: Any) -> None:
        self._timed("warm prefix (a slice)", super().warm_prefix_sync, *args)

    def smoke_sync(self, *args: Any) -> str:
        return str(self._timed("smoke", super().smoke_sync, *args))

    def activate_sync(self, *args: Any) -> None:
        self._timed("switch", super().activate_sync, *args)

    def unload_adapter_sync(self, *args: Any) -> None:
        self._timed("unload", super().unload_adapter_sync, *args)


def build_settings(root: Path, model: str) -> Settings:
    from model.engines.loading import resolve_base

    s = Settings(root=root)
    s.memory.path = str(root / "memory.sqlite3")
    s.model.adapters_dir = str(root / "adapters")
    s.reload.enabled = False  # the bench triggers reloads itself, at known times
    s.reload.keep_previous = 0  # so every reload loads its version from disk
    s.worker.rate_limit_per_minute = 0
    s.worker.ooc_max_retries = 0
    s.generation.do_sample = False
    s.generation.max_new_tokens = 16
    if model == "tiny":
        from tests.tiny_model import build_tiny_model

        s.model.base = str(build_tiny_model(root / "tiny-model"))
    else:
        s.model.base = OFFLINE_DEFAULT_BASE
        resolve_base(s)  # convert once if needed, before timing anything
    return s


def write_versions(settings: Settings, rank: int) -> None:
    from model.engines.loading import resolve_base
    from tests.model.adapters.make_versions import base_config_hash, write_version

    model_dir = Path(resolve_base(settings))
    digest = base_config_hash(model_dir)
    for seed, name in enumerate(VERSIONS, start=1):
        write_version(
            settings.path(settings.model.adapters_dir),
            name,
            model_dir,
            base_model=settings.model.base,
            config_hash=digest,
            seed=seed,
            scale=0.01,
            rank=rank,
            targets=settings.train.target_modules,
        )


async def run(settings: Settings, clients: int, rounds: int, phase_s: float) -> None:
    done: list[Done] = []
    phases: list[tuple[str, float, float, float]] = []  # (kind, start, end, reload seconds)
    stop = asyncio.Event()
    engine = cast(TimedEngine, await TimedEngine.load(settings))
    engine.timings = []
    if engine.steps is not None:  # replies come from the step loop: its steps are timed
        step = engine.steps._step
        setattr(engine.steps, "_step", lambda: engine._timed("decode step", step))  # noqa: B010
    async with await ChatService.open(settings, engine) as service:
        assert (await service.reload(VERSIONS[0])).ok
        engine.timings.clear()

        async def client(idx: int) -> None:
            n = 0
            while not stop.is_set():
                started = time.perf_counter()
                reply = await service.chat(
                    ChatRequest(
                        platform="bench", user_id=f"c{idx}-{n}", text=PROMPTS[n % len(PROMPTS)]
                    )
                )
                done.append(Done(started, time.perf_counter(), reply.status, reply.adapter_version))
                n += 1

        tasks = [asyncio.create_task(client(i)) for i in range(clients)]
        while len(done) < 2 * clients:  # warm-up (first batches), not counted
            await asyncio.sleep(0.05)
        for r in range(rounds):
            start = time.perf_counter()
            await asyncio.sleep(phase_s)
            phases.append(("steady", start, time.perf_counter(), 0.0))
            start = time.perf_counter()
            await asyncio.sleep(phase_s / 4)
            target = VERSIONS[(r + 1) % 2]
            began = time.perf_counter()
            result = await service.reload(target)
            took = time.perf_counter() - began
            if not result.ok:
                raise SystemExit(f"reload failed: {result.message}")
            await asyncio.sleep(max(0.0, phase_s - (time.perf_counter() - start)))
            phases.append(("reload", start, time.perf_counter(), took))
        stop.set()
        await asyncio.gather(*tasks)
    report(done, phases, clients, settings)
    report_engine(engine.timings, rounds)


def phase_row(done: list[Done], start: float, end: float) -> dict[str, float]:
    mine = [d for d in done if start <= d.started < end]
    lat = sorted((d.finished - d.started) * 1000 for d in mine)
    finishes = sorted([start] + [d.finished for d in mine if d.finished < end] + [end])
    return {
        "requests": len(mine),
        "failed": sum(d.status != "ok" for d in mine),
        "p50": statistics.median(lat) if lat else 0.0,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0,
        "max": lat[-1] if lat else 0.0,
        "gap": max(b - a for a, b in itertools.pairwise(finishes)) * 1000,
    }


def report(
    done: list[Done], phases: list[tuple[str, float, float, float]], clients: int, s: Settings
) -> None:
    table = Table(
        title=f"Adapter reload under load: {s.model.base.rsplit('/', 1)[-1]}, "
        f"{clients} clients, {s.generation.max_new_tokens} new tokens, greedy"
    )
    for col in ("phase", "requests", "failed", "p50 ms", "p99 ms", "max ms", "longest gap ms"):
        table.add_column(col, justify="right" if col != "phase" else "left")
    totals: dict[str, list[dict[str, float]]] = {"steady": [], "reload": []}
    for i, (kind, start, end, took) in enumerate(phases):
        row = phase_row(done, start, end)
        totals[kind].append(row)
        label = f"{i // 2 + 1}. {kind}" + (f" (reload call {took * 1000:.0f} ms)" if took else "")
        table.add_row(
            label,
            f"{row['requests']:.0f}",
            f"{row['failed']:.0f}",
            f"{row['p50']:.0f}",
            f"{row['p99']:.0f}",
            f"{row['max']:.0f}",
            f"{row['gap']:.0f}",
        )
    steady_max = max(r["max"] for r in totals["steady"])
    reload_max = max(r["max"] for r in totals["reload"])
    steady_gap = max(r["gap"] for r in totals["steady"])
    reload_gap = max(r["gap"] for r in totals["reload"])
    table.add_section()
    table.add_row(
        "reload / steady (worst)",
        "",
        "",
        f"{max(r['p50'] for r in totals['reload']) / max(r['p50'] for r in totals['steady']):.2f}x",
        "",
        f"{reload_max / steady_max:.2f}x",
        f"{reload_gap / steady_gap:.2f}x",
    )
    console = Console(width=120)
    console.print(table)
    lost = sum(d.status != "ok" for d in done)
    versions = sorted({d.version for d in done})
    console.print(
        f"Longest pause any request saw: {reload_max:.0f} ms during a reload "
        f"({reload_max - statistics.median(r['p50'] for r in totals['steady']):.0f} ms over the "
        f"steady median); steady worst {steady_max:.0f} ms. Replies: {len(done)}, not ok: "
        f"{lost}; versions seen: {', '.join(versions)}."
    )


def report_engine(timings: list[tuple[str, float]], rounds: int) -> None:
    table = Table(title="What the engine thread spent (the only place a reload can stall replies)")
    for col in ("step", "calls", "median ms", "max ms"):
        table.add_column(col, justify="right" if col != "step" else "left")
    by_kind: dict[str, list[float]] = {}
    for kind, seconds in timings:
        by_kind.setdefault(kind, []).append(seconds * 1000)
    steps = ("load", "warm prefix (a slice)", "smoke", "switch", "unload")
    # What a reload step holds the replies for, against what they wait for anyway: a
    # decode step of the step loop, or a generate() batch on a model without it.
    unit = "decode step" if "decode step" in by_kind else "batch"
    for kind in (unit, *steps):
        ms = by_kind.get(kind, [0.0])
        table.add_row(
            kind, str(len(by_kind.get(kind, []))), f"{statistics.median(ms):.0f}", f"{max(ms):.0f}"
        )
    per_reload = sum(sum(by_kind.get(k, [])) for k in steps)
    batch = statistics.median(by_kind.get(unit, [1.0]))
    table.add_section()
    table.add_row(
        f"reload (all steps) / median {unit}", "", f"{per_reload / rounds / batch:.2f}x", ""
    )
    longest = max(max(by_kind.get(k, [0.0])) for k in steps)
    table.add_row(f"longest reload step / median {unit}", "", f"{longest / batch:.2f}x", "")
    Console(width=120).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["builtin", "tiny"], default="builtin")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--phase-seconds", type=float, default=8.0)
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank of the versions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atri-reload-bench-") as tmp:
        settings = build_settings(Path(tmp), args.model)
        write_versions(settings, args.rank)
        asyncio.run(run(settings, args.clients, args.rounds, args.phase_seconds))


if __name__ == "__main__":
    main()
