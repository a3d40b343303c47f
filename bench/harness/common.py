"""What every part of the harness shares: paths, the core split, the run's state, /proc reads.

Holds no logic beyond reading /proc; never starts processes.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
STATIC = REPO / "static"
RESULTS = REPO / "bench" / "results" / "latest.md"

SERVER_CORE = "0"  # every server process (all its threads) runs here
CLIENT_CORE = "1"  # wrk and this script: the load generator never takes the server's core
FD_HEADROOM = 100  # descriptors beyond the connections: listeners, files, pipes, epoll
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Bench:
    """One invocation: its options, the binaries, its temp dir and every process it started."""

    runs: int
    duration_s: int
    idle_connections: int
    binaries: dict
    tmp: Path
    nofile: int
    procs: list = field(default_factory=list)
    extra_pids: list = field(default_factory=list)


def cpu_ticks(pid):
    """utime + stime of the whole process (every thread, live or exited), in clock ticks."""
    fields = proc_stat_fields(pid)
    # fields[0] is state, field 3 of proc(5): utime (14) and stime (15) are at 11 and 12.
    return int(fields[11]) + int(fields[12])


def parent_pid(pid):
    """The parent of `pid`, or None when it is gone."""
    try:
        return int(proc_stat_fields(pid)[1])
    except OSError:
        return None


def memory_kib(pid):
    """VmRSS and VmHWM of `pid` in KiB, from /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def core_ticks(core):
    """(busy, total) clock ticks core `core` has spent since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        words = line.split()
        if words[0] == f"cpu{core}":
            ticks = [int(word) for word in words[1:]]
            idle = ticks[3] + ticks[4]  # idle and iowait
            return sum(ticks) - idle, sum(ticks)
    raise RuntimeError(f"no cpu{core} line in /proc/stat")


def proc_stat_fields(pid):
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses; nothing after the last ")" does.
    return stat.rsplit(")", 1)[1].split()
