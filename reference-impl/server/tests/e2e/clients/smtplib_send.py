"""Sends one message to the reference server with Python's smtplib.

usage: smtplib_send.py plain|starttls|tls|submission PORT FROM RCPT BODY_FILE
The server's certificate is self-signed, so verification is off: this checks the protocol.
"""
import smtplib
import ssl
import sys

mode, port, sender, rcpt, body_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
body = open(body_file, "rb").read()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

if mode == "tls":
    client = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=10)
else:
    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
client.ehlo("client.example")
if mode in ("starttls", "submission"):
    client.starttls(context=ctx)
    client.ehlo("client.example")
if mode == "submission":
    client.login("alice", "secret")
refused = client.sendmail(sender, [rcpt], body)
client.quit()
if refused:
    sys.exit(f"refused: {refused}")
