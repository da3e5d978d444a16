#!/usr/bin/env python3
"""One hostile SMTP client against a `mtpspec serve` this script starts on 127.0.0.1, measured.

    smtp.py --bin PATH ATTACK [--port N] [-- EXTRA SERVE OPTIONS...]

ATTACK is one of:
  tls-stall     20 silent sockets on the implicit-TLS port against --max-connections 20;
                seconds until a fresh plain client gets 220, sockets still open at the end
  noop-flood    NOOPs written without ever reading; seconds until the server drops the client
  slow-command  "EHLO aaa..." one octet per second; seconds until 421 or close
  slow-data     one octet per second after DATA's 354; seconds until 421 or close
  fd-flood      1,100 connections at `ulimit -n 1024`; replies 220 / 421 / none, and the
                number of accept errors in the server's log
  auth-guess    wrong AUTH PLAIN passwords over implicit TLS for 20 s from 8 threads, staying
                on a connection until it closes, then reconnecting after every guess; the
                guesses answered per second
  auth-reconnect  the reconnecting half of auth-guess alone, on a server no guess has reached
  big-data      32 connections each send 10 MB of DATA without the final dot; the server's
                VmRSS / VmHWM (from /proc/PID/status) before and once all is sent

tls-stall, auth-guess and big-data also probe with a fresh plain client every half second
while the attack runs: how many probes got their 220, and the slowest greeting.

Every run is bounded (90 s at most per attack), uses only 127.0.0.1, and stops the server it
started by its PID. Prints one line of JSON with the figures. Extra options after `--` go to
`mtpspec serve` (e.g. `--handshake-timeout 5`); the server's log is in the temporary
directory printed on stderr.
"""

import argparse
import json
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
BOUND = 90.0
WRONG = "AUTH PLAIN AGFsaWNlAHdyb25n\r\n"  # alice / wrong


class Server:
    """`mtpspec serve` in its own process group, stopped by PID."""

    def __init__(self, binary, port, extra, nofile=None):
        self.dir = tempfile.mkdtemp(prefix="smtp-attack-")
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        cmd = [
            binary, "serve",
            "--smtp", f"{HOST}:{port}", "--smtps", f"{HOST}:{port + 1}",
            "--data-dir", os.path.join(self.dir, "data"),
            "--credential", "alice:secret",
        ] + extra
        if nofile:
            # exec keeps the PID: the one stopped below is the server itself.
            cmd = ["sh", "-c", f'ulimit -n {nofile} && exec "$@"', "sh"] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.smtp, self.smtps = (HOST, port), (HOST, port + 1)
        deadline = time.time() + 30
        seen = set()
        while len(seen) < 2 and time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("listening smtp"):
                seen.add(line.split()[1])
        if len(seen) < 2:
            self.stop()
            sys.exit(f"the server did not start; see {self.dir}/serve.log")
        print(f"server pid {self.proc.pid}, log {self.dir}/serve.log", file=sys.stderr)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def log_lines(self, needle):
        with open(os.path.join(self.dir, "serve.log"), errors="replace") as log:
            return sum(needle in line for line in log)


