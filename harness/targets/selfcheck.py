"""Self-check of a harness/targets/<name>.sh script against its real server.

    python3 harness/targets/selfcheck.py NAME [--port PORT] [--state-dir DIR] [--keep]

Runs `NAME.sh install`, `start PORT STATE_DIR`, sends two messages with
smtplib (alice@example.org -> bob@example.test + carol@example.test with an
8-bit body and a dot-stuffed line; a null reverse-path message to bob), then
checks that `mailbox` returns both with the exact envelope, bytes (header fields
the server put above them allowed) and the id of the "queued as" reply; tries a
relay to another domain (reported, not judged: aiosmtpd is an open sink); checks `clear` empties the mailbox and that `stop`
ends the PID and closes the port. Prints "N passed, M failed" and exits 1 on
any failure. Talks to 127.0.0.1 only. A temporary STATE_DIR (the default) is
removed after a clean run. For a script whose `needs-netns` exits 0 (haraka,
qpsmtpd), everything after `install` runs again inside a new network namespace
with only lo up (`unshare -n`, root), where `install` is a no-op.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

BODY_A = (
    b"From: alice@example.org\r\n"
    b"To: bob@example.test, carol@example.test\r\n"
    b"Subject: selfcheck A\r\n"
    b"\r\n"
    b"line one\r\n"
    b".a line that starts with a dot\r\n"
    b"\xc3\xa9t\xc3\xa9 8-bit\r\n"
)
BODY_B = b"Subject: selfcheck B (null reverse-path)\r\n\r\nbody\r\n"

passed = 0
failed = 0


def check(ok: bool, what: str, detail: str = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s %s" % (what, detail))


def run(script: str, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    cmd = [script, *args]
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, capture_output=capture, text=True, timeout=300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def queued_id(reply: bytes) -> str | None:
    # Postfix, aiosmtpd's handler, the reference: "queued as ID"; Exim: "OK id=ID";
    # OpenSMTPD: "250 2.0.0 ID Message accepted for delivery"; Haraka: "Message Queued (ID)";
    # qpsmtpd's spool plugin: "Queued! ID".
    m = re.search(
        rb"queued as (\S+)|\bid=(\S+)|^2\.0\.0 (\S+) Message accepted"
        rb"|^Message Queued \((\S+)\)|^Queued! (\S+)",
        reply,
    )
    return next(g for g in m.groups() if g).decode() if m else None


FIELD_LINE = re.compile(rb"[!-9;-~]+:[^\r\n]*\r\n|[ \t][^\r\n]*\r\n")


def same_content(got: bytes, sent: bytes) -> bool:
    """The bytes sent, exactly, with at most whole header fields that the server added above
    them (a Received: field, for example), as the suite's content checks allow."""
    if not got.endswith(sent):
        return False
    added = got[: len(got) - len(sent)]
    pos = 0
    while pos < len(added):
        m = FIELD_LINE.match(added, pos)
        if not m:
            return False
        pos = m.end()
    return True


