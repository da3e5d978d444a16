"""Mailbox observer for Maildir deliveries (used by harness/targets/postfix.sh).

    python3 maildir_mailbox.py [--received-by HOST] [--keep-lf] [--no-group] MAILDIR_ROOT

Finds every Maildir under MAILDIR_ROOT (a directory holding new/ or cur/),
reads the message files in new/ and cur/, orders them by file mtime then name
(delivery order), and prints the harness's mailbox JSON array:

    [{"id": ..., "from": ..., "to": [...], "metadata": {}, "status": "DELIVERED",
      "data": "<base64>"}]

The message is reported whole, with the header fields the delivering server put
on top: the harness judges the client's content below them (RFC 5321 section 4.4
makes the Received: field a MUST, and suite cases check it). Read from the
fields at the very top of the file that the delivering server prepended, each at
most once, and only while they form an unbroken block before the first other
field:

  * Return-Path:      (-> "from", angle brackets removed; "<>" gives "")
  * X-Original-To:    (-> "to", the recipient as given in RCPT TO)
  * Delivered-To:     (-> "to" when there is no X-Original-To)
  * Envelope-to:      (Exim's envelope_to_add; -> "to" like Delivered-To)
  * Received:         the first one only, and only when it contains
                      "by HOST" followed by a space or "(" for HOST =
                      --received-by (Postfix writes "by mx.example.test
                      (Postfix) with ESMTP id QUEUEID", Exim "by
                      mx.example.test with esmtp (Exim 4.96) ... id QUEUEID");
                      the QUEUEID after it becomes the message "id", which is
                      the id in the server's reply to the end of data
                      (Postfix: "250 2.0.0 Ok: queued as QUEUEID", Exim:
                      "250 OK id=QUEUEID").

A header field includes its continuation lines. Header fields the client sent
(even a Delivered-To further down) are left alone.

Line endings: Maildir files store every line with a bare LF (Postfix turns the
SMTP CRLF into a record boundary and writes LF on delivery). Unless --keep-lf
is given, every LF of the remaining bytes is turned back into CRLF, which gives
the bytes a client that ended its lines with CRLF sent (a bare CR inside a line
stays as it is). A client's bare LF is not recoverable: Postfix already treated
it as a line end.

Grouping: Postfix's virtual(8) writes one file per recipient. Unless
--no-group is given, files with the same queue id become one message whose
"to" lists the recipients in delivery order (not necessarily RCPT order).
Files without a recognised Received header keep their Maildir file name as id.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys

PREPENDED = {"return-path", "x-original-to", "delivered-to", "envelope-to"}
# The queue id after "by HOST": Postfix and OpenSMTPD write "... with ESMTP id QUEUEID",
# Exim "... with esmtp (Exim 4.96) (envelope-from <...>) id 1tAbCd-000123-Xy".
QUEUE_ID = re.compile(rb"\bid\s+([A-Za-z0-9][A-Za-z0-9-]*)")


def find_maildirs(root: str) -> list[str]:
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        if "new" in dirnames or "cur" in dirnames:
            found.append(dirpath)
        dirnames[:] = [d for d in dirnames if d not in ("new", "cur", "tmp")]
    return sorted(found)


def split_fields(raw: bytes):
    """Yield (name_lower, field_bytes, end_offset) for the leading header fields."""
    pos = 0
    n = len(raw)
    while pos < n:
        eol = raw.find(b"\n", pos)
        if eol < 0:
            return
        line = raw[pos:eol]
        m = re.match(rb"([!-9;-~]+)[ \t]*:", line)
        if not m:
            return
        end = eol + 1
        # continuation lines start with SP or HTAB
        while end < n and raw[end:end + 1] in (b" ", b"\t"):
            nxt = raw.find(b"\n", end)
            if nxt < 0:
                return
            end = nxt + 1
        yield m.group(1).decode("ascii").lower(), raw[pos:end], end
        pos = end


def field_value(field: bytes) -> str:
    value = field.split(b":", 1)[1]
    value = re.sub(rb"\r?\n[ \t]+", b" ", value).strip()
    return value.decode("utf-8", errors="replace")


def strip_angle(addr: str) -> str:
    addr = addr.strip()
    if addr.startswith("<") and addr.endswith(">"):
        addr = addr[1:-1]
    return addr


def parse_file(raw: bytes, received_by: str | None) -> dict:
    seen: set[str] = set()
    info = {"from": "", "x_original_to": None, "delivered_to": None, "qid": None}
    by_mark = (
        re.compile(rb"\bby\s+" + re.escape(received_by.encode()) + rb"[\s(]")
        if received_by
        else None
    )
    for name, field, end in split_fields(raw):
        if name in PREPENDED and name not in seen:
            seen.add(name)
            value = field_value(field)
            if name == "return-path":
                info["from"] = strip_angle(value)
            elif name == "x-original-to":
                info["x_original_to"] = strip_angle(value)
            else:
                info["delivered_to"] = strip_angle(value)
            continue
        mark = by_mark.search(field) if by_mark and name == "received" else None
        if mark and "received" not in seen:
            seen.add("received")
            m = QUEUE_ID.search(field, mark.end())
            if m:
                info["qid"] = m.group(1).decode("ascii")
        break
    # The fields read above stay in the message: they are part of what was delivered.
    info["body"] = raw
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root")
    ap.add_argument("--received-by", default=None)
    ap.add_argument("--keep-lf", action="store_true")
    ap.add_argument("--no-group", action="store_true")
    args = ap.parse_args()

    files = []
    if os.path.isdir(args.root):
        for md in find_maildirs(args.root):
            for sub in ("new", "cur"):
                d = os.path.join(md, sub)
                if not os.path.isdir(d):
                    continue
                for name in os.listdir(d):
                    path = os.path.join(d, name)
                    try:
                        st = os.stat(path)
                    except FileNotFoundError:  # moved or cleared meanwhile
                        continue
                    files.append((st.st_mtime_ns, name, path))
    files.sort()

    out: list[dict] = []
    by_qid: dict[str, dict] = {}
    for _, name, path in files:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            continue
        info = parse_file(raw, args.received_by)
        body = info["body"]
        if not args.keep_lf:
            body = body.replace(b"\n", b"\r\n")
        rcpt = info["x_original_to"] or info["delivered_to"]
        qid = info["qid"]
        if qid and not args.no_group and qid in by_qid:
            if rcpt and rcpt not in by_qid[qid]["to"]:
                by_qid[qid]["to"].append(rcpt)
            continue
        msg = {
            "id": qid or name.split(":", 1)[0],
            "from": info["from"],
            "to": [rcpt] if rcpt else [],
            "metadata": {},
            "status": "DELIVERED",
            "data": base64.b64encode(body).decode("ascii"),
        }
        if qid and not args.no_group:
            by_qid[qid] = msg
        out.append(msg)
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
