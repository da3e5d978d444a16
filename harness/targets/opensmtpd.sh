#!/usr/bin/env bash
# opensmtpd.sh: run Debian 12's OpenSMTPD 6.8 (package opensmtpd) as a third-party SMTP target for mtpspec.
#
#   opensmtpd.sh install                        unpack opensmtpd beside Postfix (skipped if present)
#   opensmtpd.sh start PORT STATE_DIR [DOMAIN]  smtpd -d on 127.0.0.1:PORT, PID in STATE_DIR/pid
#   opensmtpd.sh stop STATE_DIR                 TERM (then KILL) the PID in STATE_DIR/pid
#   opensmtpd.sh mailbox STATE_DIR              JSON array of delivered messages (harness schema)
#   opensmtpd.sh clear STATE_DIR                delete the delivered messages
#   opensmtpd.sh run-args PORT STATE_DIR       the `mtpspec run` target arguments, one per line
#   opensmtpd.sh relay-args PORT STATE_DIR     relay mode: the harness's --inject and --flush-command
#   opensmtpd.sh flush STATE_DIR               relay mode: `smtpctl schedule all` (retry now)
#
# Needs root. The opensmtpd package conflicts with Postfix in apt (both are the
# mail-transport-agent), so `install` runs `apt-get download opensmtpd` and unpacks it with
# `dpkg-deb -x` into OPENSMTPD_ROOT (default /opt/mtpspec/opensmtpd), installs its runtime
# libraries (no conflicts), and creates the users and groups its postinst would (opensmtpd,
# opensmtpq) and the empty chroot directory /var/lib/opensmtpd/empty.
#
# The server is `smtpd -d -f STATE_DIR/smtpd.conf` (foreground, log on stderr into
# STATE_DIR/smtpd.log). The configuration (rewritten on every start) listens on
# 127.0.0.1 port PORT only, with hostname mx.example.test, no TLS, a 10485760-octet message
# limit, and one rule: mail for DOMAIN (default example.test) or the host name, any local part
# (smtpd qualifies a bare RCPT TO:<Postmaster> with its host name), is mapped by
# a catch-all virtual table to the user nobody and delivered by smtpd's `maildir` method
# (the package's mail.maildir) into STATE_DIR/maildir/DOMAIN/, one Maildir. smtpd runs its
# delivery helpers from /usr/libexec/opensmtpd, so `install` makes that a symlink to the
# unpacked helpers when the path is free. Every other domain is refused ("550 Invalid
# recipient"); nothing is relayed.
#
# smtpd's spool (/var/spool/smtpd) and control socket (/var/run/smtpd.sock) are built into
# the binary, so only one instance runs at a time: `start` refuses while another one
# started by this script runs, and empties the spool's queue before it starts, so no message
# of an earlier run is delivered into a new STATE_DIR.
#
# Relay mode (README.md "Relay mode"): with RELAY_NEXT_HOP=127.0.0.1:HOPPORT at start, mail
# "from local" (127.0.0.1, and smtpd's own bounces) for relay.test or *.relay.test goes by
# `relay host smtp://127.0.0.1:HOPPORT` (no MX lookup; STARTTLS when offered, certificate not
# verified), and `queue ttl 1m` bounces what is still deferred after a minute. smtpd's retry
# delays are built in and grow from minutes, so `flush` runs `smtpctl schedule all`.
#
# Environment: RELAY_NEXT_HOP (relay mode, above); OPENSMTPD_ROOT (above);
# OPENSMTPD_MAILBOX_WAIT (seconds `mailbox` waits for the messages queued before the call to
# leave the queue; default 5).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

PYTHON=${PYTHON:-python3}
OPENSMTPD_ROOT=${OPENSMTPD_ROOT:-/opt/mtpspec/opensmtpd}
SMTPD=$OPENSMTPD_ROOT/usr/sbin/smtpd
SMTPCTL=$OPENSMTPD_ROOT/usr/sbin/smtpctl
# smtpd runs its delivery helpers (mail.maildir, mail.mda, ...) from this built-in path.
LIBEXEC=/usr/libexec/opensmtpd
MAILDIR_MDA=$LIBEXEC/mail.maildir
SPOOL=/var/spool/smtpd
CHROOT=/var/lib/opensmtpd/empty
# The PID of the one instance this script runs at a time (the spool is shared).
INSTANCE=/run/mtpspec-opensmtpd.pid
MYHOSTNAME=mx.example.test
DELIVERY_USER=nobody
# opensmtpd 6.8.0p2's Depends:, less debconf/adduser (present) and ed (used only by its postinst).
RUNTIME_LIBS=(libc6 libcrypt1 libdb5.3 libevent-2.1-7 libpam0g libssl3 zlib1g)

