#!/usr/bin/env bash
# reference.sh: run the repository's own reference server (`mtpspec serve`) as a target, with the
# same interface as the third-party scripts, so its report sits beside theirs.
#
#   reference.sh install                  build mtpspec (release) unless MTPSPEC_BIN exists
#   reference.sh start PORT STATE_DIR     serve on 127.0.0.1:PORT (SMTP), PORT+1 (implicit TLS),
#                                         PORT+2 (submission), PORT+3 (MMTP), PORT+4 (MMTP over
#                                         TLS), PORT+5 (HTTP gateway), PID in STATE_DIR/pid; and
#                                         the special listeners on PORT+6 to PORT+11
#   reference.sh stop STATE_DIR           TERM (then KILL) the PID in STATE_DIR/pid
#   reference.sh mailbox STATE_DIR        JSON array of delivered messages (`mtpspec mailbox --json`)
#   reference.sh clear STATE_DIR          not supported by the store: prints why, exits 1
#   reference.sh run-args PORT STATE_DIR  the `mtpspec run` target arguments, one per line
#   reference.sh relay-args PORT STATE_DIR
#                                         relay mode: the harness's --inject argument
#
# The server is `mtpspec serve --smtp 127.0.0.1:PORT --smtps 127.0.0.1:PORT+1
# --submission 127.0.0.1:PORT+2 --mmtp 127.0.0.1:PORT+3 --mmtps 127.0.0.1:PORT+4
# --http 127.0.0.1:PORT+5 --credential alice:secret --data-dir STATE_DIR/data
# --domain example.test --max-per-address 256` (every case connects from 127.0.0.1; the
# embedded target allows as many) with its defaults otherwise: VMTP on, STARTTLS with a generated
# self-signed certificate, messages fsync'd before the 250, MMTP HashCash difficulty 5, the
# gateway delivering to the SMTP listener. `run-args` points the harness at all six listeners
# with the AUTH credentials, so the TLS, AUTH, MMTP and gateway cases run too (over TCP,
# unlike the in-process `embedded` target of `cargo test`), and says `--reference-target`:
# the reference's own DESIGN requirements bind it. Log: STATE_DIR/serve.log.
#
# The special listeners (`mtpspec run --listener`, scenarios/README.md) are six more
# `mtpspec serve` processes, each configured as the embedded target's: denied (PORT+6,
# --deny 127.0.0.1 --deny ::1), users (PORT+7, --user postmaster), limited (PORT+8,
# --max-connections 2), short-idle (PORT+9, --idle-timeout 2), mmtp-limited (PORT+10, MMTP,
# --mmtp-max-per-address 2), mmtp-short-idle (PORT+11, MMTP, --idle-timeout 2). Each has its
# own STATE_DIR/special/NAME/ (pid, data, serve.log); `mailbox` lists the messages of every
# store; `stop` stops them all.
#
# Relay mode (README.md "Judge an MTA's outbound side"): with RELAY_NEXT_HOP=127.0.0.1:HOP at
# start, only the HTTP gateway runs, on 127.0.0.1:PORT: `mtpspec serve --http 127.0.0.1:PORT
# --upstream smtp+starttls://127.0.0.1:HOP --upstream-insecure --retry-initial 1s
# --retry-max-interval 2s --retry-max-age 1m --hostname mx.example.test --data-dir
# STATE_DIR/data`. The harness gives it each message by POST /send; the reference client and
# its retry queue deliver it to the next hop (STARTTLS when offered, the next hop's
# self-signed certificate accepted), retrying within seconds.
#
# Environment: MTPSPEC_BIN (default target/release/mtpspec in the repository); RELAY_NEXT_HOP.
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
    ((port <= 65524)) || targets_die "PORT+11 must be a port too: $port"
    state_dir=$(abs_dir "$2")
    [[ -x $BIN ]] || targets_die "no $BIN: run '$0 install'"
    if [[ -f $state_dir/pid ]] && targets_pid_alive "$(<"$state_dir/pid")"; then
        targets_die "already running with PID $(<"$state_dir/pid") (stop it first)"
    fi
    local relay_port
    relay_port=$(targets_relay_port)
    if [[ -n $relay_port ]]; then
        start_relay "$port" "$relay_port" "$state_dir"
        return
    fi
    targets_relay_record "$state_dir"
    for p in $(seq "$port" $((port + 11))); do
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
        --credential "$CREDENTIAL" --data-dir "$state_dir/data" --domain example.test \
        --max-per-address 256 </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$state_dir/pid"
    targets_await_start "mtpspec serve" "$port" "$pid" "$state_dir" "$log"
    local i name
    for i in "${!SPECIAL_NAMES[@]}"; do
        name=${SPECIAL_NAMES[$i]}
        # shellcheck disable=SC2086 # the options are words
        start_special "$name" $((port + 6 + i)) "$state_dir" ${SPECIAL_OPTIONS[$i]}
    done
}

