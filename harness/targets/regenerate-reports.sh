#!/usr/bin/env bash
# Regenerates every committed run in reports/: builds mtpspec (release), runs the suite against
# each target with run-suite.sh (which installs, starts and stops the server by PID, and gates
# on reports/baselines/<name>.yaml), writes reports/<name>/report.{json,md}, then the HTML
# page that shows every target side by side (reports/index.html, by `mtpspec compare`, with
# the relay reports reports/<name>/relay.json that run-relay.sh wrote in its outbound section)
# with a page of transcripts per target next to it (reports/index-<name>.html; compare removes
# the page of a target whose reports are gone), the generated tables of reports/README.md
# (readme_tables.py: counts, every FAIL with its MUST), and, when no NAME is given, the client
# reports in reports/clients (harness/clients/run-all.sh).
#
# usage: bash harness/targets/regenerate-reports.sh [NAME...]
#   NAME: reference aiosmtpd postfix postfix-normalize postfix-reject exim exim-bs opensmtpd
#         haraka qpsmtpd
#   (default: all of them, in that order; the HTML page always shows every report present).
#
# Each run uses MTPSPEC_JOBS cases at once (default 3, not run's 8) and gives a case 60 s, not
# 30 (cases with their own deadline keep it): Exim and OpenSMTPD accept a message over their
# advertised SIZE, and every later mailbox read then carries those 10 MB, so cases polling at
# once on a small, busy machine can otherwise run past a deadline.
#
# Needs root (Postfix, Exim, OpenSMTPD and qpsmtpd run as root-started daemons; Haraka and
# qpsmtpd run in a network namespace of their own, made with unshare -n), the Debian package
# archive (apt-get) and the npm registry (Haraka) for the first install. Exit 0 when every run
# met its baseline, 1 when one did not (the others still ran), 3 when the page could not be
# written.
set -euo pipefail
cd "$(dirname "$0")/../.."

ALL=(reference aiosmtpd postfix postfix-normalize postfix-reject exim exim-bs opensmtpd haraka qpsmtpd)
if (($# > 0)); then
    targets=("$@")
else
    targets=("${ALL[@]}")
fi

# MTPSPEC_BIN names an mtpspec binary to use instead of building target/release/mtpspec.
if [[ -z ${MTPSPEC_BIN:-} ]]; then
    cargo build --release -p mtpspec
    MTPSPEC_BIN=target/release/mtpspec
fi
export MTPSPEC_BIN

failed=()
for name in "${targets[@]}"; do
    [[ -f harness/targets/$name.sh ]] || { echo "no harness/targets/$name.sh" >&2; exit 2; }
    echo "==> $name"
    if ! bash harness/targets/run-suite.sh "$name" -- -j "${MTPSPEC_JOBS:-3}" --deadline 60s; then
        failed+=("$name")
    fi
done

# The side-by-side HTML page, from the JSON reports alone: the conformance reports, and every
# relay report present (run-relay.sh NAME writes them; this script does not run relay mode).
html_args=()
for name in "${ALL[@]}"; do
    if [[ -f reports/$name/report.json ]]; then
        html_args+=(--from-json "$name=reports/$name/report.json")
    fi
done
for relay in reports/*/relay.json; do
    [[ -f $relay ]] || continue
    name=$(basename "$(dirname "$relay")")
    html_args+=(--relay-json "$name=$relay")
done
# It writes reports/index.html and reports/index-NAME.html (NAME's transcripts, which the
# cells link to); commit them together.
if ! "$MTPSPEC_BIN" compare "${html_args[@]}" --html reports/index.html \
    --title "mtpspec: the reference and third-party SMTP servers side by side"; then
    echo "mtpspec compare failed: reports/index.html not written" >&2
    exit 3
fi
echo "wrote reports/index.html and its transcript pages, reports/index-*.html"

# The generated tables of reports/README.md: the counts, and every FAIL with the MUST it breaks.
present=()
for name in "${ALL[@]}"; do
    [[ -f reports/$name/report.json ]] && present+=("$name")
done
if ! python3 harness/targets/readme_tables.py "${present[@]}"; then
    echo "reports/README.md: a FAIL cites no MUST requirement with its RFC text" >&2
    failed+=(readme-tables)
fi

# The clients judged by `mtpspec serve-test` (reports/clients), unless only some servers
# were named.
if (($# == 0)) && ! bash harness/clients/run-all.sh; then
    failed+=(clients)
fi

if ((${#failed[@]} > 0)); then
    echo "runs that did not meet their baseline: ${failed[*]}" >&2
    exit 1
fi
echo "every run met its baseline"
