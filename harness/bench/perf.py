"""Runs every comparison of issue #9 in one run on 127.0.0.1 and writes reports/perf.md.

Started by harness/bench/perf.sh (which builds, installs the peers and raises the file
limit). Each measurement is a dict appended to `results`; report.py renders them.

Environment: MTPSPEC_BIN (default target/release/mtpspec), PERF_SECONDS (length of each
timed server run, default 5), PERF_PORT (first of the ports used, default 27100),
PERF_MESSAGES (messages per generator comparison run, default 20000), PERF_OUT (default
reports/perf.md), PERF_SKIP (comma-separated sections to skip: generators, servers, idle,
mmtp, suite, benches).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proctree  # noqa: E402
import report  # noqa: E402
from servers import Aiosmtpd, Postfix, Reference, SmtpSink, Server  # noqa: E402

BIN = os.environ.get("MTPSPEC_BIN", "target/release/mtpspec")
SECONDS = float(os.environ.get("PERF_SECONDS", "5"))
PORT = int(os.environ.get("PERF_PORT", "27100"))
MESSAGES = int(os.environ.get("PERF_MESSAGES", "20000"))
SKIP = set(filter(None, os.environ.get("PERF_SKIP", "").split(",")))
SESSIONS = (1, 16, 128)
IDLE = 1000
SENDER, RECIPIENT = "load@client.example", "load0@example.test"


def log(*what: object) -> None:
    print("perf:", *what, file=sys.stderr, flush=True)


def shown(args: list[str]) -> str:
    """A command as the report shows it (the binary by its name)."""
    head = "mtpspec" if args[0] == BIN else Path(args[0]).name
    return " ".join([head, *map(shlex.quote, args[1:])])


def timed(args: list[str]) -> dict:
    """Runs a command under GNU time: wall seconds, its CPU seconds, its max RSS, stdout."""
    with tempfile.NamedTemporaryFile("r") as t:
        started = time.monotonic()
        out = subprocess.run(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", t.name, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        wall = time.monotonic() - started
        user, system, maxrss = t.read().split()[-3:]
    return {
        "wall_s": wall,
        "client_cpu_s": float(user) + float(system),
        "client_maxrss_kb": int(maxrss),
        "stdout": out.stdout,
        "rc": out.returncode,
    }


def mtpspec_load(port: int, sessions: int, *flags: str, messages: int | None = None,
                 duration: float | None = None, scheme: str = "smtp") -> dict:
    args = [BIN, "load", "--target", f"{scheme}://127.0.0.1:{port}", "--sessions", str(sessions)]
    args += ["--messages", str(messages if messages is not None else 10**9)]
    if duration is not None:
        args += ["--duration", str(duration)]
    args += [*flags, "--json"]
    run = timed(args)
    try:
        summary = json.loads(run["stdout"].strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        summary = {"delivered": 0, "per_second": 0.0, "errors": {"no summary": 1}, "phases": {}}
    return {**summary, "command": shown(args), "client_cpu_s": run["client_cpu_s"],
            "client_maxrss_kb": run["client_maxrss_kb"]}


def smtp_source(port: int, sessions: int, messages: int, reuse: bool) -> dict:
    args = ["/usr/sbin/smtp-source", "-4", "-s", str(sessions), "-m", str(messages),
            "-l", "1024", "-f", SENDER, "-t", RECIPIENT, "-M", "load.mtpspec.test"]
    if reuse:
        args.append("-d")
    args.append(f"127.0.0.1:{port}")
    run = timed(args)
    delivered = messages if run["rc"] == 0 else 0
    return {"delivered": delivered, "elapsed_s": run["wall_s"],
            "per_second": delivered / run["wall_s"], "errors": {} if run["rc"] == 0 else
            {f"exit {run['rc']}": 1}, "command": shown(args),
            "client_cpu_s": run["client_cpu_s"], "client_maxrss_kb": run["client_maxrss_kb"]}


def generators(results: list, state: Path) -> None:
    """`mtpspec load` and smtp-source, 16 sessions, against the same smtp-sink."""
    sink = SmtpSink(PORT + 1, state / "gen-sink")
    sink.state.mkdir(parents=True)
    sink.start()
    try:
        for reuse in (True, False):
            reuse_flag = ["--reuse"] if reuse else []
            runs = [
                ("smtp-source", smtp_source(sink.port, 16, MESSAGES, reuse)),
                ("mtpspec load --pipelining", mtpspec_load(
                    sink.port, 16, "--pipelining", *reuse_flag, messages=MESSAGES)),
                ("mtpspec load (no pipelining)", mtpspec_load(
                    sink.port, 16, *reuse_flag, messages=MESSAGES)),
            ]
            for generator, r in runs:
                log(f"generator {generator} reuse={reuse}: {r['per_second']:.0f} msg/s")
                results.append({"kind": "generator", "generator": generator, "reuse": reuse,
                                "sessions": 16, "target": sink.command, **r})
    finally:
        sink.stop()


def server_list(state: Path) -> list[Server]:
    return [
        Reference(PORT + 2, state / "ref", BIN, sink=False),
        Reference(PORT + 3, state / "ref-sink", BIN, sink=True),
        Postfix(PORT + 4, state / "postfix"),
        Aiosmtpd(PORT + 5, state / "aiosmtpd"),
        SmtpSink(PORT + 6, state / "smtp-sink"),
    ]


def throughput(results: list, server: Server) -> None:
    """The same generator at 1, 16 and 128 sessions for PERF_SECONDS each, and smtp-source at
    16 sessions (the issue's Postfix baseline is smtp-source's figure)."""
    for sessions in SESSIONS:
        cpu0 = proctree.cpu_seconds(server.pid)
        sampler = proctree.Sampler(server.pid)
        sampler.start()
        r = mtpspec_load(server.port, sessions, "--pipelining", "--reuse", duration=SECONDS)
        server.settle()
        cpu = proctree.cpu_seconds(server.pid) - cpu0
        peak = sampler.stop()
        log(f"{server.label} {sessions} sessions: {r['per_second']:.0f} msg/s")
        results.append({"kind": "server", "server": server.label, "sessions": sessions,
                        "generator": "mtpspec load", "server_cpu_s": cpu, "peak_rss_kb": peak,
                        "server_command": server.command, **r})
    # smtp-source has no time limit: size its run from the rate just measured.
    last16 = next(x for x in reversed(results)
                  if x.get("server") == server.label and x.get("sessions") == 16)
    messages = max(200, int(last16["per_second"] * SECONDS))
    cpu0 = proctree.cpu_seconds(server.pid)
    r = smtp_source(server.port, 16, messages, reuse=True)
    server.settle()
    cpu = proctree.cpu_seconds(server.pid) - cpu0
    log(f"{server.label} smtp-source 16 sessions: {r['per_second']:.0f} msg/s")
    results.append({"kind": "server", "server": server.label, "sessions": 16,
                    "generator": "smtp-source", "server_cpu_s": cpu, "peak_rss_kb": None,
                    "server_command": server.command, **r})


def idle(results: list, server: Server) -> None:
    """Memory per idle connection: IDLE connections opened and greeted, RSS/PSS delta."""
    before = proctree.memory_kb(server.pid)
    args = [BIN, "load", "--target", f"smtp://127.0.0.1:{server.port}", "--idle", str(IDLE),
            "--hold", "30", "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        opened = json.loads(line) if line else {"open": 0, "failed": IDLE, "opening_s": 0}
        time.sleep(1)  # let the last sessions finish their greeting bookkeeping
        after = proctree.memory_kb(server.pid)
    finally:
        proc.terminate()
        proc.wait()
    log(f"{server.label} idle: {opened['open']} open, RSS {before['rss_kb']} -> "
        f"{after['rss_kb']} KiB")
    results.append({"kind": "idle", "server": server.label, "command": shown(args),
                    "server_command": server.command, "before": before, "after": after,
                    **opened})


def servers(results: list, state: Path, sections: set[str]) -> None:
    for server in server_list(state):
        server.state.mkdir(parents=True, exist_ok=True)
        if "idle" in sections:
            server.start()
            try:
                idle(results, server)
            finally:
                server.stop()
        if "servers" in sections:
            # A fresh instance, so the idle test's processes (Postfix) are not measured.
            server.start()
            try:
                throughput(results, server)
            finally:
                server.stop()


def mmtp(results: list, state: Path) -> None:
    """SEND then RECEIVE against `mtpspec serve --mmtp` (durable store, difficulty 1)."""
    server = Reference(PORT + 7, state / "mmtp", BIN, sink=False, mmtp=PORT + 8)
    server.start()
    try:
        # The reference allows 16 connections per client address.
        for sessions in (1, 16):
            r = mtpspec_load(PORT + 8, sessions, duration=SECONDS, scheme="mmtp")
            log(f"mmtp {sessions} sessions: {r['per_second']:.0f} SEND+RECEIVE pairs/s")
            results.append({"kind": "mmtp", "sessions": sessions,
                            "server_command": server.command, **r})
    finally:
        server.stop()


def suite(results: list) -> None:
    args = [BIN, "run", "--quiet"]
    run = timed(args)
    tail = [line for line in run["stdout"].splitlines() if line.startswith(("Result:", "Gate:"))]
    log(f"suite: {run['wall_s']:.1f} s")
    results.append({"kind": "suite", "command": shown(args), "wall_s": run["wall_s"],
                    "cpu_s": run["client_cpu_s"], "rc": run["rc"], "summary": tail})


def benches(results: list) -> None:
    args = ["cargo", "bench", "-p", "mtp-proto", "--bench", "codec", "--",
            "--warm-up-time", "1", "--measurement-time", "3"]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    name = None
    for line in out.stdout.splitlines():
        if line and not line[0].isspace():
            name = line.split()[0]
        m = re.search(r"thrpt:\s+\[\S+ \S+ (\S+ \S+) \S+ \S+\]", line)
        if m and name:
            results.append({"kind": "bench", "name": name, "throughput": m.group(1)})
            log(f"bench {name}: {m.group(1)}")
    results.append({"kind": "bench-command", "command": " ".join(args)})


def main() -> int:
    sections = {"generators", "servers", "idle", "mmtp", "suite", "benches"} - SKIP
    results: list = [report.machine()]
    state = Path(tempfile.mkdtemp(prefix="mtpspec-perf-"))
    os.chmod(state, 0o755)  # Postfix's and smtp-sink's unprivileged users walk through it
    started = time.monotonic()
    try:
        if "generators" in sections:
            generators(results, state)
        if sections & {"servers", "idle"}:
            servers(results, state, sections)
        if "mmtp" in sections:
            mmtp(results, state)
        if "suite" in sections:
            suite(results)
        if "benches" in sections:
            benches(results)
    finally:
        results.append({"kind": "end", "seconds": time.monotonic() - started,
                        "loadavg": report.loadavg()})
        out = Path(os.environ.get("PERF_OUT", "reports/perf.md"))
        out.write_text(report.render(results))
        (out.with_suffix(".json")).write_text(json.dumps(results, indent=1) + "\n")
        subprocess.run(["rm", "-rf", str(state)], check=False)
    log(f"wrote {out} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
