#!/usr/bin/env python3
"""A tiny scripted next-hop SMTP server for checking a target's relay mode, and its helpers.

Python 3.11 standard library only. Used by check.sh (and by CI); not the harness's own next hop.

  next_hop.py serve --port-file FILE --log FILE [--port N] [--tls-cert PEM --tls-key PEM]
                    [--rule ADDR=CODE[,CODE...]]...
      Listens on 127.0.0.1:N (default: a free port, written to FILE once listening) and logs
      every event as one JSON line to --log: connect, each line received (raw, base64), each
      reply, STARTTLS, each RCPT with its answer, each message with its raw DATA octets (as on
      the wire: dot-stuffed, up to and including the final "." line). EHLO offers PIPELINING,
      8BITMIME, SMTPUTF8, SIZE 20971520 and, with --tls-cert/--tls-key, STARTTLS (any
      certificate, e.g. a self-signed one). A --rule gives the RCPT answers for ADDR (case
      folded): the n-th RCPT of ADDR, counted over all connections, gets CODE number n, the
      last one repeating (451,250: a 451 first, then 250). Without a rule: 250. Runs until
      TERM or INT.

  next_hop.py submit --port N --from ADDR --to ADDR [--subject S]
      Sends one message from 127.0.0.1 to 127.0.0.1:N with smtplib, printing every reply.
      Exit 0 when the message was accepted, 3 when a RCPT was refused, 1 on any other failure.

  next_hop.py wait --log FILE --rcpt ADDR [--mail-from ADDR] [--timeout SECS] [--data-lines N]
      Waits (bounded) until --log holds a message accepted for ADDR (and from --mail-from, "" for
      the null reverse-path), then prints its envelope, TLS state and the first N lines of its
      DATA octets, escaped (CR as <CR>, LF as <LF>, other controls and 8-bit octets as <XX>).
      Exit 0 when found, 1 on timeout.

  next_hop.py attempts --log FILE --rcpt ADDR
      Prints every RCPT of ADDR with its time, its answer and the time since the previous one.

  next_hop.py bounces --log FILE --to ADDR [--after-rcpt ADDR]
      Prints each message with the null reverse-path accepted for ADDR: its time and its
      Subject:, Content-Type:, Action: and Status: lines. With --after-rcpt, exits 0 only when
      the last of them came after the last RCPT of that address (the target gave up on it).

  next_hop.py summary --log FILE
      Prints the number of connections, how many used STARTTLS (and which TLS versions), the
      EHLO/HELO names, and the messages accepted.
"""

import argparse
import asyncio
import base64
import json
import os
import signal
import smtplib
import ssl
import sys
import time

HOSTNAME = "nexthop.relay.test"
REPLY_TEXT = {
    2: "2.1.5 Ok (next_hop.py)",
    4: "4.3.0 Try again later (next_hop.py)",
    5: "5.1.1 No such user here (next_hop.py)",
}


