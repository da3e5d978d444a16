#!/usr/bin/env bash
# Runs the scenario suite against a real third-party server started by its script here, and
# writes the JSON and Markdown reports to reports/<name>/. With reports/baselines/<name>.yaml
# present, the run is gated on it (expected failures only); without, a MUST failure is allowed
# (exit 1) but a harness or target ERROR (exit 3) or a scenario error (exit 2) is not.
#
# usage: harness/targets/run-suite.sh NAME [PORT] [-- extra mtpspec run args]
# NAME is a script here without .sh: aiosmtpd, postfix, postfix-normalize, postfix-reject, exim,
# exim-bs, opensmtpd, haraka, qpsmtpd, reference (see README.md).
#
# After the scenarios, `mtpspec run` runs its robustness cases (up to --robustness-timeout, 15 s,
# each); pass `-- --skip-robustness` to leave them out. They WARN at worst, so a baseline needs
# no entry for them.
#
# A script whose `needs-netns` command exits 0 (haraka, qpsmtpd) has its server run only in a
# network namespace of its own: after `install` (which may need the network), this script runs
# itself again inside a new one (lib.sh targets_netns_exec: `unshare -n`, lo up, nothing else),
# and that copy starts the server, runs mtpspec (whose mailbox command runs there too) and stops
# the server by its PID. The namespace goes away with the last process in it. Needs root.
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
source harness/targets/lib.sh

name=${1:?usage: run-suite.sh NAME [PORT] [-- extra mtpspec run args]}
shift
port=${1:-}
if [ -n "$port" ] && [ "$port" != "--" ]; then shift; else port=$((2600 + RANDOM % 300)); fi
[ "${1:-}" = "--" ] && shift

bin=${MTPSPEC_BIN:-target/release/mtpspec}
script="harness/targets/$name.sh"
[ -f "$script" ] || targets_die "no $script"
if [ "${MTPSPEC_NETNS:-}" != 1 ]; then
    [ -x "$bin" ] || cargo build --release -p mtpspec
    bash "$script" install
    if bash "$script" needs-netns >/dev/null 2>&1; then
        # The same run, in a new network namespace; the port is fixed now so both agree.
        targets_netns_exec bash "$self" "$name" "$port" -- "$@"
    fi
else
    [ -x "$bin" ] || targets_die "no mtpspec binary at $bin (the namespace has no network to build it)"
fi
state=$(mktemp -d)
trap 'bash "$script" stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT

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
# The report's title names the target by its script's name (the address follows it), unless
# the script's run-args name it.
[[ " ${target_args[*]} " == *" --target-name "* ]] || args+=(--target-name "$name")
# The server's PID, when its script records one: the robustness cases report its memory.
[ -s "$state/pid" ] && args+=(--target-pid "$(<"$state/pid")")
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
