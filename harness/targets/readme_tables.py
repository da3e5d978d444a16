#!/usr/bin/env python3
"""Writes the generated tables of reports/README.md from the committed reports.

- the verdict counts of each target (between the `counts` markers);
- every FAIL of every report (reports/NAME/report.json) with the MUST-level RFC sentence it
  breaks (the cited requirement's "RFC text" in the report, from SPEC.md), what the server did
  (the failure's observed part) and the reason its baseline gives after a review of the
  transcript (between the `fail-table` markers).

usage: python3 harness/targets/readme_tables.py NAME...   (the report names, in table order)
Exit 0 when written; 1 when a FAIL cites no MUST requirement with an RFC sentence (a verdict
that must not exist), or a marker is missing.
"""
import json
import os
import sys

MARKERS = {
    "counts": (
        "<!-- counts:start (harness/targets/readme_tables.py writes this part) -->",
        "<!-- counts:end -->",
    ),
    "fails": (
        "<!-- fail-table:start (harness/targets/readme_tables.py writes this part) -->",
        "<!-- fail-table:end -->",
    ),
}
VERDICTS = ["PASS", "FAIL", "WARN", "UNSUPPORTED", "SKIP", "ERROR"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def cell(text, limit=400):
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load(name):
    path = os.path.join(ROOT, "reports", name, "report.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def count_row(name, report):
    counts = {v: 0 for v in VERDICTS}
    for case in report["cases"]:
        counts[case["verdict"]] += 1
    cells = " | ".join(str(counts[v]) if counts[v] else "." for v in VERDICTS)
    return f"| [{name}]({name}/report.md) | {cells} |"


def rows(name, report):
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
            f"| {name} | `{case['id']}` | {cell(sentence, 1200)} | {cell(did, 300)} | {cell(checked, 500)} |"
        )
    return out, problems


def replace_block(text, key, lines):
    start, end = MARKERS[key]
    if start not in text or end not in text:
        raise KeyError(key)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + start + "\n" + "\n".join(lines) + "\n" + end + tail


def main(names):
    counts = [
        "| target | " + " | ".join(VERDICTS) + " |",
        "| --- | " + " | ".join("---:" for _ in VERDICTS) + " |",
    ]
    table = [
        "| server | case | the MUST it breaks (RFC text, from SPEC.md) | what the server did | reviewed (baseline reason) |",
        "| --- | --- | --- | --- | --- |",
    ]
    problems = []
    for name in names:
        report = load(name)
        counts.append(count_row(name, report))
        r, p = rows(name, report)
        table += r
        problems += p
    if len(table) == 2:
        table.append("| (none) | | | | |")
    readme = os.path.join(ROOT, "reports", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    try:
        text = replace_block(text, "counts", counts)
        text = replace_block(text, "fails", table)
    except KeyError as key:
        print(f"{readme}: the {key} marker lines are missing", file=sys.stderr)
        return 1
    with open(readme, "w", encoding="utf-8") as f:
        f.write(text)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