# start_relay PORT HOP STATE_DIR: the gateway alone on PORT, delivering to the next hop on HOP.
start_relay() {
    local port=$1 hop=$2 state_dir=$3 log pid i
    targets_port_open "$port" && targets_die "127.0.0.1:$port is already in use"
    log=$state_dir/serve.log
    : >"$log"
    setsid "$BIN" serve --http "127.0.0.1:$port" \
        --upstream "smtp+starttls://127.0.0.1:$hop" --upstream-insecure \
        --retry-initial 1s --retry-max-interval 2s --retry-max-age 1m \
        --hostname mx.example.test --data-dir "$state_dir/data" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$state_dir/pid"
    # HTTP has no greeting: wait until the port accepts.
    for ((i = 0; i < 80; i++)); do
        if targets_port_open "$port"; then
            targets_relay_record "$state_dir" "$hop"
            return 0
        fi
        targets_pid_alive "$pid" || break
        sleep 0.25
    done
    echo "mtpspec serve (gateway) is not listening on 127.0.0.1:$port; log:" >&2
    cat "$log" >&2
    cmd_stop "$state_dir"
    exit 1
}

# The special listeners: name, and the `serve` options that make each one (the listener
# option itself is added by start_special: --mmtp for the mmtp-* ones, else --smtp).
SPECIAL_NAMES=(denied users limited short-idle mmtp-limited mmtp-short-idle)
SPECIAL_OPTIONS=("--deny 127.0.0.1 --deny ::1" "--user postmaster" "--max-connections 2"
    "--idle-timeout 2" "--mmtp-max-per-address 2" "--idle-timeout 2")

# start_special NAME PORT STATE_DIR OPTION...: one more server in STATE_DIR/special/NAME,
# waited for until its port accepts (a denied one greets 554, an MMTP one with JSON).
start_special() {
    local name=$1 port=$2 state_dir=$3 dir pid i listen=--smtp
    dir=$(abs_dir "$state_dir/special/$name")
    shift 3
    [[ $name == mmtp-* ]] && listen=--mmtp
    setsid "$BIN" serve "$listen" "127.0.0.1:$port" --data-dir "$dir/data" \
        --domain example.test "$@" </dev/null >>"$dir/serve.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    for ((i = 0; i < 80; i++)); do
        targets_port_open "$port" && return 0
        targets_pid_alive "$pid" || break
        sleep 0.25
    done
    echo "mtpspec serve ($name) is not listening on 127.0.0.1:$port; log:" >&2
    cat "$dir/serve.log" >&2
    cmd_stop "$state_dir"
    exit 1
}

cmd_stop() {
    (($# == 1)) || targets_usage
    local dir
    for dir in "$1"/special/*/; do
        [[ -f $dir/pid ]] && targets_stop_pid "${dir%/}" 10
    done
    targets_stop_pid "$1" 10
}

# Every store's messages as one JSON array: the main one and the special SMTP listeners'.
cmd_mailbox() {
    (($# == 1)) || targets_usage
    local dir
    {
        "$BIN" mailbox --data-dir "$1/data" --json
        for dir in "$1"/special/*/data; do
            [[ -d $dir && $dir != */mmtp-* ]] && "$BIN" mailbox --data-dir "$dir" --json
        done
    } | python3 -c '
import json, sys
text, decoder, at, merged = sys.stdin.read(), json.JSONDecoder(), 0, []
while text[at:].strip():
    at += len(text[at:]) - len(text[at:].lstrip())
    part, at = decoder.raw_decode(text, at)
    merged.extend(part)
print(json.dumps(merged))'
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
        --mmtps "127.0.0.1:$((port + 4))" --http "127.0.0.1:$((port + 5))" --auth "$CREDENTIAL" \
        --reference-target
    local i
    for i in "${!SPECIAL_NAMES[@]}"; do
        printf '%s\n' --listener "${SPECIAL_NAMES[$i]}=127.0.0.1:$((port + 6 + i))"
    done
}

cmd_relay_args() {
    (($# == 2)) || targets_usage
    targets_check_port "$1"
    targets_relay_need "$2" >/dev/null
    printf '%s\n' --inject "http://127.0.0.1:$1"
}

targets_relay_dispatch "$@"
