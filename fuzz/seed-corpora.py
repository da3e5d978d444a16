#!/usr/bin/env python3
"""Builds the seed corpora in fuzz/corpus/<target>/ from the scenarios.

Reads scenarios/{smtp,vmtp}/*.yaml (PyYAML) and writes, per target, files named
`scn-<sha1 prefix>` (existing `seed-*` and fuzzer-found files are left alone):

  command_line     every distinct command line the scenarios send
  server_session   each case's client side (commands and message data) as one stream
  vmtp_session     each case's client side in the target's choice encoding (see below)
  client_session   each case's server replies as a raw reply stream, under a few option sets
  reply_stream     the same reply streams
  data_round_trip  each message body the scenarios write
  scenario_loader  every scenario file, and each case alone
  mmtp_packet, mmtp_framing, hashcash_verify, tags: a few hand-made seeds (no MMTP scenarios yet)

vmtp_session, client_session, mmtp_framing, hashcash_verify and tags read their input
through `Choices` (reference-impl/proto/src/fuzzing/choices.rs): a choice among n takes one
byte (value mod n), a flag is the low bit of one byte, a byte string is a length byte then
the bytes. The encoders below mirror those layouts; if a layout changes, rerun this script.
Run from anywhere: python3 fuzz/seed-corpora.py
"""

import hashlib
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
CAP = 150  # seeds per target from the scenarios

VARS = {"sender": "alice@example.test", "rcpt": "bob@example.test", "marker": "m1"}


def subst(text):
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: VARS.get(m.group(1), "x"), str(text))


def case_items(case):
    """The client side of a case: ("cmd", line) and ("data", body) items, and the reply codes."""
    items, codes = [], []
    for line in (case.get("transcript") or "").splitlines():
        line = line.strip()
        if line.startswith("C:"):
            items.append(("cmd", subst(line[2:].strip())))
        elif line.startswith("S:"):
            codes.append(line[2:].strip().split("|")[0].split()[0])
    for step in case.get("steps") or []:
        if step == "ehlo":
            items.append(("cmd", "EHLO client.example.test"))
            codes.append("ehlo")
            continue
        if not isinstance(step, dict):
            continue
        if "send" in step:
            items.append(("cmd", subst(step["send"])))
        if "pipeline" in step:
            items.extend(("cmd", subst(line)) for line in step["pipeline"])
        write = step.get("write")
        if isinstance(write, dict):
            if "lines" in write:
                items.append(("data", "\r\n".join(subst(l) for l in write["lines"]) + "\r\n"))
            elif "text" in write and int(write.get("repeat", 1)) <= 4:
                items.append(("data", subst(write["text"]) * int(write.get("repeat", 1))))
        if "expect" in step:
            expect = step["expect"]
            if isinstance(expect, dict):
                expect = expect.get("code", expect.get("class", "250"))
            if isinstance(expect, list):
                expect = expect[0]
            codes.append(str(expect).split("|")[0][:3].replace("x", "0"))
    return items, codes


def reply_stream(codes):
    out = []
    for code in codes:
        if code == "ehlo":
            out.append(
                "250-mx.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 1000000\r\n"
                "250-CHUNKING\r\n250-VMTP VECMAIL METADATA ENCRYPT BATCH READACK STATUS\r\n"
                "250 ENHANCEDSTATUSCODES\r\n"
            )
        elif code.isdigit() and len(code) == 3:
            text = {"220": "mx.example.test ESMTP", "354": "go ahead"}.get(code, "ok")
            out.append(f"{code} {text}\r\n")
    return "".join(out).encode()


def stuffed_body(body):
    """A write of message lines ends with the lone '.'; the target adds its own."""
    lines = body.split("\r\n")
    while lines and lines[-1] in ("", "."):
        lines.pop()
    return ("\r\n".join(lines) + "\r\n").encode()[:64] if lines else b""


def choices_bytes(text, limit):
    data = text.encode()[:limit]
    return bytes([len(data)]) + data


def vmtp_seed(items):
    """vmtp_session: a flag, then per step a command in the grammar's free-text branch (16),
    its text and a non-lowercasing byte; after DATA the message data as a byte string, and
    the store's answer (0: stored)."""
    out = bytearray([0])
    in_data = False
    for kind, text in items:
        if kind == "data" and in_data:
            out += choices_bytes(stuffed_body(text).decode("utf-8", "replace"), 64) + b"\0"
            in_data = False
            continue
        line = text.replace("\r", " ").replace("\n", " ")
        out += bytes([16]) + choices_bytes(line, 40) + b"\xff"
        in_data = line.upper() == "DATA"
    return bytes(out)


# client_session: options byte, handshake flag, one message (body from the pool, no
# metadata, a reverse-path, one recipient, no READACK), raw mode, no cuts, the stream.
CLIENT_OPTIONS = [0b100011, 0b000001, 0b000000, 0b101111]


def client_seed(options, stream):
    message = bytes([0, 1, 0, 0, 1, 0, 1, 1, 0])
    return bytes([options, 1]) + message + bytes([0, 0]) + stream


