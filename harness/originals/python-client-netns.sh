#!/usr/bin/env bash
# The original Python VMTP client against the reference server. The client has no port
# option (smtplib's default, 25), so this runs in a network namespace of its own
# (`unshare -rn`), where the reference may listen on 127.0.0.1:25 of a private loopback.
# Called by run-all.sh:
#
#   unshare -rn bash python-client-netns.sh MTPSPEC ORIGINALS_DIR STATE_DIR TRANSCRIPT
#
# It brings lo up, starts `mtpspec serve --smtp 127.0.0.1:25 --http 127.0.0.1:8080`, runs the
# client's documented commands, reads what arrived through the gateway's GET /messages, and
# stops the server by its PID.
set -u
mtpspec=$1 originals=$2 state=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
trap orig_stop_all EXIT
: "${PYTHON:=python3}"

ip link set lo up
mkdir -p "$state/netns-store"
orig_start ref "$state/netns-serve.log" "$mtpspec" serve --smtp 127.0.0.1:25 \
    --http 127.0.0.1:8080 --data-dir "$state/netns-store"
if ! orig_wait_port 25 ref 30; then
    echo "mtpspec serve did not start on port 25:" >>"$out"
    cat "$state/netns-serve.log" >>"$out"
    exit 1
fi
printf 'a small attachment\n' >"$state/example.txt"
cd "$originals/vmtp" || exit 1
client() { orig_run "$out" 60 "$PYTHON" -W ignore -m vmtp.client --server 127.0.0.1 "$@"; }

orig_section "$out" "One recipient, with metadata (MAIL/RCPT; METADATA)"
client --metadata campaign=fall --metadata client-id=42 bob@example.test "Hello from VMTP"
orig_section "$out" "Two recipients, with metadata (VECMAIL)"
client --subject "Two" --metadata k=v bob@example.test carol@example.test "Hello to two"
orig_section "$out" "An attachment (the seed README's --attach)"
client --attach "$state/example.txt" bob@example.test "With extras"
orig_section "$out" "The dead fallback: VECMAIL refused (a recipient the server does not relay to)"
cat >>"$out" <<'TEXT'
VECMAIL is all or nothing and refused here (5yz: the server does not relay to dave). docmd() returns the
reply instead of raising, so the client's 'except SMTPResponseException' fallback to MAIL/RCPT
never runs: it goes straight to DATA with no transaction open and gets 503.
TEXT
client --subject "Fallback" bob@example.test dave@elsewhere.example "Needs the fallback"

orig_section "$out" "What arrived (the reference's store, GET /messages through its gateway)"
orig_run "$out" 20 bash -c "curl -s 'http://127.0.0.1:8080/messages?limit=50' | $PYTHON '$here/messages_summary.py'"
orig_section "$out" "The message with the attachment, read whole (GET /messages/000000000003)"
orig_run "$out" 20 bash -c "curl -s 'http://127.0.0.1:8080/messages/000000000003' | $PYTHON '$here/messages_summary.py'"