installed() {
    [[ -x $SMTPD && -x $MAILDIR_MDA && -d $CHROOT ]] &&
        getent passwd opensmtpd >/dev/null && getent passwd opensmtpq >/dev/null
}

cmd_install() {
    if installed; then
        return 0
    fi
    targets_need_root "smtpd needs it"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${RUNTIME_LIBS[@]}" >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${RUNTIME_LIBS[@]}" >/dev/null
    fi
    # As the package's postinst does.
    local name
    for name in opensmtpd opensmtpq; do
        getent group "$name" >/dev/null || addgroup --quiet --system "$name"
        getent passwd "$name" >/dev/null ||
            adduser --quiet --system --home "$CHROOT" --no-create-home --disabled-password \
                --ingroup "$name" "$name"
    done
    mkdir -p "$CHROOT"
    chmod 0755 "$CHROOT"
    local dl
    dl=$(mktemp -d)
    chmod 0777 "$dl" # apt-get download runs as _apt where it can
    if ! (cd "$dl" && apt-get download -q opensmtpd >/dev/null 2>&1); then
        apt-get update -q >/dev/null
        (cd "$dl" && apt-get download -q opensmtpd >/dev/null)
    fi
    mkdir -p "$OPENSMTPD_ROOT"
    dpkg-deb -x "$dl"/opensmtpd_*.deb "$OPENSMTPD_ROOT"
    rm -rf "$dl"
    # The helpers must be where smtpd looks for them: a symlink to the unpacked ones (the
    # package is not installed, so nothing else owns that path).
    if [[ -L $LIBEXEC || ! -e $LIBEXEC ]]; then
        ln -sfn "$OPENSMTPD_ROOT$LIBEXEC" "$LIBEXEC"
    elif [[ ! -x $MAILDIR_MDA ]]; then
        targets_die "$LIBEXEC exists but has no mail.maildir"
    fi
    installed || targets_die "unpacking opensmtpd into $OPENSMTPD_ROOT failed"
    echo "OpenSMTPD unpacked in $OPENSMTPD_ROOT: $("$SMTPD" -h 2>&1 | head -1)"
}

# RELAY_PORT (optional, relay mode) adds the relay.test route to 127.0.0.1:RELAY_PORT; without
# it the file is the same, octet for octet, as before relay mode existed.
write_config() {
    local port=$1 state_dir=$2 domain=$3 relay_port=${4:-} rd=$TARGETS_RELAY_DOMAIN
    printf '@ %s\n' "$DELIVERY_USER" >"$state_dir/vusers"
    cat >"$state_dir/smtpd.conf" <<EOF
# Written by harness/targets/opensmtpd.sh for one mtpspec test instance.
table vusers file:$state_dir/vusers
smtp max-message-size 10485760
listen on 127.0.0.1 port $port hostname $MYHOSTNAME
action "maildir" maildir "$state_dir/maildir/$domain" virtual <vusers>
match from any for domain { "$domain", "$MYHOSTNAME" } action "maildir"
EOF
    if [[ -n $relay_port ]]; then
        # "from local": 127.0.0.1 and smtpd's own bounces. smtp://: STARTTLS when offered,
        # the certificate not verified. The retry delays are built in (flush forces a run).
        # smtpd warns the sender once an envelope's next retry is due more than
        # warn-interval (4h) after its arrival; the delay grows as 400 s x retries^2, so
        # after six retries forced by flush it would warn of "more than 4 hours" within
        # seconds. 365d keeps that artifact out; expiry (queue ttl) still bounces.
        cat >>"$state_dir/smtpd.conf" <<EOF
# Relay mode: $rd and its subdomains go to the harness's next hop, 127.0.0.1:$relay_port.
queue ttl 1m
bounce warn-interval 365d
action "relay" relay host smtp://127.0.0.1:$relay_port helo $MYHOSTNAME
match from local for domain { "$rd", "*.$rd" } action "relay"
EOF
    fi
    chmod 0644 "$state_dir/smtpd.conf" "$state_dir/vusers"
}

# Empties smtpd's queue (only called while no instance runs).
purge_spool() {
    local d
    for d in queue incoming temporary corrupt purge offline; do
        if [[ -d $SPOOL/$d ]]; then
            find "$SPOOL/$d" -mindepth 1 -delete
        fi
    done
}

