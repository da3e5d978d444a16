# shellcheck shell=bash
# Helpers for harness/originals/*.sh (sourced, not run). Everything listens on 127.0.0.1, every
# wait is bounded, and every process started is stopped by its own PID.
#
#   orig_start NAME LOG CMD [ARG...]   start CMD in the background; its PID in ORIG_PIDS[NAME]
#   orig_stop NAME                     TERM the PID of NAME, KILL after 5 s, reap it
#   orig_stop_all                      orig_stop every NAME still running (the EXIT trap)
#   orig_wait_port PORT NAME [SECS]    wait until 127.0.0.1:PORT accepts (default 20 s);
#                                      fails early if NAME's process died
#   orig_section FILE TITLE            append a "## TITLE" heading to FILE
#   orig_run FILE SECS CMD [ARG...]    run CMD with a time limit, append the command, its
#                                      output and its exit status to FILE; returns that status

declare -A ORIG_PIDS=()

orig_start() {
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    ORIG_PIDS[$name]=$!
}

orig_alive() {
    local pid=${ORIG_PIDS[$1]:-}
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

orig_stop() {
    local name=$1 pid=${ORIG_PIDS[$1]:-} i
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
    unset "ORIG_PIDS[$name]"
}

orig_stop_all() {
    local name
    for name in "${!ORIG_PIDS[@]}"; do
        orig_stop "$name"
    done
}

orig_wait_port() {
    local port=$1 name=$2 secs=${3:-20} deadline
    deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        orig_alive "$name" || return 1
        # A bare connect: the MMTP original counts it against its per-address limit only
        # while it is open, and this one closes at once.
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

orig_section() {
    printf '\n## %s\n\n' "$2" >>"$1"
}

orig_run() {
    local file=$1 secs=$2 status
    shift 2
    {
        printf '$'
        printf ' %q' "$@"
        printf '\n'
    } >>"$file"
    timeout --kill-after=5 "$secs" "$@" >>"$file" 2>&1
    status=$?
    printf '[exit status %s]\n' "$status" >>"$file"
    return "$status"
}
