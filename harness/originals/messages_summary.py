"""Prints a gateway's message listing one message a line, leaving out the bulky content.

    curl -s URL/messages | python3 messages_summary.py

Reads the reference's `GET /messages` answer ({"messages": [...]}) or one message
(`GET /messages/{id}`, which has the text: an attachment shows as `mime_attachment`), or the
original Worker's listing (a JSON array of the stored submissions).
"""

import json
import sys

raw = sys.stdin.read()
try:
    doc = json.loads(raw)
except ValueError:
    print(f"not JSON: {raw[:200]!r}")
    sys.exit(1)
if isinstance(doc, list):
    messages = doc
elif "messages" in doc:
    messages = doc["messages"]
else:  # one message (GET /messages/{id})
    messages = [doc]
print(f"{len(messages)} message(s)")
keep = ["id", "from", "sender", "to", "recipients", "subject", "protocol", "status", "metadata"]
for m in messages:
    line = {k: m[k] for k in keep if k in m}
    if m.get("attachments"):
        line["attachments"] = [a.get("filename") for a in m["attachments"]]
    text = m.get("text") or ""
    if "filename=" in text:
        line["mime_attachment"] = True
    print(json.dumps(line, ensure_ascii=False))
