#!/usr/bin/env bash
# haraka.sh: run Haraka (npm package "Haraka", pinned) as a third-party SMTP target for mtpspec.
#
#   haraka.sh install                        npm install Haraka@HARAKA_VERSION into HARAKA_HOME
#   haraka.sh start PORT STATE_DIR [DOMAIN]  serve SMTP on 127.0.0.1:PORT, PID in STATE_DIR/pid
#   haraka.sh stop STATE_DIR                 TERM (then KILL) the PID in STATE_DIR/pid
#   haraka.sh mailbox STATE_DIR              JSON array of delivered messages (harness schema)
#   haraka.sh clear STATE_DIR                delete the delivered messages
#   haraka.sh needs-netns                    exits 0: start only in a network namespace of
#                                            its own with nothing but lo (run-suite.sh makes it)
#   haraka.sh relay-args PORT STATE_DIR      relay mode: the harness's --inject and --flush-command
#   haraka.sh flush STATE_DIR                relay mode: SIGHUP to the PID (retry the deferred now)
#
# `start` refuses to run outside such a namespace (lib.sh targets_need_netns). It writes
# Haraka's configuration to STATE_DIR/haraka/config (rewritten on every start) and runs
# `node HARAKA_HOME/node_modules/Haraka/bin/haraka -c STATE_DIR/haraka` in the foreground of a
# new session, so the PID is Haraka's own (one process: smtp.ini `nodes=0`, no cluster).
# Configuration: smtp.ini `listen=127.0.0.1:PORT`; `me` = mx.example.test; `host_list` = DOMAIN (default
# example.test); connection.ini is Haraka's own with [max] bytes = HARAKA_SIZE; `plugins` =
# rcpt_to.in_host_list (from Haraka's default list: a recipient outside host_list gets
# "550 I cannot deliver mail for <...>", so there is no relaying) and haraka_spool (beside
# this script, copied to STATE_DIR/haraka/plugins/), which takes the place of the default
# queue/smtp_forward. The default list's mail_from.is_resolvable is left out: it looks the
# sender's domain up in the DNS, which the namespace has none of. Everything else is Haraka's
# default, including its refusal of a bare LF in DATA ("451 Bare line-feed", then it closes).
# haraka_spool fsyncs one STATE_DIR/mail/<seq>.json per message before Haraka replies
# "250 Message Queued (<uuid>)"; `mailbox` prints them (aiosmtpd_handler.py's reader), "id"
# being that uuid and "data" the message exactly as Haraka passes it to a queue plugin (with
# the Received: field Haraka puts on top). Log: STATE_DIR/haraka.log.
#
# Relay mode (README.md "Relay mode"): with RELAY_NEXT_HOP=127.0.0.1:HOPPORT at start, the plugin
# haraka_relay (beside this script) comes first in `plugins`: from 127.0.0.1, a recipient in
# relay.test or a subdomain is accepted without AUTH and makes the transaction a relaying one,
# so Haraka's own outbound queues it (not haraka_spool), and its get_mx hook sends relay.test and
# its subdomains to 127.0.0.1:HOPPORT (every other domain: no route, no DNS lookup). outbound.ini
# sets temp_fail_intervals=5s*12 (5 s is the least Haraka takes: a retry every 5 s, the bounce at
# the 13th temporary failure, about a minute on Haraka's own timer); a 5yz is bounced at once,
# with the template Haraka ships (outbound.bounce_message, copied). Outbound STARTTLS is Haraka's
# default: opportunistic, the certificate not verified (tls.ini's rejectUnauthorized, false when
# unset). `flush` sends SIGHUP, Haraka's documented "flush the temp fail queue", to the PID in
# STATE_DIR/pid; each retry it causes counts towards the 13, so flushing brings the bounce nearer.
#
# Environment: RELAY_NEXT_HOP (relay mode, above); HARAKA_VERSION (default 3.3.4); HARAKA_HOME
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/mtpspec/haraka); NODE (default node, 20 or newer);
# PYTHON (default python3); HARAKA_SIZE (default 10485760 like the other targets; empty keeps
# Haraka's 26214400).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

