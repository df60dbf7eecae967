"""Where a bench's CPU goes: the web server's processes, PostgreSQL, Redis, the bench itself
and everything else on the machine, read from ``/proc`` (Linux) before and after a phase.

    before = cpu.snapshot(gunicorn.pid)
    ...  # the measured phase
    after = cpu.snapshot(gunicorn.pid)
    print(cpu.report(before, after, requests=n))

PostgreSQL's share counts its running processes and, through the postmaster's « children »
times, the backends that ended during the phase. Elsewhere than on Linux it says so and
reports nothing.
"""

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Snapshot:
    at: float
    machine: float  # busy CPU seconds of the whole machine (every core)
    cores: int
    parts: dict[str, float] = field(default_factory=dict)


def _stat(pid: int) -> tuple[str, int, float, float] | None:
    """(command, parent pid, own CPU seconds, waited-for children's CPU seconds)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command is in parentheses and may hold spaces: split after its closing one.
    command = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    parent = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / TICK
    children = (int(fields[13]) + int(fields[14])) / TICK
    return command, parent, own, children


def _machine() -> tuple[float, int]:
    lines = (PROC / "stat").read_text().splitlines()
    values = [int(v) for v in lines[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return (sum(values[:8]) - idle) / TICK, cores


def available() -> bool:
    return (PROC / "stat").exists()


def snapshot(server_pid: int) -> Snapshot | None:
    if not available():
        return None
    machine, cores = _machine()
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    parts = {"web server": 0.0, "PostgreSQL": 0.0, "Redis": 0.0}
    for pid, (command, parent, own, children) in stats.items():
        if pid == server_pid or parent == server_pid:
            parts["web server"] += own
        elif command == "postgres":
            parts["PostgreSQL"] += own
            if stats.get(parent, ("",))[0] != "postgres":  # the postmaster: ended backends
                parts["PostgreSQL"] += children
        elif command.startswith("redis-server"):
            parts["Redis"] += own
    me = stats.get(os.getpid())
    parts["this bench (load generator)"] = me[2] if me else time.process_time()
    return Snapshot(time.monotonic(), machine, cores, parts)


def report(before: Snapshot | None, after: Snapshot | None, *, requests: int) -> str:
    if before is None or after is None:
        return "CPU: not measured (no /proc on this system)"
    seconds = after.at - before.at
    busy = after.machine - before.machine
    lines = [
        f"CPU over {seconds:.1f} s on {after.cores} cores: {busy:.1f} s busy "
        f"({100 * busy / (seconds * after.cores):.0f} % of the machine), "
        f"{1000 * busy / max(requests, 1):.1f} ms per request in all"
    ]
    counted = 0.0
    for name, value in after.parts.items():
        used = value - before.parts.get(name, 0.0)
        counted += used
        lines.append(
            f"  {name:30s} {used:7.1f} s  {1000 * used / max(requests, 1):6.1f} ms/request"
        )
    rest = busy - counted
    lines.append(
        f"  {'everything else':30s} {rest:7.1f} s  {1000 * rest / max(requests, 1):6.1f} ms/request"
    )
    return "\n".join(lines)
