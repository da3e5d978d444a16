"""The servers perf.py compares, each started on 127.0.0.1 and stopped by its PID.

- the reference, `mtpspec serve`, durable (fsync before every 250, group commit) or with
  `--sink` (NOT durable: 250 after the dot, nothing stored);
- Postfix 3.7 and aiosmtpd 1.4, through harness/targets/postfix.sh and aiosmtpd.sh (both
  durable: Postfix fsyncs its queue file, the aiosmtpd handler fsyncs one file per message);
- Postfix's smtp-sink (a sink: accepts and discards).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

TARGETS = Path("harness/targets")


def wait_greeting(port: int, pid: int | None, seconds: float = 20) -> None:
    """Until 127.0.0.1:port sends a line (the 220); fails early if `pid` has died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pid is not None and not alive(pid):
            raise RuntimeError(f"server PID {pid} died while starting on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(512).startswith(b"220"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no greeting on 127.0.0.1:{port} after {seconds} s")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def stop_pid(proc: subprocess.Popen, seconds: float = 10) -> None:
    """TERM, then KILL after `seconds`, by PID; reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Server:
    """Base: `label` for tables, `command` for the report, `pid` once started."""

    label = ""
    command = ""
    durable = True

    def __init__(self, port: int, state: Path) -> None:
        self.port = port
        self.state = state
        self.pid: int | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def settle(self) -> None:
        """Waits until work accepted is done (Postfix: its queue drained)."""


class Reference(Server):
    def __init__(self, port: int, state: Path, binary: str, sink: bool, mmtp: int | None = None):
        super().__init__(port, state)
        self.binary = binary
        self.sink = sink
        self.durable = not sink
        self.mmtp = mmtp
        self.label = "reference sink (NOT durable)" if sink else "reference (durable)"
        self.proc: subprocess.Popen | None = None

    def args(self, data_dir: str) -> list[str]:
        args = ["serve", "--smtp", f"127.0.0.1:{self.port}", "--data-dir", data_dir]
        args += ["--max-connections", "2000"]
        if self.sink:
            args.append("--sink")
        if self.mmtp is not None:
            args += ["--mmtp", f"127.0.0.1:{self.mmtp}", "--mmtp-difficulty", "1"]
        return args

    def start(self) -> None:
        self.command = " ".join(["mtpspec", *self.args("DIR")])
        data = self.state / "ref-data"
        self.state.mkdir(parents=True, exist_ok=True)
        out = open(self.state / "ref.out", "w")
        self.proc = subprocess.Popen(
            [self.binary, *self.args(str(data))],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        self.pid = self.proc.pid
        wait_greeting(self.port, self.pid)

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc = None


class SmtpSink(Server):
    label = "smtp-sink"
    durable = False

    def start(self) -> None:
        # -m: connections at once (default 256; the idle test opens 1000); 1024: listen backlog.
        args = ["smtp-sink", "-4", "-m", "2000"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += [f"127.0.0.1:{self.port}", "1024"]
        self.command = " ".join(args)
        self.proc = subprocess.Popen(
            ["/usr/sbin/" + args[0], *args[1:]],
            stdout=subprocess.DEVNULL,
            stderr=open(self.state / "smtp-sink.err", "w"),
        )
        self.pid = self.proc.pid
        wait_greeting(self.port, self.pid)

    def stop(self) -> None:
        stop_pid(self.proc)


class ScriptServer(Server):
    """A server run by one of harness/targets/*.sh (start PORT DIR; stop DIR; PID in DIR/pid)."""

    script = ""
    env: dict[str, str] = {}

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        subprocess.run(
            ["bash", str(TARGETS / self.script), "start", str(self.port), str(self.state)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        self.pid = int((self.state / "pid").read_text().strip())
        wait_greeting(self.port, self.pid)

    def stop(self) -> None:
        subprocess.run(
            ["bash", str(TARGETS / self.script), "stop", str(self.state)],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


class Postfix(ScriptServer):
    label = "Postfix"
    script = "postfix.sh"
    # 128 sessions and 1,000 idle connections need more than the default 100 smtpd processes;
    # connection and rate limits exempt 127.0.0.0/8 (mynetworks) already.
    env = {"POSTFIX_EXTRA": "default_process_limit = 1200"}

    @property
    def command(self) -> str:  # type: ignore[override]
        return (
            "POSTFIX_EXTRA='default_process_limit = 1200' "
            f"bash harness/targets/postfix.sh start {self.port} DIR"
        )

    def settle(self) -> None:
        """Until the incoming and active queues are empty (local delivery done), at most 60 s."""
        spool = self.state / "spool"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = any(
                files for q in ("incoming", "active", "maildrop")
                for _, _, files in os.walk(spool / q)
            )
            if not busy:
                return
            time.sleep(0.2)


class Aiosmtpd(ScriptServer):
    label = "aiosmtpd"
    script = "aiosmtpd.sh"

    @property
    def command(self) -> str:  # type: ignore[override]
        return f"bash harness/targets/aiosmtpd.sh start {self.port} DIR"
