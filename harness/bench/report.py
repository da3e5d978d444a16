"""Renders perf.py's measurements as reports/perf.md: the machine, one table per comparison,
ratios to each peer, the issue's targets met or not, every command, and the hand-written
analysis in harness/bench/perf-limits.md."""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
from pathlib import Path

LIMITS = Path(__file__).resolve().parent / "perf-limits.md"


def _run(args: list[str]) -> str:
    try:
        out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "?"
    except OSError:
        return "?"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines()
               if l.startswith("MemTotal"))
    return {
        "kind": "machine",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem / 1048576),
        "kernel": f"{platform.system()} {platform.release()}",
        "rustc": _run(["rustc", "-V"]),
        "postfix": _run(["postconf", "-d", "mail_version"]),
        "aiosmtpd": _run(["python3", "-c", "import aiosmtpd; print(aiosmtpd.__version__)"]),
        "loadavg": loadavg(),
    }


def _port(command: str) -> str:
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", command)


def _rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if not a or not b else f"{a / b:.2f}x"


def _errors(r: dict) -> str:
    errors = r.get("errors") or {}
    return "none" if not errors else "; ".join(f"{k}: {v}" for k, v in errors.items())


def _p(r: dict, phase: str, q: str) -> str:
    v = (r.get("phases") or {}).get(phase, {}).get(q)
    return "n/a" if v is None else f"{v:.2f}"


def _header(m: dict) -> list[str]:
    return [
        "# Performance: the reference against its peers",
        "",
        "Produced by `bash harness/bench/perf.sh` in one run, everything on 127.0.0.1. "
        "Do not edit by hand: re-run the script (the analysis at the end comes from "
        "harness/bench/perf-limits.md).",
        "",
        f"- Machine: {m['nproc']} cores, {m['cpu']}, {m['memory_gib']} GiB, {m['kernel']}",
        f"- Toolchain and peers: {m['rustc']}; Postfix {m['postfix'].split('=')[-1].strip()} "
        f"(Debian); aiosmtpd {m['aiosmtpd']} (PyPI)",
        f"- Date: {m['date']}; load average at start {m['loadavg']}",
        "- Messages are about 1 KiB with one recipient (`mtpspec load --size 1024` counts "
        "the headers; smtp-source's `-l 1024` does not, so its messages are ~150 octets "
        "longer). \"durable\" means the 250 after the "
        "dot is sent only after fsync; the reference sink and smtp-sink store nothing.",
        "- Server CPU is utime+stime of the server's whole process tree (Postfix: master and "
        "every daemon, reaped ones included) from /proc/PID/stat, over the run and, for "
        "Postfix, until its queue has drained (so local delivery is included). Peak memory "
        "is the largest sum of VmRSS over the tree, sampled every 200 ms.",
        "",
    ]


