"""CPU time and memory of a server's process tree, read from /proc (Linux only).

A server is a root PID and all its descendants (Postfix: master(8) and every daemon it
forked). CPU time is utime+stime of every live member plus cutime+cstime (children already
reaped), so a daemon that exits during a run still counts: its time moves to its parent.
Memory is the sum of VmRSS (and Pss, which shares pages fairly between processes) over the
members; `Sampler` keeps the peak of the RSS sum while a run is in progress.
"""

from __future__ import annotations

import os
import threading

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """The root and every descendant alive now."""
    parent: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat(int(name))
        if fields is None:
            continue
        parent.setdefault(int(fields[1]), []).append(int(name))
    members, todo = [], [root]
    while todo:
        pid = todo.pop()
        members.append(pid)
        todo.extend(parent.get(pid, []))
    return members


def cpu_seconds(root: int) -> float:
    """utime+stime+cutime+cstime summed over the tree, in seconds."""
    ticks = 0
    for pid in tree(root):
        fields = _stat(pid)
        if fields is not None:
            # After "pid (comm) ": state is fields[0]; utime, stime, cutime, cstime are 14..17.
            ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / CLOCK_TICKS


def _status_kb(pid: int, key: str, path: str = "status") -> int:
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def memory_kb(root: int) -> dict[str, int]:
    """Sum of VmRSS, Pss and VmHWM over the tree, in KiB, and the number of processes."""
    members = tree(root)
    return {
        "rss_kb": sum(_status_kb(p, "VmRSS") for p in members),
        "pss_kb": sum(_status_kb(p, "Pss", "smaps_rollup") for p in members),
        "hwm_kb": sum(_status_kb(p, "VmHWM") for p in members),
        "processes": len(members),
    }


class Sampler(threading.Thread):
    """Samples the tree's RSS sum every `interval` seconds until `stop()`; keeps the peak."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            members = tree(self.root)
            rss = sum(_status_kb(p, "VmRSS") for p in members)
            self.peak_kb = max(self.peak_kb, rss)
            if self._stop_event.wait(self.interval):
                return

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_kb