def first_reply(sock, timeout=5.0):
    """The code of the next reply, or 'closed' / 'none'."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return "closed"
            data += chunk
    except (socket.timeout, ConnectionError):
        return "none" if not data else data[:3].decode()
    return data[:3].decode()


def is_closed(sock):
    sock.setblocking(False)
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class FreshProbe:
    """A fresh plain client every half second while the attack runs: greeted 220 or not."""

    def __init__(self, server):
        self.server, self.stop_at = server, None
        self.stopping = threading.Event()
        self.greeted, self.probes, self.slowest = 0, 0, 0.0
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set():
            start = time.time()
            try:
                fresh = socket.create_connection(self.server.smtp, timeout=10)
                code = first_reply(fresh, 10)
                fresh.close()
            except OSError:
                code = "error"
            self.probes += 1
            if code == "220":
                self.greeted += 1
            self.slowest = max(self.slowest, time.time() - start)
            self.stopping.wait(0.5)

    def figures(self):
        self.stopping.set()
        self.thread.join(timeout=30)
        return {"fresh_probes": self.probes, "fresh_greeted_220": self.greeted,
                "fresh_slowest_s": round(self.slowest, 2)}


def memory(pid):
    """VmRSS and VmHWM of a process, in kB."""
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                figures[key] = int(value.split()[0])
    return figures


def big_data(server, connections=32, size=10_000_000):
    line = b"y" * 98 + b"\r\n"
    block = line * 640  # 64,000 octets
    before = memory(server.proc.pid)
    sent = [0] * connections
    socks = []

    def send(i):
        sock = socket.create_connection(server.smtp, timeout=60)
        socks.append(sock)
        if first_reply(sock, 10) != "220":
            return
        for command in ["EHLO c", "MAIL FROM:<a@x.example>", "RCPT TO:<b@example.test>", "DATA"]:
            sock.sendall(command.encode() + b"\r\n")
            if first_reply(sock, 10) not in ("250", "354"):
                return
        for _ in range(size // len(block)):
            sock.sendall(block)
            sent[i] += len(block)

    probe = FreshProbe(server)
    start = time.time()
    pool = [threading.Thread(target=send, args=(i,)) for i in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=BOUND)
    sending_s = round(time.time() - start, 1)
    time.sleep(2)
    during = memory(server.proc.pid)
    spool = os.path.join(server.dir, "data", "spool")
    spooled = sum(os.path.getsize(os.path.join(spool, f)) for f in os.listdir(spool)) if os.path.isdir(spool) else 0
    fresh = probe.figures()
    for sock in socks:
        sock.close()
    time.sleep(2)
    left = len(os.listdir(spool)) if os.path.isdir(spool) else 0
    return {
        "connections": connections, "octets_sent_each": min(sent), "sending_s": sending_s,
        "rss_kb_before": before["VmRSS"], "rss_kb_all_sent": during["VmRSS"], "hwm_kb": during["VmHWM"],
        "spooled_octets": spooled, "spool_files_after_close": left, **fresh,
    }


def tls_stall(server):
    silent = [socket.create_connection(server.smtps) for _ in range(20)]
    start = time.time()
    time.sleep(1)  # the server has accepted all 20 before any fresh client comes
    probe = FreshProbe(server)
    served_after = None
    while time.time() - start < 60:
        fresh = socket.create_connection(server.smtp)
        code = first_reply(fresh)
        fresh.close()
        if code == "220":
            served_after = round(time.time() - start, 1)
            break
        time.sleep(1)
    # Probe on past the handshake timeout the runs use (5 s).
    time.sleep(max(0.0, start + 8 - time.time()))
    fresh = probe.figures()
    open_left = sum(not is_closed(s) for s in silent)
    for s in silent:
        s.close()
    return {"fresh_client_220_after_s": served_after or ">60", "silent_sockets_open_at_end": open_left, **fresh}


def noop_flood(server):
    sock = socket.create_connection(server.smtp)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(1.0)
    flood = b"NOOP\r\n" * 10000
    start, sent = time.time(), 0
    dropped = None
    while time.time() - start < BOUND:
        try:
            sent += sock.send(flood)
        except socket.timeout:
            continue
        except OSError:
            dropped = round(time.time() - start, 1)
            break
    sock.close()
    return {"dropped_after_s": dropped or f">{BOUND:.0f}", "octets_sent": sent}


def trickle(sock, prefix_lines, octet):
    sock.settimeout(5)
    pending = b""
    first_reply(sock)
    for line in prefix_lines:
        sock.sendall(line.encode() + b"\r\n")
        first_reply(sock)
    start = time.time()
    while time.time() - start < BOUND:
        try:
            sock.sendall(octet)
        except OSError:
            return round(time.time() - start, 1), "closed"
        sock.setblocking(False)
        try:
            chunk = sock.recv(4096)
            if chunk == b"":
                return round(time.time() - start, 1), "closed"
            pending += chunk
            if b"\r\n" in pending:
                return round(time.time() - start, 1), pending[:3].decode()
        except BlockingIOError:
            pass
        except OSError:
            return round(time.time() - start, 1), "closed"
        sock.setblocking(True)
        time.sleep(1)
    return f">{BOUND:.0f}", "still open"


def slow_command(server):
    sock = socket.create_connection(server.smtp)
    sock.sendall(b"EHLO ")
    after, how = trickle(sock, [], b"a")
    sock.close()
    return {"ended_after_s": after, "how": how}


def slow_data(server):
    sock = socket.create_connection(server.smtp)
    lines = ["EHLO c", "MAIL FROM:<a@x.example>", "RCPT TO:<b@example.test>", "DATA"]
    after, how = trickle(sock, lines, b"x")
    sock.close()
    return {"ended_after_s": after, "how": how}


def fd_flood(server, count=1100):
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(server.smtp)
        except BlockingIOError:
            pass
        socks.append(s)
        time.sleep(0.002)
    time.sleep(5)
    codes = {}
    for s in socks:
        code = first_reply(s, timeout=0.05)
        codes[code] = codes.get(code, 0) + 1
    for s in socks:
        s.close()
    time.sleep(2)
    fresh = socket.create_connection(server.smtp)
    after = first_reply(fresh)
    fresh.close()
    return {
        "connections": count,
        "replies": codes,
        "accept_error_log_lines": server.log_lines("accept failed"),
        "fresh_client_after_flood": after,
    }


def tls_client(server, context):
    raw = socket.create_connection(server.smtps, timeout=40)
    sock = context.wrap_socket(raw, server_hostname="localhost")
    if first_reply(sock, 40) != "220":
        raise OSError("no greeting")
    sock.sendall(b"EHLO c\r\n")
    sock.settimeout(40)
    data = b""
    while b"250 " not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("closed")
        data += chunk
    return sock


def auth_reconnect(server):
    return auth_guess(server, strategies=("reconnect",))


def auth_guess(server, threads=8, window=20.0, strategies=("stay", "reconnect")):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    results = {}

    def run(strategy):
        answered = [0]
        lock = threading.Lock()
        stop = time.time() + window

        def worker():
            while time.time() < stop:
                try:
                    sock = tls_client(server, context)
                except OSError:
                    time.sleep(0.1)
                    continue
                try:
                    while time.time() < stop:
                        sock.sendall(WRONG.encode())
                        if first_reply(sock, max(0.1, stop - time.time())) != "535":
                            break
                        with lock:
                            answered[0] += 1
                        if strategy == "reconnect":
                            break
                except OSError:
                    pass
                sock.close()

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(timeout=window + 60)
        return answered[0]

    probe = FreshProbe(server)
    for strategy in strategies:
        n = run(strategy)
        results[strategy] = {"guesses_answered": n, "per_second": round(n / window, 1)}
    return {"threads": threads, "window_s": window, **results, **probe.figures()}


ATTACKS = {
    "tls-stall": (tls_stall, ["--max-connections", "20", "--idle-timeout", "5"], None),
    "noop-flood": (noop_flood, [], None),
    "slow-command": (slow_command, ["--idle-timeout", "30"], None),
    "slow-data": (slow_data, ["--idle-timeout", "30"], None),
    # Pass `--max-per-address 2000` to a server that has it, or the per-address limit
    # answers most of the flood before the descriptors matter.
    "fd-flood": (fd_flood, [], 1024),
    "auth-guess": (auth_guess, [], None),
    "auth-reconnect": (auth_reconnect, [], None),
    # 32 attackers and the fresh client share 127.0.0.1: more than the default 32 per address.
    "big-data": (big_data, ["--max-per-address", "64"], None),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--port", type=int, default=42525)
    parser.add_argument("attack", choices=sorted(ATTACKS))
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    attack, base, nofile = ATTACKS[args.attack]
    # This client needs more descriptors than the server it floods.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    server = Server(args.bin, args.port, base + args.extra, nofile)
    try:
        figures = attack(server)
    finally:
        server.stop()
    print(json.dumps({"attack": args.attack, "serve_options": base + args.extra, **figures}))


if __name__ == "__main__":
    main()