HARAKA_VERSION=${HARAKA_VERSION:-3.3.4}
HARAKA_HOME=${HARAKA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/mtpspec/haraka}
NODE=${NODE:-node}
PYTHON=${PYTHON:-python3}
MYHOSTNAME=mx.example.test
PKG=$HARAKA_HOME/node_modules/Haraka

installed_version() {
    "$NODE" -e 'process.stdout.write(require(process.argv[1]).version)' "$PKG/package.json" 2>/dev/null
}

cmd_install() {
    command -v "$NODE" >/dev/null || targets_die "$NODE not found (Haraka needs Node.js 20 or newer)"
    local major
    major=$("$NODE" -p 'process.versions.node.split(".")[0]')
    ((major >= 20)) || targets_die "Node.js $major is too old for Haraka $HARAKA_VERSION (needs 20+)"
    if [[ $(installed_version || true) == "$HARAKA_VERSION" ]]; then
        return 0
    fi
    command -v npm >/dev/null || targets_die "npm not found"
    mkdir -p "$HARAKA_HOME"
    if [[ ! -f $HARAKA_HOME/package.json ]]; then
        printf '{"name": "mtpspec-haraka", "private": true}\n' >"$HARAKA_HOME/package.json"
    fi
    # --ignore-scripts: the only install script among the dependencies builds modern-syslog,
    # which the syslog plugin alone uses (not enabled here).
    npm install --prefix "$HARAKA_HOME" --no-audit --no-fund --save-exact --ignore-scripts \
        --loglevel=error "Haraka@$HARAKA_VERSION" >&2
    [[ $(installed_version || true) == "$HARAKA_VERSION" ]] ||
        targets_die "npm did not install Haraka $HARAKA_VERSION into $HARAKA_HOME"
    echo "Haraka $HARAKA_VERSION in $HARAKA_HOME"
}

# Relay mode's files in ROOT (README.md "Relay mode"; cmd_start lists the plugin first): the
# plugin haraka_relay and its settings, routing relay.test and its subdomains to
# 127.0.0.1:HOPPORT; outbound retries every 5 s, 12 times; Haraka's own bounce template.
# Without relay mode none of them is written: the configuration is the one written before.
write_relay_config() {
    local root=$1 hop_port=$2 cfg=$1/config
    cp "$HERE/haraka_relay.js" "$root/plugins/haraka_relay.js"
    printf '[main]\ndomain=%s\nclient=127.0.0.1\nhost=127.0.0.1\nport=%s\n' \
        "$TARGETS_RELAY_DOMAIN" "$hop_port" >"$cfg/haraka_relay.ini"
    # 5s is the shortest interval Haraka accepts (outbound/config.js); the 13th temporary
    # failure in a row bounces. Everything else in outbound.ini keeps Haraka's default
    # (enable_tls: opportunistic STARTTLS; nothing about verification, which tls.ini's
    # rejectUnauthorized, false unless set, governs).
    printf '[main]\ntemp_fail_intervals=5s*12\n' >"$cfg/outbound.ini"
    # The bounce text Haraka ships. Outbound reads only Haraka's config directory (`haraka -i`
    # does not copy this file either); without it a bounce has no From:, To: or Subject: (tried:
    # only the Date: and Message-Id: that outbound adds to any message lacking them).
    cp "$PKG/config/outbound.bounce_message" "$cfg/outbound.bounce_message"
}

