"""llama.cpp's thread count: one per physical core, fewer while other programs keep
cores busy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.engines.cpu_threads import (
    ThreadGovernor,
    busy_cpu_seconds,
    default_threads,
    physical_cores,
    usable_cpus,
)


def topology(root: Path, cores: dict[int, tuple[int, int]]) -> Path:
    """A /sys/devices/system/cpu with each CPU's (package, core)."""
    for cpu, (package, core) in cores.items():
        folder = root / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "physical_package_id").write_text(f"{package}\n")
        (folder / "core_id").write_text(f"{core}\n")
    return root


def test_physical_cores_count_hyperthreads_of_one_core_once(tmp_path: Path) -> None:
    smt = topology(tmp_path / "smt", {0: (0, 0), 1: (0, 1), 2: (0, 0), 3: (0, 1)})
    assert physical_cores([0, 1, 2, 3], smt) == 2
    # A VM whose two CPUs are two cores (this project's CI machines): both count.
    vm = topology(tmp_path / "vm", {0: (0, 0), 1: (0, 1)})
    assert physical_cores([0, 1], vm) == 2
    # Only the CPUs this process may run on, and core ids repeat across packages.
    two_sockets = topology(tmp_path / "two", {0: (0, 0), 1: (1, 0), 2: (0, 0), 3: (1, 0)})
    assert physical_cores([0, 1, 2, 3], two_sockets) == 2
    assert physical_cores([0, 2], two_sockets) == 1
    # No topology to read: hyperthreading assumed.
    assert physical_cores([0, 1, 2, 3], tmp_path / "none") == 2


class Machine:
    """CPU seconds used by everyone, and the time, both set by the test; `run` has
    llama.cpp decode on the governor's threads beside what else runs."""

    def __init__(self) -> None:
        self.busy = 100.0
        self.now = 0.0
        self.governor: ThreadGovernor | None = None

    def run(self, seconds: float, others: float, decoding: float = 1.0) -> None:
        """`decoding`: the part of the time llama.cpp decoded; `others`: cores busy with
        anything else (other programs, or this process's other threads)."""
        assert self.governor is not None
        self.governor.decoded(seconds * decoding)
        self.now += seconds
        self.busy += others * seconds


def governor(machine: Machine, most: int = 2, cpus: int = 2) -> ThreadGovernor:
    machine.governor = made = ThreadGovernor(
        most, cpus, lambda: machine.busy, lambda: machine.now, interval=1.0
    )
    told = made.decoded

    def decoded(seconds: float) -> None:
        # Decoding keeps its threads busy on this machine too: whoever reports it (the
        # script, or a real engine whose decode time depends on the load on the host).
        machine.busy += made.current * seconds
        told(seconds)

    made.decoded = decoded  # type: ignore[method-assign]
    return made


def test_without_sched_getaffinity_every_cpu_is_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # macOS and Windows: before, os.sched_getaffinity raised AttributeError and the
    # llamacpp engine could not start with `[model] llamacpp_threads = 0`.
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert usable_cpus() == list(range(8))
    assert physical_cores(sys_cpu=tmp_path / "no-sys") == 4  # hyperthreads assumed
    most, cpus = default_threads()
    assert 1 <= most <= 4 and most <= cpus <= 8


def test_threads_follow_what_else_keeps_the_cores_busy() -> None:
    machine = Machine()
    threads = governor(machine)
    assert threads.threads() == 2  # a quiet machine: every core
    # Decoding on both cores (spinning while the threads wait included) is ours.
    machine.run(1.0, others=0.05)
    assert threads.threads() == 2
    # Another program, or an adapter converting in this process, takes a core: one
    # thread, not two that wait for each other.
    machine.run(1.0, others=1.0)
    assert threads.threads() == 1
    # Read at most once an interval: half a second later the count stands.
    machine.run(0.5, others=0.0)
    assert threads.threads() == 1
    machine.run(0.6, others=0.0, decoding=0.3)  # idle between replies: nothing else busy
    assert threads.threads() == 2
    # Never below one, however busy.
    machine.run(1.5, others=1.8)
    assert threads.threads() == 1


def test_a_bigger_machine_gives_up_only_the_cores_others_use() -> None:
    machine = Machine()
    threads = governor(machine, most=8, cpus=16)  # 8 cores, 2 hyperthreads each
    machine.run(1.0, others=3.0)
    assert threads.threads() == 8  # 13 logical CPUs left: a thread for every core
    machine.run(1.0, others=10.5)
    assert threads.threads() == 5


def test_no_proc_stat_keeps_the_physical_cores(tmp_path: Path) -> None:
    assert busy_cpu_seconds(tmp_path / "stat") is None
    threads = ThreadGovernor(2, 2, lambda: None, lambda: 0.0)
    assert threads.threads() == 2


def test_proc_stat_is_read_as_busy_seconds(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ ticks)
    stat.write_text("cpu  100 0 50 1000 40 0 10 40 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    seconds = busy_cpu_seconds(stat)
    assert seconds is not None
    import os

    assert seconds * os.sysconf("SC_CLK_TCK") == 200  # steal counts, idle and iowait do not


def test_the_engine_decodes_on_what_the_governor_says(tmp_path: Path) -> None:
    from atri.config import GenerationSettings, Settings
    from model.engines.gguf_files import gguf_path
    from model.engines.llamacpp import LlamaCppEngine

    settings = Settings(root=tmp_path)
    engine = LlamaCppEngine(gguf_path(settings), "builtin:smollm2-135m", "", max_batch=2)
    try:
        assert engine._governor is not None  # [model] llamacpp_threads = 0
        machine = Machine()
        engine._governor = governor(machine)
        chat = [{"role": "user", "content": "Who are you?"}]
        gen = GenerationSettings(max_new_tokens=4, do_sample=False)
        engine.generate_sync([chat], gen)
        assert engine._ll.llama_n_threads(engine._ctx) == 2
        machine.run(1.0, others=1.0)  # another program took a core
        engine.generate_sync([chat], gen)
        assert engine.threads == 1 == engine._ll.llama_n_threads(engine._ctx)
        assert engine._ll.llama_n_threads_batch(engine._ctx) == 1
    finally:
        engine._free()