def needs_netns(script: str) -> bool:
    """True if the script says its server runs only in a network namespace of its own."""
    r = subprocess.run([script, "needs-netns"], capture_output=True, timeout=30)
    return r.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--state-dir")
    ap.add_argument("--keep", action="store_true", help="leave the server running")
    args = ap.parse_args()
    script = os.path.join(HERE, args.name + ".sh")
    port = args.port or free_port()

    check(run(script, "install").returncode == 0, "install")
    if failed == 0 and os.environ.get("MTPSPEC_NETNS") != "1" and needs_netns(script):
        # The server may run only in a network namespace of its own: run the rest of this check
        # in a new one with lo up, as run-suite.sh does (lib.sh targets_netns_exec).
        print("re-running inside a new network namespace (unshare -n)", flush=True)
        sys.stdout.flush()
        os.execvp("unshare", ["unshare", "--net", "--", "bash", "-c",
                              'ip link set dev lo up || exit 1; export MTPSPEC_NETNS=1; exec "$@"',
                              "mtpspec-netns", sys.executable, os.path.abspath(__file__),
                              *sys.argv[1:]])
    state = args.state_dir or tempfile.mkdtemp(prefix="mtpspec-%s-" % args.name)
    r = run(script, "start", str(port), state)
    check(r.returncode == 0, "start")
    if r.returncode != 0:
        print("%d passed, %d failed" % (passed, failed))
        return 1
    pid = int(open(os.path.join(state, "pid")).read())
    check(pid_alive(pid) and port_open(port), "PID %d alive, port %d open" % (pid, port))
    run(script, "clear", state)

    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    code, ehlo = s.ehlo("client.example.org")
    print("EHLO: %d %r" % (code, ehlo))
    check(code == 250, "EHLO 250")
    opts = ["BODY=8BITMIME"] if s.has_extn("8bitmime") else []
    check(s.mail("alice@example.org", opts)[0] == 250, "MAIL")
    check(s.rcpt("bob@example.test")[0] == 250, "RCPT bob")
    check(s.rcpt("carol@example.test")[0] == 250, "RCPT carol")
    code, reply = s.data(BODY_A)
    print("DATA A: %d %r" % (code, reply))
    check(code == 250, "DATA A 250")
    id_a = queued_id(reply)
    check(s.mail("")[0] == 250, "MAIL FROM:<>")
    check(s.rcpt("bob@example.test")[0] == 250, "RCPT bob (B)")
    code, reply = s.data(BODY_B)
    print("DATA B: %d %r" % (code, reply))
    check(code == 250, "DATA B 250")
    id_b = queued_id(reply)
    s.rset()
    s.mail("alice@example.org")
    code, reply = s.rcpt("someone@elsewhere.example")
    print("relay attempt RCPT someone@elsewhere.example: %d %r (informational)" % (code, reply))
    s.quit()

    r = run(script, "mailbox", state, capture=True)
    check(r.returncode == 0, "mailbox exit 0", r.stderr)
    box = json.loads(r.stdout)
    print(json.dumps(box, indent=1))
    check(len(box) == 2, "two messages delivered", "got %d" % len(box))
    if len(box) == 2:
        a, b = box
        keys = {"id", "from", "to", "metadata", "status", "data"}
        check(set(a) == keys and set(b) == keys, "schema keys")
        check(a["from"] == "alice@example.org", "A from", a["from"])
        check(sorted(a["to"]) == ["bob@example.test", "carol@example.test"], "A to", str(a["to"]))
        check(same_content(base64.b64decode(a["data"]), BODY_A), "A exact bytes",
              repr(base64.b64decode(a["data"])))
        check(a["id"] == id_a, "A id == queued-as id", "%s vs %s" % (a["id"], id_a))
        check(b["from"] == "", "B null reverse-path", b["from"])
        check(b["to"] == ["bob@example.test"], "B to", str(b["to"]))
        check(same_content(base64.b64decode(b["data"]), BODY_B), "B exact bytes",
              repr(base64.b64decode(b["data"])))
        check(b["id"] == id_b, "B id == queued-as id", "%s vs %s" % (b["id"], id_b))
        check(a["status"] == b["status"] == "DELIVERED" and a["metadata"] == {}, "status, metadata")

    check(run(script, "clear", state).returncode == 0, "clear")
    r = run(script, "mailbox", state, capture=True)
    check(json.loads(r.stdout) == [], "mailbox empty after clear", r.stdout)

    if args.keep:
        print("left running: PID %d on 127.0.0.1:%d, state %s" % (pid, port, state))
    else:
        t0 = time.monotonic()
        check(run(script, "stop", state).returncode == 0, "stop")
        print("stop took %.2f s" % (time.monotonic() - t0))
        check(not pid_alive(pid), "PID %d gone" % pid)
        check(not port_open(port), "port %d closed" % port)
        check(not os.path.exists(os.path.join(state, "pid")), "pid file removed")
        if not args.state_dir and not failed:
            shutil.rmtree(state, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
