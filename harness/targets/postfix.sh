#!/usr/bin/env bash
# postfix.sh: run Debian 12's Postfix (3.7) as a third-party SMTP target for mtpspec.
#
#   postfix.sh install                        apt-get install postfix (skipped if present)
#   postfix.sh start PORT STATE_DIR [DOMAIN]  own instance on 127.0.0.1:PORT, master PID in STATE_DIR/pid
#   postfix.sh stop STATE_DIR                 TERM (then KILL) the master PID in STATE_DIR/pid
#   postfix.sh mailbox STATE_DIR              JSON array of delivered messages (harness schema)
#   postfix.sh clear STATE_DIR                delete the delivered messages
#   postfix.sh relay-args PORT STATE_DIR      relay mode: the harness's --inject argument
#
# Needs root. Each STATE_DIR is a separate Postfix instance (`postfix -c
# STATE_DIR/etc`): its own main.cf/master.cf (rewritten on every start),
# queue (STATE_DIR/spool), data directory (STATE_DIR/data), log
# (STATE_DIR/postfix.log) and mail (STATE_DIR/maildir/DOMAIN/, one Maildir for
# every local part of DOMAIN, default example.test). /etc/postfix is not
# touched, so several instances and the package's own can coexist.
#
# The only listener is 127.0.0.1:PORT (Debian's "smtp inet" on port 25 is
# removed from the instance's master.cf; inet_interfaces = loopback-only,
# inet_protocols = ipv4). Mail to DOMAIN (any local part) is delivered by
# virtual(8); every other domain gets "554 5.7.1 Relay access denied"
# (smtpd_relay_restrictions = reject_unauth_destination, without
# permit_mynetworks), and nothing ever leaves the host (default_transport and
# relay_transport are error:). myhostname = mx.example.test, banner
# "$myhostname ESMTP", message_size_limit = 10485760, compatibility_level 3.6,
# chroot off. local_header_rewrite_clients is emptied so Postfix treats the
# harness like any remote client and does not add missing Date:, Message-ID:
# or From: headers. Everything else keeps Postfix's defaults (for example
# message_drop_headers removes client-sent Bcc:, Resent-Bcc:, Content-Length:
# and Return-Path: headers).
#
# Relay mode (README.md "Relay mode"): with RELAY_NEXT_HOP=127.0.0.1:HOPPORT at start,
# relay.test and its subdomains are relay_domains (so anyone, 127.0.0.1 included, may send
# mail to them; other domains are still refused) and transport_maps sends them to
# smtp:[127.0.0.1]:HOPPORT (no MX or DNS lookup). Retries: queue_run_delay 1s, backoff
# 2s..4s, maximal_queue_lifetime and bounce_queue_lifetime 60s. Outbound TLS:
# smtp_tls_security_level = may (STARTTLS when offered, certificate not verified).
#
# Environment:
#   RELAY_NEXT_HOP        127.0.0.1:PORT: relay mode (above).
#   POSTFIX_BARE_NEWLINE  no|normalize|reject: sets smtpd_forbid_bare_newline
#                         (and empties smtpd_forbid_bare_newline_exclusions, which
#                         would otherwise exempt 127.0.0.0/8). Unset: Debian's
#                         default (no, so a bare LF ends a line).
#   POSTFIX_EXTRA         extra main.cf settings, one "name = value" per line,
#                         applied last with postconf -e.
#   POSTFIX_VIRTUAL_USER  user that owns the Maildir and virtual(8) runs as;
#                         default: owner of STATE_DIR if its uid >= 100, else nobody.
#   POSTFIX_MAILBOX_WAIT  seconds `mailbox` waits for the queue (incoming,
#                         active, maildrop) to drain before reading; default 5.
#   POSTFIX_MAILBOX_LF    "keep" to leave the Maildir's LF line ends as stored
#                         instead of turning them back into CRLF.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

PYTHON=${PYTHON:-python3}
MYHOSTNAME=mx.example.test

cmd_install() {
    if [[ -x /usr/sbin/postfix && -x /usr/lib/postfix/sbin/master ]] && command -v postconf >/dev/null; then
        return 0
    fi
    targets_need_root "Postfix's master and virtual(8) need it"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends postfix >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends postfix >/dev/null
    fi
    postconf -d mail_version
}

# Queue files still on their way to a mailbox.
queue_busy() {
    local spool=$1 d
    for d in incoming active maildrop; do
        [[ -d $spool/$d ]] || continue
        if [[ -n $(find "$spool/$d" -type f -print -quit 2>/dev/null) ]]; then
            return 0
        fi
    done
    return 1
}

