"""How many CPU threads llama.cpp decodes on, when `[model] llamacpp_threads` is 0.

llama.cpp's threads wait for each other at every operation of a decode step, so one
thread the system takes off its core (for another program) holds all the others. On a
quiet machine one thread per physical core is fastest (2-core VM, offline model: 92
tokens/s on 2 threads, 69 on 1); with one core busy elsewhere, 2 threads fell to 30 and
1 stayed at 69. So the count follows the machine: one per physical core, fewer while
something else keeps cores busy (other programs, other virtual machines on the host:
"steal" time, or this process's other threads), measured from /proc/stat at most 4 times
a second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

# How often the CPU use of everything else is read again: soon enough that an adapter
# converting or another program starting costs the decode threads little.
INTERVAL_SECONDS = 0.25
# How much of a core may be busy with something else and still leave it to a decode
# thread: enough that background daemons (a few percent of one) cost no thread, little
# enough that a core half busy elsewhere does (a thread waiting on one that lost its
# core waits at every step).
SLACK_CORES = 0.3

_SYS_CPU = Path("/sys/devices/system/cpu")
_CGROUP = Path("/sys/fs/cgroup")
_OWN_CGROUP = Path("/proc/self/cgroup")


def usable_cpus() -> list[int]:
    """The CPUs this process may run on; all of them where the system does not say
    (macOS and Windows have no sched_getaffinity)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return sorted(affinity(0)) if affinity is not None else list(range(os.cpu_count() or 1))


def physical_cores(cpus: list[int] | None = None, sys_cpu: Path = _SYS_CPU) -> int:
    """Physical cores among the CPUs this process may run on (two hyperthreads of one
    core count once); half of them where the topology cannot be read (hyperthreading
    assumed, as llama-cpp-python does)."""
    cpus = usable_cpus() if cpus is None else cpus
    cores = set()
    try:
        for cpu in cpus:
            topology = sys_cpu / f"cpu{cpu}" / "topology"
            package = (topology / "physical_package_id").read_text().strip()
            cores.add((package, (topology / "core_id").read_text().strip()))
    except OSError:
        return max(1, len(cpus) // 2)
    return max(1, len(cores))


def cpu_quota(root: Path = _CGROUP, own: Path = _OWN_CGROUP) -> float | None:
    """CPUs' worth of time a cgroup quota leaves this process (`docker run --cpus`,
    systemd's CPUQuota, a Kubernetes CPU limit); None where none is set or readable.
    Affinity and /proc/stat still show every CPU of the host there, and llama.cpp's
    threads, one per core of it, spun against the quota: each step waited for the
    threads the quota had stopped until the next period."""
    try:
        lines = own.read_text().splitlines()
    except OSError:
        return None
    limits: list[float] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        relative = path.strip().lstrip("/")
        if not controllers:  # cgroup v2: its own folder and every one above it
            folder = root / relative
            while True:
                limits += _quota_v2(folder / "cpu.max")
                if folder == root or root not in folder.parents:
                    break
                folder = folder.parent
        elif "cpu" in controllers.split(","):  # v1; a container sees its own at the mount
            mount = root / controllers
            for folder in (mount / relative, mount, root / "cpu"):
                limits += _quota_v1(folder)
    return min(limits) if limits else None


def _quota_v2(cpu_max: Path) -> list[float]:
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return [] if quota == "max" else [int(quota) / int(period)]
    except (OSError, ValueError, ZeroDivisionError):
        return []


def _quota_v1(folder: Path) -> list[float]:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
        return [quota / period] if quota > 0 and period > 0 else []
    except (OSError, ValueError):
        return []


def default_threads() -> tuple[int, int]:
    """(decode threads at most, CPUs to share) for `[model] llamacpp_threads` = 0: one
    thread per physical core this process may run on, no more than its cgroup quota
    (rounded down, at least one) lets run at once."""
    most, cpus = physical_cores(), len(usable_cpus())
    quota = cpu_quota()
    if quota is not None:
        allowed = max(1, int(quota))
        most, cpus = min(most, allowed), min(cpus, allowed)
    return most, cpus


def busy_cpu_seconds(stat: Path = Path("/proc/stat")) -> float | None:
    """CPU seconds every program (and, on a VM, the host's others) has used since boot,
    all CPUs together; None where /proc/stat cannot be read."""
    try:
        with stat.open() as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait.
    values = [int(v) for v in fields[1:9]]
    busy = sum(values) - values[3] - values[4]
    return busy / os.sysconf("SC_CLK_TCK")


class ThreadGovernor:
    """The thread count for the next decode: `most` (the physical cores), less the cores
    something else kept busy over the last interval: other programs, and this process's
    own other threads (an adapter being converted, the event loop). What is ours is
    counted as every decode thread busy for as long as llama.cpp decoded (`decoded`):
    its threads spin while they wait for each other."""

    def __init__(
        self,
        most: int,
        cpus: int,
        busy: Callable[[], float | None] = busy_cpu_seconds,
        clock: Callable[[], float] = time.monotonic,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        self.most = max(1, most)
        self.cpus = cpus
        self._busy, self._clock = busy, clock
        self.interval = interval
        self.current = self.most
        self._decoding = 0.0  # CPU seconds of the decode threads so far
        self._last = self._reading()

    def _reading(self) -> tuple[float, float, float] | None:
        busy = self._busy()
        return None if busy is None else (self._clock(), busy, self._decoding)

    def decoded(self, seconds: float) -> None:
        """llama.cpp decoded for `seconds` on the `current` threads."""
        self._decoding += seconds * self.current

    def threads(self) -> int:
        """Read again when the interval has passed; else the count decided last."""
        if self._last is None or self._clock() - self._last[0] < self.interval:
            return self.current
        now = self._reading()
        if now is None:
            return self.current
        seconds = now[0] - self._last[0]
        others = max(0.0, (now[1] - self._last[1]) - (now[2] - self._last[2])) / seconds
        self._last = now
        free = self.cpus - others
        self.current = max(1, min(self.most, int(free + SLACK_CORES)))
        return self.current
