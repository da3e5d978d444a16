"""The socket side of the probes of the originals: a connection to 127.0.0.1 and a bounded read."""

import socket
import time


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=3)


def read_for(s, seconds, stop_after_line=False):
    """Everything the server sends within `seconds`; a reset or close ends the read and is marked
    in the result. With `stop_after_line`, a pause after a complete line ends it early."""
    s.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if stop_after_line and data.endswith(b"\r\n"):
                break
            continue
        except ConnectionResetError:
            return data + b"[connection reset]"
        if not chunk:
            return data + b"[connection closed]"
        data += chunk
    return data
