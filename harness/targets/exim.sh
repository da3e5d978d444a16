#!/usr/bin/env bash
# exim.sh: run Debian 12's Exim 4.96 (exim4-daemon-light) as a third-party SMTP target for mtpspec.
#
#   exim.sh install                        unpack exim4-daemon-light beside Postfix (skipped if present)
#   exim.sh start PORT STATE_DIR [DOMAIN]  daemon on 127.0.0.1:PORT, PID in STATE_DIR/pid
#   exim.sh stop STATE_DIR                 TERM (then KILL) the PID in STATE_DIR/pid
#   exim.sh mailbox STATE_DIR              JSON array of delivered messages (harness schema)
#   exim.sh clear STATE_DIR                delete the delivered messages
#   exim.sh run-args PORT STATE_DIR        the `mtpspec run` target arguments, one per line
#   exim.sh relay-args PORT STATE_DIR      relay mode: the harness's --inject argument
#
# Needs root. Exim's packages conflict with Postfix in apt (both are the
# mail-transport-agent), so `install` does not install them: it runs
# `apt-get download exim4-daemon-light exim4-base` and unpacks both with
# `dpkg-deb -x` into EXIM_ROOT (default /opt/mtpspec/exim4). It installs the
# shared libraries the binary needs (libidn12 and friends; no conflicts) and
# creates the Debian-exim system user the binary was built for.
#
# Each STATE_DIR is its own Exim: its own configuration (STATE_DIR/exim.conf,
# rewritten on every start and passed with -C), spool (STATE_DIR/spool), logs
# (STATE_DIR/log/mainlog, rejectlog, paniclog) and mail (STATE_DIR/maildir/DOMAIN/,
# one Maildir for every local part of DOMAIN, default example.test, written by
# user Debian-exim). The daemon runs in the foreground (`-bdf`) on 127.0.0.1:PORT
# only, with a queue runner every 5 minutes; TLS is not offered (no certificate),
# there is no reverse DNS or ident lookup, mail to any other domain gets
# "550 relay not permitted" and nothing ever leaves (no remote transport).
# primary_hostname = mx.example.test; message_size_limit = 10485760; every other
# option keeps Exim's built-in default (SMTPUTF8, CHUNKING, PIPELINING, 8BITMIME
# advertised; not Debian's generated configuration, which this replaces).
#
# Modes (environment EXIM_MODE):
#   daemon  (default) the daemon above; the harness connects to 127.0.0.1:PORT.
#   bs      no daemon: `run-args` names the target `exec:EXIM -C STATE_DIR/exim.conf -bs`,
#           so every harness connection is a fresh `exim -bs` speaking SMTP on
#           stdin/stdout (a "local SMTP" session: no client IP). `start` only writes
#           the configuration and checks that `-bs` greets with 220; PORT is unused
#           and there is no PID to stop.
#
# Relay mode (README.md "Relay mode"): with RELAY_NEXT_HOP=127.0.0.1:HOPPORT at start, a
# manualroute router sends relay.test and its subdomains to 127.0.0.1 port HOPPORT (smtp
# transport: STARTTLS when offered, certificate not verified), the RCPT ACL accepts them from
# 127.0.0.1 (other domains are still refused), the retry rule for them is F,1m,2s and the
# daemon's queue runner starts every 2 s (-q2s) instead of 5 min.
#
# Environment: RELAY_NEXT_HOP (relay mode, above; EXIM_MODE=daemon only), EXIM_ROOT (where the
# packages are unpacked), EXIM_MODE (above), EXIM_MAILBOX_WAIT (seconds `mailbox` waits for the
# queue to empty; default 5).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

PYTHON=${PYTHON:-python3}
EXIM_ROOT=${EXIM_ROOT:-/opt/mtpspec/exim4}
EXIM=$EXIM_ROOT/usr/sbin/exim4
EXIM_MODE=${EXIM_MODE:-daemon}
EXIM_USER=Debian-exim
MYHOSTNAME=mx.example.test
# Runtime libraries of exim4-daemon-light 4.96 (its Depends:, minus the
# exim4-base/exim4-config packages that conflict with Postfix).
RUNTIME_LIBS=(libc6 libcrypt1 libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0)

case $EXIM_MODE in
daemon | bs) ;;
*) targets_die "EXIM_MODE must be daemon or bs" ;;
esac

installed() {
    [[ -x $EXIM ]] && getent passwd "$EXIM_USER" >/dev/null && "$EXIM" -C /dev/null -bV >/dev/null 2>&1
}