cmd_start() {
    (($# == 2 || $# == 3)) || targets_usage
    targets_need_root "smtpd needs it"
    local port=$1 domain=${3:-example.test} state_dir pid log other relay_port
    targets_check_port "$port"
    relay_port=$(targets_relay_port)
    [[ $domain =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || targets_die "bad domain: $domain"
    state_dir=$(abs_dir "$2")
    [[ $state_dir =~ ^[A-Za-z0-9/._+-]+$ ]] ||
        targets_die "STATE_DIR must be a plain path (letters, digits, / . _ + -): $state_dir"
    installed || targets_die "OpenSMTPD is not installed in $OPENSMTPD_ROOT: run '$0 install'"
    if [[ -f $INSTANCE ]]; then
        other=$(<"$INSTANCE")
        if targets_pid_alive "$other"; then
            targets_die "another OpenSMTPD instance runs (PID $other): smtpd's spool is shared, stop it first"
        fi
    fi
    if targets_port_open "$port"; then
        targets_die "127.0.0.1:$port is already in use"
    fi
    log=$state_dir/smtpd.log
    chmod go+x "$state_dir"
    mkdir -p "$state_dir/maildir/$domain"
    chown -R "$DELIVERY_USER" "$state_dir/maildir"
    write_config "$port" "$state_dir" "$domain" "$relay_port"
    targets_relay_record "$state_dir" "$relay_port"
    if ! "$SMTPD" -n -f "$state_dir/smtpd.conf" >"$state_dir/config-check.out" 2>&1; then
        echo "smtpd rejects $state_dir/smtpd.conf:" >&2
        cat "$state_dir/config-check.out" >&2
        exit 1
    fi
    purge_spool
    : >"$log"
    # setsid: not in the caller's process group; in a non-interactive shell it execs in
    # place, so $! is smtpd's parent process (-d: no daemonizing).
    setsid "$SMTPD" -d -f "$state_dir/smtpd.conf" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$state_dir/pid"
    echo "$pid" >"$INSTANCE"
    targets_await_start "OpenSMTPD" "$port" "$pid" "$state_dir" "$log"
}

cmd_stop() {
    (($# == 1)) || targets_usage
    local pid=""
    [[ -f $1/pid ]] && pid=$(<"$1/pid")
    targets_stop_pid "$1" 10
    if [[ -n $pid && -f $INSTANCE && $(<"$INSTANCE") == "$pid" ]]; then
        rm -f "$INSTANCE"
    fi
}

# true while the envelope file $1 is still in the queue.
still_queued() {
    [[ -e $1 ]]
}

# Envelope files in the queue (queued, not yet delivered or bounced).
queued_envelopes() {
    [[ -d $SPOOL/queue ]] || return 0
    find "$SPOOL/queue" -mindepth 3 -path '*/envelopes/*' -type f 2>/dev/null || true
}

cmd_mailbox() {
    (($# == 1)) || targets_usage
    local state_dir=$1
    local -a pending
    # A 250 means "queued": delivery follows a moment later. Wait for the envelopes queued
    # before this call only (other sessions keep queueing new ones).
    mapfile -t pending < <(queued_envelopes)
    targets_wait_delivered "${OPENSMTPD_MAILBOX_WAIT:-5}" still_queued "${pending[@]}"
    "$PYTHON" "$HERE/maildir_mailbox.py" --received-by "$MYHOSTNAME" "$state_dir/maildir"
}

cmd_clear() {
    (($# == 1)) || targets_usage
    targets_clear_maildir "$1"
}

# smtpd looks up the client's name before it greets; where the resolver is slow that takes
# seconds now and then (RFC 5321 4.5.3.2.1 gives a client 5 minutes for the 220), so a reply
# may take up to 20 s here instead of the harness's default 5 s.
cmd_run_args() {
    (($# == 2)) || targets_usage
    printf '%s\n' --target "smtp://127.0.0.1:$1" --step-timeout 20s
}

cmd_relay_args() {
    (($# == 2)) || targets_usage
    targets_relay_args "$1" "$2"
}

# Relay mode: smtpd's retry delays are built in (minutes, growing), so the harness runs this
# to retry every deferred envelope now. Prints "N envelope(s) scheduled".
cmd_flush() {
    (($# == 1)) || targets_usage
    targets_relay_need "$1" >/dev/null
    if [[ ! -f $1/pid ]] || ! targets_pid_alive "$(<"$1/pid")"; then
        targets_die "no smtpd runs for $1"
    fi
    # smtpctl insists on running setgid opensmtpq (the package's postinst sets that with
    # dpkg-statoverride; the unpacked copy has no such bit): run it with that group instead.
    command -v setpriv >/dev/null || targets_die "setpriv (util-linux) is missing"
    setpriv --regid=opensmtpq --clear-groups "$SMTPCTL" schedule all
}

targets_relay_dispatch "$@"