def escape(data: bytes) -> str:
    """CR as <CR>, LF as <LF>, other controls and octets >= 0x7f as <XX>."""
    out = []
    for b in data:
        if b == 0x0D:
            out.append("<CR>")
        elif b == 0x0A:
            out.append("<LF>")
        elif b < 0x20 or b >= 0x7F:
            out.append("<%02X>" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def split_lines_keep_ends(data: bytes):
    """Lines ending at each LF, the line end kept."""
    lines, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            lines.append(data[start:])
            break
        lines.append(data[start : end + 1])
        start = end + 1
    return lines


def path_of(arg: str) -> str:
    """The address inside <...> of a MAIL FROM:/RCPT TO: argument, lower-cased."""
    lt, gt = arg.find("<"), arg.find(">")
    if lt >= 0 and gt > lt:
        return arg[lt + 1 : gt].lower()
    return arg.split(":", 1)[-1].strip().split(" ")[0].lower()


class Server:
    def __init__(self, args):
        self.log = open(args.log, "a", buffering=1, encoding="utf-8")
        self.rules = {}
        for rule in args.rule or []:
            addr, _, codes = rule.partition("=")
            self.rules[addr.lower()] = [int(c) for c in codes.split(",")]
        self.seen = {}
        self.conns = 0
        self.tls = None
        if args.tls_cert:
            self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.load_cert_chain(args.tls_cert, args.tls_key)

    def event(self, conn, ev, **fields):
        fields.update({"t": round(time.time(), 3), "conn": conn, "ev": ev})
        self.log.write(json.dumps(fields, sort_keys=True) + "\n")

    def rcpt_code(self, addr):
        n = self.seen.get(addr, 0)
        self.seen[addr] = n + 1
        codes = self.rules.get(addr, [250])
        return codes[min(n, len(codes) - 1)]

    async def session(self, reader, writer):
        self.conns += 1
        conn = self.conns
        tls = False
        mail, rcpts = None, []

        async def reply(text):
            self.event(conn, "send", line=text)
            writer.write(text.encode() + b"\r\n")
            await writer.drain()

        self.event(conn, "connect", peer=str(writer.get_extra_info("peername")))
        try:
            await reply("220 %s ESMTP next_hop.py" % HOSTNAME)
            while True:
                raw = await asyncio.wait_for(reader.readline(), 300)
                if not raw:
                    break
                self.event(conn, "recv", raw=base64.b64encode(raw).decode(), text=escape(raw))
                line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    mail, rcpts = None, []
                    if verb == "HELO":
                        await reply("250 %s" % HOSTNAME)
                        continue
                    ext = ["PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 20971520"]
                    if self.tls is not None and not tls:
                        ext.append("STARTTLS")
                    lines = [HOSTNAME] + ext
                    for i, text in enumerate(lines):
                        sep = " " if i == len(lines) - 1 else "-"
                        await reply("250%s%s" % (sep, text))
                elif verb == "STARTTLS" and self.tls is not None and not tls:
                    await reply("220 2.0.0 Ready to start TLS")
                    await writer.start_tls(self.tls)
                    tls = True
                    mail, rcpts = None, []
                    obj = writer.get_extra_info("ssl_object")
                    self.event(conn, "tls", version=obj.version() if obj else None)
                elif verb == "MAIL" and arg.upper().startswith("FROM:"):
                    mail, rcpts = path_of(arg), []
                    self.event(conn, "mail", addr=mail, arg=arg)
                    await reply("250 2.1.0 Ok")
                elif verb == "RCPT" and arg.upper().startswith("TO:"):
                    if mail is None:
                        await reply("503 5.5.1 MAIL first")
                        continue
                    addr = path_of(arg)
                    code = self.rcpt_code(addr)
                    self.event(conn, "rcpt", addr=addr, code=code, mail=mail, tls=tls)
                    if code < 300:
                        rcpts.append(addr)
                    await reply("%d %s" % (code, REPLY_TEXT[code // 100]))
                elif verb == "DATA":
                    if mail is None or not rcpts:
                        await reply("554 5.5.1 No valid recipients")
                        continue
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    data = bytearray()
                    while True:
                        chunk = await asyncio.wait_for(reader.readline(), 300)
                        if not chunk:
                            raise ConnectionError("EOF in DATA")
                        data += chunk
                        if chunk == b".\r\n" and (len(data) == 3 or data[-5:-3] == b"\r\n"):
                            break
                    self.event(
                        conn,
                        "message",
                        mail=mail,
                        rcpts=rcpts,
                        tls=tls,
                        data=base64.b64encode(bytes(data)).decode(),
                    )
                    await reply("250 2.0.0 Ok: queued as %d-%d" % (conn, len(data)))
                    mail, rcpts = None, []
                elif verb == "RSET":
                    mail, rcpts = None, []
                    await reply("250 2.0.0 Ok")
                elif verb == "NOOP":
                    await reply("250 2.0.0 Ok")
                elif verb == "QUIT":
                    await reply("221 2.0.0 Bye")
                    break
                else:
                    await reply("502 5.5.2 Command not implemented")
        except (ConnectionError, asyncio.TimeoutError, ssl.SSLError, OSError) as exc:
            self.event(conn, "error", error=repr(exc))
        finally:
            self.event(conn, "close")
            writer.close()


async def serve(args):
    server_obj = Server(args)
    server = await asyncio.start_server(server_obj.session, "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    return 0


def read_events(log):
    try:
        with open(log, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.endswith("\n")]
    except FileNotFoundError:
        return []


def cmd_submit(args):
    msg = (
        "From: <{frm}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
        "Message-ID: <{stamp}.check@client.relay.test>\r\nDate: {date}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Relay check body, line one.\r\n"
        ".A line that starts with a dot (stuffed on the wire).\r\n"
        "Last line.\r\n"
    ).format(
        frm=args.mail_from,
        to=args.to,
        subject=args.subject,
        stamp="%d.%d" % (time.time() * 1000, os.getpid()),
        date=time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
    )
    try:
        with smtplib.SMTP(timeout=60, source_address=("127.0.0.1", 0)) as s:
            code, text = s.connect("127.0.0.1", args.port)
            print("  greeting: %d %s" % (code, text.decode(errors="replace").replace("\n", " | ")))
            code, text = s.ehlo("client.relay.test")
            print("  EHLO: %d" % code)
            code, text = s.mail(args.mail_from)
            print("  MAIL FROM:<%s>: %d %s" % (args.mail_from, code, text.decode(errors="replace")))
            if code != 250:
                return 1
            code, text = s.rcpt(args.to)
            print("  RCPT TO:<%s>: %d %s" % (args.to, code, text.decode(errors="replace")))
            if code not in (250, 251):
                s.rset()
                return 3
            code, text = s.data(msg.encode())
            print("  DATA: %d %s" % (code, text.decode(errors="replace")))
            return 0 if code == 250 else 1
    except (OSError, smtplib.SMTPException) as exc:
        print("  submission failed: %r" % exc)
        return 1


def cmd_wait(args):
    rcpt = args.rcpt.lower()
    deadline = time.monotonic() + args.timeout
    while True:
        for ev in read_events(args.log):
            if ev["ev"] != "message" or rcpt not in ev["rcpts"]:
                continue
            if args.mail_from is not None and ev["mail"] != args.mail_from.lower():
                continue
            data = base64.b64decode(ev["data"])
            print("  arrived at %s, connection %d, TLS %s, MAIL FROM:<%s>, RCPT TO:%s, %d octets"
                  % (time.strftime("%H:%M:%S", time.localtime(ev["t"])), ev["conn"],
                     "yes" if ev["tls"] else "no", ev["mail"], ",".join("<%s>" % r for r in ev["rcpts"]),
                     len(data)))
            lines = split_lines_keep_ends(data)
            for line in lines[: args.data_lines]:
                print("    | " + escape(line))
            if len(lines) > args.data_lines:
                print("    | ... (%d more lines)" % (len(lines) - args.data_lines))
            return 0
        if time.monotonic() >= deadline:
            return 1
        time.sleep(0.2)


def cmd_attempts(args):
    rcpt, prev = args.rcpt.lower(), None
    for ev in read_events(args.log):
        if ev["ev"] == "rcpt" and ev["addr"] == rcpt:
            since = "" if prev is None else ", %.1f s after the previous one" % (ev["t"] - prev)
            print("  RCPT TO:<%s> at %s (connection %d, TLS %s): answered %d%s"
                  % (rcpt, time.strftime("%H:%M:%S", time.localtime(ev["t"])), ev["conn"],
                     "yes" if ev["tls"] else "no", ev["code"], since))
            prev = ev["t"]
    return 0


def cmd_bounces(args):
    events = read_events(args.log)
    to = args.to.lower()
    bounces = [ev for ev in events if ev["ev"] == "message" and ev["mail"] == "" and to in ev["rcpts"]]
    for ev in bounces:
        data = base64.b64decode(ev["data"])
        keep = []
        for line in split_lines_keep_ends(data):
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if text.lower().startswith(("subject:", "content-type:", "action:", "status:")):
                keep.append(text)
        print("  bounce at %s: %s" % (time.strftime("%H:%M:%S", time.localtime(ev["t"])), " | ".join(keep)))
    if not args.after_rcpt:
        return 0
    rcpt = args.after_rcpt.lower()
    tries = [ev["t"] for ev in events if ev["ev"] == "rcpt" and ev["addr"] == rcpt]
    return 0 if bounces and (not tries or bounces[-1]["t"] > tries[-1]) else 1


def cmd_summary(args):
    events = read_events(args.log)
    conns = sum(1 for ev in events if ev["ev"] == "connect")
    tls = {}
    for ev in events:
        if ev["ev"] == "tls":
            tls[ev["version"]] = tls.get(ev["version"], 0) + 1
    greetings = set()
    for ev in events:
        if ev["ev"] == "recv" and ev["text"][:5].upper() in ("EHLO ", "HELO "):
            greetings.add(ev["text"])
    msgs = [ev for ev in events if ev["ev"] == "message"]
    print("  %d connections, %d with STARTTLS %s; greetings: %s; %d messages (%d over TLS)"
          % (conns, sum(tls.values()), tls or "", ", ".join(sorted(greetings)) or "none",
             len(msgs), sum(1 for ev in msgs if ev["tls"])))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--tls-cert")
    s.add_argument("--tls-key")
    s.add_argument("--rule", action="append")
    s = sub.add_parser("submit")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--from", dest="mail_from", required=True)
    s.add_argument("--to", required=True)
    s.add_argument("--subject", default="relay check")
    s = sub.add_parser("wait")
    s.add_argument("--log", required=True)
    s.add_argument("--rcpt", required=True)
    s.add_argument("--mail-from")
    s.add_argument("--timeout", type=float, default=30)
    s.add_argument("--data-lines", type=int, default=1000)
    s = sub.add_parser("attempts")
    s.add_argument("--log", required=True)
    s.add_argument("--rcpt", required=True)
    s = sub.add_parser("bounces")
    s.add_argument("--log", required=True)
    s.add_argument("--to", required=True)
    s.add_argument("--after-rcpt")
    s = sub.add_parser("summary")
    s.add_argument("--log", required=True)
    args = p.parse_args()
    if args.cmd == "serve":
        return asyncio.run(serve(args))
    return {"submit": cmd_submit, "wait": cmd_wait, "attempts": cmd_attempts, "summary": cmd_summary,
            "bounces": cmd_bounces}[
        args.cmd
    ](args)


if __name__ == "__main__":
    sys.exit(main())