cmd_install() {
    if installed; then
        return 0
    fi
    targets_need_root "Exim's daemon and its delivery user need it"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${RUNTIME_LIBS[@]}" >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${RUNTIME_LIBS[@]}" >/dev/null
    fi
    if ! getent passwd "$EXIM_USER" >/dev/null; then
        # As exim4-base's postinst does.
        adduser --system --group --quiet --home /var/spool/exim4 --no-create-home \
            --disabled-login --force-badname "$EXIM_USER"
    fi
    local dl
    dl=$(mktemp -d)
    # apt-get download runs as _apt where it can; let it write here.
    chmod 0777 "$dl"
    if ! (cd "$dl" && apt-get download -q exim4-daemon-light exim4-base >/dev/null 2>&1); then
        apt-get update -q >/dev/null
        (cd "$dl" && apt-get download -q exim4-daemon-light exim4-base >/dev/null)
    fi
    mkdir -p "$EXIM_ROOT"
    local deb
    for deb in "$dl"/*.deb; do
        dpkg-deb -x "$deb" "$EXIM_ROOT"
    done
    rm -rf "$dl"
    # dpkg-deb keeps the setuid-root bit of exim4; the daemon runs as root anyway.
    installed || targets_die "unpacked Exim does not run: $("$EXIM" -C /dev/null -bV 2>&1 | head -3)"
    "$EXIM" -C /dev/null -bV 2>/dev/null | head -1
}

# The configuration: Exim's defaults except what a test instance needs. RELAY_PORT
# (optional, relay mode) adds the relay.test route to 127.0.0.1:RELAY_PORT; without it the
# file is the same, octet for octet, as before relay mode existed.
write_config() {
    local port=$1 state_dir=$2 domain=$3 relay_port=${4:-} conf=$2/exim.conf
    local rd=$TARGETS_RELAY_DOMAIN
    {
        cat <<EOF
# Written by harness/targets/exim.sh for one mtpspec test instance.
exim_path = $EXIM
spool_directory = $state_dir/spool
log_file_path = $state_dir/log/%slog
pid_file_path = $state_dir/exim-daemon.pid
primary_hostname = $MYHOSTNAME
qualify_domain = $domain
domainlist local_domains = $domain
daemon_smtp_ports = $port
local_interfaces = 127.0.0.1
disable_ipv6 = true
exim_user = $EXIM_USER
exim_group = $EXIM_USER
never_users = root
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
message_size_limit = 10485760
acl_smtp_rcpt = acl_check_rcpt
keep_environment =
log_selector = +smtp_protocol_error +smtp_syntax_error +received_recipients +smtp_connection
timeout_frozen_after = 1d
ignore_bounce_errors_after = 1h
EOF
        if [[ -n $relay_port ]]; then
            cat <<EOF
# Relay mode: $rd and its subdomains go to the harness's next hop, 127.0.0.1:$relay_port.
domainlist relay_to_domains = $rd : *.$rd
hostlist relay_from_hosts = 127.0.0.1
EOF
        fi
        cat <<EOF

begin acl

acl_check_rcpt:
  accept  domains = +local_domains
EOF
        if [[ -n $relay_port ]]; then
            cat <<EOF
  accept  hosts = +relay_from_hosts
          domains = +relay_to_domains
EOF
        fi
        cat <<EOF
  deny    message = relay not permitted

begin routers

EOF
        if [[ -n $relay_port ]]; then
            # 127.0.0.1 is one of this Exim's own addresses: self = send (and allow_localhost
            # in the transport) let it deliver there, to another port, instead of freezing.
            cat <<EOF
relay_next_hop:
  driver = manualroute
  domains = +relay_to_domains
  route_list = * 127.0.0.1
  self = send
  transport = relay_next_hop
  no_more

EOF
        fi
        cat <<EOF
local_maildir:
  driver = accept
  domains = +local_domains
  transport = local_maildir

begin transports

EOF
        if [[ -n $relay_port ]]; then
            # STARTTLS when offered (Exim's default), the certificate not verified.
            cat <<EOF
relay_next_hop:
  driver = smtp
  port = $relay_port
  allow_localhost
  tls_verify_certificates =
  hosts_try_dane =

EOF
        fi
        cat <<EOF
# One Maildir for every local part: a path built from the local part would let
# "../x@DOMAIN" climb out of the mail directory.
local_maildir:
  driver = appendfile
  maildir_format
  directory = $state_dir/maildir/$domain
  create_directory
  directory_mode = 0700
  mode = 0600
  user = $EXIM_USER
  group = $EXIM_USER
  return_path_add
  envelope_to_add
  delivery_date_add = false

begin retry

EOF
        if [[ -n $relay_port ]]; then
            # Every 2 s (the daemon's queue runner starts every 2 s too) for a minute, then
            # bounce.
            cat <<EOF
$rd     *   F,1m,2s
*.$rd   *   F,1m,2s
EOF
        fi
        cat <<EOF
*   *   F,2h,15m

begin rewrite

begin authenticators
EOF
    } >"$conf"
    chmod 0644 "$conf"
}

# The -H files of messages in the spool whose first delivery attempt has not finished (the
# file still has the -deliver_firsttime flag). Deferred or frozen ones (a bounce to a sender
# in a domain nothing routes to) stay in the spool for good and are not waited for.
pending_first_delivery() {
    [[ -d $1/spool/input ]] || return 0
    find "$1/spool/input" -type f -name '*-H' -exec grep -lx -e '-deliver_firsttime' {} + 2>/dev/null || true
}

# true while the -H file $1 still has its first delivery attempt ahead.
first_delivery_pending() {
    grep -qx -e '-deliver_firsttime' "$1" 2>/dev/null
}

# true if `exim -bs` on this configuration greets with 220.
bs_greets() {
    local conf=$1 line
    line=$(printf 'QUIT\r\n' | timeout 10 "$EXIM" -C "$conf" -bs 2>/dev/null | head -1 || true)
    [[ $line == 220* ]]
}

cmd_start() {
    (($# == 2 || $# == 3)) || targets_usage
    targets_need_root "Exim's daemon and its delivery user need it"
    local port=$1 domain=${3:-example.test} state_dir pid log conf relay_port queue_every=5m
    targets_check_port "$port"
    relay_port=$(targets_relay_port)
    [[ -z $relay_port || $EXIM_MODE == daemon ]] ||
        targets_die "relay mode needs EXIM_MODE=daemon (its queue runner retries)"
    [[ $domain =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || targets_die "bad domain: $domain"
    state_dir=$(abs_dir "$2")
    [[ $state_dir =~ ^[A-Za-z0-9/._+-]+$ ]] ||
        targets_die "STATE_DIR must be a plain path (letters, digits, / . _ + -): $state_dir"
    installed || targets_die "Exim is not installed in $EXIM_ROOT: run '$0 install'"
    if [[ -f $state_dir/pid ]] && targets_pid_alive "$(<"$state_dir/pid")"; then
        targets_die "already running with PID $(<"$state_dir/pid") (stop it first)"
    fi
    conf=$state_dir/exim.conf
    log=$state_dir/log/mainlog
    # The delivery user traverses STATE_DIR to reach the Maildir.
    chmod go+x "$state_dir"
    mkdir -p "$state_dir/spool" "$state_dir/log" "$state_dir/maildir/$domain"
    chown -R "$EXIM_USER:$EXIM_USER" "$state_dir/spool" "$state_dir/log" "$state_dir/maildir"
    chmod 0750 "$state_dir/spool" "$state_dir/log"
    write_config "$port" "$state_dir" "$domain" "$relay_port"
    echo "$domain" >"$state_dir/domain"
    targets_relay_record "$state_dir" "$relay_port"
    if ! "$EXIM" -C "$conf" -bV >/dev/null 2>"$state_dir/config-check.err"; then
        echo "Exim rejects $conf:" >&2
        cat "$state_dir/config-check.err" >&2
        exit 1
    fi

    if [[ $EXIM_MODE == bs ]]; then
        bs_greets "$conf" || targets_die "'$EXIM -C $conf -bs' sent no 220 greeting; log: $(cat "$log" 2>/dev/null)"
        return 0
    fi

    if targets_port_open "$port"; then
        targets_die "127.0.0.1:$port is already in use"
    fi
    # -bdf: the daemon stays in the foreground, so $! is its PID (setsid execs
    # in place: a background child of a non-interactive shell is no group leader).
    # -q5m: its queue runner retries deferred deliveries (relay mode: every 2 s).
    [[ -z $relay_port ]] || queue_every=2s
    setsid "$EXIM" -C "$conf" -bdf "-q$queue_every" </dev/null >>"$state_dir/daemon.out" 2>&1 &
    pid=$!
    echo "$pid" >"$state_dir/pid"
    targets_await_start "Exim" "$port" "$pid" "$state_dir" "$log" "$state_dir/log/paniclog" "$state_dir/daemon.out"
}

cmd_stop() {
    (($# == 1)) || targets_usage
    targets_stop_pid "$1" 10
}

cmd_mailbox() {
    (($# == 1)) || targets_usage
    local state_dir=$1
    local -a pending
    # A 250 means "received": the delivery process writes the Maildir a moment later. Wait
    # for the messages received before this call (not for ones arriving meanwhile from
    # other sessions, or the wait would never end under load).
    mapfile -t pending < <(pending_first_delivery "$state_dir")
    targets_wait_delivered "${EXIM_MAILBOX_WAIT:-5}" first_delivery_pending "${pending[@]}"
    "$PYTHON" "$HERE/maildir_mailbox.py" --received-by "$MYHOSTNAME" "$state_dir/maildir"
}

cmd_clear() {
    (($# == 1)) || targets_usage
    targets_clear_maildir "$1"
}

cmd_run_args() {
    (($# == 2)) || targets_usage
    local port=$1 state_dir
    state_dir=$(abs_dir "$2")
    if [[ $EXIM_MODE == bs ]]; then
        printf '%s\n' --target "exec:$EXIM -C $state_dir/exim.conf -bs" \
            --target-name "exec:exim4 -C exim.conf -bs"
    else
        printf '%s\n' --target "smtp://127.0.0.1:$port"
    fi
}

cmd_relay_args() {
    (($# == 2)) || targets_usage
    [[ $EXIM_MODE == daemon ]] || targets_die "relay mode needs EXIM_MODE=daemon (its queue runner retries)"
    targets_relay_args "$1" "$2"
}

targets_relay_dispatch "$@"
