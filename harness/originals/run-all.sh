#!/usr/bin/env bash
# Runs every pairing between mtpspec and the original implementations the seeds describe,
# and writes the results to reports/originals/ (or OUT_DIR).
#
#   ORIGINALS_DIR=DIR bash harness/originals/run-all.sh [OUT_DIR]
#
# DIR holds two checkouts: DIR/vmtp (github.com/Teapot-protocol/vmtp) and DIR/mmtp
# (github.com/kleeedolinux/mmtp); `npm install` is run in each if node_modules is missing.
# Needs node (20+), a Python with the smtpd module (3.11 or older: the original server is
# built on smtpd and asyncore), curl, and unshare (the Python client only speaks to port 25, so
# it runs in a network namespace of its own). MTPSPEC names the mtpspec binary (default: a
# release build of this checkout); ORIGINALS_PORT_BASE the first of the 20 loopback ports used
# (default 27000); PYTHON the interpreter (default python3).
#
# Pairings, each with its transcript in OUT_DIR:
#   vmtp-python.md  the original Python server: its faults (probe), `mtpspec send` to it; the
#                   original Python client to `mtpspec serve` (in its own namespace)
#   vmtp-worker.md  the original Worker (under Node, worker-shim.mjs, an in-memory KV): the
#                   original client library and `mtpspec send --gateway` to it, the node CLI;
#                   the original client library to `mtpspec serve --http` (the bare URL)
#   mmtp.md         the original MMTP client to `mtpspec serve` (plain, TLS, OpenPGP);
#                   `mtpspec mmtp` to the original MMTP server; its faults (probe)
# and the suite against each original server (report.md and report.json):
#   python-server/  scenarios/smtp and scenarios/vmtp against the Python server
#   worker-compat/, worker-all/          scenarios/http against the Worker
#   mmtp-compat/, mmtp-all/              scenarios/mmtp, one case at a time (--parallel 1)
#   mmtp-compat-parallel/                the same at the default parallelism (see README.md)
# Every server runs on 127.0.0.1 and is stopped by its own PID; each suite run gets a fresh
# server. About 10 minutes. CI runs none of this (it cannot reach the originals).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

: "${ORIGINALS_DIR:?set ORIGINALS_DIR to the directory holding the vmtp and mmtp checkouts}"
ORIGINALS_DIR=$(cd "$ORIGINALS_DIR" && pwd)
out=${1:-$root/reports/originals}
mkdir -p "$out"
out=$(cd "$out" && pwd)
: "${PYTHON:=python3}"
base=${ORIGINALS_PORT_BASE:-27000}
export ORIGINALS_DIR PYTHON

die() {
    echo "run-all.sh: $*" >&2
    exit 1
}
for d in vmtp mmtp; do
    [[ -d $ORIGINALS_DIR/$d ]] || die "no $ORIGINALS_DIR/$d (see harness/originals/README.md)"
    if [[ ! -d $ORIGINALS_DIR/$d/node_modules ]]; then
        (cd "$ORIGINALS_DIR/$d" && npm install --no-audit --no-fund) || die "npm install in $d failed"
    fi
done
"$PYTHON" -W ignore -c 'import smtpd, asyncore' 2>/dev/null ||
    die "$PYTHON has no smtpd module (removed in Python 3.12): set PYTHON to a 3.11 or older"
if [[ -z ${MTPSPEC:-} ]]; then
    (cd "$root" && cargo build --release -q -p mtpspec) || die "cargo build failed"
    MTPSPEC=$root/target/release/mtpspec
fi

state=$(mktemp -d)
cleanup() {
    orig_stop_all
    rm -rf "$state"
}
trap cleanup EXIT

# The suite against one server: report.md and report.json in $out/NAME, the summary line
# in $state/NAME.summary for the index.
suite() {
    local name=$1
    shift
    mkdir -p "$out/$name"
    (cd "$root" && timeout --kill-after=5 1200 "$MTPSPEC" run -q \
        --report-md "$out/$name/report.md" --report-json "$out/$name/report.json" "$@") \
        >"$state/$name.log" 2>&1
    echo "exit status $?" >>"$state/$name.log"
    tail -n 3 "$state/$name.log"
}

header() {
    printf '# %s\n\n(Written by harness/originals/run-all.sh; do not edit by hand.)\n' "$2" >"$1"
}

# ---------------------------------------------------------------- VMTP: the Python server
vp=$out/vmtp-python.md
header "$vp" "VMTP: the original Python server and client"
py_port=$((base + 1))
start_python_server() {
    orig_start pyserver "$state/pyserver-$1.log" \
        bash -c "cd '$ORIGINALS_DIR/vmtp' && exec '$PYTHON' -W ignore -u -c \"import vmtp.server as s; s.run('127.0.0.1', $py_port)\""
    orig_wait_port "$py_port" pyserver 20 || die "the Python server did not start: $(cat "$state/pyserver-$1.log")"
}
echo "== VMTP: the Python server"
start_python_server probe
orig_section "$vp" "The server's faults (python_server_probe.py)"
orig_run "$vp" 60 "$PYTHON" "$here/python_server_probe.py" "$py_port"
orig_stop pyserver
start_python_server send
printf 'a small attachment\n' >"$state/example.txt"
orig_section "$vp" "mtpspec send to the Python server: metadata to one recipient (falls back to SMTP)"
orig_run "$vp" 60 "$MTPSPEC" send --server "127.0.0.1:$py_port" --transcript \
    --from alice@example.test --metadata campaign=fall bob@example.test "Hello from mtpspec"
