#!/usr/bin/env bash
# qpsmtpd.sh: run Debian 12's qpsmtpd 0.94 (forkserver) as a third-party SMTP target for mtpspec.
#
#   qpsmtpd.sh install                        apt-get install qpsmtpd (skipped if present)
#   qpsmtpd.sh start PORT STATE_DIR [DOMAIN]  serve SMTP on 127.0.0.1:PORT, PID in STATE_DIR/pid
#   qpsmtpd.sh stop STATE_DIR                 TERM (then KILL) the PID in STATE_DIR/pid
#   qpsmtpd.sh mailbox STATE_DIR              JSON array of delivered messages (harness schema)
#   qpsmtpd.sh clear STATE_DIR                delete the delivered messages
#   qpsmtpd.sh run-args PORT STATE_DIR        the mtpspec run target, with --step-timeout 20s
#   qpsmtpd.sh needs-netns                    exits 0: start only in a network namespace of
#                                             its own with nothing but lo (run-suite.sh makes it)
#
# Needs root (the forkserver binds as root and runs each connection as the package's user
# qpsmtpd). `start` refuses to run outside a namespace with only lo (lib.sh
# targets_need_netns): qpsmtpd looks the client's address up in the DNS before it greets, and
# nothing may leave the machine. The package's service is never started: `install` runs apt
# with a policy-rc.d that denies every start (unless one is there already), and /etc/qpsmtpd is
# not used. Each STATE_DIR has its own configuration in STATE_DIR/qpsmtpd/config (rewritten on
# every start, named by QPSMTPD_CONFIG), spool (STATE_DIR/qpsmtpd/spool), log
# (STATE_DIR/qpsmtpd.log) and mail (STATE_DIR/mail). The server is `qpsmtpd-forkserver -l
# 127.0.0.1 -p PORT -u qpsmtpd` in the foreground of a new session, so the PID is the
# forkserver's; on TERM it sends INT to its connection processes and exits.
#
# The configuration is Debian's /etc/qpsmtpd with these changes: `me` = mx.example.test;
# `rcpthosts` = DOMAIN (default example.test); `relayclients` empty, so the harness on
# 127.0.0.1 is a remote client like any other (Debian lists 127.0.0.1, which would let it relay
# anywhere) and rcpt_ok answers another domain with "550 Relaying denied"; `databytes` =
# QPSMTPD_DATABYTES (Debian sets none: no SIZE and no limit); the queue plugin (Debian's
# debian-queue-method, empty) is qpsmtpd_spool (beside this script, copied to
# STATE_DIR/qpsmtpd/plugins/), which fsyncs one STATE_DIR/mail/<seq>.json per message before
# qpsmtpd replies "250 Queued! <id>". Debian's plugin list otherwise stays as it is, under
# the plugins' 0.94 names as Debian's README.check_plugins asks (earlytalker, which delays the
# greeting by a second, relay, rhsbl, dnsbl with no zones, helo, which adds an X-HELO: field
# on top of every message, badmailfrom, badrcptto, loop, rcpt_ok; under its old name
# check_loop rejects every message), and so does
# qpsmtpd's own handling of the wire, such as "421 See http://smtpd.develooper.com/barelf.html"
# and a close for a ".<LF>" line in DATA. `mailbox` prints the spool (aiosmtpd_handler.py's
# reader): "data" is the message as qpsmtpd passes it to a queue plugin (with the X-HELO:,
# Received: and Authentication-Results: fields it puts on top), LF turned back into CRLF.
#
# Environment: PYTHON (default python3); QPSMTPD_DATABYTES (default 10485760 like the other
# targets; empty keeps Debian's none); QPSMTPD_LOGLEVEL (default 6, LOGINFO, Debian's).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

PYTHON=${PYTHON:-python3}
MYHOSTNAME=mx.example.test
FORKSERVER=/usr/bin/qpsmtpd-forkserver
RUN_USER=qpsmtpd

cmd_install() {
    if [[ -x $FORKSERVER && -d /usr/share/qpsmtpd/plugins ]] && getent passwd "$RUN_USER" >/dev/null &&
        perl -MNet::IP -e 1 2>/dev/null; then
        return 0
    fi
    targets_need_root "apt-get install"
    export DEBIAN_FRONTEND=noninteractive
    # The package's postinst asks invoke-rc.d to start the service: a policy-rc.d that exits
    # 101 forbids that. One already in place (a container's) is left alone.
    local policy=/usr/sbin/policy-rc.d ours=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# mtpspec qpsmtpd.sh install: start no service\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        ours=1
    fi
    # libnet-ip-perl: Debian's default plugin list loads check_relay (the relay plugin), which
    # uses Net::IP, but the package does not depend on it (0.94-5), so without it the
    # forkserver dies at startup.
    local rc=0 pkgs=(qpsmtpd libnet-ip-perl)
    if ! apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null; then
        apt-get update -q >/dev/null || true
        apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null || rc=$?
    fi
    if ((ours)); then
        rm -f "$policy"
    fi
    ((rc == 0)) || targets_die "apt-get install qpsmtpd failed ($rc)"
    # Debian's debconf default is ENABLED="false" (no daemon). Should a service still have
    # come up, it would listen on port 25 or 2525: say so, touch nothing that is not ours.
    local p
    for p in 25 2525; do
        if targets_port_open "$p"; then
            echo "qpsmtpd.sh: warning: something listens on 127.0.0.1:$p after the install" >&2
        fi
    done
    dpkg-query -W -f='qpsmtpd ${Version}\n' qpsmtpd
}

