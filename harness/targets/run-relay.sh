#!/usr/bin/env bash
# Runs the relay cases (`mtpspec relay-test`, scenarios/relay) against a real MTA started by its
# script here in relay mode, and writes the JSON and Markdown reports to
# reports/<name>/relay.json and relay.md, beside the suite's report.
#
# usage: harness/targets/run-relay.sh NAME [-- extra mtpspec relay-test args]
# NAME is a script here with a relay mode (`relay-args`): postfix, exim, opensmtpd, haraka,
# reference (the reference gateway: its client and retry queue).
#
# The target is started with RELAY_NEXT_HOP=127.0.0.1:HOP (README.md, "Relay mode"): it routes
# relay.test and its subdomains to the next hop that `mtpspec relay-test --listen` plays on HOP,
# retries within seconds and bounces at once. A script whose `needs-netns` command exits 0 runs
# in a network namespace of its own, with mtpspec beside it (as run-suite.sh does). Exit: the
# exit status of `mtpspec relay-test` when it is 0 or 1 (FAILs are findings), else failure.
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
source harness/targets/lib.sh

name=${1:?usage: run-relay.sh NAME [-- extra mtpspec relay-test args]}
shift
[ "${1:-}" = "--" ] && shift

bin=${MTPSPEC_BIN:-target/release/mtpspec}
script="harness/targets/$name.sh"
[ -f "$script" ] || targets_die "no $script"
if [ "${MTPSPEC_NETNS:-}" != 1 ]; then
    [ -x "$bin" ] || cargo build --release -p mtpspec
    bash "$script" install
    if bash "$script" needs-netns >/dev/null 2>&1; then
        targets_netns_exec bash "$self" "$name" -- "$@"
    fi
else
    [ -x "$bin" ] || targets_die "no mtpspec binary at $bin (the namespace has no network to build it)"
fi

# Two loopback ports nothing listens on: the target's and the next hop's.
free_port() {
    local port tries
    for ((tries = 0; tries < 50; tries++)); do
        port=$((20000 + RANDOM % 20000))
        targets_port_open "$port" || {
            echo "$port"
            return 0
        }
    done
    targets_die "no free port found on 127.0.0.1"
}
port=$(free_port)
hop=$(free_port)
[ "$hop" != "$port" ] || hop=$((port + 1))

state=$(mktemp -d)
trap 'bash "$script" stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
RELAY_NEXT_HOP="127.0.0.1:$hop" bash "$script" start "$port" "$state"
mapfile -t relay_args < <(bash "$script" relay-args "$port" "$state")

out="reports/$name"
mkdir -p "$out"
set +e
"$bin" relay-test "${relay_args[@]}" --listen "127.0.0.1:$hop" --target-name "$name" \
    --report-json "$out/relay.json" --report-md "$out/relay.md" "$@"
code=$?
set -e
echo "mtpspec relay-test against $name exited $code"
[ "$code" -le 1 ]