orig_section "$vp" "mtpspec send to the Python server: two recipients (VECMAIL not offered: MAIL and two RCPT)"
orig_run "$vp" 60 "$MTPSPEC" send --server "127.0.0.1:$py_port" --transcript \
    --from alice@example.test bob@example.test carol@example.test "Hello to two"
orig_section "$vp" "mtpspec send to the Python server: an attachment (the server drops the connection)"
orig_run "$vp" 60 "$MTPSPEC" send --server "127.0.0.1:$py_port" --transcript \
    --attach "$state/example.txt" --from alice@example.test bob@example.test "With an attachment"
orig_section "$vp" "The Python server's log"
cat "$state/pyserver-send.log" >>"$vp"
orig_stop pyserver

echo "== VMTP: the suite against the Python server"
start_python_server suite
suite python-server --target "smtp://127.0.0.1:$py_port" --scenarios scenarios/smtp \
    --scenarios scenarios/vmtp
orig_stop pyserver

echo "== VMTP: the Python client against mtpspec serve (own network namespace)"
orig_section "$vp" "The original Python client against mtpspec serve, port 25 in a network namespace of its own"
unshare -rn bash "$here/python-client-netns.sh" "$MTPSPEC" "$ORIGINALS_DIR" "$state" "$vp"

# ---------------------------------------------------------------- VMTP: the Worker
vw=$out/vmtp-worker.md
header "$vw" "VMTP: the original Cloudflare Worker, client library and CLI"
w_port=$((base + 2))
start_worker() {
    orig_start worker "$state/worker-$1.log" env WORKER_PORT="$w_port" node "$here/worker-shim.mjs"
    orig_wait_port "$w_port" worker 20 || die "the Worker shim did not start: $(cat "$state/worker-$1.log")"
}
echo "== VMTP: the Worker"
start_worker clients
orig_section "$vw" "The original client library against the original Worker"
orig_run "$vw" 60 node "$here/vmtp-client.mjs" "http://127.0.0.1:$w_port" \
    alice@example.test bob@example.test carol@example.test
orig_section "$vw" "What the Worker kept (GET /messages): the batch's two messages got one id, and the second overwrote the first"
orig_run "$vw" 20 bash -c "curl -s 'http://127.0.0.1:$w_port/messages' | '$PYTHON' '$here/messages_summary.py'"
orig_section "$vw" "A message without a sender: the Worker answers accepted, and keeps nothing"
orig_run "$vw" 20 curl -s -w '\n[HTTP %{http_code}]\n' -H 'Content-Type: application/json' \
    -d '{"recipients":["bob@example.test"],"subject":"s","body":"b"}' "http://127.0.0.1:$w_port/"
orig_section "$vw" "mtpspec send --gateway to the original Worker"
orig_run "$vw" 60 "$MTPSPEC" send --gateway "http://127.0.0.1:$w_port" \
    --from alice@example.test --metadata campaign=fall bob@example.test "Hello through the Worker"
orig_section "$vw" "The original node CLI (the seed README's command): it cannot start"
orig_run "$vw" 30 bash -c "cd '$ORIGINALS_DIR/vmtp' && node cli/index.js --worker 'http://127.0.0.1:$w_port' bob@example.test 'Hello from VMTP via Worker'"
orig_stop worker

echo "== VMTP: the suite against the Worker"
start_worker compat
suite worker-compat --target "http://127.0.0.1:$w_port" --scenarios scenarios/http --profile compat
orig_stop worker
start_worker all
suite worker-all --target "http://127.0.0.1:$w_port" --scenarios scenarios/http
orig_stop worker

echo "== VMTP: the client library against mtpspec serve --http"
g_smtp=$((base + 3)) g_http=$((base + 4))
mkdir -p "$state/gateway-store"
orig_start gateway "$state/gateway.log" "$MTPSPEC" serve --smtp "127.0.0.1:$g_smtp" \
    --http "127.0.0.1:$g_http" --data-dir "$state/gateway-store"
orig_wait_port "$g_http" gateway 30 || die "mtpspec serve --http did not start: $(cat "$state/gateway.log")"
orig_section "$vw" "The original client library against mtpspec serve --http, at the bare URL"
orig_run "$vw" 60 node "$here/vmtp-client.mjs" "http://127.0.0.1:$g_http" \
    alice@example.test bob@example.test carol@example.test
