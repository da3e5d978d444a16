"""Evidence for the faults of the original Python VMTP server, over raw SMTP on 127.0.0.1.

Each probe opens its own connection and waits at most a few seconds for any reply:
  - EHLO: is VMTP advertised?  - every VMTP verb: what does it answer?
  - an empty message (DATA, then the lone dot): is it ever answered?
  - a message with one attachment: is it answered, or is the connection dropped?
  - NOOP<LF> then NOOP<CRLF>: the reply (does it echo the bare LF?)

    python3 python_server_probe.py PORT    (prints a transcript; exit 0 when every fault shows)
"""

import json
import sys

import probe_io

PORT = int(sys.argv[1])


def session():
    return probe_io.connect(PORT)


def read_for(s, seconds):
    # Short reads end at a pause after a complete reply line.
    return probe_io.read_for(s, seconds, stop_after_line=seconds < 2)


def say(s, line, wait=1.0):
    s.sendall(line)
    answer = read_for(s, wait)
    print(f"C: {line!r}\nS: {answer.decode('utf-8', 'replace')!r}")
    return answer


def greet():
    s = session()
    print(f"S: {read_for(s, 1.0)!r}")
    return s


found = {}

print("== EHLO and the VMTP verbs ==")
s = greet()
ehlo = say(s, b"EHLO probe.example\r\n")
found["vmtp_not_advertised"] = b"VMTP" not in ehlo
verbs = [b"VECMAIL FROM:<a@example.test> TO:<b@example.test,c@example.test>",
         b"METADATA key value", b"READACK", b"BATCH 1", b"STATUS abc", b"ENCRYPT START"]
found["vmtp_verbs_500"] = all(say(s, v + b"\r\n").startswith(b"500") for v in verbs)
say(s, b"QUIT\r\n")
s.close()

print("== an empty message ==")
s = greet()
for line in [b"EHLO probe.example\r\n", b"MAIL FROM:<a@example.test>\r\n",
             b"RCPT TO:<b@example.test>\r\n", b"DATA\r\n"]:
    say(s, line)
answer = say(s, b".\r\n", wait=5.0)
found["empty_message_hangs"] = answer == b""
s.close()

print("== a message with an attachment ==")
s = greet()
for line in [b"EHLO probe.example\r\n", b"MAIL FROM:<a@example.test>\r\n",
             b"RCPT TO:<b@example.test>\r\n", b"DATA\r\n"]:
    say(s, line)
message = (b"From: a@example.test\r\nTo: b@example.test\r\nSubject: att\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
           b"--b\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Disposition: attachment; filename=f.bin\r\n\r\ndata\r\n--b--\r\n.\r\n")
answer = say(s, message, wait=3.0)
found["attachment_drops_connection"] = answer.endswith(b"[connection closed]") or answer.endswith(b"[connection reset]")
s.close()

print("== NOOP<LF> then NOOP<CRLF> ==")
s = greet()
say(s, b"EHLO probe.example\r\n")
first = say(s, b"NOOP\n", wait=1.0)
joined = say(s, b"NOOP\r\n")
found["bare_lf_kept_but_echoed_in_reply"] = first == b"" and b"\n" in joined.rstrip(b"\r\n")
s.close()

print(json.dumps(found))
sys.exit(0 if all(found.values()) else 1)
