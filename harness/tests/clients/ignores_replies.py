"""A deliberately broken SMTP client for serve-test's own tests: it reads each reply to its end
and then ignores the code, sending EHLO, MAIL, RCPT, DATA, the message and QUIT whatever the
server said (a 421 or a 550 included), and exits 0. serve-test must judge it FAIL.

usage: ignores_replies.py MODE HOST PORT FROM BODY_FILE RCPT...
"""
import socket
import sys


def read_reply(f):
    """Reads one (possibly multi-line) reply; None once the server closed."""
    while True:
        line = f.readline()
        if not line:
            return None
        if len(line) < 4 or line[3:4] != b"-":
            return line


def main():
    _mode, host, port, sender, body_file = sys.argv[1:6]
    rcpts = sys.argv[6:]
    body = open(body_file, "rb").read().replace(b"\n", b"\r\n")
    sock = socket.create_connection((host, int(port)), timeout=10)
    f = sock.makefile("rb")
    read_reply(f)
    commands = [b"EHLO client.example", b"MAIL FROM:<" + sender.encode() + b">"]
    commands += [b"RCPT TO:<" + r.encode() + b">" for r in rcpts]
    commands += [b"DATA", body + b".", b"QUIT"]
    try:
        for command in commands:
            sock.sendall(command + b"\r\n")
            if read_reply(f) is None:
                break
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