# Postfix commands write their errors to stderr only when it is a terminal
# (otherwise to syslog or postlogd, which may not run yet): re-run the
# instance's check under script(1) to show them, then print the log.
show_diagnostics() {
    local etc=$1 log=$2
    echo "postfix -c $etc check (under a pty):" >&2
    script -qec "postfix -c '$etc' check" /dev/null </dev/null >&2 || true
    echo "log ($log):" >&2
    cat "$log" >&2 || true
}

cmd_start() {
    (($# == 2 || $# == 3)) || targets_usage
    targets_need_root "Postfix's master and virtual(8) need it"
    local port=$1 domain=${3:-example.test} state_dir etc pid log vuser vuid vgid owner_uid relay_port
    targets_check_port "$port"
    relay_port=$(targets_relay_port)
    [[ $domain =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || targets_die "bad domain: $domain"
    state_dir=$(abs_dir "$2")
    [[ $state_dir =~ ^[A-Za-z0-9/._+-]+$ ]] ||
        targets_die "STATE_DIR must be a plain path (letters, digits, / . _ + -): $state_dir"
    etc=$state_dir/etc
    log=$state_dir/postfix.log
    [[ -x /usr/sbin/postfix ]] || targets_die "Postfix is not installed: run '$0 install'"
    if [[ -f $state_dir/pid ]] && targets_pid_alive "$(<"$state_dir/pid")"; then
        targets_die "already running with PID $(<"$state_dir/pid") (stop it first)"
    fi
    if targets_port_open "$port"; then
        targets_die "127.0.0.1:$port is already in use"
    fi

    # Postfix daemons run as user postfix and must traverse STATE_DIR.
    chmod go+x "$state_dir"

    owner_uid=$(stat -c %u "$state_dir")
    if [[ -n ${POSTFIX_VIRTUAL_USER:-} ]]; then
        vuser=$POSTFIX_VIRTUAL_USER
    elif ((owner_uid >= 100)) && getent passwd "$owner_uid" >/dev/null; then
        vuser=$(getent passwd "$owner_uid" | cut -d: -f1)
    else
        vuser=nobody
    fi
    vuid=$(id -u "$vuser") || targets_die "no such user: $vuser"
    vgid=$(id -g "$vuser")
    ((vuid >= 100)) || targets_die "virtual(8) refuses uid $vuid < virtual_minimum_uid (100): set POSTFIX_VIRTUAL_USER"

    mkdir -p "$state_dir/maildir/$domain" "$state_dir/data" "$state_dir/spool"
    chown "$vuid:$vgid" "$state_dir/maildir" "$state_dir/maildir/$domain"
    chown postfix "$state_dir/data"

    rm -rf "$etc"
    mkdir -p "$etc"
    : >"$etc/main.cf"
    cp /etc/postfix/master.cf "$etc/master.cf"
    # Any local part of DOMAIN goes to one Maildir, DOMAIN/ (the trailing
    # slash means Maildir). Using the local part in the path would let
    # "../x@DOMAIN" climb out of the mail directory.
    printf '/@%s$/ %s/\n' "${domain//./\\.}" "$domain" >"$etc/vmailbox"

    local -a settings=(
        "compatibility_level = 3.6"
        "queue_directory = $state_dir/spool"
        "data_directory = $state_dir/data"
        "myhostname = $MYHOSTNAME"
        "mydomain = example.test"
        "myorigin = $domain"
        "smtpd_banner = \$myhostname ESMTP"
        "inet_interfaces = loopback-only"
        "inet_protocols = ipv4"
        "mydestination ="
        "local_recipient_maps ="
        "alias_maps ="
        "alias_database ="
        "relay_domains ="
        "mynetworks = 127.0.0.0/8"
        "smtpd_relay_restrictions = reject_unauth_destination"
        "smtpd_recipient_restrictions ="
        "local_header_rewrite_clients ="
        "default_transport = error:mtpspec test instance sends no mail out"
        "relay_transport = error:mtpspec test instance sends no mail out"
        "virtual_mailbox_domains = $domain"
        "virtual_mailbox_base = $state_dir/maildir"
        "virtual_mailbox_maps = regexp:$etc/vmailbox"
        "virtual_uid_maps = static:$vuid"
        "virtual_gid_maps = static:$vgid"
        "message_size_limit = 10485760"
        "maillog_file = $log"
        "maillog_file_prefixes = $state_dir"
        "biff = no"
    )
    if [[ -n ${POSTFIX_BARE_NEWLINE:-} ]]; then
        case $POSTFIX_BARE_NEWLINE in
        no | normalize | reject) ;;
        *) targets_die "POSTFIX_BARE_NEWLINE must be no, normalize or reject" ;;
        esac
        settings+=("smtpd_forbid_bare_newline = $POSTFIX_BARE_NEWLINE"
            "smtpd_forbid_bare_newline_exclusions =")
    fi
    local -a relay_settings=()
    if [[ -n $relay_port ]]; then
        # Relay mode: only relay.test and its subdomains leave, to the harness's next hop.
        local hop="smtp:[127.0.0.1]:$relay_port" rd=$TARGETS_RELAY_DOMAIN
        printf '%s %s\n' "$rd" "$hop" ".$rd" "$hop" >"$etc/transport"
        relay_settings=(
            "relay_domains = $rd, .$rd"
            "transport_maps = texthash:$etc/transport"
            "queue_run_delay = 1s"
            "minimal_backoff_time = 2s"
            "maximal_backoff_time = 4s"
            "maximal_queue_lifetime = 60s"
            "bounce_queue_lifetime = 60s"
            "smtp_tls_security_level = may"
            "smtp_tls_loglevel = 1"
        )
    fi
    postconf -c "$etc" -e "${settings[@]}"
    if ((${#relay_settings[@]} > 0)); then
        postconf -c "$etc" -e "${relay_settings[@]}"
    fi
    local line
    local -a extra=()
    if [[ -n ${POSTFIX_EXTRA:-} ]]; then
        while IFS= read -r line; do
            if [[ -n ${line//[[:space:]]/} ]]; then
                extra+=("$line")
            fi
        done <<<"$POSTFIX_EXTRA"
    fi
    if ((${#extra[@]} > 0)); then
        postconf -c "$etc" -e "${extra[@]}"
    fi

    # master.cf: no port-25 listener, ours on 127.0.0.1:PORT, no chroot (the
    # instance's queue directory has no chroot files in it).
    postconf -c "$etc" -MX smtp/inet
    postconf -c "$etc" -M "127.0.0.1:$port/inet=127.0.0.1:$port inet n - n - - smtpd"
    postconf -c "$etc" -F '*/*/chroot = n'

    : >"$log"
    chmod 0644 "$log"
    rm -f "$state_dir/spool/pid/master.pid"
    # `postfix start` checks the instance (creating the queue directories with
    # the right owners), then master(8) daemonizes: the PID we keep is the
    # master's, read from its pid file, not the one of the postfix command.
    local out
    if ! out=$(setsid postfix -c "$etc" start 2>&1 </dev/null); then
        echo "postfix start failed: $out" >&2
        show_diagnostics "$etc" "$log"
        exit 1
    fi
    pid=""
    local i
    for ((i = 0; i < 50; i++)); do
        if [[ -s $state_dir/spool/pid/master.pid ]]; then
            pid=$(tr -d ' \n' <"$state_dir/spool/pid/master.pid")
            break
        fi
        sleep 0.1
    done
    if [[ -z $pid ]]; then
        echo "no $state_dir/spool/pid/master.pid after postfix start" >&2
        show_diagnostics "$etc" "$log"
        exit 1
    fi
    echo "$pid" >"$state_dir/pid"
    targets_relay_record "$state_dir" "$relay_port"
    if ! targets_wait_greeting "$port" "$pid" 20; then
        echo "Postfix master $(start_failure "$pid") on 127.0.0.1:$port; postfix start said: $out" >&2
        show_diagnostics "$etc" "$log"
        if targets_pid_alive "$pid"; then
            targets_stop_pid "$state_dir" 5 || true
        else
            rm -f "$state_dir/pid"
        fi
        exit 1
    fi
}

cmd_stop() {
    (($# == 1)) || targets_usage
    targets_stop_pid "$1" 10
}

cmd_mailbox() {
    (($# == 1)) || targets_usage
    local state_dir=$1 wait=${POSTFIX_MAILBOX_WAIT:-5} deadline
    local -a opts=(--received-by "$MYHOSTNAME")
    if [[ ${POSTFIX_MAILBOX_LF:-} == keep ]]; then
        opts+=(--keep-lf)
    fi
    # A 250 means "queued": delivery into the Maildir follows a moment later.
    if [[ -f $state_dir/pid ]] && targets_pid_alive "$(<"$state_dir/pid")"; then
        deadline=$((SECONDS + wait))
        while queue_busy "$state_dir/spool" && ((SECONDS < deadline)); do
            sleep 0.1
        done
    fi
    "$PYTHON" "$HERE/maildir_mailbox.py" "${opts[@]}" "$state_dir/maildir"
}

cmd_clear() {
    (($# == 1)) || targets_usage
    targets_clear_maildir "$1"
}

cmd_relay_args() {
    (($# == 2)) || targets_usage
    targets_relay_args "$1" "$2"
}

targets_relay_dispatch "$@"