cmd_start() {
    (($# == 2 || $# == 3)) || targets_usage
    local port=$1 domain=${3:-example.test} state_dir root cfg pid log relay_port
    targets_check_port "$port"
    relay_port=$(targets_relay_port)
    [[ $domain =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || targets_die "bad domain: $domain"
    targets_need_netns
    [[ $(installed_version || true) == "$HARAKA_VERSION" ]] ||
        targets_die "Haraka $HARAKA_VERSION is not installed in $HARAKA_HOME: run '$0 install'"
    state_dir=$(abs_dir "$2")
    # relay-args prints `flush STATE_DIR` as one line that the harness splits on spaces.
    [[ -z $relay_port || $state_dir =~ ^[A-Za-z0-9/._+-]+$ ]] ||
        targets_die "in relay mode STATE_DIR must be a plain path (letters, digits, / . _ + -): $state_dir"
    root=$state_dir/haraka
    cfg=$root/config
    log=$state_dir/haraka.log
    if [[ -f $state_dir/pid ]] && targets_pid_alive "$(<"$state_dir/pid")"; then
        targets_die "already running with PID $(<"$state_dir/pid") (stop it first)"
    fi
    if targets_port_open "$port"; then
        targets_die "127.0.0.1:$port is already in use"
    fi

    rm -rf "$cfg" "$root/plugins"
    mkdir -p "$cfg" "$root/plugins" "$state_dir/mail"
    cp "$HERE/haraka_spool.js" "$root/plugins/haraka_spool.js"
    # nodes=0: no cluster, so the PID is the one process that serves (Haraka's default, 1, forks
    # a cluster worker under a master).
    printf 'listen=127.0.0.1:%s\nnodes=0\n' "$port" >"$cfg/smtp.ini"
    echo "$MYHOSTNAME" >"$cfg/me"
    echo "$domain" >"$cfg/host_list"
    {
        # Relay mode: haraka_relay first, so that its rcpt hook sees every recipient before
        # rcpt_to.in_host_list does.
        [[ -z $relay_port ]] || echo haraka_relay
        printf 'rcpt_to.in_host_list\nharaka_spool\n'
    } >"$cfg/plugins"
    printf '[main]\ndir=%s\n' "$state_dir/mail" >"$cfg/haraka_spool.ini"
    cp "$PKG/config/connection.ini" "$cfg/connection.ini"
    local size=${HARAKA_SIZE-10485760}
    if [[ -n $size ]]; then
        [[ $size =~ ^[0-9]+$ ]] || targets_die "HARAKA_SIZE must be a number of bytes: $size"
        # [max] bytes= is the only "bytes" key in Haraka's connection.ini.
        sed -i "s/^bytes=.*/bytes=$size/" "$cfg/connection.ini"
        grep -qx "bytes=$size" "$cfg/connection.ini" ||
            targets_die "no [max] bytes= line in $PKG/config/connection.ini"
    fi
    [[ -z $relay_port ]] || write_relay_config "$root" "$relay_port"
    targets_relay_record "$state_dir" "$relay_port"

    : >"$log"
    # setsid: not in the caller's process group, so only `stop` ends it. In a non-interactive
    # shell the background child is no group leader, so setsid execs in place and $! is node.
    setsid "$NODE" "$PKG/bin/haraka" -c "$root" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$state_dir/pid"
    targets_await_start "Haraka" "$port" "$pid" "$state_dir" "$log"
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

cmd_relay_args() {
    (($# == 2)) || targets_usage
    targets_relay_args "$1" "$2"
}

# SIGHUP makes Haraka put every deferred message back on its delivery queue at once
# (haraka.js: "Flushing the temp fail queue"; docs/Outbound.md). Sent to the PID of this
# STATE_DIR only, the one Haraka process (nodes=0).
cmd_flush() {
    (($# == 1)) || targets_usage
    local state_dir=$1 pid
    targets_relay_need "$state_dir" >/dev/null
    [[ -f $state_dir/pid ]] || targets_die "no $state_dir/pid: Haraka is not running"
    pid=$(<"$state_dir/pid")
    targets_pid_alive "$pid" || targets_die "Haraka (PID $pid) is not running"
    kill -HUP "$pid"
    echo "deferred queue flushed (SIGHUP to PID $pid)"
}

TARGETS_NEEDS_NETNS=1
targets_relay_dispatch "$@"