def write(target, seeds):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for data in seeds:
        if written >= CAP or not data:
            continue
        name = "scn-" + hashlib.sha1(data).hexdigest()[:16]
        path = directory / name
        if not path.exists():
            path.write_bytes(data)
        written += 1
    print(f"{target}: {written} seeds")


def unique(seq):
    return list(dict.fromkeys(seq))


def scenario_seeds():
    files = sorted((ROOT / "scenarios").glob("*/*.yaml"))
    cases = []
    loader = []
    for path in files:
        text = path.read_text()
        if len(text) < 20000:
            loader.append(text.encode())
        for case in yaml.safe_load(text) or []:
            if isinstance(case, dict):
                cases.append(case)
                loader.append(yaml.safe_dump([case], sort_keys=False).encode())
    commands, sessions, vmtp, clients, replies, bodies = [], [], [], [], [], []
    for i, case in enumerate(cases):
        items, codes = case_items(case)
        commands += [t.encode() for k, t in items if k == "cmd"]
        stream = b"".join(
            (t.encode() + b"\r\n") if k == "cmd" else t.encode() for k, t in items
        )
        sessions.append(bytes([0, 64, 128, 192]) + stream)
        if case.get("protocol") == "vmtp" or "vmtp" in case.get("id", ""):
            vmtp.insert(0, vmtp_seed(items))
        else:
            vmtp.append(vmtp_seed(items))
        replies.append(reply_stream(codes))
        clients.append(client_seed(CLIENT_OPTIONS[i % len(CLIENT_OPTIONS)], reply_stream(codes)))
        bodies += [bytes([i % 256]) + t.encode() for k, t in items if k == "data"]
    write("command_line", unique(commands))
    write("server_session", unique(sessions))
    write("vmtp_session", unique(vmtp))
    write("client_session", unique(clients))
    write("reply_stream", unique(replies))
    write("data_round_trip", unique(bodies))
    write("scenario_loader", unique(loader))


VECTOR_TOKEN = (
    "1:4:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000::28383:"
)
PACKET = (
    '{"meta":{"type":"SEND","messageId":"abc123def456","timestamp":1625849600000,'
    '"hashcashToken":{"token":"' + VECTOR_TOKEN + '","counter":28383},"encrypted":false,'
    '"signed":false,"tags":{"priority":["high"],"category":["work"],"custom":["x"]}},'
    '"sender":"(alice)%(example.com)","recipient":"(bob)%(example.com)",'
    '"content":{"subject":"Hello","body":"Hello, this is a test message."},'
    '"verification":{"messageHash":'
    '"3a9666079b04bb05ba63fecef2cf7dbb3ffdb658b1c73f8d9bc481e96e4e3235"}}'
)
REQUESTS = [
    '{"action":"SEND","data":{"packet":' + PACKET + "}}",
    '{"action":"RECEIVE","data":{"email":"(bob)%(example.com)"}}',
    '{"action":"RECEIVE_FILTERED","data":{"email":"(bob)%(example.com)",'
    '"tagFilters":{"priority":["high","low"],"status":["urgent"]}}}',
    '{"action":"CHECK","data":{"email":"(bob)%(example.com)","tagFilters":{}}}',
    '{"action":"REGISTER_KEY","data":{"email":"(bob)%(example.com)","publicKey":"KEY"}}',
    '{"action":"REQUEST_PUBLIC_KEY","data":{"email":"(bob)%(example.com)"}}',
    '{"action":"GET_TAG_CATEGORIES"}',
]


def mmtp_seeds():
    packets = [PACKET, PACKET.replace('"SEND"', '"REPLY"'),
               PACKET.replace('{"subject":"Hello","body":"Hello, this is a test message."}',
                              '{"encrypted":"-----BEGIN PGP MESSAGE-----"}'),
               PACKET.replace('"messageHash"', '"signature":"SIG","messageHash"'),
               PACKET.replace('"timestamp":1625849600000', '"timestamp":1.5e3')]
    write("mmtp_packet", [p.encode() for p in packets + REQUESTS])
    stream = "\n".join(REQUESTS[1:]).encode()
    framing = [bytes([0, 247, 7, 0]) + stream,
               bytes([0, 40, 2, 3, 10, 100, 200]) + stream,
               bytes([0, 247, 7, 0]) + b'{"a":"}\\"{"}[1,[2]]not json\n{}',
               bytes([1, 100, 7, 0]) + bytes(range(1, 40))]
    write("mmtp_framing", framing)
    # policy 3, ages, now, timestamp, sender, recipient, mode, then the mode's bytes.
    head = bytes([3, 4, 2, 0, 0, 0, 1])
    hashcash = [head + bytes([0]) + choices_bytes(VECTOR_TOKEN, 120) + bytes([0xDF, 0x6E, 0]),
                head + bytes([1, 4]) + bytes([0xDF, 0x6E]),
                head + bytes([2, 2, 0, 1])]
    write("hashcash_verify", hashcash)
    write("tags", [bytes(range(i, i + 48)) for i in (0, 7, 50, 101)] + [b"\x03" * 40])


if __name__ == "__main__":
    scenario_seeds()
    mmtp_seeds()
