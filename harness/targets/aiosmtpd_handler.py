"""aiosmtpd handler for the mtpspec harness: one durable JSON file per message.

Used by harness/targets/aiosmtpd.sh as

    python -m aiosmtpd -n -u -l 127.0.0.1:PORT -c aiosmtpd_handler.SpoolHandler MAILDIR

(with this directory on PYTHONPATH). Each accepted message is written to
MAILDIR/<seq:08d>.json as

    {"seq": 1, "id": "...", "mail_from": "a@b", "rcpt_tos": ["c@d"],
     "mail_options": [...], "rcpt_options": [[...], ...],
     "received_at": 1700000000.123, "data": "<base64 of the raw bytes>"}

The file is written to a hidden temporary name, fsync'd, renamed into place and
the directory fsync'd; only then is "250 2.0.0 Ok: queued as <id>" returned, so
a 250 means the message is on disk. If the write fails the client gets a 451.

The raw bytes are `envelope.original_content`: what aiosmtpd 1.4 collected
between DATA and the terminating CRLF.CRLF, with dot-stuffing removed and every
line ending kept exactly as received (aiosmtpd splits only on CRLF, so a bare
LF or bare CR stays inside its line). The final CRLF before the dot is part of
the content. aiosmtpd's CLI never sets decode_data, so it is False: 8BITMIME is
advertised and `envelope.content` is the same bytes object; with decode_data
True the content would be a str and `original_content` would still be bytes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import time
import uuid

_SEQ_FILE = re.compile(r"^(\d{8})\.json$")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolHandler:
    """Stores every message as one JSON file, atomically, before replying 250."""

    def __init__(self, maildir: str) -> None:
        self.maildir = os.path.abspath(maildir)
        os.makedirs(self.maildir, exist_ok=True)
        self._lock = threading.Lock()
        self._next_seq = self._scan_next_seq()

    @classmethod
    def from_cli(cls, parser, *args):  # noqa: ANN001 - aiosmtpd's signature
        if len(args) != 1:
            parser.error("SpoolHandler takes exactly one argument: the mail directory")
        return cls(args[0])

    def _scan_next_seq(self) -> int:
        highest = 0
        for name in os.listdir(self.maildir):
            m = _SEQ_FILE.match(name)
            if m:
                highest = max(highest, int(m.group(1)))
        return highest + 1

    def _take_seq(self) -> int:
        with self._lock:
            # `clear` may have emptied the directory while we run: numbers keep
            # growing anyway, which keeps ordering by seq equal to arrival order.
            seq = max(self._next_seq, self._scan_next_seq())
            self._next_seq = seq + 1
            return seq

    def _write(self, record: dict) -> None:
        final = os.path.join(self.maildir, "%08d.json" % record["seq"])
        tmp = os.path.join(self.maildir, ".tmp-%08d-%d" % (record["seq"], os.getpid()))
        payload = json.dumps(record, sort_keys=True).encode("ascii")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
        _fsync_dir(self.maildir)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content
        if isinstance(raw, str):  # only when decode_data=True and no original_content
            raw = raw.encode("utf-8", errors="surrogateescape")
        mail_from = envelope.mail_from or ""
        if mail_from == "<>":
            mail_from = ""
        seq = self._take_seq()
        msg_id = "%08d-%s" % (seq, uuid.uuid4().hex[:12])
        record = {
            "seq": seq,
            "id": msg_id,
            "mail_from": mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options or []),
            "rcpt_options": [list(o) for o in (envelope.rcpt_options or [])],
            "received_at": time.time(),
            "data": base64.b64encode(bytes(raw)).decode("ascii"),
        }
        try:
            self._write(record)
        except OSError as exc:
            print("aiosmtpd_handler: cannot store message: %s" % exc, file=sys.stderr)
            return "451 4.3.0 Error: cannot store message"
        return "250 2.0.0 Ok: queued as %s" % msg_id


def dump_mailbox(maildir: str) -> str:
    """The harness's mailbox JSON for the files in maildir, ordered by seq."""
    out = []
    if os.path.isdir(maildir):
        names = sorted(n for n in os.listdir(maildir) if _SEQ_FILE.match(n))
        for name in names:
            with open(os.path.join(maildir, name), "rb") as f:
                rec = json.loads(f.read())
            out.append(
                {
                    "id": rec["id"],
                    "from": rec["mail_from"],
                    "to": rec["rcpt_tos"],
                    "metadata": {},
                    "status": "DELIVERED",
                    "data": rec["data"],
                }
            )
    return json.dumps(out)


if __name__ == "__main__":
    # `python aiosmtpd_handler.py mailbox MAILDIR`: print the mailbox JSON.
    if len(sys.argv) == 3 and sys.argv[1] == "mailbox":
        sys.stdout.write(dump_mailbox(sys.argv[2]) + "\n")
    else:
        sys.exit("usage: aiosmtpd_handler.py mailbox MAILDIR")
