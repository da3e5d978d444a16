#!/usr/bin/env bash
# aiosmtpd.sh: run aiosmtpd 1.4.x (PyPI) as a third-party SMTP target for mtpspec.
#
#   aiosmtpd.sh install               pip install aiosmtpd 1.4.x (skipped if present)
#   aiosmtpd.sh start PORT STATE_DIR  serve plain SMTP on 127.0.0.1:PORT, PID in STATE_DIR/pid
#   aiosmtpd.sh stop STATE_DIR        TERM (then KILL) the PID in STATE_DIR/pid
#   aiosmtpd.sh mailbox STATE_DIR     JSON array of delivered messages (harness schema)
#   aiosmtpd.sh clear STATE_DIR       delete the delivered messages
#
# The server is `python -m aiosmtpd -n -u -l 127.0.0.1:PORT -c
# aiosmtpd_handler.SpoolHandler STATE_DIR/mail`: SMTPUTF8 on (-u), 8BITMIME on
# (aiosmtpd's CLI keeps decode_data=False), no AUTH, no TLS, every recipient
# accepted. The handler (aiosmtpd_handler.py, beside this script) fsyncs one
# JSON file per message into STATE_DIR/mail/ before it replies
# "250 2.0.0 Ok: queued as <id>"; the mailbox's "data" is the exact bytes
# received after DATA (dot-unstuffed, nothing added or removed).
# Log: STATE_DIR/aiosmtpd.log.
#
# Environment: PYTHON (default python3); AIOSMTPD_SIZE (message size limit in
# bytes, advertised as SIZE; default 10485760 like the Postfix target; set it
# empty for aiosmtpd's CLI default: no SIZE keyword and no limit at all);
# AIOSMTPD_DEBUG=1..3 (aiosmtpd -d levels, logged to STATE_DIR/aiosmtpd.log).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

PYTHON=${PYTHON:-python3}
WANT_SPEC='aiosmtpd>=1.4,<1.5'

cmd_install() {
    if "$PYTHON" -c 'import aiosmtpd, sys; sys.exit(0 if aiosmtpd.__version__.startswith("1.4.") else 1)' 2>/dev/null; then
        return 0
    fi
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "$WANT_SPEC"
    "$PYTHON" -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__)'
}

cmd_start() {
    (($# == 2)) || targets_usage
    local port=$1 state_dir pid log
    targets_check_port "$port"
    state_dir=$(abs_dir "$2")
    log=$state_dir/aiosmtpd.log
    if [[ -f $state_dir/pid ]] && targets_pid_alive "$(<"$state_dir/pid")"; then
        targets_die "already running with PID $(<"$state_dir/pid") (stop it first)"
    fi
    if targets_port_open "$port"; then
        targets_die "127.0.0.1:$port is already in use"
    fi
    mkdir -p "$state_dir/mail"
    local -a args=(-u -m aiosmtpd -n -u -l "127.0.0.1:$port")
    local size=${AIOSMTPD_SIZE-10485760}
    if [[ -n $size ]]; then
        args+=(-s "$size")
    fi
    local d
    for ((d = 0; d < ${AIOSMTPD_DEBUG:-0}; d++)); do
        args+=(-d)
    done
    args+=(-c aiosmtpd_handler.SpoolHandler "$state_dir/mail")
    : >"$log"
    # setsid: not in the caller's process group, so only `stop` ends it.
    # In a non-interactive shell the background child is no group leader, so
    # setsid execs in place and $! is the Python process itself.
    PYTHONPATH=$HERE${PYTHONPATH:+:$PYTHONPATH} \
        setsid "$PYTHON" "${args[@]}" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$state_dir/pid"
    targets_await_start "aiosmtpd" "$port" "$pid" "$state_dir" "$log"
}

cmd_stop() {
    (($# == 1)) || targets_usage
    targets_stop_pid "$1" 10
}

cmd_mailbox() {
    (($# == 1)) || targets_usage
    "$PYTHON" "$HERE/aiosmtpd_handler.py" mailbox "$1/mail"
}

cmd_clear() {
    (($# == 1)) || targets_usage
    [[ -d $1/mail ]] || return 0
    find "$1/mail" -maxdepth 1 -type f -name '[0-9]*.json' -delete
}

targets_dispatch "$@"
