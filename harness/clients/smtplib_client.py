"""Sends one message with Python's smtplib, as an application would, for `mtpspec serve-test`.

usage: smtplib_client.py plain|starttls HOST PORT FROM BODY_FILE RCPT...

Written as the smtplib documentation suggests an application does: the session in a `with`
block (which sends QUIT on the way out, errors included) and the message passed as a str, the
form for which smtplib turns lone CR and LF into CRLF (a bytes message is sent unmodified).
Exits 0 when every recipient accepted the message, 1 when the server refused it (any
recipient, or the whole message), 2 on connection or protocol errors. With starttls the
server's certificate is not verified (serve-test's is self-signed): this checks the protocol.
"""
import smtplib
import ssl
import sys


def main():
    mode, host, port, sender, body_file = sys.argv[1:6]
    rcpts = sys.argv[6:]
    body = open(body_file, encoding="ascii", newline="").read()
    try:
        with smtplib.SMTP(host, int(port), local_hostname="client.example", timeout=30) as client:
            if mode == "starttls":
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                client.starttls(context=ctx)
            refused = client.sendmail(sender, rcpts, body)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError, smtplib.SMTPResponseException) as e:
        print(f"refused: {e!r}", file=sys.stderr)
        return 1
    except (OSError, smtplib.SMTPException) as e:
        print(f"error: {e!r}", file=sys.stderr)
        return 2
    if refused:
        print(f"refused for some recipients: {refused!r}", file=sys.stderr)
        return 1
    print("sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