cmd_start() {
    (($# == 2 || $# == 3)) || targets_usage
    targets_need_root "qpsmtpd-forkserver switches to the user $RUN_USER"
    local port=$1 domain=${3:-example.test} state_dir qdir cfg pid log
    targets_check_port "$port"
    [[ $domain =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || targets_die "bad domain: $domain"
    targets_need_netns
    [[ -x $FORKSERVER ]] || targets_die "qpsmtpd is not installed: run '$0 install'"
    state_dir=$(abs_dir "$2")
    # The plugin and qpsmtpd's taint checks accept plain paths only.
    [[ $state_dir =~ ^[A-Za-z0-9/._+-]+$ ]] ||
        targets_die "STATE_DIR must be a plain path (letters, digits, / . _ + -): $state_dir"
    qdir=$state_dir/qpsmtpd
    cfg=$qdir/config
    log=$state_dir/qpsmtpd.log
    if [[ -f $state_dir/pid ]] && targets_pid_alive "$(<"$state_dir/pid")"; then
        targets_die "already running with PID $(<"$state_dir/pid") (stop it first)"
    fi
    if targets_port_open "$port"; then
        targets_die "127.0.0.1:$port is already in use"
    fi

    # The connection processes run as qpsmtpd: they traverse STATE_DIR, read the configuration
    # and write the spool, the mail directory and the log.
    chmod go+x "$state_dir"
    rm -rf "$cfg" "$qdir/plugins"
    mkdir -p "$cfg" "$qdir/plugins" "$qdir/spool" "$state_dir/mail"
    chmod go+x "$qdir"
    cp "$HERE/qpsmtpd_spool" "$qdir/plugins/qpsmtpd_spool"
    echo "$MYHOSTNAME" >"$cfg/me"
    echo "$domain" >"$cfg/rcpthosts"
    : >"$cfg/relayclients"
    local f
    for f in badhelo badmailfrom badrcptto dnsbl_zones rhsbl_zones; do
        : >"$cfg/$f"
    done
    printf '%s\n' "$qdir/plugins" /usr/share/qpsmtpd/plugins >"$cfg/plugin_dirs"
    echo "$qdir/spool" >"$cfg/spool_dir"
    echo "${QPSMTPD_LOGLEVEL:-6}" >"$cfg/loglevel"
    printf 'logging/file loglevel LOGINFO %s\n' "$log" >"$cfg/logging"
    local size=${QPSMTPD_DATABYTES-10485760}
    if [[ -n $size ]]; then
        [[ $size =~ ^[0-9]+$ ]] || targets_die "QPSMTPD_DATABYTES must be a number of bytes: $size"
        echo "$size" >"$cfg/databytes"
    fi
    # Debian's plugin list (/etc/qpsmtpd/plugins in qpsmtpd 0.94-5) with the 0.94 names, as
    # Debian's README.check_plugins says to do (its check_* names are wrappers, and
    # check_loop's never runs loop's init, so every message got "552 Too many hops"), and
    # the queue include replaced.
    cat >"$cfg/plugins" <<EOF
earlytalker action log
relay
rhsbl
dnsbl
helo
badmailfrom
badrcptto
loop
rcpt_ok
qpsmtpd_spool $state_dir/mail
EOF
    chmod -R go+rX "$cfg" "$qdir/plugins"
    chown "$RUN_USER:" "$qdir/spool" "$state_dir/mail"
    chmod 0700 "$qdir/spool"
    : >"$log"
    chown "$RUN_USER:" "$log"
    # Its greeting comes late (see cmd_run_args): read the 220 with time to spare.
    TARGETS_GREETING_READ_SECS=10

    # setsid: not in the caller's process group, so only `stop` ends it. In a non-interactive
    # shell the background child is no group leader, so setsid execs in place, and so do the
    # subshell and env: $! is the forkserver (perl) itself.
    # The working directory is STATE_DIR/qpsmtpd: where there is a .git, qpsmtpd appends
    # `git describe` of it to its version (greeting, Received:).
    (cd "$qdir" && exec setsid env QPSMTPD_CONFIG="$cfg" "$FORKSERVER" -l 127.0.0.1 -p "$port" \
        -u "$RUN_USER") </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$state_dir/pid"
    targets_await_start "qpsmtpd" "$port" "$pid" "$state_dir" "$log"
}

# The harness waits 20 s for a reply instead of 5: the greeting comes 4 to 6 s after the
# connect here (qpsmtpd's PTR lookup of 127.0.0.1 times out after 3 s, as the namespace has no
# DNS server, then check_earlytalker waits 1 s for an early talker).
cmd_run_args() {
    (($# == 2)) || targets_usage
    targets_check_port "$1"
    printf '%s\n' --target "smtp://127.0.0.1:$1" --step-timeout 20s
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

TARGETS_NEEDS_NETNS=1
targets_dispatch "$@"
