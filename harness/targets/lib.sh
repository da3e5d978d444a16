# shellcheck shell=bash
# Shared helpers for the harness/targets/*.sh scripts (sourced, not run).
#
#   targets_die MSG...                 print to stderr and exit 1
#   targets_pid_alive PID              true if PID runs (a zombie counts as gone)
#   targets_port_open PORT             true if something accepts on 127.0.0.1:PORT
#   targets_wait_greeting PORT PID SECS
#                                      wait until 127.0.0.1:PORT sends a 220 greeting;
#                                      fails early when PID dies (each try waits
#                                      TARGETS_GREETING_READ_SECS, default 3, for the line)
#   targets_stop_pid STATE_DIR [SECS]  TERM the PID in STATE_DIR/pid, KILL after SECS
#                                      (default 10), remove the pid file
#   targets_check_port PORT            1..65535, else die
#   start_failure PID                  words for "why did start fail" (died / no 220)
#   targets_await_start NAME PORT PID STATE_DIR LOG...
#                                      wait for PID's 220 on PORT; if none comes in 20 s,
#                                      print the LOGs, stop PID (or forget it) and exit 1
#   targets_usage                      print the calling script's usage (its header up to
#                                      the second bare "#" line) and exit 2
#   targets_need_root WHY              exit 1 unless root, saying WHY root is needed
#   targets_wait_delivered SECS BUSY FILE...
#                                      wait at most SECS until the function BUSY says no
#                                      FILE is still waiting for delivery
#   targets_clear_maildir STATE_DIR    delete every message under STATE_DIR/maildir
#   targets_netns_isolated             true if this process's network namespace has no
#                                      interface but lo, and lo is up
#   targets_need_netns                 exit 1 unless targets_netns_isolated (for the `start` of
#                                      a script whose `needs-netns` says yes)
#   targets_netns_exec CMD [ARG...]    exec CMD in a new network namespace (unshare -n, root)
#                                      whose only interface, lo, is brought up first, with
#                                      MTPSPEC_NETNS=1 in its environment
#   targets_dispatch CMD [ARG...]      the script's command line: install, start, stop,
#                                      mailbox, clear and run-args call the script's
#                                      cmd_install ... cmd_run_args (run-args only if it has
#                                      one); needs-netns says yes when the script set
#                                      TARGETS_NEEDS_NETNS=1; anything else is usage
#
# Relay mode (README.md "Relay mode"), for the scripts that have one:
#   TARGETS_RELAY_DOMAIN               relay.test: it and its subdomains go to the next hop
#   targets_relay_port                 the PORT of RELAY_NEXT_HOP=127.0.0.1:PORT; nothing
#                                      when RELAY_NEXT_HOP is unset or empty; dies if malformed
#   targets_relay_record STATE_DIR [PORT]
#                                      note in STATE_DIR/relay-next-hop that the instance
#                                      relays to 127.0.0.1:PORT (no PORT: remove the note)
#   targets_relay_need STATE_DIR       print the next hop of a relay-mode instance, else die
#   targets_relay_args PORT STATE_DIR  the relay-args lines: --inject smtp://127.0.0.1:PORT and,
#                                      when the script has cmd_flush, --flush-command
#                                      "SCRIPT flush STATE_DIR" (absolute paths)
#   targets_relay_dispatch CMD [ARG...]
#                                      targets_dispatch plus relay-args and flush (the script's
#                                      cmd_relay_args and cmd_flush; "not set up" without one)
#
# Everything talks to 127.0.0.1 only.

targets_die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

targets_check_port() {
    local port=$1
    if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        targets_die "bad port: $port"
    fi
}

targets_pid_alive() {
    local pid=$1 state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A zombie (exited, not yet reaped) still answers kill -0.
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
    [[ -n $state && $state != Z && $state != X ]]
}

