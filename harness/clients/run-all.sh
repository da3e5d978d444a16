#!/usr/bin/env bash
# Regenerates reports/clients/<client>.{md,json}: `mtpspec serve-test` plays every client
# scenario (scenarios/clients) against each client installed here, starting the client once
# per case through its driver in harness/clients/. A client that is not installed is skipped
# with a message. MTPSPEC_BIN names the mtpspec binary (default: target/debug/mtpspec, built
# if missing).
#
# usage: bash harness/clients/run-all.sh [CLIENT...]   (default: all of them)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

bin=${MTPSPEC_BIN:-target/debug/mtpspec}
if [ ! -x "$bin" ]; then
    cargo build -q -p mtpspec || exit 2
fi
export MTPSPEC_BIN=$bin
out=reports/clients
mkdir -p "$out"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# name, the program that must be installed, the driver command, extra serve-test options
run_client() {
    local name=$1 program=$2 cmd=$3
    shift 3
    if ! command -v "$program" >/dev/null 2>&1; then
        echo "skipping $name: $program is not installed"
        return 0
    fi
    echo "== $name"
    "$bin" serve-test --listen "127.0.0.1:$(free_port)" --quiet --client-name "$name" \
        --client-cmd "$cmd" --report-md "$out/$name.md" --report-json "$out/$name.json" "$@"
    local rc=$?
    # 0: no FAIL; 1: the client failed some MUST (that is the finding, not an error).
    if [ $rc -gt 1 ]; then
        echo "serve-test for $name failed (exit $rc)" >&2
        status=1
    fi
}

args="{mode} {host} {port} {from} {body} {to}"
status=0
wanted=" ${*:-mtpspec-send smtplib swaks curl msmtp lettre} "
for client in mtpspec-send smtplib swaks curl msmtp lettre; do
    case "$wanted" in *" $client "*) ;; *) continue ;; esac
    case $client in
    mtpspec-send) run_client mtpspec-send bash "bash harness/clients/mtpspec_send.sh $args" \
        --client-features vmtp ;;
    smtplib) run_client smtplib python3 "python3 harness/clients/smtplib_client.py $args" ;;
    swaks) run_client swaks swaks "bash harness/clients/swaks.sh $args" ;;
    curl) run_client curl curl "bash harness/clients/curl.sh $args" ;;
    msmtp) run_client msmtp msmtp "bash harness/clients/msmtp.sh $args" ;;
    lettre)
        # Built once here, not by the first case (whose deadline the build would eat).
        if cargo build -q --release --manifest-path harness/clients/lettre/Cargo.toml; then
            run_client lettre cargo "bash harness/clients/lettre.sh $args"
        else
            echo "lettre driver did not build" >&2
            status=1
        fi
        ;;
    esac
done
exit $status
