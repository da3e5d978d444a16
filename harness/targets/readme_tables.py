#!/usr/bin/env python3
"""Writes the per-server table of FAIL verdicts into reports/README.md.

Every FAIL of every committed report (reports/NAME/report.json) is listed with the MUST-level
RFC sentence it breaks (the cited requirement's "RFC text" in the report, from SPEC.md), what
the server did (the failure's observed part) and the reason its baseline gives after a review of
the transcript. The table replaces what stands between the two marker lines in reports/README.md.

usage: python3 harness/targets/fail_table.py NAME...   (the report names, in table order)
Exit 0 when written; 1 when a FAIL cites no MUST requirement with an RFC sentence (a verdict
that must not exist), or a marker is missing.
"""
import json
import os
import sys

START = "<!-- fail-table:start (harness/targets/fail_table.py writes this part) -->"
END = "<!-- fail-table:end -->"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def cell(text, limit=400):
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rows(name):
    path = os.path.join(ROOT, "reports", name, "report.json")
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    requirements = report.get("requirements", {})
    problems = []
    out = []
    for case in report["cases"]:
        if case["verdict"] != "FAIL":
            continue
        musts = [
            (rid, requirements[rid])
            for rid in case["spec"]
            if rid in requirements and requirements[rid]["level"] == "MUST"
        ]
        quoted = [(rid, r) for rid, r in musts if r.get("rfc_text") or rid.split("-")[0] != "SMTP"]
        if not quoted:
            problems.append(f"{name}: {case['id']} cites no MUST requirement with an RFC sentence")
        sentence = " / ".join(
            f"{rid}: {r.get('rfc_text') or r['text']}" for rid, r in quoted
        )
        failure = case.get("failure") or {}
        did = failure.get("actual") or case.get("reason") or ""
        baseline = case.get("baseline") or {}
        checked = baseline.get("reason", "") if isinstance(baseline, dict) else ""
        out.append(
            f"| {name} | `{case['id']}` | {cell(sentence, 500)} | {cell(did, 300)} | {cell(checked, 400)} |"
        )
    return out, problems


def main(names):
    table = [
        "| server | case | the MUST it breaks (RFC text, from SPEC.md) | what the server did | reviewed (baseline reason) |",
        "| --- | --- | --- | --- | --- |",
    ]
    problems = []
    for name in names:
        r, p = rows(name)
        table += r
        problems += p
    if len(table) == 2:
        table.append("| (none) | | | | |")
    readme = os.path.join(ROOT, "reports", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if START not in text or END not in text:
        print(f"{readme}: the marker lines are missing", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(readme, "w", encoding="utf-8") as f:
        f.write(head + START + "\n" + "\n".join(table) + "\n" + END + tail)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
