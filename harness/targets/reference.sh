#!/usr/bin/env bash
# reference.sh: run the repository's own reference server (`mtpspec serve`) as a target, with the
# same interface as the third-party scripts, so its report sits beside theirs.
#
#   reference.sh install                  build mtpspec (release) unless MTPSPEC_BIN exists
#   reference.sh start PORT STATE_DIR     serve on 127.0.0.1:PORT (SMTP), PORT+1 (implicit TLS),
#                                         PORT+2 (submission), PORT+3 (MMTP), PORT+4 (MMTP over
#                                         TLS), PORT+5 (HTTP gateway), PID in STATE_DIR/pid
#   reference.sh stop STATE_DIR           TERM (then KILL) the PID in STATE_DIR/pid
#   reference.sh mailbox STATE_DIR        JSON array of delivered messages (`mtpspec mailbox --json`)
#   reference.sh clear STATE_DIR          not supported by the store: prints why, exits 1
#   reference.sh run-args PORT STATE_DIR  the `mtpspec run` target arguments, one per line
#
# The server is `mtpspec serve --smtp 127.0.0.1:PORT --smtps 127.0.0.1:PORT+1
# --submission 127.0.0.1:PORT+2 --mmtp 127.0.0.1:PORT+3 --mmtps 127.0.0.1:PORT+4
# --http 127.0.0.1:PORT+5 --credential alice:secret --data-dir STATE_DIR/data
# --domain example.test` with its defaults otherwise: VMTP on, STARTTLS with a generated
# self-signed certificate, messages fsync'd before the 250, MMTP HashCash difficulty 5, the
# gateway delivering to the SMTP listener. `run-args` points the harness at all six listeners
# with the AUTH credentials, so the TLS, AUTH, MMTP and gateway cases run too (over TCP,
# unlike the in-process `embedded` target of `cargo test`). Log: STATE_DIR/serve.log.
#
# Environment: MTPSPEC_BIN (default target/release/mtpspec in the repository).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

REPO=$(cd "$HERE/../.." && pwd)
BIN=${MTPSPEC_BIN:-target/release/mtpspec}
[[ $BIN == /* ]] || BIN=$REPO/$BIN
CREDENTIAL=alice:secret

cmd_install() {
    if [[ -x $BIN ]]; then
        return 0
    fi
    (cd "$REPO" && cargo build --release -p mtpspec)
    [[ -x $BIN ]] || targets_die "no $BIN after the build (set MTPSPEC_BIN)"
}

cmd_start() {
    (($# == 2)) || targets_usage
    local port=$1 state_dir pid log p
    targets_check_port "$port"
    ((port <= 65530)) || targets_die "PORT+5 must be a port too: $port"
    state_dir=$(abs_dir "$2")
    [[ -x $BIN ]] || targets_die "no $BIN: run '$0 install'"
    if [[ -f $state_dir/pid ]] && targets_pid_alive "$(<"$state_dir/pid")"; then
        targets_die "already running with PID $(<"$state_dir/pid") (stop it first)"
    fi
    for p in $(seq "$port" $((port + 5))); do
        if targets_port_open "$p"; then
            targets_die "127.0.0.1:$p is already in use"
        fi
    done
    log=$state_dir/serve.log
    : >"$log"
    # setsid: not in the caller's process group; in a non-interactive shell it execs in
    # place, so $! is the server itself.
    setsid "$BIN" serve --smtp "127.0.0.1:$port" --smtps "127.0.0.1:$((port + 1))" \
        --submission "127.0.0.1:$((port + 2))" --mmtp "127.0.0.1:$((port + 3))" \
        --mmtps "127.0.0.1:$((port + 4))" --http "127.0.0.1:$((port + 5))" \
        --credential "$CREDENTIAL" --data-dir "$state_dir/data" --domain example.test </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$state_dir/pid"
    targets_await_start "mtpspec serve" "$port" "$pid" "$state_dir" "$log"
}

cmd_stop() {
    (($# == 1)) || targets_usage
    targets_stop_pid "$1" 10
}

cmd_mailbox() {
    (($# == 1)) || targets_usage
    "$BIN" mailbox --data-dir "$1/data" --json
}

cmd_clear() {
    (($# == 1)) || targets_usage
    targets_die "the reference's store has no delete: start a new STATE_DIR for an empty mailbox"
}

cmd_run_args() {
    (($# == 2)) || targets_usage
    local port=$1
    printf '%s\n' --target "smtp://127.0.0.1:$port" --smtps "127.0.0.1:$((port + 1))" \
        --submission "127.0.0.1:$((port + 2))" --mmtp "127.0.0.1:$((port + 3))" \
        --mmtps "127.0.0.1:$((port + 4))" --http "127.0.0.1:$((port + 5))" --auth "$CREDENTIAL"
}

(($# >= 1)) || targets_usage
cmd=$1
shift
case $cmd in
install) cmd_install "$@" ;;
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
mailbox) cmd_mailbox "$@" ;;
clear) cmd_clear "$@" ;;
run-args) cmd_run_args "$@" ;;
*) targets_usage ;;
esac
