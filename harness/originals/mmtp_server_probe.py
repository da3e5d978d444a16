"""Evidence for two faults of the original MMTP server, over raw sockets on 127.0.0.1.

1. Framing: the server runs JSON.parse on each TCP read, so two requests in one write, or one
   request split over two writes, get "Invalid request format" instead of answers.
2. Rate-limit slots: the sixth concurrent connection from an address is refused, and the slot
   it took is never given back, so after enough refusals the address is refused for good,
   with no connection open.

    python3 mmtp_server_probe.py PORT    (prints a transcript; exit 0 when both are shown)
Every wait is bounded; every socket is closed before exit.
"""

import json
import sys
import time

import probe_io

PORT = int(sys.argv[1])
TAGS = b'{"action":"GET_TAG_CATEGORIES","data":{}}'


def connect():
    return probe_io.connect(PORT)


def read_for(s, seconds):
    return probe_io.read_for(s, seconds)


def show(label, data):
    print(f"{label}: {data.decode('utf-8', 'replace')!r}")


def framing():
    print("== framing ==")
    s = connect()
    show("welcome", read_for(s, 0.5))
    s.sendall(TAGS + b"\n" + TAGS + b"\n")
    both = read_for(s, 1.0)
    show("two requests in one write ->", both)
    s.sendall(TAGS[:10])
    time.sleep(0.3)
    s.sendall(TAGS[10:] + b"\n")
    split = read_for(s, 1.0)
    show("one request in two writes ->", split)
    s.close()
    return b"Invalid request format" in both and b"Invalid request format" in split


def leaked_slots():
    print("== rate-limit slots ==")
    held = [connect() for _ in range(5)]
    for s in held:
        read_for(s, 0.2)
    print("5 connections open")
    refused = 0
    for i in range(5):
        s = connect()
        answer = read_for(s, 0.5)
        s.close()
        if b"Rate limit exceeded" in answer:
            refused += 1
        show(f"extra connection {i + 1}", answer)
    for s in held:
        s.close()
    time.sleep(0.5)
    print("all 5 closed; no connection from this address is open")
    s = connect()
    answer = read_for(s, 0.5)
    s.close()
    show("a new connection", answer)
    return refused == 5 and b"Rate limit exceeded" in answer


ok_framing = framing()
ok_slots = leaked_slots()
print(json.dumps({"framing_broken": ok_framing, "slots_leaked": ok_slots}))
sys.exit(0 if ok_framing and ok_slots else 1)