sleep 3
orig_section "$vw" "What mtpspec's store holds afterwards (GET /messages): every message delivered, over VMTP"
orig_run "$vw" 20 bash -c "curl -s 'http://127.0.0.1:$g_http/messages?limit=50' | '$PYTHON' '$here/messages_summary.py'"
orig_section "$vw" "The message with the attachment, read whole (GET /messages/000000000002)"
orig_run "$vw" 20 bash -c "curl -s 'http://127.0.0.1:$g_http/messages/000000000002' | '$PYTHON' '$here/messages_summary.py'"
orig_stop gateway

# ---------------------------------------------------------------- MMTP
mm=$out/mmtp.md
header "$mm" "MMTP: the original JavaScript server and client"
r_plain=$((base + 5)) r_tls=$((base + 6)) r_smtp=$((base + 7))
o_plain=$((base + 8)) o_tls=$((base + 9))
echo "== MMTP: the original client against mtpspec serve"
mkdir -p "$state/mmtp-store" "$state/mmtp-client"
orig_start refmmtp "$state/refmmtp.log" "$MTPSPEC" serve --smtp "127.0.0.1:$r_smtp" \
    --mmtp "127.0.0.1:$r_plain" --mmtps "127.0.0.1:$r_tls" --data-dir "$state/mmtp-store"
orig_wait_port "$r_plain" refmmtp 30 || die "mtpspec serve --mmtp did not start: $(cat "$state/refmmtp.log")"
orig_section "$mm" "The original MMTP client (plain, TLS, OpenPGP) against mtpspec serve"
(cd "$state/mmtp-client" && MMTP_PGP=1 orig_run "$mm" 300 node "$here/mmtp-client.cjs" \
    127.0.0.1 "$r_plain" "$r_tls")
orig_stop refmmtp

start_mmtp_server() {
    mkdir -p "$state/mmtp-$1"
    orig_start mmtpserver "$state/mmtp-$1.log" bash -c "cd '$state/mmtp-$1' && \
        MMTP_PORT=$o_plain MMTPS_PORT=$o_tls MMTP_PGP=1 exec node '$here/mmtp-server.cjs'"
    orig_wait_port "$o_tls" mmtpserver 60 || die "the MMTP server did not start: $(cat "$state/mmtp-$1.log")"
}
echo "== MMTP: mtpspec mmtp against the original server"
start_mmtp_server cli
mcli() { orig_run "$mm" 120 "$MTPSPEC" mmtp --server "127.0.0.1:$o_plain" --keystore "$state/keystore" "$@"; }
orig_section "$mm" "mtpspec mmtp against the original MMTP server (PGP on, as its test.js runs it)"
mcli send --from '(alice)%(example.test)' --to '(bob)%(example.test)' --subject Hello \
    --body 'From mtpspec' --tag priority=high --tag category=work
mcli send --from '(alice)%(example.test)' --to '(bob)%(example.test)' --subject Plain --body 'No tags'
mcli check --email '(bob)%(example.test)' --tag priority=high
mcli filter --email '(bob)%(example.test)' --tag priority=high
mcli receive --email '(bob)%(example.test)'
mcli tags
mcli keygen --email '(alice)%(example.test)' --name Alice
mcli register-key --email '(alice)%(example.test)'
mcli get-key --email '(alice)%(example.test)'
mcli send --from '(alice)%(example.test)' --to '(bob)%(example.test)' --subject Signed \
    --body 'Signed by alice' --sign
orig_section "$mm" "The same signed message, received: the original never sets signatureVerified true"
mcli --json receive --email '(bob)%(example.test)'
orig_run "$mm" 20 "$MTPSPEC" mmtp --server "127.0.0.1:$o_tls" --tls --insecure check --email '(bob)%(example.test)'
orig_section "$mm" "The original server's log (the signature check's error)"
grep -i 'signature' "$state/mmtp-cli.log" >>"$mm"
orig_stop mmtpserver

echo "== MMTP: the suite against the original server"
for run in "mmtp-compat --profile compat --parallel 1" "mmtp-all --parallel 1" \
    "mmtp-compat-parallel --profile compat"; do
    read -r name args <<<"$run"
    start_mmtp_server "$name"
    # shellcheck disable=SC2086
    suite "$name" --target "mmtp://127.0.0.1:$o_plain" --mmtps "127.0.0.1:$o_tls" \
        --scenarios scenarios/mmtp $args
    orig_stop mmtpserver
done

echo "== MMTP: the original server's faults"
start_mmtp_server probe
orig_section "$mm" "The original server's framing and rate-limit slots (mmtp_server_probe.py)"
orig_run "$mm" 60 "$PYTHON" "$here/mmtp_server_probe.py" "$o_plain"
orig_stop mmtpserver

# ---------------------------------------------------------------- tidy up
# The transcripts name no path of this machine.
for f in "$out"/*.md "$out"/*/report.md "$out"/*/report.json; do
    [[ -f $f ]] || continue
    sed -i -e "s#$MTPSPEC#mtpspec#g" -e "s#$ORIGINALS_DIR#\$ORIGINALS_DIR#g" \
        -e "s#$state#\$STATE#g" -e "s#$root/##g" -e "s#$HOME#~#g" "$f"
done
echo "== done: $out"