def _generators(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    out = ["## Load generators against the same smtp-sink", "",
           f"Target: `{rows[0]['target']}`. 16 sessions.", "",
           "| generator | connections | msg/s | client CPU s | ratio to smtp-source | errors |",
           "|---|---|---:|---:|---:|---|"]
    for reuse in (True, False):
        base = next((r for r in rows if r["reuse"] == reuse and r["generator"] == "smtp-source"),
                    None)
        for r in (x for x in rows if x["reuse"] == reuse):
            out.append(f"| {r['generator']} | {'reused' if reuse else 'one per message'} | "
                       f"{_rate(r['per_second'])} | {r['client_cpu_s']:.2f} | "
                       f"{_ratio(r['per_second'], base and base['per_second'])} | "
                       f"{_errors(r)} |")
    out += ["", "Commands:", ""] + [f"- `{r['command']}`" for r in rows] + [""]
    return out


def _servers(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    labels = list(dict.fromkeys(r["server"] for r in rows))
    ours = [r for r in rows if r["generator"] == "mtpspec load"]
    by = {(r["server"], r["sessions"]): r for r in ours}
    sessions = sorted({r["sessions"] for r in ours})
    out = ["## Servers, driven by the same generator", "",
           "`mtpspec load --pipelining --reuse --duration SECONDS` at each session count "
           "(one command group per message in flight per session).", "",
           "| server | sessions | msg/s | CPU ms/msg | peak RSS MiB | p50 ms | p99 ms | errors |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for label in labels:
        for s in sessions:
            r = by.get((label, s))
            if r is None:
                continue
            cpu = 1000 * r["server_cpu_s"] / r["delivered"] if r["delivered"] else None
            out.append(f"| {label} | {s} | {_rate(r['per_second'])} | "
                       f"{'n/a' if cpu is None else f'{cpu:.3f}'} | "
                       f"{r['peak_rss_kb'] / 1024:.1f} | {_p(r, 'message', 'p50_ms')} | "
                       f"{_p(r, 'message', 'p99_ms')} | {_errors(r)} |")
    out += ["", "Ratios of the reference's msg/s to each peer's:", "",
            "| reference | peer | " + " | ".join(f"{s} sessions" for s in sessions) + " |",
            "|---|---|" + "---:|" * len(sessions)]
    for ref in (x for x in labels if x.startswith("reference")):
        for peer in (x for x in labels if not x.startswith("reference")):
            cells = [_ratio(by.get((ref, s), {}).get("per_second"),
                            by.get((peer, s), {}).get("per_second")) for s in sessions]
            out.append(f"| {ref} | {peer} | " + " | ".join(cells) + " |")
    source = [r for r in rows if r["generator"] == "smtp-source"]
    if source:
        out += ["", "The same servers driven by smtp-source (16 sessions, connections reused, "
                "no pipelining), the generator of the issue's Postfix figure:", "",
                "| server | msg/s | CPU ms/msg | errors |", "|---|---:|---:|---|"]
        for r in source:
            cpu = 1000 * r["server_cpu_s"] / r["delivered"] if r["delivered"] else None
            out.append(f"| {r['server']} | {_rate(r['per_second'])} | "
                       f"{'n/a' if cpu is None else f'{cpu:.3f}'} | {_errors(r)} |")
    out += ["", "Server commands:", ""]
    out += [f"- {label}: `{next(r['server_command'] for r in rows if r['server'] == label)}`"
            for label in labels]
    out += ["", "Generator commands (PORT is each server's):", ""]
    seen = set()
    for r in rows:
        cmd = _port(r["command"])
        if cmd not in seen:
            seen.add(cmd)
            out.append(f"- `{cmd}`")
    return out + [""]


def _idle(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    out = ["## Memory per idle connection", "",
           "1,000 connections opened (each waits for its greeting), then held idle; the "
           "server tree's memory before and after. PSS shares pages between processes "
           "fairly (it matters for Postfix, one smtpd process per connection).", "",
           "| server | open | RSS before MiB | RSS after MiB | KiB/conn (RSS) | KiB/conn (PSS) "
           "| processes after |", "|---|---:|---:|---:|---:|---:|---:|"]
    ref = None
    per: dict[str, float] = {}
    for r in rows:
        n = r["open"] or 1
        rss = (r["after"]["rss_kb"] - r["before"]["rss_kb"]) / n
        pss = (r["after"]["pss_kb"] - r["before"]["pss_kb"]) / n
        per[r["server"]] = pss
        if r["server"].startswith("reference (durable"):
            ref = pss
        out.append(f"| {r['server']} | {r['open']} | {r['before']['rss_kb'] / 1024:.1f} | "
                   f"{r['after']['rss_kb'] / 1024:.1f} | {rss:.1f} | {pss:.1f} | "
                   f"{r['after']['processes']} |")
    if ref:
        out += ["", "PSS per connection of each peer relative to the reference (durable): " +
                ", ".join(f"{k} {v / ref:.2f}x" for k, v in per.items()
                          if not k.startswith("reference")) + "."]
    out += ["", f"Command: `{_port(rows[0]['command'])}`", ""]
    return out


def _mmtp(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    out = ["## MMTP SEND/RECEIVE round trips", "",
           f"Server: `{rows[0]['server_command']}` (durable store; HashCash difficulty 1, "
           "minted by the client before the SEND is timed). Each session SENDs a message to "
           "its own recipient, then RECEIVEs it.", "",
           "| sessions | pairs/s | round trips/s | SEND p50 ms | RECEIVE p50 ms | p99 ms (pair) "
           "| errors |", "|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r['sessions']} | {_rate(r['per_second'])} | "
                   f"{_rate(2 * r['per_second'])} | {_p(r, 'send', 'p50_ms')} | "
                   f"{_p(r, 'receive', 'p50_ms')} | {_p(r, 'message', 'p99_ms')} | "
                   f"{_errors(r)} |")
    out += ["", "Commands:", ""] + [f"- `{r['command']}`" for r in rows] + [""]
    return out


def _suite(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    r = rows[0]
    return ["## Scenario suite against the embedded reference", "",
            f"`{r['command']}` (release build): **{r['wall_s']:.1f} s** wall, "
            f"{r['cpu_s']:.1f} s CPU, exit code {r['rc']}.", "",
            "```", *r["summary"], "```", ""]


def _benches(rows: list[dict], cmd: list[dict]) -> list[str]:
    if not rows:
        return []
    out = ["## Micro-benchmarks (criterion, reference-impl/proto/benches/codec.rs)", "",
           "| benchmark | throughput |", "|---|---:|"]
    out += [f"| {r['name']} | {r['throughput']} |" for r in rows]
    if cmd:
        out += ["", f"Command: `{cmd[0]['command']}`"]
    return out + [""]


def _targets(results: list[dict]) -> list[str]:
    by = {(r["server"], r["sessions"]): r["per_second"] for r in results
          if r["kind"] == "server" and r["generator"] == "mtpspec load"}
    gen = {(r["generator"], r["reuse"]): r["per_second"] for r in results
           if r["kind"] == "generator"}
    checks = []

    def check(what: str, ours: float | None, theirs: float | None, factor: float) -> None:
        if not ours or not theirs:
            checks.append(f"- {what}: not measured")
            return
        met = "met" if ours >= factor * theirs else "NOT met"
        checks.append(f"- {what}: {ours / theirs:.2f}x (target {factor}x): **{met}**")

    check("reference durable vs Postfix, 16 sessions",
          by.get(("reference (durable)", 16)), by.get(("Postfix", 16)), 5)
    check("reference sink vs smtp-sink, 16 sessions",
          by.get(("reference sink (NOT durable)", 16)), by.get(("smtp-sink", 16)), 1)
    check("mtpspec load vs smtp-source against smtp-sink, reused connections",
          gen.get(("mtpspec load --pipelining", True)), gen.get(("smtp-source", True)), 1.5)
    check("mtpspec load vs smtp-source against smtp-sink, one connection per message",
          gen.get(("mtpspec load --pipelining", False)), gen.get(("smtp-source", False)), 1.5)
    return ["## The issue's targets", "", *checks, ""]


def render(results: list[dict]) -> str:
    kind = lambda k: [r for r in results if r["kind"] == k]  # noqa: E731
    machine = kind("machine")[0]
    end = (kind("end") or [{"seconds": 0, "loadavg": "?"}])[0]
    lines = _header(machine)
    lines += _targets(results)
    lines += _generators(kind("generator"))
    lines += _servers(kind("server"))
    lines += _idle(kind("idle"))
    lines += _mmtp(kind("mmtp"))
    lines += _suite(kind("suite"))
    lines += _benches(kind("bench"), kind("bench-command"))
    lines += [f"Whole run: {end['seconds']:.0f} s; load average at the end {end['loadavg']}.", ""]
    if LIMITS.exists():
        lines += [LIMITS.read_text().rstrip(), ""]
    return "\n".join(lines)
