#!/usr/bin/env bash
# Runs the scenario suite against a real third-party server started by its script here, and
# writes the JSON and Markdown reports to reports/<name>/. With reports/baselines/<name>.yaml
# present, the run is gated on it (expected failures only); without, a MUST failure is allowed
# (exit 1) but a harness or target ERROR (exit 3) or a scenario error (exit 2) is not.
#
# usage: harness/targets/run-suite.sh NAME [PORT] [-- extra mtpspec run args]
# NAME is a script here without .sh: aiosmtpd, postfix, postfix-normalize, postfix-reject, exim,
# exim-bs, opensmtpd, reference (see README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

name=${1:?usage: run-suite.sh NAME [PORT] [-- extra mtpspec run args]}
shift
port=${1:-}
if [ -n "$port" ] && [ "$port" != "--" ]; then shift; else port=$((2600 + RANDOM % 300)); fi
[ "${1:-}" = "--" ] && shift

bin=${MTPSPEC_BIN:-target/release/mtpspec}
[ -x "$bin" ] || cargo build --release -p mtpspec
script="harness/targets/$name.sh"
state=$(mktemp -d)
trap 'bash "$script" stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT

bash "$script" install
bash "$script" start "$port" "$state"

out="reports/$name"
mkdir -p "$out"
# A script with a `run-args PORT STATE_DIR` command names its own target (and any other
# `mtpspec run` arguments), one per line; otherwise the target is smtp://127.0.0.1:PORT.
if run_args=$(bash "$script" run-args "$port" "$state" 2>/dev/null); then
    mapfile -t target_args <<<"$run_args"
else
    target_args=(--target "smtp://127.0.0.1:$port")
fi
args=(run "${target_args[@]}" --mailbox-cmd "bash $script mailbox $state"
      --report-json "$out/report.json" --report-md "$out/report.md" --quiet)
baseline="reports/baselines/$name.yaml"
[ -f "$baseline" ] && args+=(--baseline "$baseline")

set +e
"$bin" "${args[@]}" "$@"
code=$?
set -e
echo "mtpspec run against $name exited $code"
if [ -f "$baseline" ]; then
    exit "$code"
fi
# No baseline: MUST failures are findings, not a broken run.
[ "$code" -le 1 ]