targets_port_open() {
    local port=$1
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Reads the first line the server sends; true if it starts with 220. It waits
# TARGETS_GREETING_READ_SECS (default 3) for it; a script whose server greets late sets more.
targets_greeting_ok() {
    local port=$1 secs=${TARGETS_GREETING_READ_SECS:-3}
    (
        line=""
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        IFS= read -r -t "$secs" line <&3 || exit 1
        printf 'QUIT\r\n' >&3 2>/dev/null || true
        [[ $line == 220* ]]
    ) 2>/dev/null
}

targets_wait_greeting() {
    local port=$1 pid=$2 secs=$3 deadline
    deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        if ! targets_pid_alive "$pid"; then
            return 1
        fi
        if targets_greeting_ok "$port"; then
            return 0
        fi
        sleep 0.25
    done
    return 1
}

# Why targets_wait_greeting failed, for the error message.
start_failure() {
    if targets_pid_alive "$1"; then
        echo "(PID $1) sent no 220 greeting within 20 s"
    else
        echo "(PID $1) exited before sending a 220 greeting"
    fi
}

targets_await_start() {
    local name=$1 port=$2 pid=$3 state_dir=$4
    shift 4
    targets_wait_greeting "$port" "$pid" 20 && return 0
    echo "$name $(start_failure "$pid") on 127.0.0.1:$port; log ($1):" >&2
    cat "$@" >&2 2>/dev/null || true
    if targets_pid_alive "$pid"; then
        targets_stop_pid "$state_dir" 5 || true
    else
        rm -f "$state_dir/pid"
    fi
    exit 1
}

targets_usage() {
    awk 'NR >= 2 { if (/^#$/ && ++bare == 2) exit; print }' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

targets_dispatch() {
    (($# >= 1)) || targets_usage
    local cmd=$1
    shift
    case $cmd in
    install | start | stop | mailbox | clear | run-args)
        local fn=cmd_${cmd//-/_}
        declare -F "$fn" >/dev/null || targets_usage
        "$fn" "$@"
        ;;
    needs-netns) [[ ${TARGETS_NEEDS_NETNS:-} == 1 ]] ;;
    *) targets_usage ;;
    esac
}

targets_need_root() {
    (($(id -u) == 0)) || targets_die "must run as root ($*)"
}

targets_wait_delivered() {
    local secs=$1 busy=$2 deadline f
    shift 2
    local -a pending=("$@") still
    deadline=$((SECONDS + secs))
    while ((${#pending[@]} > 0 && SECONDS < deadline)); do
        still=()
        for f in "${pending[@]}"; do
            "$busy" "$f" && still+=("$f")
        done
        pending=("${still[@]}")
        ((${#pending[@]} == 0)) || sleep 0.05
    done
}

targets_clear_maildir() {
    [[ -d $1/maildir ]] || return 0
    find "$1/maildir" -mindepth 3 -type f \( -path '*/new/*' -o -path '*/cur/*' \) -delete
}

targets_stop_pid() {
    local state_dir=$1 secs=${2:-10} pid i
    if [[ ! -f $state_dir/pid ]]; then
        echo "$(basename "$0"): no $state_dir/pid: nothing to stop" >&2
        return 0
    fi
    pid=$(<"$state_dir/pid")
    [[ $pid =~ ^[0-9]+$ ]] || targets_die "garbage in $state_dir/pid: $pid"
    if targets_pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < secs * 10; i++)); do
            targets_pid_alive "$pid" || break
            sleep 0.1
        done
        if targets_pid_alive "$pid"; then
            echo "$(basename "$0"): PID $pid ignored TERM for ${secs}s, sending KILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                targets_pid_alive "$pid" || break
                sleep 0.1
            done
        fi
    fi
    targets_pid_alive "$pid" && targets_die "PID $pid still alive after KILL"
    rm -f "$state_dir/pid"
}

# The absolute path of directory $1, created if missing.
abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd)
}

# Network namespaces. A script whose `needs-netns` command exits 0 runs its server only inside
# a network namespace of its own with nothing but lo (run-suite.sh and selfcheck.py set that up
# with targets_netns_exec or the same two steps). The namespace is anonymous: it lives as long
# as a process in it, and every process in it is started, and stopped by PID, by this harness.
# /proc/self/net/dev lists the interfaces of the caller's own namespace (/sys/class/net would
# show the namespace sysfs was mounted in).
targets_netns_isolated() {
    local ifs
    ifs=$(awk -F: 'NR > 2 { gsub(/[ \t]/, "", $1); print $1 }' /proc/self/net/dev 2>/dev/null) || return 1
    [[ $ifs == lo ]] || return 1
    ip -o link show dev lo 2>/dev/null | grep -q '[<,]UP[,>]'
}

targets_need_netns() {
    targets_netns_isolated && return 0
    targets_die "this server runs only in a network namespace of its own with nothing but lo up" \
        "(run-suite.sh does that; by hand: unshare -n bash -c 'ip link set lo up && exec \"\$@\"' netns CMD...)"
}

targets_netns_exec() {
    targets_need_root "unshare -n creates the network namespace"
    command -v unshare >/dev/null || targets_die "unshare (util-linux) is missing"
    command -v ip >/dev/null || targets_die "ip (iproute2) is missing"
    # shellcheck disable=SC2016 # "$@" is expanded by the inner bash
    exec unshare --net -- bash -c 'ip link set dev lo up || exit 1; export MTPSPEC_NETNS=1; exec "$@"' \
        mtpspec-netns "$@"
}

# Relay mode. Mail for TARGETS_RELAY_DOMAIN and its subdomains goes by SMTP to RELAY_NEXT_HOP,
# the harness's next hop on loopback; see README.md "Relay mode".
# shellcheck disable=SC2034 # read by the scripts that source this file
TARGETS_RELAY_DOMAIN=relay.test

targets_relay_port() {
    local hop=${RELAY_NEXT_HOP:-} port
    [[ -n $hop ]] || return 0
    [[ $hop =~ ^127\.0\.0\.1:([0-9]+)$ ]] || targets_die "RELAY_NEXT_HOP must be 127.0.0.1:PORT, not: $hop"
    port=${BASH_REMATCH[1]}
    targets_check_port "$port"
    echo "$port"
}

targets_relay_record() {
    if [[ -n ${2:-} ]]; then
        echo "127.0.0.1:$2" >"$1/relay-next-hop"
    else
        rm -f "$1/relay-next-hop"
    fi
}

targets_relay_need() {
    [[ -s $1/relay-next-hop ]] ||
        targets_die "$1 was not started in relay mode (RELAY_NEXT_HOP was not set at start)"
    cat "$1/relay-next-hop"
}

targets_relay_args() {
    local port=$1 state_dir script
    targets_check_port "$port"
    state_dir=$(abs_dir "$2")
    script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
    printf '%s\n' --inject "smtp://127.0.0.1:$port"
    if declare -F cmd_flush >/dev/null; then
        printf '%s\n' --flush-command "$script flush $state_dir"
    else
        echo "$(basename "$0"): no flush command: the server retries on its own timers" >&2
    fi
}

targets_relay_dispatch() {
    local fn
    case ${1:-} in
    relay-args | flush)
        fn=cmd_${1//-/_}
        declare -F "$fn" >/dev/null || targets_die "'$1' is not set up for this target in relay mode"
        shift
        "$fn" "$@"
        ;;
    *) targets_dispatch "$@" ;;
    esac
}
